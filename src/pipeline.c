/* pipeline.c — the engine's outputs that come after the final hidden states,
 * computed on the host where the backends have no kernel, so every backend gives
 * the same answer:
 *   - xf_engine_embed / xf_engine_encode: pooling (last, mean, first on the
 *     backend; max, mean_sqrt_len and prompt-excluding pooling from hidden
 *     states here), then the folder's Dense modules, Matryoshka truncation and
 *     L2 normalisation (sentence-transformers semantics);
 *   - xf_engine_classify: the score head at each sequence's last token that is not
 *     pad_token_id (Hugging Face's rule), on the backend when that is the last token;
 *   - xf_engine_last_logits: the last token's logits at chosen vocabulary ids from
 *     its hidden row and those lm_head rows, never the full [T, V].
 * Host arithmetic is in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "pipeline.h"
#include "st_pipeline.h"

void xf_encode_options_init(xf_encode_options *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->pooling = XF_POOL_DEFAULT;
    o->normalize = -1;
}

/* y[k] = W[rows[k], :] · x for k < n (rows NULL: row k); W [*, in] in any storage type.
 * row: scratch [in]. */
static void rows_dot(const xf_tensor *W, const int32_t *rows, int64_t n, const double *x, int64_t in, float *row,
                     double *y) {
    for (int64_t k = 0; k < n; k++) {
        xf_tensor_to_f32(W, (rows ? rows[k] : k) * in, in, row);
        double acc = 0;
        for (int64_t i = 0; i < in; i++) acc += (double)row[i] * x[i];
        y[k] = acc;
    }
}

/* A batch's sequences in groups of whole sequences of at most max_tokens tokens (a
 * longer sequence alone): fn gets each group's sub-batch, the index of its first
 * sequence and its hidden states [group tokens, H]. */
typedef xf_status (*group_fn)(void *ctx, const xf_batch *sub, int32_t first, const float *hidden);

static xf_status for_each_group(xf_engine *e, const xf_batch *b, group_fn fn, void *ctx) {
    xf_status st = XF_OK;
    const int64_t H = xf_engine_model(e)->cfg.hidden, cap = xf_engine_max_tokens(e);
    float *hidden = NULL;
    int64_t have = 0, base = 0;
    for (int32_t s0 = 0; s0 < b->n_seqs;) {
        int64_t n = b->seq_lens[s0];
        int32_t s1 = s0 + 1;
        while (s1 < b->n_seqs && n + b->seq_lens[s1] <= cap) n += b->seq_lens[s1++];
        if (n > have) {
            free(hidden);
            hidden = NULL;
            const int64_t count = n * H;
            XF_ALLOC(hidden, count);
            have = n;
        }
        xf_batch sub = {.tokens = b->tokens + base, .seq_lens = b->seq_lens + s0, .n_seqs = s1 - s0,
                        .adapter_ids = b->adapter_ids ? b->adapter_ids + s0 : NULL};
        XF_TRY(xf_engine_hidden(e, &sub, hidden));
        XF_TRY(fn(ctx, &sub, s0, hidden));
        base += n;
        s0 = s1;
    }
cleanup:
    free(hidden);
    return st;
}

/* The whole batch checked before its tokens are read here or it is cut into groups. */
static xf_status check_batch(const xf_engine *e, const xf_batch *b, const void *out) {
    return xf_engine_check_batch(e, b, out);
}

/* ---------------------------------------------------------------- pooling */

/* Pools one sequence's hidden rows h [n, H] into out [H], sentence-transformers style:
 * the first `skip` rows (prompt tokens) are masked out of mean / mean_sqrt_len / max;
 * cls and lasttoken read rows 0 and n-1 whatever the mask. */
static void pool_one(const float *h, int64_t n, int64_t skip, int32_t pooling, int64_t H, double *out) {
    if (pooling == XF_POOL_FIRST || pooling == XF_POOL_LAST) {
        const float *r = h + (pooling == XF_POOL_FIRST ? 0 : n - 1) * H;
        for (int64_t i = 0; i < H; i++) out[i] = r[i];
        return;
    }
    if (skip > n) skip = n;
    for (int64_t i = 0; i < H; i++) out[i] = pooling == XF_POOL_MAX ? -1e9 : 0.0;
    for (int64_t t = skip; t < n; t++)
        for (int64_t i = 0; i < H; i++) {
            double v = h[t * H + i];
            if (pooling == XF_POOL_MAX) out[i] = v > out[i] ? v : out[i];
            else out[i] += v;
        }
    if (pooling == XF_POOL_MAX) return;
    double count = (double)(n - skip) > 1e-9 ? (double)(n - skip) : 1e-9;   /* torch.clamp(min=1e-9) */
    double div = pooling == XF_POOL_MEAN ? count : sqrt(count);
    for (int64_t i = 0; i < H; i++) out[i] /= div;
}

typedef struct pool_ctx {
    int32_t pooling;
    const int32_t *skip;    /* [B] rows left out per sequence, or NULL */
    int64_t H;
    double *out;            /* [B, H] */
} pool_ctx;

static xf_status pool_group(void *vctx, const xf_batch *sub, int32_t first, const float *hidden) {
    pool_ctx *c = vctx;
    int64_t t0 = 0;
    for (int32_t i = 0; i < sub->n_seqs; i++) {
        int32_t s = first + i;
        pool_one(hidden + t0 * c->H, sub->seq_lens[i], c->skip ? c->skip[s] : 0, c->pooling, c->H,
                 c->out + (int64_t)s * c->H);
        t0 += sub->seq_lens[i];
    }
    return XF_OK;
}

/* out [B, H] in double: the backend's pooling where it has it, else from hidden states. */
static xf_status pool_batch(xf_engine *e, const xf_batch *b, int32_t pooling, const int32_t *skip, double *out) {
    xf_status st = XF_OK;
    const int64_t H = xf_engine_model(e)->cfg.hidden, B = b->n_seqs;
    float *pooled = NULL;
    int any_skip = 0;
    for (int64_t s = 0; skip && s < B; s++) any_skip |= skip[s] > 0;
    int on_backend = pooling == XF_POOL_LAST || pooling == XF_POOL_FIRST ||
                     ((pooling == XF_POOL_MEAN || pooling == XF_POOL_MEAN_SQRT_LEN) && !any_skip);
    if (!on_backend) {
        pool_ctx c = {.pooling = pooling, .skip = any_skip ? skip : NULL, .H = H, .out = out};
        return for_each_group(e, b, pool_group, &c);
    }
    const int64_t count = B * H;
    XF_ALLOC(pooled, count);
    XF_TRY(xf_engine_pool_backend(e, b, pooling == XF_POOL_MEAN_SQRT_LEN ? XF_POOL_MEAN : (xf_pooling)pooling, 0,
                                  pooled));
    for (int64_t s = 0; s < B; s++) {
        /* sum / sqrt(n) = mean · sqrt(n) */
        double scale = pooling == XF_POOL_MEAN_SQRT_LEN ? sqrt((double)b->seq_lens[s]) : 1.0;
        for (int64_t i = 0; i < H; i++) out[s * H + i] = pooled[s * H + i] * scale;
    }
cleanup:
    free(pooled);
    return st;
}

static void l2_normalize(double *x, int64_t n) {
    double ss = 0;
    for (int64_t i = 0; i < n; i++) ss += x[i] * x[i];
    double norm = sqrt(ss), inv = 1.0 / (norm > 1e-12 ? norm : 1e-12);   /* F.normalize */
    for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

xf_status xf_engine_embed(xf_engine *e, const xf_batch *b, xf_pooling pooling, int normalize, float *out) {
    xf_status st = XF_OK;
    double *pooled = NULL;
    if ((unsigned)pooling <= XF_POOL_FIRST) return xf_engine_pool_backend(e, b, pooling, normalize, out);
    XF_CHECK(pooling == XF_POOL_MAX || pooling == XF_POOL_MEAN_SQRT_LEN, XF_ERR_INVALID_ARG, "unknown pooling %d",
             (int)pooling);
    XF_TRY(check_batch(e, b, out));
    const int64_t H = xf_engine_model(e)->cfg.hidden, count = (int64_t)b->n_seqs * H;
    XF_ALLOC(pooled, count);
    XF_TRY(pool_batch(e, b, pooling, NULL, pooled));
    for (int64_t s = 0; s < b->n_seqs; s++) {
        if (normalize) l2_normalize(pooled + s * H, H);
        for (int64_t i = 0; i < H; i++) out[s * H + i] = (float)pooled[s * H + i];
    }
cleanup:
    free(pooled);
    return st;
}

/* ---------------------------------------------------------------- encode */

/* y [B, out] = act(x [B, in] · Wᵀ + b), each weight row converted once. row: scratch [in]. */
static void dense_apply(const xf_dense *d, const double *x, int64_t B, float *row, double *y) {
    const int64_t out = d->w.shape[0], in = d->w.shape[1];
    for (int64_t j = 0; j < out; j++) {
        float bj = 0;
        if (d->b.data) xf_tensor_to_f32(&d->b, j, 1, &bj);
        xf_tensor_to_f32(&d->w, j * in, in, row);
        for (int64_t s = 0; s < B; s++) {
            const double *xs = x + s * in;
            double acc = bj;
            for (int64_t i = 0; i < in; i++) acc += (double)row[i] * xs[i];
            y[s * out + j] = d->act == XF_ACT_TANH ? tanh(acc) : acc;
        }
    }
}

xf_status xf_engine_encode(xf_engine *e, const xf_batch *b, const xf_encode_options *o, float *out) {
    xf_status st = XF_OK;
    double *x = NULL, *y = NULL;
    float *row = NULL;
    xf_encode_options dflt;
    XF_TRY(check_batch(e, b, out));
    if (!o) xf_encode_options_init(&dflt), o = &dflt;
    const xf_model *m = xf_engine_model(e);
    const xf_st_pipeline *p = xf_st_of(m);
    const int32_t pooling = o->pooling == XF_POOL_DEFAULT ? p->pooling : o->pooling;
    XF_CHECK(pooling >= XF_POOL_LAST && pooling <= XF_POOL_MEAN_SQRT_LEN, XF_ERR_INVALID_ARG, "unknown pooling %d",
             (int)o->pooling);
    XF_CHECK(o->normalize >= -1 && o->normalize <= 1, XF_ERR_INVALID_ARG, "normalize must be -1, 0 or 1 (got %d)",
             (int)o->normalize);
    const int normalize = o->normalize < 0 ? p->normalize : o->normalize;
    const int64_t H = m->cfg.hidden, D = p->embed_dim ? p->embed_dim : H;
    XF_CHECK(o->dimensions >= 0 && o->dimensions <= D, XF_ERR_INVALID_ARG,
             "dimensions = %d: the model's embeddings have %lld", (int)o->dimensions, (long long)D);
    const int64_t keep = o->dimensions ? o->dimensions : D;
    for (int32_t s = 0; o->prompt_lens && s < b->n_seqs; s++)
        XF_CHECK(o->prompt_lens[s] >= 0, XF_ERR_INVALID_ARG, "prompt_lens[%d] is negative", s);
    const int32_t *skip = p->include_prompt ? NULL : o->prompt_lens;

    int64_t width = H;   /* the widest vector along the pipeline */
    for (int32_t k = 0; k < p->n_dense; k++)
        if (p->dense[k].w.shape[0] > width) width = p->dense[k].w.shape[0];
    const int64_t count = (int64_t)b->n_seqs * width;   /* x, y: [B, width] */
    XF_ALLOC(x, count);
    XF_ALLOC(y, count);
    XF_ALLOC(row, width);
    XF_TRY(pool_batch(e, b, pooling, skip, x));   /* x: [B, H] */
    for (int32_t k = 0; k < p->n_dense; k++) {
        dense_apply(&p->dense[k], x, b->n_seqs, row, y);
        double *t = x;
        x = y, y = t;
    }
    for (int64_t s = 0; s < b->n_seqs; s++) {   /* x: [B, D] */
        double *xs = x + s * D;
        if (normalize) l2_normalize(xs, keep);
        for (int64_t i = 0; i < keep; i++) out[s * keep + i] = (float)xs[i];
    }
cleanup:
    free(x);
    free(y);
    free(row);
    return st;
}

/* ---------------------------------------------------------------- classify */

typedef struct cls_ctx {
    const xf_model *m;
    const int32_t *index;   /* [B] pooled position inside each sequence */
    float *out;             /* [B, L] */
    double *x, *y;          /* [H], [L] */
    float *row;             /* [H] */
} cls_ctx;

static xf_status classify_group(void *vctx, const xf_batch *sub, int32_t first, const float *hidden) {
    cls_ctx *c = vctx;
    const int64_t H = c->m->cfg.hidden, L = c->m->cfg.num_labels;
    int64_t t0 = 0;
    for (int32_t i = 0; i < sub->n_seqs; i++) {
        const float *h = hidden + (t0 + c->index[first + i]) * H;
        for (int64_t k = 0; k < H; k++) c->x[k] = h[k];
        rows_dot(&c->m->score, NULL, L, c->x, H, c->row, c->y);
        for (int64_t l = 0; l < L; l++) c->out[(int64_t)(first + i) * L + l] = (float)c->y[l];
        t0 += sub->seq_lens[i];
    }
    return XF_OK;
}

xf_status xf_engine_classify(xf_engine *e, const xf_batch *b, float *out) {
    xf_status st = XF_OK;
    int32_t *index = NULL;
    cls_ctx c = {0};
    XF_TRY(check_batch(e, b, out));
    const xf_model *m = xf_engine_model(e);
    const int32_t pad = m->cfg.pad_token_id;
    if (pad < 0 || !m->score.data) return xf_engine_classify_last(e, b, out);
    /* Hugging Face: (arange(T) * (ids != pad)).argmax(-1) — the last non-pad token, 0 if all are pad */
    XF_ALLOC(index, b->n_seqs);
    int all_last = 1;
    for (int32_t s = 0, t0 = 0; s < b->n_seqs; t0 += b->seq_lens[s], s++) {
        for (int32_t t = b->seq_lens[s] - 1; t > 0 && !index[s]; t--)
            if (b->tokens[t0 + t] != pad) index[s] = t;
        all_last &= index[s] == b->seq_lens[s] - 1;
    }
    if (all_last) {
        st = xf_engine_classify_last(e, b, out);
        goto cleanup;
    }
    const int64_t H = m->cfg.hidden;
    c = (cls_ctx){.m = m, .index = index, .out = out};
    XF_ALLOC(c.x, H);
    XF_ALLOC(c.y, m->cfg.num_labels);
    XF_ALLOC(c.row, H);
    XF_TRY(for_each_group(e, b, classify_group, &c));
cleanup:
    free(index);
    free(c.x);
    free(c.y);
    free(c.row);
    return st;
}

/* ---------------------------------------------------------------- last-token logits */

xf_status xf_engine_last_logits(xf_engine *e, const xf_batch *b, const int32_t *ids, int32_t n_ids, float *out) {
    xf_status st = XF_OK;
    float *last = NULL, *row = NULL;
    double *x = NULL, *y = NULL;
    XF_TRY(check_batch(e, b, out));
    const xf_model *m = xf_engine_model(e);
    const int64_t H = m->cfg.hidden;
    XF_CHECK(ids && n_ids > 0, XF_ERR_INVALID_ARG, "last_logits: no vocabulary ids given");
    for (int32_t k = 0; k < n_ids; k++)
        XF_CHECK(ids[k] >= 0 && ids[k] < m->cfg.vocab, XF_ERR_INVALID_ARG,
                 "last_logits: id %d is outside the vocabulary [0, %d)", ids[k], m->cfg.vocab);
    XF_CHECK(m->lm_head.data, XF_ERR_UNSUPPORTED,
             "%s: the checkpoint has no lm_head.weight and untied embeddings (a headless model): no logits",
             m->dir);
    const int64_t count = (int64_t)b->n_seqs * H;
    XF_ALLOC(last, count);
    XF_ALLOC(row, H);
    XF_ALLOC(x, H);
    XF_ALLOC(y, n_ids);
    XF_TRY(xf_engine_pool_backend(e, b, XF_POOL_LAST, 0, last));
    for (int64_t s = 0; s < b->n_seqs; s++) {
        for (int64_t i = 0; i < H; i++) x[i] = last[s * H + i];
        rows_dot(&m->lm_head, ids, n_ids, x, H, row, y);
        for (int32_t k = 0; k < n_ids; k++) out[s * n_ids + k] = (float)y[k];
    }
cleanup:
    free(last);
    free(row);
    free(x);
    free(y);
    return st;
}
