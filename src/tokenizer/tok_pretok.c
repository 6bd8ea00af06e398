/* tok_pretok.c — the pre-tokenizer chain: Split (a PCRE2 regex, with the five
 * delimiter behaviours of `tokenizers`) and ByteLevel (optional prefix space and GPT-2
 * regex; the byte→character mapping itself is implicit, see tokenizer.h). Pieces are
 * streamed: each step hands its pieces straight to the next step, the last to the model,
 * so no list of pieces is ever built. */
#include <string.h>

#include "tokenizer.h"

static xf_status run_step(tok_ctx *c, int k, const char *s, size_t n);

/* Passes a piece to step k (or to the model after the last step). */
static xf_status emit(tok_ctx *c, int k, const char *s, size_t n)
{
    if (n == 0) return XF_OK;
    if (k == c->t->n_pre) return tok_bpe_word(c, s, n);
    return run_step(c, k, s, n);
}

/* Folds the stream of (interval, is_match) into pieces according to the behaviour. */
typedef struct split_state {
    tok_ctx *c;
    int next;                   /* step that receives the pieces */
    const char *base;
    tok_split_behavior behavior;
    int invert;
    int have, prev_match;       /* a pending piece [ps, pe) and the previous flag */
    size_t ps, pe;
} split_state;

static xf_status split_flush(split_state *ss)
{
    if (!ss->have) return XF_OK;
    ss->have = 0;
    return emit(ss->c, ss->next, ss->base + ss->ps, ss->pe - ss->ps);
}

static xf_status split_interval(split_state *ss, size_t s, size_t e, int m)
{
    xf_status st = XF_OK;
    if (ss->invert) m = !m;
    switch (ss->behavior) {
    case TOK_SPLIT_ISOLATED:
        return emit(ss->c, ss->next, ss->base + s, e - s);
    case TOK_SPLIT_REMOVED:
        return m ? XF_OK : emit(ss->c, ss->next, ss->base + s, e - s);
    case TOK_SPLIT_MERGED_PREV:  /* a match joins the piece before it */
        if (m && !ss->prev_match && ss->have) {
            ss->pe = e;
            break;
        }
        if ((st = split_flush(ss)) != XF_OK) return st;
        ss->have = 1, ss->ps = s, ss->pe = e;
        break;
    case TOK_SPLIT_MERGED_NEXT:  /* a match joins the piece after it */
        if (ss->have && ss->prev_match && !m) {
            ss->pe = e;
            break;
        }
        if ((st = split_flush(ss)) != XF_OK) return st;
        ss->have = 1, ss->ps = s, ss->pe = e;
        break;
    case TOK_SPLIT_CONTIGUOUS:  /* runs of matches (or of non-matches) stay together */
        if (m == ss->prev_match && ss->have) {
            ss->pe = e;
            break;
        }
        if ((st = split_flush(ss)) != XF_OK) return st;
        ss->have = 1, ss->ps = s, ss->pe = e;
        break;
    }
    ss->prev_match = m;
    return XF_OK;
}

static xf_status regex_ready(tok_ctx *c)
{
    if (c->md) return XF_OK;
    c->md = pcre2_match_data_create(1, NULL);  /* only the whole match is needed */
    c->mctx = pcre2_match_context_create(NULL);
    if (!c->md || !c->mctx) return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
    return XF_OK;
}

/* Gives the JIT a stack of its own when the default 32 KiB ran out; 1 on success. */
static int grow_jit_stack(tok_ctx *c)
{
    if (c->jit_stack) return 0;  /* already at the largest size */
    c->jit_stack = pcre2_jit_stack_create(64 * 1024, 64 * 1024 * 1024, NULL);
    if (!c->jit_stack) return 0;
    pcre2_jit_stack_assign(c->mctx, NULL, c->jit_stack);
    return 1;
}

/* 1 if offset i of s[0..n) starts a character (or is the end). */
static int char_boundary(const char *s, size_t n, size_t i)
{
    return i >= n || ((unsigned char)s[i] & 0xC0) != 0x80;
}

/* Runs regex re over s[0..n) and feeds matches and the gaps between them to ss. */
static xf_status split_regex(tok_ctx *c, const pcre2_code *re, split_state *ss, const char *s,
                             size_t n)
{
    xf_status st = regex_ready(c);
    if (st != XF_OK) return st;
    size_t pos = 0, prev = 0;
    const PCRE2_SPTR subject = (PCRE2_SPTR)s;
    while (pos <= n) {
        int rc = pcre2_match(re, subject, n, pos, PCRE2_NO_UTF_CHECK, c->md, c->mctx);
        if (rc == PCRE2_ERROR_JIT_STACKLIMIT && grow_jit_stack(c)) continue;  /* and retry */
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(rc, msg, sizeof(msg));
            return xf_error(XF_ERR_INVALID_ARG,
                            "tokenizer %s: split regex failed on a %zu-byte piece of text: %s",
                            c->t->path, n, (const char *)msg);
        }
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(c->md);
        size_t ms = ov[0], me = ov[1];  /* copied: the next step reuses the match data */
        /* pieces are whole characters (\C is refused at load; this is the guarantee) */
        if (ms > me || me > n || !char_boundary(s, n, ms) || !char_boundary(s, n, me))
            return xf_error(XF_ERR_FORMAT, "tokenizer %s: a split regex cut a UTF-8 character", c->t->path);
        if (ms > prev && (st = split_interval(ss, prev, ms, 0)) != XF_OK) return st;
        if ((st = split_interval(ss, ms, me, 1)) != XF_OK) return st;
        prev = me;
        if (me > ms) {
            pos = me;
        } else {  /* empty match: step over one character */
            if (me >= n) break;
            pos = me + 1;
            while (pos < n && !char_boundary(s, n, pos)) pos++;
        }
    }
    if (prev < n && (st = split_interval(ss, prev, n, 0)) != XF_OK) return st;
    return split_flush(ss);
}

static xf_status run_step(tok_ctx *c, int k, const char *s, size_t n)
{
    const tok_pretok *p = &c->t->pre[k];
    split_state ss = {.c = c, .next = k + 1, .behavior = TOK_SPLIT_ISOLATED};
    if (p->kind == TOK_PRE_SPLIT) {
        ss.base = s;
        ss.behavior = p->behavior;
        ss.invert = p->invert;
        return split_regex(c, p->re, &ss, s, n);
    }
    /* ByteLevel */
    if (p->add_prefix_space && s[0] != ' ') {
        tok_buf *b = &c->pre_scratch[k];
        b->n = 0;
        xf_status st = tok_buf_append(b, " ", 1);
        if (st == XF_OK) st = tok_buf_append(b, s, n);
        if (st != XF_OK) return st;
        s = b->p;
        n = b->n;
    }
    if (!p->re) return emit(c, k + 1, s, n);
    ss.base = s;
    return split_regex(c, p->re, &ss, s, n);
}

xf_status tok_pretokenize(tok_ctx *c, const char *s, size_t n)
{
    return emit(c, 0, s, n);
}
