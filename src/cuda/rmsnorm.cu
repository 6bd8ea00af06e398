// rmsnorm.cu — RMSNorm over rows of the fp32 residual stream, writing the
// normalised rows in the type the next matmul reads (fp32, bf16 or f16).
//   y [rows, n] = x / sqrt(mean(x²) + eps) · w      (sums in fp32)
#include "common.cuh"

// One block per row. With n % 4 == 0 the row is read as float4.
template <typename TY>
__global__ void rmsnorm_kernel(const float *x, const float *__restrict__ w, TY *y, int n, float eps) {
    __shared__ float red[32];
    const int64_t row = blockIdx.x;
    const float *xr = x + row * n;
    TY *yr = y + row * n;
    float ss = 0.0f;
    const bool vec = (n & 3) == 0;
    if (vec) {
        const float4 *x4 = (const float4 *)xr;
        for (int i = threadIdx.x; i < n / 4; i += blockDim.x) {
            float4 v = x4[i];
            ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
        }
    } else {
        for (int i = threadIdx.x; i < n; i += blockDim.x) ss += xr[i] * xr[i];
    }
    ss = xfc_block_sum(ss, red);
    const float inv = 1.0f / sqrtf(ss / (float)n + eps);
    if (vec) {
        const float4 *x4 = (const float4 *)xr;
        for (int i = threadIdx.x; i < n / 4; i += blockDim.x) {
            float4 v = x4[i];
            float4 g = w ? ((const float4 *)w)[i] : make_float4(1.f, 1.f, 1.f, 1.f);
            xfc_st(yr + 4 * i + 0, v.x * inv * g.x);
            xfc_st(yr + 4 * i + 1, v.y * inv * g.y);
            xfc_st(yr + 4 * i + 2, v.z * inv * g.z);
            xfc_st(yr + 4 * i + 3, v.w * inv * g.w);
        }
    } else {
        for (int i = threadIdx.x; i < n; i += blockDim.x) xfc_st(yr + i, xr[i] * inv * (w ? w[i] : 1.0f));
    }
}

extern "C" xf_status xfc_rmsnorm(cudaStream_t s, const float *x, const float *w, xfc_type y_type, void *y, int rows,
                                 int n, float eps) {
    if (rows <= 0) return XF_OK;
    const int threads = n >= 2048 ? 256 : 128;
    XFC_DISPATCH(y_type, TY, rmsnorm_kernel<TY><<<rows, threads, 0, s>>>(x, w, (TY *)y, n, eps));
    XFC_LAUNCH_CHECK("rmsnorm");
    return XF_OK;
}
