/* rerank.c — xf_engine_rerank: relevance of documents to a query, two ways.
 *  - A *ForSequenceClassification model (a cross-encoder) scores each (query,
 *    document) pair through the tokenizer's pair template: sigmoid of its one
 *    logit, or for two labels the softmax entry of label 1 (sentence-transformers'
 *    CrossEncoder).
 *  - A causal LM follows the Qwen3-Reranker recipe: prefix + "<Instruct>: …\n<Query>:
 *    …\n<Document>: …" + suffix, each part tokenized on its own as the recipe does
 *    (the middle with the tokenizer's special tokens), then the last token's logits
 *    at "yes" and "no" (xf_engine_last_logits: no [T, V] logits) → P(yes) =
 *    softmax([yes, no])[0]. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "model.h"
#include "pipeline.h"

static const char default_prefix[] =
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct "
    "provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n";
static const char default_suffix[] = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
static const char default_instruction[] =
    "Given a web search query, retrieve relevant passages that answer the query";

void xf_rerank_options_init(xf_rerank_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->truncate = XF_TRUNCATE_NONE;
}

/* The cross-encoder: (query, doc) pairs through the score head. */
static xf_status rerank_classifier(xf_engine *e, const xf_tokenizer *t, const char *query, const char *const *docs,
                                   int32_t n, const xf_rerank_options *o, float *scores) {
    xf_status st = XF_OK;
    const xf_model *m = xf_engine_model(e);
    const int32_t L = m->cfg.num_labels;
    const char **queries = NULL;
    float *logits = NULL;
    xf_tokens toks = {0};
    XF_CHECK(L == 1 || L == 2, XF_ERR_UNSUPPORTED,
             "%s: a reranker's score head has 1 or 2 labels (this one has %d)", m->dir, L);
    XF_ALLOC(queries, n);
    for (int32_t i = 0; i < n; i++) queries[i] = query;
    xf_text_options to;
    xf_text_options_init(&to);
    to.truncate = o->truncate;
    XF_TRY(xf_tokenize_texts(m, t, queries, docs, n, &to, &toks));
    const int64_t count = (int64_t)n * L;
    XF_ALLOC(logits, count);
    xf_batch b = {.tokens = toks.tokens, .seq_lens = toks.seq_lens, .n_seqs = toks.n_seqs};
    XF_TRY(xf_engine_classify(e, &b, logits));
    for (int32_t i = 0; i < n; i++) {
        /* one label: sigmoid(l); two: softmax(l)[1] = sigmoid(l1 - l0) */
        double z = L == 1 ? logits[i] : (double)logits[i * 2 + 1] - logits[i * 2];
        scores[i] = (float)(o->raw_scores ? z : 1.0 / (1.0 + exp(-z)));
    }
cleanup:
    free(queries);
    free(logits);
    xf_tokens_free(&toks);
    return st;
}

/* Appends src [n] to dst at *k. */
static void append(int32_t *dst, int64_t *k, const int32_t *src, size_t n) {
    memcpy(dst + *k, src, n * sizeof(*src));
    *k += (int64_t)n;
}

/* Token id of a yes/no token written exactly, or an error naming it. */
static xf_status answer_id(const xf_tokenizer *t, const char *token, int32_t vocab, int32_t *id) {
    *id = xf_tokenizer_token_id(t, token);
    if (*id < 0) return xf_error(XF_ERR_INVALID_ARG, "rerank: \"%s\" is not a token of the tokenizer", token);
    if (*id >= vocab)
        return xf_error(XF_ERR_INVALID_ARG, "rerank: token \"%s\" has id %d, outside the model's vocabulary", token,
                        *id);
    return XF_OK;
}

/* The Qwen3-Reranker recipe on a causal LM. */
static xf_status rerank_lm(xf_engine *e, const xf_tokenizer *t, const char *query, const char *const *docs,
                           int32_t n, const xf_rerank_options *o, float *scores) {
    xf_status st = XF_OK;
    const xf_model *m = xf_engine_model(e);
    const char *prefix = o->prefix ? o->prefix : default_prefix;
    const char *suffix = o->suffix ? o->suffix : default_suffix;
    const char *instr = o->instruction ? o->instruction : default_instruction;
    int32_t ids[2];
    int32_t *pre = NULL, *suf = NULL, *body = NULL, *tokens = NULL, *lens = NULL;
    size_t npre = 0, nsuf = 0, nbody = 0;
    char *text = NULL;
    float *logits = NULL;
    int64_t cap = 0, k = 0;
    XF_CHECK(m->lm_head.data, XF_ERR_UNSUPPORTED,
             "%s: reranking needs a score head (a cross-encoder) or an lm_head (the yes/no recipe); this "
             "checkpoint has neither",
             m->dir);
    XF_TRY(answer_id(t, o->yes_token ? o->yes_token : "yes", m->cfg.vocab, &ids[0]));
    XF_TRY(answer_id(t, o->no_token ? o->no_token : "no", m->cfg.vocab, &ids[1]));
    XF_TRY(xf_tokenizer_encode(t, prefix, strlen(prefix), 0, &pre, &npre));
    XF_TRY(xf_tokenizer_encode(t, suffix, strlen(suffix), 0, &suf, &nsuf));
    xf_model_info info;
    XF_TRY(xf_model_get_info(m, &info));
    const int64_t limit = info.max_position;
    XF_CHECK((int64_t)(npre + nsuf) < limit, XF_ERR_INVALID_ARG,
             "rerank: prefix and suffix take %zu tokens; the model takes at most %lld", npre + nsuf, (long long)limit);
    const size_t budget = (size_t)limit - npre - nsuf;
    XF_ALLOC(lens, n);
    for (int32_t i = 0; i < n; i++) {
        XF_CHECK(docs[i], XF_ERR_INVALID_ARG, "rerank: document %d is NULL", i);
        size_t len = strlen(instr) + strlen(query) + strlen(docs[i]) + 48;
        XF_ALLOC(text, len);
        snprintf(text, len, "<Instruct>: %s\n<Query>: %s\n<Document>: %s", instr, query, docs[i]);
        /* the middle with the tokenizer's special tokens, cut (if asked) before they are added */
        xf_text_options to;
        xf_text_options_init(&to);
        to.truncate = o->truncate;
        to.max_length = (int32_t)budget;
        const char *one[1] = {text};
        xf_tokens mid = {0};
        if (xf_tokenize_texts(m, t, one, NULL, 1, &to, &mid) != XF_OK) {
            char why[1024];
            snprintf(why, sizeof why, "%s", xf_last_error());
            XF_CHECK(0, XF_ERR_INVALID_ARG, "rerank: document %d (after a prefix and suffix of %zu tokens): %s", i,
                     npre + nsuf, why);
        }
        body = mid.tokens, nbody = (size_t)mid.n_tokens, mid.tokens = NULL;
        xf_tokens_free(&mid);
        int64_t need = k + (int64_t)(npre + nbody + nsuf);
        if (need > cap) {
            int64_t c = cap ? cap : 4096;
            while (c < need) c *= 2;
            int32_t *g = realloc(tokens, sizeof(int32_t) * (size_t)c);
            XF_CHECK(g, XF_ERR_NO_MEMORY, "out of host memory");
            tokens = g, cap = c;
        }
        append(tokens, &k, pre, npre);
        append(tokens, &k, body, nbody);
        append(tokens, &k, suf, nsuf);
        lens[i] = (int32_t)(npre + nbody + nsuf);
        free(text), free(body), text = NULL, body = NULL;
    }
    const int64_t count = (int64_t)n * 2;
    XF_ALLOC(logits, count);
    xf_batch b = {.tokens = tokens, .seq_lens = lens, .n_seqs = n};
    XF_TRY(xf_engine_last_logits(e, &b, ids, 2, logits));
    for (int32_t i = 0; i < n; i++) {
        double z = (double)logits[2 * i] - logits[2 * i + 1];   /* softmax([yes, no])[0] = sigmoid(yes - no) */
        scores[i] = (float)(o->raw_scores ? z : 1.0 / (1.0 + exp(-z)));
    }
cleanup:
    free(pre), free(suf), free(body), free(text), free(tokens), free(lens), free(logits);
    return st;
}

xf_status xf_engine_rerank(xf_engine *e, const xf_tokenizer *t, const char *query, const char *const *docs,
                           int32_t n_docs, const xf_rerank_options *o, float *scores) {
    xf_rerank_options dflt;
    if (!e || !t || !query || !docs || !scores) return xf_error(XF_ERR_INVALID_ARG, "xf_engine_rerank: NULL argument");
    if (n_docs < 1) return xf_error(XF_ERR_INVALID_ARG, "xf_engine_rerank: no documents");
    if (!o) xf_rerank_options_init(&dflt), o = &dflt;
    if ((unsigned)o->truncate > XF_TRUNCATE_LEFT)
        return xf_error(XF_ERR_INVALID_ARG, "xf_engine_rerank: unknown truncation %d", (int)o->truncate);
    if (xf_engine_model(e)->score.data) return rerank_classifier(e, t, query, docs, n_docs, o, scores);
    return rerank_lm(e, t, query, docs, n_docs, o, scores);
}
