/* adapter.c — loads a PEFT LoRA folder (adapter_config.json + adapter_model.safetensors),
 * checks it against the model and converts every A/B pair to fp32 (struct xf_adapter,
 * model.h). Also the merge helper for backends that fold the adapter into the weights.
 *
 * PEFT semantics followed (peft 0.21, LoraModel / check_target_module_exists):
 *  - module names are the base model's: "model.layers.3.self_attn.q_proj" for a
 *    *ForCausalLM / *ForSequenceClassification, "layers.3.self_attn.q_proj" for an
 *    adapter trained on the bare model; the prefix is read off the tensor keys;
 *  - target_modules as a list: a name is targeted when it equals an entry or ends
 *    with "." + entry; as a string: re.fullmatch of the whole name ("all-linear":
 *    every projection); exclude_modules likewise; layers_to_transform filters layers;
 *  - rank_pattern / alpha_pattern: the first key (file order) for which
 *    re.match(r"(.*\.)?(KEY)$", name) succeeds gives that module's r / lora_alpha;
 *  - scale = lora_alpha / r, or lora_alpha / sqrt(r) with use_rslora;
 *  - tensors "base_model.model.<name>.lora_A.weight" [r, in] and ".lora_B.weight"
 *    [out, r]; ".lora_A.<adapter>.weight" (a raw state_dict) is accepted too.
 * Anything that would change the numbers and is not implemented (DoRA, LoRA bias,
 * modules_to_save, embeddings, aLoRA, ...) is refused, never ignored. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cblas.h>
#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "adapter.h"
#include "error.h"
#include "model.h"
#include "safetensors.h"

#define NAME_MAX_LEN 160

/* One rank_pattern / alpha_pattern entry. */
typedef struct lora_pattern {
    const char *key;    /* points into the JSON document */
    pcre2_code *re;     /* (.*\.)?(KEY)$, anchored at the start */
    double value;
} lora_pattern;

/* What adapter_config.json says about which modules are targeted and how. */
typedef struct lora_config {
    char *path;                 /* .../adapter_config.json, for messages */
    json_t *root;
    int32_t r;
    double alpha;
    int rslora;
    int all_linear;             /* target_modules == "all-linear" */
    const char *default_targets[2]; /* PEFT's default for llama/qwen/mistral: q_proj, v_proj */
    json_t *targets;            /* list form of target_modules (borrowed), or NULL */
    pcre2_code *target_re;      /* string form: full match */
    json_t *excludes;           /* list form of exclude_modules (borrowed), or NULL */
    pcre2_code *exclude_re;
    uint8_t *layer_on;          /* [n_layers] from layers_to_transform, or NULL: every layer */
    lora_pattern *rank_pat, *alpha_pat;
    int n_rank_pat, n_alpha_pat;
} lora_config;

static void config_free(lora_config *c) {
    for (int i = 0; i < c->n_rank_pat; i++) pcre2_code_free(c->rank_pat[i].re);
    for (int i = 0; i < c->n_alpha_pat; i++) pcre2_code_free(c->alpha_pat[i].re);
    free(c->rank_pat);
    free(c->alpha_pat);
    pcre2_code_free(c->target_re);
    pcre2_code_free(c->exclude_re);
    free(c->layer_on);
    json_decref(c->root);
    free(c->path);
}

/* ---------------------------------------------------------------- matching */

/* Compiles `pat`; as_pattern_key wraps it PEFT's rank_pattern way: (.*\.)?(pat)$. */
static xf_status compile_re(const char *file, const char *what, const char *pat, int as_pattern_key,
                            pcre2_code **out) {
    char *wrapped = NULL;
    const char *src = pat;
    if (as_pattern_key) {
        size_t n = strlen(pat) + 16;
        wrapped = malloc(n);
        if (!wrapped) return xf_error(XF_ERR_NO_MEMORY, "out of host memory");
        snprintf(wrapped, n, "(.*\\.)?(%s)$", pat);
        src = wrapped;
    }
    int code;
    PCRE2_SIZE off;
    *out = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED, as_pattern_key ? PCRE2_ANCHORED : 0,
                         &code, &off, NULL);
    free(wrapped);
    if (!*out) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(code, msg, sizeof msg);
        return xf_error(XF_ERR_FORMAT, "%s: %s '%s' is not a valid regular expression: %s", file, what,
                        pat, (const char *)msg);
    }
    return XF_OK;
}

/* 1 if re matches s (anchored at the start; full_match also anchors the end). */
static int re_hits(const pcre2_code *re, const char *s, int full_match) {
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    if (!md) return 0;
    uint32_t opts = PCRE2_ANCHORED | (full_match ? PCRE2_ENDANCHORED : 0);
    int rc = pcre2_match(re, (PCRE2_SPTR)s, PCRE2_ZERO_TERMINATED, 0, opts, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

/* PEFT's list rule: name == key, or name ends with "." + key. */
static int suffix_hits(const char *name, const char *key) {
    size_t n = strlen(name), k = strlen(key);
    if (k == 0 || k > n) return 0;
    if (strcmp(name + n - k, key) != 0) return 0;
    return n == k || name[n - k - 1] == '.';
}

static int list_hits(const json_t *list, const char *name) {
    size_t i;
    json_t *v;
    json_array_foreach(list, i, v) if (suffix_hits(name, json_string_value(v))) return 1;
    return 0;
}

/* Full PEFT name of module `mod` of layer `l`, e.g. "model.layers.3.mlp.up_proj". */
static void module_full_name(char *buf, size_t n, const char *prefix, int l, xf_module mod) {
    snprintf(buf, n, "%slayers.%d.%s.%s", prefix, l, mod <= XF_MOD_O ? "self_attn" : "mlp",
             xf_module_name(mod));
}

static int module_targeted(const lora_config *c, const char *name, int layer) {
    if (c->exclude_re && re_hits(c->exclude_re, name, 1)) return 0;
    if (c->excludes && list_hits(c->excludes, name)) return 0;
    if (c->target_re) return re_hits(c->target_re, name, 1);
    int hit;
    if (c->all_linear) {
        hit = 1;
    } else if (c->targets) {
        /* PEFT: a full name listed verbatim is targeted whatever layers_to_transform says */
        size_t i;
        json_t *v;
        json_array_foreach(c->targets, i, v) if (!strcmp(json_string_value(v), name)) return 1;
        hit = list_hits(c->targets, name);
    } else {
        hit = suffix_hits(name, c->default_targets[0]) || suffix_hits(name, c->default_targets[1]);
    }
    if (hit && c->layer_on) hit = c->layer_on[layer];
    return hit;
}

/* First pattern whose key matches `name`, or NULL. */
static const lora_pattern *pattern_for(const lora_pattern *p, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (re_hits(p[i].re, name, 0)) return &p[i];
    return NULL;
}

/* ---------------------------------------------------------------- adapter_config.json */

/* JSON "truthiness" in Python's sense: not null/false/0/""/[]/{}. */
static int json_truthy(const json_t *v) {
    if (!v || json_is_null(v) || json_is_false(v)) return 0;
    if (json_is_integer(v)) return json_integer_value(v) != 0;
    if (json_is_real(v)) return json_real_value(v) != 0.0;
    if (json_is_string(v)) return json_string_length(v) > 0;
    if (json_is_array(v)) return json_array_size(v) > 0;
    if (json_is_object(v)) return json_object_size(v) > 0;
    return 1;
}

/* An integer, or a real with an integral value (some tools write 8.0). */
static int json_as_int(const json_t *v, int64_t *out) {
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return 1;
    }
    if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) && fabs(json_real_value(v)) < 1e15) {
        *out = (int64_t)json_real_value(v);
        return 1;
    }
    return 0;
}

static xf_status parse_patterns(lora_config *c, const char *field, int ranks, lora_pattern **out, int *n_out) {
    xf_status st = XF_OK;
    json_t *obj = json_object_get(c->root, field);
    if (!obj || json_is_null(obj)) return XF_OK;
    XF_CHECK(json_is_object(obj), XF_ERR_FORMAT, "%s: %s must be an object", c->path, field);
    if (json_object_size(obj) == 0) return XF_OK;
    XF_ALLOC(*out, json_object_size(obj));
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        lora_pattern *p = &(*out)[*n_out];
        p->key = key;
        if (ranks) {
            int64_t r;
            XF_CHECK(json_as_int(v, &r) && r > 0 && r <= (1 << 24), XF_ERR_FORMAT,
                     "%s: rank_pattern['%s'] must be a positive integer", c->path, key);
            p->value = (double)r;
        } else {
            XF_CHECK(json_is_number(v) && isfinite(json_number_value(v)), XF_ERR_FORMAT,
                     "%s: alpha_pattern['%s'] must be a number", c->path, key);
            p->value = json_number_value(v);
        }
        XF_TRY(compile_re(c->path, field, key, 1, &p->re));
        (*n_out)++;
    }
cleanup:
    return st;
}

/* Fields that change the numbers in ways this loader does not implement.
 * (fan_in_fan_out is absent on purpose: PEFT resets it to false for nn.Linear
 * targets, which all of ours are, so the weights are used as stored.) */
static const struct {
    const char *field;
    const char *what;
} unsupported_fields[] = {
    {"use_dora", "DoRA (use_dora)"},
    {"lora_bias", "LoRA bias (lora_bias)"},
    {"modules_to_save", "modules_to_save (fully trained extra modules)"},
    {"layer_replication", "layer_replication"},
    {"alora_invocation_tokens", "activated LoRA (alora_invocation_tokens)"},
    {"arrow_config", "Arrow routing (arrow_config)"},
    {"target_parameters", "target_parameters (LoRA on raw parameters)"},
    {"trainable_token_indices", "trainable_token_indices (trained embedding rows)"},
    {"use_qalora", "QA-LoRA (use_qalora)"},
    {"use_bdlora", "use_bdlora"},
    {"kasa_config", "kasa_config"},
    {"monteclora_config", "monteclora_config"},
    {"velora_config", "velora_config"},
};

/* PEFT compares target_modules.lower() with "all-linear". */
static int is_all_linear(const char *s) {
    const char *w = "all-linear";
    while (*s && *w && tolower((unsigned char)*s) == *w) s++, w++;
    return !*s && !*w;
}

static xf_status read_config(const char *dir, const xf_config *mc, lora_config *c) {
    xf_status st = XF_OK;
    size_t n = strlen(dir) + 32;
    XF_ALLOC(c->path, n);
    snprintf(c->path, n, "%s/adapter_config.json", dir);
    struct stat sb;
    XF_CHECK(stat(dir, &sb) == 0, XF_ERR_IO, "%s: adapter folder does not exist", dir);
    XF_CHECK(S_ISDIR(sb.st_mode), XF_ERR_IO, "%s: not a folder (a PEFT adapter is a folder)", dir);
    XF_CHECK(stat(c->path, &sb) == 0, XF_ERR_IO, "%s: missing (not a PEFT adapter folder)", c->path);
    json_error_t jerr;
    c->root = json_load_file(c->path, JSON_REJECT_DUPLICATES, &jerr);
    XF_CHECK(c->root || json_error_code(&jerr) != json_error_cannot_open_file, XF_ERR_IO, "%s: cannot read: %s",
             c->path, jerr.text);
    XF_CHECK(c->root, XF_ERR_FORMAT, "%s: broken JSON at line %d: %s", c->path, jerr.line, jerr.text);
    XF_CHECK(json_is_object(c->root), XF_ERR_FORMAT, "%s: not a JSON object", c->path);
    json_t *root = c->root;

    json_t *pt = json_object_get(root, "peft_type");
    XF_CHECK(json_is_string(pt), XF_ERR_FORMAT, "%s: no peft_type string", c->path);
    XF_CHECK(!strcmp(json_string_value(pt), "LORA"), XF_ERR_UNSUPPORTED,
             "%s: peft_type '%s' is not supported (only LORA)", c->path, json_string_value(pt));
    for (size_t i = 0; i < sizeof unsupported_fields / sizeof unsupported_fields[0]; i++)
        XF_CHECK(!json_truthy(json_object_get(root, unsupported_fields[i].field)), XF_ERR_UNSUPPORTED,
                 "%s: %s is not supported", c->path, unsupported_fields[i].what);
    json_t *bias = json_object_get(root, "bias");
    XF_CHECK(!bias || json_is_null(bias) || (json_is_string(bias) && !strcmp(json_string_value(bias), "none")),
             XF_ERR_UNSUPPORTED, "%s: bias '%s' is not supported (only \"none\")", c->path,
             json_is_string(bias) ? json_string_value(bias) : "?");

    /* r and lora_alpha; PEFT's defaults are 8 and 8. */
    json_t *jr = json_object_get(root, "r");
    int64_t r = 8;
    XF_CHECK(!jr || json_as_int(jr, &r), XF_ERR_FORMAT, "%s: r must be an integer", c->path);
    XF_CHECK(r > 0 && r <= (1 << 24), XF_ERR_FORMAT, "%s: r must be a positive integer, got %lld", c->path,
             (long long)r);
    c->r = (int32_t)r;
    json_t *ja = json_object_get(root, "lora_alpha");
    c->alpha = 8.0;
    if (ja) {
        XF_CHECK(json_is_number(ja) && isfinite(json_number_value(ja)), XF_ERR_FORMAT,
                 "%s: lora_alpha must be a number", c->path);
        c->alpha = json_number_value(ja);
    }
    json_t *jrs = json_object_get(root, "use_rslora");
    XF_CHECK(!jrs || json_is_boolean(jrs) || json_is_null(jrs), XF_ERR_FORMAT,
             "%s: use_rslora must be true or false", c->path);
    c->rslora = json_is_true(jrs);

    /* target_modules: list of suffixes, a regex string, "all-linear", or null (PEFT's default). */
    json_t *tm = json_object_get(root, "target_modules");
    if (!tm || json_is_null(tm)) {
        c->default_targets[0] = "q_proj";
        c->default_targets[1] = "v_proj";
    } else if (json_is_string(tm)) {
        const char *s = json_string_value(tm);
        if (is_all_linear(s))
            c->all_linear = 1;
        else
            XF_TRY(compile_re(c->path, "target_modules", s, 0, &c->target_re));
    } else {
        XF_CHECK(json_is_array(tm) && json_array_size(tm) > 0, XF_ERR_FORMAT,
                 "%s: target_modules must be a non-empty list of names or a regex string", c->path);
        size_t i;
        json_t *v;
        json_array_foreach(tm, i, v)
            XF_CHECK(json_is_string(v) && json_string_length(v) > 0, XF_ERR_FORMAT,
                     "%s: target_modules[%zu] is not a module name", c->path, i);
        c->targets = tm;
    }
    json_t *ex = json_object_get(root, "exclude_modules");
    if (ex && json_is_string(ex)) {
        XF_TRY(compile_re(c->path, "exclude_modules", json_string_value(ex), 0, &c->exclude_re));
    } else if (ex && !json_is_null(ex)) {
        XF_CHECK(json_is_array(ex), XF_ERR_FORMAT, "%s: exclude_modules must be a list or a string", c->path);
        size_t i;
        json_t *v;
        json_array_foreach(ex, i, v)
            XF_CHECK(json_is_string(v), XF_ERR_FORMAT, "%s: exclude_modules[%zu] is not a string", c->path, i);
        c->excludes = ex;
    }

    /* layers_to_transform: an int or a list of ints, each a layer of this model. */
    json_t *lt = json_object_get(root, "layers_to_transform");
    if (lt && !json_is_null(lt) && !(json_is_array(lt) && json_array_size(lt) == 0)) {
        XF_CHECK(!c->target_re, XF_ERR_FORMAT,
                 "%s: layers_to_transform cannot be combined with a regex target_modules", c->path);
        json_t *lp = json_object_get(root, "layers_pattern");
        int lp_ok = !lp || json_is_null(lp) || (json_is_string(lp) && !strcmp(json_string_value(lp), "layers")) ||
                    (json_is_array(lp) && json_array_size(lp) == 1 && json_is_string(json_array_get(lp, 0)) &&
                     !strcmp(json_string_value(json_array_get(lp, 0)), "layers"));
        XF_CHECK(lp_ok, XF_ERR_FORMAT, "%s: layers_pattern does not name this model's layer list ('layers')",
                 c->path);
        XF_ALLOC(c->layer_on, mc->n_layers);
        size_t cnt = json_is_array(lt) ? json_array_size(lt) : 1;
        for (size_t i = 0; i < cnt; i++) {
            json_t *v = json_is_array(lt) ? json_array_get(lt, i) : lt;
            int64_t l;
            XF_CHECK(json_as_int(v, &l), XF_ERR_FORMAT, "%s: layers_to_transform must hold layer indices",
                     c->path);
            XF_CHECK(l >= 0 && l < mc->n_layers, XF_ERR_FORMAT,
                     "%s: layers_to_transform names layer %lld but the model has %d layers", c->path,
                     (long long)l, mc->n_layers);
            c->layer_on[l] = 1;
        }
    }
    XF_TRY(parse_patterns(c, "rank_pattern", 1, &c->rank_pat, &c->n_rank_pat));
    XF_TRY(parse_patterns(c, "alpha_pattern", 0, &c->alpha_pat, &c->n_alpha_pat));
cleanup:
    return st;
}

/* "Qwen3ForCausalLM" -> "qwen3"; "Qwen2Model" -> "qwen2"; "qwen2_moe" -> "qwen2moe". */
static void arch_family(const char *s, char *out, size_t n) {
    size_t len = strlen(s);
    const char *f = strstr(s, "For");
    if (f && f > s) len = (size_t)(f - s);
    else if (len > 5 && !strcmp(s + len - 5, "Model")) len -= 5;
    if (len > 10 && !strncmp(s + len - 10, "PreTrained", 10)) len -= 10;
    size_t j = 0;
    for (size_t i = 0; i < len && j + 1 < n; i++)
        if (s[i] != '_' && s[i] != '-') out[j++] = (char)tolower((unsigned char)s[i]);
    out[j] = '\0';
}

/* Refuses an adapter whose config names another model family. */
static xf_status check_architecture(const lora_config *c, const xf_config *mc) {
    char want[96], got[96];
    arch_family(mc->architecture[0] ? mc->architecture : mc->model_type, want, sizeof want);
    json_t *am = json_object_get(c->root, "auto_mapping");
    if (!json_is_object(am) || !want[0]) return XF_OK;
    json_t *cls = json_object_get(am, "base_model_class");
    if (json_is_string(cls)) {
        arch_family(json_string_value(cls), got, sizeof got);
        if (got[0] && strcmp(got, want) != 0)
            return xf_error(XF_ERR_FORMAT, "%s: adapter was built for %s but the model is %s (%s)", c->path,
                            json_string_value(cls), mc->architecture, mc->model_type);
    }
    json_t *lib = json_object_get(am, "parent_library");
    const char *pfx = "transformers.models.";
    if (json_is_string(lib) && !strncmp(json_string_value(lib), pfx, strlen(pfx)) && mc->model_type[0]) {
        const char *t = json_string_value(lib) + strlen(pfx);
        char type[64], mine[64];
        size_t k = strcspn(t, ".");
        snprintf(type, sizeof type, "%.*s", (int)(k < 63 ? k : 63), t);
        arch_family(type, got, sizeof got);
        arch_family(mc->model_type, mine, sizeof mine);
        if (strcmp(got, mine) != 0)
            return xf_error(XF_ERR_FORMAT, "%s: adapter was built for model type %s but the model is %s",
                            c->path, type, mc->model_type);
    }
    return XF_OK;
}

/* ---------------------------------------------------------------- tensor names */

/* Where one tensor of the file goes. */
typedef struct lora_key {
    char prefix[8];     /* "" or "model." : the module names' prefix */
    int layer;
    xf_module mod;
    int is_b;           /* 0: lora_A, 1: lora_B */
} lora_key;

static int starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* Parses "[base_model.model.][model.]layers.N.(self_attn|mlp).X_proj.lora_(A|B)[.NAME].weight". */
static xf_status parse_key(const char *file, const char *name, int n_layers, lora_key *k) {
    const char *s = name;
    if (starts(s, "base_model.model.")) s += strlen("base_model.model.");
    const char *prefix = "";
    if (starts(s, "model.")) s += strlen("model."), prefix = "model.";
    if (strstr(name, "lora_magnitude_vector"))
        return xf_error(XF_ERR_UNSUPPORTED, "%s: tensor '%s' is a DoRA magnitude: DoRA is not supported", file,
                        name);
    if (strstr(name, "lora_embedding_"))
        return xf_error(XF_ERR_UNSUPPORTED, "%s: tensor '%s': LoRA on embeddings is not supported", file, name);
    const char *what = "is not a LoRA A/B weight of a q/k/v/o/gate/up/down projection (modules_to_save, "
                       "lm_head, embeddings and other extras are not supported)";
    if (!starts(s, "layers.") || !strstr(s, ".lora_"))
        return xf_error(XF_ERR_UNSUPPORTED, "%s: tensor '%s' %s", file, name, what);
    s += strlen("layers.");
    long layer = 0;
    int digits = 0;
    while (isdigit((unsigned char)*s) && digits < 9) layer = layer * 10 + (*s++ - '0'), digits++;
    if (digits == 0 || *s != '.') return xf_error(XF_ERR_FORMAT, "%s: tensor '%s' has no layer index", file, name);
    s++;
    int attn = starts(s, "self_attn.");
    if (!attn && !starts(s, "mlp."))
        return xf_error(XF_ERR_FORMAT, "%s: tensor '%s' names a module the model does not have", file, name);
    s += attn ? strlen("self_attn.") : strlen("mlp.");
    size_t mlen = strcspn(s, ".");
    int mod = -1;
    for (int m = 0; m < XF_MOD_COUNT; m++) {
        const char *mn = xf_module_name((xf_module)m);
        if (strlen(mn) == mlen && !strncmp(s, mn, mlen)) mod = m;
    }
    if (mod < 0 || attn != (mod <= XF_MOD_O))
        return xf_error(XF_ERR_FORMAT, "%s: tensor '%s': the model has no module '%s%.*s'", file, name,
                        attn ? "self_attn." : "mlp.", (int)mlen, s);
    s += mlen;
    int is_b;
    if (starts(s, ".lora_A"))
        is_b = 0;
    else if (starts(s, ".lora_B"))
        is_b = 1;
    else
        return xf_error(XF_ERR_UNSUPPORTED, "%s: tensor '%s' %s", file, name, what);
    s += strlen(".lora_A");
    /* ".weight" or ".<adapter name>.weight" */
    const char *dot = *s == '.' ? strchr(s + 1, '.') : NULL;
    int ok = !strcmp(s, ".weight") || (dot && dot > s + 1 && !strcmp(dot, ".weight"));
    if (!ok && strlen(s) >= 5 && !strcmp(s + strlen(s) - 5, ".bias"))
        return xf_error(XF_ERR_UNSUPPORTED, "%s: tensor '%s' is a LoRA bias: not supported", file, name);
    if (!ok) return xf_error(XF_ERR_UNSUPPORTED, "%s: tensor '%s' %s", file, name, what);
    if (layer >= n_layers)
        return xf_error(XF_ERR_FORMAT, "%s: tensor '%s' is for layer %ld but the model has %d layers", file, name,
                        layer, n_layers);
    snprintf(k->prefix, sizeof k->prefix, "%s", prefix);
    k->layer = (int)layer;
    k->mod = (xf_module)mod;
    k->is_b = is_b;
    return XF_OK;
}

/* Every list entry / the regex of target_modules must reach some projection of the model. */
static xf_status check_targets_exist(const lora_config *c, const xf_config *mc, const char *prefix) {
    char name[NAME_MAX_LEN], other[3][NAME_MAX_LEN];
    snprintf(other[0], NAME_MAX_LEN, "lm_head");
    snprintf(other[1], NAME_MAX_LEN, "%sembed_tokens", prefix);
    snprintf(other[2], NAME_MAX_LEN, "score");
    size_t n_entries = c->targets ? json_array_size(c->targets) : (c->target_re ? 1 : 0);
    for (size_t e = 0; e < n_entries; e++) {
        const char *key = c->targets ? json_string_value(json_array_get(c->targets, e)) : NULL;
        int hit = 0;
        for (int l = 0; l < mc->n_layers && !hit; l++)
            for (int m = 0; m < XF_MOD_COUNT && !hit; m++) {
                module_full_name(name, sizeof name, prefix, l, (xf_module)m);
                hit = key ? suffix_hits(name, key) : re_hits(c->target_re, name, 1);
            }
        if (hit) continue;
        for (int o = 0; o < 3; o++)
            if (key ? suffix_hits(other[o], key) : re_hits(c->target_re, other[o], 1))
                return xf_error(XF_ERR_UNSUPPORTED, "%s: target_modules reaches '%s': LoRA there is not supported",
                                c->path, other[o]);
        return xf_error(XF_ERR_FORMAT,
                        "%s: target_modules %s'%s' matches no module of the model (%s: q/k/v/o/gate/up/down_proj "
                        "in %d layers)",
                        c->path, key ? "entry " : "regex ",
                        key ? key : json_string_value(json_object_get(c->root, "target_modules")),
                        mc->architecture, mc->n_layers);
    }
    return XF_OK;
}

/* ---------------------------------------------------------------- tensors */

static void shape_str(const xf_st_entry *e, char *buf, size_t n) {
    size_t j = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < e->ndim && j < n; i++)
        j += (size_t)snprintf(buf + j, n - j, "%s%lld", i ? ", " : "", (long long)e->shape[i]);
    if (j < n) snprintf(buf + j, n - j, "]");
}

/* Checks e is [rows, cols] in a float dtype and returns it as malloc'ed fp32. */
static xf_status load_factor(const char *file, const xf_st_entry *e, int64_t rows, int64_t cols, const char *why,
                             float **out) {
    char got[96];
    shape_str(e, got, sizeof got);
    if (e->ndim != 2 || e->shape[0] != rows || e->shape[1] != cols)
        return xf_error(XF_ERR_FORMAT, "%s: tensor '%s' has shape %s, expected [%lld, %lld] (%s)", file, e->name,
                        got, (long long)rows, (long long)cols, why);
    if (e->dtype != XF_ST_F32 && e->dtype != XF_ST_BF16 && e->dtype != XF_ST_F16)
        return xf_error(XF_ERR_UNSUPPORTED, "%s: tensor '%s' has dtype %s (F32, BF16 or F16 expected)", file,
                        e->name, xf_st_dtype_name(e->dtype));
    float *f = malloc((size_t)(rows * cols) * sizeof *f + 1);
    if (!f) return xf_error(XF_ERR_NO_MEMORY, "out of host memory for tensor '%s'", e->name);
    xf_tensor t = {.data = e->data, .type = (xf_wtype)e->dtype, .ndim = 2, .shape = {rows, cols}};
    xf_tensor_to_f32(&t, 0, rows * cols, f);
    for (int64_t i = 0; i < rows * cols; i++)
        if (!isfinite(f[i])) {
            free(f);
            return xf_error(XF_ERR_FORMAT, "%s: tensor '%s' holds NaN or Inf", file, e->name);
        }
    *out = f;
    return XF_OK;
}

void xf_adapter_free(xf_adapter *a) {
    if (!a) return;
    if (a->mods)
        for (int l = 0; l < a->n_layers; l++)
            for (int m = 0; m < XF_MOD_COUNT; m++) {
                free(a->mods[l][m].A);
                free(a->mods[l][m].B);
            }
    free(a->mods);
    free(a->dir);
    free(a);
}

xf_status xf_adapter_open(const xf_model *m, const char *dir, xf_adapter **out) {
    xf_status st = XF_OK;
    lora_config c = {0};
    xf_st_file *f = NULL;
    xf_adapter *a = NULL;
    const xf_st_entry *(*slot)[XF_MOD_COUNT][2] = NULL; /* [n_layers][mod][A, B] */
    char *st_path = NULL;
    if (out) *out = NULL;
    XF_CHECK(m && dir && out, XF_ERR_INVALID_ARG, "xf_adapter_open: model, dir and out must not be NULL");
    const xf_config *mc = &m->cfg;
    XF_CHECK(mc->n_layers > 0, XF_ERR_INVALID_ARG, "xf_adapter_open: the model has no layers");

    XF_TRY(read_config(dir, mc, &c));
    XF_TRY(check_architecture(&c, mc));

    size_t n = strlen(dir) + 40;
    XF_ALLOC(st_path, n);
    snprintf(st_path, n, "%s/adapter_model.safetensors", dir);
    struct stat sb;
    XF_CHECK(stat(st_path, &sb) == 0, XF_ERR_IO, "%s: missing (only safetensors adapters are read)", st_path);
    XF_TRY(xf_st_open(st_path, &f));

    /* Place every tensor; all must agree on the module-name prefix. */
    XF_ALLOC(slot, mc->n_layers);
    char prefix[8] = "";
    int have_prefix = 0;
    for (int i = 0; i < xf_st_count(f); i++) {
        const xf_st_entry *e = xf_st_entry_at(f, i);
        lora_key k;
        XF_TRY(parse_key(st_path, e->name, mc->n_layers, &k));
        if (!have_prefix) memcpy(prefix, k.prefix, sizeof prefix), have_prefix = 1;
        XF_CHECK(!strcmp(prefix, k.prefix), XF_ERR_FORMAT,
                 "%s: tensor '%s' does not share the other tensors' module prefix '%s'", st_path, e->name, prefix);
        const xf_st_entry **s = &slot[k.layer][k.mod][k.is_b];
        XF_CHECK(!*s, XF_ERR_FORMAT,
                 "%s: tensors '%s' and '%s' are the same LoRA factor (several adapters in one file?)", st_path,
                 (*s) ? (*s)->name : "", e->name);
        *s = e;
    }
    XF_CHECK(have_prefix, XF_ERR_FORMAT, "%s: holds no LoRA tensors", st_path);
    XF_TRY(check_targets_exist(&c, mc, prefix));

    XF_ALLOC(a, 1);
    a->n_layers = mc->n_layers;
    XF_ALLOC(a->mods, mc->n_layers);
    XF_ALLOC(a->dir, strlen(dir) + 1);
    memcpy(a->dir, dir, strlen(dir) + 1);
    for (int l = 0; l < mc->n_layers; l++)
        for (int mi = 0; mi < XF_MOD_COUNT; mi++) {
            xf_module mod = (xf_module)mi;
            char name[NAME_MAX_LEN];
            module_full_name(name, sizeof name, prefix, l, mod);
            const xf_st_entry *A = slot[l][mod][0], *B = slot[l][mod][1];
            int targeted = module_targeted(&c, name, l);
            XF_CHECK(targeted || (!A && !B), XF_ERR_FORMAT,
                     "%s: tensor '%s' is for module %s, which adapter_config.json does not target", st_path,
                     A ? A->name : B->name, name);
            if (!targeted) continue;
            XF_CHECK(A || B, XF_ERR_FORMAT, "%s: targets %s but %s has no tensors for it",
                     c.path, name, st_path);
            XF_CHECK(A && B, XF_ERR_FORMAT, "%s: module %s has lora_%s but no lora_%s", st_path, name,
                     A ? "A" : "B", A ? "B" : "A");
            const lora_pattern *rp = pattern_for(c.rank_pat, c.n_rank_pat, name);
            const lora_pattern *ap = pattern_for(c.alpha_pat, c.n_alpha_pat, name);
            int32_t r = rp ? (int32_t)rp->value : c.r;
            double alpha = ap ? ap->value : c.alpha;
            int32_t dout, din;
            xf_module_dims(mc, mod, &dout, &din);
            char why[NAME_MAX_LEN + 64];
            snprintf(why, sizeof why, "r=%d%s, %s is [%d, %d]", r, rp ? " from rank_pattern" : "",
                     xf_module_name(mod), dout, din);
            xf_lora *lo = &a->mods[l][mod];
            XF_TRY(load_factor(st_path, A, r, din, why, &lo->A));
            XF_TRY(load_factor(st_path, B, dout, r, why, &lo->B));
            lo->r = r;
            lo->in = din;
            lo->out = dout;
            lo->scale = (float)(c.rslora ? alpha / sqrt((double)r) : alpha / (double)r);
        }
    *out = a;
    a = NULL;
cleanup:
    xf_adapter_free(a);
    free(slot);
    free(st_path);
    xf_st_close(f);
    config_free(&c);
    return st;
}

/* ---------------------------------------------------------------- helpers for backends */

xf_status xf_adapter_merge(const xf_adapter *a, int layer, xf_module mod, const xf_tensor *W, float *out) {
    if (!a || !W || !W->data || !out)
        return xf_error(XF_ERR_INVALID_ARG, "xf_adapter_merge: adapter, W and out must not be NULL");
    if (layer < 0 || layer >= a->n_layers || (int)mod < 0 || mod >= XF_MOD_COUNT)
        return xf_error(XF_ERR_INVALID_ARG, "xf_adapter_merge: layer %d / module %d out of range", layer,
                        (int)mod);
    if (W->ndim != 2) return xf_error(XF_ERR_INVALID_ARG, "xf_adapter_merge: W is not a matrix");
    const xf_lora *lo = &a->mods[layer][mod];
    int64_t rows = W->shape[0], cols = W->shape[1];
    if (lo->A && (rows != lo->out || cols != lo->in))
        return xf_error(XF_ERR_INVALID_ARG,
                        "xf_adapter_merge: %s of layer %d is [%lld, %lld], the adapter's is [%d, %d]",
                        xf_module_name(mod), layer, (long long)rows, (long long)cols, lo->out, lo->in);
    // out: [rows, cols] = W, then += scale · B [rows, r] · A [r, cols]
    xf_tensor_to_f32(W, 0, rows * cols, out);
    if (!lo->A) return XF_OK;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)rows, (int)cols, lo->r, lo->scale, lo->B, lo->r,
                lo->A, (int)cols, 1.0f, out, (int)cols);
    return XF_OK;
}

int xf_adapter_targets(const xf_adapter *a, xf_module mod) {
    if (!a || (int)mod < 0 || mod >= XF_MOD_COUNT) return 0;
    for (int l = 0; l < a->n_layers; l++)
        if (a->mods[l][mod].A) return 1;
    return 0;
}

int32_t xf_adapter_max_rank(const xf_adapter *a) {
    int32_t r = 0;
    if (!a) return 0;
    for (int l = 0; l < a->n_layers; l++)
        for (int m = 0; m < XF_MOD_COUNT; m++)
            if (a->mods[l][m].A && a->mods[l][m].r > r) r = a->mods[l][m].r;
    return r;
}
