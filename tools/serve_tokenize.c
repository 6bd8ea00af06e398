/* serve_tokenize.c — POST /tokenize and GET /info of `xfwd serve`.
 *
 * /tokenize answers text-embeddings-inference's shape: per input, a list of
 * {"id", "text", "special", "start", "stop"}. The library gives ids, not offsets,
 * so offsets are recovered honestly: the tokens the post-processor added (found
 * by comparing the encoding with and without special tokens) are "special", with
 * their decoded text and null start/stop, as TEI reports special tokens; the others
 * are decoded one by one (a few at a time where one character spans several
 * byte-level tokens) and matched against the input's bytes, giving byte offsets
 * into the (prompt + input) text and the input's own bytes as "text", as TEI does.
 * Where a tokenizer's normalizer or decoder changes the text so that the decoded
 * tokens no longer match the input (lower-casing, SentencePiece's leading space),
 * that token and the rest get null start/stop and their decoded text. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

typedef struct tok_row {
    int32_t id;
    int special;
    int64_t start, stop;          /* -1: unknown */
    char *text;                   /* malloc'ed */
    size_t text_len;
} tok_row;

static char *decode(const sv_server *s, const int32_t *ids, size_t n, size_t *len) {
    char *t = NULL;
    if (xf_tokenizer_decode(s->tok, ids, n, &t, len) != XF_OK) {
        free(t);
        *len = 0;
        return strdup("");
    }
    return t;
}

/* Offsets of ids[lo, hi) in full[0, n) from pos; tokens after a mismatch get -1. */
static void align(const sv_server *s, const int32_t *ids, tok_row *rows, size_t lo, size_t hi, const char *full,
                  size_t n) {
    size_t pos = 0, j = lo;
    while (j < hi) {
        size_t k, len = 0;
        char *t = NULL;
        for (k = j + 1; k <= hi && k <= j + 4; k++) {
            t = decode(s, ids + j, k - j, &len);
            if (len > 0 && pos + len <= n && !memcmp(full + pos, t, len)) break;
            free(t);
            t = NULL;
        }
        if (!t) break;
        for (size_t m = j; m < k; m++) {
            rows[m].start = (int64_t)pos, rows[m].stop = (int64_t)(pos + len);
            rows[m].text = m == j ? t : strndup(t, len);
            rows[m].text_len = len;
        }
        pos += len;
        j = k;
    }
    for (; j < hi; j++) rows[j].text = decode(s, ids + j, 1, &rows[j].text_len);
}

/* One input: rows [n_rows]; NULL after an error reply. */
static tok_row *tokenize_one(sv_call *c, sv_reply *r, const char *text, const char *prompt, int add_special,
                             size_t *n_rows) {
    const sv_api api = SV_API_TEI;
    const sv_server *s = c->server;
    xf_tokens with = {0}, plain = {0};
    tok_row *rows = NULL;
    xf_status st = sv_tokenize(s, &text, NULL, 1, prompt, add_special, XF_TRUNCATE_NONE, INT32_MAX, &with);
    if (st == XF_OK) st = sv_tokenize(s, &text, NULL, 1, prompt, 0, XF_TRUNCATE_NONE, INT32_MAX, &plain);
    if (st != XF_OK) {
        sv_reply_error(r, &c->server->metrics, api, 422, SV_ERR_TOKENIZER, "tokenization failed: %s", xf_last_error());
        goto done;
    }
    size_t n = (size_t)with.n_tokens, m = (size_t)plain.n_tokens, p = 0;
    int found = 0;
    for (p = 0; p + m <= n && !found; p++)
        found = !memcmp(with.tokens + p, plain.tokens, sizeof(int32_t) * m);
    if (found) p--;
    rows = calloc(n ? n : 1, sizeof *rows);
    if (!rows) {
        sv_reply_error(r, &c->server->metrics, api, 500, SV_ERR_OTHER, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        rows[i].id = with.tokens[i];
        rows[i].special = found ? (i < p || i >= p + m) : 0;
        rows[i].start = rows[i].stop = -1;
        if (rows[i].special) rows[i].text = decode(s, with.tokens + i, 1, &rows[i].text_len);
    }
    size_t plen = prompt ? strlen(prompt) : 0, tlen = strlen(text);
    char *full = malloc(plen + tlen + 1);
    if (full) {
        memcpy(full, prompt ? prompt : "", plen);
        memcpy(full + plen, text, tlen + 1);
        align(s, with.tokens, rows, found ? p : 0, found ? p + m : n, full, plen + tlen);
        free(full);
    } else {
        align(s, with.tokens, rows, found ? p : 0, found ? p + m : n, "", 0);
    }
    *n_rows = n;
done:
    sv_tokens_free(&with);
    sv_tokens_free(&plain);
    return rows;
}

int sv_ep_tokenize(sv_call *c, sv_reply *r) {
    const sv_api api = SV_API_TEI;
    sv_server *s = c->server;
    if (!s->tok)
        return sv_reply_error(r, &s->metrics, api, 422, SV_ERR_TOKENIZER, "the model folder has no tokenizer.json");
    json_t *o = sv_parse_body(c, r, api);
    if (!o) return -1;
    int rc = -1, add_special = 1;
    const char *prompt_name = NULL, *prompt = NULL;
    json_t *in = json_object_get(o, "inputs");
    sv_buf b = {0};
    if (sv_get_bool(c, r, api, o, "add_special_tokens", &add_special) < 0 ||
        sv_get_string(c, r, api, o, "prompt_name", &prompt_name) < 0 || sv_get_prompt(c, r, api, prompt_name, &prompt) < 0)
        goto done;
    size_t n = json_is_string(in) ? 1 : json_array_size(in);
    if (!json_is_string(in) && !json_is_array(in)) {
        sv_reply_error(r, &s->metrics, api, 422, SV_ERR_VALIDATION, "'inputs' must be a string or an array of strings");
        goto done;
    }
    if (n == 0 || n > (size_t)s->cfg.max_inputs) {
        sv_reply_error(r, &s->metrics, api, n ? 413 : 400, n ? SV_ERR_TOO_LARGE : SV_ERR_VALIDATION,
                       "'inputs' must hold 1 to %d texts", s->cfg.max_inputs);
        goto done;
    }
    sv_buf_add(&b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_is_string(in) ? in : json_array_get(in, i);
        if (!json_is_string(x)) {
            sv_reply_error(r, &s->metrics, api, 422, SV_ERR_VALIDATION, "'inputs'[%zu] must be a string", i);
            goto done;
        }
        size_t k = 0;
        tok_row *rows = tokenize_one(c, r, json_string_value(x), prompt, add_special, &k);
        if (!rows) goto done;
        sv_buf_str(&b, i ? ",[" : "[");
        for (size_t t = 0; t < k; t++) {
            sv_buf_printf(&b, "%s{\"id\":%d,\"text\":", t ? "," : "", rows[t].id);
            sv_buf_json_string(&b, rows[t].text ? rows[t].text : "", rows[t].text ? rows[t].text_len : 0);
            if (rows[t].start >= 0)
                sv_buf_printf(&b, ",\"special\":%s,\"start\":%lld,\"stop\":%lld}", rows[t].special ? "true" : "false",
                              (long long)rows[t].start, (long long)rows[t].stop);
            else
                sv_buf_printf(&b, ",\"special\":%s,\"start\":null,\"stop\":null}", rows[t].special ? "true" : "false");
            free(rows[t].text);
        }
        sv_buf_add(&b, "]", 1);
        free(rows);
        sv_metrics_tokens(&s->metrics, SV_EP_TOKENIZE, (int64_t)k);
    }
    sv_buf_add(&b, "]", 1);
    rc = sv_reply_buf(r, &s->metrics, api, &b);
done:
    free(b.p);
    json_decref(o);
    return rc;
}

/* ---------------------------------------------------------------- /info, /v1/models */

int sv_ep_models(sv_call *c, sv_reply *r) {
    const sv_server *s = c->server;
    json_t *data = json_array();
    for (int k = -1; k < s->cfg.n_adapters; k++)
        json_array_append_new(data, json_pack("{s:s, s:s, s:i, s:s}", "id", k < 0 ? s->cfg.model_id : s->cfg.adapters[k].name,
                                              "object", "model", "created", 0, "owned_by", "xfwd"));
    json_t *o = json_pack("{s:s, s:o}", "object", "list", "data", data);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) return sv_reply_error(r, &c->server->metrics, SV_API_OPENAI, 500, SV_ERR_OTHER, "out of memory");
    return sv_reply_json(r, text, strlen(text));
}

static const char *pooling_name(int p) {
    switch (p) {
    case XF_POOL_MEAN: return "mean";
    case XF_POOL_FIRST: return "cls";
    case XF_POOL_MAX: return "max";
    case XF_POOL_MEAN_SQRT_LEN: return "mean_sqrt_len";
    default: return "last_token";
    }
}

int sv_ep_info(sv_call *c, sv_reply *r) {
    sv_server *s = c->server;
    const xf_model_info *i = &s->info;
    static const char *const dtypes[] = {"float32", "tf32", "bfloat16", "float16"};
    static const char *const backends[] = {"auto", "cpu", "cpu_ref", "cuda", "vulkan"};
    json_t *type = json_object();
    if (i->num_labels > 0) {
        json_t *id2label = json_object(), *label2id = json_object();
        for (int k = 0; k < i->num_labels; k++) {
            char key[32], fallback[32];
            snprintf(key, sizeof key, "%d", k);
            snprintf(fallback, sizeof fallback, "LABEL_%d", k);
            const char *name = i->labels && i->labels[k] ? i->labels[k] : fallback;
            json_object_set_new(id2label, key, json_string(name));
            json_object_set_new(label2id, name, json_integer(k));
        }
        json_object_set_new(type, s->model_type, json_pack("{s:o, s:o}", "id2label", id2label, "label2id", label2id));
    } else {
        json_object_set_new(type, "embedding", json_pack("{s:s}", "pooling", pooling_name(i->default_pooling)));
    }
    json_t *adapters = json_array();
    for (int k = 0; k < s->cfg.n_adapters; k++) json_array_append_new(adapters, json_string(s->cfg.adapters[k].name));
    unsigned b = (unsigned)xf_engine_backend(s->engine);
    json_t *o = json_pack(
        "{s:s, s:n, s:s, s:o, s:i, s:i, s:i, s:n, s:i, s:b, s:i, s:s, s:n, s:n, "
        "s:s, s:s, s:o, s:i, s:b, s:i, s:s, s:b, s:i}",
        "model_id", s->cfg.model_id, "model_sha", "model_dtype", dtypes[s->cfg.dtype & 3], "model_type", type,
        "max_concurrent_requests", s->cfg.max_connections, "max_input_length", s->cfg.max_input_tokens,
        "max_batch_tokens", s->cfg.max_batch_tokens, "max_batch_requests", "max_client_batch_size", s->cfg.max_inputs,
        "auto_truncate", 0, "tokenization_workers", s->cfg.max_connections, "version", "xfwd 0.1.0", "sha",
        "docker_label", "backend", b < 5 ? backends[b] : "?", "architecture", i->architecture ? i->architecture : "",
        "adapters", adapters, "embedding_dimensions", s->embed_width, "normalize", i->default_normalize,
        "max_wait_ms", s->cfg.max_wait_ms, "task", s->model_type,
        "has_tokenizer", s->tok != NULL, "vocab_size", i->vocab_size);
    json_t *devices = json_array();
    for (int k = 0; k < s->n_engines; k++)
        json_array_append_new(devices, json_integer(s->cfg.n_devices > 0 ? s->cfg.devices[k] : 0));
    if (o) json_object_set_new(o, "devices", devices);
    else json_decref(devices);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!text) return sv_reply_error(r, &s->metrics, SV_API_TEI, 500, SV_ERR_OTHER, "out of memory");
    return sv_reply_json(r, text, strlen(text));
}
