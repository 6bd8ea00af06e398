/* st_pipeline.c — reading a sentence-transformers folder into xf_st_pipeline.
 * The semantics are sentence-transformers 5.x: modules.json lists the modules in
 * order; Transformer reads sentence_bert_config.json; Pooling reads its folder's
 * config.json (one pooling_mode_* true); Dense reads config.json (in/out features,
 * bias, activation_function) and model.safetensors (linear.weight, linear.bias);
 * Normalize reads nothing (its empty folder may be absent: git drops it). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"
#include "loader.h"
#include "st_pipeline.h"

#define ST_PATH_LEN 4096

static const xf_st_pipeline st_defaults = {.pooling = XF_POOL_LAST, .include_prompt = 1};

const xf_st_pipeline *xf_st_of(const xf_model *m) { return m && m->st ? m->st : &st_defaults; }

const char *xf_pooling_st_name(int32_t pooling) {
    switch (pooling) {
    case XF_POOL_LAST: return "lasttoken";
    case XF_POOL_MEAN: return "mean";
    case XF_POOL_FIRST: return "cls";
    case XF_POOL_MAX: return "max";
    case XF_POOL_MEAN_SQRT_LEN: return "mean_sqrt_len_tokens";
    default: return "?";
    }
}

void xf_st_free(xf_st_pipeline *p) {
    if (!p) return;
    for (int32_t i = 0; i < p->n_prompts; i++) {
        free(p->prompt_names[i]);
        free(p->prompt_texts[i]);
    }
    free(p->prompt_names);
    free(p->prompt_texts);
    free(p->default_prompt);
    free(p->dense);
    free(p);
}

static int is_file(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
}

/* Loads JSON file `name` of the model's folder `sub` ("" for the folder itself) into
 * *out (an object or a list); path receives its path. *out = NULL when the file is
 * absent and !required. */
static xf_status load_json(const xf_model *m, const char *sub, const char *name, int required, char *path,
                           json_t **out) {
    json_error_t jerr;
    *out = NULL;
    snprintf(path, ST_PATH_LEN, "%s%s%s/%s", m->dir, sub[0] ? "/" : "", sub, name);
    if (!is_file(path)) return required ? xf_error(XF_ERR_IO, "%s: missing", path) : XF_OK;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) return xf_error(XF_ERR_FORMAT, "%s: invalid JSON at line %d: %s", path, jerr.line, jerr.text);
    if (!json_is_object(root) && !json_is_array(root)) {
        json_decref(root);
        return xf_error(XF_ERR_FORMAT, "%s: not a JSON object", path);
    }
    *out = root;
    return XF_OK;
}

/* A boolean field; absent → dflt; anything else is a format error. */
static xf_status json_flag(json_t *o, const char *path, const char *key, int dflt, int32_t *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return *out = dflt, XF_OK;
    if (!json_is_boolean(v)) return xf_error(XF_ERR_FORMAT, "%s: \"%s\" must be true or false", path, key);
    *out = json_is_true(v);
    return XF_OK;
}

/* sentence_bert_config.json: max_seq_length (null: none), do_lower_case. */
static xf_status load_transformer(xf_model *m, xf_st_pipeline *p) {
    xf_status st = XF_OK;
    char path[ST_PATH_LEN];
    json_t *root = NULL;
    XF_TRY(load_json(m, "", "sentence_bert_config.json", 0, path, &root));
    if (!root) goto cleanup;
    json_t *len = json_object_get(root, "max_seq_length");
    XF_CHECK(!len || json_is_null(len) || (json_is_integer(len) && json_integer_value(len) > 0 &&
                                           json_integer_value(len) <= (1 << 24)),
             XF_ERR_FORMAT, "%s: \"max_seq_length\" must be a positive integer", path);
    if (json_is_integer(len)) p->max_seq_length = (int32_t)json_integer_value(len);
    XF_TRY(json_flag(root, path, "do_lower_case", 0, &p->do_lower_case));
cleanup:
    json_decref(root);
    return st;
}

/* 1_Pooling/config.json: exactly one supported pooling_mode_* set. */
static xf_status load_pooling(xf_model *m, const char *sub, xf_st_pipeline *p) {
    static const struct { const char *key; int32_t mode; } modes[] = {
        {"pooling_mode_cls_token", XF_POOL_FIRST},
        {"pooling_mode_mean_tokens", XF_POOL_MEAN},
        {"pooling_mode_max_tokens", XF_POOL_MAX},
        {"pooling_mode_mean_sqrt_len_tokens", XF_POOL_MEAN_SQRT_LEN},
        {"pooling_mode_lasttoken", XF_POOL_LAST},
        {"pooling_mode_weightedmean_tokens", -1},
    };
    xf_status st = XF_OK;
    char path[ST_PATH_LEN];
    json_t *root = NULL;
    XF_TRY(load_json(m, sub, "config.json", 1, path, &root));
    XF_CHECK(json_is_object(root), XF_ERR_FORMAT, "%s: not a JSON object", path);
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        if (strncmp(key, "pooling_mode", 12) != 0) continue;
        int known = 0;
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) known |= !strcmp(key, modes[i].key);
        XF_CHECK(known || !json_is_true(v), XF_ERR_UNSUPPORTED, "%s: pooling mode \"%s\" is not supported", path,
                 key);
    }
    int32_t found = -2;
    const char *found_key = NULL;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        int32_t on = 0;
        XF_TRY(json_flag(root, path, modes[i].key, 0, &on));
        if (!on) continue;
        XF_CHECK(modes[i].mode >= 0, XF_ERR_UNSUPPORTED,
                 "%s: weightedmean pooling is not supported (mean, max, cls, lasttoken, mean_sqrt_len are)", path);
        XF_CHECK(found == -2, XF_ERR_UNSUPPORTED,
                 "%s: pooling modes \"%s\" and \"%s\" together (concatenated) are not supported", path, found_key,
                 modes[i].key);
        found = modes[i].mode, found_key = modes[i].key;
    }
    XF_CHECK(found != -2, XF_ERR_FORMAT, "%s: no pooling_mode_* is true", path);
    p->pooling = found;
    XF_TRY(json_flag(root, path, "include_prompt", 1, &p->include_prompt));
    json_t *dim = json_object_get(root, "word_embedding_dimension");
    XF_CHECK(!dim || json_is_null(dim) || (json_is_integer(dim) && json_integer_value(dim) == m->cfg.hidden),
             XF_ERR_FORMAT, "%s: word_embedding_dimension does not match hidden_size %d", path, m->cfg.hidden);
cleanup:
    json_decref(root);
    return st;
}

/* The activation a Dense module names (its torch class path). */
static xf_status dense_activation(const char *path, json_t *root, xf_act *act) {
    json_t *a = json_object_get(root, "activation_function");
    const char *name = json_is_string(a) ? json_string_value(a) : NULL;
    if (!a || json_is_null(a)) return *act = XF_ACT_TANH, XF_OK; /* Dense's own default */
    if (!name) return xf_error(XF_ERR_FORMAT, "%s: \"activation_function\" must be a string", path);
    const char *dot = strrchr(name, '.');
    const char *cls = dot ? dot + 1 : name;
    if (!strcmp(cls, "Tanh")) return *act = XF_ACT_TANH, XF_OK;
    if (!strcmp(cls, "Identity")) return *act = XF_ACT_IDENTITY, XF_OK;
    return xf_error(XF_ERR_UNSUPPORTED, "%s: Dense activation \"%s\" is not supported (Tanh, Identity)", path, name);
}

/* A Dense module: config.json + model.safetensors (linear.weight [out, in], linear.bias [out]). */
static xf_status load_dense(xf_model *m, const char *sub, int32_t in_dim, xf_st_pipeline *p) {
    xf_status st = XF_OK;
    char path[ST_PATH_LEN], wpath[ST_PATH_LEN];
    json_t *root = NULL;
    xf_dense *grown = realloc(p->dense, sizeof(*grown) * (size_t)(p->n_dense + 1));
    if (!grown) return xf_error(XF_ERR_NO_MEMORY, "out of memory");
    p->dense = grown;
    xf_dense *d = memset(&p->dense[p->n_dense], 0, sizeof *d);
    snprintf(d->path, sizeof d->path, "%s", sub);
    XF_TRY(load_json(m, sub, "config.json", 1, path, &root));
    json_t *jin = json_object_get(root, "in_features"), *jout = json_object_get(root, "out_features");
    XF_CHECK(json_is_integer(jin) && json_is_integer(jout) && json_integer_value(jout) > 0 &&
                 json_integer_value(jout) <= (1 << 20),
             XF_ERR_FORMAT, "%s: in_features / out_features must be positive integers", path);
    XF_CHECK(json_integer_value(jin) == in_dim, XF_ERR_FORMAT,
             "%s: in_features = %lld, but the previous module outputs %d", path, (long long)json_integer_value(jin),
             in_dim);
    const int64_t out_dim = json_integer_value(jout);
    int32_t has_bias = 1;
    XF_TRY(json_flag(root, path, "bias", 1, &has_bias));
    XF_TRY(dense_activation(path, root, &d->act));
    snprintf(wpath, sizeof wpath, "%s/%s/model.safetensors", m->dir, sub);
    if (!is_file(wpath)) {
        snprintf(path, sizeof path, "%s/%s/pytorch_model.bin", m->dir, sub);
        XF_CHECK(!is_file(path), XF_ERR_UNSUPPORTED, "%s: pickled weights are not read (model.safetensors is)",
                 path);
        XF_CHECK(0, XF_ERR_IO, "%s: missing (the Dense module's weights)", wpath);
    }
    struct xf_st_file *f = NULL;
    XF_TRY(xf_model_add_file(m, wpath, &f));
    XF_TRY(xf_model_bind_in(m, f, "linear.weight", out_dim, in_dim, 1, &d->w));
    XF_TRY(xf_model_bind_in(m, f, "linear.bias", out_dim, 0, has_bias, &d->b));
    XF_CHECK(has_bias || !d->b.data, XF_ERR_FORMAT, "%s: linear.bias present but config.json says bias false",
             wpath);
    p->n_dense++;
cleanup:
    json_decref(root);
    return st;
}

/* config_sentence_transformers.json: prompts {name: text}, default_prompt_name. */
static xf_status load_prompts(xf_model *m, xf_st_pipeline *p) {
    xf_status st = XF_OK;
    char path[ST_PATH_LEN];
    json_t *root = NULL;
    XF_TRY(load_json(m, "", "config_sentence_transformers.json", 0, path, &root));
    if (!root) goto cleanup;
    json_t *prompts = json_object_get(root, "prompts");
    XF_CHECK(!prompts || json_is_null(prompts) || json_is_object(prompts), XF_ERR_FORMAT,
             "%s: \"prompts\" must be an object of name: text", path);
    size_t n = json_is_object(prompts) ? json_object_size(prompts) : 0;
    XF_ALLOC(p->prompt_names, n);
    XF_ALLOC(p->prompt_texts, n);
    const char *key;
    json_t *v;
    json_object_foreach(prompts, key, v) {
        XF_CHECK(json_is_string(v), XF_ERR_FORMAT, "%s: prompt \"%s\" is not a string", path, key);
        p->prompt_names[p->n_prompts] = strdup(key);
        p->prompt_texts[p->n_prompts] = strdup(json_string_value(v));
        p->n_prompts++;
        XF_CHECK(p->prompt_names[p->n_prompts - 1] && p->prompt_texts[p->n_prompts - 1], XF_ERR_NO_MEMORY,
                 "out of memory");
    }
    json_t *dflt = json_object_get(root, "default_prompt_name");
    XF_CHECK(!dflt || json_is_null(dflt) || json_is_string(dflt), XF_ERR_FORMAT,
             "%s: \"default_prompt_name\" must be a string or null", path);
    if (json_is_string(dflt)) {
        const char *name = json_string_value(dflt);
        int known = 0;
        for (int32_t i = 0; i < p->n_prompts; i++) known |= !strcmp(p->prompt_names[i], name);
        XF_CHECK(known, XF_ERR_FORMAT, "%s: default_prompt_name \"%s\" is not one of the prompts", path, name);
        p->default_prompt = strdup(name);
        XF_CHECK(p->default_prompt, XF_ERR_NO_MEMORY, "out of memory");
    }
cleanup:
    json_decref(root);
    return st;
}

/* The module's class name if `type` is a sentence-transformers module, else NULL. */
static const char *st_class(const char *type) {
    if (strncmp(type, "sentence_transformers.", 22) != 0) return NULL;
    const char *dot = strrchr(type, '.');
    return dot + 1;
}

/* A module's folder: a plain relative path inside the model folder. */
static int safe_subpath(const char *sub) {
    return sub[0] != '/' && !strstr(sub, "..") && strlen(sub) < 64;
}

static xf_status load_modules(xf_model *m, json_t *mods, const char *path, xf_st_pipeline *p) {
    xf_status st = XF_OK;
    XF_CHECK(json_is_array(mods) && json_array_size(mods) > 0, XF_ERR_FORMAT, "%s: expected a list of modules",
             path);
    int seen_pooling = 0;
    size_t i;
    json_t *mod;
    json_array_foreach(mods, i, mod) {
        json_t *jt = json_object_get(mod, "type"), *jp = json_object_get(mod, "path");
        XF_CHECK(json_is_string(jt) && (!jp || json_is_string(jp)), XF_ERR_FORMAT,
                 "%s: module %zu has no \"type\" / \"path\" strings", path, i);
        const char *type = json_string_value(jt), *sub = jp ? json_string_value(jp) : "";
        const char *cls = st_class(type);
        XF_CHECK(safe_subpath(sub), XF_ERR_FORMAT, "%s: module path \"%s\" is not a folder inside the model", path,
                 sub);
        XF_CHECK(cls, XF_ERR_UNSUPPORTED, "%s: module \"%s\" is not supported", path, type);
        if (i == 0) {
            XF_CHECK(!strcmp(cls, "Transformer") && sub[0] == '\0', XF_ERR_UNSUPPORTED,
                     "%s: the first module must be the Transformer in the folder itself (got \"%s\" at \"%s\")", path,
                     type, sub);
            XF_TRY(load_transformer(m, p));
        } else if (!strcmp(cls, "Pooling")) {
            XF_CHECK(!seen_pooling && p->n_dense == 0 && !p->normalize, XF_ERR_UNSUPPORTED,
                     "%s: Pooling must come once, right after the Transformer", path);
            XF_TRY(load_pooling(m, sub, p));
            seen_pooling = 1;
        } else if (!strcmp(cls, "Dense")) {
            XF_CHECK(seen_pooling && !p->normalize, XF_ERR_UNSUPPORTED,
                     "%s: Dense module \"%s\" must come after Pooling and before Normalize", path, sub);
            XF_TRY(load_dense(m, sub, p->embed_dim, p));
            p->embed_dim = (int32_t)p->dense[p->n_dense - 1].w.shape[0];
        } else if (!strcmp(cls, "Normalize")) {
            XF_CHECK(seen_pooling && !p->normalize, XF_ERR_UNSUPPORTED, "%s: Normalize must come once, after Pooling",
                     path);
            p->normalize = 1;
        } else {
            XF_CHECK(0, XF_ERR_UNSUPPORTED, "%s: module \"%s\" is not supported (Transformer, Pooling, Dense, Normalize are)",
                     path, type);
        }
    }
    XF_CHECK(seen_pooling, XF_ERR_UNSUPPORTED, "%s: no Pooling module", path);
cleanup:
    return st;
}

xf_status xf_st_load(xf_model *m) {
    xf_status st = XF_OK;
    char path[ST_PATH_LEN];
    json_t *mods = NULL;
    xf_st_pipeline *p = NULL;
    XF_ALLOC(p, 1);
    *p = st_defaults;
    p->embed_dim = m->cfg.hidden;
    m->st = p;
    XF_TRY(load_json(m, "", "modules.json", 0, path, &mods));
    if (!mods) goto cleanup;
    p->from_modules = 1;
    XF_TRY(load_modules(m, mods, path, p));
    XF_TRY(load_prompts(m, p));
cleanup:
    json_decref(mods);
    return st;
}

xf_status xf_model_prompt(const xf_model *m, const char *name, const char **text) {
    if (!m || !name || !text) return xf_error(XF_ERR_INVALID_ARG, "xf_model_prompt: NULL argument");
    *text = NULL;
    const xf_st_pipeline *p = xf_st_of(m);
    for (int32_t i = 0; i < p->n_prompts; i++)
        if (!strcmp(p->prompt_names[i], name)) return *text = p->prompt_texts[i], XF_OK;
    return xf_error(XF_ERR_INVALID_ARG, "%s: no prompt named \"%s\" (config_sentence_transformers.json has %d)", m->dir,
                    name, p->n_prompts);
}
