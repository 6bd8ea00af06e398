/* ops_test.c — the Vulkan op table for the op-by-op tests (tests/test_ops.c): each
 * entry uploads its host fp32 inputs (weights converted to the mode's type), records
 * one variant of the op's kernel — the one `select` chose, by default the one the
 * kernel table picks on this device — runs it as one submission and returns its
 * output as fp32 (16-bit outputs converted, blocked ones unblocked). Every output
 * buffer has GUARD_BYTES of a sentinel before and after it in device memory (the
 * binding starts after the first); an entry fails with "guard" when a kernel wrote
 * into either. A variant this device or shape cannot run returns XF_ERR_UNSUPPORTED
 * (the test reports it skipped). One process-wide context is made at the first call
 * and kept (its pipelines are reused across calls); its overrides are set per variant. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

/* --------------------------------------------------------------- variants */

/* What a variant needs of the kernels of a mode (vkx_kernels) to run. */
enum need {
    NEED_NONE = 0, NEED_NORM16, NEED_NORM16B, NEED_CM, NEED_CMB, NEED_CMBX, NEED_CMBX16, NEED_MM, NEED_ROPE16,
    NEED_ATT16, NEED_ATT16B, NEED_ATT16BI, NEED_SWIGLU16, NEED_GLU, NEED_GLUB, NEED_GLUBX, NEED_GLUBXY, NEED_GLU2
};

/* How a variant runs its op (the op's io values, below). */
enum { IO_AUTO = -1 };
enum lin_io { LIN_PLAIN = 0, LIN_F32W, LIN_CM_ROWS, LIN_CMB, LIN_CMBX, LIN_CMBX16, LIN_MM };
enum glu_io { GLU_TWO_PASS = 0, GLU_ROWS, GLU_BLOCKED_W, GLU_BLOCKED_X, GLU_BLOCKED_XY, GLU_NV2 };

typedef struct variant {
    const char *kernel, *layout;
    int need, io;
    vkx_att_pick att; /* the kernel table's overrides for this variant (DEFAULT: as set) */
    vkx_mm_pick mm;
    vkx_glu_pick glu;
} variant;

/* A variant on the overrides as set (V), or asking for an attention (VA), multiply (VM) or
 * fused gate|up (VG) kernel. */
#define V(k, l, need, io) {k, l, need, io, VKX_ATT_PICK_DEFAULT, VKX_MM_DEFAULT, VKX_GLU_DEFAULT}
#define VA(k, l, need, io, att) {k, l, need, io, att, VKX_MM_DEFAULT, VKX_GLU_DEFAULT}
#define VM(k, l, need, io, mm) {k, l, need, io, VKX_ATT_PICK_DEFAULT, mm, VKX_GLU_DEFAULT}
#define VG(k, l, need, io, glu) {k, l, need, io, VKX_ATT_PICK_DEFAULT, VKX_MM_DEFAULT, glu}

static const variant v_rmsnorm[] = {
    V("default (rmsnorm)", "fp32", NEED_NONE, VKX_NORM_F32),
    V("rmsnorm16", "fp32 + 16-bit rows", NEED_NORM16, VKX_NORM_F32_16),
    V("rmsnorm16b", "fp32 + 16-bit blocked", NEED_NORM16B, VKX_NORM_F32_16BLK),
    V("rmsnorm16b", "16-bit blocked only", NEED_NORM16B, VKX_NORM_16BLK),
};
static const variant v_linear[] = {
    V("default (the table's multiply)", "as the layers' weights", NEED_NONE, IO_AUTO),
    V("linear", "w rows, x fp32", NEED_NONE, LIN_PLAIN),
    V("linear", "w fp32 (LoRA, score), x fp32", NEED_NONE, LIN_F32W),
    V("linear_cm", "w rows, x 16-bit rows (KHR) or fp32 (NV)", NEED_CM, LIN_CM_ROWS),
    V("linear_cm", "w blocked, x 16-bit rows", NEED_CMB, LIN_CMB),
    V("linear_cm", "w blocked, x 16-bit blocked", NEED_CMBX, LIN_CMBX),
    V("linear_cm", "w blocked, x blocked, y 16-bit", NEED_CMBX16, LIN_CMBX16),
    VM("linear_cm db", "w blocked, x 16-bit rows", NEED_CMB, LIN_CMB, VKX_MM_DB),
    VM("linear_cm2", "w rows, x 16-bit rows", NEED_MM, LIN_MM, VKX_MM_CM2),
};
static const variant v_rope[] = {
    V("default (qknorm_rope)", "fp32", NEED_NONE, 0),
    V("qknorm_rope16", "16-bit", NEED_ROPE16, 1),
};
static const variant v_attention[] = {
    V("default (the table's attention)", "as the mode's", NEED_NONE, IO_AUTO),
    V("attention", "fp32 in, fp32 out", NEED_NONE, VKX_ATT_F32),
    VA("attention (scalar)", "fp32 in, fp32 + 16-bit out", NEED_ATT16, VKX_ATT_F32_16, VKX_ATT_PICK_SCALAR),
    VA("attention_cmk", "fp32 in, fp32 + 16-bit out", NEED_ATT16, VKX_ATT_F32_16, VKX_ATT_PICK_KHR),
    VA("attention_cm2", "fp32 in, fp32 + 16-bit out", NEED_ATT16, VKX_ATT_F32_16, VKX_ATT_PICK_CM2),
    VA("attention_cm2 smem", "fp32 in, fp32 + 16-bit out", NEED_ATT16, VKX_ATT_F32_16, VKX_ATT_PICK_CM2_SMEM),
    VA("attention_cm2", "fp32 in, 16-bit blocked out", NEED_ATT16B, VKX_ATT_16BLK, VKX_ATT_PICK_CM2),
    VA("attention_cm2", "16-bit in, 16-bit blocked out", NEED_ATT16BI, VKX_ATT_16IN_16BLK, VKX_ATT_PICK_CM2),
};
static const variant v_swiglu[] = {
    V("default (swiglu)", "fp32", NEED_NONE, 0),
    V("swiglu16", "fp32 + 16-bit", NEED_SWIGLU16, 1),
};
static const variant v_glu[] = {
    V("default (the table's gate|up + SwiGLU)", "as the layers'", NEED_NONE, IO_AUTO),
    V("linear + swiglu", "two passes, gu fp32", NEED_NONE, GLU_TWO_PASS),
    V("linear_cm + swiglu (fused)", "w interleaved rows, x rows, act 16-bit rows", NEED_GLU, GLU_ROWS),
    V("linear_cm + swiglu (fused)", "w interleaved blocked, x rows", NEED_GLUB, GLU_BLOCKED_W),
    V("linear_cm + swiglu (fused)", "w blocked, x blocked", NEED_GLUBX, GLU_BLOCKED_X),
    V("linear_cm + swiglu (fused)", "w blocked, x blocked, act blocked", NEED_GLUBXY, GLU_BLOCKED_XY),
    VG("linear_cm2 + swiglu (fused)", "w rows, x rows, act 16-bit rows", NEED_GLU2, GLU_NV2, VKX_GLU_CM2),
};

#define N_OF(a) (int)(sizeof(a) / sizeof((a)[0]))
static const struct {
    const variant *v;
    int n;
} g_variants[XF_OPT_COUNT] = {
    [XF_OP_RMSNORM] = {v_rmsnorm, N_OF(v_rmsnorm)},       [XF_OP_LINEAR] = {v_linear, N_OF(v_linear)},
    [XF_OP_QK_ROPE] = {v_rope, N_OF(v_rope)},             [XF_OP_ATTENTION] = {v_attention, N_OF(v_attention)},
    [XF_OP_SWIGLU] = {v_swiglu, N_OF(v_swiglu)},          [XF_OPT_LINEAR_SWIGLU] = {v_glu, N_OF(v_glu)},
};
static int g_selected[XF_OPT_COUNT]; /* variant + 1; 0: the default (variant 0) */

static int has(const vkx_kernels *k, int need) {
    switch (need) {
    case NEED_NORM16: return k->rmsnorm16 != VK_NULL_HANDLE;
    case NEED_NORM16B: return k->rmsnorm16b != VK_NULL_HANDLE;
    case NEED_CM: return k->cm_vec != VK_NULL_HANDLE;
    case NEED_CMB: return k->cmb_vec != VK_NULL_HANDLE;
    case NEED_CMBX: return k->cmbx != VK_NULL_HANDLE;
    case NEED_CMBX16: return k->cmbx16 != VK_NULL_HANDLE;
    case NEED_MM: return k->mm_vec != VK_NULL_HANDLE;
    case NEED_ROPE16: return k->qkrope16 != VK_NULL_HANDLE;
    case NEED_ATT16: return k->attention16 != VK_NULL_HANDLE;
    case NEED_ATT16B: return k->attention16b != VK_NULL_HANDLE;
    case NEED_ATT16BI: return k->attention16bi != VK_NULL_HANDLE;
    case NEED_SWIGLU16: return k->swiglu16 != VK_NULL_HANDLE;
    case NEED_GLU: return k->glu_vec && k->glu_block;
    case NEED_GLUB: return k->glub_vec != VK_NULL_HANDLE;
    case NEED_GLUBX: return k->glubx != VK_NULL_HANDLE;
    case NEED_GLUBXY: return k->glubxy != VK_NULL_HANDLE;
    case NEED_GLU2: return k->glu_vec && !k->glu_block;
    default: return 1;
    }
}

static int vk_variants(int id, xf_dtype mode, xf_kernel_choice *out, int max) {
    (void)mode; /* the same list in every mode: a variant without kernels in one is skipped there */
    if (id < 0 || id >= XF_OPT_COUNT) return 0;
    for (int i = 0; i < g_variants[id].n && i < max; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        snprintf(out[i].kernel, sizeof out[i].kernel, "%s", g_variants[id].v[i].kernel);
        snprintf(out[i].layout, sizeof out[i].layout, "%s", g_variants[id].v[i].layout);
    }
    return g_variants[id].n;
}

static xf_status vk_select(int id, int which) {
    if (id < 0 || id >= XF_OPT_COUNT || which < -1 || which >= g_variants[id].n)
        return xf_error(XF_ERR_INVALID_ARG, "vulkan: no kernel variant %d for op %d", which, id);
    g_selected[id] = which + 1;
    return XF_OK;
}

static const variant *selected(int id) {
    return &g_variants[id].v[g_selected[id] > 0 ? g_selected[id] - 1 : 0];
}

/* --------------------------------------------------------------- context and kernels */

static vkx_ctx *g_ctx;
static xf_status g_ctx_status = XF_OK;
static char g_ctx_error[512];

/* The context (made once) and the kernels of mode for variant v, with its overrides. */
static xf_status op_begin(const variant *v, xf_dtype mode, int D, int G, vkx_ctx **out, vkx_kernels *k) {
    if (!g_ctx && g_ctx_status == XF_OK) {
        g_ctx_status = vkx_ctx_create(NULL, 0, &g_ctx);
        if (g_ctx_status != XF_OK) snprintf(g_ctx_error, sizeof(g_ctx_error), "%s", xf_last_error());
    }
    *out = g_ctx;
    if (g_ctx_status != XF_OK) return xf_error(g_ctx_status, "%s", g_ctx_error);
    vkx_ctx *c = g_ctx;
    vkx_sets_reset(c);
    vkx_overrides saved = c->ov;
    if (v->att != VKX_ATT_PICK_DEFAULT) c->ov.att = v->att;
    if (v->mm != VKX_MM_DEFAULT) c->ov.mm = v->mm;
    if (v->glu != VKX_GLU_DEFAULT) c->ov.glu = v->glu;
    xf_status st = vkx_kernels_init(c, mode, D, G, k);
    c->ov = saved;
    if (st == XF_OK && !has(k, v->need))
        st = xf_error(XF_ERR_UNSUPPORTED, "vulkan: %s (%s) is not available on %s in this mode", v->kernel, v->layout,
                      c->device_name);
    return st;
}

static xf_status unsupported(const variant *v, const char *why) {
    return xf_error(XF_ERR_UNSUPPORTED, "vulkan: %s (%s) does not run %s", v->kernel, v->layout, why);
}

/* --------------------------------------------------------------- buffers with guards */

#define GUARD_BYTES 256 /* a multiple of every device's minStorageBufferOffsetAlignment */
static const uint8_t guard_byte = 0xA5;

/* An output (or in/out) buffer: GUARD_BYTES of sentinel, `bytes` of data (init, or NaN
 * bytes), GUARD_BYTES of sentinel; bound from the data on (set_at with off). */
typedef struct gbuf {
    vkx_buffer b;
    size_t bytes, total; /* data; data and both guards */
} gbuf;
static const VkDeviceSize guard_off = GUARD_BYTES;

static xf_status gbuf_make(vkx_ctx *c, const void *init, size_t bytes, gbuf *g) {
    xf_status st = XF_OK;
    size_t total = 2 * GUARD_BYTES + (bytes + 3) / 4 * 4;
    uint8_t *h = NULL;
    XF_ALLOC(h, total);
    memset(h, guard_byte, total);
    if (init) memcpy(h + GUARD_BYTES, init, bytes);
    else memset(h + GUARD_BYTES, 0xFF, bytes);
    g->bytes = bytes, g->total = total;
    XF_TRY(vkx_buffer_from(c, h, total, &g->b));
cleanup:
    free(h);
    return st;
}

/* Downloads the data to out (may be NULL) and checks both guard regions. */
static xf_status gbuf_read(vkx_ctx *c, gbuf *g, void *out, const char *what) {
    xf_status st = XF_OK;
    size_t total = g->total;
    uint8_t *h = NULL;
    XF_ALLOC(h, total);
    XF_TRY(vkx_download(c, &g->b, 0, h, total));
    for (size_t i = 0; i < total; i++) {
        if (i == GUARD_BYTES) i += g->bytes;
        if (i < total && h[i] != guard_byte)
            XF_CHECK(0, XF_ERR_INTERNAL, "vulkan %s: guard region %s its output damaged (byte %lld of the guard)", what,
                     i < GUARD_BYTES ? "before" : "after",
                     i < GUARD_BYTES ? (long long)i - GUARD_BYTES : (long long)(i - GUARD_BYTES - g->bytes));
    }
    if (out) memcpy(out, h + GUARD_BYTES, g->bytes);
cleanup:
    free(h);
    return st;
}

static void gbuf_free(vkx_ctx *c, gbuf *g) {
    vkx_buffer_destroy(c, &g->b);
}

/* --------------------------------------------------------------- 16-bit values and layouts */

static float h2f(vkx_wt wt, uint16_t h) {
    return wt == VKX_WT_BF16 ? xf_bf16_to_f32(h) : xf_f16_to_f32(h);
}

static uint16_t f2h(vkx_wt wt, float f) {
    return wt == VKX_WT_BF16 ? xf_f32_to_bf16(f) : xf_f32_to_f16(f);
}

static uint16_t *to16(vkx_wt wt, const float *x, size_t n) {
    uint16_t *h = malloc((n + 1) * sizeof(uint16_t));
    if (h)
        for (size_t i = 0; i < n; i++) h[i] = f2h(wt, x[i]);
    return h;
}

/* Index of element (t, i) of a [rows, cols] matrix in the blocked layout of the matrix-unit
 * kernels' x (rows in groups of k->cm_bm, each group cols/k->blk_k consecutive cm_bm×blk_k
 * blocks), as blocked_index() in the shaders. */
static size_t blocked_at(const vkx_kernels *k, size_t t, size_t i, size_t cols) {
    size_t bm = k->cm_bm, bk = k->blk_k;
    return ((t / bm) * (cols / bk) + i / bk) * bm * bk + (t % bm) * bk + i % bk;
}

static size_t padded_rows(const vkx_kernels *k, size_t rows) {
    return (rows + k->cm_bm - 1) / k->cm_bm * k->cm_bm;
}

/* The blocked 16-bit copy of x [rows, cols] (rows padded to whole groups, zeros). */
static uint16_t *to16_blocked(const vkx_kernels *k, const float *x, size_t rows, size_t cols) {
    uint16_t *h = calloc(padded_rows(k, rows) * cols + 1, sizeof(uint16_t));
    if (h)
        for (size_t t = 0; t < rows; t++)
            for (size_t i = 0; i < cols; i++) h[blocked_at(k, t, i, cols)] = f2h(k->wt, x[t * cols + i]);
    return h;
}

/* out [rows, cols] fp32 = the 16-bit src, blocked or row-major. */
static void from16(const vkx_kernels *k, const uint16_t *src, size_t rows, size_t cols, int blocked, float *out) {
    for (size_t t = 0; t < rows; t++)
        for (size_t i = 0; i < cols; i++)
            out[t * cols + i] = h2f(k->wt, src[blocked ? blocked_at(k, t, i, cols) : t * cols + i]);
}

/* Whether the 16-bit copy a (n values) matches the fp32 b within tol·|b| + atol. */
static xf_status match16(vkx_wt wt, const uint16_t *a, const float *b, size_t n, float tol, float atol,
                         const char *what) {
    for (size_t i = 0; i < n; i++) {
        float fa = h2f(wt, a[i]);
        if (!(fabsf(fa - b[i]) <= tol * fabsf(b[i]) + atol))
            return xf_error(XF_ERR_INTERNAL, "vulkan %s: 16-bit copy %g != %g at %zu", what, fa, b[i], i);
    }
    return XF_OK;
}

static float tol16(vkx_wt wt) {
    return wt == VKX_WT_BF16 ? 8e-3f : 1e-3f;
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

/* Host data to a new device buffer (an empty input: a small unused one). */
static xf_status from_host(vkx_ctx *c, const void *src, size_t bytes, vkx_buffer *b) {
    return bytes ? vkx_buffer_from(c, src, bytes, b) : vkx_buffer_create(c, 16, 0, b);
}

/* Runs the recorded work and waits. */
#define RUN(record)                                                                                \
    do {                                                                                           \
        XF_TRY(vkx_begin(c));                                                                      \
        record;                                                                                    \
        vkx_barrier_all(c);                                                                        \
        XF_TRY(vkx_submit_wait(c));                                                                \
    } while (0)

/* --------------------------------------------------------------- entries */

static xf_status op_rmsnorm(xf_dtype mode, const float *x, const float *w, float *y, int rows, int n, float eps) {
    xf_status st = XF_OK;
    const variant *v = selected(XF_OP_RMSNORM);
    vkx_ctx *c = NULL;
    vkx_kernels k;
    vkx_buffer bx = {0}, bw = {0};
    gbuf gy = {0}, g16 = {0};
    uint16_t *h16 = NULL;
    VkDescriptorSet s;
    size_t nn = (size_t)rows * n;
    XF_CHECK(rows >= 0 && n >= 1, XF_ERR_INVALID_ARG, "vulkan rmsnorm: bad shape %d x %d", rows, n);
    XF_TRY(op_begin(v, mode, 0, 1, &c, &k));
    vkx_norm_out io = (vkx_norm_out)v->io;
    int blk = io >= VKX_NORM_F32_16BLK;
    if (io != VKX_NORM_F32 && n % 2) return unsupported(v, "an odd row length");
    if (blk && n % (int)k.blk_k) return unsupported(v, "rows that are not whole blocks");
    size_t n16 = blk ? padded_rows(&k, (size_t)rows) * n : nn;
    XF_TRY(from_host(c, x, nn * 4, &bx));
    if (w) XF_TRY(vkx_buffer_from(c, w, (size_t)n * 4, &bw));
    XF_TRY(gbuf_make(c, NULL, nn * 4, &gy));
    if (io != VKX_NORM_F32) XF_TRY(gbuf_make(c, NULL, n16 * 2, &g16));
    vkx_buffer *b[4] = {&bx, w ? &bw : NULL, &gy.b, io != VKX_NORM_F32 ? &g16.b : NULL};
    const VkDeviceSize at[4] = {0, 0, guard_off, guard_off};
    XF_TRY(vkx_set_at(c, b, at, 4, &s));
    RUN(vkx_rec_rmsnorm(c, &k, s, (uint32_t)rows, (uint32_t)n, 0, (uint32_t)n, 0, (uint32_t)n, eps, w != NULL, io));
    XF_TRY(gbuf_read(c, &gy, io == VKX_NORM_16BLK ? NULL : y, "rmsnorm"));
    if (io != VKX_NORM_F32) {
        XF_ALLOC(h16, n16 + 1);
        XF_TRY(gbuf_read(c, &g16, h16, "rmsnorm (16-bit copy)"));
        if (io == VKX_NORM_16BLK) { /* the 16-bit copy is the output */
            from16(&k, h16, (size_t)rows, (size_t)n, 1, y);
        } else {
            float *y16 = NULL;
            XF_ALLOC(y16, nn + 1);
            from16(&k, h16, (size_t)rows, (size_t)n, blk, y16);
            for (size_t i = 0; i < nn; i++) h16[i] = f2h(k.wt, y16[i]);
            free(y16);
            XF_TRY(match16(k.wt, h16, y, nn, tol16(k.wt), 1e-6f, "rmsnorm"));
        }
    }
cleanup:
    free(h16);
    vkx_buffer_destroy(c, &bx);
    vkx_buffer_destroy(c, &bw);
    gbuf_free(c, &gy);
    gbuf_free(c, &g16);
    return st;
}

static xf_status op_linear(xf_dtype mode, const float *x, const float *W, const float *bias, float *y, int T, int in,
                           int out, int accumulate) {
    xf_status st = XF_OK;
    const variant *v = selected(XF_OP_LINEAR);
    vkx_ctx *c = NULL;
    vkx_kernels k;
    vkx_buffer bx = {0}, bb = {0};
    gbuf gy = {0};
    vkx_weight w = {0};
    uint16_t *x16 = NULL, *y16 = NULL;
    XF_CHECK(T >= 0 && in >= 1 && out >= 1, XF_ERR_INVALID_ARG, "vulkan linear: bad shape %d x %d -> %d", T, in, out);
    XF_TRY(op_begin(v, mode, 0, 1, &c, &k));
    int io = v->io;
    if (io == IO_AUTO) /* as the forward stores and multiplies its layers' matrices */
        io = vkx_blocked_fits(c, k.wt, (uint32_t)out, (uint32_t)in, k.cmb_vec ? k.cm_bn : 0, k.blk_k) ? LIN_CMB
             : k.mm_vec                                                                               ? LIN_MM
             : k.cm_vec                                                                               ? LIN_CM_ROWS
                                                                                                      : LIN_PLAIN;
    int blocked_w = io == LIN_CMB || io == LIN_CMBX || io == LIN_CMBX16, y_16 = io == LIN_CMBX16;
    if (blocked_w && !vkx_blocked_fits(c, k.wt, (uint32_t)out, (uint32_t)in, k.cm_bn, k.blk_k))
        return unsupported(v, "a matrix that is not stored blocked (K not whole slices)");
    if (y_16 && (accumulate || out % 8)) return unsupported(v, "accumulating, or rows not a multiple of 8");
    vkx_kernels kk = k; /* the kernel the variant names: the others taken out of vkx_rec_linear's way */
    if (io == LIN_PLAIN || io == LIN_F32W) kk.cm_vec = kk.mm_vec = VK_NULL_HANDLE;
    if (io == LIN_CM_ROWS) kk.mm_vec = VK_NULL_HANDLE;
    vkx_wt wt = io == LIN_F32W ? VKX_WT_F32 : k.wt;
    rows_f32 src = {W, (uint32_t)in, wt};
    if (blocked_w) XF_TRY(vkx_weight_upload_blocked(c, wt, (uint32_t)out, (uint32_t)in, fill_rows_f32, &src, k.cm_bn,
                                                    k.blk_k, &w));
    else XF_TRY(vkx_weight_upload(c, wt, (uint32_t)out, (uint32_t)in, fill_rows_f32, &src, &w));
    /* x: 16-bit where the kernel reads it so (KHR and NV2 multiplies of 16-bit weights) */
    int x_16 = k.a16 && (io == LIN_CM_ROWS || io == LIN_MM || blocked_w);
    int wkind = io == LIN_CMBX ? VKX_W_BLOCKED_X : io == LIN_CMBX16 ? VKX_W_BLOCKED_X16 : vkx_weight_kind(&w);
    if (x_16) {
        x16 = io == LIN_CMBX || io == LIN_CMBX16 ? to16_blocked(&k, x, (size_t)T, (size_t)in)
                                                  : to16(k.wt, x, (size_t)T * in);
        XF_CHECK(x16, XF_ERR_NO_MEMORY, "out of host memory");
        size_t nx = (io == LIN_CMBX || io == LIN_CMBX16 ? padded_rows(&k, (size_t)T) : (size_t)T) * in;
        XF_TRY(vkx_buffer_from(c, x16, (nx + 1) * 2, &bx));
    } else {
        XF_TRY(from_host(c, x, (size_t)T * in * 4, &bx));
    }
    if (bias) XF_TRY(vkx_buffer_from(c, bias, (size_t)out * 4, &bb));
    size_t ny = (size_t)T * out;
    XF_TRY(gbuf_make(c, accumulate ? y : NULL, ny * (y_16 ? 2 : 4), &gy));
    XF_TRY(vkx_begin(c));
    for (int p = 0; p < w.n; p++) {
        VkDescriptorSet s;
        vkx_buffer *b[4] = {&bx, &w.pieces[p], bias ? &bb : NULL, &gy.b};
        const VkDeviceSize at[4] = {0, 0, 0, guard_off};
        st = vkx_set_at(c, b, at, 4, &s);
        if (st != XF_OK) {
            vkx_submit_wait(c);
            goto cleanup;
        }
        vkx_linear_pc pc = {.M = (uint32_t)T, .N = w.row0[p + 1] - w.row0[p], .K = (uint32_t)in, .ldx = (uint32_t)in,
                            .ldw = (uint32_t)in, .y_off = w.row0[p], .ldy = (uint32_t)out, .b_off = w.row0[p],
                            .flags = (bias ? VKX_LIN_BIAS : 0u) | (accumulate ? VKX_LIN_ACC : 0u),
                            .alpha = 1.0f, .mask_adapter = -1};
        vkx_rec_linear(c, &kk, wkind, s, &pc);
    }
    vkx_barrier_all(c);
    XF_TRY(vkx_submit_wait(c));
    if (y_16) {
        XF_ALLOC(y16, ny + 1);
        XF_TRY(gbuf_read(c, &gy, y16, "linear"));
        from16(&k, y16, (size_t)T, (size_t)out, 0, y);
    } else {
        XF_TRY(gbuf_read(c, &gy, y, "linear"));
    }
cleanup:
    free(x16);
    free(y16);
    vkx_weight_free(c, &w);
    vkx_buffer_destroy(c, &bx);
    vkx_buffer_destroy(c, &bb);
    gbuf_free(c, &gy);
    return st;
}

static xf_status op_qknorm_rope(xf_dtype mode, float *x, const float *w, float eps, const int32_t *pos, int T, int nh,
                                int D, const float *cos, const float *sin) {
    xf_status st = XF_OK;
    const variant *v = selected(XF_OP_QK_ROPE);
    vkx_ctx *c = NULL;
    vkx_kernels k;
    vkx_buffer bw = {0}, bc = {0}, bs = {0}, bp = {0};
    gbuf gx = {0};
    uint16_t *h16 = NULL;
    VkDescriptorSet s;
    XF_CHECK(T >= 0 && nh >= 1 && D >= 2 && D % 2 == 0, XF_ERR_INVALID_ARG, "vulkan qknorm_rope: bad shape");
    int32_t P = 1;
    for (int t = 0; t < T; t++) {
        XF_CHECK(pos[t] >= 0, XF_ERR_INVALID_ARG, "vulkan qknorm_rope: negative position");
        if (pos[t] + 1 > P) P = pos[t] + 1;
    }
    XF_TRY(op_begin(v, mode, 0, 1, &c, &k));
    int x16 = v->io == 1;
    if (x16 && D % 4) return unsupported(v, "a head_dim that is not a multiple of 4");
    size_t n = (size_t)T * nh * D, table = (size_t)P * (D / 2) * 4;
    if (w) XF_TRY(vkx_buffer_from(c, w, (size_t)D * 4, &bw));
    XF_TRY(vkx_buffer_from(c, cos, table, &bc));
    XF_TRY(vkx_buffer_from(c, sin, table, &bs));
    XF_TRY(from_host(c, pos, (size_t)T * 4, &bp));
    if (x16) { /* in place on the 16-bit copy (the forward's 16-bit q|k|v) */
        h16 = to16(k.wt, x, n);
        XF_CHECK(h16, XF_ERR_NO_MEMORY, "out of host memory");
        XF_TRY(gbuf_make(c, h16, n * 2, &gx));
    } else {
        XF_TRY(gbuf_make(c, x, n * 4, &gx));
    }
    vkx_buffer *b[5] = {&gx.b, w ? &bw : NULL, &bc, &bs, &bp};
    const VkDeviceSize at[5] = {guard_off, 0, 0, 0, 0};
    XF_TRY(vkx_set_at(c, b, at, 5, &s));
    RUN(vkx_rec_qkrope(c, &k, s, (uint32_t)T, (uint32_t)nh, (uint32_t)D, 0, (uint32_t)(nh * D), w != NULL, eps, x16));
    if (x16) {
        XF_TRY(gbuf_read(c, &gx, h16, "qknorm_rope"));
        from16(&k, h16, n, 1, 0, x);
    } else {
        XF_TRY(gbuf_read(c, &gx, x, "qknorm_rope"));
    }
cleanup:
    free(h16);
    gbuf_free(c, &gx);
    vkx_buffer_destroy(c, &bw);
    vkx_buffer_destroy(c, &bc);
    vkx_buffer_destroy(c, &bs);
    vkx_buffer_destroy(c, &bp);
    return st;
}

static xf_status op_attention(xf_dtype mode, const float *q, const float *kk, const float *v_, float *out,
                              const int32_t *seq_start, int B, int nh, int nkv, int D, xf_attn_mask mask) {
    xf_status st = XF_OK;
    const variant *v = selected(XF_OP_ATTENTION);
    vkx_ctx *c = NULL;
    vkx_kernels k;
    vkx_buffer bq = {0}, bk = {0}, bv = {0}, bs = {0};
    gbuf go = {0}, g16 = {0};
    int32_t *span = NULL; /* [T, 2]: (start, end) of each token's sequence */
    uint16_t *h16 = NULL, *q16 = NULL, *k16 = NULL, *v16 = NULL;
    VkDescriptorSet s;
    XF_CHECK(B >= 1 && nh >= 1 && nkv >= 1 && nh % nkv == 0 && seq_start[0] == 0, XF_ERR_INVALID_ARG,
             "vulkan attention: bad shape");
    int T = seq_start[B];
    XF_ALLOC(span, 2 * (size_t)T + 1);
    for (int b = 0; b < B; b++) {
        XF_CHECK(seq_start[b + 1] > seq_start[b], XF_ERR_INVALID_ARG, "vulkan attention: empty sequence");
        for (int t = seq_start[b]; t < seq_start[b + 1]; t++)
            span[2 * t] = seq_start[b], span[2 * t + 1] = seq_start[b + 1];
    }
    XF_TRY(op_begin(v, mode, D, nh / nkv, &c, &k));
    vkx_att_io io = v->io == IO_AUTO ? (k.attention16 ? VKX_ATT_F32_16 : VKX_ATT_F32) : (vkx_att_io)v->io;
    uint32_t qd = (uint32_t)(nh * D), kd = (uint32_t)(nkv * D);
    int blk = io >= VKX_ATT_16BLK;
    if (blk && qd % k.blk_k) return unsupported(v, "an output row that is not whole blocks");
    size_t nq = (size_t)T * qd, nk = (size_t)T * kd, n16 = blk ? padded_rows(&k, (size_t)T) * qd : nq;
    if (io == VKX_ATT_16IN_16BLK) { /* q, k, v in 16 bits, as qknorm_rope16 leaves them */
        q16 = to16(k.wt, q, nq), k16 = to16(k.wt, kk, nk), v16 = to16(k.wt, v_, nk);
        XF_CHECK(q16 && k16 && v16, XF_ERR_NO_MEMORY, "out of host memory");
        XF_TRY(vkx_buffer_from(c, q16, nq * 2 + 2, &bq));
        XF_TRY(vkx_buffer_from(c, k16, nk * 2 + 2, &bk));
        XF_TRY(vkx_buffer_from(c, v16, nk * 2 + 2, &bv));
    } else {
        XF_TRY(from_host(c, q, nq * 4, &bq));
        XF_TRY(from_host(c, kk, nk * 4, &bk));
        XF_TRY(from_host(c, v_, nk * 4, &bv));
    }
    XF_TRY(vkx_buffer_from(c, span, (size_t)T * 8 + 4, &bs));
    XF_TRY(gbuf_make(c, NULL, nq * 4, &go));
    if (io != VKX_ATT_F32) XF_TRY(gbuf_make(c, NULL, n16 * 2, &g16));
    vkx_buffer *b[6] = {&bq, &bk, &bv, &go.b, &bs, io != VKX_ATT_F32 ? &g16.b : NULL};
    const VkDeviceSize at[6] = {0, 0, 0, guard_off, 0, guard_off};
    XF_TRY(vkx_set_at(c, b, at, 6, &s));
    uint32_t ol[8] = {0, qd, 0, kd, 0, kd, 0, qd};
    RUN(vkx_rec_attention(c, &k, s, (uint32_t)T, (uint32_t)nh, (uint32_t)nkv, ol, io, mask));
    XF_TRY(gbuf_read(c, &go, blk ? NULL : out, "attention")); /* blocked: no fp32 output, guards only */
    if (io != VKX_ATT_F32) {
        XF_ALLOC(h16, n16 + 1);
        XF_TRY(gbuf_read(c, &g16, h16, "attention (16-bit output)"));
        if (blk) {
            from16(&k, h16, (size_t)T, qd, 1, out);
        } else {
            XF_TRY(match16(k.wt, h16, out, nq, tol16(k.wt), 1e-6f, "attention"));
        }
    }
cleanup:
    free(span);
    free(h16);
    free(q16);
    free(k16);
    free(v16);
    vkx_buffer_destroy(c, &bq);
    vkx_buffer_destroy(c, &bk);
    vkx_buffer_destroy(c, &bv);
    vkx_buffer_destroy(c, &bs);
    gbuf_free(c, &go);
    gbuf_free(c, &g16);
    return st;
}

/* SwiGLU over g_in [rows, g_ld] (gate at 0, up at n) into act (fp32 and, with a16, 16-bit),
 * recorded as the forward's unfused pass; used by op_swiglu and the two-pass gate|up. */
static xf_status swiglu_pass(vkx_ctx *c, const vkx_kernels *k, vkx_buffer *gin, uint32_t rows, uint32_t n,
                             const uint32_t sl[6], int out16, float *act) {
    xf_status st = XF_OK;
    gbuf go = {0}, g16 = {0};
    uint16_t *h16 = NULL;
    VkDescriptorSet s;
    size_t na = (size_t)rows * n;
    XF_TRY(gbuf_make(c, NULL, na * 4, &go));
    if (out16) XF_TRY(gbuf_make(c, NULL, na * 2, &g16));
    vkx_buffer *b[4] = {gin, gin, &go.b, out16 ? &g16.b : NULL};
    const VkDeviceSize at[4] = {0, 0, guard_off, guard_off};
    XF_TRY(vkx_set_at(c, b, at, 4, &s));
    RUN(vkx_rec_swiglu(c, k, s, rows, n, sl, out16));
    XF_TRY(gbuf_read(c, &go, act, "swiglu"));
    if (out16) {
        XF_ALLOC(h16, na + 1);
        XF_TRY(gbuf_read(c, &g16, h16, "swiglu (16-bit copy)"));
        XF_TRY(match16(k->wt, h16, act, na, tol16(k->wt), 1e-6f, "swiglu"));
    }
cleanup:
    free(h16);
    gbuf_free(c, &go);
    gbuf_free(c, &g16);
    return st;
}

static xf_status op_swiglu(xf_dtype mode, const float *gate, const float *up, float *out, int64_t n) {
    xf_status st = XF_OK;
    const variant *v = selected(XF_OP_SWIGLU);
    vkx_ctx *c = NULL;
    vkx_kernels k;
    vkx_buffer bgu = {0};
    float *gu = NULL;
    XF_CHECK(n >= 0 && n < ((int64_t)1 << 29), XF_ERR_INVALID_ARG, "vulkan swiglu: bad size %lld", (long long)n);
    XF_TRY(op_begin(v, mode, 0, 1, &c, &k));
    if (v->io == 1 && n % 2) return unsupported(v, "an odd length");
    XF_ALLOC(gu, 2 * (size_t)n + 1); /* one row: gate | up */
    memcpy(gu, gate, (size_t)n * 4);
    memcpy(gu + n, up, (size_t)n * 4);
    XF_TRY(vkx_buffer_from(c, gu, (2 * (size_t)n + 1) * 4, &bgu));
    uint32_t sl[6] = {0, 2 * (uint32_t)n, (uint32_t)n, 2 * (uint32_t)n, 0, (uint32_t)n};
    XF_TRY(swiglu_pass(c, &k, &bgu, n ? 1u : 0u, (uint32_t)n, sl, v->io == 1, out));
cleanup:
    free(gu);
    vkx_buffer_destroy(c, &bgu);
    return st;
}

/* The gate|up weight [2I, in] as the fused KHR kernel reads it: gate and up rows interleaved
 * in blocks of `block` rows (weights.c's fused_fill). */
static float *interleave(const float *W, int I, int in, uint32_t block) {
    float *o = malloc((size_t)2 * I * in * sizeof(float));
    if (!o) return NULL;
    for (int64_t r = 0; r < 2 * (int64_t)I; r++) {
        int64_t blk = r / block, src = (blk % 2 ? I : 0) + (blk / 2) * block + r % block;
        memcpy(o + r * in, W + src * in, (size_t)in * sizeof(float));
    }
    return o;
}

static xf_status op_linear_swiglu(xf_dtype mode, const float *x, const float *W, float *out, int T, int in, int I) {
    xf_status st = XF_OK;
    const variant *v = selected(XF_OPT_LINEAR_SWIGLU);
    vkx_ctx *c = NULL;
    vkx_kernels k;
    vkx_buffer bx = {0}, bgu = {0};
    vkx_weight w = {0};
    gbuf ga = {0};
    float *Wi = NULL;
    uint16_t *x16 = NULL, *a16 = NULL;
    XF_CHECK(T >= 0 && in >= 1 && I >= 1, XF_ERR_INVALID_ARG, "vulkan linear_swiglu: bad shape");
    XF_TRY(op_begin(v, mode, 0, 1, &c, &k));
    uint32_t u_in = (uint32_t)in, u_I = (uint32_t)I, u_T = (uint32_t)T;
    int io = v->io;
    if (io == IO_AUTO) /* the forward's: fused where the table has the kernel (no LoRA here) */
        io = !k.glu_vec ? GLU_TWO_PASS : !k.glu_block ? GLU_NV2
             : k.glub_vec && vkx_blocked_fits(c, k.wt, 2 * u_I, u_in, k.cm_bn, k.blk_k) ? GLU_BLOCKED_W : GLU_ROWS;
    if (io == GLU_TWO_PASS) { /* gu [T, 2I] = x · Wᵀ with the table's multiply, then SwiGLU */
        rows_f32 src = {W, u_in, k.wt};
        if (k.cmb_vec && vkx_blocked_fits(c, k.wt, 2 * u_I, u_in, k.cm_bn, k.blk_k))
            XF_TRY(vkx_weight_upload_blocked(c, k.wt, 2 * u_I, u_in, fill_rows_f32, &src, k.cm_bn, k.blk_k, &w));
        else XF_TRY(vkx_weight_upload(c, k.wt, 2 * u_I, u_in, fill_rows_f32, &src, &w));
        int x_16 = k.a16 && vkx_weight_kind(&w) != VKX_W_F32;
        if (x_16) {
            XF_CHECK(x16 = to16(k.wt, x, (size_t)T * in), XF_ERR_NO_MEMORY, "out of host memory");
            XF_TRY(vkx_buffer_from(c, x16, ((size_t)T * in + 1) * 2, &bx));
        } else {
            XF_TRY(from_host(c, x, (size_t)T * in * 4, &bx));
        }
        XF_TRY(vkx_buffer_create(c, (size_t)T * 2 * I * 4 + 4, 0, &bgu));
        XF_TRY(vkx_begin(c));
        for (int p = 0; p < w.n; p++) {
            VkDescriptorSet s;
            vkx_buffer *b[4] = {&bx, &w.pieces[p], NULL, &bgu};
            st = vkx_set(c, b, 4, &s);
            if (st != XF_OK) {
                vkx_submit_wait(c);
                goto cleanup;
            }
            vkx_linear_pc pc = {.M = u_T, .N = w.row0[p + 1] - w.row0[p], .K = u_in, .ldx = u_in, .ldw = u_in,
                                .y_off = w.row0[p], .ldy = 2 * u_I, .alpha = 1.0f, .mask_adapter = -1};
            vkx_rec_linear(c, &k, vkx_weight_kind(&w), s, &pc);
        }
        vkx_barrier_all(c);
        XF_TRY(vkx_submit_wait(c));
        uint32_t sl[6] = {0, 2 * u_I, u_I, 2 * u_I, 0, u_I};
        XF_TRY(swiglu_pass(c, &k, &bgu, u_T, u_I, sl, k.a16 != 0, out));
        goto cleanup;
    }
    /* fused: act16 [T, I] = silu(x·Wgᵀ) ⊙ (x·Wuᵀ), x in 16 bits */
    int blocked_w = io == GLU_BLOCKED_W || io == GLU_BLOCKED_X || io == GLU_BLOCKED_XY;
    int x_blk = io == GLU_BLOCKED_X || io == GLU_BLOCKED_XY, y_blk = io == GLU_BLOCKED_XY;
    if (k.glu_block && I % (int)k.glu_block) return unsupported(v, "an intermediate size not in whole blocks");
    if (blocked_w && !vkx_blocked_fits(c, k.wt, 2 * u_I, u_in, k.cm_bn, k.blk_k))
        return unsupported(v, "a gate|up weight that is not stored blocked");
    if (y_blk && I % (int)k.blk_k) return unsupported(v, "an act row that is not whole blocks");
    if (k.glu_block) XF_CHECK(Wi = interleave(W, I, in, k.glu_block), XF_ERR_NO_MEMORY, "out of host memory");
    rows_f32 src = {Wi ? Wi : W, u_in, k.wt};
    if (blocked_w) XF_TRY(vkx_weight_upload_blocked(c, k.wt, 2 * u_I, u_in, fill_rows_f32, &src, k.cm_bn, k.blk_k, &w));
    else XF_TRY(vkx_weight_upload(c, k.wt, 2 * u_I, u_in, fill_rows_f32, &src, &w));
    if (w.n != 1) return unsupported(v, "a gate|up weight in pieces");
    x16 = x_blk ? to16_blocked(&k, x, (size_t)T, (size_t)in) : to16(k.wt, x, (size_t)T * in);
    XF_CHECK(x16, XF_ERR_NO_MEMORY, "out of host memory");
    XF_TRY(vkx_buffer_from(c, x16, ((x_blk ? padded_rows(&k, (size_t)T) : (size_t)T) * in + 1) * 2, &bx));
    size_t na = (y_blk ? padded_rows(&k, (size_t)T) : (size_t)T) * I;
    XF_TRY(gbuf_make(c, NULL, na * 2, &ga));
    VkDescriptorSet s;
    vkx_buffer *b[4] = {&bx, &w.pieces[0], NULL, &ga.b};
    const VkDeviceSize at[4] = {0, 0, 0, guard_off};
    XF_TRY(vkx_set_at(c, b, at, 4, &s));
    RUN(vkx_rec_glu(c, &k, s, u_T, u_I, u_in, blocked_w, x_blk, y_blk));
    XF_ALLOC(a16, na + 1);
    XF_TRY(gbuf_read(c, &ga, a16, "linear_swiglu"));
    from16(&k, a16, (size_t)T, (size_t)I, y_blk, out);
cleanup:
    free(Wi);
    free(x16);
    free(a16);
    vkx_weight_free(c, &w);
    vkx_buffer_destroy(c, &bx);
    vkx_buffer_destroy(c, &bgu);
    gbuf_free(c, &ga);
    return st;
}

const xf_op_table vkx_op_table = {
    .rmsnorm = op_rmsnorm,
    .linear = op_linear,
    .qknorm_rope = op_qknorm_rope,
    .attention = op_attention,
    .swiglu = op_swiglu,
    .linear_swiglu = op_linear_swiglu,
    .variants = vk_variants,
    .select = vk_select,
};
