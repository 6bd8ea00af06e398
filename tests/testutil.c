/* testutil.c — shared test helpers: golden.safetensors loading, error metrics,
 * deterministic random data, backend/dtype names. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "safetensors.h"
#include "testutil.h"

int xt_golden_load(const char *case_dir, xt_golden *g) {
    char path[4096];
    memset(g, 0, sizeof *g);
    snprintf(path, sizeof path, "%s/golden.safetensors", case_dir);
    xf_st_file *f = NULL;
    if (xf_st_open(path, &f) != XF_OK) {
        fprintf(stderr, "cannot read %s: %s\n", path, xf_last_error());
        return -1;
    }
    const xf_st_entry *tok = xf_st_find(f, "tokens"), *lens = xf_st_find(f, "seq_lens");
    if (!tok || !lens || tok->dtype != XF_ST_I32 || lens->dtype != XF_ST_I32) {
        fprintf(stderr, "%s: no I32 tokens/seq_lens\n", path);
        xf_st_close(f);
        return -1;
    }
    g->st = f;
    g->tokens = (int32_t *)tok->data;
    g->seq_lens = (int32_t *)lens->data;
    g->n_tokens = (int32_t)tok->numel;
    g->n_seqs = (int32_t)lens->numel;
    return 0;
}

const float *xt_golden_get(const xt_golden *g, const char *name, int64_t *rows, int64_t *cols) {
    const xf_st_entry *e = xf_st_find(g->st, name);
    if (!e || e->dtype != XF_ST_F32) return NULL;
    if (rows) *rows = e->ndim > 0 ? e->shape[0] : 1;
    if (cols) *cols = e->ndim > 1 ? e->numel / e->shape[0] : 1;
    return e->data;
}

void xt_golden_free(xt_golden *g) {
    xf_st_close(g->st);
    memset(g, 0, sizeof *g);
}

double xt_rel_err(const float *out, const float *ref, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(out[i])) return INFINITY;
        double d = (double)out[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

double xt_min_row_cos(const float *out, const float *ref, int64_t rows, int64_t cols) {
    double worst = 1.0;
    for (int64_t r = 0; r < rows; r++) {
        double dot = 0, na = 0, nb = 0;
        for (int64_t c = 0; c < cols; c++) {
            double a = out[r * cols + c], b = ref[r * cols + c];
            dot += a * b, na += a * a, nb += b * b;
        }
        double cs = (na > 0 && nb > 0) ? dot / sqrt(na * nb) : (na == nb ? 1.0 : 0.0);
        if (!(cs >= worst)) worst = cs; /* NaN lands here too */
    }
    return worst;
}

double xt_tolerance(xf_dtype mode) {
    switch (mode) {
    case XF_DTYPE_F32: return 1e-5;
    case XF_DTYPE_TF32: return 5e-3;
    default: return 3e-2;
    }
}

void xt_fill_uniform(float *x, int64_t n, uint64_t seed, float scale) {
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = scale * (2.0f * (float)((s >> 40) & 0xffffff) / 16777216.0f - 1.0f);
    }
}

static const char *const backends[] = {"auto", "cpu", "cpu_ref", "cuda", "vulkan"};
static const char *const dtypes[] = {"f32", "tf32", "bf16", "f16"};

int xt_parse_backend(const char *s, xf_backend *out) {
    for (int i = 0; i < 5; i++)
        if (!strcmp(s, backends[i])) return *out = (xf_backend)i, 0;
    return -1;
}

int xt_parse_dtype(const char *s, xf_dtype *out) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, dtypes[i])) return *out = (xf_dtype)i, 0;
    return -1;
}

const char *xt_dtype_name(xf_dtype d) { return (unsigned)d < 4 ? dtypes[d] : "?"; }
const char *xt_backend_name(xf_backend b) { return (unsigned)b < 5 ? backends[b] : "?"; }

int xt_report(const char *name, double err, double tol) {
    int fail = !(err <= tol);
    printf("  %-40s worst rel err %.3e (tol %.0e) %s\n", name, err, tol, fail ? "FAIL" : "ok");
    return fail;
}
