// swiglu.cu — the MLP's gate: out = silu(gate) ⊙ up, in fp32 math, reading the
// fused gate|up matmul output (two column ranges of one row) or separate arrays.
//   gate, up, out: [rows, cols] with their own row strides
#include "common.cuh"

__device__ __forceinline__ float silu_mul(float g, float u) { return g / (1.0f + expf(-g)) * u; }

// Scalar path: any shape and stride.
template <typename T>
__global__ void swiglu_kernel(const T *__restrict__ gate, int64_t ldg, const T *__restrict__ up, int64_t ldu,
                              T *__restrict__ out, int64_t ldo, int rows, int64_t cols) {
    const int64_t n = (int64_t)rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = i / cols, c = i % cols;
        xfc_st(out + r * ldo + c, silu_mul(xfc_ld(gate + r * ldg + c), xfc_ld(up + r * ldu + c)));
    }
}

// 16-byte path: cols and strides multiples of V = 16 / sizeof(T), pointers aligned.
template <typename T>
__global__ void swiglu_vec_kernel(const T *__restrict__ gate, int64_t ldg, const T *__restrict__ up, int64_t ldu,
                                  T *__restrict__ out, int64_t ldo, int rows, int64_t cols) {
    constexpr int V = 16 / sizeof(T);
    const int64_t cv = cols / V, n = (int64_t)rows * cv;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = i / cv, c = (i % cv) * V;
        uint4 gv = *(const uint4 *)(gate + r * ldg + c);
        uint4 uv = *(const uint4 *)(up + r * ldu + c);
        uint4 ov;
        const T *g = (const T *)&gv, *u = (const T *)&uv;
        T *o = (T *)&ov;
#pragma unroll
        for (int k = 0; k < V; k++) o[k] = xfc_from_f32<T>(silu_mul(xfc_to_f32(g[k]), xfc_to_f32(u[k])));
        *(uint4 *)(out + r * ldo + c) = ov;
    }
}

static bool aligned16(const void *p) { return ((uintptr_t)p & 15u) == 0; }

extern "C" xf_status xfc_swiglu(cudaStream_t s, xfc_type type, const void *gate, int64_t ldg, const void *up,
                                int64_t ldu, void *out, int64_t ldo, int rows, int64_t cols) {
    if (rows <= 0 || cols <= 0) return XF_OK;
    const int64_t V = 16 / (int64_t)xfc_type_size(type);
    const bool vec = cols % V == 0 && ldg % V == 0 && ldu % V == 0 && ldo % V == 0 && aligned16(gate) &&
                     aligned16(up) && aligned16(out);
    if (vec) {
        XFC_DISPATCH(type, T,
                     swiglu_vec_kernel<T><<<xfc_blocks((int64_t)rows * cols / V, 256), 256, 0, s>>>(
                         (const T *)gate, ldg, (const T *)up, ldu, (T *)out, ldo, rows, cols));
    } else {
        XFC_DISPATCH(type, T,
                     swiglu_kernel<T><<<xfc_blocks((int64_t)rows * cols, 256), 256, 0, s>>>(
                         (const T *)gate, ldg, (const T *)up, ldu, (T *)out, ldo, rows, cols));
    }
    XFC_LAUNCH_CHECK("swiglu");
    return XF_OK;
}
