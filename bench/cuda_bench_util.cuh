// cuda_bench_util.cuh — what the standalone CUDA kernel benchmarks (bench/cuda_attention.cu,
// bench/cuda_ffn.cu) share: the CUDA error check that ends the program, the seeded uniform
// numbers in [-1, 1) their inputs are drawn from, and the 16-bit conversions on the host.
#ifndef XF_BENCH_CUDA_BENCH_UTIL_CUH
#define XF_BENCH_CUDA_BENCH_UTIL_CUH

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CK(call)                                                                                   \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

static inline float frand(uint64_t *s) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f;
}

template <typename T> static T to_t(float x);
template <> inline __nv_bfloat16 to_t<__nv_bfloat16>(float x) { return __float2bfloat16(x); }
template <> inline __half to_t<__half>(float x) { return __float2half(x); }
static inline float to_f(__nv_bfloat16 x) { return __bfloat162float(x); }
static inline float to_f(__half x) { return __half2float(x); }

#endif  // XF_BENCH_CUDA_BENCH_UTIL_CUH
