/* tok_hash.c — open-addressing hash tables of the tokenizer (see tok_hash.h). */
#include "tok_hash.h"

#include <stdlib.h>
#include <string.h>

#include "error.h"

#define TOK_CACHE_SLOTS (1u << 17)
#define TOK_CACHE_ENTRIES (1u << 16)
#define TOK_CACHE_KEY_BYTES (4u << 20)
#define TOK_CACHE_IDS (1u << 20)

/* A small multiply-xorshift hash over 8-byte blocks; good enough for token text. */
uint64_t tok_hash_bytes(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint64_t h = 0x9E3779B97F4A7C15ull ^ ((uint64_t)n * 0xff51afd7ed558ccdull);
    while (n >= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 31;
        s += 8;
        n -= 8;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)s[i] << (8 * i);
    h = (h ^ v) * 0x94d049bb133111ebull;
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 32;
    return h;
}

static xf_status no_memory(void)
{
    return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
}

/* ---------------------------------------------------------------- string → int32 */

static void strmap_insert_slot(tok_strmap *m, uint32_t hash, uint32_t index)
{
    size_t mask = m->cap - 1;
    size_t i = hash & mask;
    while (m->slots[i]) i = (i + 1) & mask;
    m->slots[i] = index + 1;
}

static xf_status strmap_grow(tok_strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint32_t *slots = calloc(cap, sizeof(*slots));
    if (!slots) return no_memory();
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    for (size_t e = 0; e < m->n; e++) strmap_insert_slot(m, m->ent[e].hash, (uint32_t)e);
    return XF_OK;
}

int32_t tok_strmap_get(const tok_strmap *m, const char *s, size_t n)
{
    if (!m->cap) return -1;
    uint32_t hash = (uint32_t)tok_hash_bytes(s, n);
    size_t mask = m->cap - 1;
    for (size_t i = hash & mask; m->slots[i]; i = (i + 1) & mask) {
        const tok_strmap_entry *e = &m->ent[m->slots[i] - 1];
        if (e->hash == hash && e->len == n && memcmp(m->keys + e->off, s, n) == 0) return e->val;
    }
    return -1;
}

xf_status tok_strmap_put(tok_strmap *m, const char *s, size_t n, int32_t val)
{
    uint32_t hash = (uint32_t)tok_hash_bytes(s, n);
    if (m->cap) {
        size_t mask = m->cap - 1;
        for (size_t i = hash & mask; m->slots[i]; i = (i + 1) & mask) {
            tok_strmap_entry *e = &m->ent[m->slots[i] - 1];
            if (e->hash == hash && e->len == n && memcmp(m->keys + e->off, s, n) == 0) {
                e->val = val;
                return XF_OK;
            }
        }
    }
    if (n > UINT32_MAX || m->keys_len + n > UINT32_MAX || m->n >= UINT32_MAX - 1)
        return xf_error(XF_ERR_FORMAT, "tokenizer: vocabulary too large");
    if ((m->n + 1) * 2 > m->cap) {
        xf_status st = strmap_grow(m);
        if (st != XF_OK) return st;
    }
    if (m->n == m->ent_cap) {
        size_t cap = m->ent_cap ? m->ent_cap * 2 : 1024;
        tok_strmap_entry *ent = realloc(m->ent, cap * sizeof(*ent));
        if (!ent) return no_memory();
        m->ent = ent;
        m->ent_cap = cap;
    }
    if (m->keys_len + n > m->keys_cap) {
        size_t cap = m->keys_cap ? m->keys_cap : 4096;
        while (cap < m->keys_len + n) cap *= 2;
        char *keys = realloc(m->keys, cap);
        if (!keys) return no_memory();
        m->keys = keys;
        m->keys_cap = cap;
    }
    if (n) memcpy(m->keys + m->keys_len, s, n);
    m->ent[m->n] = (tok_strmap_entry){.off = (uint32_t)m->keys_len, .len = (uint32_t)n,
                                      .val = val, .hash = hash};
    m->keys_len += n;
    strmap_insert_slot(m, hash, (uint32_t)m->n);
    m->n++;
    return XF_OK;
}

void tok_strmap_free(tok_strmap *m)
{
    free(m->slots);
    free(m->ent);
    free(m->keys);
    memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------------- pair → merge */

static xf_status pairmap_grow(tok_pairmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 1024;
    uint64_t *keys = malloc(cap * sizeof(*keys));
    tok_merge *vals = malloc(cap * sizeof(*vals));
    if (!keys || !vals) {
        free(keys);
        free(vals);
        return no_memory();
    }
    memset(keys, 0xff, cap * sizeof(*keys));
    for (size_t i = 0; i < m->cap; i++) {
        if (m->keys[i] == UINT64_MAX) continue;
        size_t j = (size_t)tok_pair_mix(m->keys[i]) & (cap - 1);
        while (keys[j] != UINT64_MAX) j = (j + 1) & (cap - 1);
        keys[j] = m->keys[i];
        vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
    return XF_OK;
}

xf_status tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, tok_merge v)
{
    if ((m->n + 1) * 2 > m->cap) {
        xf_status st = pairmap_grow(m);
        if (st != XF_OK) return st;
    }
    uint64_t key = tok_pair_key(a, b);
    size_t mask = m->cap - 1;
    size_t i = (size_t)tok_pair_mix(key) & mask;
    while (m->keys[i] != UINT64_MAX && m->keys[i] != key) i = (i + 1) & mask;
    if (m->keys[i] == UINT64_MAX) m->n++;
    m->keys[i] = key;
    m->vals[i] = v;
    return XF_OK;
}

void tok_pairmap_free(tok_pairmap *m)
{
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof(*m));
}

/* ---------------------------------------------------------------- word cache */

int tok_cache_get(const tok_cache *c, const char *s, size_t n, const int32_t **ids, size_t *n_ids)
{
    if (!c->slots || n > TOK_CACHE_MAX_WORD) return 0;
    uint64_t hash = tok_hash_bytes(s, n);
    size_t mask = TOK_CACHE_SLOTS - 1;
    for (size_t i = (size_t)hash & mask; c->slots[i]; i = (i + 1) & mask) {
        const tok_cache_entry *e = &c->ent[c->slots[i] - 1];
        if (e->hash == hash && e->key_len == n && memcmp(c->keys + e->key_off, s, n) == 0) {
            *ids = c->ids + e->ids_off;
            *n_ids = e->n_ids;
            return 1;
        }
    }
    return 0;
}

void tok_cache_put(tok_cache *c, const char *s, size_t n, const int32_t *ids, size_t n_ids)
{
    if (n > TOK_CACHE_MAX_WORD || n_ids > n) return;
    if (!c->slots) {
        c->slots = calloc(TOK_CACHE_SLOTS, sizeof(*c->slots));
        c->ent = malloc(TOK_CACHE_ENTRIES * sizeof(*c->ent));
        c->keys = malloc(TOK_CACHE_KEY_BYTES);
        c->ids = malloc(TOK_CACHE_IDS * sizeof(*c->ids));
        if (!c->slots || !c->ent || !c->keys || !c->ids) {
            tok_cache_free(c);
            return;
        }
    }
    if (c->n == TOK_CACHE_ENTRIES || c->keys_len + n > TOK_CACHE_KEY_BYTES ||
        c->ids_len + n_ids > TOK_CACHE_IDS) {
        /* Full: start over. Simple, and the common words come back quickly. */
        memset(c->slots, 0, TOK_CACHE_SLOTS * sizeof(*c->slots));
        c->n = c->keys_len = c->ids_len = 0;
    }
    uint64_t hash = tok_hash_bytes(s, n);
    size_t mask = TOK_CACHE_SLOTS - 1;
    size_t i = (size_t)hash & mask;
    while (c->slots[i]) i = (i + 1) & mask;
    memcpy(c->keys + c->keys_len, s, n);
    if (n_ids) memcpy(c->ids + c->ids_len, ids, n_ids * sizeof(*ids));
    c->ent[c->n] = (tok_cache_entry){.hash = hash, .key_off = (uint32_t)c->keys_len,
                                     .key_len = (uint32_t)n, .ids_off = (uint32_t)c->ids_len,
                                     .n_ids = (uint32_t)n_ids};
    c->keys_len += n;
    c->ids_len += n_ids;
    c->slots[i] = (uint32_t)++c->n;
}

void tok_cache_free(tok_cache *c)
{
    free(c->slots);
    free(c->ent);
    free(c->keys);
    free(c->ids);
    memset(c, 0, sizeof(*c));
}
