/* ops_test.c — the Vulkan op table for the op-by-op tests (tests/test_ops.c):
 * each entry uploads its host fp32 inputs (weights converted to the mode's
 * type), records the same kernel the forward uses, runs it as one submission
 * and downloads the result. One process-wide context is made at the first call
 * and kept (its pipelines are reused across calls). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

static vkx_ctx *g_ctx;
static xf_status g_ctx_status = XF_OK;
static char g_ctx_error[512];

static xf_status ops_ctx(vkx_ctx **out) {
    if (!g_ctx && g_ctx_status == XF_OK) {
        g_ctx_status = vkx_ctx_create(NULL, &g_ctx);
        if (g_ctx_status != XF_OK) snprintf(g_ctx_error, sizeof(g_ctx_error), "%s", xf_last_error());
    }
    *out = g_ctx;
    if (g_ctx_status != XF_OK) return xf_error(g_ctx_status, "%s", g_ctx_error);
    vkx_sets_reset(g_ctx);
    return XF_OK;
}

/* A 16-bit value of the mode's type to fp32 and back. */
static float h2f(vkx_wt wt, uint16_t h) {
    return wt == VKX_WT_BF16 ? xf_bf16_to_f32(h) : xf_f16_to_f32(h);
}

static uint16_t f2h(vkx_wt wt, float f) {
    return wt == VKX_WT_BF16 ? xf_f32_to_bf16(f) : xf_f32_to_f16(f);
}

/* Whether the 16-bit a (n values) matches b within tol·|b| + atol, element by element. */
static xf_status match16(vkx_wt wt, const uint16_t *a, const float *b, size_t n, float tol, float atol,
                         const char *what) {
    for (size_t i = 0; i < n; i++) {
        float fa = h2f(wt, a[i]);
        if (!(fabsf(fa - b[i]) <= tol * fabsf(b[i]) + atol))
            return xf_error(XF_ERR_INTERNAL, "vulkan %s: 16-bit output %g != %g at %zu", what, fa, b[i], i);
    }
    return XF_OK;
}

/* Index of element (t, i) of a [rows, cols] matrix in the blocked layout of the matrix-unit
 * kernel's x (rows in groups of k->cm_bm, each group cols/k->blk_k consecutive cm_bm×blk_k
 * blocks), as blocked_index() in the shaders. */
static size_t blocked_at(const vkx_kernels *k, size_t t, size_t i, size_t cols) {
    size_t bm = k->cm_bm, bk = k->blk_k;
    return ((t / bm) * (cols / bk) + i / bk) * bm * bk + (t % bm) * bk + i % bk;
}

/* dst [rows, cols] row-major = src in the blocked layout. */
static void unblock16(const vkx_kernels *k, const uint16_t *src, size_t rows, size_t cols, uint16_t *dst) {
    for (size_t t = 0; t < rows; t++)
        for (size_t i = 0; i < cols; i++) dst[t * cols + i] = src[blocked_at(k, t, i, cols)];
}

typedef struct rows_f32 {
    const float *src;
    uint32_t cols;
    vkx_wt wt;
} rows_f32;

static void fill_rows_f32(void *user, uint32_t row0, uint32_t nrows, void *dst) {
    const rows_f32 *r = user;
    const float *s = r->src + (size_t)row0 * r->cols;
    size_t n = (size_t)nrows * r->cols;
    if (r->wt == VKX_WT_F32) {
        memcpy(dst, s, n * 4);
        return;
    }
    uint16_t *d = dst;
    for (size_t i = 0; i < n; i++) d[i] = r->wt == VKX_WT_F16 ? xf_f32_to_f16(s[i]) : xf_f32_to_bf16(s[i]);
}

/* Runs the recorded work and waits. */
#define RUN(record)                                                                                \
    do {                                                                                           \
        XF_TRY(vkx_begin(c));                                                                      \
        record;                                                                                    \
        vkx_barrier_all(c);                                                                        \
        XF_TRY(vkx_submit_wait(c));                                                                \
    } while (0)

static xf_status op_rmsnorm(xf_dtype mode, const float *x, const float *w, float *y, int rows, int n,
                            float eps) {
    xf_status st = XF_OK;
    vkx_ctx *c = NULL;
    vkx_kernels k;
    vkx_buffer bx = {0}, bw = {0}, by = {0};
    VkDescriptorSet s;
    size_t bytes = (size_t)rows * n * 4;
    XF_CHECK(rows >= 0 && n >= 1, XF_ERR_INVALID_ARG, "vulkan rmsnorm: bad shape %d x %d", rows, n);
    XF_TRY(ops_ctx(&c));
    XF_TRY(vkx_kernels_init(c, mode, 0, 1, &k));
    XF_TRY(vkx_buffer_from(c, x, bytes, &bx));
    if (w) XF_TRY(vkx_buffer_from(c, w, (size_t)n * 4, &bw));
    XF_TRY(vkx_buffer_create(c, bytes, 0, &by));
    vkx_buffer *b[3] = {&bx, w ? &bw : NULL, &by};
    XF_TRY(vkx_set(c, b, 3, &s));
    RUN(vkx_rec_rmsnorm(c, &k, s, (uint32_t)rows, (uint32_t)n, 0, (uint32_t)n, 0, (uint32_t)n, eps, w != NULL, 0));
    XF_TRY(vkx_download(c, &by, 0, y, bytes));
cleanup:
    vkx_buffer_destroy(c, &bx);
    vkx_buffer_destroy(c, &bw);
    vkx_buffer_destroy(c, &by);
    return st;
}

static xf_status op_linear(xf_dtype mode, const float *x, const float *W, const float *bias, float *y,
                           int T, int in, int out, int accumulate) {
    xf_status st = XF_OK;
    vkx_ctx *c = NULL;
    vkx_kernels k;
    vkx_buffer bx = {0}, bb = {0}, by = {0}, bxb = {0}, by16 = {0};
    vkx_weight w = {0};
    uint16_t *x16 = NULL, *xb16 = NULL, *y16 = NULL;
    XF_CHECK(T >= 0 && in >= 1 && out >= 1, XF_ERR_INVALID_ARG, "vulkan linear: bad shape %d x %d -> %d", T,
             in, out);
    XF_TRY(ops_ctx(&c));
    XF_TRY(vkx_kernels_init(c, mode, 0, 1, &k));
    rows_f32 src = {W, (uint32_t)in, k.wt};
    /* as the forward stores its layers' matrices: blocked where the kernel reads that */
    XF_TRY(vkx_weight_upload_blocked(c, k.wt, (uint32_t)out, (uint32_t)in, fill_rows_f32, &src,
                                     k.cmb_vec ? k.cm_bn : 0, k.blk_k, &w));
    if (k.a16) { /* the matrix-unit multiply reads 16-bit activations */
        XF_ALLOC(x16, (size_t)T * in + 1);
        for (size_t i = 0; i < (size_t)T * in; i++) x16[i] = f2h(k.wt, x[i]);
        XF_TRY(vkx_buffer_from(c, x16, ((size_t)T * in + 1) * 2, &bx));
    } else {
        XF_TRY(vkx_buffer_from(c, x, (size_t)T * in * 4, &bx));
    }
    if (bias) XF_TRY(vkx_buffer_from(c, bias, (size_t)out * 4, &bb));
    if (accumulate) XF_TRY(vkx_buffer_from(c, y, (size_t)T * out * 4, &by));
    else XF_TRY(vkx_buffer_create(c, (size_t)T * out * 4, 0, &by));
    XF_TRY(vkx_begin(c));
    for (int p = 0; p < w.n; p++) {
        VkDescriptorSet s;
        vkx_buffer *b[4] = {&bx, &w.pieces[p], bias ? &bb : NULL, &by};
        st = vkx_set(c, b, 4, &s);
        if (st != XF_OK) {
            vkx_submit_wait(c);
            goto cleanup;
        }
        vkx_linear_pc pc = {.M = (uint32_t)T, .N = w.row0[p + 1] - w.row0[p], .K = (uint32_t)in,
                            .ldx = (uint32_t)in, .ldw = (uint32_t)in, .y_off = w.row0[p],
                            .ldy = (uint32_t)out, .b_off = w.row0[p],
                            .flags = (bias ? VKX_LIN_BIAS : 0u) | (accumulate ? VKX_LIN_ACC : 0u),
                            .alpha = 1.0f, .mask_adapter = -1};
        vkx_rec_linear(c, &k, vkx_weight_kind(&w), s, &pc);
    }
    vkx_barrier_all(c);
    XF_TRY(vkx_submit_wait(c));
    XF_TRY(vkx_download(c, &by, 0, y, (size_t)T * out * 4));
    if (k.cmbx16 && w.n == 1 && w.blk_rows && !accumulate && T > 0 && in % (int)k.blk_k == 0 && out % 8 == 0) {
        /* the forward's q|k|v variant: x in the blocked layout rmsnorm16b writes, y in 16
         * bits, within 16-bit rounding of the fp32 y */
        size_t tp = ((size_t)T + k.cm_bm - 1) / k.cm_bm * k.cm_bm, ny = (size_t)T * out;
        size_t nx = tp * (size_t)in;
        XF_ALLOC(xb16, nx);
        for (size_t t = 0; t < (size_t)T; t++)
            for (size_t i = 0; i < (size_t)in; i++) xb16[blocked_at(&k, t, i, (size_t)in)] = x16[t * in + i];
        XF_TRY(vkx_buffer_from(c, xb16, nx * 2, &bxb));
        XF_TRY(vkx_buffer_create(c, ny * 2, 0, &by16));
        VkDescriptorSet s;
        vkx_buffer *b[4] = {&bxb, &w.pieces[0], bias ? &bb : NULL, &by16};
        XF_TRY(vkx_set(c, b, 4, &s));
        vkx_linear_pc pc = {.M = (uint32_t)T, .N = (uint32_t)out, .K = (uint32_t)in, .ldx = (uint32_t)in,
                            .ldw = (uint32_t)in, .ldy = (uint32_t)out, .flags = bias ? VKX_LIN_BIAS : 0u,
                            .alpha = 1.0f, .mask_adapter = -1};
        RUN(vkx_rec_linear(c, &k, VKX_W_BLOCKED_X16, s, &pc));
        XF_ALLOC(y16, ny);
        XF_TRY(vkx_download(c, &by16, 0, y16, ny * 2));
        XF_TRY(match16(k.wt, y16, y, ny, k.wt == VKX_WT_BF16 ? 8e-3f : 1e-3f, 1e-4f, "linear"));
    }
cleanup:
    free(x16);
    free(xb16);
    free(y16);
    vkx_buffer_destroy(c, &bxb);
    vkx_buffer_destroy(c, &by16);
    vkx_weight_free(c, &w);
    vkx_buffer_destroy(c, &bx);
    vkx_buffer_destroy(c, &bb);
    vkx_buffer_destroy(c, &by);
    return st;
}

static xf_status op_qknorm_rope(xf_dtype mode, float *x, const float *w, float eps, const int32_t *pos,
                                int T, int nh, int D, const float *cos, const float *sin) {
    xf_status st = XF_OK;
    vkx_ctx *c = NULL;
    vkx_kernels k;
    vkx_buffer bx = {0}, bw = {0}, bc = {0}, bs = {0}, bp = {0}, b16 = {0};
    uint16_t *h16 = NULL;
    VkDescriptorSet s;
    XF_CHECK(T >= 0 && nh >= 1 && D >= 2 && D % 2 == 0, XF_ERR_INVALID_ARG, "vulkan qknorm_rope: bad shape");
    int32_t P = 1;
    for (int t = 0; t < T; t++) {
        XF_CHECK(pos[t] >= 0, XF_ERR_INVALID_ARG, "vulkan qknorm_rope: negative position");
        if (pos[t] + 1 > P) P = pos[t] + 1;
    }
    size_t bytes = (size_t)T * nh * D * 4, table = (size_t)P * (D / 2) * 4;
    XF_TRY(ops_ctx(&c));
    XF_TRY(vkx_kernels_init(c, mode, 0, 1, &k));
    XF_TRY(vkx_buffer_from(c, x, bytes, &bx));
    if (w) XF_TRY(vkx_buffer_from(c, w, (size_t)D * 4, &bw));
    XF_TRY(vkx_buffer_from(c, cos, table, &bc));
    XF_TRY(vkx_buffer_from(c, sin, table, &bs));
    XF_TRY(vkx_buffer_from(c, pos, (size_t)T * 4, &bp));
    /* the 16-bit variant the forward uses with 16-bit q|k|v (k.qkrope16): on the input rounded to
     * 16 bits, in place, within a few 16-bit roundings of the fp32 result */
    int r16 = k.qkrope16 && D % 4 == 0 && T > 0;
    size_t n = (size_t)T * nh * D;
    if (r16) {
        XF_ALLOC(h16, n);
        for (size_t i = 0; i < n; i++) h16[i] = f2h(k.wt, x[i]);
        XF_TRY(vkx_buffer_from(c, h16, n * 2, &b16));
        vkx_buffer *bb[5] = {&b16, w ? &bw : NULL, &bc, &bs, &bp};
        XF_TRY(vkx_set(c, bb, 5, &s));
        RUN(vkx_rec_qkrope(c, &k, s, (uint32_t)T, (uint32_t)nh, (uint32_t)D, 0, (uint32_t)(nh * D), w != NULL, eps, 1));
    }
    vkx_buffer *b[5] = {&bx, w ? &bw : NULL, &bc, &bs, &bp};
    XF_TRY(vkx_set(c, b, 5, &s));
    RUN(vkx_rec_qkrope(c, &k, s, (uint32_t)T, (uint32_t)nh, (uint32_t)D, 0, (uint32_t)(nh * D), w != NULL, eps, 0));
    XF_TRY(vkx_download(c, &bx, 0, x, bytes));
    if (r16) {
        XF_TRY(vkx_download(c, &b16, 0, h16, n * 2));
        /* RoPE subtracts products of rounded inputs: errors scale with the largest value */
        float big = 0.0f;
        for (size_t i = 0; i < n; i++) big = fmaxf(big, fabsf(x[i]));
        XF_TRY(match16(k.wt, h16, x, n, 0.0f, (k.wt == VKX_WT_BF16 ? 1.6e-2f : 2e-3f) * big, "qknorm_rope"));
    }
cleanup:
    free(h16);
    vkx_buffer_destroy(c, &b16);
    vkx_buffer_destroy(c, &bx);
    vkx_buffer_destroy(c, &bw);
    vkx_buffer_destroy(c, &bc);
    vkx_buffer_destroy(c, &bs);
    vkx_buffer_destroy(c, &bp);
    return st;
}

static xf_status op_attention(xf_dtype mode, const float *q, const float *kk, const float *v, float *out,
                              const int32_t *seq_start, int B, int nh, int nkv, int D, xf_attn_mask mask) {
    xf_status st = XF_OK;
    vkx_ctx *c = NULL;
    vkx_kernels k;
    vkx_buffer bq = {0}, bk = {0}, bv = {0}, bo = {0}, bs = {0}, bo16 = {0}, bob = {0};
    vkx_buffer bq16 = {0}, bk16 = {0}, bv16 = {0};
    int32_t *span = NULL; /* [T, 2]: (start, end) of each token's sequence */
    uint16_t *rows16 = NULL, *blk16 = NULL, *in16 = NULL;
    float *rowsf = NULL;
    VkDescriptorSet s;
    XF_CHECK(B >= 1 && nh >= 1 && nkv >= 1 && nh % nkv == 0 && seq_start[0] == 0, XF_ERR_INVALID_ARG,
             "vulkan attention: bad shape");
    int T = seq_start[B];
    const size_t n_span = 2 * (size_t)T;
    XF_ALLOC(span, n_span);
    for (int b = 0; b < B; b++) {
        XF_CHECK(seq_start[b + 1] > seq_start[b], XF_ERR_INVALID_ARG, "vulkan attention: empty sequence");
        for (int t = seq_start[b]; t < seq_start[b + 1]; t++) {
            span[2 * t] = seq_start[b];
            span[2 * t + 1] = seq_start[b + 1];
        }
    }
    XF_TRY(ops_ctx(&c));
    XF_TRY(vkx_kernels_init(c, mode, D, nh / nkv, &k));
    XF_TRY(vkx_buffer_from(c, q, (size_t)T * nh * D * 4, &bq));
    XF_TRY(vkx_buffer_from(c, kk, (size_t)T * nkv * D * 4, &bk));
    XF_TRY(vkx_buffer_from(c, v, (size_t)T * nkv * D * 4, &bv));
    XF_TRY(vkx_buffer_create(c, (size_t)T * nh * D * 4, 0, &bo));
    XF_TRY(vkx_buffer_from(c, span, (size_t)T * 8, &bs));
    /* the forward's kernel of this mode: the 16-bit-output one where the mode has it */
    int o16 = k.attention16 != VK_NULL_HANDLE;
    if (o16) XF_TRY(vkx_buffer_create(c, (size_t)T * nh * D * 2, 0, &bo16));
    vkx_buffer *b[6] = {&bq, &bk, &bv, &bo, &bs, o16 ? &bo16 : NULL};
    XF_TRY(vkx_set(c, b, 6, &s));
    uint32_t qd = (uint32_t)(nh * D), kd = (uint32_t)(nkv * D);
    uint32_t ol[8] = {0, qd, 0, kd, 0, kd, 0, qd};
    RUN(vkx_rec_attention(c, &k, s, (uint32_t)T, (uint32_t)nh, (uint32_t)nkv, ol, o16, mask));
    XF_TRY(vkx_download(c, &bo, 0, out, (size_t)T * nh * D * 4));
    if (o16 && k.attention16b) {
        /* the forward's variant with the 16-bit output alone, blocked for the o multiply:
         * the same values as the row-major 16-bit copy, element by element */
        size_t tp = ((size_t)T + k.cm_bm - 1) / k.cm_bm * k.cm_bm, n = (size_t)T * qd;
        XF_TRY(vkx_buffer_create(c, tp * qd * 2, 0, &bob));
        vkx_buffer *bb[6] = {&bq, &bk, &bv, &bo, &bs, &bob};
        XF_TRY(vkx_set(c, bb, 6, &s));
        RUN(vkx_rec_attention(c, &k, s, (uint32_t)T, (uint32_t)nh, (uint32_t)nkv, ol, 2, mask));
        size_t nb = tp * qd;
        XF_ALLOC(rows16, n);
        XF_ALLOC(blk16, nb);
        XF_ALLOC(rowsf, n);
        XF_TRY(vkx_download(c, &bo16, 0, rows16, n * 2));
        for (size_t i = 0; i < n; i++) rowsf[i] = h2f(k.wt, rows16[i]);
        XF_TRY(vkx_download(c, &bob, 0, blk16, nb * 2));
        unblock16(&k, blk16, (size_t)T, qd, rows16);
        XF_TRY(match16(k.wt, rows16, rowsf, n, 8e-3f, 1e-6f, "attention (blocked output)"));
        if (k.attention16bi) {
            /* and the variant reading q, k, v in 16 bits: the inputs rounded, so within a
             * fraction of the largest output of the fp32-input kernel's 16-bit copy */
            size_t nq = (size_t)T * qd, nk = (size_t)T * kd;
            XF_ALLOC(in16, nq + 2 * nk);
            for (size_t i = 0; i < nq; i++) in16[i] = f2h(k.wt, q[i]);
            for (size_t i = 0; i < nk; i++) in16[nq + i] = f2h(k.wt, kk[i]), in16[nq + nk + i] = f2h(k.wt, v[i]);
            XF_TRY(vkx_buffer_from(c, in16, nq * 2, &bq16));
            XF_TRY(vkx_buffer_from(c, in16 + nq, nk * 2, &bk16));
            XF_TRY(vkx_buffer_from(c, in16 + nq + nk, nk * 2, &bv16));
            vkx_buffer *bi[6] = {&bq16, &bk16, &bv16, &bo, &bs, &bob};
            XF_TRY(vkx_set(c, bi, 6, &s));
            RUN(vkx_rec_attention(c, &k, s, (uint32_t)T, (uint32_t)nh, (uint32_t)nkv, ol, 3, mask));
            XF_TRY(vkx_download(c, &bob, 0, blk16, nb * 2));
            unblock16(&k, blk16, (size_t)T, qd, rows16);
            float big = 0.0f;
            for (size_t i = 0; i < n; i++) big = fmaxf(big, fabsf(rowsf[i]));
            XF_TRY(match16(k.wt, rows16, rowsf, n, 0.0f, (k.wt == VKX_WT_BF16 ? 3e-2f : 5e-3f) * big,
                           "attention (16-bit inputs)"));
        }
    }
cleanup:
    free(span);
    free(rows16);
    free(blk16);
    free(rowsf);
    free(in16);
    vkx_buffer_destroy(c, &bob);
    vkx_buffer_destroy(c, &bq16);
    vkx_buffer_destroy(c, &bk16);
    vkx_buffer_destroy(c, &bv16);
    vkx_buffer_destroy(c, &bq);
    vkx_buffer_destroy(c, &bk);
    vkx_buffer_destroy(c, &bv);
    vkx_buffer_destroy(c, &bo);
    vkx_buffer_destroy(c, &bs);
    vkx_buffer_destroy(c, &bo16);
    return st;
}

static xf_status op_swiglu(xf_dtype mode, const float *gate, const float *up, float *out, int64_t n) {
    xf_status st = XF_OK;
    vkx_ctx *c = NULL;
    vkx_kernels k;
    vkx_buffer bg = {0}, bu = {0}, bo = {0};
    VkDescriptorSet s;
    XF_CHECK(n >= 0 && n < ((int64_t)1 << 30), XF_ERR_INVALID_ARG, "vulkan swiglu: bad size %lld", (long long)n);
    XF_TRY(ops_ctx(&c));
    XF_TRY(vkx_kernels_init(c, mode, 0, 1, &k));
    XF_TRY(vkx_buffer_from(c, gate, (size_t)n * 4, &bg));
    XF_TRY(vkx_buffer_from(c, up, (size_t)n * 4, &bu));
    XF_TRY(vkx_buffer_create(c, (size_t)n * 4, 0, &bo));
    vkx_buffer *b[3] = {&bg, &bu, &bo};
    XF_TRY(vkx_set(c, b, 3, &s));
    uint32_t sl[6] = {0, (uint32_t)n, 0, (uint32_t)n, 0, (uint32_t)n};
    RUN(vkx_rec_swiglu(c, &k, s, n ? 1u : 0u, (uint32_t)n, sl, 0));
    XF_TRY(vkx_download(c, &bo, 0, out, (size_t)n * 4));
cleanup:
    vkx_buffer_destroy(c, &bg);
    vkx_buffer_destroy(c, &bu);
    vkx_buffer_destroy(c, &bo);
    return st;
}

const xf_op_table vkx_op_table = {
    .rmsnorm = op_rmsnorm,
    .linear = op_linear,
    .qknorm_rope = op_qknorm_rope,
    .attention = op_attention,
    .swiglu = op_swiglu,
};
