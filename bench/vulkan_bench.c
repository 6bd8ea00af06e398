/* vulkan_bench.c — benchmark of the Vulkan backend on a random-weight Qwen3
 * shape: B sequences of S random tokens, final hidden states, timed after a
 * warm-up. Reports the median device time of the forward's one submission
 * (timestamp queries, the copy of the output excluded) and the median forward
 * as the caller sees it (xf_engine_hidden, [T, H] fp32 on the host), tokens/s,
 * TFLOP/s and the engine's peak device memory; with XFWD_VK_PROFILE=1 also the
 * device time per shader of one forward, with XFWD_VK_PIPE_STATS=1 the driver's
 * statistics of each pipeline. --cm-tiles then repeats the measurement on the
 * same model for each listed tile of the f16 matrix-unit kernel. With
 * --startup DIR it instead times engine creation twice with the pipeline cache
 * in DIR: first with the cache file removed (cold), then with the file the
 * first run wrote (warm).
 *   xfwd_vulkan_bench --shape qwen3-4b --dtype f16 --batch 16 --seq 512 [--iters 10] [--warmup 2]
 *   xfwd_vulkan_bench --shape qwen3-4b --dtype f16 (--mixed N | --lengths FILE) [--max-batch-tokens 16384]
 *   xfwd_vulkan_bench --shape qwen3-0.6b --dtype f16 --startup DIR
 *   xfwd_vulkan_bench --dtype f16 --gemm ["M,N,K[,g] ..."] [--variants ...] [--iters N]
 * --gemm times the multiply kernels alone on random data (default: the four
 * multiplies of Qwen3-4B at 16 × 512 tokens; ",g" = gate|up with SwiGLU fused),
 * once per --variants setting, and prints TFLOP/s per shape and their total
 * (the median of five rounds; XFWD_VK_GEMM_SPREAD=1 prints every round).
 * --mixed N (bench_util.h's log-normal mix, 8–2048 tokens) and --lengths FILE (one
 * length per line) are real-traffic workloads: sequences packed in input order into
 * forwards of at most --max-batch-tokens tokens (default 16384), no padding; times
 * are then per pass over every forward (device times summed).
 * FLOPs (bench_util.h, xb_forward_flops): 2 × linear parameters (embedding and
 * lm_head excluded) per real token, plus causal attention 4 · S(S+1)/2 · n_heads ·
 * head_dim per sequence and layer, summed over sequences. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vulkan/vk_timing.h"
#include "xfwd.h"
#include "bench_util.h"


static int fail(const char *what) {
    fprintf(stderr, "xfwd_vulkan_bench: %s: %s\n", what, xf_last_error());
    return 1;
}

/* Removes the vulkan-*.bin cache files of dir (a cold start). */
static void clear_cache(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *en;
    char path[4096];
    while ((en = readdir(d)))
        if (!strncmp(en->d_name, "vulkan-", 7)) {
            snprintf(path, sizeof path, "%s/%s", dir, en->d_name);
            remove(path);
        }
    closedir(d);
}

static int startup(const xf_model *m, xf_dtype dtype, const char *dir, const char *shape, const char *dtype_name) {
    double t[2];
    xf_engine_options eo;
    xf_engine_options_init(&eo);
    eo.backend = XF_BACKEND_VULKAN;
    eo.dtype = dtype;
    eo.max_tokens = 2048;
    eo.cache_dir = dir;
    clear_cache(dir);
    for (int i = 0; i < 2; i++) {
        xf_engine *e = NULL;
        double t0 = xb_now_s();
        if (xf_engine_create(m, &eo, &e) != XF_OK) return fail("engine create");
        t[i] = xb_now_s() - t0;
        xf_engine_free(e);
    }
    printf("device          %s\n", xf_vk_device_summary());
    printf("startup %s %s: engine create cold %.3f s, warm %.3f s (%.2fx)\n", shape, dtype_name, t[0], t[1],
           t[0] / t[1]);
    printf("RESULT startup shape=%s dtype=%s cold_s=%.3f warm_s=%.3f speedup=%.2f\n", shape, dtype_name, t[0], t[1],
           t[0] / t[1]);
    return 0;
}

typedef struct bench_args {
    const xf_model *m;
    const char *shape, *dtype_name, *variant, *lengths;
    xf_dtype dtype;
    int batch, seq, iters, warmup, mixed, budget;
    double t_model;
} bench_args;

/* One pass: every forward of the workload; adds the device and wall seconds. 0 on success. */
static int run_pass(xf_engine *e, const xb_workload *w, const int32_t *tokens, const int32_t *chunk,
                    const int64_t *base, int32_t n_fwd, float *out, double *dev, double *wall) {
    for (int32_t f = 0; f < n_fwd; f++) {
        xf_batch bt = {.tokens = tokens + base[f], .seq_lens = w->lens + chunk[f], .n_seqs = chunk[f + 1] - chunk[f]};
        double t0 = xb_now_s();
        if (xf_engine_hidden(e, &bt, out) != XF_OK) return fail("forward");
        *wall += xb_now_s() - t0;
        *dev += xf_vk_last_forward_ms() * 1e-3;
    }
    return 0;
}

/* One engine on the model: create, warm up, time; 0 on success. */
static int bench_engine(const bench_args *a) {
    xf_model_info info;
    xf_model_get_info(a->m, &info);
    xb_workload w;
    char err[512], desc[256];
    if (xb_workload_make(&w, a->batch, a->seq, a->mixed, a->lengths, info.max_position, err, sizeof err)) {
        fprintf(stderr, "xfwd_vulkan_bench: %s\n", err);
        return 2;
    }
    const int64_t T = w.tokens;
    /* B × S: one forward of up to 8192 tokens, as always; traffic: the token budget */
    const int budget = a->budget ? a->budget : w.traffic ? XB_TRAFFIC_BUDGET : (int)(T > 8192 ? 8192 : T);
    xf_engine *e = NULL;
    int rc = 1;
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)T), *chunk = malloc(sizeof(int32_t) * (size_t)(w.n + 1));
    int64_t *base = malloc(sizeof(int64_t) * (size_t)(w.n + 1));
    double *dev = malloc(sizeof(double) * (size_t)a->iters), *wall = malloc(sizeof(double) * (size_t)a->iters);
    float *out = NULL;
    if (!tokens || !chunk || !base || !dev || !wall) {
        fprintf(stderr, "xfwd_vulkan_bench: out of host memory\n");
        goto done;
    }
    const int32_t n_fwd = xb_pack(w.lens, w.n, budget, chunk);
    const int64_t max_fwd = xb_forward_bases(w.lens, chunk, n_fwd, base);
    out = malloc(sizeof(float) * (size_t)max_fwd * (size_t)info.hidden_size);  /* [largest forward, H] */
    if (!out) {
        fprintf(stderr, "xfwd_vulkan_bench: out of host memory\n");
        goto done;
    }
    xb_random_tokens(tokens, T, info.vocab_size);
    xf_engine_options eo;
    xf_engine_options_init(&eo);
    eo.backend = XF_BACKEND_VULKAN;
    eo.dtype = a->dtype;
    eo.max_tokens = (int32_t)max_fwd;
    double t_create = xb_now_s();
    if (xf_engine_create(a->m, &eo, &e) != XF_OK) {
        fail("engine create");
        goto done;
    }
    t_create = xb_now_s() - t_create;
    double t_warm = xb_now_s(), dsum = 0, wsum = 0;
    for (int i = 0; i < a->warmup; i++)
        if (run_pass(e, &w, tokens, chunk, base, n_fwd, out, &dsum, &wsum)) goto done;
    t_warm = xb_now_s() - t_warm;
    long long bad = 0;
    for (int i = 0; i < a->iters; i++) {
        dev[i] = wall[i] = 0;
        if (run_pass(e, &w, tokens, chunk, base, n_fwd, out, &dev[i], &wall[i])) goto done;
    }
    const int64_t last_rows = base[n_fwd] - base[n_fwd - 1];  /* out holds the last forward's [rows, H] */
    for (int64_t i = 0; i < last_rows * info.hidden_size; i++) bad += !isfinite(out[i]);
    double flops = xb_forward_flops(info.n_layers, info.hidden_size, info.intermediate_size, info.n_heads,
                                    info.n_kv_heads, info.head_dim, w.lens, w.n, info.causal, info.sliding_window);
    double td = xb_median(dev, a->iters), tw = xb_median(wall, a->iters);
    if (td <= 0) td = tw; /* no timestamps on this device */
    double peak = (double)xf_engine_peak_memory(e) / 1048576.0;
    xb_workload_describe(&w, desc, sizeof desc);
    printf("shape %s, dtype %s, workload %s: %s; model %.1f s, create %.2f s, warm-up %.2f s%s%s\n", a->shape,
           a->dtype_name, w.name, desc, a->t_model, t_create, t_warm, a->variant ? "; variant " : "",
           a->variant ? a->variant : "");
    printf("forwards        %d of <= %d tokens (input order, no padding; largest %lld)\n", n_fwd, budget,
           (long long)max_fwd);
    printf("device          %s\n", xf_vk_device_summary());
    printf("device          median %8.3f ms  %9.0f tok/s  %6.1f TFLOP/s\n", td * 1e3, T / td, flops / td / 1e12);
    printf("host wall       median %8.3f ms  %9.0f tok/s  %6.1f TFLOP/s\n", tw * 1e3, T / tw, flops / tw / 1e12);
    printf("memory          engine peak %.0f MiB; non-finite outputs %lld\n", peak, bad);
    printf("RESULT backend=vulkan traffic=%s shape=%s dtype=%s", w.name, a->shape, a->dtype_name);
    if (!w.traffic) printf(" batch=%d seq=%d", a->batch, a->seq);
    printf(" seqs=%d tokens=%lld max_batch_tokens=%d forwards=%d tok_s=%.0f tflops=%.1f e2e_tok_s=%.0f "
           "peak_mib=%.0f create_s=%.2f nonfinite=%lld%s%s\n",
           w.n, (long long)T, budget, n_fwd, T / td, flops / td / 1e12, T / tw, peak, t_create, bad,
           a->variant ? " variant=" : "", a->variant ? a->variant : "");
    if (getenv("XFWD_VK_PROFILE")) { /* per-shader device time of one more forward */
        xf_vk_profile_report();
        xf_batch bt = {.tokens = tokens, .seq_lens = w.lens, .n_seqs = chunk[1]};
        if (xf_engine_hidden(e, &bt, out) != XF_OK) {
            fail("forward");
            goto done;
        }
        printf("profile (one forward, XFWD_VK_PROFILE=1):\n%s", xf_vk_profile_report());
    }
    if (*xf_vk_pipeline_stats()) printf("pipeline statistics (XFWD_VK_PIPE_STATS=1):\n%s", xf_vk_pipeline_stats());
    rc = bad ? 1 : 0;
done:
    xb_workload_free(&w);
    free(tokens), free(chunk), free(base), free(out), free(dev), free(wall);
    xf_engine_free(e);
    return rc;
}

/* Environment settings "NAME=VALUE[;NAME=VALUE...]" applied for one variant and
 * restored after it. */
typedef struct settings {
    int n;
    char names[8][64], old[8][256];
    int had[8];
} settings;

static void settings_apply(settings *st, const char *v) {
    char tmp[512], *save = NULL;
    snprintf(tmp, sizeof tmp, "%s", v);
    st->n = 0;
    for (char *kv = strtok_r(tmp, ";", &save); kv && st->n < 8; kv = strtok_r(NULL, ";", &save)) {
        char *eq = strchr(kv, '=');
        if (!eq) continue;
        *eq = 0;
        const char *old = getenv(kv);
        snprintf(st->names[st->n], sizeof st->names[0], "%s", kv);
        snprintf(st->old[st->n], sizeof st->old[0], "%s", old ? old : "");
        st->had[st->n++] = old != NULL;
        setenv(kv, eq + 1, 1);
    }
}

static void settings_restore(const settings *st) {
    for (int i = 0; i < st->n; i++) {
        if (st->had[i]) setenv(st->names[i], st->old[i], 1);
        else unsetenv(st->names[i]);
    }
}

/* The multiply kernels alone: each shape of `shapes` under the current settings,
 * then under each setting of `variants`. */
static const char *gemm_default = "8192,6144,2560 8192,2560,4096 8192,19456,2560,g 8192,2560,9728";

static int gemm_one(xf_dtype dtype, const char *shapes, const char *variant, int iters) {
    char buf[512], line[1024];
    snprintf(buf, sizeof buf, "%s", shapes);
    size_t n = (size_t)snprintf(line, sizeof line, "GEMM %-44s", variant ? variant : "default");
    double tf = 0, tms = 0;
    char *save = NULL;
    for (char *v = strtok_r(buf, " ", &save); v; v = strtok_r(NULL, " ", &save)) {
        int M = 0, N = 0, K = 0;
        char g = 0;
        if (sscanf(v, "%d,%d,%d,%c", &M, &N, &K, &g) < 3)
            return fprintf(stderr, "xfwd_vulkan_bench: bad gemm shape '%s'\n", v), 2;
        double rounds[5];
        if (xf_vk_gemm_time(dtype, M, N, K, g == 'g', iters, rounds) != XF_OK) {
            fprintf(stderr, "xfwd_vulkan_bench: gemm %s%s%s: %s\n", v, variant ? " " : "", variant ? variant : "",
                    xf_last_error());
            n += (size_t)snprintf(line + n, n < sizeof line ? sizeof line - n : 0, " %s=fail", v);
            continue;
        }
        if (getenv("XFWD_VK_GEMM_SPREAD")) /* every round, before the median sorts them */
            fprintf(stderr, "gemm %s: %.3f %.3f %.3f %.3f %.3f ms per dispatch\n", v, rounds[0], rounds[1],
                    rounds[2], rounds[3], rounds[4]);
        double ms = xb_median(rounds, 5), f = 2.0 * M * N * K;
        tf += f, tms += ms;
        n += (size_t)snprintf(line + n, n < sizeof line ? sizeof line - n : 0, " %s=%.3fms/%.0fTF", v, ms,
                              f / ms * 1e-9);
    }
    printf("%s  total %.3f ms %.1f TFLOP/s\n", line, tms, tms > 0 ? tf / tms * 1e-9 : 0.0);
    fflush(stdout);
    return 0;
}

static int gemm_bench(xf_dtype dtype, const char *shapes, const char *variants, int iters) {
    int rc = gemm_one(dtype, shapes, NULL, iters);
    char buf[2048];
    snprintf(buf, sizeof buf, "%s", variants ? variants : "");
    char *save = NULL;
    for (char *v = strtok_r(buf, " ", &save); v && rc == 0; v = strtok_r(NULL, " ", &save)) {
        settings st;
        settings_apply(&st, v);
        rc = gemm_one(dtype, shapes, v, iters);
        settings_restore(&st);
    }
    printf("device          %s\n", xf_vk_device_summary());
    if (*xf_vk_pipeline_stats()) printf("pipeline statistics (XFWD_VK_PIPE_STATS=1):\n%s", xf_vk_pipeline_stats());
    return rc;
}

int main(int argc, char **argv) {
    bench_args a = {.shape = "qwen3-4b", .dtype_name = "f16", .dtype = XF_DTYPE_F16, .batch = 16, .seq = 512,
                    .iters = 10, .warmup = 2};
    int sized = 0;
    const char *startup_dir = NULL, *tiles = NULL, *variants = NULL, *gemm = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--shape") && i + 1 < argc) a.shape = argv[++i];
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc && !xb_parse_dtype(argv[i + 1], &a.dtype))
            a.dtype_name = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) a.batch = atoi(argv[++i]), sized = 1;
        else if (!strcmp(argv[i], "--seq") && i + 1 < argc) a.seq = atoi(argv[++i]), sized = 1;
        else if (!strcmp(argv[i], "--mixed") && i + 1 < argc) a.mixed = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--lengths") && i + 1 < argc) a.lengths = argv[++i];
        else if (!strcmp(argv[i], "--max-batch-tokens") && i + 1 < argc) a.budget = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) a.iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) a.warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--startup") && i + 1 < argc) startup_dir = argv[++i];
        else if (!strcmp(argv[i], "--cm-tiles") && i + 1 < argc) tiles = argv[++i];
        else if (!strcmp(argv[i], "--variants") && i + 1 < argc) variants = argv[++i];
        else if (!strcmp(argv[i], "--gemm"))
            gemm = i + 1 < argc && argv[i + 1][0] != '-' ? argv[++i] : gemm_default;
        else {
            fprintf(stderr, "usage: xfwd_vulkan_bench [--shape S] [--dtype f32|tf32|bf16|f16] [--batch B] [--seq S] "
                            "[--mixed N | --lengths FILE] [--max-batch-tokens N] [--iters N] [--warmup N] [--startup CACHE_DIR] [--cm-tiles \"BM,BN,BK,WM,WN ...\"] "
                            "[--variants \"NAME=VALUE[;NAME=VALUE] ...\"] [--gemm [\"M,N,K[,g] ...\"]]\n");
            return 2;
        }
    }
    if (a.batch < 1 || a.seq < 1 || a.iters < 1 || a.warmup < 0 || a.mixed < 0 || a.budget < 0)
        return fprintf(stderr, "xfwd_vulkan_bench: bad sizes\n"), 2;
    if ((a.mixed > 0) + (a.lengths != NULL) + sized > 1)
        return fprintf(stderr, "xfwd_vulkan_bench: give one of --batch/--seq, --mixed N, --lengths FILE\n"), 2;
    if (gemm) return gemm_bench(a.dtype, gemm, variants, a.iters);
    xf_model *m = NULL;
    double t0 = xb_now_s();
    xf_dtype storage = a.dtype == XF_DTYPE_F16 ? XF_DTYPE_F16 : XF_DTYPE_BF16;
    if (xf_model_random(a.shape, storage, 1, &m) != XF_OK) return fail("model");
    a.t_model = xb_now_s() - t0;
    a.m = m;
    int rc;
    if (startup_dir) {
        rc = startup(m, a.dtype, startup_dir, a.shape, a.dtype_name);
    } else {
        rc = bench_engine(&a);
        /* the same model again for each tile variant of the f16 matrix-unit kernel */
        char buf[512];
        snprintf(buf, sizeof buf, "%s", tiles ? tiles : "");
        char *save = NULL; /* strtok_r: the Vulkan loader or driver may use strtok meanwhile */
        for (char *v = strtok_r(buf, " ", &save); v && rc == 0; v = strtok_r(NULL, " ", &save)) {
            setenv("XFWD_VK_CM_TILE", v, 1);
            a.variant = v;
            rc = bench_engine(&a);
        }
        /* then once per environment setting NAME=VALUE[;NAME=VALUE...] */
        snprintf(buf, sizeof buf, "%s", variants ? variants : "");
        for (char *v = strtok_r(buf, " ", &save); v && rc == 0; v = strtok_r(NULL, " ", &save)) {
            if (!strchr(v, '=')) continue;
            settings st;
            settings_apply(&st, v);
            a.variant = v;
            rc = bench_engine(&a);
            settings_restore(&st);
        }
    }
    xf_model_free(m);
    return rc;
}
