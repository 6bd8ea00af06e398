/* serve_embed.c — the embedding endpoints of `xfwd serve`:
 *   POST /v1/embeddings  OpenAI: {"input", "model", "dimensions", "encoding_format", "user"}
 *                        -> {"object": "list", "data": [{"object": "embedding", "index", "embedding"}],
 *                            "model", "usage": {"prompt_tokens", "total_tokens"}}
 *   POST /embed          text-embeddings-inference: {"inputs", "normalize", "truncate",
 *                        "truncation_direction", "prompt_name", "dimensions"} -> [[...], ...]
 * Both run the model folder's pipeline (pooling, Dense modules) in the shared
 * forwards, then per request keep the first `dimensions` values and L2-normalise
 * when asked (default: as the folder says), as the library's xf_engine_encode does. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

/* Runs the sequences; rows [n, dims], normalised when asked. NULL after an error reply. */
static float *embed_rows(sv_call *c, sv_reply *r, sv_api api, const sv_seqs *q, int adapter, int normalize,
                         int dims) {
    sv_server *s = c->server;
    int W = s->embed_width;
    float *full = malloc(sizeof(float) * (size_t)q->n * (size_t)W);
    if (!full) {
        sv_reply_error(r, &s->metrics, api, 500, SV_ERR_OTHER, "out of memory");
        return NULL;
    }
    sv_job job = {.task = SV_TASK_EMBED, .tokens = q->tokens, .seq_lens = q->lens, .prompt_lens = q->prompt,
                  .n_seqs = q->n, .adapter = adapter, .out = full, .width = W};
    if (sv_run_job(c, r, api, &job) < 0) {
        free(full);
        return NULL;
    }
    /* keep the first dims values of each row, then normalise them: in place */
    for (int32_t i = 0; i < q->n; i++) {
        float *src = full + (size_t)i * (size_t)W, *dst = full + (size_t)i * (size_t)dims;
        memmove(dst, src, sizeof(float) * (size_t)dims);
        if (!normalize) continue;
        double ss = 0;
        for (int k = 0; k < dims; k++) ss += (double)dst[k] * dst[k];
        double norm = sqrt(ss);
        float inv = (float)(1.0 / (norm > 1e-12 ? norm : 1e-12));
        for (int k = 0; k < dims; k++) dst[k] *= inv;
    }
    sv_metrics_tokens(&s->metrics, api == SV_API_OPENAI ? SV_EP_EMBEDDINGS : SV_EP_EMBED, q->n_tokens);
    return full;
}

static int get_dims(sv_call *c, sv_reply *r, sv_api api, json_t *o, int *dims) {
    long d = 0;
    int got = sv_get_int(c, r, api, o, "dimensions", 1, c->server->embed_width, &d);
    if (got < 0) return -1;
    *dims = got ? (int)d : c->server->embed_width;
    return 0;
}

static void base64(sv_buf *b, const unsigned char *p, size_t n) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[4];
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
        q[0] = tab[v >> 18 & 63], q[1] = tab[v >> 12 & 63];
        q[2] = i + 1 < n ? tab[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? tab[v & 63] : '=';
        sv_buf_add(b, q, 4);
    }
}

/* float32 little-endian bytes of one row */
static void row_base64(sv_buf *b, const float *row, int dims) {
    unsigned char *bytes = malloc(sizeof(float) * (size_t)dims);
    if (!bytes) {
        b->oom = 1;
        return;
    }
    for (int k = 0; k < dims; k++) {
        uint32_t u;
        memcpy(&u, row + k, 4);
        bytes[4 * k] = (unsigned char)u, bytes[4 * k + 1] = (unsigned char)(u >> 8);
        bytes[4 * k + 2] = (unsigned char)(u >> 16), bytes[4 * k + 3] = (unsigned char)(u >> 24);
    }
    base64(b, bytes, sizeof(float) * (size_t)dims);
    free(bytes);
}

static void row_floats(sv_buf *b, const float *row, int dims) {
    sv_buf_add(b, "[", 1);
    for (int k = 0; k < dims; k++) {
        if (k) sv_buf_add(b, ",", 1);
        sv_buf_float(b, row[k]);
    }
    sv_buf_add(b, "]", 1);
}

int sv_ep_embeddings(sv_call *c, sv_reply *r) {
    const sv_api api = SV_API_OPENAI;
    sv_server *s = c->server;
    json_t *o = sv_parse_body(c, r, api);
    if (!o) return -1;
    sv_seqs q = {0};
    float *rows = NULL;
    int rc = -1, dims = 0, adapter;
    const char *model = NULL, *fmt = NULL, *user = NULL, *prompt = NULL;
    if (sv_get_string(c, r, api, o, "model", &model) < 0 || sv_get_string(c, r, api, o, "encoding_format", &fmt) < 0 ||
        sv_get_string(c, r, api, o, "user", &user) < 0 || get_dims(c, r, api, o, &dims) < 0)
        goto done;
    if (!model) model = c->adapter_header;
    if ((adapter = sv_get_adapter(c, r, api, model)) < -1) goto done;
    if (fmt && strcmp(fmt, "float") && strcmp(fmt, "base64")) {
        sv_reply_error(r, &s->metrics, api, 400, SV_ERR_VALIDATION, "'encoding_format' must be \"float\" or \"base64\", got '%s'",
                       fmt);
        goto done;
    }
    if (sv_get_prompt(c, r, api, NULL, &prompt) < 0) goto done;
    sv_text_opts to = {.prompt = prompt, .add_special = 1, .truncate = XF_TRUNCATE_NONE};
    if (sv_get_inputs(c, r, api, json_object_get(o, "input"), "input", &to, &q) < 0) goto done;
    int normalize = s->info.default_normalize;
    if (!(rows = embed_rows(c, r, api, &q, adapter, normalize, dims))) goto done;
    int b64 = fmt && !strcmp(fmt, "base64");
    sv_buf b = {0};
    sv_buf_str(&b, "{\"object\":\"list\",\"data\":[");
    for (int32_t i = 0; i < q.n; i++) {
        sv_buf_printf(&b, "%s{\"object\":\"embedding\",\"index\":%d,\"embedding\":", i ? "," : "", i);
        if (b64) {
            sv_buf_add(&b, "\"", 1);
            row_base64(&b, rows + (size_t)i * (size_t)dims, dims);
            sv_buf_add(&b, "\"", 1);
        } else {
            row_floats(&b, rows + (size_t)i * (size_t)dims, dims);
        }
        sv_buf_add(&b, "}", 1);
    }
    sv_buf_str(&b, "],\"model\":");
    const char *name = model && *model ? model : s->cfg.model_id;
    sv_buf_json_string(&b, name, strlen(name));
    sv_buf_printf(&b, ",\"usage\":{\"prompt_tokens\":%lld,\"total_tokens\":%lld}}", (long long)q.n_tokens,
                  (long long)q.n_tokens);
    rc = sv_reply_buf(r, &s->metrics, api, &b);
done:
    free(rows);
    sv_seqs_free(&q);
    json_decref(o);
    return rc;
}

int sv_ep_embed(sv_call *c, sv_reply *r) {
    const sv_api api = SV_API_TEI;
    sv_server *s = c->server;
    json_t *o = sv_parse_body(c, r, api);
    if (!o) return -1;
    sv_seqs q = {0};
    float *rows = NULL;
    int rc = -1, dims = 0, adapter, truncate, normalize = s->info.default_normalize;
    const char *ad = c->adapter_header, *prompt_name = NULL, *prompt = NULL;
    if (sv_get_string(c, r, api, o, "adapter", &ad) < 0 || sv_get_string(c, r, api, o, "prompt_name", &prompt_name) < 0 ||
        sv_get_bool(c, r, api, o, "normalize", &normalize) < 0 || get_dims(c, r, api, o, &dims) < 0 ||
        (truncate = sv_get_truncate(c, r, api, o)) < 0)
        goto done;
    if ((adapter = sv_get_adapter(c, r, api, ad)) < -1) goto done;
    if (sv_get_prompt(c, r, api, prompt_name, &prompt) < 0) goto done;
    sv_text_opts to = {.prompt = prompt, .add_special = 1, .truncate = truncate};
    if (sv_get_inputs(c, r, api, json_object_get(o, "inputs"), "inputs", &to, &q) < 0) goto done;
    if (!(rows = embed_rows(c, r, api, &q, adapter, normalize, dims))) goto done;
    sv_buf b = {0};
    sv_buf_add(&b, "[", 1);
    for (int32_t i = 0; i < q.n; i++) {
        if (i) sv_buf_add(&b, ",", 1);
        row_floats(&b, rows + (size_t)i * (size_t)dims, dims);
    }
    sv_buf_add(&b, "]", 1);
    rc = sv_reply_buf(r, &s->metrics, api, &b);
done:
    free(rows);
    sv_seqs_free(&q);
    json_decref(o);
    return rc;
}
