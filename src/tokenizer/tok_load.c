/* tok_load.c — xf_tokenizer_open / xf_tokenizer_free: reads a Hugging Face
 * tokenizer.json (jansson) into the BPE model (vocabulary, merges with ranks), the
 * added tokens and the pipeline stages (tok_stages.c). A malformed file fails with
 * XF_ERR_FORMAT and a message naming it. */
#define _POSIX_C_SOURCE 200809L  /* strdup */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tokenizer.h"

#define MAX_ID (1 << 24)  /* ids beyond this are taken as a malformed file */

/* Fills the encoding keys of the vocabulary; t->n_ids becomes 1 + the largest id. */
static xf_status load_vocab(xf_tokenizer *t, const json_t *vocab, size_t *text_bytes)
{
    const char *key;
    const json_t *val;
    char *raw = NULL;
    size_t raw_cap = 0;
    xf_status st = XF_OK;
    *text_bytes = 0;
    json_object_foreach((json_t *)vocab, key, val) {
        json_int_t id = json_integer_value(val);
        size_t len = strlen(key);
        if (!json_is_integer(val) || id < 0 || id >= MAX_ID) {
            st = xf_error(XF_ERR_FORMAT, "tokenizer %s: vocab entry \"%.40s\" has no valid id", t->path, key);
            break;
        }
        if (id >= t->n_ids) t->n_ids = (int32_t)id + 1;
        *text_bytes += len + 1;
        if (len == 6 && !strncmp(key, "<0x", 3) && key[5] == '>') {  /* byte fallback "<0xNN>" */
            unsigned v;
            char check[8];
            if (sscanf(key + 3, "%2X", &v) == 1 && snprintf(check, sizeof(check), "<0x%02X>", v) == 6 &&
                !strcmp(check, key))
                t->fallback_ids[v] = (int32_t)id;
        }
        const char *k = key;
        if (t->byte_level) {  /* keys become raw bytes; unmappable tokens cannot be produced */
            if (len > raw_cap) {
                char *r = realloc(raw, len);
                if (!r) {
                    st = xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
                    break;
                }
                raw = r;
                raw_cap = len;
            }
            if (!tok_bytelevel_unmap(key, len, raw, &len)) continue;
            k = raw;
            if (len == 1) t->byte_ids[(uint8_t)raw[0]] = (int32_t)id;
        }
        if ((st = tok_strmap_put(&t->vocab, k, len, (int32_t)id)) != XF_OK) break;
    }
    free(raw);
    return st;
}

/* Model id of a token written as in the file, or -1. */
static int32_t model_token_id(const xf_tokenizer *t, const char *s, size_t n, char *tmp)
{
    if (!t->byte_level) return tok_strmap_get(&t->vocab, s, n);
    size_t len;
    if (!tok_bytelevel_unmap(s, n, tmp, &len)) return -1;
    return tok_strmap_get(&t->vocab, tmp, len);
}

/* The added_tokens array (optional). As in `tokenizers`, the "id" written in the file is
 * not used: a token already in the model's vocab takes that id, a repeated content keeps
 * its first id, and a new token takes the next id after the vocab and the added tokens. */
static xf_status load_added(xf_tokenizer *t, const json_t *root, size_t vocab_size)
{
    const json_t *list = json_object_get(root, "added_tokens");
    if (!list || json_is_null(list)) return XF_OK;
    if (!json_is_array(list))
        return xf_error(XF_ERR_FORMAT, "tokenizer %s: \"added_tokens\" is not an array", t->path);
    size_t n = json_array_size(list);
    int32_t max_added = -1;
    t->added = calloc(n ? n : 1, sizeof(*t->added));
    if (!t->added) return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *o = json_array_get(list, i);
        const json_t *id = json_object_get(o, "id"), *content = json_object_get(o, "content");
        if (!json_is_integer(id) || !json_is_string(content))
            return xf_error(XF_ERR_FORMAT, "tokenizer %s: added token %zu needs an id and a content", t->path, i);
        if (json_string_length(content) == 0) continue;  /* ignored, as in tokenizers */
        tok_added_token *a = &t->added[t->n_added];
        a->raw_len = json_string_length(content);
        a->raw = malloc(a->raw_len + 1);
        if (!a->raw) return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
        memcpy(a->raw, json_string_value(content), a->raw_len + 1);
        t->n_added++;  /* from here on xf_tokenizer_free releases it */
        a->special = json_is_true(json_object_get(o, "special"));
        const json_t *norm = json_object_get(o, "normalized");
        a->normalized = json_is_boolean(norm) ? json_is_true(norm) : !a->special;
        a->single_word = json_is_true(json_object_get(o, "single_word"));
        a->lstrip = json_is_true(json_object_get(o, "lstrip"));
        a->rstrip = json_is_true(json_object_get(o, "rstrip"));
        a->id = -1;
        for (size_t k = 0; k + 1 < t->n_added && a->id < 0; k++)
            if (t->added[k].raw_len == a->raw_len && !memcmp(t->added[k].raw, a->raw, a->raw_len))
                a->id = t->added[k].id;
        if (a->id < 0) {
            char *tmp = malloc(a->raw_len);
            if (!tmp) return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
            a->id = model_token_id(t, a->raw, a->raw_len, tmp);
            free(tmp);
        }
        if (a->id < 0) {
            a->id = max_added >= (int64_t)vocab_size || vocab_size == 0 ? max_added + 1 : (int32_t)vocab_size;
            if (a->id >= MAX_ID) return xf_error(XF_ERR_FORMAT, "tokenizer %s: too many added tokens", t->path);
        }
        if (a->id > max_added) max_added = a->id;
        if (a->id >= t->n_ids) t->n_ids = a->id + 1;
        /* A normalized token is matched in normalized text, and `tokenizers` also
         * decodes it to its normalized form. */
        if (!a->normalized) {
            a->content = a->raw;
            a->len = a->raw_len;
        } else {
            xf_status st = tok_normalize_alloc(t, a->raw, a->raw_len, &a->content, &a->len);
            if (st != XF_OK) return st;
        }
    }
    return XF_OK;
}

/* id → token text for decoding (added tokens override the model's), and the
 * single-character lookup table of non-byte-level models. */
static xf_status build_id_tables(xf_tokenizer *t, const json_t *vocab, size_t text_bytes)
{
    size_t n = (size_t)t->n_ids;
    t->id_token = calloc(n ? n : 1, sizeof(*t->id_token));
    t->id_token_len = calloc(n ? n : 1, sizeof(*t->id_token_len));
    t->in_merge = calloc(n ? n : 1, 1);
    t->token_text = malloc(text_bytes ? text_bytes : 1);
    if (!t->byte_level) t->bmp_ids = malloc(65536 * sizeof(*t->bmp_ids));
    if (!t->id_token || !t->id_token_len || !t->in_merge || !t->token_text ||
        (!t->byte_level && !t->bmp_ids))
        return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
    if (t->bmp_ids)
        for (int i = 0; i < 65536; i++) t->bmp_ids[i] = -1;
    const char *key;
    const json_t *val;
    size_t off = 0;
    json_object_foreach((json_t *)vocab, key, val) {
        int32_t id = (int32_t)json_integer_value(val);
        size_t len = strlen(key);
        memcpy(t->token_text + off, key, len + 1);
        t->id_token[id] = t->token_text + off;
        t->id_token_len[id] = (uint32_t)len;
        off += len + 1;
        if (t->bmp_ids && len > 0 && len <= 3) {
            int32_t cp;
            if ((size_t)tok_utf8_decode(key, &cp) == len) t->bmp_ids[cp] = id;
        }
    }
    for (size_t i = 0; i < t->n_added; i++) {
        t->id_token[t->added[i].id] = t->added[i].content;
        t->id_token_len[t->added[i].id] = (uint32_t)t->added[i].len;
    }
    return XF_OK;
}

/* Encoding id of a merge part, or -1 (not in the vocab), or -2 (a byte-level token
 * with characters outside the byte map: such a merge can never apply). */
static int32_t part_id(const xf_tokenizer *t, const char *s, size_t n, tok_buf *tmp)
{
    if (!t->byte_level) return tok_strmap_get(&t->vocab, s, n);
    size_t len;
    if (tok_buf_reserve(tmp, n + 1) != XF_OK) return -3;
    if (!tok_bytelevel_unmap(s, n, tmp->p, &len)) return -2;
    return tok_strmap_get(&t->vocab, tmp->p, len);
}

static xf_status load_merges(xf_tokenizer *t, const json_t *merges)
{
    tok_buf tmp = {0}, joined = {0};
    xf_status st = XF_OK;
    size_t n = json_array_size(merges);
    for (size_t i = 0; i < n && st == XF_OK; i++) {
        const json_t *m = json_array_get(merges, i);
        const char *a, *b;
        size_t na, nb;
        if (json_is_string(m)) {  /* "A B" */
            a = json_string_value(m);
            const char *space = strchr(a, ' ');
            if (!space || strchr(space + 1, ' ') || json_string_length(m) != strlen(a)) {
                st = xf_error(XF_ERR_FORMAT,
                              "tokenizer %s: merge %zu (\"%.40s\") is not two tokens separated by a space",
                              t->path, i, a);
                break;
            }
            na = (size_t)(space - a);
            b = space + 1;
            nb = strlen(b);
        } else if (json_is_array(m) && json_array_size(m) == 2 && json_is_string(json_array_get(m, 0)) &&
                   json_is_string(json_array_get(m, 1))) {  /* ["A", "B"] */
            a = json_string_value(json_array_get(m, 0));
            b = json_string_value(json_array_get(m, 1));
            na = json_string_length(json_array_get(m, 0));
            nb = json_string_length(json_array_get(m, 1));
        } else {
            st = xf_error(XF_ERR_FORMAT, "tokenizer %s: merge %zu is neither \"A B\" nor [\"A\", \"B\"]", t->path, i);
            break;
        }
        int32_t ia = part_id(t, a, na, &tmp), ib = part_id(t, b, nb, &tmp);
        joined.n = 0;
        if ((st = tok_buf_append(&joined, a, na)) != XF_OK || (st = tok_buf_append(&joined, b, nb)) != XF_OK)
            break;
        int32_t inew = part_id(t, joined.p, joined.n, &tmp);
        if (ia == -3 || ib == -3 || inew == -3) {
            st = xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
            break;
        }
        if (ia == -2 || ib == -2) continue;
        if (ia < 0 || ib < 0 || inew < 0) {
            st = xf_error(XF_ERR_FORMAT, "tokenizer %s: merge %zu (\"%.*s\" + \"%.*s\") uses a token not in the vocab",
                          t->path, i, (int)(na < 40 ? na : 40), a, (int)(nb < 40 ? nb : 40), b);
            break;
        }
        st = tok_pairmap_put(&t->merges, ia, ib, (tok_merge){(uint32_t)i, inew});
        t->in_merge[ia] = t->in_merge[ib] = 1;
    }
    tok_buf_free(&tmp);
    tok_buf_free(&joined);
    return st;
}

static xf_status load_model(xf_tokenizer *t, const json_t *root, const json_t *model)
{
    const char *type = json_string_value(json_object_get(model, "type"));
    if (!type && json_object_get(model, "merges")) type = "BPE";  /* untagged BPE */
    if (!type) return xf_error(XF_ERR_FORMAT, "tokenizer %s: model has no \"type\"", t->path);
    if (strcmp(type, "BPE") != 0) {
        int known = !strcmp(type, "WordPiece") || !strcmp(type, "WordLevel") || !strcmp(type, "Unigram");
        return xf_error(known ? XF_ERR_UNSUPPORTED : XF_ERR_FORMAT,
                        "tokenizer %s: %s model type \"%s\" (only BPE is supported)", t->path,
                        known ? "unsupported" : "unknown", type);
    }
    const json_t *vocab = json_object_get(model, "vocab"), *merges = json_object_get(model, "merges");
    if (!json_is_object(vocab)) return xf_error(XF_ERR_FORMAT, "tokenizer %s: model has no \"vocab\" object", t->path);
    if (!json_is_array(merges)) return xf_error(XF_ERR_FORMAT, "tokenizer %s: model has no \"merges\" array", t->path);
    const json_t *dropout = json_object_get(model, "dropout");
    if (json_is_number(dropout) && json_number_value(dropout) > 0.0)
        return xf_error(XF_ERR_UNSUPPORTED, "tokenizer %s: BPE dropout is not supported", t->path);
    const char *prefix = json_string_value(json_object_get(model, "continuing_subword_prefix"));
    const char *suffix = json_string_value(json_object_get(model, "end_of_word_suffix"));
    if ((prefix && *prefix) || (suffix && *suffix))
        return xf_error(XF_ERR_UNSUPPORTED,
                        "tokenizer %s: continuing_subword_prefix / end_of_word_suffix are not supported", t->path);
    t->byte_fallback = json_is_true(json_object_get(model, "byte_fallback"));
    t->fuse_unk = json_is_true(json_object_get(model, "fuse_unk"));
    t->ignore_merges = json_is_true(json_object_get(model, "ignore_merges"));
    const json_t *unk = json_object_get(model, "unk_token");
    if (json_is_string(unk)) {
        t->unk_token = strdup(json_string_value(unk));
        if (!t->unk_token) return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
    }
    size_t text_bytes;
    xf_status st = load_vocab(t, vocab, &text_bytes);
    if (st == XF_OK) st = load_added(t, root, json_object_size(vocab));
    if (st == XF_OK) st = build_id_tables(t, vocab, text_bytes);
    if (st == XF_OK && t->unk_token) {
        size_t len = strlen(t->unk_token);
        char *raw = malloc(len + 1);
        if (!raw) return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
        if (!t->byte_level) t->unk_id = tok_strmap_get(&t->vocab, t->unk_token, len);
        else if (tok_bytelevel_unmap(t->unk_token, len, raw, &len)) t->unk_id = tok_strmap_get(&t->vocab, raw, len);
        free(raw);
    }
    if (st == XF_OK) st = load_merges(t, merges);
    return st;
}

/* Added tokens into the two tries; a normalized token is matched in its normalized form. */
static xf_status build_tries(xf_tokenizer *t)
{
    xf_status st = XF_OK;
    for (size_t i = 0; i < t->n_added && st == XF_OK; i++) {
        const tok_added_token *a = &t->added[i];
        st = tok_trie_add(a->normalized ? &t->trie_norm : &t->trie_raw, a->content, a->len, (int32_t)i);
    }
    return st;
}

/* Every id a post-processor adds must be a token of the vocabulary (or an added
 * token): n_ids bounds the ids, but a vocabulary may have holes, and an id in a
 * hole would be encoded and then refused by decode. */
static xf_status check_post_items(const xf_tokenizer *t, const tok_post_item *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; items[i].ids && k < items[i].n_ids; k++) {
            int32_t id = items[i].ids[k];
            if (id < 0 || id >= t->n_ids || !t->id_token[id])
                return xf_error(XF_ERR_FORMAT, "tokenizer %s: post_processor special token id %d is not in the vocab",
                                t->path, (int)id);
        }
    return XF_OK;
}

static xf_status check_post_ids(const xf_tokenizer *t)
{
    xf_status st = XF_OK;
    for (int p = 0; p < t->n_post && st == XF_OK; p++) {
        st = check_post_items(t, t->post[p].items, t->post[p].n_items);
        if (st == XF_OK) st = check_post_items(t, t->post[p].pair, t->post[p].n_pair);
    }
    return st;
}

xf_status xf_tokenizer_open(const char *path, xf_tokenizer **out)
{
    xf_status st = XF_OK;
    xf_tokenizer *t = NULL;
    json_t *root = NULL;
    if (out) *out = NULL;
    if (!path || !out) return xf_error(XF_ERR_INVALID_ARG, "xf_tokenizer_open: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return xf_error(XF_ERR_IO, "cannot open tokenizer file %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return xf_error(XF_ERR_IO, "cannot read tokenizer file %s: not a regular file", path);
    }
    json_error_t je;
    root = json_loadf(f, 0, &je);
    fclose(f);
    XF_CHECK(root, XF_ERR_FORMAT, "tokenizer %s: not valid JSON (line %d: %s)", path, je.line, je.text);
    XF_CHECK(json_is_object(root), XF_ERR_FORMAT, "tokenizer %s: top level is not a JSON object", path);
    XF_ALLOC(t, 1);
    pthread_mutex_init(&t->cache_lock, NULL);
    tok_trie_init(&t->trie_raw);
    tok_trie_init(&t->trie_norm);
    t->unk_id = -1;
    for (int i = 0; i < 256; i++) t->byte_ids[i] = t->fallback_ids[i] = -1;
    t->path = strdup(path);
    XF_CHECK(t->path, XF_ERR_NO_MEMORY, "out of host memory");
    const json_t *model = json_object_get(root, "model");
    XF_CHECK(json_is_object(model), XF_ERR_FORMAT, "tokenizer %s: no \"model\" object", path);
    XF_TRY(tok_load_stages(t, root));
    XF_TRY(load_model(t, root, model));
    XF_TRY(tok_load_post(t, root));
    XF_TRY(check_post_ids(t));
    XF_TRY(build_tries(t));
    *out = t;
    t = NULL;
cleanup:
    json_decref(root);
    xf_tokenizer_free(t);
    return st;
}

void xf_tokenizer_free(xf_tokenizer *t)
{
    if (!t) return;
    tok_stages_free(t);
    tok_strmap_free(&t->vocab);
    tok_pairmap_free(&t->merges);
    tok_cache_free(&t->cache);
    tok_ctx_release(&t->spare);
    tok_trie_free(&t->trie_raw);
    tok_trie_free(&t->trie_norm);
    for (size_t i = 0; i < t->n_added; i++) {
        if (t->added[i].content != t->added[i].raw) free(t->added[i].content);
        free(t->added[i].raw);
    }
    free(t->added);
    free(t->in_merge);
    free(t->id_token);
    free(t->id_token_len);
    free(t->token_text);
    free(t->bmp_ids);
    free(t->unk_token);
    free(t->path);
    pthread_mutex_destroy(&t->cache_lock);
    free(t);
}
