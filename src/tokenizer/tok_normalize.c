/* tok_normalize.c — the normalizer chain of tokenizer.json: Unicode normal forms
 * (utf8proc), Prepend and literal Replace (the SentencePiece-style "▁" handling of
 * Llama 2 / Mistral). Applied to each piece of text between added tokens. */
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "tokenizer.h"

/* True when the normal form cannot change s: for NFC, every code point below U+0300
 * is stable and nothing there composes (lead bytes < 0xCC); for the others, ASCII. */
static int unchanged_by(tok_norm_kind kind, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    unsigned char limit = kind == TOK_NORM_NFC ? 0xCC : 0x80;
    for (size_t i = 0; i < n; i++)
        if (u[i] >= limit) return 0;
    return 1;
}

/* Appends the normal form of s[0..n) (utf8proc) to out. */
static xf_status append_form(tok_buf *out, int options, const char *s, size_t n)
{
    if (n == 0) return XF_OK;
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t len = utf8proc_map((const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &mapped,
                                        (utf8proc_option_t)options);
    if (len < 0) {
        return xf_error(len == UTF8PROC_ERROR_NOMEM ? XF_ERR_NO_MEMORY : XF_ERR_INVALID_ARG,
                        "tokenizer: Unicode normalization failed: %s", utf8proc_errmsg(len));
    }
    xf_status st = tok_buf_append(out, (const char *)mapped, (size_t)len);
    free(mapped);
    return st;
}

/* The normal form of s, in pieces cut at the marks `tokenizers` does not know
 * (tok_unicode.c), which stay as they are. */
static xf_status unicode_form(tok_buf *out, tok_norm_kind kind, const char *s, size_t n)
{
    int options = UTF8PROC_STABLE;
    switch (kind) {
    case TOK_NORM_NFC: options |= UTF8PROC_COMPOSE; break;
    case TOK_NORM_NFD: options |= UTF8PROC_DECOMPOSE; break;
    case TOK_NORM_NFKC: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    default: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
    }
    out->n = 0;
    xf_status st = tok_buf_reserve(out, n + 1);
    size_t i = 0, piece = 0;
    while (st == XF_OK && i < n) {
        int32_t cp;
        int w = tok_utf8_decode(s + i, &cp);
        if (tok_nfc_opaque(cp)) {
            st = append_form(out, options, s + piece, i - piece);
            if (st == XF_OK) st = tok_buf_append(out, s + i, (size_t)w);
            piece = i + (size_t)w;
        }
        i += (size_t)w;
    }
    if (st == XF_OK) st = append_form(out, options, s + piece, n - piece);
    return st;
}

static int contains(const char *s, size_t n, const char *pat, size_t pat_n)
{
    for (size_t i = 0; i + pat_n <= n; i++)
        if (s[i] == pat[0] && memcmp(s + i, pat, pat_n) == 0) return 1;
    return 0;
}

static xf_status replace_all(tok_buf *out, const tok_normalizer *nz, const char *s, size_t n)
{
    out->n = 0;
    size_t i = 0, done = 0;
    xf_status st = XF_OK;
    while (nz->pattern_len && i + nz->pattern_len <= n) {
        if (memcmp(s + i, nz->pattern, nz->pattern_len) != 0) {
            i++;
            continue;
        }
        if ((st = tok_buf_append(out, s + done, i - done)) != XF_OK) return st;
        if ((st = tok_buf_append(out, nz->content, nz->content_len)) != XF_OK) return st;
        i += nz->pattern_len;
        done = i;
    }
    return tok_buf_append(out, s + done, n - done);
}

xf_status tok_normalize(tok_ctx *c, const char *s, size_t n, const char **out, size_t *out_n)
{
    const xf_tokenizer *t = c->t;
    xf_status st = XF_OK;
    int which = 0;  /* scratch buffer to write next; the other may hold the input */
    for (int k = 0; k < t->n_norm; k++) {
        const tok_normalizer *nz = &t->norm[k];
        tok_buf *dst = &c->norm_scratch[which];
        switch (nz->kind) {
        case TOK_NORM_PREPEND:
            if (n == 0) continue;
            dst->n = 0;
            if ((st = tok_buf_append(dst, nz->content, nz->content_len)) != XF_OK) return st;
            if ((st = tok_buf_append(dst, s, n)) != XF_OK) return st;
            break;
        case TOK_NORM_REPLACE:
            if (!nz->pattern_len || !contains(s, n, nz->pattern, nz->pattern_len)) continue;
            if ((st = replace_all(dst, nz, s, n)) != XF_OK) return st;
            break;
        default:
            if (unchanged_by(nz->kind, s, n)) continue;
            if ((st = unicode_form(dst, nz->kind, s, n)) != XF_OK) return st;
            break;
        }
        s = dst->p;
        n = dst->n;
        which ^= 1;
    }
    *out = s;
    *out_n = n;
    return XF_OK;
}

xf_status tok_normalize_alloc(const xf_tokenizer *t, const char *s, size_t n, char **out,
                              size_t *out_n)
{
    tok_ctx c = {.t = t};
    const char *r;
    size_t rn;
    xf_status st = tok_normalize(&c, s, n, &r, &rn);
    if (st == XF_OK) {
        *out = malloc(rn + 1);
        if (*out) {
            memcpy(*out, r, rn);
            (*out)[rn] = 0;
            *out_n = rn;
        } else {
            st = xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
        }
    }
    tok_ctx_release(&c);
    return st;
}
