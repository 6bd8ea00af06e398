/* tok_pair.c — pairs of texts through the post-processor's pair template
 * (cross-encoders, "text_pair"), the post-processor on ids already encoded, and
 * looking a token up by its text. As the tokenizers library: each text is encoded
 * on its own without special tokens, then the post-processors run over both —
 * TemplateProcessing's "pair", Bert's cls A sep B sep, Roberta's cls A sep sep B sep. */
#include <stdlib.h>
#include <string.h>

#include "tok_pair.h"
#include "tokenizer.h"

/* out = the items of a template with $A = a and $B = b. */
static xf_status fill(const tok_post_item *items, size_t n_items, const int32_t *a, size_t na, const int32_t *b,
                      size_t nb, int32_t **out, size_t *n_out) {
    size_t total = 0;
    for (size_t i = 0; i < n_items; i++) total += items[i].ids ? items[i].n_ids : items[i].n_ids ? nb : na;
    int32_t *ids = malloc((total ? total : 1) * sizeof(*ids));
    if (!ids) return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
    size_t k = 0;
    for (size_t i = 0; i < n_items; i++) {
        const int32_t *src = items[i].ids ? items[i].ids : items[i].n_ids ? b : a;
        size_t cnt = items[i].ids ? items[i].n_ids : items[i].n_ids ? nb : na;
        if (cnt) memcpy(ids + k, src, cnt * sizeof(*ids));
        k += cnt;
    }
    *out = ids;
    *n_out = total;
    return XF_OK;
}

xf_status tok_post_apply(const xf_tokenizer *t, const int32_t *a, size_t na, const int32_t *b, size_t nb,
                         int add_special, int32_t **ids, size_t *n) {
    int32_t *cur = NULL;
    size_t n_cur = 0;
    int merged = b == NULL;   /* one sequence from here on */
    xf_status st = XF_OK;
    *ids = NULL;
    *n = 0;
    for (int i = 0; add_special && i < t->n_post && st == XF_OK; i++) {
        const tok_post *p = &t->post[i];
        if (p->kind == TOK_POST_BYTELEVEL) continue;   /* it only trims offsets */
        if (!merged && !p->n_pair)
            return free(cur), xf_error(XF_ERR_UNSUPPORTED, "tokenizer %s: the post-processor has no pair template",
                                       t->path);
        int32_t *next = NULL;
        size_t n_next = 0;
        if (merged) st = fill(p->items, p->n_items, cur ? cur : a, cur ? n_cur : na, NULL, 0, &next, &n_next);
        else st = fill(p->pair, p->n_pair, a, na, b, nb, &next, &n_next);
        free(cur);
        cur = next, n_cur = n_next, merged = 1;
    }
    if (st == XF_OK && !merged) {   /* no post-processor: the two sequences one after the other */
        static const tok_post_item concat[2] = {{NULL, 0}, {NULL, 1}};
        st = fill(concat, 2, a, na, b, nb, &cur, &n_cur);
    } else if (st == XF_OK && !cur) {
        static const tok_post_item single[1] = {{NULL, 0}};
        st = fill(single, 1, a, na, NULL, 0, &cur, &n_cur);
    }
    if (st != XF_OK) return free(cur), st;
    *ids = cur;
    *n = n_cur;
    return XF_OK;
}

xf_status xf_tokenizer_encode_pair(const xf_tokenizer *t, const char *a, size_t alen, const char *b, size_t blen,
                                   int add_special, int32_t **ids, size_t *n_ids) {
    int32_t *ia = NULL, *ib = NULL;
    size_t na = 0, nb = 0;
    if (ids) *ids = NULL;
    if (n_ids) *n_ids = 0;
    if (!t || !ids || !n_ids || (!a && alen) || (!b && blen))
        return xf_error(XF_ERR_INVALID_ARG, "xf_tokenizer_encode_pair: NULL argument");
    xf_status st = xf_tokenizer_encode(t, a ? a : "", alen, 0, &ia, &na);
    if (st == XF_OK) st = xf_tokenizer_encode(t, b ? b : "", blen, 0, &ib, &nb);
    if (st == XF_OK) st = tok_post_apply(t, ia, na, ib, nb, add_special, ids, n_ids);
    free(ia);
    free(ib);
    return st;
}

int32_t xf_tokenizer_token_id(const xf_tokenizer *t, const char *token) {
    if (!t || !token) return -1;
    size_t len = strlen(token);
    for (size_t i = 0; i < t->n_added; i++)
        if (t->added[i].raw_len == len && !memcmp(t->added[i].raw, token, len)) return t->added[i].id;
    for (int32_t id = 0; id < t->n_ids; id++)   /* the vocabulary as written in tokenizer.json */
        if (t->id_token[id] && t->id_token_len[id] == len && !memcmp(t->id_token[id], token, len)) return id;
    return -1;
}
