/* test_cuda.c — checks of the CUDA engine that the golden and op tests do not
 * reach: graph replays are deterministic; a sequence gives the same rows alone
 * as inside a batch (shape buckets, padding rows, varlen attention tiles);
 * chunking by max_tokens, including a sequence longer than max_tokens (scratch
 * growth); per-sequence adapter ids, mixed within a batch; a random model
 * with longer sequences against the CPU reference in every mode; and the attention
 * masks (full, sliding windows) on every attention kernel against the CPU reference.
 *   test_cuda GOLDEN_DIR        (exit 0 pass, 1 fail, 77 no GPU) */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static int failures;

static void report(const char *what, double err, double tol) { failures += xt_report(what, err, tol); }

/* Engine on the CUDA backend, or exit 77 when there is no GPU. */
static xf_engine *cuda_engine(const xf_model *m, xf_dtype mode, int32_t max_tokens, const xf_adapter *const *ads,
                              int n_ads) {
    xf_engine_options o;
    xf_engine_options_init(&o);
    o.backend = XF_BACKEND_CUDA;
    o.dtype = mode;
    if (max_tokens) o.max_tokens = max_tokens;
    o.adapters = ads, o.n_adapters = n_ads;
    xf_engine *e = NULL;
    xf_status st = xf_engine_create(m, &o, &e);
    if (st == XF_ERR_NO_DEVICE) {
        printf("skipped: %s\n", xf_last_error());
        exit(XT_SKIP);
    }
    if (st != XF_OK) {
        printf("FAIL: create engine: %s\n", xf_last_error());
        exit(1);
    }
    return e;
}

static float *hidden(xf_engine *e, const int32_t *tokens, const int32_t *lens, int n, const int32_t *ids, int H) {
    int64_t T = 0;
    for (int i = 0; i < n; i++) T += lens[i];
    float *out = malloc(sizeof(float) * (size_t)(T * H));
    xf_batch b = {.tokens = tokens, .seq_lens = lens, .n_seqs = n, .adapter_ids = ids};
    if (xf_engine_hidden(e, &b, out) != XF_OK) {
        printf("FAIL: hidden: %s\n", xf_last_error());
        exit(1);
    }
    return out;
}

/* Each sequence alone vs. its rows in the batch. */
static void check_isolation(xf_engine *e, const xt_golden *g, int H, double tol, const char *mode) {
    float *all = hidden(e, g->tokens, g->seq_lens, g->n_seqs, NULL, H);
    int64_t t0 = 0;
    for (int i = 0; i < g->n_seqs; i++) {
        float *one = hidden(e, g->tokens + t0, &g->seq_lens[i], 1, NULL, H);
        char what[96];
        snprintf(what, sizeof what, "%s: sequence %d alone vs in the batch", mode, i);
        report(what, xt_rel_err(one, all + t0 * H, (int64_t)g->seq_lens[i] * H), tol);
        t0 += g->seq_lens[i];
        free(one);
    }
    free(all);
}

static void test_tiny(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/qwen3-tiny", dir);
    xt_golden g;
    xf_model *m = NULL;
    if (xt_golden_load(path, &g) || xf_model_open(path, &m) != XF_OK) {
        printf("FAIL: cannot open %s: %s\n", path, xf_last_error());
        exit(1);
    }
    xf_model_info info;
    xf_model_get_info(m, &info);
    const int64_t n = (int64_t)g.n_tokens * info.hidden_size;
    xf_engine *e = cuda_engine(m, XF_DTYPE_F32, 0, NULL, 0);
    float *a = hidden(e, g.tokens, g.seq_lens, g.n_seqs, NULL, info.hidden_size);
    float *b = hidden(e, g.tokens, g.seq_lens, g.n_seqs, NULL, info.hidden_size);
    int same = !memcmp(a, b, sizeof(float) * (size_t)n);
    printf("  %-56s %s\n", "f32: two replays give identical bits", same ? "ok" : "FAIL");
    failures += !same;
    check_isolation(e, &g, info.hidden_size, 1e-5, "f32");
    xf_engine *small = cuda_engine(m, XF_DTYPE_F32, 20, NULL, 0);  /* chunks; the 64-token sequence exceeds it */
    float *c = hidden(small, g.tokens, g.seq_lens, g.n_seqs, NULL, info.hidden_size);
    report("f32: max_tokens 20 (chunks, one longer sequence) vs 8192", xt_rel_err(c, a, n), 1e-5);
    xf_engine_free(small);
    xf_engine_free(e);
    e = cuda_engine(m, XF_DTYPE_BF16, 0, NULL, 0);
    check_isolation(e, &g, info.hidden_size, 1e-2, "bf16");
    xf_engine_free(e);
    free(a), free(b), free(c);
    xf_model_free(m);
    xt_golden_free(&g);
}

static void test_mixed_adapters(const char *dir) {
    char path[4096], apath[4200];
    snprintf(path, sizeof path, "%s/qwen3-tiny-lora-qv", dir);
    snprintf(apath, sizeof apath, "%s/adapter", path);
    xt_golden g;
    xf_model *m = NULL;
    xf_adapter *ad = NULL;
    if (xt_golden_load(path, &g) || xf_model_open(path, &m) != XF_OK || xf_adapter_open(m, apath, &ad) != XF_OK) {
        printf("FAIL: cannot open %s: %s\n", path, xf_last_error());
        exit(1);
    }
    xf_model_info info;
    xf_model_get_info(m, &info);
    const int H = info.hidden_size;
    const xf_adapter *two[2] = {ad, ad};
    xf_engine *with = cuda_engine(m, XF_DTYPE_F32, 0, two, 1), *without = cuda_engine(m, XF_DTYPE_F32, 0, NULL, 0);
    xf_engine *mixed = cuda_engine(m, XF_DTYPE_F32, 0, two, 2);
    float *ref_a = hidden(with, g.tokens, g.seq_lens, g.n_seqs, NULL, H);
    float *ref_n = hidden(without, g.tokens, g.seq_lens, g.n_seqs, NULL, H);
    int32_t ids[16];
    for (int i = 0; i < g.n_seqs && i < 16; i++) ids[i] = i % 3 == 0 ? 1 : i % 3 == 1 ? -1 : 0;
    float *out = hidden(mixed, g.tokens, g.seq_lens, g.n_seqs, ids, H);
    int64_t t0 = 0;
    for (int i = 0; i < g.n_seqs && i < 16; i++) {
        char what[96];
        snprintf(what, sizeof what, "f32: mixed adapter ids, sequence %d (adapter %d)", i, ids[i]);
        const float *ref = ids[i] >= 0 ? ref_a : ref_n;
        report(what, xt_rel_err(out + t0 * H, ref + t0 * H, (int64_t)g.seq_lens[i] * H), 1e-5);
        t0 += g.seq_lens[i];
    }
    free(ref_a), free(ref_n), free(out);
    xf_engine_free(with), xf_engine_free(without), xf_engine_free(mixed);
    xf_adapter_free(ad);
    xf_model_free(m);
    xt_golden_free(&g);
}

/* A random model, sequences longer than the golden cases, CUDA vs the CPU reference. */
static void test_random_vs_reference(void) {
    static const int32_t lens[] = {300, 1, 77, 129};
    const int n = 4;
    int64_t T = 0;
    for (int i = 0; i < n; i++) T += lens[i];
    xf_model *m = NULL;
    if (xf_model_random("qwen3-tiny", XF_DTYPE_F32, 7, &m) != XF_OK) {
        printf("FAIL: random model: %s\n", xf_last_error());
        exit(1);
    }
    xf_model_info info;
    xf_model_get_info(m, &info);
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)T);
    for (int64_t t = 0; t < T; t++) tokens[t] = (int32_t)((t * 7919 + 13) % info.vocab_size);
    xf_engine_options o;
    xf_engine_options_init(&o);
    o.backend = XF_BACKEND_CPU_REF;
    xf_engine *ref_e = NULL;
    if (xf_engine_create(m, &o, &ref_e) != XF_OK) {
        printf("FAIL: reference engine: %s\n", xf_last_error());
        exit(1);
    }
    float *ref = hidden(ref_e, tokens, lens, n, NULL, info.hidden_size);
    const double tol[4] = {1e-5, 5e-3, 3e-2, 3e-2};
    const char *names[4] = {"f32", "tf32", "bf16", "f16"};
    for (int d = 0; d < 4; d++) {
        xf_engine *e = cuda_engine(m, (xf_dtype)d, 0, NULL, 0);
        float *out = hidden(e, tokens, lens, n, NULL, info.hidden_size);
        char what[96];
        snprintf(what, sizeof what, "%s: random qwen3-tiny, lengths 300/1/77/129 vs cpu_ref", names[d]);
        report(what, xt_rel_err(out, ref, T * info.hidden_size), tol[d]);
        free(out);
        xf_engine_free(e);
    }
    free(ref), free(tokens);
    xf_engine_free(ref_e);
    xf_model_free(m);
}

/* The attention masks end to end (tiles and per-layer masks of the forward, the graph):
 * xt_mask_case's model and batch, CUDA vs the CPU reference, in f32, bf16 and f16 with
 * the attention kernel the kernel table picks on this device. (Every other kernel the
 * table can pick is checked with every mask by the op tests' variant matrix.) */
static void test_masks(const char *dir) {
    for (int k = 0; k < XT_N_MASKS; k++) {
        xt_mask_case mc;
        if (xt_mask_case_open(dir, k, &mc)) exit(1);
        const xf_dtype modes[3] = {XF_DTYPE_F32, XF_DTYPE_BF16, XF_DTYPE_F16};
        for (int d = 0; d < 3; d++) {
            char what[96];
            xf_status st;
            float *out = xt_engine_hidden(mc.model, XF_BACKEND_CUDA, modes[d], mc.tokens, mc.seq_lens, mc.n_seqs, &st);
            if (st == XF_ERR_NO_DEVICE) {
                printf("skipped: %s\n", xf_last_error());
                exit(XT_SKIP);
            }
            snprintf(what, sizeof what, "%s %s vs cpu_ref", mc.mask, xt_dtype_name(modes[d]));
            if (!out) {
                printf("  FAIL %s: %s\n", what, xf_last_error());
                failures++;
                continue;
            }
            const int64_t T = mc.n_tokens, H = mc.hidden;
            report(what, xt_rel_err(out, mc.ref, T * H), xt_tolerance(modes[d]));
            if (modes[d] != XF_DTYPE_F32) {
                double cos = xt_min_row_cos(out, mc.ref, T, H);
                printf("  %-56s min row cosine %.6f\n", what, cos);
                failures += !(cos >= 0.999);
            }
            free(out);
        }
        xt_mask_case_close(&mc);
    }
}

int main(int argc, char **argv) {
    if (argc != 2) return fprintf(stderr, "usage: test_cuda GOLDEN_DIR\n"), 2;
    printf("CUDA engine tests\n");
    test_tiny(argv[1]);
    test_mixed_adapters(argv[1]);
    test_random_vs_reference();
    test_masks(argv[1]);
    printf("%s: %d failed\n", failures ? "FAIL" : "PASS", failures);
    return failures ? 1 : 0;
}
