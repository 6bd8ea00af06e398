/* tok_decode.c — xf_tokenizer_decode: ids → token strings (added tokens included),
 * then the decoder chain of tokenizer.json over the list of strings, as `tokenizers`
 * does: ByteLevel, Replace, ByteFallback, Fuse, Strip (Sequence flattened at load). */
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

/* A list of strings: spans of one buffer. */
typedef struct tok_list {
    tok_buf text;
    size_t *off, *len;
    size_t n, cap;
} tok_list;

static void list_free(tok_list *l)
{
    tok_buf_free(&l->text);
    free(l->off);
    free(l->len);
    memset(l, 0, sizeof(*l));
}

/* Starts a new string at the end of the buffer; later appends extend it. */
static xf_status list_begin(tok_list *l)
{
    xf_status st = tok_buf_reserve(&l->text, l->text.n + 1);  /* text.p is never NULL */
    if (st != XF_OK) return st;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        size_t *off = realloc(l->off, cap * sizeof(*off));
        if (off) l->off = off;
        size_t *len = off ? realloc(l->len, cap * sizeof(*len)) : NULL;
        if (!off || !len) return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
        l->len = len;
        l->cap = cap;
    }
    l->off[l->n] = l->text.n;
    l->len[l->n] = 0;
    l->n++;
    return XF_OK;
}

static xf_status list_append(tok_list *l, const char *s, size_t n)
{
    xf_status st = tok_buf_append(&l->text, s, n);
    if (st == XF_OK) l->len[l->n - 1] += n;
    return st;
}

static xf_status list_push(tok_list *l, const char *s, size_t n)
{
    xf_status st = list_begin(l);
    return st != XF_OK ? st : list_append(l, s, n);
}

#define ITEM(l, i) ((l)->text.p + (l)->off[i])

/* ByteLevel: every token's characters back to bytes (a token with a character outside
 * the map keeps its UTF-8), all joined into one string, decoded lossily. */
static xf_status dec_bytelevel(const tok_list *in, tok_list *out)
{
    tok_buf bytes = {0};
    xf_status st = XF_OK;
    for (size_t i = 0; i < in->n && st == XF_OK; i++) {
        size_t n = in->len[i], got;
        if ((st = tok_buf_reserve(&bytes, bytes.n + n + 1)) != XF_OK) break;
        if (tok_bytelevel_unmap(ITEM(in, i), n, bytes.p + bytes.n, &got)) {
            bytes.n += got;
        } else {
            memcpy(bytes.p + bytes.n, ITEM(in, i), n);
            bytes.n += n;
        }
    }
    if (st == XF_OK) st = list_begin(out);
    if (st == XF_OK) {
        size_t before = out->text.n;
        st = tok_utf8_append_lossy(&out->text, bytes.p ? bytes.p : "", bytes.n);
        out->len[out->n - 1] = out->text.n - before;
    }
    tok_buf_free(&bytes);
    return st;
}

static xf_status dec_replace(const tok_decoder *d, const tok_list *in, tok_list *out)
{
    xf_status st = XF_OK;
    for (size_t i = 0; i < in->n && st == XF_OK; i++) {
        const char *s = ITEM(in, i);
        size_t n = in->len[i], j = 0, done = 0;
        st = list_begin(out);
        while (st == XF_OK && d->pattern_len && j + d->pattern_len <= n) {
            if (memcmp(s + j, d->pattern, d->pattern_len) != 0) {
                j++;
                continue;
            }
            st = list_append(out, s + done, j - done);
            if (st == XF_OK) st = list_append(out, d->content, d->content_len);
            j += d->pattern_len;
            done = j;
        }
        if (st == XF_OK) st = list_append(out, s + done, n - done);
    }
    return st;
}

/* The byte of a "<0xNN>" token, or -1. */
static int fallback_byte(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0'
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
              : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Flushes collected fallback bytes: one string if valid UTF-8, else one U+FFFD each. */
static xf_status flush_bytes(tok_list *out, tok_buf *bytes)
{
    xf_status st = XF_OK;
    if (!bytes->n) return st;
    if (tok_utf8_valid_prefix(bytes->p, bytes->n) == bytes->n) {
        st = list_push(out, bytes->p, bytes->n);
    } else {
        for (size_t k = 0; k < bytes->n && st == XF_OK; k++) st = list_push(out, "\xEF\xBF\xBD", 3);
    }
    bytes->n = 0;
    return st;
}

static xf_status dec_bytefallback(const tok_list *in, tok_list *out)
{
    tok_buf bytes = {0};
    xf_status st = XF_OK;
    for (size_t i = 0; i < in->n && st == XF_OK; i++) {
        int b = fallback_byte(ITEM(in, i), in->len[i]);
        if (b >= 0) {
            char ch = (char)b;
            st = tok_buf_append(&bytes, &ch, 1);
            continue;
        }
        st = flush_bytes(out, &bytes);
        if (st == XF_OK) st = list_push(out, ITEM(in, i), in->len[i]);
    }
    if (st == XF_OK) st = flush_bytes(out, &bytes);
    tok_buf_free(&bytes);
    return st;
}

static xf_status dec_fuse(const tok_list *in, tok_list *out)
{
    xf_status st = list_begin(out);
    for (size_t i = 0; i < in->n && st == XF_OK; i++) st = list_append(out, ITEM(in, i), in->len[i]);
    return st;
}

/* Strip: removes up to `start` leading and `stop` trailing copies of one character. */
static xf_status dec_strip(const tok_decoder *d, const tok_list *in, tok_list *out)
{
    xf_status st = XF_OK;
    size_t cl = d->content_len;
    for (size_t i = 0; i < in->n && st == XF_OK; i++) {
        const char *s = ITEM(in, i);
        size_t a = 0, b = in->len[i];
        for (int k = 0; k < d->strip_start && cl && b - a >= cl && !memcmp(s + a, d->content, cl); k++)
            a += cl;
        for (int k = 0; k < d->strip_stop && cl && b - a >= cl && !memcmp(s + b - cl, d->content, cl); k++)
            b -= cl;
        st = list_push(out, s + a, b - a);
    }
    return st;
}

xf_status xf_tokenizer_decode(const xf_tokenizer *t, const int32_t *ids, size_t n_ids, char **text,
                              size_t *len)
{
    if (text) *text = NULL;
    if (len) *len = 0;
    if (!t || !text || (!ids && n_ids))
        return xf_error(XF_ERR_INVALID_ARG, "xf_tokenizer_decode: NULL argument");
    tok_list a = {0}, b = {0};
    xf_status st = XF_OK;
    for (size_t i = 0; i < n_ids; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_ids || !t->id_token[id]) {
            st = xf_error(XF_ERR_INVALID_ARG,
                          "xf_tokenizer_decode: token id %d (position %zu) is not in the vocabulary "
                          "of %s", (int)id, i, t->path);
            goto cleanup;
        }
        if ((st = list_push(&a, t->id_token[id], t->id_token_len[id])) != XF_OK) goto cleanup;
    }
    if (!t->has_decoder) {  /* tokens joined by spaces */
        tok_list joined = {0};
        st = list_begin(&joined);
        for (size_t i = 0; i < a.n && st == XF_OK; i++) {
            if (i) st = list_append(&joined, " ", 1);
            if (st == XF_OK) st = list_append(&joined, ITEM(&a, i), a.len[i]);
        }
        list_free(&a);
        a = joined;
        if (st != XF_OK) goto cleanup;
    }
    for (int k = 0; k < t->n_dec && st == XF_OK; k++) {
        const tok_decoder *d = &t->dec[k];
        b.n = 0;
        b.text.n = 0;
        switch (d->kind) {
        case TOK_DEC_BYTELEVEL: st = dec_bytelevel(&a, &b); break;
        case TOK_DEC_REPLACE: st = dec_replace(d, &a, &b); break;
        case TOK_DEC_BYTEFALLBACK: st = dec_bytefallback(&a, &b); break;
        case TOK_DEC_FUSE: st = dec_fuse(&a, &b); break;
        case TOK_DEC_STRIP: st = dec_strip(d, &a, &b); break;
        }
        tok_list tmp = a;
        a = b;
        b = tmp;
    }
    if (st != XF_OK) goto cleanup;
    {
        tok_buf out = {0};
        for (size_t i = 0; i < a.n && st == XF_OK; i++) st = tok_buf_append(&out, ITEM(&a, i), a.len[i]);
        if (st == XF_OK) st = tok_buf_append(&out, "", 0);  /* NUL-terminated even when empty */
        if (st != XF_OK) {
            tok_buf_free(&out);
            goto cleanup;
        }
        *text = out.p;
        if (len) *len = out.n;
    }
cleanup:
    list_free(&a);
    list_free(&b);
    return st;
}
