/* cuda_optable.c — the CUDA backend's op-by-op entry points (xf_op_table in
 * backend.h) for the tests that compare every op with the CPU reference: host
 * fp32 in, upload (converted to the mode's type), run the kernel or matmul the
 * kernel table chooses (or the variant the test selected), download as fp32.
 * Every buffer a kernel sees lies between two guard regions of sentinel bytes in
 * device memory, written before the kernel and checked after it: a kernel that
 * writes outside its buffers fails the call ("guard"). A process-wide context
 * (stream, cuBLASLt handle and workspace, compute capability, the selected
 * variants) is made at the first call and kept. */
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "cuda_state.h"

#define OP_WORKSPACE_BYTES ((size_t)32 << 20)
#define GUARD_BYTES 256     /* keeps the buffer between the guards 256-byte aligned, as cudaMalloc's */
#define GUARD_BYTE 0xA5
#define MAX_BUFS 8

static struct {
    int ready;
    int cc;                 /* compute capability, 10·major + minor */
    cudaStream_t s;
    void *ws;
    xfc_gemm gemm;
    int sel[XF_OPT_COUNT];  /* the selected variant + 1 per op test (0: the table's default) */
} ctx;

static xf_status ctx_get(void) {
    xf_status st = XF_OK;
    int device = 0;
    if (ctx.ready) return XF_OK;
    XF_TRY(xfc_check_device(&device));
    CUDA_CHECK(cudaSetDevice(device));
    XF_TRY(xfc_kernels_init());
    ctx.cc = xfc_device_cc(device);
    CUDA_CHECK(cudaStreamCreateWithFlags(&ctx.s, cudaStreamNonBlocking));
    CUDA_CHECK(cudaMalloc(&ctx.ws, OP_WORKSPACE_BYTES));
    XF_TRY(xfc_gemm_init(&ctx.gemm, ctx.ws, OP_WORKSPACE_BYTES));
    ctx.ready = 1;
cleanup:
    return st;
}

static xfc_type act_of(xf_dtype mode) {
    return mode == XF_DTYPE_BF16 ? XFC_BF16 : mode == XF_DTYPE_F16 ? XFC_F16 : XFC_F32;
}

/* ---------------------------------------------------------------- guarded buffers */

/* The device buffers of one call, each [GUARD | bytes | GUARD]. */
typedef struct bufs {
    char *base[MAX_BUFS];
    size_t bytes[MAX_BUFS];
    int n;
} bufs;

static xf_status balloc(bufs *b, size_t bytes, void **p) {
    xf_status st = XF_OK;
    char *base = NULL;
    XF_CHECK(b->n < MAX_BUFS, XF_ERR_INTERNAL, "cuda op tests: too many buffers");
    CUDA_CHECK(cudaMalloc((void **)&base, bytes + 2 * GUARD_BYTES));
    b->base[b->n] = base, b->bytes[b->n] = bytes, b->n++;
    CUDA_CHECK(cudaMemsetAsync(base, GUARD_BYTE, GUARD_BYTES, ctx.s));
    CUDA_CHECK(cudaMemsetAsync(base + GUARD_BYTES + bytes, GUARD_BYTE, GUARD_BYTES, ctx.s));
    *p = base + GUARD_BYTES;
cleanup:
    return st;
}

/* After the kernels: every guard still holds its sentinel bytes. */
static xf_status guards_check(const bufs *b, const char *op) {
    xf_status st = XF_OK;
    unsigned char g[2][GUARD_BYTES];
    CUDA_CHECK(cudaStreamSynchronize(ctx.s));
    for (int i = 0; i < b->n; i++) {
        CUDA_CHECK(cudaMemcpy(g[0], b->base[i], GUARD_BYTES, cudaMemcpyDeviceToHost));
        CUDA_CHECK(cudaMemcpy(g[1], b->base[i] + GUARD_BYTES + b->bytes[i], GUARD_BYTES, cudaMemcpyDeviceToHost));
        for (int side = 0; side < 2; side++)
            for (int k = 0; k < GUARD_BYTES; k++)
                XF_CHECK(g[side][k] == GUARD_BYTE, XF_ERR_INTERNAL,
                         "cuda: %s wrote outside buffer %d (guard %s it, byte %d)", op, i,
                         side ? "after" : "before", side ? k : k - GUARD_BYTES);
    }
cleanup:
    return st;
}

static void bfree(bufs *b) {
    for (int i = 0; i < b->n; i++) cudaFree(b->base[i]);
    b->n = 0;
}

/* Host -> device on the op stream, finished before returning. (A plain cudaMemcpy from
 * pageable memory may return before its DMA lands, and the op stream does not wait
 * for the legacy default stream: that raced.) */
static xf_status h2d(void *dst, const void *src, size_t bytes) {
    xf_status st = XF_OK;
    CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, ctx.s));
    CUDA_CHECK(cudaStreamSynchronize(ctx.s));
cleanup:
    return st;
}

/* Guarded device copy of host fp32 data [n] as type t (NULL host -> NULL device). */
static xf_status up(bufs *b, xfc_type t, const void *h, size_t n, void **d) {
    xf_status st = XF_OK;
    float *tmp = NULL;
    *d = NULL;
    if (!h) return XF_OK;
    XF_TRY(balloc(b, n * xfc_type_size(t), d));
    if (t == XFC_F32) {
        XF_TRY(h2d(*d, h, n * sizeof(float)));
    } else {
        CUDA_CHECK(cudaMalloc((void **)&tmp, n * sizeof(float) + 16));
        XF_TRY(h2d(tmp, h, n * sizeof(float)));
        XF_TRY(xfc_convert(ctx.s, t, *d, XFC_F32, tmp, (int64_t)n));
        CUDA_CHECK(cudaStreamSynchronize(ctx.s));
    }
cleanup:
    if (tmp) cudaFree(tmp);
    return st;
}

/* Host fp32 [n] from device data of type t. */
static xf_status down(xfc_type t, const void *d, size_t n, float *h) {
    xf_status st = XF_OK;
    float *tmp = NULL;
    CUDA_CHECK(cudaStreamSynchronize(ctx.s));
    if (t == XFC_F32) {
        CUDA_CHECK(cudaMemcpyAsync(h, d, n * sizeof(float), cudaMemcpyDeviceToHost, ctx.s));
        CUDA_CHECK(cudaStreamSynchronize(ctx.s));
    } else {
        CUDA_CHECK(cudaMalloc((void **)&tmp, n * sizeof(float) + 16));
        XF_TRY(xfc_convert(ctx.s, XFC_F32, tmp, t, d, (int64_t)n));
        CUDA_CHECK(cudaStreamSynchronize(ctx.s));
        CUDA_CHECK(cudaMemcpyAsync(h, tmp, n * sizeof(float), cudaMemcpyDeviceToHost, ctx.s));
        CUDA_CHECK(cudaStreamSynchronize(ctx.s));
    }
cleanup:
    if (tmp) cudaFree(tmp);
    return st;
}

/* ---------------------------------------------------------------- the variant matrix */

static int op_variants(int id, xf_dtype mode, xf_kernel_choice *out, int max) {
    if (id < 0 || id >= XF_OPT_COUNT || ctx_get() != XF_OK) return 0;
    return xfc_variants(id, mode, ctx.cc, out, NULL, max);
}

static xf_status op_select(int id, int variant) {
    if (id < 0 || id >= XF_OPT_COUNT || variant < -1 || variant >= XFC_AV_COUNT)
        return xf_error(XF_ERR_INVALID_ARG, "cuda: no variant %d of op test %d", variant, id);
    ctx.sel[id] = variant + 1;
    return XF_OK;
}

/* The selected variant of op test id in mode: -1 (the table's default) or its index,
 * checked against the variants this mode has. */
static xf_status selected(int id, xf_dtype mode, int *variant, int *av) {
    int avs[XFC_AV_COUNT];
    *variant = ctx.sel[id] - 1, *av = -1;
    if (*variant < 0) return XF_OK;
    const int n = xfc_variants(id, mode, ctx.cc, NULL, avs, XFC_AV_COUNT);
    if (*variant >= n)
        return xf_error(XF_ERR_INVALID_ARG, "cuda: op test %d has %d variants in this mode (%d selected)", id, n,
                        *variant);
    *av = avs[*variant];
    return XF_OK;
}

/* ---------------------------------------------------------------- the ops */

static xf_status op_rmsnorm(xf_dtype mode, const float *x, const float *w, float *y, int rows, int n, float eps) {
    xf_status st = XF_OK;
    bufs b = {0};
    void *dx = NULL, *dw = NULL, *dy = NULL;
    const xfc_type t = act_of(mode);
    const size_t total = (size_t)rows * (size_t)n;
    XF_TRY(ctx_get());
    XF_TRY(up(&b, XFC_F32, x, total, &dx));
    XF_TRY(up(&b, XFC_F32, w, (size_t)n, &dw));
    XF_TRY(balloc(&b, total * xfc_type_size(t), &dy));
    XF_TRY(xfc_rmsnorm(ctx.s, dx, dw, t, dy, rows, n, eps));
    XF_TRY(guards_check(&b, "rmsnorm"));
    XF_TRY(down(t, dy, total, y));
cleanup:
    bfree(&b);
    return st;
}

static xf_status op_linear(xf_dtype mode, const float *x, const float *W, const float *bias, float *y, int T, int in,
                           int out, int accumulate) {
    xf_status st = XF_OK;
    bufs b = {0};
    void *dx = NULL, *dw = NULL, *db = NULL, *dy = NULL;
    const xfc_type t = act_of(mode);
    const size_t ny = (size_t)T * (size_t)out;
    int variant = -1, av = -1;
    XF_TRY(ctx_get());
    XF_TRY(selected(XF_OP_LINEAR, mode, &variant, &av));
    XF_TRY(up(&b, t, x, (size_t)T * (size_t)in, &dx));
    XF_TRY(up(&b, t, W, (size_t)out * (size_t)in, &dw));
    XF_TRY(up(&b, XFC_F32, bias, (size_t)out, &db));
    if (accumulate) {
        XF_TRY(up(&b, XFC_F32, y, ny, &dy));
    } else {
        XF_TRY(balloc(&b, ny * sizeof(float), &dy));
    }
    if (variant == 1)  /* the fallback for shapes cuBLASLt has no algorithm for */
        XF_TRY(xfc_gemm_simple(ctx.s, T, out, in, t, dx, in, dw, in, XFC_F32, dy, out, accumulate ? 1.0f : 0.0f));
    else
        XF_TRY(xfc_gemm_run(&ctx.gemm, ctx.s, mode, T, out, in, t, dx, in, dw, in, XFC_F32, dy, out,
                            accumulate ? 1.0f : 0.0f));
    if (bias) XF_TRY(xfc_add_bias(ctx.s, dy, db, T, out));
    XF_TRY(guards_check(&b, "linear"));
    XF_TRY(down(XFC_F32, dy, ny, y));
cleanup:
    bfree(&b);
    return st;
}

/* gate|up then SwiGLU as the forward runs them (not fused): GU [T, 2I] in the mode's
 * type from one matmul, then the SwiGLU kernel -> out [T, I]. */
static xf_status op_linear_swiglu(xf_dtype mode, const float *x, const float *W, float *out, int T, int in, int I) {
    xf_status st = XF_OK;
    bufs b = {0};
    void *dx = NULL, *dw = NULL, *gu = NULL, *dy = NULL;
    const xfc_type t = act_of(mode);
    const size_t es = xfc_type_size(t);
    XF_TRY(ctx_get());
    XF_TRY(up(&b, t, x, (size_t)T * (size_t)in, &dx));
    XF_TRY(up(&b, t, W, (size_t)2 * I * (size_t)in, &dw));
    XF_TRY(balloc(&b, (size_t)T * 2 * (size_t)I * es, &gu));
    XF_TRY(balloc(&b, (size_t)T * (size_t)I * es, &dy));
    XF_TRY(xfc_gemm_run(&ctx.gemm, ctx.s, mode, T, 2 * I, in, t, dx, in, dw, in, t, gu, 2 * I, 0.0f));
    XF_TRY(xfc_swiglu(ctx.s, t, gu, 2 * I, (char *)gu + (size_t)I * es, 2 * I, dy, I, T, I));
    XF_TRY(guards_check(&b, "linear_swiglu"));
    XF_TRY(down(t, dy, (size_t)T * (size_t)I, out));
cleanup:
    bfree(&b);
    return st;
}

static xf_status op_qknorm_rope(xf_dtype mode, float *x, const float *w, float eps, const int32_t *pos, int T, int nh,
                                int D, const float *cos, const float *sin) {
    xf_status st = XF_OK;
    bufs b = {0};
    void *dx = NULL, *dw = NULL, *dcos = NULL, *dsin = NULL, *dpos = NULL;
    const xfc_type t = act_of(mode);
    const size_t n = (size_t)T * (size_t)nh * (size_t)D;
    int32_t P = 0;
    for (int i = 0; i < T; i++)
        if (pos[i] + 1 > P) P = pos[i] + 1;
    XF_TRY(ctx_get());
    XF_TRY(up(&b, t, x, n, &dx));
    XF_TRY(up(&b, XFC_F32, w, (size_t)D, &dw));
    XF_TRY(up(&b, XFC_F32, cos, (size_t)P * (size_t)(D / 2), &dcos));
    XF_TRY(up(&b, XFC_F32, sin, (size_t)P * (size_t)(D / 2), &dsin));
    XF_TRY(balloc(&b, sizeof(int32_t) * (size_t)T, &dpos));
    XF_TRY(h2d(dpos, pos, sizeof(int32_t) * (size_t)T));
    XF_TRY(xfc_qknorm_rope(ctx.s, t, dx, nh * D, T, nh, 0, 0, D, NULL, dw, NULL, eps, dpos, dcos, dsin));
    XF_TRY(guards_check(&b, "qknorm_rope"));
    XF_TRY(down(t, dx, n, x));
cleanup:
    bfree(&b);
    return st;
}

/* Whether the choice made for a forced attention variant is that variant. */
static int variant_runs(int av, const xfc_attn_choice *c) {
    switch (av) {
    case XFC_AV_WGMMA: return c->kernel == XFC_ATTN_WGMMA;
    case XFC_AV_WGMMA1: return c->kernel == XFC_ATTN_WGMMA && c->heads == 1;
    case XFC_AV_FA2: return c->kernel == XFC_ATTN_FA2;
    case XFC_AV_MMA: return c->kernel == XFC_ATTN_MMA;
    default: return c->kernel == XFC_ATTN_GENERIC;
    }
}

static xf_status op_attention(xf_dtype mode, const float *q, const float *k, const float *v, float *out,
                              const int32_t *seq_start, int B, int nh, int nkv, int D, xf_attn_mask mask) {
    xf_status st = XF_OK;
    bufs b = {0};
    void *dq = NULL, *dk = NULL, *dv = NULL, *dout = NULL, *dtiles = NULL;
    xfc_tile *tiles = NULL;
    const xfc_type t = act_of(mode);
    const int T = seq_start[B];
    int n_tiles = 0, variant = -1, av = -1;
    XF_CHECK(nkv > 0 && nh % nkv == 0, XF_ERR_INVALID_ARG, "cuda: %d heads are not a multiple of %d kv heads", nh, nkv);
    XF_TRY(ctx_get());
    XF_TRY(selected(XF_OP_ATTENTION, mode, &variant, &av));
    /* the table's choice for this device and shape, or the selected variant: one that cannot
     * run this shape is reported unsupported (the test says skipped), never run as another */
    const xfc_attn_choice c = xfc_choose_attention(ctx.cc, t, D, nh, nkv, av);
    XF_CHECK(av < 0 || variant_runs(av, &c), XF_ERR_UNSUPPORTED,
             "cuda: attention variant %d cannot run head_dim %d with %d/%d heads here", variant, D, nh, nkv);
    const int bm = c.bm;
    XF_ALLOC(tiles, T / bm + B + 1);
    for (int s = 0; s < B; s++)
        for (int q0 = seq_start[s]; q0 < seq_start[s + 1]; q0 += bm)
            tiles[n_tiles++] = (xfc_tile){q0, seq_start[s], seq_start[s + 1], 0};
    XF_TRY(up(&b, t, q, (size_t)T * nh * D, &dq));
    XF_TRY(up(&b, t, k, (size_t)T * nkv * D, &dk));
    XF_TRY(up(&b, t, v, (size_t)T * nkv * D, &dv));
    XF_TRY(balloc(&b, (size_t)T * nh * D * xfc_type_size(t), &dout));
    XF_TRY(balloc(&b, sizeof(xfc_tile) * (size_t)(n_tiles + 1), &dtiles));
    XF_TRY(h2d(dtiles, tiles, sizeof(xfc_tile) * (size_t)n_tiles));
    XF_TRY(xfc_attention(ctx.s, &c, t, dq, nh * D, dk, nkv * D, dv, nkv * D, dout, nh * D, dtiles, n_tiles, nh, nkv,
                         D, mask));
    XF_TRY(guards_check(&b, "attention"));
    XF_TRY(down(t, dout, (size_t)T * nh * D, out));
cleanup:
    bfree(&b);
    free(tiles);
    return st;
}

static xf_status op_swiglu(xf_dtype mode, const float *gate, const float *upv, float *out, int64_t n) {
    xf_status st = XF_OK;
    bufs b = {0};
    void *dg = NULL, *du = NULL, *dy = NULL;
    const xfc_type t = act_of(mode);
    XF_TRY(ctx_get());
    XF_TRY(up(&b, t, gate, (size_t)n, &dg));
    XF_TRY(up(&b, t, upv, (size_t)n, &du));
    XF_TRY(balloc(&b, (size_t)n * xfc_type_size(t), &dy));
    XF_TRY(xfc_swiglu(ctx.s, t, dg, n, du, n, dy, n, 1, n));
    XF_TRY(guards_check(&b, "swiglu"));
    XF_TRY(down(t, dy, (size_t)n, out));
cleanup:
    bfree(&b);
    return st;
}

const xf_op_table xfc_op_table = {
    .rmsnorm = op_rmsnorm,
    .linear = op_linear,
    .qknorm_rope = op_qknorm_rope,
    .attention = op_attention,
    .swiglu = op_swiglu,
    .linear_swiglu = op_linear_swiglu,
    .variants = op_variants,
    .select = op_select,
};
