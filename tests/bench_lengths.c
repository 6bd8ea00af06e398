/* bench_lengths.c — the benchmark workloads of bench/bench_util.h: the mixed
 * length distribution (range, mean, fixed seed; with a file argument, the same
 * lengths as bench/traffic.py wrote there), the lengths-file reader on good and
 * bad files, packing under a token budget, and the attention pair / FLOP count
 * against plain loops.
 *   test_bench_lengths TMPDIR [PYTHON_LENGTHS_FILE]                   */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../bench/bench_util.h"

static int failures = 0;
#define EXPECT(cond, ...)                                                  \
    do {                                                                   \
        if (!(cond)) {                                                     \
            failures++;                                                    \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                  \
            fputc('\n', stderr);                                           \
        }                                                                  \
    } while (0)

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static void test_mixed(void) {
    enum { N = 20000 };
    int32_t *a = malloc(sizeof(int32_t) * N), *b = malloc(sizeof(int32_t) * N);
    xb_mixed_lengths(N, a);
    xb_mixed_lengths(N, b);
    EXPECT(!memcmp(a, b, sizeof(int32_t) * N), "two calls differ (the seed is fixed)");
    double sum = 0;
    int lo = 1 << 30, hi = 0, at_max = 0;
    for (int i = 0; i < N; i++) {
        sum += a[i];
        lo = a[i] < lo ? a[i] : lo, hi = a[i] > hi ? a[i] : hi;
        at_max += a[i] == XB_MIXED_MAX;
    }
    EXPECT(lo >= XB_MIXED_MIN && hi <= XB_MIXED_MAX, "lengths in [%d, %d]", lo, hi);
    EXPECT(lo == XB_MIXED_MIN && hi == XB_MIXED_MAX, "both clips reached in %d draws: [%d, %d]", N, lo, hi);
    EXPECT(sum / N > 280 && sum / N < 320, "mean %.1f, want ~300", sum / N);
    EXPECT(at_max > N / 500 && at_max < N / 50, "%d of %d at the 2048 clip", at_max, N);
    printf("mixed: %d lengths, mean %.1f, min %d, max %d, %d at the clip; first %d %d %d %d\n", N, sum / N, lo, hi,
           at_max, a[0], a[1], a[2], a[3]);
    free(a), free(b);
}

/* The lengths bench/traffic.py --mixed N printed: the same as xb_mixed_lengths. */
static void test_python_agrees(const char *path) {
    int32_t *lens = NULL, n = 0;
    char err[256];
    if (xb_read_lengths(path, 1 << 20, &lens, &n, err, sizeof err)) {
        EXPECT(0, "%s", err);
        return;
    }
    int32_t *mine = malloc(sizeof(int32_t) * (size_t)n);
    xb_mixed_lengths(n, mine);
    int bad = 0;
    for (int32_t i = 0; i < n; i++)
        if (lens[i] != mine[i] && bad++ < 5) fprintf(stderr, "  length %d: python %d, C %d\n", i, lens[i], mine[i]);
    EXPECT(bad == 0, "%d of %d lengths differ between bench/traffic.py and bench_util.h", bad, n);
    printf("python: %d lengths agree\n", n - bad);
    free(lens), free(mine);
}

static void test_reader(const char *dir) {
    char path[1024], err[2048];
    int32_t *lens = NULL, n = 0;
    snprintf(path, sizeof path, "%s/good.txt", dir);
    write_file(path, "# lengths\n12\n\n  7  \n2048\r\n1");
    EXPECT(xb_read_lengths(path, 2048, &lens, &n, err, sizeof err) == 0, "good file: %s", err);
    EXPECT(n == 4 && lens && lens[0] == 12 && lens[1] == 7 && lens[2] == 2048 && lens[3] == 1, "read %d lengths", n);
    free(lens);
    static const struct { const char *text, *want; } bad[] = {
        {"5\n0\n", ":2: '0' is not a sequence length"},
        {"5\nabc\n", ":2: 'abc' is not"},
        {"5 6\n", ":1: '5 6' is not"},
        {"4096\n", "in 1..2048"},
        {"-3\n", "'-3' is not"},
        {"# only a comment\n\n", "no lengths"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(path, sizeof path, "%s/bad%zu.txt", dir, i);
        write_file(path, bad[i].text);
        lens = (int32_t *)1;
        err[0] = 0;
        int rc = xb_read_lengths(path, 2048, &lens, &n, err, sizeof err);
        EXPECT(rc == -1 && lens == NULL && n == 0, "bad file %zu accepted", i);
        EXPECT(strstr(err, bad[i].want) && strstr(err, path), "bad file %zu: message '%s', want '%s'", i, err,
               bad[i].want);
    }
    snprintf(path, sizeof path, "%s/missing.txt", dir);
    EXPECT(xb_read_lengths(path, 2048, &lens, &n, err, sizeof err) == -1 && strstr(err, "cannot open"), "%s", err);
    snprintf(path, sizeof path, "%s/long.txt", dir);
    char longline[600];
    memset(longline, '1', sizeof longline - 2), longline[sizeof longline - 2] = '\n', longline[sizeof longline - 1] = 0;
    write_file(path, longline);
    EXPECT(xb_read_lengths(path, 2048, &lens, &n, err, sizeof err) == -1 && strstr(err, "too long"), "%s", err);
}

static void test_pack(void) {
    int32_t start[8];
    const int32_t a[] = {5, 5, 5};
    EXPECT(xb_pack(a, 3, 10, start) == 2 && start[1] == 2 && start[2] == 3, "5,5,5 under 10");
    const int32_t b[] = {3, 20, 3, 3};  /* a sequence over the budget runs alone */
    EXPECT(xb_pack(b, 4, 10, start) == 3 && start[1] == 1 && start[2] == 2 && start[3] == 4, "3,20,3,3 under 10");
    const int32_t c[] = {4, 4, 4, 4};
    EXPECT(xb_pack(c, 4, 16, start) == 1 && start[1] == 4, "exactly the budget is one forward");
    EXPECT(xb_pack(c, 4, 1, start) == 4, "budget below every length: one sequence a forward");
    /* input order kept: every forward is a contiguous run and the runs cover 0..n */
    enum { N = 2000 };
    int32_t lens[N], st[N + 1];
    xb_mixed_lengths(N, lens);
    int32_t nf = xb_pack(lens, N, 16384, st);
    int64_t total = 0, max_t = 0;
    for (int32_t f = 0; f < nf; f++) {
        int64_t t = 0;
        for (int32_t i = st[f]; i < st[f + 1]; i++) t += lens[i];
        EXPECT(t <= 16384 || st[f + 1] - st[f] == 1, "forward %d has %lld tokens", f, (long long)t);
        if (f + 1 < nf) EXPECT(t + lens[st[f + 1]] > 16384, "forward %d could take the next sequence", f);
        total += t, max_t = t > max_t ? t : max_t;
    }
    EXPECT(st[0] == 0 && st[nf] == N, "forwards cover every sequence");
    printf("pack: 2000 mixed sequences, %lld tokens, %d forwards under 16384 (largest %lld)\n", (long long)total, nf,
           (long long)max_t);
}

static void test_flops(void) {
    for (int S = 1; S <= 40; S++)
        for (int W = 0; W <= 45; W += 3) {
            double causal = 0;
            for (int i = 0; i < S; i++) causal += W > 0 && i + 1 > W ? W : i + 1;
            EXPECT(xb_attn_pairs(S, 1, W) == causal, "S %d W %d: %.0f, loop %.0f", S, W, xb_attn_pairs(S, 1, W),
                   causal);
        }
    EXPECT(xb_attn_pairs(7, 0, 0) == 49, "bidirectional S²");
    /* Qwen3-4B, 16 × 512: the figure bench/cuda-h100.md's tables used */
    int32_t lens[16];
    for (int i = 0; i < 16; i++) lens[i] = 512;
    const double H = 2560, I = 9728, L = 36, NH = 32, NKV = 8, D = 128;
    const double want = 2.0 * L * (H * NH * D * 2 + H * NKV * D * 2 + 3 * H * I) * 8192 +
                        L * 4.0 * NH * D * (512.0 * 513 / 2) * 16;
    const double got = xb_forward_flops(36, 2560, 9728, 32, 8, 128, lens, 16, 1, 0);
    EXPECT(got == want, "4B 16x512: %.6g, want %.6g", got, want);
    /* mixed lengths: the sum over sequences, not the mean length's square */
    const int32_t mix[] = {10, 1000};
    const double lin = 2.0 * L * (H * NH * D * 2 + H * NKV * D * 2 + 3 * H * I) * 1010;
    const double mixed = xb_forward_flops(36, 2560, 9728, 32, 8, 128, mix, 2, 1, 0);
    EXPECT(mixed == lin + L * 4.0 * NH * D * (55.0 + 500500.0), "mixed 10 + 1000: %.6g", mixed);
}

int main(int argc, char **argv) {
    if (argc < 2) return fprintf(stderr, "usage: test_bench_lengths TMPDIR [PYTHON_LENGTHS_FILE]\n"), 2;
    test_mixed();
    if (argc > 2) test_python_agrees(argv[2]);
    test_reader(argv[1]);
    test_pack();
    test_flops();
    printf("%s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
