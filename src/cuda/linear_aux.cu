// linear_aux.cu — small kernels around the cuBLASLt matmuls: a bias add for the
// op-by-op linear, the row mask that restricts a LoRA term to the tokens whose
// sequence asked for that adapter, and a plain fallback matmul for shapes
// cuBLASLt offers no algorithm for (odd sizes in the op tests).
#include "common.cuh"

// y [rows, n] fp32 += b [n]
__global__ void add_bias_kernel(float *__restrict__ y, const float *__restrict__ b, int rows, int n) {
    const int64_t total = (int64_t)rows * n;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x)
        y[i] += b[i % n];
}

// tmp [rows, cols] (ld): rows whose token's adapter is not `a` become zero.
template <typename T>
__global__ void lora_mask_kernel(T *__restrict__ tmp, int ld, int rows, int cols,
                                 const int32_t *__restrict__ tok_adapter, int a) {
    const int64_t total = (int64_t)rows * cols;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total;
         i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t r = i / cols, c = i % cols;
        if (tok_adapter[r] != a) tmp[r * ld + c] = xfc_from_f32<T>(0.0f);
    }
}

extern "C" xf_status xfc_add_bias(cudaStream_t s, float *y, const float *b, int rows, int n) {
    if (rows <= 0 || n <= 0) return XF_OK;
    add_bias_kernel<<<xfc_blocks((int64_t)rows * n, 256), 256, 0, s>>>(y, b, rows, n);
    XFC_LAUNCH_CHECK("add_bias");
    return XF_OK;
}

extern "C" xf_status xfc_lora_mask(cudaStream_t s, xfc_type type, void *tmp, int ld, int rows, int cols,
                                   const int32_t *tok_adapter, int a) {
    if (rows <= 0 || cols <= 0) return XF_OK;
    XFC_DISPATCH(type, T,
                 lora_mask_kernel<T><<<xfc_blocks((int64_t)rows * cols, 256), 256, 0, s>>>((T *)tmp, ld, rows, cols,
                                                                                         tok_adapter, a));
    XFC_LAUNCH_CHECK("lora_mask");
    return XF_OK;
}

// Y [M, N] = X [M, K] · W [N, K]ᵀ + beta · Y, one thread per output, fp32 FMA
// (no TF32). Slow; only for shapes cuBLASLt refuses.
template <typename TA, typename TC>
__global__ void gemm_simple_kernel(int M, int N, int K, const TA *__restrict__ X, int ldx, const TA *__restrict__ W,
                                   int ldw, TC *Y, int ldy, float beta) {
    const int64_t total = (int64_t)M * N;
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < total; i += (int64_t)gridDim.x * blockDim.x) {
        const int64_t m = i / N, n = i % N;
        const TA *x = X + m * ldx, *w = W + n * ldw;
        float acc = 0.0f;
        for (int k = 0; k < K; k++) acc = fmaf(xfc_to_f32(x[k]), xfc_to_f32(w[k]), acc);
        TC *y = Y + m * ldy + n;
        xfc_st(y, beta != 0.0f ? acc + beta * xfc_ld(y) : acc);
    }
}

template <typename TA>
static xf_status gemm_simple_c(cudaStream_t s, int M, int N, int K, const TA *X, int ldx, const TA *W, int ldw,
                               xfc_type c, void *Y, int ldy, float beta) {
    XFC_DISPATCH(c, TC,
                 gemm_simple_kernel<TA, TC><<<xfc_blocks((int64_t)M * N, 256), 256, 0, s>>>(M, N, K, X, ldx, W, ldw,
                                                                                          (TC *)Y, ldy, beta));
    XFC_LAUNCH_CHECK("gemm_simple");
    return XF_OK;
}

extern "C" xf_status xfc_gemm_simple(cudaStream_t s, int M, int N, int K, xfc_type ab, const void *X, int ldx,
                                     const void *W, int ldw, xfc_type c, void *Y, int ldy, float beta) {
    if (M <= 0 || N <= 0) return XF_OK;
    XFC_DISPATCH(ab, TA, return gemm_simple_c<TA>(s, M, N, K, (const TA *)X, ldx, (const TA *)W, ldw, c, Y, ldy, beta));
    return XF_OK;
}
