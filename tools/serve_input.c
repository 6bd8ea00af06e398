/* serve_input.c — reading requests for `xfwd serve`: the JSON body, typed optional
 * fields, `input`/`inputs` (texts and token arrays) turned into checked sequences,
 * prompts, adapters, truncation, and running a job with the error reply each API
 * expects. Status codes: malformed JSON 400; a wrong type 400 (OpenAI) / 422 (TEI,
 * as its JSON extractor does); empty input 400; too many inputs or too many tokens
 * 413; a tokenizer failure 422; an unknown adapter 404; a failed forward 500 /
 * 424 (TEI's "backend" errors). */
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

#define BAD_TYPE(api) ((api) == SV_API_OPENAI ? 400 : 422)

void sv_seqs_free(sv_seqs *q) {
    free(q->tokens), free(q->lens), free(q->prompt);
    memset(q, 0, sizeof *q);
}

json_t *sv_parse_body(sv_call *c, sv_reply *r, sv_api api) {
    json_error_t e;
    json_t *o = json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES, &e);
    if (!o) {
        sv_reply_error(r, &c->server->metrics, api, 400, SV_ERR_VALIDATION, "request body is not valid JSON: %s (line %d, column %d)",
                       e.text, e.line, e.column);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        sv_reply_error(r, &c->server->metrics, api, BAD_TYPE(api), SV_ERR_VALIDATION, "request body must be a JSON object");
        return NULL;
    }
    return o;
}

int sv_get_bool(sv_call *c, sv_reply *r, sv_api api, json_t *o, const char *key, int *v) {
    json_t *x = json_object_get(o, key);
    if (!x || json_is_null(x)) return 0;
    if (!json_is_boolean(x))
        return sv_reply_error(r, &c->server->metrics, api, BAD_TYPE(api), SV_ERR_VALIDATION, "'%s' must be true or false", key);
    *v = json_is_true(x);
    return 1;
}

int sv_get_int(sv_call *c, sv_reply *r, sv_api api, json_t *o, const char *key, long lo, long hi, long *v) {
    json_t *x = json_object_get(o, key);
    if (!x || json_is_null(x)) return 0;
    if (!json_is_integer(x) || json_integer_value(x) < lo || json_integer_value(x) > hi)
        return sv_reply_error(r, &c->server->metrics, api, BAD_TYPE(api), SV_ERR_VALIDATION,
                              "'%s' must be an integer in [%ld, %ld]", key, lo, hi);
    *v = (long)json_integer_value(x);
    return 1;
}

int sv_get_string(sv_call *c, sv_reply *r, sv_api api, json_t *o, const char *key, const char **v) {
    json_t *x = json_object_get(o, key);
    if (!x || json_is_null(x)) return 0;
    if (!json_is_string(x))
        return sv_reply_error(r, &c->server->metrics, api, BAD_TYPE(api), SV_ERR_VALIDATION, "'%s' must be a string", key);
    *v = json_string_value(x);
    return 1;
}

int sv_get_prompt(sv_call *c, sv_reply *r, sv_api api, const char *name, const char **prompt) {
    *prompt = NULL;
    if (!name) name = c->server->info.default_prompt_name;
    if (!name) return 0;
    if (sv_prompt(c->server, name, prompt) != XF_OK)
        return sv_reply_error(r, &c->server->metrics, api, BAD_TYPE(api), SV_ERR_VALIDATION, "prompt_name '%s': %s", name,
                              *xf_last_error() ? xf_last_error() : "the model folder has no such prompt");
    return 0;
}

int sv_get_adapter(sv_call *c, sv_reply *r, sv_api api, const char *name) {
    const sv_server *s = c->server;
    if (!name || !*name || !strcmp(name, s->cfg.model_id) ||
        (s->cfg.model_dir && !strcmp(name, s->cfg.model_dir)))
        return -1;
    for (int i = 0; i < s->cfg.n_adapters; i++)
        if (!strcmp(name, s->cfg.adapters[i].name)) return i;
    sv_reply_error(r, &c->server->metrics, api, 404, SV_ERR_NOT_FOUND,
                   "the model '%s' does not exist here: use '%s' or one of the %d adapters (GET /info lists them)", name,
                   s->cfg.model_id, s->cfg.n_adapters);
    return -2;
}

int sv_get_truncate(sv_call *c, sv_reply *r, sv_api api, json_t *o) {
    int truncate = 0;
    const char *dir = NULL;
    if (sv_get_bool(c, r, api, o, "truncate", &truncate) < 0) return -1;
    if (sv_get_string(c, r, api, o, "truncation_direction", &dir) < 0) return -1;
    if (!truncate) return XF_TRUNCATE_NONE;
    if (!dir || !strcasecmp(dir, "right")) return XF_TRUNCATE_RIGHT;
    if (!strcasecmp(dir, "left")) return XF_TRUNCATE_LEFT;
    return sv_reply_error(r, &c->server->metrics, api, BAD_TYPE(api), SV_ERR_VALIDATION,
                          "'truncation_direction' must be \"Left\" or \"Right\", got '%s'", dir);
}

/* Appends one sequence, truncating or refusing what is over the limit. */
static int append(sv_call *c, sv_reply *r, sv_api api, sv_seqs *q, int64_t *cap, int32_t idx, const int32_t *ids,
                  int64_t n, int32_t prompt, int truncate) {
    int64_t max = c->server->cfg.max_input_tokens, skip = 0;
    if (n == 0) return sv_reply_error(r, &c->server->metrics, api, 400, SV_ERR_VALIDATION, "input %d is empty", idx);
    if (n > max) {
        if (truncate == XF_TRUNCATE_NONE)
            return sv_reply_error(r, &c->server->metrics, api, 413, SV_ERR_TOO_LARGE,
                                  "input %d has %lld tokens, more than the %lld allowed (ask for truncation with "
                                  "\"truncate\": true)", idx, (long long)n, (long long)max);
        if (truncate == XF_TRUNCATE_LEFT) skip = n - max;
        n = max;
    }
    if (q->n_tokens + n > *cap) {
        int64_t c2 = *cap ? *cap * 2 : 1024;
        while (c2 < q->n_tokens + n) c2 *= 2;
        int32_t *g = realloc(q->tokens, sizeof(int32_t) * (size_t)c2);
        if (!g) return sv_reply_error(r, &c->server->metrics, api, 500, SV_ERR_OTHER, "out of memory");
        q->tokens = g, *cap = c2;
    }
    memcpy(q->tokens + q->n_tokens, ids + skip, sizeof(int32_t) * (size_t)n);
    q->n_tokens += n;
    q->lens[q->n] = (int32_t)n;
    q->prompt[q->n] = skip ? 0 : prompt;
    q->n++;
    return 0;
}

static int alloc_seqs(sv_call *c, sv_reply *r, sv_api api, int32_t n, sv_seqs *out) {
    memset(out, 0, sizeof *out);
    if (n > c->server->cfg.max_inputs)
        return sv_reply_error(r, &c->server->metrics, api, 413, SV_ERR_TOO_LARGE, "%d inputs, more than the %d allowed per request", n,
                              c->server->cfg.max_inputs);
    if (n == 0) return sv_reply_error(r, &c->server->metrics, api, 400, SV_ERR_VALIDATION, "no inputs");
    out->lens = calloc((size_t)n, sizeof(int32_t));
    out->prompt = calloc((size_t)n, sizeof(int32_t));
    if (!out->lens || !out->prompt) return sv_reply_error(r, &c->server->metrics, api, 500, SV_ERR_OTHER, "out of memory");
    return 0;
}

static int tokenize_error(sv_call *c, sv_reply *r, sv_api api, xf_status st) {
    if (st == XF_ERR_UNSUPPORTED)
        return sv_reply_error(r, &c->server->metrics, api, BAD_TYPE(api), SV_ERR_TOKENIZER, "not supported here: %s",
                              *xf_last_error() ? xf_last_error() : "pairs and prompts");
    return sv_reply_error(r, &c->server->metrics, api, 422, SV_ERR_TOKENIZER, "tokenization failed: %s", xf_last_error());
}

int sv_texts_to_seqs(sv_call *c, sv_reply *r, sv_api api, const char *const *texts, const char *const *pairs, int32_t n,
                     const sv_text_opts *to, sv_seqs *out) {
    if (alloc_seqs(c, r, api, n, out) < 0) return -1;
    if (!c->server->tok)
        return sv_reply_error(r, &c->server->metrics, api, 422, SV_ERR_TOKENIZER,
                              "the model folder has no tokenizer.json: send token ids instead of text");
    for (int32_t i = 0; i < n; i++)
        if (!texts[i][0] && (!pairs || !pairs[i][0]))
            return sv_reply_error(r, &c->server->metrics, api, 400, SV_ERR_VALIDATION, "input %d is an empty string", i);
    xf_tokens t;
    xf_status st = sv_tokenize(c->server, texts, pairs, n, to->prompt, to->add_special, to->truncate,
                               to->truncate == XF_TRUNCATE_NONE ? INT32_MAX : c->server->cfg.max_input_tokens, &t);
    if (st != XF_OK) return tokenize_error(c, r, api, st);
    int64_t cap = 0, off = 0;
    int rc = 0;
    for (int32_t i = 0; i < n && rc == 0; i++) {
        rc = append(c, r, api, out, &cap, i, t.tokens + off, t.seq_lens[i], t.prompt_lens ? t.prompt_lens[i] : 0,
                    to->truncate);
        off += t.seq_lens[i];
    }
    sv_tokens_free(&t);
    return rc;
}

/* A JSON array of token ids, checked against the vocabulary; NULL after an error reply. */
static int32_t *token_array(sv_call *c, sv_reply *r, sv_api api, json_t *a, int32_t idx, size_t *n) {
    size_t k = json_array_size(a);
    int32_t *ids = malloc(sizeof(int32_t) * (k ? k : 1));
    if (!ids) {
        sv_reply_error(r, &c->server->metrics, api, 500, SV_ERR_OTHER, "out of memory");
        return NULL;
    }
    for (size_t j = 0; j < k; j++) {
        json_t *x = json_array_get(a, j);
        json_int_t v = json_is_integer(x) ? json_integer_value(x) : -1;
        if (v < 0 || v >= c->server->info.vocab_size) {
            free(ids);
            sv_reply_error(r, &c->server->metrics, api, BAD_TYPE(api), SV_ERR_VALIDATION,
                           "input %d, token %zu: must be an integer id in [0, %d)", idx, j, c->server->info.vocab_size);
            return NULL;
        }
        ids[j] = (int32_t)v;
    }
    *n = k;
    return ids;
}

static int all_integers(json_t *a) {
    size_t k = json_array_size(a);
    for (size_t j = 0; j < k; j++)
        if (!json_is_integer(json_array_get(a, j))) return 0;
    return k > 0;
}

int sv_get_inputs(sv_call *c, sv_reply *r, sv_api api, json_t *v, const char *field, const sv_text_opts *to,
                  sv_seqs *out) {
    memset(out, 0, sizeof *out);
    if (!v) return sv_reply_error(r, &c->server->metrics, api, BAD_TYPE(api), SV_ERR_VALIDATION, "'%s' is required", field);
    /* one input (a string or one token array), or a list of them */
    json_t *one = json_is_string(v) || (json_is_array(v) && all_integers(v)) ? v : NULL;
    if (!one && !json_is_array(v))
        return sv_reply_error(r, &c->server->metrics, api, BAD_TYPE(api), SV_ERR_VALIDATION,
                              "'%s' must be a string, an array of strings, or arrays of token ids", field);
    size_t n = one ? 1 : json_array_size(v);
    if (n > (size_t)c->server->cfg.max_inputs) n = (size_t)c->server->cfg.max_inputs + 1;   /* alloc_seqs refuses */
    if (alloc_seqs(c, r, api, (int32_t)n, out) < 0) return -1;
    /* the texts go to the tokenizer together, then everything is laid out in order */
    const char **texts = calloc(n, sizeof *texts);
    int32_t n_texts = 0;
    if (!texts) return sv_reply_error(r, &c->server->metrics, api, 500, SV_ERR_OTHER, "out of memory");
    for (size_t i = 0; i < n; i++) {
        json_t *x = one ? one : json_array_get(v, i);
        if (json_is_string(x)) texts[n_texts++] = json_string_value(x);
        else if (!json_is_array(x)) {
            free(texts);
            return sv_reply_error(r, &c->server->metrics, api, BAD_TYPE(api), SV_ERR_VALIDATION,
                                  "'%s'[%zu] must be a string or an array of token ids", field, i);
        }
    }
    sv_seqs tx = {0};
    if (n_texts > 0 && sv_texts_to_seqs(c, r, api, texts, NULL, n_texts, to, &tx) < 0) {
        free(texts);
        sv_seqs_free(&tx);
        return -1;
    }
    free(texts);
    int64_t cap = 0, toff = 0;
    int32_t ti = 0;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *x = one ? one : json_array_get(v, i);
        if (json_is_string(x)) {
            rc = append(c, r, api, out, &cap, (int32_t)i, tx.tokens + toff, tx.lens[ti], tx.prompt[ti], XF_TRUNCATE_NONE);
            toff += tx.lens[ti++];
        } else {
            size_t k = 0;
            int32_t *ids = token_array(c, r, api, x, (int32_t)i, &k);
            if (!ids) rc = -1;
            else rc = append(c, r, api, out, &cap, (int32_t)i, ids, (int64_t)k, 0, to->truncate);
            free(ids);
        }
    }
    sv_seqs_free(&tx);
    return rc;
}

int sv_run_job(sv_call *c, sv_reply *r, sv_api api, sv_job *job) {
    if (sv_queue_run(c->server->queue, job, sv_call_alive, c) == XF_OK) return 0;
    return sv_reply_error(r, &c->server->metrics, api, api == SV_API_OPENAI ? 500 : 424, SV_ERR_BACKEND,
                          "inference failed: %s", job->error);
}
