/* tok_added.c — added tokens (special and not) found inside the text, before the
 * normalizer and the model see it. Leftmost-longest matching over a byte trie, then
 * the single_word / lstrip / rstrip rules of `tokenizers`' AddedVocabulary. */
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

void tok_trie_init(tok_trie *tr)
{
    memset(tr, 0, sizeof(*tr));
    for (int i = 0; i < 256; i++) tr->root[i] = -1;
}

void tok_trie_free(tok_trie *tr)
{
    free(tr->nodes);
    tok_trie_init(tr);
}

static int32_t trie_new_node(tok_trie *tr, uint8_t byte)
{
    if (tr->n_nodes == tr->cap) {
        size_t cap = tr->cap ? tr->cap * 2 : 64;
        tok_trie_node *nodes = realloc(tr->nodes, cap * sizeof(*nodes));
        if (!nodes) return -1;
        tr->nodes = nodes;
        tr->cap = cap;
    }
    tr->nodes[tr->n_nodes] = (tok_trie_node){-1, -1, -1, byte};
    return (int32_t)tr->n_nodes++;
}

xf_status tok_trie_add(tok_trie *tr, const char *s, size_t n, int32_t token)
{
    if (n == 0) return XF_OK;  /* an empty token never matches */
    const uint8_t *u = (const uint8_t *)s;
    int32_t node = tr->root[u[0]];
    if (node < 0) {
        node = trie_new_node(tr, u[0]);
        if (node < 0) return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
        tr->root[u[0]] = node;
    }
    for (size_t i = 1; i < n; i++) {
        int32_t child = tr->nodes[node].first_child;
        while (child >= 0 && tr->nodes[child].byte != u[i]) child = tr->nodes[child].next_sibling;
        if (child < 0) {
            child = trie_new_node(tr, u[i]);
            if (child < 0) return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
            tr->nodes[child].next_sibling = tr->nodes[node].first_child;
            tr->nodes[node].first_child = child;
        }
        node = child;
    }
    if (tr->nodes[node].token < 0) tr->nodes[node].token = token;  /* first definition wins */
    return XF_OK;
}

/* Longest token starting at s[0..n): its index, with *len; -1 if none. */
static int32_t trie_longest(const tok_trie *tr, const uint8_t *s, size_t n, size_t *len)
{
    int32_t node = tr->root[s[0]], best = -1;
    size_t i = 1;
    while (node >= 0) {
        if (tr->nodes[node].token >= 0) {
            best = tr->nodes[node].token;
            *len = i;
        }
        if (i == n) break;
        int32_t child = tr->nodes[node].first_child;
        while (child >= 0 && tr->nodes[child].byte != s[i]) child = tr->nodes[child].next_sibling;
        node = child;
        i++;
    }
    return best;
}

/* Last / first character of a string (valid UTF-8, non-empty). */
static int32_t last_char(const char *s, size_t n)
{
    size_t i = n - 1;
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
    int32_t cp;
    tok_utf8_decode(s + i, &cp);
    return cp;
}

/* Start of the run of whitespace that ends s[0..n). */
static size_t trailing_space_start(const char *s, size_t n)
{
    while (n > 0) {
        size_t i = n - 1;
        while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
        int32_t cp;
        tok_utf8_decode(s + i, &cp);
        if (!tok_is_whitespace(cp)) break;
        n = i;
    }
    return n;
}

/* Length of the run of whitespace that starts s[0..n). */
static size_t leading_space_len(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        int32_t cp;
        int w = tok_utf8_decode(s + i, &cp);
        if (!tok_is_whitespace(cp)) break;
        i += (size_t)w;
    }
    return i;
}

xf_status tok_split_added(tok_ctx *c, const tok_trie *tr, const char *s, size_t n,
                          tok_text_fn on_text)
{
    const xf_tokenizer *t = c->t;
    const uint8_t *u = (const uint8_t *)s;
    xf_status st = XF_OK;
    size_t done = 0;  /* text before this is consumed */
    size_t pos = 0;   /* where the search for the next match starts */
    while (tr->n_nodes && pos < n) {
        if (tr->root[u[pos]] < 0) {
            pos++;
            continue;
        }
        size_t len = 0;
        int32_t k = trie_longest(tr, u + pos, n - pos, &len);
        if (k < 0) {
            pos++;
            continue;
        }
        const tok_added_token *a = &t->added[k];
        size_t start = pos, stop = pos + len;
        pos = stop;
        if (a->single_word) {
            int32_t cp;
            int start_ok = start == 0 || !tok_is_word_char(last_char(s, start));
            int stop_ok = stop == n || (tok_utf8_decode(s + stop, &cp), !tok_is_word_char(cp));
            if (!start_ok || !stop_ok) continue;
        }
        if (a->lstrip) {
            start = trailing_space_start(s, start);
            if (start < done) start = done;
        }
        if (a->rstrip) stop += leading_space_len(s + stop, n - stop);
        if (start < done) start = done;  /* overlap after an rstrip: never re-emit text */
        if (start > done) {
            st = on_text(c, s + done, start - done);
            if (st != XF_OK) return st;
        }
        st = tok_ctx_push(c, a->id);
        if (st != XF_OK) return st;
        done = stop;
        if (pos < stop) pos = stop;
    }
    if (done < n || n == 0) st = on_text(c, s + done, n - done);
    return st;
}
