/* cuda_optable.c — the CUDA backend's op-by-op entry points (xf_op_table in
 * backend.h) for the tests that compare every op with the CPU reference: host
 * fp32 in, upload (converted to the mode's type), run the same kernel or matmul
 * the forward uses, download as fp32. A process-wide context (stream, cuBLASLt
 * handle and workspace) is made at the first call and kept. */
#include <stdlib.h>
#include <string.h>

#include "cuda_check.h"
#include "cuda_state.h"

#define OP_WORKSPACE_BYTES ((size_t)32 << 20)

static struct {
    int ready;
    cudaStream_t s;
    void *ws;
    xfc_gemm gemm;
} ctx;

static xf_status ctx_get(void) {
    xf_status st = XF_OK;
    int device = 0;
    if (ctx.ready) return XF_OK;
    XF_TRY(xfc_check_device(&device));
    CUDA_CHECK(cudaSetDevice(device));
    XF_TRY(xfc_kernels_init());
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

/* Device copy of host fp32 data [n] as type t (NULL host -> NULL device). */
static xf_status up(xfc_type t, const void *h, size_t n, void **d) {
    xf_status st = XF_OK;
    float *tmp = NULL;
    *d = NULL;
    if (!h) return XF_OK;
    CUDA_CHECK(cudaMalloc(d, n * xfc_type_size(t) + 16));
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

static void release(void **p, int n) {
    for (int i = 0; i < n; i++)
        if (p[i]) cudaFree(p[i]);
}

static xf_status op_rmsnorm(xf_dtype mode, const float *x, const float *w, float *y, int rows, int n, float eps) {
    xf_status st = XF_OK;
    void *b[3] = {0};
    const xfc_type t = act_of(mode);
    const size_t total = (size_t)rows * (size_t)n;
    XF_TRY(ctx_get());
    XF_TRY(up(XFC_F32, x, total, &b[0]));
    XF_TRY(up(XFC_F32, w, (size_t)n, &b[1]));
    CUDA_CHECK(cudaMalloc(&b[2], total * xfc_type_size(t) + 16));
    XF_TRY(xfc_rmsnorm(ctx.s, b[0], b[1], t, b[2], rows, n, eps));
    XF_TRY(down(t, b[2], total, y));
cleanup:
    release(b, 3);
    return st;
}

static xf_status op_linear(xf_dtype mode, const float *x, const float *W, const float *bias, float *y, int T, int in,
                           int out, int accumulate) {
    xf_status st = XF_OK;
    void *b[4] = {0};
    const xfc_type t = act_of(mode);
    const size_t ny = (size_t)T * (size_t)out;
    XF_TRY(ctx_get());
    XF_TRY(up(t, x, (size_t)T * (size_t)in, &b[0]));
    XF_TRY(up(t, W, (size_t)out * (size_t)in, &b[1]));
    XF_TRY(up(XFC_F32, bias, (size_t)out, &b[2]));
    if (accumulate) {
        XF_TRY(up(XFC_F32, y, ny, &b[3]));
    } else {
        CUDA_CHECK(cudaMalloc(&b[3], ny * sizeof(float) + 16));
    }
    XF_TRY(xfc_gemm_run(&ctx.gemm, ctx.s, mode, T, out, in, t, b[0], in, b[1], in, XFC_F32, b[3], out,
                        accumulate ? 1.0f : 0.0f));
    if (bias) XF_TRY(xfc_add_bias(ctx.s, b[3], b[2], T, out));
    XF_TRY(down(XFC_F32, b[3], ny, y));
cleanup:
    release(b, 4);
    return st;
}

static xf_status op_qknorm_rope(xf_dtype mode, float *x, const float *w, float eps, const int32_t *pos, int T, int nh,
                                int D, const float *cos, const float *sin) {
    xf_status st = XF_OK;
    void *b[5] = {0};
    const xfc_type t = act_of(mode);
    const size_t n = (size_t)T * (size_t)nh * (size_t)D;
    int32_t P = 0;
    for (int i = 0; i < T; i++)
        if (pos[i] + 1 > P) P = pos[i] + 1;
    XF_TRY(ctx_get());
    XF_TRY(up(t, x, n, &b[0]));
    XF_TRY(up(XFC_F32, w, (size_t)D, &b[1]));
    XF_TRY(up(XFC_F32, cos, (size_t)P * (size_t)(D / 2), &b[2]));
    XF_TRY(up(XFC_F32, sin, (size_t)P * (size_t)(D / 2), &b[3]));
    CUDA_CHECK(cudaMalloc(&b[4], sizeof(int32_t) * (size_t)T + 16));
    XF_TRY(h2d(b[4], pos, sizeof(int32_t) * (size_t)T));
    XF_TRY(xfc_qknorm_rope(ctx.s, t, b[0], nh * D, T, nh, 0, 0, D, NULL, b[1], NULL, eps, b[4], b[2], b[3]));
    XF_TRY(down(t, b[0], n, x));
cleanup:
    release(b, 5);
    return st;
}

static xf_status op_attention(xf_dtype mode, const float *q, const float *k, const float *v, float *out,
                              const int32_t *seq_start, int B, int nh, int nkv, int D, xf_attn_mask mask) {
    xf_status st = XF_OK;
    void *b[5] = {0};
    xfc_tile *tiles = NULL;
    const xfc_type t = act_of(mode);
    const int T = seq_start[B], bm = xfc_attention_block_m(t, D);
    int n_tiles = 0;
    XF_CHECK(nkv > 0 && nh % nkv == 0, XF_ERR_INVALID_ARG, "cuda: %d heads are not a multiple of %d kv heads", nh, nkv);
    XF_ALLOC(tiles, T / bm + B + 1);
    for (int s = 0; s < B; s++)
        for (int q0 = seq_start[s]; q0 < seq_start[s + 1]; q0 += bm)
            tiles[n_tiles++] = (xfc_tile){q0, seq_start[s], seq_start[s + 1], 0};
    XF_TRY(ctx_get());
    XF_TRY(up(t, q, (size_t)T * nh * D, &b[0]));
    XF_TRY(up(t, k, (size_t)T * nkv * D, &b[1]));
    XF_TRY(up(t, v, (size_t)T * nkv * D, &b[2]));
    CUDA_CHECK(cudaMalloc(&b[3], (size_t)T * nh * D * xfc_type_size(t) + 16));
    CUDA_CHECK(cudaMalloc(&b[4], sizeof(xfc_tile) * (size_t)(n_tiles + 1)));
    XF_TRY(h2d(b[4], tiles, sizeof(xfc_tile) * (size_t)n_tiles));
    XF_TRY(xfc_attention(ctx.s, t, b[0], nh * D, b[1], nkv * D, b[2], nkv * D, b[3], nh * D, b[4], n_tiles, nh, nkv, D,
                           mask));
    XF_TRY(down(t, b[3], (size_t)T * nh * D, out));
cleanup:
    release(b, 5);
    free(tiles);
    return st;
}

static xf_status op_swiglu(xf_dtype mode, const float *gate, const float *upv, float *out, int64_t n) {
    xf_status st = XF_OK;
    void *b[3] = {0};
    const xfc_type t = act_of(mode);
    XF_TRY(ctx_get());
    XF_TRY(up(t, gate, (size_t)n, &b[0]));
    XF_TRY(up(t, upv, (size_t)n, &b[1]));
    CUDA_CHECK(cudaMalloc(&b[2], (size_t)n * xfc_type_size(t) + 16));
    XF_TRY(xfc_swiglu(ctx.s, t, b[0], n, b[1], n, b[2], n, 1, n));
    XF_TRY(down(t, b[2], (size_t)n, out));
cleanup:
    release(b, 3);
    return st;
}

const xf_op_table xfc_op_table = {
    .rmsnorm = op_rmsnorm,
    .linear = op_linear,
    .qknorm_rope = op_qknorm_rope,
    .attention = op_attention,
    .swiglu = op_swiglu,
};
