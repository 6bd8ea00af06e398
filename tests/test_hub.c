/* test_hub.c — the Hub-style golden cases (tests/data/hub) end to end:
 *   test_hub --case DIR [--backend B] [--dtype D]
 * Compares every output the case stores with the public API that produces it:
 *   hidden            xf_engine_hidden
 *   logits            xf_engine_logits
 *   pooled_mean       xf_engine_embed(mean, normalised)
 *   cls_logits        xf_engine_classify (last non-pad token)
 *   rerank_logits     xf_engine_last_logits at rerank_ids; rerank_score = softmax P(yes)
 *   st_embed_tokens   xf_engine_encode with the folder's defaults (modules.json)
 * and the behaviours that used to be silently wrong: a headless untied checkpoint
 * refuses logits, a sentence-transformers folder's defaults are what info reports,
 * the classifier's pad rule differs from the last token, last_logits agrees with the
 * full logits. Tolerances from the hub README. Exit 0 pass, 1 fail, 77 skipped. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "testutil.h"

static int failures, checks;

/* Compares out with a golden tensor; 16-bit modes also need every row's cosine >= 0.999
 * (rows = 0: a probability vector, compared as a whole). */
static void compare(xf_dtype mode, const char *name, const float *out, const float *ref, int64_t rows,
                    int64_t cols) {
    int64_t n = (rows ? rows : 1) * cols;
    checks++;
    failures += xt_report(name, xt_rel_err(out, ref, n), xt_tolerance(mode));
    if ((mode == XF_DTYPE_BF16 || mode == XF_DTYPE_F16) && rows > 0) {
        double cs = xt_min_row_cos(out, ref, rows, cols);
        int bad = !(cs >= 0.999);
        printf("  %-40s min row cosine %.6f (>= 0.999) %s\n", name, cs, bad ? "FAIL" : "ok");
        failures += bad;
    }
}

static const int32_t *golden_i32(const xt_golden *g, const char *name, int64_t *n) {
    const xf_st_entry *e = xf_st_find(g->st, name);
    if (!e || e->dtype != XF_ST_I32) return NULL;
    *n = e->numel;
    return e->data;
}

/* A check of something that is not a tensor comparison. */
#define EXPECT(name, cond, ...)                                                                             \
    do {                                                                                                    \
        checks++;                                                                                           \
        int ok_ = (cond);                                                                                   \
        failures += !ok_;                                                                                   \
        printf("  %-40s %s\n", name, ok_ ? "ok" : "FAIL");                                                  \
        if (!ok_) printf("    "), printf(__VA_ARGS__), printf("\n");                                        \
    } while (0)

static void check_rerank(xf_engine *e, const xf_batch *b, const xt_golden *g, xf_dtype mode, float *out,
                         const xf_model_info *info) {
    int64_t n_ids = 0, rows, cols;
    const int32_t *ids = golden_i32(g, "rerank_ids", &n_ids);
    const float *ref = xt_golden_get(g, "rerank_logits", &rows, &cols);
    if (!ids || !ref) return;
    xf_status st = xf_engine_last_logits(e, b, ids, (int32_t)n_ids, out);
    if (st != XF_OK) {
        printf("FAIL: last_logits: %s\n", xf_last_error());
        failures++, checks++;
        return;
    }
    compare(mode, "rerank_logits (last_logits)", out, ref, b->n_seqs, n_ids);
    const float *score_ref = xt_golden_get(g, "rerank_score", NULL, NULL);
    if (score_ref) {
        float *p = malloc(sizeof(float) * (size_t)b->n_seqs);
        for (int32_t s = 0; s < b->n_seqs; s++)
            p[s] = (float)(1.0 / (1.0 + exp((double)out[s * n_ids + 1] - out[s * n_ids])));
        compare(mode, "rerank_score", p, score_ref, 0, b->n_seqs);
        free(p);
    }
    /* the same numbers as the full logits at the last tokens (the old way) */
    int64_t T = xf_batch_tokens(b);
    float *full = malloc(sizeof(float) * (size_t)(T * info->vocab_size));
    float *pick = malloc(sizeof(float) * (size_t)(b->n_seqs * n_ids));
    if (full && pick && xf_engine_logits(e, b, full) == XF_OK) {
        for (int32_t s = 0, t = -1; s < b->n_seqs; s++) {
            t += b->seq_lens[s];
            for (int64_t k = 0; k < n_ids; k++) pick[s * n_ids + k] = full[(int64_t)t * info->vocab_size + ids[k]];
        }
        compare(mode, "last_logits vs full logits", out, pick, b->n_seqs, n_ids);
    }
    free(full);
    free(pick);
}

/* cls-pad: the pooled positions are not the last ones, so a last-token score differs. */
static void check_classify(xf_engine *e, const xf_batch *b, const xt_golden *g, xf_dtype mode, float *out,
                           const xf_model_info *info) {
    int64_t rows, cols;
    const float *ref = xt_golden_get(g, "cls_logits", &rows, &cols);
    if (!ref) return;
    if (xf_engine_classify(e, b, out) != XF_OK) {
        printf("FAIL: classify: %s\n", xf_last_error());
        failures++, checks++;
        return;
    }
    compare(mode, "cls_logits (last non-pad token)", out, ref, b->n_seqs, info->num_labels);
    printf("  pad_token_id %d\n", info->pad_token_id);
    EXPECT("info pad_token_id", info->pad_token_id == 0, "cls-pad: info.pad_token_id = %d, want 0", info->pad_token_id);
}

static void check_st(xf_engine *e, const xf_batch *b, const xt_golden *g, xf_dtype mode, float *out,
                     const xf_model_info *info) {
    int64_t rows, cols;
    const float *ref = xt_golden_get(g, "st_embed_tokens", &rows, &cols);
    if (!ref) return;
    printf("  pipeline: pooling %d, %d Dense, normalize %d, embed_dim %d\n", info->default_pooling, info->n_dense,
           info->default_normalize, info->embed_dim);
    EXPECT("info embed_dim, normalize", info->embed_dim == cols && info->default_normalize == 1, "info: embed_dim %d (golden %lld), normalize %d",
           info->embed_dim, (long long)cols, info->default_normalize);
    xf_encode_options o;
    xf_encode_options_init(&o);
    if (xf_engine_encode(e, b, &o, out) != XF_OK) {
        printf("FAIL: encode: %s\n", xf_last_error());
        failures++, checks++;
        return;
    }
    compare(mode, "st_embed_tokens (encode, folder defaults)", out, ref, b->n_seqs, cols);
    /* Matryoshka: the first 16 of the pipeline's (unnormalised) output, then normalised */
    o.dimensions = 16;
    o.normalize = 0;
    float *full = malloc(sizeof(float) * (size_t)(b->n_seqs * cols)), *cut = malloc(sizeof(float) * (size_t)(b->n_seqs * 16));
    xf_encode_options o_full;
    xf_encode_options_init(&o_full);
    o_full.normalize = 0;
    if (xf_engine_encode(e, b, &o, cut) == XF_OK && xf_engine_encode(e, b, &o_full, full) == XF_OK) {
        for (int32_t s = 0; s < b->n_seqs; s++) memmove(full + s * 16, full + s * cols, sizeof(float) * 16);
        compare(mode, "encode dimensions=16 (no normalize)", cut, full, b->n_seqs, 16);
    } else {
        printf("FAIL: encode with dimensions: %s\n", xf_last_error());
        failures++, checks++;
    }
    free(full);
    free(cut);
}

/* max and mean_sqrt_len pooling (computed on the host from hidden states) against
 * the same pooling of the golden hidden rows. */
static void check_host_pooling(xf_engine *e, const xf_batch *b, const xt_golden *g, xf_dtype mode, float *out,
                               int64_t H) {
    int64_t rows, cols;
    const float *hidden = xt_golden_get(g, "hidden", &rows, &cols);
    if (!hidden) return;
    float *ref = malloc(sizeof(float) * (size_t)(b->n_seqs * H));
    const xf_pooling modes[2] = {XF_POOL_MAX, XF_POOL_MEAN_SQRT_LEN};
    const char *names[2] = {"max pooling (from golden hidden)", "mean_sqrt_len (from golden hidden)"};
    for (int k = 0; k < 2; k++) {
        for (int32_t s = 0, t0 = 0; s < b->n_seqs; t0 += b->seq_lens[s], s++)
            for (int64_t i = 0; i < H; i++) {
                double acc = k == 0 ? -INFINITY : 0.0;
                for (int32_t t = t0; t < t0 + b->seq_lens[s]; t++) {
                    double v = hidden[(int64_t)t * H + i];
                    acc = k == 0 ? (v > acc ? v : acc) : acc + v;
                }
                ref[s * H + i] = (float)(k == 0 ? acc : acc / sqrt((double)b->seq_lens[s]));
            }
        if (xf_engine_embed(e, b, modes[k], 0, out) != XF_OK) {
            printf("FAIL: embed %s: %s\n", names[k], xf_last_error());
            failures++, checks++;
        } else {
            compare(mode, names[k], out, ref, b->n_seqs, H);
        }
    }
    free(ref);
}

int main(int argc, char **argv) {
    const char *case_dir = NULL;
    xf_backend backend = XF_BACKEND_CPU;
    xf_dtype mode = XF_DTYPE_F32;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--case") && i + 1 < argc) case_dir = argv[++i];
        else if (!strcmp(argv[i], "--backend") && i + 1 < argc && !xt_parse_backend(argv[i + 1], &backend)) i++;
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc && !xt_parse_dtype(argv[i + 1], &mode)) i++;
        else return fprintf(stderr, "usage: test_hub --case DIR [--backend B] [--dtype D]\n"), 2;
    }
    if (!case_dir) return fprintf(stderr, "test_hub: --case DIR is required\n"), 2;
    printf("hub %s  backend %s  dtype %s\n", case_dir, xt_backend_name(backend), xt_dtype_name(mode));
    xt_golden g;
    xf_model *m = NULL;
    xf_engine *e = NULL;
    float *out = NULL;
    int rc = 1;
    if (xt_golden_load(case_dir, &g) != 0) return 1;
    if (xf_model_open(case_dir, &m) != XF_OK) {
        printf("FAIL: open model: %s\n", xf_last_error());
        goto done;
    }
    xf_model_info info;
    xf_model_get_info(m, &info);
    xf_engine_options eo;
    xf_engine_options_init(&eo);
    eo.backend = backend;
    eo.dtype = mode;
    xf_status st = xf_engine_create(m, &eo, &e);
    if (st == XF_ERR_NO_DEVICE) {
        printf("skipped: %s\n", xf_last_error());
        rc = XT_SKIP;
        goto done;
    }
    if (st != XF_OK) {
        printf("FAIL: create engine: %s\n", xf_last_error());
        goto done;
    }
    xf_batch b = {.tokens = g.tokens, .seq_lens = g.seq_lens, .n_seqs = g.n_seqs};
    const int64_t T = g.n_tokens, B = g.n_seqs, H = info.hidden_size;
    out = malloc(sizeof(float) * (size_t)(T * (info.vocab_size > H ? info.vocab_size : H)));
    int64_t rows, cols;
    const float *ref;
    if ((ref = xt_golden_get(&g, "hidden", &rows, &cols))) {
        if (xf_engine_hidden(e, &b, out) != XF_OK) printf("FAIL: hidden: %s\n", xf_last_error()), failures++;
        else compare(mode, "hidden", out, ref, T, H);
    }
    if ((ref = xt_golden_get(&g, "logits", &rows, &cols))) {
        if (xf_engine_logits(e, &b, out) != XF_OK) printf("FAIL: logits: %s\n", xf_last_error()), failures++;
        else compare(mode, "logits", out, ref, T, info.vocab_size);
    }
    if ((ref = xt_golden_get(&g, "pooled_mean", &rows, &cols))) {
        if (xf_engine_embed(e, &b, XF_POOL_MEAN, 1, out) != XF_OK) printf("FAIL: embed: %s\n", xf_last_error()), failures++;
        else compare(mode, "pooled_mean", out, ref, B, H);
    }
    check_host_pooling(e, &b, &g, mode, out, H);
    check_classify(e, &b, &g, mode, out, &info);
    check_rerank(e, &b, &g, mode, out, &info);
    check_st(e, &b, &g, mode, out, &info);
    if (!info.has_lm_head) { /* headless: logits refused with a message naming lm_head */
        st = xf_engine_logits(e, &b, out);
        printf("  logits on a model without lm_head: %s\n", xf_last_error());
        EXPECT("logits refused", st == XF_ERR_UNSUPPORTED && strstr(xf_last_error(), "lm_head"), "logits were not refused (%s)",
               xf_status_name(st));
        int32_t id = 1;
        st = xf_engine_last_logits(e, &b, &id, 1, out);
        EXPECT("last_logits refused", st == XF_ERR_UNSUPPORTED, "last_logits was not refused (%s)", xf_status_name(st));
    }
    if (checks == 0) {
        printf("FAIL: nothing was compared\n");
        goto done;
    }
    printf("%s: %d checks, %d failed\n", failures ? "FAIL" : "PASS", checks, failures);
    rc = failures ? 1 : 0;
done:
    free(out);
    xf_engine_free(e);
    xf_model_free(m);
    xt_golden_free(&g);
    return rc;
}
