/* tok_hash.h — the hash tables of the tokenizer: token text → id (vocabulary),
 * (left id, right id) → merge (BPE merges), and a bounded word → ids cache.
 * Open addressing with linear probing; capacities are powers of two. */
#ifndef XF_TOK_HASH_H
#define XF_TOK_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "xfwd.h"

uint64_t tok_hash_bytes(const void *p, size_t n);

/* ---- string → int32 */
typedef struct tok_strmap_entry {
    uint32_t off, len;      /* key bytes in keys[off .. off+len) */
    int32_t val;
    uint32_t hash;          /* low bits of the hash, checked before the bytes */
} tok_strmap_entry;

typedef struct tok_strmap {
    uint32_t *slots;        /* [cap] entry index + 1; 0 = empty */
    size_t cap;
    tok_strmap_entry *ent;  /* [n] */
    size_t n, ent_cap;
    char *keys;             /* all keys, back to back */
    size_t keys_len, keys_cap;
} tok_strmap;

/* Inserts or overwrites. */
xf_status tok_strmap_put(tok_strmap *m, const char *s, size_t n, int32_t val);
/* The value of key s, or -1. */
int32_t tok_strmap_get(const tok_strmap *m, const char *s, size_t n);
void tok_strmap_free(tok_strmap *m);

/* ---- (int32, int32) → merge */
typedef struct tok_merge {
    uint32_t rank;          /* position in the merges list: lower merges first */
    int32_t new_id;         /* id of the merged token */
} tok_merge;

typedef struct tok_pairmap {
    uint64_t *keys;         /* [cap] (left << 32 | right); UINT64_MAX = empty */
    tok_merge *vals;        /* [cap] */
    size_t cap, n;
} tok_pairmap;

static inline uint64_t tok_pair_key(int32_t a, int32_t b)
{
    return ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
}
static inline uint64_t tok_pair_mix(uint64_t k)
{
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    return k;
}
/* Inserts or overwrites (a later duplicate merge wins, as in `tokenizers`). */
xf_status tok_pairmap_put(tok_pairmap *m, int32_t a, int32_t b, tok_merge v);
/* Looks (a, b) up; returns 1 and fills *v when present. */
static inline int tok_pairmap_get(const tok_pairmap *m, int32_t a, int32_t b, tok_merge *v)
{
    if (!m->cap) return 0;
    uint64_t key = tok_pair_key(a, b);
    size_t mask = m->cap - 1;
    for (size_t i = (size_t)tok_pair_mix(key) & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == key) {
            *v = m->vals[i];
            return 1;
        }
        if (m->keys[i] == UINT64_MAX) return 0;
    }
}
void tok_pairmap_free(tok_pairmap *m);

/* ---- word → ids cache (bounded: cleared when full) */
typedef struct tok_cache_entry {
    uint64_t hash;
    uint32_t key_off, key_len;
    uint32_t ids_off, n_ids;
} tok_cache_entry;

typedef struct tok_cache {
    uint32_t *slots;        /* [TOK_CACHE_SLOTS] entry index + 1 */
    tok_cache_entry *ent;   /* [TOK_CACHE_ENTRIES] */
    size_t n;
    char *keys;             /* [TOK_CACHE_KEY_BYTES] */
    size_t keys_len;
    int32_t *ids;           /* [TOK_CACHE_IDS] */
    size_t ids_len;
} tok_cache;

#define TOK_CACHE_MAX_WORD 256  /* longer words are not cached */

/* Looks up a word: returns 1 and points *ids at the cached ids. */
int tok_cache_get(const tok_cache *c, const char *s, size_t n, const int32_t **ids, size_t *n_ids);
/* Stores a word's ids; allocates the cache on first use; failures are silent. */
void tok_cache_put(tok_cache *c, const char *s, size_t n, const int32_t *ids, size_t n_ids);
void tok_cache_free(tok_cache *c);

#endif /* XF_TOK_HASH_H */
