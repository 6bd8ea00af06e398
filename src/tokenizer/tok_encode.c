/* tok_encode.c — xf_tokenizer_encode: validates the text, splits out added tokens,
 * normalizes and pre-tokenizes the rest, runs the BPE model, then the post-processor
 * (TemplateProcessing's BOS and the like) when add_special is set. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

xf_status tok_buf_reserve(tok_buf *b, size_t cap)
{
    if (cap <= b->cap) return XF_OK;
    size_t cap2 = b->cap ? b->cap : 256;
    while (cap2 < cap) cap2 *= 2;
    char *p = realloc(b->p, cap2);
    if (!p) return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
    b->p = p;
    b->cap = cap2;
    return XF_OK;
}

xf_status tok_buf_append(tok_buf *b, const char *s, size_t n)
{
    xf_status st = tok_buf_reserve(b, b->n + n + 1);
    if (st != XF_OK) return st;
    if (n) memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
    return XF_OK;
}

void tok_buf_free(tok_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

xf_status tok_ctx_push(tok_ctx *c, int32_t id)
{
    if (c->n_ids == c->cap_ids) {
        size_t cap = c->cap_ids ? c->cap_ids * 2 : 256;
        int32_t *ids = realloc(c->ids, cap * sizeof(*ids));
        if (!ids) return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
        c->ids = ids;
        c->cap_ids = cap;
    }
    c->ids[c->n_ids++] = id;
    return XF_OK;
}

void tok_ctx_release(tok_ctx *c)
{
    free(c->ids);
    for (int i = 0; i < TOK_MAX_STEPS; i++) tok_buf_free(&c->pre_scratch[i]);
    tok_buf_free(&c->norm_scratch[0]);
    tok_buf_free(&c->norm_scratch[1]);
    tok_bpe_scratch_free(c);
    pcre2_match_data_free(c->md);
    pcre2_match_context_free(c->mctx);
    pcre2_jit_stack_free(c->jit_stack);
    memset(c, 0, sizeof(*c));
}

/* Drops scratch buffers that a very long text made large, before keeping the context. */
static void ctx_trim(tok_ctx *c)
{
    const size_t keep = 1u << 20;
    for (int i = 0; i < TOK_MAX_STEPS; i++)
        if (c->pre_scratch[i].cap > keep) tok_buf_free(&c->pre_scratch[i]);
    for (int i = 0; i < 2; i++)
        if (c->norm_scratch[i].cap > keep) tok_buf_free(&c->norm_scratch[i]);
    if (c->syms_cap > keep / 8 || c->heap_cap > keep / 8) tok_bpe_scratch_free(c);
}

static xf_status on_normalized_text(tok_ctx *c, const char *s, size_t n)
{
    return tok_pretokenize(c, s, n);
}

/* Text between two non-normalized added tokens: normalize, split out the normalized
 * added tokens, pre-tokenize and encode. */
static xf_status on_raw_text(tok_ctx *c, const char *s, size_t n)
{
    const char *ns;
    size_t nn;
    xf_status st = tok_normalize(c, s, n, &ns, &nn);
    if (st != XF_OK) return st;
    if (c->t->trie_norm.n_nodes) return tok_split_added(c, &c->t->trie_norm, ns, nn, on_normalized_text);
    return tok_pretokenize(c, ns, nn);
}

/* Applies one post-processor to ids [n] (the single-sequence case). */
static xf_status post_process(const tok_post *p, int32_t **ids, size_t *n)
{
    if (p->kind == TOK_POST_BYTELEVEL) return XF_OK;  /* it only trims offsets */
    size_t total = 0;
    for (size_t i = 0; i < p->n_items; i++) total += p->items[i].ids ? p->items[i].n_ids : *n;
    int32_t *out = malloc((total ? total : 1) * sizeof(*out));
    if (!out) return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
    size_t k = 0;
    for (size_t i = 0; i < p->n_items; i++) {
        const int32_t *src = p->items[i].ids ? p->items[i].ids : *ids;
        size_t cnt = p->items[i].ids ? p->items[i].n_ids : *n;
        if (cnt) memcpy(out + k, src, cnt * sizeof(*out));
        k += cnt;
    }
    free(*ids);
    *ids = out;
    *n = total;
    return XF_OK;
}

xf_status xf_tokenizer_encode(const xf_tokenizer *t, const char *text, size_t len, int add_special,
                              int32_t **ids, size_t *n_ids)
{
    if (ids) *ids = NULL;
    if (n_ids) *n_ids = 0;
    if (!t || !ids || !n_ids || (!text && len))
        return xf_error(XF_ERR_INVALID_ARG, "xf_tokenizer_encode: NULL argument");
    size_t valid = tok_utf8_valid_prefix(text, len);
    if (valid != len) {
        return xf_error(XF_ERR_INVALID_ARG,
                        "xf_tokenizer_encode: text is not valid UTF-8 (byte 0x%02X at offset %zu)",
                        (unsigned)(unsigned char)text[valid], valid);
    }
    xf_tokenizer *mut = (xf_tokenizer *)t;  /* only the cache and spare are written, under the lock */
    int locked = pthread_mutex_trylock(&mut->cache_lock) == 0;
    tok_ctx c = locked ? mut->spare : (tok_ctx){0};
    c.t = t;
    c.cache = locked ? &mut->cache : NULL;
    c.ids = NULL;
    c.n_ids = c.cap_ids = 0;
    xf_status st = tok_split_added(&c, &t->trie_raw, text ? text : "", len, on_raw_text);
    for (int i = 0; st == XF_OK && add_special && i < t->n_post; i++)
        st = post_process(&t->post[i], &c.ids, &c.n_ids);
    if (st == XF_OK && !c.ids) st = tok_ctx_push(&c, 0), c.n_ids = 0;  /* never hand out NULL */
    if (st == XF_OK) {
        *ids = c.ids;
        *n_ids = c.n_ids;
    } else {
        free(c.ids);
    }
    c.ids = NULL;
    if (locked) {
        ctx_trim(&c);
        mut->spare = c;
        pthread_mutex_unlock(&mut->cache_lock);
        return st;
    }
    tok_ctx_release(&c);
    return st;
}
