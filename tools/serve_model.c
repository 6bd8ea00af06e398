/* serve_model.c — the one place where `xfwd serve` calls the library for text and
 * for the model folder's pipelines: tokenizing texts (prompt, special tokens,
 * truncation), the embedding pipeline of a packed forward, reranking, prompts.
 * The endpoints and the queue go through these functions only, so that the
 * server answers what the CLI answers for the same inputs. */
#include <stdlib.h>
#include <string.h>

#include "serve.h"

void sv_model_describe(sv_server *s) {
    const xf_model_info *i = &s->info;
    s->embed_width = i->embed_dim > 0 ? i->embed_dim : i->hidden_size;
    s->can_rerank = i->num_labels == 1 || i->num_labels == 2 || (i->has_lm_head && s->tok != NULL);
    if (i->num_labels == 1) s->model_type = "reranker";
    else if (i->num_labels > 0) s->model_type = "classifier";
    else s->model_type = "embedding";
}

/* STOP-GAP until the library's text and pipeline functions land (xf_tokenize_texts,
 * xf_engine_encode, xf_engine_rerank, xf_model_prompt): tokenizer.json directly,
 * last-token pooling, no pairs, no reranking, no prompts. */
static xf_status fail(xf_status st, const char *msg) {
    (void)msg;
    return st;
}

xf_status sv_tokenize(const sv_server *s, const char *const *texts, const char *const *pairs, int32_t n,
                      const char *prompt, int add_special, int truncate, int32_t max_len, xf_tokens *out) {
    memset(out, 0, sizeof *out);
    if (pairs || prompt) return fail(XF_ERR_UNSUPPORTED, "pairs and prompts need the library's xf_tokenize_texts");
    if (!s->tok) return XF_ERR_INVALID_ARG;
    out->seq_lens = calloc((size_t)(n ? n : 1), sizeof(int32_t));
    out->prompt_lens = calloc((size_t)(n ? n : 1), sizeof(int32_t));
    if (!out->seq_lens || !out->prompt_lens) goto oom;
    size_t cap = 0;
    for (int32_t i = 0; i < n; i++) {
        int32_t *ids = NULL;
        size_t k = 0;
        xf_status st = xf_tokenizer_encode(s->tok, texts[i], strlen(texts[i]), add_special, &ids, &k);
        if (st != XF_OK) {
            sv_tokens_free(out);
            return st;
        }
        size_t skip = 0;
        if (max_len > 0 && k > (size_t)max_len && truncate != XF_TRUNCATE_NONE) {
            if (truncate == XF_TRUNCATE_LEFT) skip = k - (size_t)max_len;
            k = (size_t)max_len;
        }
        if ((size_t)out->n_tokens + k > cap) {
            size_t c2 = cap ? cap * 2 : 1024;
            while (c2 < (size_t)out->n_tokens + k) c2 *= 2;
            int32_t *g = realloc(out->tokens, c2 * sizeof(int32_t));
            if (!g) {
                free(ids);
                goto oom;
            }
            out->tokens = g, cap = c2;
        }
        if (k) memcpy(out->tokens + out->n_tokens, ids + skip, k * sizeof(int32_t));
        free(ids);
        out->seq_lens[i] = (int32_t)k;
        out->n_tokens += (int64_t)k;
        out->n_seqs = i + 1;
    }
    return XF_OK;
oom:
    sv_tokens_free(out);
    return XF_ERR_NO_MEMORY;
}

void sv_tokens_free(xf_tokens *t) {
    free(t->tokens), free(t->seq_lens), free(t->prompt_lens);
    memset(t, 0, sizeof *t);
}

xf_status sv_forward_embed(sv_server *s, const xf_batch *b, const int32_t *prompt_lens, float *out) {
    (void)prompt_lens;
    return xf_engine_embed(s->engine, b, XF_POOL_LAST, 0, out);
}

xf_status sv_forward_rerank(sv_server *s, const sv_job *job, float *scores) {
    (void)s, (void)job, (void)scores;
    return XF_ERR_UNSUPPORTED;
}

xf_status sv_prompt(const sv_server *s, const char *name, const char **text) {
    (void)s, (void)name;
    *text = NULL;
    return XF_ERR_UNSUPPORTED;
}

#if 0 /* the functions once the library has them */
xf_status sv_tokenize(const sv_server *s, const char *const *texts, const char *const *pairs, int32_t n,
                      const char *prompt, int add_special, int truncate, int32_t max_len, xf_tokens *out) {
    xf_text_options o;
    xf_text_options_init(&o);
    o.prompt = prompt;
    o.add_special = add_special;
    o.truncate = truncate;
    o.max_length = max_len;
    return xf_tokenize_texts(s->model, s->tok, texts, pairs, n, &o, out);
}

xf_status sv_forward_embed(sv_server *s, const xf_batch *b, const int32_t *prompt_lens, float *out) {
    xf_encode_options o;
    xf_encode_options_init(&o);
    o.normalize = 0;            /* `normalize` and `dimensions` are per request: applied by the endpoint */
    o.dimensions = 0;
    o.prompt_lens = prompt_lens;
    return xf_engine_encode(s->engine, b, &o, out);
}

xf_status sv_forward_rerank(sv_server *s, const sv_job *job, float *scores) {
    xf_rerank_options o;
    xf_rerank_options_init(&o);
    o.raw_scores = job->raw_scores;
    o.truncate = job->truncate;
    return xf_engine_rerank(s->engine, s->tok, job->query, job->docs, job->n_docs, &o, scores);
}

xf_status sv_prompt(const sv_server *s, const char *name, const char **text) {
    return xf_model_prompt(s->model, name, text);
}

void sv_tokens_free(xf_tokens *t) { xf_tokens_free(t); }
#endif
