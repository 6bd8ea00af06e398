/* text_batch.c — xf_tokenize_texts: texts (and text pairs) to a batch the way the
 * model folder says, so the CLI, the server and the Python binding share one path.
 * As sentence-transformers' Transformer module and the tokenizers library:
 *   - do_lower_case (sentence_bert_config.json) lower-cases prompt and text;
 *   - a prompt is prepended to the text as a string; its length in tokens is what
 *     sentence-transformers counts: the prompt encoded alone (special tokens
 *     included) minus one;
 *   - truncation happens before the special tokens are added, so they survive it;
 *     a pair is cut longest-first (one token at a time from the longer sequence).
 * Without truncation a sequence over the limit is an error naming the input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "error.h"
#include "model.h"
#include "st_pipeline.h"
#include "tokenizer/tok_pair.h"

void xf_text_options_init(xf_text_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->add_special = 1;
    o->truncate = XF_TRUNCATE_NONE;
}

void xf_tokens_free(xf_tokens *t) {
    if (!t) return;
    free(t->tokens);
    free(t->seq_lens);
    free(t->prompt_lens);
    memset(t, 0, sizeof *t);
}

/* prefix + text, lower-cased (simple Unicode case mapping) when lower != 0. malloc'ed. */
static char *prepare(const char *prefix, const char *text, int lower) {
    size_t np = prefix ? strlen(prefix) : 0, nt = strlen(text);
    /* lower-casing can grow a character by a byte (e.g. U+023A → U+2C65) */
    size_t cap = (np + nt) * (lower ? 2 : 1) + 1;
    char *out = malloc(cap);
    if (!out) return NULL;
    if (!lower) {
        if (np) memcpy(out, prefix, np);
        memcpy(out + np, text, nt + 1);
        return out;
    }
    size_t k = 0;
    for (int part = 0; part < 2; part++) {
        const utf8proc_uint8_t *s = (const utf8proc_uint8_t *)(part ? text : (prefix ? prefix : ""));
        utf8proc_ssize_t left = (utf8proc_ssize_t)(part ? nt : np);
        while (left > 0) {
            utf8proc_int32_t cp;
            utf8proc_ssize_t used = utf8proc_iterate(s, left, &cp);
            if (used <= 0) { /* invalid UTF-8: copied as is; the tokenizer names it */
                out[k++] = (char)*s;
                s++, left--;
                continue;
            }
            k += (size_t)utf8proc_encode_char(utf8proc_tolower(cp), (utf8proc_uint8_t *)out + k);
            s += used, left -= used;
        }
    }
    out[k] = '\0';
    return out;
}

/* Drops tokens of ids [*n] down to keep: from the end (right) or the front (left).
 * Returns how many were dropped from the front. */
static size_t cut(int32_t *ids, size_t *n, size_t keep, int truncate) {
    if (*n <= keep) return 0;
    size_t front = truncate == XF_TRUNCATE_LEFT ? *n - keep : 0;
    if (front) memmove(ids, ids + front, keep * sizeof(*ids));
    *n = keep;
    return front;
}

/* Appends ids [n] to out as one sequence. */
static xf_status push_seq(xf_tokens *out, int64_t *cap, const int32_t *ids, size_t n, int32_t prompt_len) {
    if (out->n_tokens + (int64_t)n > *cap) {
        int64_t c = *cap ? *cap : 1024;
        while (c < out->n_tokens + (int64_t)n) c *= 2;
        int32_t *g = realloc(out->tokens, sizeof(int32_t) * (size_t)c);
        if (!g) return xf_error(XF_ERR_NO_MEMORY, "out of host memory");
        out->tokens = g, *cap = c;
    }
    memcpy(out->tokens + out->n_tokens, ids, n * sizeof(*ids));
    out->n_tokens += (int64_t)n;
    out->prompt_lens[out->n_seqs] = prompt_len;
    out->seq_lens[out->n_seqs++] = (int32_t)n;
    return XF_OK;
}

/* How many special tokens the post-processor adds to one sequence or a pair. */
static xf_status special_count(const xf_tokenizer *t, int pair, int add_special, size_t *n) {
    static const int32_t none[1] = {0};
    int32_t *ids = NULL;
    xf_status st = tok_post_apply(t, none, 0, pair ? none : NULL, 0, add_special, &ids, n);
    free(ids);
    return st;
}

xf_status xf_tokenize_texts(const xf_model *m, const xf_tokenizer *t, const char *const *texts,
                            const char *const *pairs, int32_t n, const xf_text_options *o, xf_tokens *out) {
    xf_status st = XF_OK;
    xf_text_options dflt;
    char *a = NULL, *b = NULL;
    int32_t *ia = NULL, *ib = NULL, *joined = NULL;
    size_t na = 0, nb = 0, nj = 0;
    int64_t cap = 0;
    if (out) memset(out, 0, sizeof *out);
    if (!m || !t || !texts || !out) return xf_error(XF_ERR_INVALID_ARG, "xf_tokenize_texts: NULL argument");
    if (n < 1) return xf_error(XF_ERR_INVALID_ARG, "xf_tokenize_texts: no texts");
    if (!o) xf_text_options_init(&dflt), o = &dflt;
    XF_CHECK((unsigned)o->truncate <= XF_TRUNCATE_LEFT, XF_ERR_INVALID_ARG, "unknown truncation %d", (int)o->truncate);
    xf_model_info info;
    XF_TRY(xf_model_get_info(m, &info));
    const int64_t limit = o->max_length > 0 ? o->max_length : info.max_seq_length;
    const int lower = xf_st_of(m)->do_lower_case;
    int32_t prompt_len = 0;
    if (o->prompt) {
        XF_CHECK((a = prepare(o->prompt, "", lower)), XF_ERR_NO_MEMORY, "out of host memory");
        XF_TRY(xf_tokenizer_encode(t, a, strlen(a), o->add_special, &ia, &na));
        prompt_len = na > 0 ? (int32_t)na - 1 : 0;
        free(a), free(ia), a = NULL, ia = NULL;
    }
    size_t specials = 0;
    XF_TRY(special_count(t, pairs != NULL, o->add_special, &specials));
    XF_ALLOC(out->seq_lens, n);
    XF_ALLOC(out->prompt_lens, n);
    for (int32_t i = 0; i < n; i++) {
        XF_CHECK(texts[i] && (!pairs || pairs[i]), XF_ERR_INVALID_ARG, "text %d is NULL", i);
        XF_CHECK((a = prepare(o->prompt, texts[i], lower)), XF_ERR_NO_MEMORY, "out of host memory");
        st = xf_tokenizer_encode(t, a, strlen(a), 0, &ia, &na);
        if (st == XF_OK && pairs) {
            XF_CHECK((b = prepare(NULL, pairs[i], lower)), XF_ERR_NO_MEMORY, "out of host memory");
            st = xf_tokenizer_encode(t, b, strlen(b), 0, &ib, &nb);
        }
        if (st != XF_OK) { /* name the input; the message is copied out of the buffer it is rewritten into */
            char why[1024];
            snprintf(why, sizeof why, "%s", xf_last_error());
            XF_CHECK(0, st, "text %d: %s", i, why);
        }
        int32_t plen = prompt_len;
        if ((int64_t)(na + nb + specials) > limit) {
            XF_CHECK(o->truncate != XF_TRUNCATE_NONE, XF_ERR_INVALID_ARG,
                     "text %d has %zu tokens; the model takes at most %lld (truncation would cut it)", i,
                     na + nb + specials, (long long)limit);
            XF_CHECK((int64_t)specials < limit, XF_ERR_INVALID_ARG,
                     "text %d: %lld tokens leave no room beside %zu special tokens", i, (long long)limit, specials);
            size_t budget = (size_t)limit - specials, ka = na, kb = nb;
            while (ka + kb > budget) { /* longest first; a tie shortens the second */
                if (ka > kb) ka--;
                else kb--;
            }
            size_t front = cut(ia, &na, ka, o->truncate);
            cut(ib, &nb, kb, o->truncate);
            plen = (int64_t)front >= plen ? 0 : plen - (int32_t)front;
        }
        XF_TRY(tok_post_apply(t, ia, na, pairs ? ib : NULL, nb, o->add_special, &joined, &nj));
        XF_CHECK(nj > 0, XF_ERR_INVALID_ARG, "text %d is empty after tokenization", i);
        XF_TRY(push_seq(out, &cap, joined, nj, plen < (int32_t)nj ? plen : (int32_t)nj));
        free(a), free(b), free(ia), free(ib), free(joined);
        a = b = NULL, ia = ib = joined = NULL, na = nb = 0;
    }
cleanup:
    free(a), free(b), free(ia), free(ib), free(joined);
    if (st != XF_OK) xf_tokens_free(out);
    return st;
}
