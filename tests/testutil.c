/* testutil.c — shared test helpers: golden.safetensors loading, error metrics,
 * deterministic random data, backend/dtype names, folders with another attention mask. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

const char *const xt_masks[XT_N_MASKS] = {"full", "window=16", "window=70"};

/* text with every `from` replaced by `to`, malloc'ed; *count: how many. */
static char *replace_all(const char *text, const char *from, const char *to, int *count) {
    size_t nf = strlen(from), nt = strlen(to), len = strlen(text);
    *count = 0;
    for (const char *p = strstr(text, from); p; p = strstr(p + nf, from)) ++*count;
    char *out = malloc(len + (size_t)*count * (nt > nf ? nt - nf : 0) + 1), *o = out;
    if (!out) return NULL;
    for (const char *p = text, *hit; ; p = hit + nf) {
        hit = strstr(p, from);
        size_t keep = hit ? (size_t)(hit - p) : strlen(p);
        memcpy(o, p, keep), o += keep;
        if (!hit) break;
        memcpy(o, to, nt), o += nt;
    }
    *o = 0;
    return out;
}

/* The config text with `mask` applied, malloc'ed, or NULL. */
static char *masked_config(const char *text, const char *mask) {
    int n1 = 0, n2 = 0, n3 = 0;
    if (!strcmp(mask, "full")) {
        const char *brace = strchr(text, '{');
        if (!brace) return NULL;
        char *out = malloc(strlen(text) + 32);
        if (!out) return NULL;
        sprintf(out, "%.*s{\n  \"is_causal\": false,%s", (int)(brace - text), text, brace + 1);
        return out;
    }
    int w = 0;
    if (sscanf(mask, "window=%d", &w) != 1 || w < 1) return NULL;
    char value[32];
    snprintf(value, sizeof value, "\"sliding_window\": %d", w);
    char *a = replace_all(text, "\"use_sliding_window\": false", "\"use_sliding_window\": true", &n1);
    char *b = a ? replace_all(a, "\"sliding_window\": null", value, &n2) : NULL;
    char *c = b ? replace_all(b, "\"full_attention\"", "\"sliding_attention\"", &n3) : NULL;
    free(a), free(b);
    if (c && (n1 != 1 || n2 != 1 || n3 < 1)) free(c), c = NULL;
    return c;
}

int xt_masked_folder(const char *src, const char *mask, char *out, size_t n) {
    char path[4096], target[PATH_MAX];
    const char *tmp = getenv("TMPDIR");
    snprintf(out, n, "%s/xfwd-mask-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    snprintf(path, sizeof path, "%s/config.json", src);
    FILE *f = fopen(path, "rb");
    char *text = NULL, *edited = NULL;
    long len = 0;
    if (f && !fseek(f, 0, SEEK_END) && (len = ftell(f)) > 0 && !fseek(f, 0, SEEK_SET) &&
        (text = calloc((size_t)len + 1, 1)) && fread(text, 1, (size_t)len, f) == (size_t)len)
        edited = masked_config(text, mask);
    if (f) fclose(f);
    free(text);
    int ok = edited && mkdtemp(out);
    if (ok) {
        snprintf(path, sizeof path, "%s/config.json", out);
        FILE *o = fopen(path, "wb");
        ok = o && fputs(edited, o) >= 0;
        if (o && fclose(o)) ok = 0;
        snprintf(path, sizeof path, "%s/model.safetensors", src);
        char link[4200];
        snprintf(link, sizeof link, "%s/model.safetensors", out);
        ok = ok && realpath(path, target) && !symlink(target, link);
        if (!ok) xt_folder_remove(out);
    }
    free(edited);
    if (!ok) fprintf(stderr, "cannot make a folder like %s with mask %s\n", src, mask);
    return ok ? 0 : -1;
}

void xt_folder_remove(const char *dir) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    remove(path);
    rmdir(dir);
}

float *xt_engine_hidden(const xf_model *m, xf_backend backend, xf_dtype dtype, const int32_t *tokens,
                        const int32_t *lens, int n_seqs, xf_status *st) {
    xf_engine_options o;
    xf_engine_options_init(&o);
    o.backend = backend;
    o.dtype = dtype;
    xf_engine *e = NULL;
    xf_model_info info;
    xf_batch b = {.tokens = tokens, .seq_lens = lens, .n_seqs = n_seqs};
    int64_t T = xf_batch_tokens(&b);
    float *out = NULL;
    if ((*st = xf_model_get_info(m, &info)) != XF_OK || (*st = xf_engine_create(m, &o, &e)) != XF_OK) return NULL;
    out = malloc(sizeof(float) * (size_t)(T > 0 ? T : 1) * (size_t)info.hidden_size);
    if (!out) *st = XF_ERR_NO_MEMORY;
    else if ((*st = xf_engine_hidden(e, &b, out)) != XF_OK) free(out), out = NULL;
    xf_engine_free(e);
    return out;
}

int xt_mask_case_open(const char *golden_dir, int k, xt_mask_case *c) {
    static const int32_t lens[4] = {150, 1, 77, 64};
    char src[4096];
    xf_status st;
    memset(c, 0, sizeof *c);
    c->mask = xt_masks[k];
    snprintf(src, sizeof src, "%s/qwen3-hd128-bf16", golden_dir);
    if (xt_masked_folder(src, c->mask, c->folder, sizeof c->folder)) return -1;
    xf_model_info info;
    if (xf_model_open(c->folder, &c->model) != XF_OK || xf_model_get_info(c->model, &info) != XF_OK) {
        printf("%s with mask %s: %s\n", src, c->mask, xf_last_error());
        xt_mask_case_close(c);
        return -1;
    }
    memcpy(c->seq_lens, lens, sizeof lens);
    c->n_seqs = 4;
    for (int i = 0; i < c->n_seqs; i++) c->n_tokens += lens[i];
    c->hidden = info.hidden_size;
    c->tokens = malloc(sizeof(int32_t) * (size_t)c->n_tokens);
    for (int64_t t = 0; c->tokens && t < c->n_tokens; t++) c->tokens[t] = (int32_t)((t * 7919 + 13) % info.vocab_size);
    c->ref = c->tokens ? xt_engine_hidden(c->model, XF_BACKEND_CPU_REF, XF_DTYPE_F32, c->tokens, c->seq_lens,
                                          c->n_seqs, &st)
                       : NULL;
    if (!c->ref) {
        printf("reference, mask %s: %s\n", c->mask, xf_last_error());
        xt_mask_case_close(c);
        return -1;
    }
    return 0;
}

void xt_mask_case_close(xt_mask_case *c) {
    free(c->ref);
    free(c->tokens);
    xf_model_free(c->model);
    if (c->folder[0]) xt_folder_remove(c->folder);
    memset(c, 0, sizeof *c);
}
