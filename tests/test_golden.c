/* test_golden.c — end to end against a golden case (Hugging Face, float64):
 *   test_golden --case DIR [--backend B] [--dtype D] [--merge]
 * Checks hidden, logits, cls_logits, pooled_last and pooled_mean (normalised)
 * where the case has them, and every layer_K residual the case stores, with the
 * golden README's tolerances. A case with adapter/ runs with that adapter
 * (applied, or merged with --merge). Exit 0 pass, 1 fail, 77 skipped. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine_debug.h"
#include "testutil.h"

typedef struct ctx {
    xf_engine *e;
    xf_batch b;
    xf_dtype mode;
    int failures;
} ctx;

/* Compares out with golden tensor `name` ([rows, cols]); 16-bit modes also need row cosine ≥ 0.999. */
static void check(ctx *c, const char *name, const float *out, const float *ref, int64_t rows, int64_t cols) {
    double tol = xt_tolerance(c->mode);
    double err = xt_rel_err(out, ref, rows * cols);
    c->failures += xt_report(name, err, tol);
    if (c->mode == XF_DTYPE_BF16 || c->mode == XF_DTYPE_F16) {
        double cs = xt_min_row_cos(out, ref, rows, cols);
        int bad = !(cs >= 0.999);
        printf("  %-40s min row cosine %.6f (>= 0.999) %s\n", name, cs, bad ? "FAIL" : "ok");
        c->failures += bad;
    }
}

int main(int argc, char **argv) {
    const char *case_dir = NULL;
    xf_backend backend = XF_BACKEND_CPU;
    xf_dtype mode = XF_DTYPE_F32;
    int merge = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--case") && i + 1 < argc) case_dir = argv[++i];
        else if (!strcmp(argv[i], "--backend") && i + 1 < argc && !xt_parse_backend(argv[i + 1], &backend)) i++;
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc && !xt_parse_dtype(argv[i + 1], &mode)) i++;
        else if (!strcmp(argv[i], "--merge")) merge = 1;
        else return fprintf(stderr, "usage: test_golden --case DIR [--backend B] [--dtype D] [--merge]\n"), 2;
    }
    if (!case_dir) return fprintf(stderr, "test_golden: --case DIR is required\n"), 2;
    printf("golden %s  backend %s  dtype %s%s\n", case_dir, xt_backend_name(backend), xt_dtype_name(mode),
           merge ? "  (adapter merged)" : "");

    xt_golden g;
    xf_model *m = NULL;
    xf_adapter *ad = NULL;
    ctx c = {.mode = mode};
    float *out = NULL;
    int rc = 1;
    if (xt_golden_load(case_dir, &g) != 0) return 1;
    if (xf_model_open(case_dir, &m) != XF_OK) {
        printf("FAIL: open model: %s\n", xf_last_error());
        goto done;
    }
    xf_model_info info;
    xf_model_get_info(m, &info);
    char ad_dir[4096];
    struct stat sb;
    snprintf(ad_dir, sizeof ad_dir, "%s/adapter", case_dir);
    int has_adapter = stat(ad_dir, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (merge && !has_adapter) {
        printf("FAIL: --merge given but the case has no adapter\n");
        goto done;
    }
    if (has_adapter && xf_adapter_open(m, ad_dir, &ad) != XF_OK) {
        printf("FAIL: open adapter: %s\n", xf_last_error());
        goto done;
    }
    xf_engine_options eo;
    xf_engine_options_init(&eo);
    eo.backend = backend;
    eo.dtype = mode;
    const xf_adapter *ads[1] = {ad};
    if (ad) eo.adapters = ads, eo.n_adapters = 1, eo.merge_adapters = merge;
    xf_status st = xf_engine_create(m, &eo, &c.e);
    if (st == XF_ERR_NO_DEVICE || st == XF_ERR_UNSUPPORTED) {
        printf("skipped: %s\n", xf_last_error());
        rc = XT_SKIP;
        goto done;
    }
    if (st != XF_OK) {
        printf("FAIL: create engine: %s\n", xf_last_error());
        goto done;
    }
    c.b = (xf_batch){.tokens = g.tokens, .seq_lens = g.seq_lens, .n_seqs = g.n_seqs};
    const int64_t T = g.n_tokens, B = g.n_seqs, H = info.hidden_size;
    int64_t big = T * (info.vocab_size > H ? info.vocab_size : H);
    out = malloc(sizeof(float) * (size_t)big);
    if (!out) goto done;
    int64_t rows, cols;
    int checked = 0;

    /* the residual entering each stored layer: where a divergence starts */
    for (int k = 0; k <= info.n_layers; k++) {
        char name[32];
        snprintf(name, sizeof name, "layer_%d", k);
        const float *ref = xt_golden_get(&g, name, &rows, &cols);
        if (!ref) continue;
        st = xf_engine_debug_residual(c.e, &c.b, k, out);
        if (st == XF_ERR_UNSUPPORTED) {
            printf("  %-40s skipped (backend has no residual hook)\n", name);
            continue;
        }
        if (st != XF_OK) {
            printf("FAIL: %s: %s\n", name, xf_last_error());
            c.failures++;
            continue;
        }
        check(&c, name, out, ref, rows, cols);
        checked++;
    }
    const float *ref = xt_golden_get(&g, "hidden", &rows, &cols);
    if (ref) {
        if ((st = xf_engine_hidden(c.e, &c.b, out)) != XF_OK) printf("FAIL: hidden: %s\n", xf_last_error()), c.failures++;
        else check(&c, "hidden", out, ref, T, H), checked++;
    }
    if ((ref = xt_golden_get(&g, "logits", &rows, &cols)) && info.has_lm_head) {
        if ((st = xf_engine_logits(c.e, &c.b, out)) != XF_OK) printf("FAIL: logits: %s\n", xf_last_error()), c.failures++;
        else check(&c, "logits", out, ref, T, info.vocab_size), checked++;
    }
    if ((ref = xt_golden_get(&g, "cls_logits", &rows, &cols))) {
        if ((st = xf_engine_classify(c.e, &c.b, out)) != XF_OK) printf("FAIL: classify: %s\n", xf_last_error()), c.failures++;
        else check(&c, "cls_logits", out, ref, B, info.num_labels), checked++;
    }
    const char *pools[2] = {"pooled_last", "pooled_mean"};
    for (int p = 0; p < 2; p++) {
        if (!(ref = xt_golden_get(&g, pools[p], &rows, &cols))) continue;
        st = xf_engine_embed(c.e, &c.b, p == 0 ? XF_POOL_LAST : XF_POOL_MEAN, 1, out);
        if (st != XF_OK) printf("FAIL: %s: %s\n", pools[p], xf_last_error()), c.failures++;
        else check(&c, pools[p], out, ref, B, H), checked++;
    }
    /* first-token pooling has no golden tensor: derive it from the golden hidden rows */
    if ((ref = xt_golden_get(&g, "hidden", &rows, &cols))) {
        float *first = malloc(sizeof(float) * (size_t)(B * H));
        if (!first) goto done;
        for (int64_t b = 0, s0 = 0; b < B; s0 += g.seq_lens[b], b++) {
            double ss = 0;
            for (int64_t i = 0; i < H; i++) ss += (double)ref[s0 * H + i] * ref[s0 * H + i];
            for (int64_t i = 0; i < H; i++) first[b * H + i] = (float)(ref[s0 * H + i] / sqrt(ss));
        }
        st = xf_engine_embed(c.e, &c.b, XF_POOL_FIRST, 1, out);
        if (st != XF_OK) printf("FAIL: pooled_first: %s\n", xf_last_error()), c.failures++;
        else check(&c, "pooled_first (from golden hidden)", out, first, B, H), checked++;
        free(first);
    }
    if (checked == 0) {
        printf("FAIL: nothing was compared\n");
        goto done;
    }
    printf("%s: %d comparisons, %d failed\n", c.failures ? "FAIL" : "PASS", checked, c.failures);
    rc = c.failures ? 1 : 0;
done:
    free(out);
    xf_engine_free(c.e);
    xf_adapter_free(ad);
    xf_model_free(m);
    xt_golden_free(&g);
    return rc;
}
