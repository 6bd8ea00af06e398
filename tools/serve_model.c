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

xf_status sv_forward_embed(sv_server *s, xf_engine *e, const xf_batch *b, const int32_t *prompt_lens, float *out) {
    (void)s;
    xf_encode_options o;
    xf_encode_options_init(&o);
    o.normalize = 0;            /* `normalize` and `dimensions` are per request: applied by the endpoint */
    o.dimensions = 0;
    o.prompt_lens = prompt_lens;
    return xf_engine_encode(e, b, &o, out);
}

xf_status sv_forward_rerank(sv_server *s, xf_engine *e, const sv_job *job, float *scores) {
    xf_rerank_options o;
    xf_rerank_options_init(&o);
    o.raw_scores = job->raw_scores;
    o.truncate = job->truncate;
    o.instruction = job->instruction;
    return xf_engine_rerank(e, s->tok, job->query, job->docs, job->n_docs, &o, scores);
}

xf_status sv_prompt(const sv_server *s, const char *name, const char **text) {
    return xf_model_prompt(s->model, name, text);
}

void sv_tokens_free(xf_tokens *t) { xf_tokens_free(t); }
