/* test_api.c — the C API's contracts on the CPU backends:
 *  - free(NULL) is a no-op; bad arguments and bad batches fail with a message;
 *  - sequences of a batch never see each other (a sequence alone = inside a batch);
 *  - chunking (small max_tokens) gives the same numbers as one chunk;
 *  - an adapter whose B is all zeros gives exactly the base model's output;
 *  - per-sequence adapters: a mixed batch equals each sequence run on its own.
 *   test_api GOLDEN_DIR */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter_writer.h"
#include "testutil.h"

static int failures, checks; /* counted by XT_EXPECT */

static xf_engine *engine(const xf_model *m, xf_backend be, int max_tokens, const xf_adapter *const *ads, int n) {
    xf_engine_options o;
    xf_engine_options_init(&o);
    o.backend = be;
    o.max_tokens = max_tokens;
    o.adapters = ads;
    o.n_adapters = n;
    xf_engine *e = NULL;
    if (xf_engine_create(m, &o, &e) != XF_OK) printf("  engine: %s\n", xf_last_error());
    return e;
}

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double d = 0;
    for (int64_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void test_bad_calls(const xf_model *m, xf_engine *e, int H, int V) {
    xf_model_free(NULL);
    xf_engine_free(NULL);
    xf_adapter_free(NULL);
    xf_tokenizer_free(NULL);
    float out[4096];
    int32_t toks[4] = {1, 2, 3, 4}, lens[2] = {2, 2}, zero[1] = {0}, ids[2] = {0, 5};
    xf_batch b = {.tokens = toks, .seq_lens = lens, .n_seqs = 2};
    xf_model *mm = (xf_model *)1;
    XT_EXPECT(xf_model_open("/nonexistent/model", &mm) == XF_ERR_IO && mm == NULL, "missing folder: %s", xf_last_error());
    XT_EXPECT(strstr(xf_last_error(), "/nonexistent/model") != NULL, "message names the folder: %s", xf_last_error());
    XT_EXPECT(xf_model_open(NULL, &mm) == XF_ERR_INVALID_ARG, "NULL dir");
    XT_EXPECT(xf_engine_hidden(e, NULL, out) == XF_ERR_INVALID_ARG, "NULL batch");
    XT_EXPECT(xf_engine_hidden(e, &b, NULL) == XF_ERR_INVALID_ARG, "NULL out");
    xf_batch empty = {.tokens = toks, .seq_lens = zero, .n_seqs = 1};
    XT_EXPECT(xf_engine_hidden(e, &empty, out) == XF_ERR_INVALID_ARG && strstr(xf_last_error(), "empty"),
           "empty sequence: %s", xf_last_error());
    xf_batch none = {.tokens = toks, .seq_lens = lens, .n_seqs = 0};
    XT_EXPECT(xf_engine_hidden(e, &none, out) == XF_ERR_INVALID_ARG, "no sequences");
    toks[3] = V;
    XT_EXPECT(xf_engine_hidden(e, &b, out) == XF_ERR_INVALID_ARG && strstr(xf_last_error(), "vocabulary"),
           "token id = vocab: %s", xf_last_error());
    toks[3] = -1;
    XT_EXPECT(xf_engine_hidden(e, &b, out) == XF_ERR_INVALID_ARG, "negative token id");
    toks[3] = 4;
    b.adapter_ids = ids;
    XT_EXPECT(xf_engine_hidden(e, &b, out) == XF_ERR_INVALID_ARG && strstr(xf_last_error(), "adapter"),
           "adapter id out of range: %s", xf_last_error());
    b.adapter_ids = NULL;
    XT_EXPECT(xf_engine_classify(e, &b, out) == XF_ERR_INVALID_ARG && strstr(xf_last_error(), "score"),
           "classify without a score head: %s", xf_last_error());
    XT_EXPECT(xf_engine_embed(e, &b, (xf_pooling)7, 0, out) == XF_ERR_INVALID_ARG, "bad pooling");
    xf_engine_options o;
    xf_engine_options_init(&o);
    o.dtype = (xf_dtype)9;
    xf_engine *bad = (xf_engine *)1;
    XT_EXPECT(xf_engine_create(m, &o, &bad) == XF_ERR_INVALID_ARG && bad == NULL, "bad dtype");
    xf_engine_options_init(&o);
    o.backend = XF_BACKEND_CPU;
    o.dtype = XF_DTYPE_F16;
    XT_EXPECT(xf_engine_create(m, &o, &bad) == XF_ERR_UNSUPPORTED, "cpu f16 is refused: %s", xf_last_error());
    XT_EXPECT(xf_model_random("qwen3-99b", XF_DTYPE_F32, 1, &mm) == XF_ERR_INVALID_ARG, "unknown shape");
    (void)H;
}

/* Each sequence alone equals its rows inside a batch; chunked equals unchunked. */
static void test_independence(const xf_model *m, xf_backend be, int H) {
    enum { B = 4 };
    int32_t lens[B] = {3, 40, 1, 17}, toks[61];
    for (int i = 0; i < 61; i++) toks[i] = (i * 37 + 11) % 200;
    float *all = malloc(sizeof(float) * 61 * (size_t)H), *one = malloc(sizeof(float) * 61 * (size_t)H);
    float *chunked = malloc(sizeof(float) * 61 * (size_t)H);
    xf_engine *e = engine(m, be, 0, NULL, 0), *small = engine(m, be, 20, NULL, 0);
    xf_batch b = {.tokens = toks, .seq_lens = lens, .n_seqs = B};
    XT_EXPECT(e && small && xf_engine_hidden(e, &b, all) == XF_OK, "batch forward: %s", xf_last_error());
    XT_EXPECT(small && xf_engine_hidden(small, &b, chunked) == XF_OK, "chunked forward: %s", xf_last_error());
    double d = max_abs_diff(all, chunked, 61 * (int64_t)H);
    XT_EXPECT(d < 1e-5, "chunked (max_tokens 20) vs one chunk: max diff %.3e", d);
    int off = 0;
    for (int s = 0; s < B; s++) {
        xf_batch single = {.tokens = toks + off, .seq_lens = &lens[s], .n_seqs = 1};
        XT_EXPECT(xf_engine_hidden(e, &single, one) == XF_OK, "single forward");
        d = max_abs_diff(one, all + (int64_t)off * H, (int64_t)lens[s] * H);
        XT_EXPECT(d < 1e-5, "sequence %d alone vs in the batch: max diff %.3e", s, d);
        off += lens[s];
    }
    printf("  %s: sequence independence and chunking checked\n", xt_backend_name(be));
    xf_engine_free(e);
    xf_engine_free(small);
    free(all), free(one), free(chunked);
}

/* Zero-B adapter = base model exactly; a mixed batch = each sequence with its own adapter. */
static void test_adapters(const xf_model *m, xf_backend be, int H) {
    char zdir[] = "/tmp/xfwd-zeroB-XXXXXX", rdir[] = "/tmp/xfwd-lora-XXXXXX";
    if (!mkdtemp(zdir) || !mkdtemp(rdir)) {
        XT_EXPECT(0, "mkdtemp");
        return;
    }
    const unsigned all_mods = (1u << XF_MOD_COUNT) - 1;
    XT_EXPECT(xt_write_lora_adapter(zdir, m, all_mods, 4, 8.0, 0.5f, 0.0f, 7) == 0, "write zero-B adapter");
    XT_EXPECT(xt_write_lora_adapter(rdir, m, all_mods, 3, 6.0, 0.3f, 0.3f, 8) == 0, "write adapter");
    xf_adapter *zero = NULL, *real = NULL;
    XT_EXPECT(xf_adapter_open(m, zdir, &zero) == XF_OK, "open zero-B adapter: %s", xf_last_error());
    XT_EXPECT(xf_adapter_open(m, rdir, &real) == XF_OK, "open adapter: %s", xf_last_error());
    int32_t lens[3] = {5, 9, 2}, toks[16];
    for (int i = 0; i < 16; i++) toks[i] = (i * 13 + 3) % 200;
    const int64_t n = 16 * (int64_t)H;
    float *base = malloc(sizeof(float) * (size_t)n), *out = malloc(sizeof(float) * (size_t)n);
    float *ref = malloc(sizeof(float) * (size_t)n);
    xf_batch b = {.tokens = toks, .seq_lens = lens, .n_seqs = 3};
    xf_engine *e0 = engine(m, be, 0, NULL, 0);
    const xf_adapter *zs[1] = {zero};
    xf_engine *ez = zero ? engine(m, be, 0, zs, 1) : NULL;
    if (e0 && ez) {
        xf_engine_hidden(e0, &b, base);
        XT_EXPECT(xf_engine_hidden(ez, &b, out) == XF_OK, "zero-B forward");
        XT_EXPECT(memcmp(base, out, sizeof(float) * (size_t)n) == 0, "zero-B adapter changes the output (max diff %.3e)",
               max_abs_diff(base, out, n));
    }
    const xf_adapter *two[2] = {real, zero};
    xf_engine *em = real && zero ? engine(m, be, 0, two, 2) : NULL;
    const xf_adapter *only[1] = {real};
    xf_engine *er = real ? engine(m, be, 0, only, 1) : NULL;
    if (em && er && e0) {
        int32_t ids[3] = {0, -1, 1};
        b.adapter_ids = ids;
        XT_EXPECT(xf_engine_hidden(em, &b, out) == XF_OK, "mixed-adapter forward: %s", xf_last_error());
        xf_batch plain = {.tokens = toks, .seq_lens = lens, .n_seqs = 3};
        xf_engine_hidden(er, &plain, ref); /* every sequence with `real` */
        double d0 = max_abs_diff(out, ref, 5 * (int64_t)H);
        double d1 = max_abs_diff(out + 5 * H, base + 5 * H, 9 * (int64_t)H);
        double d2 = max_abs_diff(out + 14 * H, base + 14 * H, 2 * (int64_t)H);
        double moved = max_abs_diff(ref, base, 5 * (int64_t)H);
        XT_EXPECT(d0 < 1e-5 && d1 < 1e-5 && d2 < 1e-5, "mixed adapters: diffs %.3e %.3e %.3e", d0, d1, d2);
        XT_EXPECT(moved > 1e-3, "the adapter changes the output (diff %.3e)", moved);
    }
    printf("  %s: zero-B adapter and per-sequence adapters checked\n", xt_backend_name(be));
    xf_engine_free(e0), xf_engine_free(ez), xf_engine_free(em), xf_engine_free(er);
    xf_adapter_free(zero), xf_adapter_free(real);
    xt_remove_peft_folder(zdir);
    xt_remove_peft_folder(rdir);
    free(base), free(out), free(ref);
}

int main(int argc, char **argv) {
    if (argc != 2) return fprintf(stderr, "usage: test_api GOLDEN_DIR\n"), 2;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/qwen3-tiny", argv[1]);
    xf_model *m = NULL;
    if (xf_model_open(dir, &m) != XF_OK) return printf("FAIL: %s\n", xf_last_error()), 1;
    xf_model_info info;
    xf_model_get_info(m, &info);
    xf_engine *e = engine(m, XF_BACKEND_CPU, 0, NULL, 0);
    if (!e) return 1;
    printf("C API tests on %s\n", dir);
    test_bad_calls(m, e, info.hidden_size, info.vocab_size);
    xf_engine_free(e);
    test_independence(m, XF_BACKEND_CPU, info.hidden_size);
    test_independence(m, XF_BACKEND_CPU_REF, info.hidden_size);
    test_adapters(m, XF_BACKEND_CPU, info.hidden_size);
    test_adapters(m, XF_BACKEND_CPU_REF, info.hidden_size);
    xf_model_free(m);
    printf("%d passed, %d failed\n", checks - failures, failures);
    return failures ? 1 : 0;
}
