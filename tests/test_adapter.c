/* test_adapter.c — LoRA adapter loading (src/adapter.c):
 *  1. the golden qwen3-tiny-lora-qv adapter: ranks, scales, targeted modules, and
 *     every A/B value against the raw safetensors bytes;
 *  2. xf_adapter_merge against a direct double-precision loop;
 *  3. PEFT config features built here: use_rslora, rank_pattern / alpha_pattern,
 *     regex target_modules, layers_to_transform, exclude_modules, "all-linear",
 *     key-name variants, BF16 factors, an all-zero-B adapter;
 *  4. bad adapters, each written to a temporary folder: each must fail with the
 *     right status and a message naming the file — never crash or leak.
 * Usage: test_adapter CASE_DIR (tests/data/golden/qwen3-tiny-lora-qv). */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkdtemp, truncate */
#endif
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "adapter.h"
#include "adapter_writer.h"
#include "model.h"
#include "xfwd.h"

static int failures;
#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* ---------------------------------------------------------------- a tensor set */

/* Tensors held in memory (owned copies), to edit and write back out. */
#define TSET_MAX 64
typedef struct tset {
    xt_st_tensor t[TSET_MAX];
    int n;
} tset;

static void tset_add(tset *s, const char *name, const char *dtype, int32_t ndim, const int64_t *shape,
                     const void *data, size_t nbytes) {
    if (s->n >= TSET_MAX) abort();
    xt_st_tensor *t = &s->t[s->n++];
    char *nm = malloc(strlen(name) + 1), *dt = malloc(strlen(dtype) + 1);
    void *buf = malloc(nbytes ? nbytes : 1);
    if (!nm || !dt || !buf) abort();
    strcpy(nm, name);
    strcpy(dt, dtype);
    memcpy(buf, data, nbytes);
    *t = (xt_st_tensor){.name = nm, .dtype = dt, .ndim = ndim, .data = buf, .nbytes = nbytes};
    for (int d = 0; d < ndim && d < 4; d++) t->shape[d] = shape[d];
}

static void tset_add_f32(tset *s, const char *name, int64_t rows, int64_t cols, uint64_t seed) {
    float *x = malloc((size_t)(rows * cols) * sizeof *x);
    if (!x) abort();
    for (int64_t i = 0; i < rows * cols; i++) x[i] = (float)sin((double)(seed * 7919 + (uint64_t)i) * 0.37) * 0.5f;
    int64_t shape[2] = {rows, cols};
    tset_add(s, name, "F32", 2, shape, x, (size_t)(rows * cols) * sizeof *x);
    free(x);
}

static void tset_drop(tset *s, int i) {
    free((void *)s->t[i].name);
    free((void *)s->t[i].dtype);
    free((void *)s->t[i].data);
    s->t[i] = s->t[--s->n];
}

static int tset_find(const tset *s, const char *name) {
    for (int i = 0; i < s->n; i++)
        if (!strcmp(s->t[i].name, name)) return i;
    return -1;
}

/* Removes every tensor whose name contains `part`. */
static void tset_remove(tset *s, const char *part) {
    for (int i = s->n - 1; i >= 0; i--)
        if (strstr(s->t[i].name, part)) tset_drop(s, i);
}

static void tset_rename(tset *s, const char *from, const char *to) {
    int i = tset_find(s, from);
    if (i < 0) abort();
    char *nm = malloc(strlen(to) + 1);
    if (!nm) abort();
    strcpy(nm, to);
    free((void *)s->t[i].name);
    s->t[i].name = nm;
}

static void tset_free(tset *s) {
    while (s->n) tset_drop(s, s->n - 1);
}

static void tset_copy(tset *dst, const tset *src) {
    dst->n = 0;
    for (int i = 0; i < src->n; i++)
        tset_add(dst, src->t[i].name, src->t[i].dtype, src->t[i].ndim, src->t[i].shape, src->t[i].data,
                 src->t[i].nbytes);
}

/* Reads a safetensors file with its own small parser (independent of src/safetensors.c). */
static int tset_read(tset *s, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)size);
    int ok = buf && fread(buf, 1, (size_t)size, f) == (size_t)size;
    fclose(f);
    uint64_t hlen = 0;
    for (int i = 7; ok && i >= 0; i--) hlen = (hlen << 8) | buf[i];
    json_t *h = ok ? json_loadb((const char *)buf + 8, (size_t)hlen, 0, NULL) : NULL;
    const char *name;
    json_t *v;
    s->n = 0;
    json_object_foreach(h, name, v) {
        if (!strcmp(name, "__metadata__")) continue;
        json_t *shape = json_object_get(v, "shape"), *offs = json_object_get(v, "data_offsets");
        int64_t sh[4] = {0};
        for (size_t d = 0; d < json_array_size(shape) && d < 4; d++)
            sh[d] = json_integer_value(json_array_get(shape, d));
        json_int_t b = json_integer_value(json_array_get(offs, 0));
        json_int_t e = json_integer_value(json_array_get(offs, 1));
        tset_add(s, name, json_string_value(json_object_get(v, "dtype")), (int32_t)json_array_size(shape), sh,
                 buf + 8 + hlen + b, (size_t)(e - b));
    }
    json_decref(h);
    free(buf);
    return ok && h ? 0 : -1;
}

/* ---------------------------------------------------------------- writing and opening */

static char tmp_root[1024];

/* Writes cfg + tensors to a fresh folder, optionally breaks it (drop a file,
 * truncate the safetensors), opens it, removes the folder. */
enum { BREAK_NONE = 0, BREAK_NO_CONFIG, BREAK_NO_TENSORS, BREAK_TRUNCATE };
static xf_status open_written(const xf_model *m, const char *cfg_text, const tset *s, int how, xf_adapter **out) {
    char dir[1100], path[1200];
    snprintf(dir, sizeof dir, "%s/adapterXXXXXX", tmp_root);
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    if (xt_write_peft_folder(dir, cfg_text, s->t, s->n) != 0) abort();
    if (how == BREAK_NO_CONFIG) snprintf(path, sizeof path, "%s/adapter_config.json", dir), unlink(path);
    if (how == BREAK_NO_TENSORS) snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir), unlink(path);
    if (how == BREAK_TRUNCATE) {
        snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
        if (truncate(path, 300) != 0) abort();
    }
    *out = NULL;
    xf_status st = xf_adapter_open(m, dir, out);
    xt_remove_peft_folder(dir);
    return st;
}

static char *dump(const json_t *cfg) {
    char *t = json_dumps(cfg, JSON_INDENT(2));
    if (!t) abort();
    return t;
}

/* Opens cfg + tensors and expects success. */
static xf_adapter *open_ok(const char *label, const xf_model *m, const json_t *cfg, const tset *s) {
    char *text = dump(cfg);
    xf_adapter *a = NULL;
    xf_status st = open_written(m, text, s, BREAK_NONE, &a);
    free(text);
    EXPECT(st == XF_OK && a, "%s: open failed: %s: %s", label, xf_status_name(st), xf_last_error());
    return a;
}

static int n_bad;
/* Expects the open to fail with `want` and a message that names `mention`. */
static void expect_bad_text(const char *label, const xf_model *m, const char *cfg_text, const tset *s, int how,
                            xf_status want, const char *mention) {
    xf_adapter *a = (xf_adapter *)1;
    xf_status st = open_written(m, cfg_text, s, how, &a);
    const char *msg = xf_last_error();
    n_bad++;
    printf("bad adapter %-28s %-20s %s\n", label, xf_status_name(st), msg);
    EXPECT(st == want, "%s: status %s, expected %s", label, xf_status_name(st), xf_status_name(want));
    EXPECT(a == NULL, "%s: *out not NULL after failure", label);
    EXPECT(msg[0] && !strchr(msg, '\n'), "%s: no one-line message", label);
    EXPECT(strstr(msg, mention) != NULL, "%s: message does not mention '%s'", label, mention);
    if (st == XF_OK) xf_adapter_free(a);
}

static void expect_bad(const char *label, const xf_model *m, const json_t *cfg, const tset *s, xf_status want,
                       const char *mention) {
    char *text = dump(cfg);
    expect_bad_text(label, m, text, s, BREAK_NONE, want, mention);
    free(text);
}

/* A copy of base with `key` set to the JSON value `value_json`. */
static json_t *with(const json_t *base, const char *key, const char *value_json) {
    json_t *c = json_deep_copy(base);
    json_t *v = json_loads(value_json, JSON_DECODE_ANY, NULL);
    if (!c || !v) abort();
    json_object_set_new(c, key, v);
    return c;
}

static const char *lora_name(char *buf, size_t n, const char *prefix, int l, xf_module mod, char ab) {
    snprintf(buf, n, "%slayers.%d.%s.%s.lora_%c.weight", prefix, l, mod <= XF_MOD_O ? "self_attn" : "mlp",
             xf_module_name(mod), ab);
    return buf;
}
#define BM "base_model.model.model."

/* ---------------------------------------------------------------- checks */

/* Which modules are targeted, as a bit mask per layer. */
static unsigned targeted_mask(const xf_adapter *a, int l) {
    unsigned mask = 0;
    for (int m = 0; m < XF_MOD_COUNT; m++)
        if (a->mods[l][m].A) mask |= 1u << m;
    return mask;
}

static void check_lora(const char *label, const xf_adapter *a, int l, xf_module mod, int r, float scale) {
    const xf_lora *lo = &a->mods[l][mod];
    EXPECT(lo->A && lo->B, "%s: layer %d %s not targeted", label, l, xf_module_name(mod));
    EXPECT(lo->r == r, "%s: layer %d %s r=%d, expected %d", label, l, xf_module_name(mod), lo->r, r);
    EXPECT(fabsf(lo->scale - scale) <= 1e-6f * fabsf(scale), "%s: layer %d %s scale %g, expected %g", label, l,
           xf_module_name(mod), lo->scale, scale);
}

#define QV ((1u << XF_MOD_Q) | (1u << XF_MOD_V))

static void test_golden(const xf_model *m, const char *adapter_dir, const tset *raw) {
    xf_adapter *a = NULL;
    xf_status st = xf_adapter_open(m, adapter_dir, &a);
    EXPECT(st == XF_OK && a, "golden adapter: %s: %s", xf_status_name(st), xf_last_error());
    if (!a) return;
    EXPECT(a->n_layers == 2, "n_layers %d", a->n_layers);
    EXPECT(xf_adapter_targets(a, XF_MOD_Q) && xf_adapter_targets(a, XF_MOD_V), "q/v not targeted");
    EXPECT(!xf_adapter_targets(a, XF_MOD_K) && !xf_adapter_targets(a, XF_MOD_O) &&
               !xf_adapter_targets(a, XF_MOD_GATE) && !xf_adapter_targets(a, XF_MOD_UP) &&
               !xf_adapter_targets(a, XF_MOD_DOWN),
           "a module other than q/v is targeted");
    EXPECT(xf_adapter_max_rank(a) == 4, "max rank %d", xf_adapter_max_rank(a));
    int64_t values = 0;
    for (int l = 0; l < a->n_layers; l++) {
        EXPECT(targeted_mask(a, l) == QV, "layer %d mask %#x", l, targeted_mask(a, l));
        for (int mi = 0; mi < XF_MOD_COUNT; mi++) {
            xf_module mod = (xf_module)mi;
            if (!(QV & (1u << mi))) continue;
            check_lora("golden", a, l, mod, 4, 2.0f);
            const xf_lora *lo = &a->mods[l][mod];
            int32_t out, in;
            xf_module_dims(&m->cfg, mod, &out, &in);
            EXPECT(lo->in == in && lo->out == out, "layer %d %s dims [%d, %d]", l, xf_module_name(mod), lo->out,
                   lo->in);
            char name[160];
            for (int b = 0; b < 2; b++) {
                int i = tset_find(raw, lora_name(name, sizeof name, BM, l, mod, b ? 'B' : 'A'));
                EXPECT(i >= 0 && !strcmp(raw->t[i].dtype, "F32"), "raw tensor %s missing", name);
                if (i < 0) continue;
                size_t nb = (size_t)lo->r * (size_t)(b ? out : in) * sizeof(float);
                EXPECT(raw->t[i].nbytes == nb && !memcmp(raw->t[i].data, b ? lo->B : lo->A, nb),
                       "%s differs from the file", name);
                values += (int64_t)(nb / 4);
            }
        }
    }
    printf("golden adapter: q/v of 2 layers, r=4, scale=2, %lld A/B values equal the file\n", (long long)values);

    /* merge against a direct double loop */
    double worst = 0;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int mi = 0; mi < XF_MOD_COUNT; mi++) {
            xf_module mod = (xf_module)mi;
            const xf_tensor *W = xf_module_weight(&m->layers[l], mod);
            int64_t rows = W->shape[0], cols = W->shape[1];
            float *got = malloc((size_t)(rows * cols) * sizeof *got);
            float *w = malloc((size_t)(rows * cols) * sizeof *w);
            if (!got || !w) abort();
            st = xf_adapter_merge(a, l, mod, W, got);
            EXPECT(st == XF_OK, "merge %d %s: %s", l, xf_module_name(mod), xf_last_error());
            xf_tensor_to_f32(W, 0, rows * cols, w);
            const xf_lora *lo = &a->mods[l][mod];
            if (!lo->A) {
                EXPECT(!memcmp(got, w, (size_t)(rows * cols) * sizeof *w), "merge changed untargeted %s",
                       xf_module_name(mod));
            } else {
                double num = 0, den = 0, delta = 0, wn = 0;
                for (int64_t o = 0; o < rows; o++)
                    for (int64_t i = 0; i < cols; i++) {
                        double acc = 0;
                        for (int k = 0; k < lo->r; k++) acc += (double)lo->B[o * lo->r + k] * lo->A[k * cols + i];
                        double dw = (double)lo->scale * acc, ref = w[o * cols + i] + dw;
                        double d = got[o * cols + i] - ref;
                        num += d * d, den += ref * ref;
                        delta += dw * dw, wn += (double)w[o * cols + i] * w[o * cols + i];
                    }
                double err = sqrt(num / den);
                if (err > worst) worst = err;
                EXPECT(err <= 1e-6, "merge layer %d %s: relative error %.3g", l, xf_module_name(mod), err);
                EXPECT(sqrt(delta / wn) > 1e-2, "merge layer %d %s: the LoRA delta is negligible", l,
                       xf_module_name(mod));
            }
            free(got);
            free(w);
        }
    printf("merge: worst relative error vs double loop %.3g (tolerance 1e-6)\n", worst);
    float dummy[4];
    EXPECT(xf_adapter_merge(a, 2, XF_MOD_Q, &m->layers[0].wq, dummy) == XF_ERR_INVALID_ARG,
           "merge layer 2 accepted");
    EXPECT(xf_adapter_merge(a, 0, XF_MOD_Q, &m->layers[0].wv, dummy) == XF_ERR_INVALID_ARG,
           "merge of a mis-shaped W accepted");
    EXPECT(xf_adapter_merge(NULL, 0, XF_MOD_Q, &m->layers[0].wq, dummy) == XF_ERR_INVALID_ARG,
           "merge NULL accepted");
    xf_adapter_free(a);
}

/* Opens cfg + tensors and expects layer 0 / layer 1 to target exactly mask0 / mask1. */
static void expect_masks(const char *label, const xf_model *m, const json_t *cfg, const tset *s, unsigned mask0,
                         unsigned mask1) {
    xf_adapter *a = open_ok(label, m, cfg, s);
    if (a)
        EXPECT(targeted_mask(a, 0) == mask0 && targeted_mask(a, 1) == mask1, "%s: masks %#x %#x, expected %#x %#x",
               label, targeted_mask(a, 0), targeted_mask(a, 1), mask0, mask1);
    xf_adapter_free(a);
}

static void test_features(const xf_model *m, const json_t *cfg, const tset *raw) {
    char n1[160], n2[160];
    /* use_rslora: scale = alpha / sqrt(r) = 8 / 2 */
    json_t *c = with(cfg, "use_rslora", "true");
    xf_adapter *a = open_ok("rslora", m, c, raw);
    if (a) check_lora("rslora", a, 1, XF_MOD_V, 4, 4.0f);
    xf_adapter_free(a);
    json_decref(c);

    /* rank_pattern / alpha_pattern, PEFT's (.*\.)?(KEY)$ rule, first key wins */
    c = json_deep_copy(cfg);
    json_object_set_new(c, "rank_pattern",
                        json_loads("{\"_proj\": 3, \"model.layers.1.self_attn.v_proj\": 2}", 0, NULL));
    json_object_set_new(c, "alpha_pattern",
                        json_loads("{\"layers.0.self_attn.q_proj\": 32, \"q_proj\": 16, "
                                   "\"la.ers\\\\.1\\\\..*v_proj\": 6}",
                                   0, NULL));
    tset s = {0};
    tset_copy(&s, raw);
    tset_remove(&s, "layers.1.self_attn.v_proj");
    tset_add_f32(&s, lora_name(n1, sizeof n1, BM, 1, XF_MOD_V, 'A'), 2, 64, 1);
    tset_add_f32(&s, lora_name(n2, sizeof n2, BM, 1, XF_MOD_V, 'B'), 64, 2, 2);
    a = open_ok("rank/alpha_pattern", m, c, &s);
    if (a) {
        check_lora("rank/alpha_pattern", a, 0, XF_MOD_Q, 4, 32.0f / 4);
        check_lora("rank/alpha_pattern", a, 1, XF_MOD_Q, 4, 16.0f / 4);
        check_lora("rank/alpha_pattern", a, 0, XF_MOD_V, 4, 8.0f / 4);
        check_lora("rank/alpha_pattern", a, 1, XF_MOD_V, 2, 6.0f / 2);
        EXPECT(xf_adapter_max_rank(a) == 4, "max rank");
    }
    xf_adapter_free(a);
    /* ... and with rslora on top */
    json_object_set_new(c, "use_rslora", json_true());
    a = open_ok("rank_pattern+rslora", m, c, &s);
    if (a) check_lora("rank_pattern+rslora", a, 1, XF_MOD_V, 2, (float)(6.0 / sqrt(2.0)));
    xf_adapter_free(a);
    json_decref(c);
    tset_free(&s);

    /* regex target_modules (re.fullmatch): only layer 1's q and v */
    c = with(cfg, "target_modules", "\"model\\\\.layers\\\\.1\\\\.self_attn\\\\.(q|v)_proj\"");
    tset_copy(&s, raw);
    tset_remove(&s, "layers.0.");
    expect_masks("regex target_modules", m, c, &s, 0, QV);
    json_decref(c);

    /* layers_to_transform with a list: same result */
    c = with(cfg, "layers_to_transform", "[1]");
    expect_masks("layers_to_transform", m, c, &s, 0, QV);
    json_decref(c);
    tset_free(&s);

    /* PEFT: a full name listed verbatim is targeted even outside layers_to_transform */
    c = with(cfg, "layers_to_transform", "1");
    json_object_set_new(c, "target_modules",
                        json_loads("[\"q_proj\", \"v_proj\", \"model.layers.0.self_attn.q_proj\"]", 0, NULL));
    tset_copy(&s, raw);
    tset_remove(&s, "layers.0.self_attn.v_proj");
    expect_masks("layers_to_transform + full name", m, c, &s, 1u << XF_MOD_Q, QV);
    json_decref(c);
    /* exclude_modules: layer 0's v_proj left out (same tensors) */
    c = with(cfg, "exclude_modules", "[\"model.layers.0.self_attn.v_proj\"]");
    expect_masks("exclude_modules", m, c, &s, 1u << XF_MOD_Q, QV);
    json_decref(c);
    tset_free(&s);

    /* dotted suffixes in a target list */
    c = with(cfg, "target_modules",
             "[\"self_attn.q_proj\", \"layers.1.self_attn.v_proj\", \"0.self_attn.v_proj\"]");
    expect_masks("dotted suffixes", m, c, raw, QV, QV);
    json_decref(c);

    /* target_modules null: PEFT's default for qwen3 is q_proj, v_proj */
    c = with(cfg, "target_modules", "null");
    expect_masks("default target_modules", m, c, raw, QV, QV);
    json_decref(c);

    /* key variants: ".lora_A.default.weight", a BF16 factor, no "model." prefix (bare-model adapter) */
    tset_copy(&s, raw);
    for (int i = 0; i < s.n; i++) {
        char nm[200];
        snprintf(nm, sizeof nm, "base_model.model.%s", s.t[i].name + strlen(BM));
        char *dot = strstr(nm, ".weight");
        if (!dot) abort();
        memmove(dot + strlen(".default"), dot, strlen(dot) + 1);
        memcpy(dot, ".default", strlen(".default"));
        tset_rename(&s, s.t[i].name, nm);
    }
    int ib = tset_find(&s, "base_model.model.layers.1.self_attn.q_proj.lora_B.default.weight");
    EXPECT(ib >= 0, "renamed tensor missing");
    uint16_t bf[128 * 4];
    const float *fsrc = s.t[ib].data;
    for (int i = 0; i < 128 * 4; i++) bf[i] = xf_f32_to_bf16(fsrc[i]);
    int64_t shp[2] = {128, 4};
    tset_drop(&s, ib);
    tset_add(&s, "base_model.model.layers.1.self_attn.q_proj.lora_B.default.weight", "BF16", 2, shp, bf,
             sizeof bf);
    c = with(cfg, "target_modules", "\"layers\\\\.\\\\d+\\\\.self_attn\\\\.(q|v)_proj\"");
    a = open_ok("key variants + bf16", m, c, &s);
    if (a) {
        EXPECT(targeted_mask(a, 0) == QV && targeted_mask(a, 1) == QV, "variants: masks");
        int same = 1;
        for (int i = 0; i < 128 * 4; i++) same &= a->mods[1][XF_MOD_Q].B[i] == xf_bf16_to_f32(bf[i]);
        EXPECT(same, "BF16 factor not converted exactly");
    }
    xf_adapter_free(a);
    json_decref(c);
    tset_free(&s);

    /* all-linear, through the shared writer: every projection, r=2, alpha=4 */
    char dir[1100], path[1200];
    snprintf(dir, sizeof dir, "%s/alllinXXXXXX", tmp_root);
    if (!mkdtemp(dir)) abort();
    EXPECT(xt_write_lora_adapter(dir, m, 0x7f, 2, 4.0, 0.5f, 0.5f, 7) == 0, "writer failed");
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    json_t *wc = json_load_file(path, 0, NULL);
    EXPECT(wc != NULL, "writer config unreadable");
    json_object_set_new(wc, "target_modules", json_string("all-linear"));
    json_dump_file(wc, path, JSON_INDENT(2));
    json_decref(wc);
    a = NULL;
    xf_status st = xf_adapter_open(m, dir, &a);
    EXPECT(st == XF_OK, "all-linear: %s", xf_last_error());
    if (a) {
        for (int l = 0; l < 2; l++)
            EXPECT(targeted_mask(a, l) == 0x7f, "all-linear layer %d mask %#x", l, targeted_mask(a, l));
        check_lora("all-linear", a, 1, XF_MOD_DOWN, 2, 2.0f);
    }
    xf_adapter_free(a);
    xt_remove_peft_folder(dir);

    /* all-zero B via the shared writer: merging changes nothing */
    snprintf(dir, sizeof dir, "%s/zerobXXXXXX", tmp_root);
    if (!mkdtemp(dir)) abort();
    unsigned mask =
        (1u << XF_MOD_Q) | (1u << XF_MOD_K) | (1u << XF_MOD_O) | (1u << XF_MOD_UP) | (1u << XF_MOD_DOWN);
    EXPECT(xt_write_lora_adapter(dir, m, mask, 3, 6.0, 0.5f, 0.0f, 9) == 0, "writer failed");
    a = NULL;
    st = xf_adapter_open(m, dir, &a);
    EXPECT(st == XF_OK, "zero-B: %s", xf_last_error());
    if (a) {
        EXPECT(targeted_mask(a, 0) == mask && targeted_mask(a, 1) == mask, "zero-B masks");
        check_lora("zero-B", a, 0, XF_MOD_UP, 3, 2.0f);
        const xf_tensor *W = &m->layers[1].w_down;
        size_t nb = (size_t)(W->shape[0] * W->shape[1]) * sizeof(float);
        float *got = malloc(nb), *w = malloc(nb);
        if (!got || !w) abort();
        EXPECT(xf_adapter_merge(a, 1, XF_MOD_DOWN, W, got) == XF_OK, "zero-B merge");
        xf_tensor_to_f32(W, 0, W->shape[0] * W->shape[1], w);
        EXPECT(!memcmp(got, w, nb), "zero-B merge changed the weight");
        free(got);
        free(w);
    }
    xf_adapter_free(a);
    xt_remove_peft_folder(dir);
    printf("features: rslora, rank/alpha_pattern, regex targets, layers_to_transform, exclude_modules, "
           "default targets, key variants + BF16, all-linear, zero-B: checked\n");
}

/* Hidden states of one 7-token sequence on the CPU reference, with adapter a (or none). */
static int forward_hidden(const xf_model *m, const xf_adapter *a, int merge, float *out) {
    xf_engine_options eo;
    xf_engine_options_init(&eo);
    eo.backend = XF_BACKEND_CPU_REF;
    const xf_adapter *ads[1] = {a};
    if (a) eo.adapters = ads, eo.n_adapters = 1, eo.merge_adapters = merge;
    xf_engine *e = NULL;
    static const int32_t tokens[7] = {3, 17, 250, 0, 99, 42, 7}, lens[1] = {7};
    xf_batch b = {.tokens = tokens, .seq_lens = lens, .n_seqs = 1};
    xf_status st = xf_engine_create(m, &eo, &e);
    if (st == XF_OK) st = xf_engine_hidden(e, &b, out);
    xf_engine_free(e);
    EXPECT(st == XF_OK, "forward: %s", xf_last_error());
    return st == XF_OK;
}

static double rel_err(const float *x, const float *ref, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)x[i] - ref[i];
        num += d * d, den += (double)ref[i] * ref[i];
    }
    return sqrt(num / den);
}

/* The shared writer's adapters through the engine: an all-zero B changes nothing; a
 * random adapter on every projection changes the output, merged or not alike. */
static void test_writer_forward(const xf_model *m) {
    int64_t n = 7 * (int64_t)m->cfg.hidden;
    float *base = malloc((size_t)n * sizeof *base), *y = malloc((size_t)n * sizeof *y),
          *ym = malloc((size_t)n * sizeof *ym);
    char dir[1100];
    if (!base || !y || !ym) abort();
    if (!forward_hidden(m, NULL, 0, base)) goto done;
    for (int zero = 1; zero >= 0; zero--) {
        snprintf(dir, sizeof dir, "%s/fwdXXXXXX", tmp_root);
        if (!mkdtemp(dir)) abort();
        EXPECT(xt_write_lora_adapter(dir, m, 0x7f, 3, 6.0, 0.3f, zero ? 0.0f : 0.3f, 11) == 0, "writer failed");
        xf_adapter *a = NULL;
        xf_status st = xf_adapter_open(m, dir, &a);
        xt_remove_peft_folder(dir);
        EXPECT(st == XF_OK, "writer adapter: %s", xf_last_error());
        if (!a) continue;
        if (forward_hidden(m, a, 0, y) && forward_hidden(m, a, 1, ym)) {
            double d = rel_err(y, base, n), dm = rel_err(ym, y, n);
            printf("%s adapter on all projections: change vs no adapter %.3g, merged vs unmerged %.3g\n",
                   zero ? "zero-B" : "random", d, dm);
            if (zero)
                EXPECT(d == 0.0, "zero-B adapter changed the hidden states by %.3g", d);
            else
                EXPECT(d > 1e-2, "random adapter changed the hidden states by only %.3g", d);
            EXPECT(dm <= 1e-5, "merged and unmerged differ by %.3g", dm);
        }
        xf_adapter_free(a);
    }
done:
    free(base);
    free(y);
    free(ym);
}

static void test_bad(const xf_model *m, const json_t *cfg, const tset *raw, const char *case_dir) {
    const char *CF = "adapter_config.json", *ST = "adapter_model.safetensors";
    char n1[160], n2[160];
    char *good = dump(cfg);
    tset s = {0};

    /* files */
    xf_adapter *a = (xf_adapter *)1;
    xf_status st = xf_adapter_open(m, "/nonexistent/xfwd-adapter", &a);
    n_bad++;
    printf("bad adapter %-28s %-20s %s\n", "missing folder", xf_status_name(st), xf_last_error());
    EXPECT(st == XF_ERR_IO && a == NULL && strstr(xf_last_error(), "/nonexistent/xfwd-adapter"), "missing folder");
    expect_bad_text("missing config", m, good, raw, BREAK_NO_CONFIG, XF_ERR_IO, CF);
    expect_bad_text("missing safetensors", m, good, raw, BREAK_NO_TENSORS, XF_ERR_IO, ST);
    expect_bad_text("truncated safetensors", m, good, raw, BREAK_TRUNCATE, XF_ERR_FORMAT, ST);
    expect_bad_text("broken JSON", m, "{\"peft_type\": \"LORA\", \"r\": 4,", raw, BREAK_NONE, XF_ERR_FORMAT, CF);
    expect_bad_text("config not an object", m, "[1, 2]", raw, BREAK_NONE, XF_ERR_FORMAT, CF);

    /* config values */
    json_t *c;
#define BAD_CFG(label, key, value, want, mention)                                                  \
    c = with(cfg, key, value);                                                                     \
    expect_bad(label, m, c, raw, want, mention);                                                   \
    json_decref(c)
    BAD_CFG("peft_type IA3", "peft_type", "\"IA3\"", XF_ERR_UNSUPPORTED, CF);
    BAD_CFG("use_dora", "use_dora", "true", XF_ERR_UNSUPPORTED, "DoRA");
    BAD_CFG("r = 0", "r", "0", XF_ERR_FORMAT, CF);
    BAD_CFG("r = -4", "r", "-4", XF_ERR_FORMAT, CF);
    BAD_CFG("r a string", "r", "\"4\"", XF_ERR_FORMAT, CF);
    BAD_CFG("lora_bias", "lora_bias", "true", XF_ERR_UNSUPPORTED, CF);
    BAD_CFG("modules_to_save", "modules_to_save", "[\"score\"]", XF_ERR_UNSUPPORTED, CF);
    BAD_CFG("bias all", "bias", "\"all\"", XF_ERR_UNSUPPORTED, CF);
    BAD_CFG("target c_attn", "target_modules", "[\"q_proj\", \"c_attn\"]", XF_ERR_FORMAT, "c_attn");
    BAD_CFG("target suffix not at a dot", "target_modules", "[\"q_proj\", \"_proj\"]", XF_ERR_FORMAT,
            "'_proj' matches no module");
    BAD_CFG("target lm_head", "target_modules", "[\"q_proj\", \"v_proj\", \"lm_head\"]", XF_ERR_UNSUPPORTED,
            "lm_head");
    BAD_CFG("target_modules a number", "target_modules", "3", XF_ERR_FORMAT, CF);
    BAD_CFG("target regex needs fullmatch", "target_modules", "\"q_proj\"", XF_ERR_FORMAT, CF);
    BAD_CFG("target regex prefix only", "target_modules",
            "\"model\\\\.layers\\\\.\\\\d+\\\\.self_attn\\\\.(q|v)\"",
            XF_ERR_FORMAT, "matches no module");
    BAD_CFG("target regex invalid", "target_modules", "\"(q_proj\"", XF_ERR_FORMAT, CF);
    BAD_CFG("layers_to_transform 7", "layers_to_transform", "[0, 7]", XF_ERR_FORMAT, "layer 7");
    BAD_CFG("rank_pattern 0", "rank_pattern", "{\"q_proj\": 0}", XF_ERR_FORMAT, CF);
    BAD_CFG("rank_pattern -> shape", "rank_pattern", "{\"q_proj\": 8}", XF_ERR_FORMAT, ST);
    BAD_CFG("r 8 vs tensors of r 4", "r", "8", XF_ERR_FORMAT, "expected [8, 64]");
    BAD_CFG("Llama adapter", "auto_mapping", "{\"base_model_class\": \"LlamaForCausalLM\"}", XF_ERR_FORMAT,
            "LlamaForCausalLM");
    BAD_CFG("llama parent_library", "auto_mapping",
            "{\"base_model_class\": null, \"parent_library\": \"transformers.models.llama.modeling_llama\"}",
            XF_ERR_FORMAT, "llama");
    BAD_CFG("targets k without tensors", "target_modules", "[\"q_proj\", \"k_proj\", \"v_proj\"]", XF_ERR_FORMAT,
            "k_proj");
    BAD_CFG("tensors v not targeted", "target_modules", "[\"q_proj\"]", XF_ERR_FORMAT, "does not target");
    BAD_CFG("aLoRA", "alora_invocation_tokens", "[1, 2]", XF_ERR_UNSUPPORTED, CF);
#undef BAD_CFG
    /* a sequence classifier variant of the same family is fine */
    c = with(cfg, "auto_mapping", "{\"base_model_class\": \"Qwen3ForSequenceClassification\"}");
    a = open_ok("Qwen3ForSequenceClassification adapter", m, c, raw);
    xf_adapter_free(a);
    json_decref(c);

    /* tensors */
#define BAD_T(label, want, mention)                                                                \
    expect_bad(label, m, cfg, &s, want, mention);                                                  \
    tset_free(&s)
    tset_copy(&s, raw); /* B of q and v swapped: [64, 4] where q needs [128, 4] */
    tset_rename(&s, lora_name(n1, sizeof n1, BM, 0, XF_MOD_Q, 'B'), "tmp");
    tset_rename(&s, lora_name(n2, sizeof n2, BM, 0, XF_MOD_V, 'B'), n1);
    tset_rename(&s, "tmp", n2);
    BAD_T("B shapes swapped", XF_ERR_FORMAT, "expected [128, 4]");
    tset_copy(&s, raw); /* A transposed */
    {
        int i = tset_find(&s, lora_name(n1, sizeof n1, BM, 1, XF_MOD_V, 'A'));
        s.t[i].shape[0] = 64, s.t[i].shape[1] = 4;
    }
    BAD_T("A transposed", XF_ERR_FORMAT, "expected [4, 64]");
    tset_copy(&s, raw); /* a 3-d factor */
    {
        int i = tset_find(&s, lora_name(n1, sizeof n1, BM, 1, XF_MOD_V, 'A'));
        s.t[i].ndim = 3, s.t[i].shape[0] = 1, s.t[i].shape[1] = 4, s.t[i].shape[2] = 64;
    }
    BAD_T("3-d factor", XF_ERR_FORMAT, ST);
    tset_copy(&s, raw); /* only A for layer 1 q */
    tset_remove(&s, lora_name(n1, sizeof n1, BM, 1, XF_MOD_Q, 'B'));
    BAD_T("A without B", XF_ERR_FORMAT, "no lora_B");
    /* one extra tensor the model or this loader cannot take */
    static const struct {
        const char *label, *name;
        int64_t rows, cols;
        xf_status want;
        const char *mention;
    } extra[] = {
        {"layer 5", BM "layers.5.self_attn.q_proj.lora_A.weight", 4, 64, XF_ERR_FORMAT, "layer 5"},
        {"c_attn tensor", BM "layers.0.self_attn.c_attn.lora_A.weight", 4, 64, XF_ERR_FORMAT, "c_attn"},
        {"lm_head tensor", "base_model.model.lm_head.lora_A.weight", 4, 64, XF_ERR_UNSUPPORTED, "lm_head"},
        {"DoRA magnitude tensor", BM "layers.0.self_attn.q_proj.lora_magnitude_vector", 1, 128, XF_ERR_UNSUPPORTED,
         "DoRA"},
        {"lora_B bias tensor", BM "layers.0.self_attn.q_proj.lora_B.bias", 1, 128, XF_ERR_UNSUPPORTED, "bias"},
        {"modules_to_save tensor", "base_model.model.score.modules_to_save.default.weight", 3, 64,
         XF_ERR_UNSUPPORTED, "score"},
        {"duplicate factor", BM "layers.0.self_attn.q_proj.lora_A.other.weight", 4, 64, XF_ERR_FORMAT,
         "same LoRA factor"},
    };
    for (size_t i = 0; i < sizeof extra / sizeof extra[0]; i++) {
        tset_copy(&s, raw);
        tset_add_f32(&s, extra[i].name, extra[i].rows, extra[i].cols, 3);
        BAD_T(extra[i].label, extra[i].want, extra[i].mention);
    }
    tset_copy(&s, raw); /* I32 data */
    {
        int i = tset_find(&s, lora_name(n1, sizeof n1, BM, 0, XF_MOD_V, 'A'));
        free((void *)s.t[i].dtype);
        s.t[i].dtype = malloc(4);
        strcpy((char *)s.t[i].dtype, "I32");
    }
    BAD_T("I32 factor", XF_ERR_UNSUPPORTED, "I32");
    tset_copy(&s, raw); /* NaN */
    {
        int i = tset_find(&s, lora_name(n1, sizeof n1, BM, 0, XF_MOD_V, 'B'));
        ((float *)s.t[i].data)[5] = NAN;
    }
    BAD_T("NaN in B", XF_ERR_FORMAT, "NaN");
    tset_copy(&s, raw); /* header lies about the size */
    {
        int i = tset_find(&s, lora_name(n1, sizeof n1, BM, 0, XF_MOD_V, 'B'));
        s.t[i].nbytes -= 4;
    }
    BAD_T("bytes do not fit shape", XF_ERR_FORMAT, ST);
    s.n = 0; /* no tensors at all */
    BAD_T("no tensors", XF_ERR_FORMAT, ST);
    tset_copy(&s, raw); /* two prefixes mixed */
    tset_rename(&s, lora_name(n1, sizeof n1, BM, 1, XF_MOD_V, 'A'),
                "base_model.model.layers.1.self_attn.v_proj.lora_A.weight");
    BAD_T("mixed prefixes", XF_ERR_FORMAT, "prefix");
#undef BAD_T
    /* the real golden adapter on the other golden models: another family, other shapes */
    static const struct {
        const char *model;
        xf_status want;
        const char *mention;
    } other[] = {{"llama-tiny", XF_ERR_FORMAT, "LlamaForCausalLM"},
                 {"qwen2-tiny-sharded", XF_ERR_FORMAT, "Qwen2ForCausalLM"},
                 {"qwen3-hd128-bf16", XF_ERR_FORMAT, "expected [4, 192]"}};
    for (size_t i = 0; i < sizeof other / sizeof other[0]; i++) {
        char mdir[2100], adir[2100];
        snprintf(mdir, sizeof mdir, "%s/../%s", case_dir, other[i].model);
        snprintf(adir, sizeof adir, "%s/adapter", case_dir);
        xf_model *om = NULL;
        if (xf_model_open(mdir, &om) != XF_OK) {
            EXPECT(0, "cannot open model %s: %s", mdir, xf_last_error());
            continue;
        }
        a = (xf_adapter *)1;
        st = xf_adapter_open(om, adir, &a);
        n_bad++;
        printf("bad adapter on %-25s %-20s %s\n", other[i].model, xf_status_name(st), xf_last_error());
        EXPECT(st == other[i].want && a == NULL && strstr(xf_last_error(), other[i].mention) &&
                   strstr(xf_last_error(), "adapter_"),
               "golden adapter on %s", other[i].model);
        if (st == XF_OK) xf_adapter_free(a);
        xf_model_free(om);
    }
    free(good);
    printf("bad adapters: %d cases\n", n_bad);
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CASE_DIR\n", argv[0]);
        return 2;
    }
    const char *case_dir = argv[1];
    const char *t = getenv("TMPDIR");
    snprintf(tmp_root, sizeof tmp_root, "%s", t && t[0] ? t : "/tmp");
    char adapter_dir[2048], path[2100];
    snprintf(adapter_dir, sizeof adapter_dir, "%s/adapter", case_dir);

    xf_model *m = NULL;
    xf_status st = xf_model_open(case_dir, &m);
    if (st != XF_OK) {
        fprintf(stderr, "FAIL: cannot open model %s: %s\n", case_dir, xf_last_error());
        return 1;
    }
    tset raw = {0};
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", adapter_dir);
    if (tset_read(&raw, path) != 0 || raw.n != 8) {
        fprintf(stderr, "FAIL: cannot read %s\n", path);
        return 1;
    }
    snprintf(path, sizeof path, "%s/adapter_config.json", adapter_dir);
    json_t *cfg = json_load_file(path, 0, NULL);
    if (!cfg) {
        fprintf(stderr, "FAIL: cannot read %s\n", path);
        return 1;
    }

    test_golden(m, adapter_dir, &raw);
    test_features(m, cfg, &raw);
    test_writer_forward(m);
    test_bad(m, cfg, &raw, case_dir);

    json_decref(cfg);
    tset_free(&raw);
    xf_model_free(m);
    EXPECT(n_bad >= 12, "only %d bad cases", n_bad);
    printf("%s (%d failure%s)\n", failures ? "FAIL" : "ok", failures, failures == 1 ? "" : "s");
    return failures ? 1 : 0;
}
