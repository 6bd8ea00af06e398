// common.cuh — what every .cu file of the CUDA backend shares: element-type
// traits (load/store as fp32), warp/block reductions, and the launch check that
// turns a failed launch into an xf_status with a message.
#ifndef XF_CUDA_COMMON_CUH
#define XF_CUDA_COMMON_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <stdint.h>

extern "C" {
#include "../error.h"
}
#include "cuda_api.h"

// Returns XF_ERR_DEVICE from the launcher when the launch just made failed.
#define XFC_LAUNCH_CHECK(name)                                                                     \
    do {                                                                                           \
        cudaError_t e_ = cudaGetLastError();                                                       \
        if (e_ != cudaSuccess)                                                                     \
            return xf_error(XF_ERR_DEVICE, "cuda: kernel %s failed: %s", name,                     \
                            cudaGetErrorString(e_));                                               \
    } while (0)

// Scalar load/store of an element type through fp32.
__device__ __forceinline__ float xfc_ld(const float *p) { return *p; }
__device__ __forceinline__ float xfc_ld(const __nv_bfloat16 *p) { return __bfloat162float(*p); }
__device__ __forceinline__ float xfc_ld(const __half *p) { return __half2float(*p); }
__device__ __forceinline__ void xfc_st(float *p, float v) { *p = v; }
__device__ __forceinline__ void xfc_st(__nv_bfloat16 *p, float v) { *p = __float2bfloat16_rn(v); }
__device__ __forceinline__ void xfc_st(__half *p, float v) { *p = __float2half_rn(v); }

// Conversions used by vectorized paths.
template <typename T> __device__ __forceinline__ T xfc_from_f32(float v);
template <> __device__ __forceinline__ float xfc_from_f32<float>(float v) { return v; }
template <> __device__ __forceinline__ __nv_bfloat16 xfc_from_f32<__nv_bfloat16>(float v) {
    return __float2bfloat16_rn(v);
}
template <> __device__ __forceinline__ __half xfc_from_f32<__half>(float v) { return __float2half_rn(v); }
__device__ __forceinline__ float xfc_to_f32(float v) { return v; }
__device__ __forceinline__ float xfc_to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float xfc_to_f32(__half v) { return __half2float(v); }

__device__ __forceinline__ float xfc_warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ __forceinline__ float xfc_warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over the whole block (blockDim.x a multiple of 32, at most 1024); every
// thread gets the result. `red` is shared scratch of at least 32 floats.
__device__ __forceinline__ float xfc_block_sum(float v, float *red) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    v = xfc_warp_sum(v);
    __syncthreads();  // red may still be read by a previous call
    if (lane == 0) red[warp] = v;
    __syncthreads();
    v = lane < nw ? red[lane] : 0.0f;
    return xfc_warp_sum(v);
}

// Dispatches a templated launcher over the three element types.
#define XFC_DISPATCH(type, T, ...)                                                                 \
    switch (type) {                                                                                \
    case XFC_F32: { typedef float T; __VA_ARGS__; } break;                                         \
    case XFC_BF16: { typedef __nv_bfloat16 T; __VA_ARGS__; } break;                                \
    case XFC_F16: { typedef __half T; __VA_ARGS__; } break;                                        \
    default: return xf_error(XF_ERR_INTERNAL, "cuda: unknown element type %d", (int)(type));       \
    }

static inline unsigned xfc_blocks(int64_t n, int per_block) {
    int64_t b = (n + per_block - 1) / per_block;
    if (b > 1048576) b = 1048576;  // grid-stride loops cover the rest
    return (unsigned)(b > 0 ? b : 1);
}

#endif  // XF_CUDA_COMMON_CUH
