// rope.cu — the per-head step between the q/k/v projection and attention, fused:
// bias add (Qwen2), q/k RMSNorm over head_dim (Qwen3), and rotate-half RoPE from
// the model's precomputed table, in place on the fused qkv rows.
//   x: [rows, nq + nk + nv heads, D] with row stride ld; cos/sin: [max_pos, D/2]
#include "common.cuh"

#define ROPE_MAX_D 256
#define ROPE_IT (ROPE_MAX_D / 128)  // iterations of 2 pairs per lane

// Two consecutive elements as fp32 (one 4- or 8-byte access).
__device__ __forceinline__ float2 ld2(const float *p) { return *(const float2 *)p; }
__device__ __forceinline__ float2 ld2(const __nv_bfloat16 *p) { return __bfloat1622float2(*(const __nv_bfloat162 *)p); }
__device__ __forceinline__ float2 ld2(const __half *p) { return __half22float2(*(const __half2 *)p); }
__device__ __forceinline__ void st2(float *p, float a, float b) { *(float2 *)p = make_float2(a, b); }
__device__ __forceinline__ void st2(__nv_bfloat16 *p, float a, float b) { *(__nv_bfloat162 *)p = __floats2bfloat162_rn(a, b); }
__device__ __forceinline__ void st2(__half *p, float a, float b) { *(__half2 *)p = __floats2half2_rn(a, b); }

// One block per row; its warps take the row's heads in turn. Lane handles the
// pairs (j, j + D/2) and (j+1, j+1 + D/2) for j = 2·lane + 64·i: two-element
// accesses, a warp covers 128 elements at once. The row's cos/sin and the two
// norm weights are read once per block and kept in registers for every head.
// Needs D % 4 == 0 (then D/2 is even and every access is aligned).
template <typename T>
__global__ void qknorm_rope_kernel(T *x, int ld, int rows, int nq, int nk, int nv, int D,
                                   const float *__restrict__ bias, const float *__restrict__ qw,
                                   const float *__restrict__ kw, float eps, const int32_t *__restrict__ pos,
                                   const float *__restrict__ cosv, const float *__restrict__ sinv) {
    const int heads = nq + nk + nv;
    const int row = blockIdx.x, warp = threadIdx.x >> 5, lane = threadIdx.x & 31, nw = blockDim.x >> 5;
    const int half = D >> 1;
    const int64_t t0 = (int64_t)pos[row] * half;
    float2 cs[ROPE_IT], sn[ROPE_IT], wq[ROPE_IT][2], wk[ROPE_IT][2];  // [i][0]: j, j+1; [i][1]: +half
#pragma unroll
    for (int i = 0; i < ROPE_IT; i++) {
        const int j = 2 * lane + 64 * i;
        cs[i] = sn[i] = make_float2(0.0f, 0.0f);
        wq[i][0] = wq[i][1] = wk[i][0] = wk[i][1] = make_float2(1.0f, 1.0f);
        if (j < half) {
            cs[i] = *(const float2 *)(cosv + t0 + j);
            sn[i] = *(const float2 *)(sinv + t0 + j);
            if (qw) wq[i][0] = make_float2(qw[j], qw[j + 1]), wq[i][1] = make_float2(qw[j + half], qw[j + half + 1]);
            if (kw) wk[i][0] = make_float2(kw[j], kw[j + 1]), wk[i][1] = make_float2(kw[j + half], kw[j + half + 1]);
        }
    }
    for (int h = warp; h < heads; h += nw) {
        T *p = x + (int64_t)row * ld + (int64_t)h * D;
        const float *b = bias ? bias + (int64_t)h * D : nullptr;
        float2 a[ROPE_IT], c[ROPE_IT];  // a: x[j], x[j+1]; c: x[j+half], x[j+1+half]
#pragma unroll
        for (int i = 0; i < ROPE_IT; i++) {
            const int j = 2 * lane + 64 * i;
            a[i] = c[i] = make_float2(0.0f, 0.0f);
            if (j < half) {
                a[i] = ld2(p + j);
                c[i] = ld2(p + j + half);
                if (b) {
                    a[i].x += b[j], a[i].y += b[j + 1];
                    c[i].x += b[j + half], c[i].y += b[j + 1 + half];
                }
            }
        }
        if (h < nq + nk) {
            const bool is_q = h < nq;
            if (is_q ? qw != nullptr : kw != nullptr) {
                float ss = 0.0f;
#pragma unroll
                for (int i = 0; i < ROPE_IT; i++)
                    ss += a[i].x * a[i].x + a[i].y * a[i].y + c[i].x * c[i].x + c[i].y * c[i].y;
                ss = xfc_warp_sum(ss);
                const float inv = 1.0f / sqrtf(ss / (float)D + eps);
#pragma unroll
                for (int i = 0; i < ROPE_IT; i++) {
                    const float2 w0 = is_q ? wq[i][0] : wk[i][0], w1 = is_q ? wq[i][1] : wk[i][1];
                    a[i].x *= inv * w0.x, a[i].y *= inv * w0.y;
                    c[i].x *= inv * w1.x, c[i].y *= inv * w1.y;
                }
            }
#pragma unroll
            for (int i = 0; i < ROPE_IT; i++) {
                const float2 x1 = a[i], x2 = c[i];
                a[i] = make_float2(x1.x * cs[i].x - x2.x * sn[i].x, x1.y * cs[i].y - x2.y * sn[i].y);
                c[i] = make_float2(x2.x * cs[i].x + x1.x * sn[i].x, x2.y * cs[i].y + x1.y * sn[i].y);
            }
        }
#pragma unroll
        for (int i = 0; i < ROPE_IT; i++) {
            const int j = 2 * lane + 64 * i;
            if (j < half) {
                st2(p + j, a[i].x, a[i].y);
                st2(p + j + half, c[i].x, c[i].y);
            }
        }
    }
}

// Any even D (D % 4 == 2 too): one element of each half per lane per step.
template <typename T>
__global__ void qknorm_rope_scalar_kernel(T *x, int ld, int rows, int nq, int nk, int nv, int D,
                                          const float *__restrict__ bias, const float *__restrict__ qw,
                                          const float *__restrict__ kw, float eps, const int32_t *__restrict__ pos,
                                          const float *__restrict__ cosv, const float *__restrict__ sinv) {
    const int heads = nq + nk + nv;
    const int64_t item = (int64_t)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
    if (item >= (int64_t)rows * heads) return;
    const int lane = threadIdx.x & 31;
    const int row = (int)(item / heads), h = (int)(item % heads);
    const int half = D >> 1;
    T *p = x + (int64_t)row * ld + (int64_t)h * D;
    const float *b = bias ? bias + (int64_t)h * D : nullptr;
    float ss = 0.0f;
    for (int j = lane; j < half; j += 32) {
        const float u = xfc_ld(p + j) + (b ? b[j] : 0.0f), w2 = xfc_ld(p + j + half) + (b ? b[j + half] : 0.0f);
        ss += u * u + w2 * w2;
    }
    const float *w = h < nq ? qw : h < nq + nk ? kw : nullptr;
    const float inv = w ? 1.0f / sqrtf(xfc_warp_sum(ss) / (float)D + eps) : 1.0f;
    const int64_t t0 = (int64_t)pos[row] * half;
    for (int j = lane; j < half; j += 32) {
        float u = xfc_ld(p + j) + (b ? b[j] : 0.0f), u2 = xfc_ld(p + j + half) + (b ? b[j + half] : 0.0f);
        if (h < nq + nk) {
            if (w) u *= inv * w[j], u2 *= inv * w[j + half];
            const float cs = cosv[t0 + j], sn = sinv[t0 + j];
            const float x1 = u, x2 = u2;
            u = x1 * cs - x2 * sn, u2 = x2 * cs + x1 * sn;
        }
        xfc_st(p + j, u);
        xfc_st(p + j + half, u2);
    }
}

extern "C" xf_status xfc_qknorm_rope(cudaStream_t s, xfc_type type, void *x, int ld, int rows, int nq, int nk,
                                     int nv, int D, const float *bias, const float *qw, const float *kw, float eps,
                                     const int32_t *pos, const float *cos, const float *sin) {
    if (D <= 0 || (D & 1) || D > ROPE_MAX_D)
        return xf_error(XF_ERR_UNSUPPORTED, "cuda: head_dim %d is not supported by RoPE (even, at most %d)", D,
                        ROPE_MAX_D);
    // the paired kernel needs 4-byte aligned pairs: D % 4 == 0 and an even row stride
    const bool paired = D % 4 == 0 && ld % 2 == 0 && ((uintptr_t)x & 7u) == 0;
    const int64_t items = (int64_t)rows * (nq + nk + nv);
    if (items <= 0) return XF_OK;
    const int warps = 8;
    const unsigned blocks = (unsigned)((items + warps - 1) / warps);
    if (paired) {
        XFC_DISPATCH(type, T,
                     qknorm_rope_kernel<T><<<rows, warps * 32, 0, s>>>((T *)x, ld, rows, nq, nk, nv, D, bias, qw, kw,
                                                                       eps, pos, cos, sin));
    } else {
        XFC_DISPATCH(type, T,
                     qknorm_rope_scalar_kernel<T><<<blocks, warps * 32, 0, s>>>((T *)x, ld, rows, nq, nk, nv, D, bias,
                                                                                qw, kw, eps, pos, cos, sin));
    }
    XFC_LAUNCH_CHECK("qknorm_rope");
    return XF_OK;
}
