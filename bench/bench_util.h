/* bench_util.h — what the benchmark drivers (tools/bench.c, bench/cuda_bench.c,
 * bench/vulkan_bench.c) share: a monotonic clock, the median of a sample, dtype
 * names, and the workloads of the real-traffic benchmarks: sequence lengths
 * (B × S, a lengths file, or the built-in mixed distribution), packing them in
 * input order into forwards under a token budget, and the FLOP count.
 * Header-only: each driver is a single translation unit. */
#ifndef XF_BENCH_UTIL_H
#define XF_BENCH_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xfwd.h"

static inline double xb_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int xb_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v [n] in place and returns its median (upper middle for even n). */
static inline double xb_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, xb_cmp_double);
    return v[n / 2];
}

/* "f32" | "tf32" | "bf16" | "f16" → *d; -1 if unknown. */
static inline int xb_parse_dtype(const char *s, xf_dtype *d) {
    static const char *const names[] = {"f32", "tf32", "bf16", "f16"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) return *d = (xf_dtype)i, 0;
    return -1;
}

/* ---------------------------------------------------------------- workloads */

/* The built-in mixed distribution (--mixed N): lengths log-normal, exp(mu + sigma·z)
 * rounded to the nearest integer and clipped to [8, 2048]; mu = 5.23, sigma = 1.0
 * give a median of ~187 tokens, a mean of ~300, ~0.8 % at the 2048 clip. z comes
 * from Box–Muller (cosine branch only) on splitmix64 uniforms with a fixed seed,
 * so every driver — and bench/traffic.py, which repeats it in Python for the
 * peers — makes the same N lengths (tests/bench.cmake checks both agree). */
#define XB_MIXED_MU 5.23
#define XB_MIXED_SIGMA 1.0
#define XB_MIXED_MIN 8
#define XB_MIXED_MAX 2048
#define XB_MIXED_SEED 1u

static inline uint64_t xb_splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A uniform double in (0, 1]: the top 53 bits, centred in their cell. */
static inline double xb_uniform(uint64_t *s) {
    return ((double)(xb_splitmix64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

/* lens [n]: the first n lengths of the mixed distribution. */
static inline void xb_mixed_lengths(int32_t n, int32_t *lens) {
    uint64_t s = XB_MIXED_SEED;
    for (int32_t i = 0; i < n; i++) {
        const double u1 = xb_uniform(&s), u2 = xb_uniform(&s);
        const double z = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
        const double x = floor(exp(XB_MIXED_MU + XB_MIXED_SIGMA * z) + 0.5);
        lens[i] = x < XB_MIXED_MIN ? XB_MIXED_MIN : x > XB_MIXED_MAX ? XB_MIXED_MAX : (int32_t)x;
    }
}

/* Reads a lengths file: one positive integer per line (surrounding blanks allowed;
 * empty lines and lines starting with '#' skipped), each <= max_len. *lens is
 * malloc'ed [*n]. 0, or -1 with one line in err naming the file and line. */
static inline int xb_read_lengths(const char *path, int32_t max_len, int32_t **lens, int32_t *n, char *err,
                                  size_t err_size) {
    *lens = NULL, *n = 0;
    FILE *f = fopen(path, "r");
    if (!f) return snprintf(err, err_size, "%s: cannot open the lengths file", path), -1;
    char line[256];
    int32_t cap = 0;
    long line_no = 0;
    int rc = -1;
    while (fgets(line, sizeof line, f)) {
        line_no++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n' && !feof(f)) {
            snprintf(err, err_size, "%s:%ld: line too long for a length", path, line_no);
            goto done;
        }
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '#' || *p == '\n' || *p == '\r' || *p == 0) continue;
        char *end;
        long v = strtol(p, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n') end++;
        if (end == p || *end || v < 1 || v > max_len) {
            p[strcspn(p, "\r\n")] = 0;
            snprintf(err, err_size, "%s:%ld: '%s' is not a sequence length in 1..%d", path, line_no, p, max_len);
            goto done;
        }
        if (*n == cap) {
            if (cap >= INT32_MAX / 4) {
                snprintf(err, err_size, "%s: too many lengths", path);
                goto done;
            }
            cap = cap ? 2 * cap : 1024;
            int32_t *grown = (int32_t *)realloc(*lens, sizeof(int32_t) * (size_t)cap);
            if (!grown) {
                snprintf(err, err_size, "%s: out of host memory", path);
                goto done;
            }
            *lens = grown;
        }
        (*lens)[(*n)++] = (int32_t)v;
    }
    if (ferror(f)) snprintf(err, err_size, "%s: read error", path);
    else if (*n == 0) snprintf(err, err_size, "%s: no lengths in the file", path);
    else rc = 0;
done:
    fclose(f);
    if (rc) free(*lens), *lens = NULL, *n = 0;
    return rc;
}

/* Packs sequences in input order into forwards of at most `budget` tokens: forward c
 * runs sequences [start[c], start[c+1]); a sequence longer than the budget runs
 * alone. The engine's own rule (engine.c), so xfwd bench's forwards are the
 * engine's. start [n + 1]; returns the number of forwards. No padding, no sorting. */
static inline int32_t xb_pack(const int32_t *lens, int32_t n, int64_t budget, int32_t *start) {
    int32_t c = 0;
    start[0] = 0;
    for (int32_t s0 = 0; s0 < n;) {
        int64_t t = lens[s0];
        int32_t s1 = s0 + 1;
        while (s1 < n && t + lens[s1] <= budget) t += lens[s1++];
        start[++c] = s1;
        s0 = s1;
    }
    return c;
}

/* base [n_fwd + 1]: the first token of each forward of xb_pack's start (base[n_fwd]:
 * all tokens). Returns the largest forward's token count. */
static inline int64_t xb_forward_bases(const int32_t *lens, const int32_t *start, int32_t n_fwd, int64_t *base) {
    int64_t largest = 0;
    base[0] = 0;
    for (int32_t f = 0; f < n_fwd; f++) {
        int64_t t = 0;
        for (int32_t i = start[f]; i < start[f + 1]; i++) t += lens[i];
        base[f + 1] = base[f] + t;
        largest = t > largest ? t : largest;
    }
    return largest;
}

/* A benchmark workload: the sequence lengths in input order and a name for the
 * RESULT lines ("16x512", "mixed2000", "file:NAME"). */
typedef struct xb_workload {
    int32_t *lens;      /* [n] */
    int32_t n;
    int64_t tokens;     /* sum of lens: the real tokens */
    int32_t longest;
    int traffic;        /* 1: --mixed or --lengths (the default budget is then XB_TRAFFIC_BUDGET) */
    char name[80];
} xb_workload;

#define XB_TRAFFIC_BUDGET 16384

/* Builds the workload from the flags: lengths_path, else mixed > 0, else batch × seq.
 * Lengths above max_len (the model's max_position) are an error. 0, or -1 with err. */
static inline int xb_workload_make(xb_workload *w, int batch, int seq, int mixed, const char *lengths_path,
                                   int32_t max_len, char *err, size_t err_size) {
    memset(w, 0, sizeof *w);
    if (lengths_path) {
        if (xb_read_lengths(lengths_path, max_len, &w->lens, &w->n, err, err_size)) return -1;
        const char *base = strrchr(lengths_path, '/');
        base = base ? base + 1 : lengths_path;
        snprintf(w->name, sizeof w->name, "file:%s", base);
        for (char *p = w->name + 5; *p; p++)  /* one token for the key=value lines */
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
                  *p == '-' || *p == '_'))
                *p = '_';
        w->traffic = 1;
    } else {
        const int32_t n = mixed > 0 ? mixed : batch;
        if (n < 1 || (!mixed && seq < 1)) return snprintf(err, err_size, "no sequences"), -1;
        if (!mixed && seq > max_len)
            return snprintf(err, err_size, "--seq %d exceeds the model's %d positions", seq, max_len), -1;
        w->lens = (int32_t *)malloc(sizeof(int32_t) * (size_t)n);
        if (!w->lens) return snprintf(err, err_size, "out of host memory"), -1;
        w->n = n;
        if (mixed) xb_mixed_lengths(n, w->lens), w->traffic = 1;
        else
            for (int32_t i = 0; i < n; i++) w->lens[i] = seq;
        if (mixed) snprintf(w->name, sizeof w->name, "mixed%d", mixed);
        else snprintf(w->name, sizeof w->name, "%dx%d", batch, seq);
    }
    for (int32_t i = 0; i < w->n; i++) {
        w->tokens += w->lens[i];
        if (w->lens[i] > w->longest) w->longest = w->lens[i];
    }
    if (w->longest > max_len) {
        snprintf(err, err_size, "a sequence of %d tokens exceeds the model's %d positions", w->longest, max_len);
        free(w->lens), w->lens = NULL;
        return -1;
    }
    if (w->tokens > INT32_MAX) {
        snprintf(err, err_size, "%lld tokens in all: more than one benchmark holds", (long long)w->tokens);
        free(w->lens), w->lens = NULL;
        return -1;
    }
    return 0;
}

static inline void xb_workload_free(xb_workload *w) { free(w->lens), w->lens = NULL; }

static inline int xb_cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* One line describing the lengths: count, tokens, min / median / mean / p90 / p99 / max. */
static inline void xb_workload_describe(const xb_workload *w, char *buf, size_t size) {
    int32_t *s = (int32_t *)malloc(sizeof(int32_t) * (size_t)w->n);
    if (!s) {
        snprintf(buf, size, "%d sequences, %lld tokens", w->n, (long long)w->tokens);
        return;
    }
    memcpy(s, w->lens, sizeof(int32_t) * (size_t)w->n);
    qsort(s, (size_t)w->n, sizeof *s, xb_cmp_i32);
    snprintf(buf, size, "%d sequences, %lld tokens; length min %d, median %d, mean %.1f, p90 %d, p99 %d, max %d",
             w->n, (long long)w->tokens, s[0], s[w->n / 2], (double)w->tokens / w->n, s[(int64_t)w->n * 9 / 10],
             s[(int64_t)w->n * 99 / 100], s[w->n - 1]);
    free(s);
}

/* Random token ids [T] in [0, vocab), the same for every driver. */
static inline void xb_random_tokens(int32_t *tokens, int64_t T, int32_t vocab) {
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int64_t t = 0; t < T; t++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        tokens[t] = (int32_t)(s % (uint64_t)vocab);
    }
}

/* ---------------------------------------------------------------- FLOPs */

/* The measured dense bf16 GEMM ceiling of the H100 (shared/docs/GPU.md). */
#define XB_CEILING_TFLOPS 798.0

/* Query–key pairs one attention head scores in a sequence of S tokens: causal,
 * query i (0-based) sees keys max(0, i - W + 1)..i, i.e. min(i + 1, W) of them
 * (W = window, 0 for none): S(S+1)/2 without a window; bidirectional: S². */
static inline double xb_attn_pairs(int64_t S, int causal, int64_t window) {
    const double s = (double)S;
    if (!causal) return s * s;
    if (window <= 0 || window >= S) return s * (s + 1) / 2;
    const double w = (double)window;
    return w * (w + 1) / 2 + (s - w) * w;
}

/* FLOPs of one forward pass over the workload (final hidden states):
 *   2 · P_lin · Σ S_i  +  n_layers · 4 · n_heads · head_dim · Σ pairs(S_i)
 * P_lin = n_layers · (2·H·n_heads·D + 2·H·n_kv·D + 3·H·I): the q, o, k, v, gate, up,
 * down weights (embedding and lm_head excluded); 2 FLOPs per weight per token. Each
 * query–key pair costs 2·D for QKᵀ and 2·D for P·V per head. The sum over sequences is
 * exact for any mix of lengths: only real tokens and real pairs count — padding a
 * peer adds, and the bucket rows of xfwd's CUDA graphs, are not useful work. */
static inline double xb_forward_flops(int n_layers, int H, int I, int n_heads, int n_kv, int D, const int32_t *lens,
                                      int32_t n, int causal, int window) {
    const double L = n_layers, h = H, i = I, nh = n_heads, nkv = n_kv, d = D;
    const double linear = L * (2 * h * nh * d + 2 * h * nkv * d + 3 * h * i);
    double tokens = 0, pairs = 0;
    for (int32_t k = 0; k < n; k++) tokens += lens[k], pairs += xb_attn_pairs(lens[k], causal, window);
    return 2.0 * linear * tokens + L * 4.0 * nh * d * pairs;
}

#endif /* XF_BENCH_UTIL_H */
