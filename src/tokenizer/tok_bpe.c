/* tok_bpe.c — the BPE model on one pre-tokenized piece, as `tokenizers` does it:
 * characters (bytes, for byte-level models) → vocabulary ids, with byte fallback
 * ("<0xNN>") and (fused) unknown tokens; then merges, lowest rank first and leftmost on
 * ties. Short words use a linear scan, long ones a binary heap; both give the order of
 * `tokenizers`' heap. An id that takes part in no merge can never merge, so a long word
 * (a whole Llama 2 segment is one word) is merged in chunks cut at such ids. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

#define SMALL_WORD 24   /* symbols up to which the linear scan is used */

typedef struct sym {
    int32_t id;         /* -1 once merged into its left neighbour */
    int32_t prev, next; /* neighbours, -1 at the ends */
} sym;

typedef struct heap_item {
    uint32_t rank, pos;
    int32_t new_id;
} heap_item;

/* A word being built: the chunk of symbols not yet merged. */
typedef struct word {
    tok_ctx *c;
    size_t n;           /* symbols in c->syms */
} word;

static xf_status grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return XF_OK;
    size_t cap2 = *cap ? *cap : 64;
    while (cap2 < need) cap2 *= 2;
    void *q = realloc(*p, cap2 * size);
    if (!q) return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
    *p = q;
    *cap = cap2;
    return XF_OK;
}

static inline int heap_less(const heap_item *a, const heap_item *b)
{
    return a->rank != b->rank ? a->rank < b->rank : a->pos < b->pos;
}

static void heap_push(heap_item *h, size_t *n, heap_item x)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_less(&x, &h[parent])) break;
        h[i] = h[parent];
        i = parent;
    }
    h[i] = x;
}

static heap_item heap_pop(heap_item *h, size_t *n)
{
    heap_item top = h[0], last = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= *n) break;
        if (child + 1 < *n && heap_less(&h[child + 1], &h[child])) child++;
        if (!heap_less(&h[child], &last)) break;
        h[i] = h[child];
        i = child;
    }
    if (*n) h[i] = last;
    return top;
}

/* Merges ids[0..n) in place with a linear scan; returns the new length. */
static size_t merge_small(const tok_pairmap *merges, int32_t *ids, size_t n)
{
    tok_merge m[SMALL_WORD];  /* m[i]: merge of (ids[i], ids[i+1]); rank UINT32_MAX if none */
    for (size_t i = 0; i + 1 < n; i++)
        if (!tok_pairmap_get(merges, ids[i], ids[i + 1], &m[i])) m[i].rank = UINT32_MAX;
    while (n > 1) {
        size_t best = 0;
        for (size_t i = 1; i + 1 < n; i++)
            if (m[i].rank < m[best].rank) best = i;
        if (m[best].rank == UINT32_MAX) break;
        ids[best] = m[best].new_id;
        memmove(ids + best + 1, ids + best + 2, (n - best - 2) * sizeof(*ids));
        memmove(m + best, m + best + 1, (n - best - 2) * sizeof(*m));
        n--;
        if (best > 0 && !tok_pairmap_get(merges, ids[best - 1], ids[best], &m[best - 1]))
            m[best - 1].rank = UINT32_MAX;
        if (best + 1 < n && !tok_pairmap_get(merges, ids[best], ids[best + 1], &m[best]))
            m[best].rank = UINT32_MAX;
    }
    return n;
}

/* Merges the symbols s[0..n) with a heap, like tokenizers' Word::merge_all. */
static xf_status merge_heap(tok_ctx *c, sym *s, size_t n)
{
    const tok_pairmap *merges = &c->t->merges;
    /* At most n - 1 entries at the start, and each merge pops one and pushes at most
     * two, over at most n - 1 merges: 2n entries always suffice. */
    xf_status st = grow(&c->heap, &c->heap_cap, 2 * n, sizeof(heap_item));
    if (st != XF_OK) return st;
    heap_item *h = c->heap;
    size_t hn = 0;
    tok_merge m;
    for (size_t i = 0; i + 1 < n; i++)
        if (tok_pairmap_get(merges, s[i].id, s[i + 1].id, &m))
            heap_push(h, &hn, (heap_item){m.rank, (uint32_t)i, m.new_id});
    while (hn) {
        heap_item top = heap_pop(h, &hn);
        sym *left = &s[top.pos];
        if (left->id < 0 || left->next < 0) continue;
        sym *right = &s[left->next];
        /* A stale entry: the pair at this position has changed since. */
        if (!tok_pairmap_get(merges, left->id, right->id, &m) || m.new_id != top.new_id) continue;
        left->id = top.new_id;
        right->id = -1;
        left->next = right->next;
        if (right->next >= 0) s[right->next].prev = (int32_t)top.pos;
        if (left->prev >= 0 && tok_pairmap_get(merges, s[left->prev].id, left->id, &m))
            heap_push(h, &hn, (heap_item){m.rank, (uint32_t)left->prev, m.new_id});
        if (left->next >= 0 && tok_pairmap_get(merges, left->id, s[left->next].id, &m))
            heap_push(h, &hn, (heap_item){m.rank, top.pos, m.new_id});
    }
    for (int32_t i = 0; i >= 0; i = s[i].next)
        if ((st = tok_ctx_push(c, s[i].id)) != XF_OK) return st;
    return XF_OK;
}

/* Merges the pending chunk and appends its ids to the output. */
static xf_status word_flush(word *w)
{
    tok_ctx *c = w->c;
    size_t n = w->n;
    w->n = 0;
    if (n == 0) return XF_OK;
    sym *s = c->syms;
    xf_status st = XF_OK;
    if (n <= SMALL_WORD) {
        int32_t ids[SMALL_WORD];
        for (size_t i = 0; i < n; i++) ids[i] = s[i].id;
        n = merge_small(&c->t->merges, ids, n);
        for (size_t i = 0; i < n && st == XF_OK; i++) st = tok_ctx_push(c, ids[i]);
        return st;
    }
    for (size_t i = 0; i < n; i++) {
        s[i].prev = (int32_t)i - 1;
        s[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    return merge_heap(c, s, n);
}

/* Adds one initial symbol to the word. */
static xf_status word_add(word *w, int32_t id)
{
    tok_ctx *c = w->c;
    if (!c->t->in_merge[id]) {  /* a boundary: nothing merges across it */
        xf_status st = word_flush(w);
        return st != XF_OK ? st : tok_ctx_push(c, id);
    }
    if (w->n >= INT32_MAX - 1)
        return xf_error(XF_ERR_INVALID_ARG, "tokenizer: text piece too long");
    xf_status st = grow(&c->syms, &c->syms_cap, w->n + 1, sizeof(sym));
    if (st != XF_OK) return st;
    ((sym *)c->syms)[w->n++].id = id;
    return XF_OK;
}

/* Bytes tok_utf8_decode reads for a character starting with byte b. */
static size_t utf8_width(char b)
{
    unsigned char u = (unsigned char)b;
    return u < 0x80 ? 1 : u < 0xE0 ? 2 : u < 0xF0 ? 3 : 4;
}

/* Vocabulary id of one character (one byte for byte-level models), or -1. */
static int32_t unit_id(const xf_tokenizer *t, const char *s, size_t len)
{
    if (t->byte_level) return len == 1 ? t->byte_ids[(uint8_t)s[0]] : -1;
    if (len <= 3) {
        int32_t cp;
        tok_utf8_decode(s, &cp);
        return t->bmp_ids[cp];
    }
    return tok_strmap_get(&t->vocab, s, len);
}

static xf_status bpe_build(tok_ctx *c, const char *s, size_t n)
{
    const xf_tokenizer *t = c->t;
    word w = {.c = c};
    xf_status st = XF_OK;
    int32_t unk = -1;  /* a pending unknown token, not yet added */
    size_t i = 0;
    while (i < n) {
        size_t len = 1;
        if (!t->byte_level) {  /* one character, never read past the piece */
            int32_t cp;
            if (((unsigned char)s[i] & 0xC0) == 0x80 || utf8_width(s[i]) > n - i)
                return xf_error(XF_ERR_INVALID_ARG, "tokenizer %s: a text piece is not whole UTF-8 characters",
                                t->path);
            len = (size_t)tok_utf8_decode(s + i, &cp);
        }
        int32_t id = unit_id(t, s + i, len);
        if (id >= 0) {
            if (unk >= 0 && (st = word_add(&w, unk)) != XF_OK) return st;
            unk = -1;
            if ((st = word_add(&w, id)) != XF_OK) return st;
            i += len;
            continue;
        }
        int fell_back = 0;
        if (t->byte_fallback) {
            fell_back = 1;
            for (size_t b = 0; b < len; b++)
                if (t->fallback_ids[(uint8_t)s[i + b]] < 0) fell_back = 0;
            /* As in tokenizers, a pending unknown token is not added before the bytes. */
            for (size_t b = 0; fell_back && b < len; b++)
                if ((st = word_add(&w, t->fallback_ids[(uint8_t)s[i + b]])) != XF_OK) return st;
        }
        if (!fell_back && t->unk_token) {
            if (t->unk_id < 0) {
                return xf_error(XF_ERR_FORMAT, "tokenizer %s: unk_token \"%s\" is not in the vocab",
                                t->path, t->unk_token);
            }
            if (unk >= 0 && !t->fuse_unk && (st = word_add(&w, unk)) != XF_OK) return st;
            unk = t->unk_id;
        }
        /* No byte fallback and no unk_token: the character is dropped, as in tokenizers. */
        i += len;
    }
    if (unk >= 0 && (st = word_add(&w, unk)) != XF_OK) return st;
    return word_flush(&w);
}

xf_status tok_bpe_word(tok_ctx *c, const char *s, size_t n)
{
    const xf_tokenizer *t = c->t;
    const int32_t *cached;
    size_t n_cached;
    xf_status st = XF_OK;
    if (c->cache && tok_cache_get(c->cache, s, n, &cached, &n_cached)) {
        for (size_t i = 0; i < n_cached && st == XF_OK; i++) st = tok_ctx_push(c, cached[i]);
        return st;
    }
    if (t->ignore_merges) {
        int32_t id = tok_strmap_get(&t->vocab, s, n);
        if (id >= 0) return tok_ctx_push(c, id);
    }
    size_t first = c->n_ids;
    if ((st = bpe_build(c, s, n)) != XF_OK) return st;
    if (c->cache)  /* a word can give no ids (characters dropped: no unk, no byte fallback) */
        tok_cache_put(c->cache, s, n, c->n_ids > first ? c->ids + first : NULL, c->n_ids - first);
    return XF_OK;
}

void tok_bpe_scratch_free(tok_ctx *c)
{
    free(c->syms);
    free(c->heap);
    c->syms = c->heap = NULL;
    c->syms_cap = c->heap_cap = 0;
}
