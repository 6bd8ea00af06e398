/* loader.c — xf_model_open: a Hugging Face checkpoint folder → xf_model.
 * config.json (config.c), then model.safetensors or the shards listed in
 * model.safetensors.index.json, memory-mapped (safetensors.c). Every tensor the
 * forward needs is looked up by its HF name and its shape checked against the
 * config; the RoPE table is computed once here in double precision. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "error.h"
#include "loader.h"
#include "safetensors.h"
#include "st_pipeline.h"

#define PATH_MAX_LEN 4096

void xf_model_free(xf_model *m) {
    if (!m) return;
    for (int i = 0; i < m->n_files; i++) xf_st_close(m->files[i]);
    free(m->files);
    for (int i = 0; i < m->n_owned; i++) free(m->owned[i]);
    free(m->owned);
    free(m->layers);
    free(m->dir);
    xf_st_free(m->st);
    xf_config_free(&m->cfg);
    free(m);
}

static int file_exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

xf_status xf_model_add_file(xf_model *m, const char *path, xf_st_file **opened) {
    xf_st_file *f = NULL;
    xf_status st = xf_st_open(path, &f);
    if (st != XF_OK) return st;
    xf_st_file **grown = realloc(m->files, sizeof(*grown) * (size_t)(m->n_files + 1));
    if (!grown) {
        xf_st_close(f);
        return xf_error(XF_ERR_NO_MEMORY, "out of memory");
    }
    m->files = grown;
    m->files[m->n_files++] = f;
    if (opened) *opened = f;
    return XF_OK;
}

/* Opens every shard named by model.safetensors.index.json (each once). */
static xf_status open_sharded(xf_model *m, const char *dir, const char *index_path) {
    xf_status st = XF_OK;
    json_error_t jerr;
    char **names = NULL;
    size_t n_names = 0;
    json_t *root = json_load_file(index_path, JSON_REJECT_DUPLICATES, &jerr);
    XF_CHECK(root, XF_ERR_FORMAT, "%s: invalid JSON at line %d: %s", index_path, jerr.line, jerr.text);
    json_t *map = json_object_get(root, "weight_map");
    XF_CHECK(json_is_object(map) && json_object_size(map) > 0, XF_ERR_FORMAT,
             "%s: missing or empty \"weight_map\"", index_path);
    XF_ALLOC(names, json_object_size(map));
    const char *key;
    json_t *v;
    json_object_foreach(map, key, v) {
        XF_CHECK(json_is_string(v), XF_ERR_FORMAT, "%s: weight_map entry for '%s' is not a file name",
                 index_path, key);
        const char *fn = json_string_value(v);
        XF_CHECK(fn[0] && !strchr(fn, '/') && strcmp(fn, "..") != 0, XF_ERR_FORMAT,
                 "%s: shard name '%s' must be a plain file name in the folder", index_path, fn);
        size_t j = 0;
        while (j < n_names && strcmp(names[j], fn) != 0) j++;
        if (j == n_names) names[n_names++] = (char *)fn;
    }
    for (size_t j = 0; j < n_names; j++) {
        char path[PATH_MAX_LEN];
        snprintf(path, sizeof path, "%s/%s", dir, names[j]);
        XF_CHECK(file_exists(path), XF_ERR_IO, "%s: shard '%s' named in the index is missing", index_path,
                 names[j]);
        XF_TRY(xf_model_add_file(m, path, NULL));
    }
    /* every mapped name must be in the shard the index says */
    json_object_foreach(map, key, v) {
        const char *fn = json_string_value(v);
        int found = 0;
        for (int i = 0; i < m->n_files && !found; i++) {
            const char *p = xf_st_path(m->files[i]);
            const char *base = strrchr(p, '/');
            if (!strcmp(base ? base + 1 : p, fn)) found = xf_st_find(m->files[i], key) != NULL;
        }
        XF_CHECK(found, XF_ERR_FORMAT, "%s: tensor '%s' is not in shard '%s'", index_path, key, fn);
    }
cleanup:
    free(names);
    json_decref(root);
    return st;
}

static const xf_st_entry *find_any(const xf_model *m, const char *name, const xf_st_file **where) {
    for (int i = 0; i < m->n_files; i++) {
        const xf_st_entry *e = xf_st_find(m->files[i], name);
        if (e) {
            if (where) *where = m->files[i];
            return e;
        }
    }
    return NULL;
}

xf_status xf_model_bind_in(const xf_model *m, const xf_st_file *in, const char *name, int64_t d0, int64_t d1,
                           int required, xf_tensor *t) {
    const xf_st_file *f = in;
    const xf_st_entry *e = in ? xf_st_find(in, name) : find_any(m, name, &f);
    memset(t, 0, sizeof *t);
    if (!e) {
        if (!required) return XF_OK;
        return xf_error(XF_ERR_FORMAT, "%s: missing tensor '%s'", in ? xf_st_path(in) : m->dir, name);
    }
    if (e->dtype != XF_ST_F32 && e->dtype != XF_ST_BF16 && e->dtype != XF_ST_F16)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (F32, BF16 or F16 expected)",
                        xf_st_path(f), name, xf_st_dtype_name(e->dtype));
    int ok = d1 ? (e->ndim == 2 && e->shape[0] == d0 && e->shape[1] == d1)
                : (e->ndim == 1 && e->shape[0] == d0);
    if (!ok) {
        char got[96] = "";
        for (int i = 0, n = 0; i < e->ndim && n < 80; i++)
            n += snprintf(got + n, sizeof got - (size_t)n, "%s%lld", i ? ", " : "", (long long)e->shape[i]);
        if (d1)
            return xf_error(XF_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected [%lld, %lld]", xf_st_path(f),
                            name, got, (long long)d0, (long long)d1);
        return xf_error(XF_ERR_FORMAT, "%s: tensor '%s' has shape [%s], expected [%lld]", xf_st_path(f), name,
                        got, (long long)d0);
    }
    t->data = e->data;
    t->type = (xf_wtype)e->dtype;
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1 ? d1 : 1;
    return XF_OK;
}

/* Binds tensor `name` of the checkpoint with the expected shape (d1 = 0: a vector of d0). */
static xf_status bind(const xf_model *m, const char *name, int64_t d0, int64_t d1, int required,
                      xf_tensor *t) {
    return xf_model_bind_in(m, NULL, name, d0, d1, required, t);
}

/* Every tensor of the checkpoint must be one the forward reads: the decoder's
 * (prefix + embed_tokens / norm / layers.N.*), lm_head.weight, and score.weight
 * for a classifier. Anything else belongs to a head xfwd does not compute (a
 * reward model's score.0.weight, a token classifier's classifier.weight, a
 * score.bias): refused by name instead of silently left out. */
static xf_status check_extra_tensors(const xf_model *m, const char *prefix, int n_files) {
    const size_t pl = strlen(prefix);
    for (int i = 0; i < n_files; i++)
        for (int k = 0; k < xf_st_count(m->files[i]); k++) {
            const char *name = xf_st_entry_at(m->files[i], k)->name;
            const char *rest = strncmp(name, prefix, pl) == 0 ? name + pl : NULL;
            if (rest && (!strcmp(rest, "embed_tokens.weight") || !strcmp(rest, "norm.weight") ||
                         !strncmp(rest, "layers.", 7)))
                continue;
            if (!strcmp(name, "lm_head.weight") || (m->cfg.num_labels > 0 && !strcmp(name, "score.weight")))
                continue;
            return xf_error(XF_ERR_UNSUPPORTED,
                            "%s: tensor '%s' belongs to a head xfwd does not implement (architecture \"%s\")",
                            xf_st_path(m->files[i]), name, m->cfg.architecture);
        }
    return XF_OK;
}

static xf_status bind_layer(xf_model *m, const char *prefix, int li) {
    xf_status st = XF_OK;
    const xf_config *c = &m->cfg;
    xf_layer *L = &m->layers[li];
    const int64_t H = c->hidden, I = c->intermediate, D = c->head_dim;
    const int64_t Q = (int64_t)c->n_heads * D, KV = (int64_t)c->n_kv_heads * D;
    char n[256];
#define NAME(s) (snprintf(n, sizeof n, "%slayers.%d.%s", prefix, li, s), n)
    XF_TRY(bind(m, NAME("input_layernorm.weight"), H, 0, 1, &L->attn_norm));
    XF_TRY(bind(m, NAME("self_attn.q_proj.weight"), Q, H, 1, &L->wq));
    XF_TRY(bind(m, NAME("self_attn.k_proj.weight"), KV, H, 1, &L->wk));
    XF_TRY(bind(m, NAME("self_attn.v_proj.weight"), KV, H, 1, &L->wv));
    XF_TRY(bind(m, NAME("self_attn.q_proj.bias"), Q, 0, c->qkv_bias, &L->bq));
    XF_TRY(bind(m, NAME("self_attn.k_proj.bias"), KV, 0, c->qkv_bias, &L->bk));
    XF_TRY(bind(m, NAME("self_attn.v_proj.bias"), KV, 0, c->qkv_bias, &L->bv));
    XF_CHECK(!L->bq.data == !L->bk.data && !L->bk.data == !L->bv.data, XF_ERR_FORMAT,
             "%s: layer %d has biases on only some of q/k/v", m->dir, li);
    XF_CHECK(!find_any(m, NAME("self_attn.o_proj.bias"), NULL), XF_ERR_UNSUPPORTED,
             "%s: o_proj biases (layer %d) are not supported", m->dir, li);
    XF_TRY(bind(m, NAME("self_attn.o_proj.weight"), H, Q, 1, &L->wo));
    XF_TRY(bind(m, NAME("self_attn.q_norm.weight"), D, 0, c->qk_norm, &L->q_norm));
    XF_TRY(bind(m, NAME("self_attn.k_norm.weight"), D, 0, c->qk_norm, &L->k_norm));
    XF_TRY(bind(m, NAME("post_attention_layernorm.weight"), H, 0, 1, &L->mlp_norm));
    XF_TRY(bind(m, NAME("mlp.gate_proj.weight"), I, H, 1, &L->w_gate));
    XF_TRY(bind(m, NAME("mlp.up_proj.weight"), I, H, 1, &L->w_up));
    XF_TRY(bind(m, NAME("mlp.down_proj.weight"), H, I, 1, &L->w_down));
#undef NAME
cleanup:
    return st;
}

xf_status xf_rope_table(const xf_config *c, int32_t rows, float **cos_out, float **sin_out) {
    xf_status st = XF_OK;
    const int half = c->head_dim / 2;
    double *inv = NULL;
    float *rc = NULL, *rs = NULL;
    *cos_out = *sin_out = NULL;
    XF_CHECK(rows >= 1 && rows <= c->max_pos, XF_ERR_INTERNAL, "rope table of %d rows for max_pos %d", rows,
             c->max_pos);
    XF_ALLOC(inv, half);
    for (int j = 0; j < half; j++) {
        inv[j] = pow(c->rope_theta, -(2.0 * j) / c->head_dim);
        if (c->rope_llama3) { /* llama3 frequency scaling, smooth between the two wavelengths */
            double factor = c->rope_factor, lo = c->rope_low_freq_factor, hi = c->rope_high_freq_factor;
            double old_len = c->rope_orig_max_pos;
            double wavelen = 2.0 * M_PI / inv[j];
            double low_wl = old_len / lo, high_wl = old_len / hi;
            if (wavelen > low_wl) {
                inv[j] = inv[j] / factor;
            } else if (wavelen >= high_wl) {
                double smooth = (old_len / wavelen - lo) / (hi - lo);
                inv[j] = (1.0 - smooth) * inv[j] / factor + smooth * inv[j];
            }
        }
    }
    size_t n = (size_t)rows * (size_t)half;
    XF_ALLOC(rc, n ? n : 1);
    XF_ALLOC(rs, n ? n : 1);
    for (int64_t p = 0; p < rows; p++)
        for (int j = 0; j < half; j++) {
            double a = (double)p * inv[j];
            rc[p * half + j] = (float)cos(a);
            rs[p * half + j] = (float)sin(a);
        }
    *cos_out = rc, *sin_out = rs;
    rc = rs = NULL;
cleanup:
    free(inv);
    free(rc);
    free(rs);
    return st;
}

void xf_model_count_params(xf_model *m) {
    int64_t total = 0;
    int seen[3] = {0, 0, 0};
    const xf_tensor *top[] = {&m->embed, &m->final_norm, &m->score,
                              m->lm_head.data != m->embed.data ? &m->lm_head : NULL};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (top[i] && top[i]->data) total += xf_tensor_numel(top[i]), seen[top[i]->type] = 1;
    for (int l = 0; l < m->cfg.n_layers; l++) {
        const xf_tensor *t = (const xf_tensor *)&m->layers[l];
        for (size_t k = 0; k < sizeof(xf_layer) / sizeof(xf_tensor); k++)
            if (t[k].data) total += xf_tensor_numel(&t[k]), seen[t[k].type] = 1;
    }
    m->n_params = total;
    int kinds = seen[0] + seen[1] + seen[2];
    snprintf(m->weight_dtype, sizeof m->weight_dtype, "%s",
             kinds > 1 ? "mixed" : seen[1] ? "BF16" : seen[2] ? "F16" : "F32");
}

xf_status xf_model_open(const char *dir, xf_model **out) {
    xf_status st = XF_OK;
    xf_model *m = NULL;
    char path[PATH_MAX_LEN];
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_model_open: out is NULL");
    *out = NULL;
    if (!dir) return xf_error(XF_ERR_INVALID_ARG, "xf_model_open: dir is NULL");
    struct stat sb;
    if (stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return xf_error(XF_ERR_IO, "%s: not a model folder: %s", dir,
                        stat(dir, &sb) != 0 ? strerror(errno) : "not a directory");
    XF_ALLOC(m, 1);
    m->dir = strdup(dir);
    XF_CHECK(m->dir, XF_ERR_NO_MEMORY, "out of memory");
    snprintf(path, sizeof path, "%s/config.json", dir);
    XF_TRY(xf_config_load(path, &m->cfg));
    const xf_config *c = &m->cfg;

    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    if (file_exists(path)) {
        XF_TRY(open_sharded(m, dir, path));
    } else {
        snprintf(path, sizeof path, "%s/model.safetensors", dir);
        XF_CHECK(file_exists(path), XF_ERR_IO, "%s: no model.safetensors or model.safetensors.index.json", dir);
        XF_TRY(xf_model_add_file(m, path, NULL));
    }

    /* Causal-LM checkpoints prefix the decoder with "model."; bare ones don't. */
    const char *prefix = find_any(m, "model.embed_tokens.weight", NULL) ? "model." : "";
    char n[256];
    snprintf(n, sizeof n, "%sembed_tokens.weight", prefix);
    XF_TRY(bind(m, n, c->vocab, c->hidden, 1, &m->embed));
    snprintf(n, sizeof n, "%snorm.weight", prefix);
    XF_TRY(bind(m, n, c->hidden, 0, 1, &m->final_norm));
    XF_ALLOC(m->layers, c->n_layers);
    for (int l = 0; l < c->n_layers; l++) XF_TRY(bind_layer(m, prefix, l));
    snprintf(n, sizeof n, "%slayers.%d.input_layernorm.weight", prefix, c->n_layers);
    XF_CHECK(!find_any(m, n, NULL), XF_ERR_FORMAT, "%s: the checkpoint has more layers than num_hidden_layers=%d",
             dir, c->n_layers);

    if (c->num_labels > 0) XF_TRY(bind(m, "score.weight", c->num_labels, c->hidden, 1, &m->score));
    XF_TRY(bind(m, "lm_head.weight", c->vocab, c->hidden, 0, &m->lm_head));
    /* No lm_head.weight: tied checkpoints use the embedding; untied ones are headless
     * (embedding models saved without their head, whatever "architectures" says) —
     * hidden states, embeddings and classification work, logits are refused. */
    if (!m->lm_head.data && c->num_labels == 0 && c->tie_embeddings) m->lm_head = m->embed;
    XF_TRY(check_extra_tensors(m, prefix, m->n_files));
    XF_TRY(xf_st_load(m));
    xf_model_count_params(m);
    *out = m;
    m = NULL;
cleanup:
    xf_model_free(m);
    return st;
}

xf_status xf_model_get_info(const xf_model *m, xf_model_info *info) {
    if (!m || !info) return xf_error(XF_ERR_INVALID_ARG, "xf_model_get_info: NULL argument");
    const xf_config *c = &m->cfg;
    memset(info, 0, sizeof *info);
    info->arch = c->arch;
    info->model_type = c->model_type;
    info->architecture = c->architecture;
    info->hidden_size = c->hidden;
    info->intermediate_size = c->intermediate;
    info->n_layers = c->n_layers;
    info->n_heads = c->n_heads;
    info->n_kv_heads = c->n_kv_heads;
    info->head_dim = c->head_dim;
    info->vocab_size = c->vocab;
    info->max_position = c->max_pos;
    info->rms_norm_eps = c->eps;
    info->rope_theta = c->rope_theta;
    info->tied_embeddings = m->lm_head.data != NULL && m->lm_head.data == m->embed.data;
    info->has_lm_head = m->lm_head.data != NULL;
    info->num_labels = c->num_labels;
    info->labels = (const char *const *)c->labels;
    info->weight_dtype = m->weight_dtype;
    info->n_params = m->n_params;
    /* attention as the folder declares it: full when any layer is, the widest window */
    info->causal = 1;
    for (int32_t l = 0; l < c->n_layers; l++) {
        xf_attn_mask mk = xf_config_mask(c, l);
        if (mk.kind == XF_MASK_FULL) info->causal = 0;
        if (mk.window > info->sliding_window) info->sliding_window = mk.window;
    }
    info->pad_token_id = c->pad_token_id;
    const xf_st_pipeline *p = xf_st_of(m);
    info->embed_dim = p->embed_dim ? p->embed_dim : c->hidden;
    info->default_pooling = p->pooling;
    info->default_normalize = p->normalize;
    info->include_prompt = p->include_prompt;
    info->n_dense = p->n_dense;
    info->max_seq_length = p->max_seq_length > 0 && p->max_seq_length < c->max_pos ? p->max_seq_length : c->max_pos;
    info->default_prompt_name = p->default_prompt;
    return XF_OK;
}
