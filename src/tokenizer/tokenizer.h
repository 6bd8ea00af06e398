/* tokenizer.h — internals of the Hugging Face tokenizer.json reader (BPE models).
 *
 * The pipeline follows the `tokenizers` library, stage by stage:
 *   text → added tokens split out (tok_added.c) → normalizer per remaining segment
 *   (tok_normalize.c) → pre-tokenizer chain (tok_pretok.c) → BPE model per piece
 *   (tok_bpe.c) → post-processor (tok_encode.c);
 *   ids → token strings → decoder chain (tok_decode.c).
 * Byte-level models (a ByteLevel pre-tokenizer) keep their vocabulary keyed by raw bytes,
 * so the byte→character mapping of GPT-2 never has to be applied to the text. */
#ifndef XF_TOKENIZER_H
#define XF_TOKENIZER_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "tok_hash.h"
#include "xfwd.h"

#define TOK_MAX_STEPS 8   /* normalizers / pre-tokenizers / decoders / processors per chain */

/* ---------------------------------------------------------------- pipeline stages */

typedef enum tok_norm_kind {
    TOK_NORM_NFC, TOK_NORM_NFD, TOK_NORM_NFKC, TOK_NORM_NFKD, TOK_NORM_PREPEND, TOK_NORM_REPLACE
} tok_norm_kind;

typedef struct tok_normalizer {
    tok_norm_kind kind;
    char *pattern;          /* Replace: literal text to replace */
    size_t pattern_len;
    char *content;          /* Prepend: prefix; Replace: replacement */
    size_t content_len;
} tok_normalizer;

typedef enum tok_split_behavior {
    TOK_SPLIT_ISOLATED, TOK_SPLIT_REMOVED, TOK_SPLIT_MERGED_PREV, TOK_SPLIT_MERGED_NEXT,
    TOK_SPLIT_CONTIGUOUS
} tok_split_behavior;

typedef enum tok_pretok_kind { TOK_PRE_SPLIT, TOK_PRE_BYTELEVEL } tok_pretok_kind;

typedef struct tok_pretok {
    tok_pretok_kind kind;
    pcre2_code *re;             /* Split pattern; ByteLevel: the GPT-2 regex when use_regex */
    tok_split_behavior behavior;
    int invert;
    int add_prefix_space;       /* ByteLevel */
} tok_pretok;

typedef enum tok_post_kind { TOK_POST_TEMPLATE, TOK_POST_BYTELEVEL, TOK_POST_BERT } tok_post_kind;

/* One item of a template: a run of special-token ids, or a sequence. */
typedef struct tok_post_item {
    int32_t *ids;           /* NULL for a sequence: "$A" (n_ids 0) or "$B" (n_ids 1) */
    size_t n_ids;
} tok_post_item;

typedef struct tok_post {
    tok_post_kind kind;
    tok_post_item *items;   /* TEMPLATE: [n_items]; BERT/Roberta: cls, $A, sep */
    size_t n_items;
    tok_post_item *pair;    /* the pair template: [n_pair]; Bert: cls $A sep $B sep,
                               Roberta: cls $A sep sep $B sep */
    size_t n_pair;
} tok_post;

typedef enum tok_dec_kind {
    TOK_DEC_BYTELEVEL, TOK_DEC_REPLACE, TOK_DEC_BYTEFALLBACK, TOK_DEC_FUSE, TOK_DEC_STRIP
} tok_dec_kind;

typedef struct tok_decoder {
    tok_dec_kind kind;
    char *pattern;          /* Replace */
    size_t pattern_len;
    char *content;          /* Replace: replacement; Strip: the character (UTF-8) */
    size_t content_len;
    int strip_start, strip_stop;
} tok_decoder;

/* ---------------------------------------------------------------- added tokens */

typedef struct tok_added_token {
    char *content;          /* as matched and decoded: normalized when `normalized` */
    size_t len;
    char *raw;              /* as written in the file (its id is looked up with this) */
    size_t raw_len;
    int32_t id;
    uint8_t single_word, lstrip, rstrip, normalized, special;
} tok_added_token;

/* Byte trie over added-token contents; matching is leftmost-longest like the
 * Aho-Corasick automaton of `tokenizers`. */
typedef struct tok_trie_node {
    int32_t first_child, next_sibling;
    int32_t token;          /* index into the added tokens ending here, or -1 */
    uint8_t byte;
} tok_trie_node;

typedef struct tok_trie {
    tok_trie_node *nodes;   /* [n_nodes] every node below the root */
    size_t n_nodes, cap;
    int32_t root[256];      /* root's child per first byte, -1 if none */
} tok_trie;

/* A growable byte buffer. */
typedef struct tok_buf {
    char *p;
    size_t n, cap;
} tok_buf;

/* Everything one encode call owns: output ids, scratch buffers, regex match data.
 * The scratch part is kept in the tokenizer between calls (see `spare`). */
typedef struct tok_ctx {
    const xf_tokenizer *t;
    tok_cache *cache;               /* NULL when another call holds the cache */
    int32_t *ids;                   /* output [n_ids] */
    size_t n_ids, cap_ids;
    tok_buf pre_scratch[TOK_MAX_STEPS];
    tok_buf norm_scratch[2];
    void *syms;                     /* BPE scratch (tok_bpe.c) */
    size_t syms_cap;
    void *heap;
    size_t heap_cap;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;     /* made when a match runs out of the default stack */
} tok_ctx;

/* ---------------------------------------------------------------- the tokenizer */

struct xf_tokenizer {
    char *path;

    /* BPE model */
    tok_strmap vocab;           /* token bytes → id (raw bytes for byte-level models) */
    tok_pairmap merges;         /* (left id, right id) → rank, merged id */
    uint8_t *in_merge;          /* [n_ids] 1 if the id is a left or right part of some merge */
    char **id_token;            /* [n_ids] token text as written in the file (NULL: unused id) */
    uint32_t *id_token_len;     /* [n_ids] */
    char *token_text;           /* the vocabulary's token texts that id_token points into */
    int32_t n_ids;              /* 1 + largest id of the vocab and the added tokens */
    int byte_level;             /* the pre-tokenizer maps bytes through ByteLevel */
    int32_t byte_ids[256];      /* byte-level: id of each single byte, -1 if absent */
    int32_t *bmp_ids;           /* [65536] non-byte-level: id of each single BMP char, -1 */
    int32_t fallback_ids[256];  /* byte_fallback: id of "<0xNN>", -1 if absent */
    int byte_fallback, fuse_unk, ignore_merges;
    char *unk_token;            /* NULL if none */
    int32_t unk_id;             /* -1 if none or not in the vocab */

    /* added tokens */
    tok_added_token *added;     /* [n_added] */
    size_t n_added;
    tok_trie trie_raw;          /* tokens with normalized = false, matched in the input */
    tok_trie trie_norm;         /* tokens with normalized = true, matched after normalizing */

    /* stages */
    tok_normalizer norm[TOK_MAX_STEPS];
    int n_norm;
    tok_pretok pre[TOK_MAX_STEPS];
    int n_pre;
    tok_post post[TOK_MAX_STEPS];
    int n_post;
    tok_decoder dec[TOK_MAX_STEPS];
    int n_dec;
    int has_decoder;

    /* The word cache and a spare encode context (its scratch buffers and regex match
     * data), used by one encode call at a time: a call that finds the lock taken runs
     * without them. */
    pthread_mutex_t cache_lock;
    tok_cache cache;
    tok_ctx spare;
};

xf_status tok_buf_reserve(tok_buf *b, size_t cap);
xf_status tok_buf_append(tok_buf *b, const char *s, size_t n);
void tok_buf_free(tok_buf *b);

xf_status tok_ctx_push(tok_ctx *c, int32_t id);
void tok_ctx_release(tok_ctx *c);

/* ---------------------------------------------------------------- between files */

/* tok_utf8.c */
/* Length of the longest valid UTF-8 prefix of s[0..n) (== n when valid). */
size_t tok_utf8_valid_prefix(const char *s, size_t n);
/* Decodes one code point of valid UTF-8 at s; returns its byte length. */
int tok_utf8_decode(const char *s, int32_t *cp);
/* Appends s as UTF-8 with each maximal invalid subsequence replaced by U+FFFD
 * (as Rust's String::from_utf8_lossy). */
xf_status tok_utf8_append_lossy(tok_buf *out, const char *s, size_t n);
/* GPT-2 ByteLevel map: the byte of a mapped character, or -1 if not in the map. */
int tok_bytelevel_byte(int32_t cp);
/* Converts a mapped token (UTF-8) to raw bytes in out; returns 0 if a character
 * is not in the map. out must hold len bytes. */
int tok_bytelevel_unmap(const char *s, size_t len, char *out, size_t *out_len);
int tok_is_whitespace(int32_t cp);     /* Unicode White_Space (Rust char::is_whitespace) */
int tok_is_word_char(int32_t cp);      /* Rust regex \w (single_word tokens) */

/* tok_unicode.c: Unicode-version compatibility with `tokenizers` (see there) */
extern const char tok_re_extra_letters[];   /* PCRE2 class items to add to \p{L} */
extern const char tok_re_extra_numbers[];   /* ... and to \p{N} */
int tok_nfc_opaque(int32_t cp);             /* a character the reference's normalizer does not know */
int tok_word_char_new(int32_t cp);          /* a \w character newer than utf8proc */

/* tok_load.c / tok_stages.c */
/* normalizer, pre_tokenizer, decoder: before the model (byte_level decides its keys) */
xf_status tok_load_stages(xf_tokenizer *t, void *root_json);
/* post_processor: after the model and added tokens (its ids are checked against n_ids) */
xf_status tok_load_post(xf_tokenizer *t, void *root_json);
void tok_stages_free(xf_tokenizer *t);
/* Compiles a regex of tokenizer.json for PCRE2 (UTF, UCP; JIT when available). */
xf_status tok_regex_compile(const xf_tokenizer *t, const char *pattern, size_t len, int literal,
                            pcre2_code **out);

/* tok_normalize.c: runs the normalizer chain on s; *out points either to s or to
 * one of the context's scratch buffers. */
xf_status tok_normalize(tok_ctx *c, const char *s, size_t n, const char **out, size_t *out_n);
/* Same, into a malloc'ed NUL-terminated string (for added-token contents at load). */
xf_status tok_normalize_alloc(const xf_tokenizer *t, const char *s, size_t n, char **out,
                              size_t *out_n);

/* tok_pretok.c: pre-tokenizes one normalized segment and runs the model on each piece. */
xf_status tok_pretokenize(tok_ctx *c, const char *s, size_t n);

/* tok_bpe.c: the BPE model on one piece; appends ids to c. */
xf_status tok_bpe_word(tok_ctx *c, const char *s, size_t n);
void tok_bpe_scratch_free(tok_ctx *c);

/* tok_added.c */
xf_status tok_trie_add(tok_trie *tr, const char *s, size_t n, int32_t token);
void tok_trie_init(tok_trie *tr);
void tok_trie_free(tok_trie *tr);
/* Splits s by the added tokens of the trie; calls on_text for the text between
 * them and emits the tokens' ids. */
typedef xf_status (*tok_text_fn)(tok_ctx *c, const char *s, size_t n);
xf_status tok_split_added(tok_ctx *c, const tok_trie *tr, const char *s, size_t n,
                          tok_text_fn on_text);

#endif /* XF_TOKENIZER_H */
