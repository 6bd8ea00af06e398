/* config.c — config.json → xf_config, in both layouts Hugging Face writes:
 * the older top-level rope_theta / rope_scaling / torch_dtype and the newer
 * rope_parameters / dtype, and the attention mask of every layer. Anything the
 * forward cannot honour exactly (another rope scaling, a kind of attention layer
 * it lacks, a non-SiLU MLP, an unknown architecture) is refused here with a message. */
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
    free(c->masks);
    c->masks = NULL;
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

/* Reads an optional boolean key: absent or null leaves *out as is. */
static xf_status get_opt_bool(json_t *root, const char *path, const char *key, int *out) {
    json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return XF_OK;
    if (!json_is_boolean(v)) return xf_error(XF_ERR_FORMAT, "%s: \"%s\" must be true or false", path, key);
    *out = json_is_true(v);
    return XF_OK;
}

/* The attention mask of every layer, as transformers 5.x builds it:
 *  - "is_causal": false (masking_utils) or "use_bidirectional_attention": true:
 *    full attention within each sequence, every layer;
 *  - a sliding window (query i sees key j iff i - window < j <= i):
 *    Mistral: "sliding_window" on every layer unless null (absent: 4096, MistralConfig's
 *    default; MistralModel ignores "layer_types");
 *    Qwen2/Qwen3: "sliding_window" only with "use_sliding_window": true, on the layers
 *    "layer_types" marks "sliding_attention", or without layer_types on the layers
 *    >= "max_window_layers" (default 28);
 *    Llama: none (LlamaModel has no sliding window).
 * A window of max_position_embeddings or more masks nothing and counts as none.
 * What cannot be honoured exactly is refused naming the key: a layer type other than
 * full/sliding attention, "layer_types" that the architecture would not apply, a sliding
 * layer without a window, and bidirectional attention with a window. */
static xf_status parse_masks(json_t *root, const char *path, xf_config *c) {
    xf_status st = XF_OK;
    int causal = 1, bidir = 0, use_sw = 0;
    XF_TRY(get_opt_bool(root, path, "is_causal", &causal));
    XF_TRY(get_opt_bool(root, path, "use_bidirectional_attention", &bidir));
    XF_TRY(get_opt_bool(root, path, "use_sliding_window", &use_sw));
    const int full = !causal || bidir;
    const int qwen = c->arch == XF_ARCH_QWEN2 || c->arch == XF_ARCH_QWEN3;

    json_t *sw = json_object_get(root, "sliding_window");
    int64_t window = 0;
    if (sw && !json_is_null(sw)) {
        XF_CHECK(json_is_integer(sw) && json_integer_value(sw) >= 1, XF_ERR_FORMAT,
                 "%s: \"sliding_window\" must be a positive integer or null", path);
        window = json_integer_value(sw);
    } else if (!sw && c->arch == XF_ARCH_MISTRAL) {
        window = 4096;
    }
    if (c->arch == XF_ARCH_LLAMA || (qwen && !use_sw)) window = 0;
    const int32_t eff = window < c->max_pos ? (int32_t)window : 0; /* else every key of a sequence is inside */
    int32_t max_window_layers = 28;
    if (qwen) XF_TRY(get_int(root, path, "max_window_layers", 0, 0, 1 << 20, 28, &max_window_layers));

    json_t *types = json_object_get(root, "layer_types");
    if (types && json_is_null(types)) types = NULL;
    XF_CHECK(!types || (json_is_array(types) && json_array_size(types) == (size_t)c->n_layers), XF_ERR_FORMAT,
             "%s: \"layer_types\" must be a list of %d strings (one per layer)", path, c->n_layers);
    XF_ALLOC(c->masks, c->n_layers);
    for (int32_t l = 0; l < c->n_layers; l++) {
        int sliding = window > 0 && (!qwen || l >= max_window_layers); /* as declared */
        if (types) {
            json_t *t = json_array_get(types, (size_t)l);
            const char *name = json_is_string(t) ? json_string_value(t) : "";
            int is_sw = !strcmp(name, "sliding_attention");
            XF_CHECK(is_sw || !strcmp(name, "full_attention"), XF_ERR_UNSUPPORTED,
                     "%s: \"layer_types\"[%d] = \"%s\" is not supported (full_attention, sliding_attention)", path,
                     l, name);
            if (qwen) {
                XF_CHECK(!is_sw || window > 0, XF_ERR_UNSUPPORTED,
                         "%s: \"layer_types\"[%d] is sliding_attention but no sliding window applies "
                         "(\"use_sliding_window\" / \"sliding_window\")", path, l);
                sliding = is_sw;
            } else {
                XF_CHECK(is_sw == sliding, XF_ERR_UNSUPPORTED,
                         "%s: \"layer_types\"[%d] = \"%s\", but %s applies %s to every layer "
                         "(layers of mixed kinds are not supported)", path, l, name, c->model_type,
                         window > 0 ? "\"sliding_window\"" : "full attention");
            }
        }
        XF_CHECK(!(full && sliding && eff), XF_ERR_UNSUPPORTED,
                 "%s: bidirectional attention (\"%s\") with a sliding window (\"sliding_window\" = %lld) is "
                 "not supported", path, bidir ? "use_bidirectional_attention" : "is_causal", (long long)window);
        c->masks[l] = (xf_attn_mask){full ? XF_MASK_FULL : XF_MASK_CAUSAL, sliding ? eff : 0};
    }
cleanup:
    return st;
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
    XF_TRY(parse_masks(root, path, c));

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
