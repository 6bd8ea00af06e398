/* test_cpu_bf16.c — the fast CPU backend's bf16 mode beyond the golden cases:
 *   test_cpu_bf16 GOLDEN_DIR
 *  - xf_model_auto_dtype: bf16 on the CPU for a bf16 checkpoint exactly where the CPU
 *    runs bf16 natively; f32 for an f32 checkpoint and for the reference backend;
 *  - a bf16 checkpoint is used as stored: the engine keeps no copy of its matrices
 *    (an f32 engine keeps an fp32 copy, twice their size);
 *  - the attention masks end to end (full, sliding windows across the tiles of 64
 *    queries) in f32 and bf16 against the CPU reference;
 *  - a batch across several tiles and sequences, one engine serving both f32 and
 *    bf16 models in turn, and engines called from another thread.
 * Exit 0 pass, 1 fail, 77 when this build or CPU has no CPU bf16 mode. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu/dnnl_matmul.h"
#include "testutil.h"

static int failures, checks;

static void test_auto_dtype(const char *golden) {
    char dir[4096];
    xf_model *m = NULL;
    snprintf(dir, sizeof dir, "%s/qwen3-hd128-bf16", golden);
    XT_EXPECT(xf_model_open(dir, &m) == XF_OK, "open %s: %s", dir, xf_last_error());
    if (!m) return;
    const xf_dtype native = xf_mm_bf16_native() ? XF_DTYPE_BF16 : XF_DTYPE_F32;
    XT_EXPECT(xf_model_auto_dtype(m, XF_BACKEND_CPU) == native, "bf16 checkpoint, cpu: %d",
              (int)xf_model_auto_dtype(m, XF_BACKEND_CPU));
    XT_EXPECT(xf_model_auto_dtype(m, XF_BACKEND_AUTO) == native, "bf16 checkpoint, auto");
    XT_EXPECT(xf_model_auto_dtype(m, XF_BACKEND_CPU_REF) == XF_DTYPE_F32, "bf16 checkpoint, cpu_ref");
    XT_EXPECT(xf_model_auto_dtype(m, XF_BACKEND_CUDA) == XF_DTYPE_BF16, "bf16 checkpoint, cuda");
    printf("  auto dtype of a bf16 checkpoint on this CPU: %s (AVX512-BF16 %s)\n",
           xt_dtype_name(xf_model_auto_dtype(m, XF_BACKEND_CPU)), xf_mm_bf16_native() ? "yes" : "no");
    xf_model_free(m);
    m = NULL;
    snprintf(dir, sizeof dir, "%s/qwen3-tiny", golden);
    XT_EXPECT(xf_model_open(dir, &m) == XF_OK, "open %s: %s", dir, xf_last_error());
    if (!m) return;
    XT_EXPECT(xf_model_auto_dtype(m, XF_BACKEND_CPU) == XF_DTYPE_F32, "f32 checkpoint, cpu");
    XT_EXPECT(xf_model_auto_dtype(m, XF_BACKEND_VULKAN) == XF_DTYPE_F32, "f32 checkpoint, vulkan");
    XT_EXPECT(xf_model_auto_dtype(NULL, XF_BACKEND_CPU) == XF_DTYPE_F32, "no model");
    xf_model_free(m);
}

static xf_engine *make_engine(const xf_model *m, xf_dtype dtype, int threads) {
    xf_engine_options o;
    xf_engine_options_init(&o);
    o.backend = XF_BACKEND_CPU;
    o.dtype = dtype;
    o.n_threads = threads;
    xf_engine *e = NULL;
    XT_EXPECT(xf_engine_create(m, &o, &e) == XF_OK, "engine %s: %s", xt_dtype_name(dtype), xf_last_error());
    return e;
}

/* An engine's memory before its first forward is the weight copies it keeps. */
static void test_no_copy(void) {
    xf_model *m = NULL;
    XT_EXPECT(xf_model_random("qwen3-tiny", XF_DTYPE_BF16, 7, &m) == XF_OK, "random model: %s", xf_last_error());
    if (!m) return;
    xf_model_info info;
    xf_model_get_info(m, &info);
    const size_t H = (size_t)info.hidden_size, I = (size_t)info.intermediate_size, D = (size_t)info.head_dim;
    const size_t per_layer = H * D * (size_t)(2 * info.n_heads + 2 * info.n_kv_heads) + 3 * H * I;
    const size_t matrices_bf16 = 2 * per_layer * (size_t)info.n_layers;  /* bytes as stored */
    xf_engine *b = make_engine(m, XF_DTYPE_BF16, 1), *f = make_engine(m, XF_DTYPE_F32, 1);
    if (b && f) {
        size_t pb = xf_engine_peak_memory(b), pf = xf_engine_peak_memory(f);
        printf("  qwen3-tiny bf16 weights (%zu bytes of layer matrices): engine copies bf16 %zu, f32 %zu bytes\n",
               matrices_bf16, pb, pf);
        XT_EXPECT(pb < matrices_bf16 / 100, "the bf16 engine copied %zu bytes of a bf16 checkpoint", pb);
        XT_EXPECT(pf >= 2 * matrices_bf16, "the f32 engine keeps fp32 matrices (%zu bytes)", pf);
    }
    xf_engine_free(b);
    xf_engine_free(f);
    xf_model_free(m);
}

static void compare(const char *what, const float *out, const float *ref, int64_t T, int64_t H, xf_dtype mode) {
    double err = xt_rel_err(out, ref, T * H), cos = xt_min_row_cos(out, ref, T, H);
    printf("  %-56s rel err %.3e, min row cosine %.6f\n", what, err, cos);
    XT_EXPECT(err <= xt_tolerance(mode) && (mode == XF_DTYPE_F32 || cos >= 0.999), "%s: rel err %.3e, cosine %.6f",
              what, err, cos);
}

/* The masks end to end: the fast path's tiles against the reference's plain loops. */
static void test_masks(const char *golden) {
    for (int k = 0; k < XT_N_MASKS; k++) {
        xt_mask_case mc;
        XT_EXPECT(!xt_mask_case_open(golden, k, &mc), "mask case %s", xt_masks[k]);
        if (!mc.model) continue;
        const xf_dtype modes[2] = {XF_DTYPE_F32, XF_DTYPE_BF16};
        for (int d = 0; d < 2; d++) {
            xf_status st;
            float *out = xt_engine_hidden(mc.model, XF_BACKEND_CPU, modes[d], mc.tokens, mc.seq_lens, mc.n_seqs, &st);
            char what[96];
            snprintf(what, sizeof what, "mask %s, cpu %s vs cpu_ref", mc.mask, xt_dtype_name(modes[d]));
            XT_EXPECT(out != NULL, "%s: %s", what, xf_last_error());
            if (out) compare(what, out, mc.ref, mc.n_tokens, mc.hidden, modes[d]);
            free(out);
        }
        xt_mask_case_close(&mc);
    }
}

typedef struct forward_job {
    xf_engine *e;
    const xf_batch *b;
    float *out;
    xf_status st;
} forward_job;

static void *run_forward(void *arg) {
    forward_job *j = arg;
    j->st = xf_engine_hidden(j->e, j->b, j->out);
    return NULL;
}

/* Many sequences across tiles (lengths 1 .. 200), bf16 against the reference, on the
 * creating thread and on another one (the thread count is set per forward). */
static void test_batch(void) {
    xf_model *m = NULL;
    XT_EXPECT(xf_model_random("qwen3-tiny", XF_DTYPE_BF16, 11, &m) == XF_OK, "random model: %s", xf_last_error());
    if (!m) return;
    xf_model_info info;
    xf_model_get_info(m, &info);
    int32_t lens[] = {1, 63, 64, 65, 200, 7, 128};
    const int B = (int)(sizeof lens / sizeof lens[0]);
    int64_t T = 0;
    for (int i = 0; i < B; i++) T += lens[i];
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)T);
    for (int64_t t = 0; t < T; t++) tokens[t] = (int32_t)((t * 7919 + 13) % info.vocab_size);
    xf_status st;
    float *ref = xt_engine_hidden(m, XF_BACKEND_CPU_REF, XF_DTYPE_F32, tokens, lens, B, &st);
    XT_EXPECT(ref != NULL, "reference: %s", xf_last_error());
    xf_engine *e = make_engine(m, XF_DTYPE_BF16, 2);
    float *out = malloc(sizeof(float) * (size_t)T * (size_t)info.hidden_size);
    if (ref && e && out) {
        xf_batch b = {.tokens = tokens, .seq_lens = lens, .n_seqs = B};
        XT_EXPECT(xf_engine_hidden(e, &b, out) == XF_OK, "forward: %s", xf_last_error());
        compare("7 sequences (1..200 tokens), cpu bf16 vs cpu_ref", out, ref, T, info.hidden_size, XF_DTYPE_BF16);
        memset(out, 0, sizeof(float) * (size_t)T * (size_t)info.hidden_size);
        forward_job job = {.e = e, .b = &b, .out = out};
        pthread_t th;
        XT_EXPECT(pthread_create(&th, NULL, run_forward, &job) == 0, "thread");
        pthread_join(th, NULL);
        XT_EXPECT(job.st == XF_OK, "forward on another thread: %s", xf_last_error());
        compare("the same on another thread", out, ref, T, info.hidden_size, XF_DTYPE_BF16);
    }
    xf_engine_free(e);
    free(out);
    free(ref);
    free(tokens);
    xf_model_free(m);
}

int main(int argc, char **argv) {
    if (argc != 2) return fprintf(stderr, "usage: test_cpu_bf16 GOLDEN_DIR\n"), 2;
    xf_model *probe = NULL;
    xf_engine *e = NULL;
    if (xf_model_random("qwen3-tiny", XF_DTYPE_BF16, 1, &probe) != XF_OK) return printf("FAIL: random model\n"), 1;
    xf_engine_options o;
    xf_engine_options_init(&o);
    o.backend = XF_BACKEND_CPU;
    o.dtype = XF_DTYPE_BF16;
    xf_status st = xf_engine_create(probe, &o, &e);
    xf_engine_free(e);
    xf_model_free(probe);
    if (st == XF_ERR_UNSUPPORTED) return printf("skipped: %s\n", xf_last_error()), XT_SKIP;
    printf("cpu bf16 (AVX512-BF16 on this CPU: %s)\n", xf_mm_bf16_native() ? "yes" : "no, oneDNN emulates");
    test_auto_dtype(argv[1]);
    test_no_copy();
    test_masks(argv[1]);
    test_batch();
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures ? 1 : 0;
}
