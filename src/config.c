/* config.c — config.json → xf_config, in both layouts Hugging Face writes:
 * the older top-level rope_theta / rope_scaling / torch_dtype and the newer
 * rope_parameters / dtype. Anything the forward cannot honour exactly (another
 * rope scaling, an active sliding window, a non-SiLU MLP, an unknown
 * architecture) is refused here with a message. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "error.h"

void xf_config_free(xf_config *c) {
    if (!c) return;
    for (int i = 0; c->labels && i < c->num_labels; i++) free(c->labels[i]);
    free(c->labels);
    c->labels = NULL;
}

/* Reads an integer field; `required` fields must exist. Range [lo, hi]. */
static xf_status get_int(json_t *root, const char *path, const char *key, int required, int64_t lo,
                         int64_t hi, int64_t dflt, int32_t *out) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) {
        if (required) return xf_error(XF_ERR_FORMAT, "%s: missing \"%s\"", path, key);
        *out = (int32_t)dflt;
        return XF_OK;
    }
    if (!json_is_integer(v))
        return xf_error(XF_ERR_FORMAT, "%s: \"%s\" must be an integer", path, key);
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi)
        return xf_error(XF_ERR_FORMAT, "%s: \"%s\" = %lld is out of range [%lld, %lld]", path, key,
                        (long long)x, (long long)lo, (long long)hi);
    *out = (int32_t)x;
    return XF_OK;
}

static xf_status get_num(json_t *obj, const char *path, const char *key, double dflt, double *out) {
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v)) {
        *out = dflt;
        return XF_OK;
    }
    if (!json_is_number(v)) return xf_error(XF_ERR_FORMAT, "%s: \"%s\" must be a number", path, key);
    *out = json_number_value(v);
    if (!isfinite(*out)) return xf_error(XF_ERR_FORMAT, "%s: \"%s\" is not finite", path, key);
    return XF_OK;
}

static int get_bool(json_t *obj, const char *key, int dflt) {
    json_t *v = json_object_get(obj, key);
    return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* rope_type / rope_scaling: "default" (or none) and "llama3" are supported. */
static xf_status parse_rope(json_t *root, const char *path, xf_config *c) {
    xf_status st = XF_OK;
    json_t *params = json_object_get(root, "rope_parameters");
    json_t *scaling = json_object_get(root, "rope_scaling");
    XF_TRY(get_num(root, path, "rope_theta", 10000.0, &c->rope_theta));
    if (json_is_object(params) && json_object_get(params, "rope_theta"))
        XF_TRY(get_num(params, path, "rope_theta", 10000.0, &c->rope_theta));
    XF_CHECK(c->rope_theta > 0, XF_ERR_FORMAT, "%s: rope_theta must be positive", path);
    json_t *spec = json_is_object(scaling) ? scaling : (json_is_object(params) ? params : NULL);
    if (!spec) return XF_OK;
    json_t *jt = json_object_get(spec, "rope_type");
    if (!jt) jt = json_object_get(spec, "type");
    const char *type = json_is_string(jt) ? json_string_value(jt) : "default";
    if (!strcmp(type, "default")) return XF_OK;
    XF_CHECK(!strcmp(type, "llama3"), XF_ERR_UNSUPPORTED,
             "%s: rope scaling \"%s\" is not supported (only default and llama3)", path, type);
    c->rope_llama3 = 1;
    XF_TRY(get_num(spec, path, "factor", 8.0, &c->rope_factor));
    XF_TRY(get_num(spec, path, "low_freq_factor", 1.0, &c->rope_low_freq_factor));
    XF_TRY(get_num(spec, path, "high_freq_factor", 4.0, &c->rope_high_freq_factor));
    XF_TRY(get_int(spec, path, "original_max_position_embeddings", 0, 1, 1 << 24, 8192,
                   &c->rope_orig_max_pos));
    XF_CHECK(c->rope_factor > 0 && c->rope_high_freq_factor > c->rope_low_freq_factor &&
                 c->rope_low_freq_factor > 0,
             XF_ERR_FORMAT, "%s: llama3 rope scaling factors are inconsistent", path);
cleanup:
    return st;
}

/* Sliding-window attention is refused wherever it would be active. */
static xf_status check_sliding(json_t *root, const char *path, const xf_config *c) {
    json_t *types = json_object_get(root, "layer_types");
    size_t i;
    json_t *t;
    json_array_foreach(types, i, t) {
        if (json_is_string(t) && strcmp(json_string_value(t), "full_attention") != 0)
            return xf_error(XF_ERR_UNSUPPORTED, "%s: layer %zu uses \"%s\" (only full attention is supported)",
                            path, i, json_string_value(t));
    }
    json_t *sw = json_object_get(root, "sliding_window");
    int active = json_is_integer(sw) && json_integer_value(sw) < c->max_pos;
    if (c->arch == XF_ARCH_QWEN2 || c->arch == XF_ARCH_QWEN3)
        active = active && get_bool(root, "use_sliding_window", 0);
    if (active)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: an active sliding window (%lld) is not supported", path,
                        (long long)json_integer_value(sw));
    return XF_OK;
}

static xf_status parse_labels(json_t *root, const char *path, xf_config *c) {
    xf_status st = XF_OK;
    json_t *id2label = json_object_get(root, "id2label");
    int32_t n = 0;
    if (json_is_object(id2label)) n = (int32_t)json_object_size(id2label);
    if (n == 0) XF_TRY(get_int(root, path, "num_labels", 0, 1, 1 << 20, 2, &n));
    XF_CHECK(n > 0 && n <= (1 << 20), XF_ERR_FORMAT, "%s: bad number of labels", path);
    c->num_labels = n;
    XF_ALLOC(c->labels, n);
    for (int32_t i = 0; i < n; i++) {
        char key[16], fallback[32];
        snprintf(key, sizeof key, "%d", i);
        json_t *v = json_is_object(id2label) ? json_object_get(id2label, key) : NULL;
        XF_CHECK(!json_is_object(id2label) || json_is_string(v), XF_ERR_FORMAT,
                 "%s: id2label has no string for id %d", path, i);
        snprintf(fallback, sizeof fallback, "LABEL_%d", i);
        c->labels[i] = strdup(v ? json_string_value(v) : fallback);
        XF_CHECK(c->labels[i], XF_ERR_NO_MEMORY, "out of memory");
    }
cleanup:
    return st;
}

/* True when `s` ends with `suffix`. */
static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !strcmp(s + n - k, suffix);
}

/* "architectures": every entry must name a head xfwd computes — a causal LM, a
 * sequence classifier, or the bare decoder (LlamaModel, Qwen3Model, ...). Anything
 * else (*ForTokenClassification, *ForRewardModel, ...) is refused by name rather
 * than run as if its head were absent. c->architecture keeps the first entry. */
static xf_status parse_architectures(json_t *root, const char *path, xf_config *c) {
    json_t *archs = json_object_get(root, "architectures");
    json_t *a0 = json_array_get(archs, 0);
    snprintf(c->architecture, sizeof c->architecture, "%s", json_is_string(a0) ? json_string_value(a0) : "");
    if (!archs || json_is_null(archs)) return XF_OK;
    if (!json_is_array(archs)) return xf_error(XF_ERR_FORMAT, "%s: \"architectures\" must be a list", path);
    size_t i;
    json_t *a;
    json_array_foreach(archs, i, a) {
        if (!json_is_string(a)) return xf_error(XF_ERR_FORMAT, "%s: \"architectures\"[%zu] is not a string", path, i);
        const char *name = json_string_value(a);
        const char *head = strstr(name, "For");
        if (!head && ends_with(name, "Model")) continue;
        if (head && (!strcmp(head, "ForCausalLM") || !strcmp(head, "ForSequenceClassification"))) continue;
        return xf_error(XF_ERR_UNSUPPORTED,
                        "%s: architecture \"%s\": the %s head is not implemented (causal LM, sequence "
                        "classification and bare models are)",
                        path, name, head ? head + 3 : name);
    }
    return XF_OK;
}

/* pad_token_id: an integer, or absent / null (-1). Classifiers score the last
 * token that is not this one, as Hugging Face does. */
static xf_status parse_pad_token(json_t *root, const char *path, xf_config *c) {
    json_t *v = json_object_get(root, "pad_token_id");
    c->pad_token_id = -1;
    if (!v || json_is_null(v)) return XF_OK;
    if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > INT32_MAX)
        return xf_error(XF_ERR_FORMAT, "%s: \"pad_token_id\" must be a non-negative integer or null", path);
    c->pad_token_id = (int32_t)json_integer_value(v);
    return XF_OK;
}

xf_status xf_config_load(const char *path, xf_config *c) {
    xf_status st = XF_OK;
    json_error_t jerr;
    memset(c, 0, sizeof *c);
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        FILE *probe = fopen(path, "rb");
        if (!probe) return xf_error(XF_ERR_IO, "%s: cannot read the model's config.json", path);
        fclose(probe);
        return xf_error(XF_ERR_FORMAT, "%s: invalid JSON at line %d: %s", path, jerr.line, jerr.text);
    }
    XF_CHECK(json_is_object(root), XF_ERR_FORMAT, "%s: not a JSON object", path);

    json_t *mt = json_object_get(root, "model_type");
    XF_CHECK(json_is_string(mt), XF_ERR_FORMAT, "%s: missing \"model_type\"", path);
    const char *type = json_string_value(mt);
    if (!strcmp(type, "llama")) c->arch = XF_ARCH_LLAMA;
    else if (!strcmp(type, "qwen2")) c->arch = XF_ARCH_QWEN2;
    else if (!strcmp(type, "qwen3")) c->arch = XF_ARCH_QWEN3;
    else if (!strcmp(type, "mistral")) c->arch = XF_ARCH_MISTRAL;
    else XF_CHECK(0, XF_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not supported (llama, qwen2, qwen3, mistral)",
                  path, type);
    snprintf(c->model_type, sizeof c->model_type, "%s", type);

    XF_TRY(parse_architectures(root, path, c));
    int is_cls = strstr(c->architecture, "ForSequenceClassification") != NULL;

    const int64_t big = 1 << 20;
    XF_TRY(get_int(root, path, "hidden_size", 1, 1, big, 0, &c->hidden));
    XF_TRY(get_int(root, path, "intermediate_size", 1, 1, big, 0, &c->intermediate));
    XF_TRY(get_int(root, path, "num_hidden_layers", 1, 1, 4096, 0, &c->n_layers));
    XF_TRY(get_int(root, path, "num_attention_heads", 1, 1, 4096, 0, &c->n_heads));
    XF_TRY(get_int(root, path, "num_key_value_heads", 0, 1, 4096, c->n_heads, &c->n_kv_heads));
    XF_CHECK(c->n_heads % c->n_kv_heads == 0, XF_ERR_FORMAT,
             "%s: num_attention_heads (%d) is not a multiple of num_key_value_heads (%d)", path, c->n_heads,
             c->n_kv_heads);
    XF_CHECK((json_object_get(root, "head_dim") && !json_is_null(json_object_get(root, "head_dim"))) ||
                 c->hidden % c->n_heads == 0,
             XF_ERR_FORMAT, "%s: hidden_size is not a multiple of num_attention_heads and no head_dim given", path);
    XF_TRY(get_int(root, path, "head_dim", 0, 2, 4096, c->hidden / c->n_heads, &c->head_dim));
    XF_CHECK(c->head_dim % 2 == 0, XF_ERR_FORMAT, "%s: head_dim %d is odd", path, c->head_dim);
    XF_TRY(get_int(root, path, "vocab_size", 1, 1, 1 << 24, 0, &c->vocab));
    XF_TRY(get_int(root, path, "max_position_embeddings", 0, 1, 1 << 24, 4096, &c->max_pos));
    XF_TRY(get_num(root, path, "rms_norm_eps", 1e-6, &c->eps));
    XF_CHECK(c->eps >= 0, XF_ERR_FORMAT, "%s: rms_norm_eps is negative", path);
    XF_TRY(parse_rope(root, path, c));
    XF_TRY(check_sliding(root, path, c));

    json_t *act = json_object_get(root, "hidden_act");
    XF_CHECK(!act || (json_is_string(act) && !strcmp(json_string_value(act), "silu")), XF_ERR_UNSUPPORTED,
             "%s: hidden_act must be \"silu\"", path);
    XF_CHECK(!get_bool(root, "mlp_bias", 0), XF_ERR_UNSUPPORTED, "%s: mlp_bias is not supported", path);
    c->tie_embeddings = get_bool(root, "tie_word_embeddings", 0);
    c->qkv_bias = c->arch == XF_ARCH_QWEN2 || get_bool(root, "attention_bias", 0);
    c->qk_norm = c->arch == XF_ARCH_QWEN3;
    if (is_cls) XF_TRY(parse_labels(root, path, c));
    XF_TRY(parse_pad_token(root, path, c));
cleanup:
    json_decref(root);
    if (st != XF_OK) xf_config_free(c);
    return st;
}
