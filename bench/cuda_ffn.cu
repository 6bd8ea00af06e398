// cuda_ffn.cu — the MLP's gate|up + SwiGLU, two ways, standalone (in the manner of
// bench/cuda_attention.cu): the library's path (one cuBLASLt matmul into the [T, 2I]
// intermediate, then xfc_swiglu) beside the fused warp-specialised wgmma kernel of
// bench/cuda_ffn_ws.cuh (the SwiGLU in the matmul's epilogue, no intermediate), both
// checked against a float64 CPU reference on sampled rows and timed alone.
//   xfwd_cuda_ffn_bench [--tokens 8192] [--in 2560] [--inter 9728] [--dtype bf16|f16] [--iters 20]
// (defaults: Qwen3-4B's MLP on 16 × 512 tokens). Prints one line per path: relative
// (Frobenius) error, ms per call, TFLOP/s counting the 2·T·2I·in matmul FLOPs.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/attention.cuh"
#include "cuda_bench_util.cuh"
#include "cuda/attention_mma.cuh"
#include "cuda/attention_wgmma.cuh"
#include "cuda_attention_ws.cuh"
#include "cuda_ffn_ws.cuh"
#include <cublasLt.h>
#include <cudaTypedefs.h>
extern "C" {
#include "cuda/cuda_gemm.h"
}

// A 2D tensor map of a row-major [rows, cols] 16-bit matrix, boxes of 128 rows × 64 columns,
// 128-byte swizzle, zeros past the end.
static CUtensorMap tensor_map(const void *base, int rows, int cols, int ld) {
    static PFN_cuTensorMapEncodeTiled_v12000 encode = NULL;
    if (!encode) {
        cudaDriverEntryPointQueryResult q;
        CK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", (void **)&encode, 12000, cudaEnableDefault, &q));
        if (q != cudaDriverEntryPointSuccess || !encode) fprintf(stderr, "no cuTensorMapEncodeTiled\n"), exit(1);
    }
    CUtensorMap m;
    const cuuint64_t dim[2] = {(cuuint64_t)cols, (cuuint64_t)rows}, stride[1] = {(cuuint64_t)ld * 2};
    const cuuint32_t box[2] = {64, 128}, estride[2] = {1, 1};
    const CUresult r = encode(&m, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, (void *)base, dim, stride, box, estride,
                              CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                              CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) fprintf(stderr, "cuTensorMapEncodeTiled: %d\n", (int)r), exit(1);
    return m;
}

template <typename T> static int bench(int Tn, int in, int inter, int iters, xfc_type type) {
    const size_t nx = (size_t)Tn * in, nw = (size_t)2 * inter * in, no = (size_t)Tn * inter;
    T *hx = (T *)malloc(sizeof(T) * nx), *hw = (T *)malloc(sizeof(T) * nw), *ho = (T *)malloc(sizeof(T) * no);
    uint64_t seed = 7;
    const float ws = 2.0f / sqrtf((float)in);
    for (size_t i = 0; i < nx; i++) hx[i] = to_t<T>(frand(&seed));
    for (size_t i = 0; i < nw; i++) hw[i] = to_t<T>(frand(&seed) * ws);
    // reference rows: the first and last of the batch and of a 128-row tile, and a spread
    int rows[24], nr = 0;
    const int pick[] = {0, 1, 63, 64, 127, 128, Tn / 3, Tn / 2 + 5, Tn - 129, Tn - 2, Tn - 1};
    for (int i = 0; i < (int)(sizeof pick / sizeof pick[0]); i++)
        if (pick[i] >= 0 && pick[i] < Tn) rows[nr++] = pick[i];
    double *ref = (double *)malloc(sizeof(double) * nr * inter);
    for (int r = 0; r < nr; r++)
        for (int j = 0; j < inter; j++) {
            double g = 0, u = 0;
            const T *xr = hx + (size_t)rows[r] * in, *wg = hw + (size_t)j * in, *wu = hw + (size_t)(inter + j) * in;
            for (int k = 0; k < in; k++) g += (double)to_f(xr[k]) * to_f(wg[k]), u += (double)to_f(xr[k]) * to_f(wu[k]);
            ref[(size_t)r * inter + j] = g / (1.0 + exp(-g)) * u;
        }
    void *dx, *dw, *dy, *dout, *dws;
    const size_t ws_bytes = 32u << 20;
    CK(cudaMalloc(&dx, sizeof(T) * nx));
    CK(cudaMalloc(&dw, sizeof(T) * nw));
    CK(cudaMalloc(&dy, sizeof(T) * (size_t)Tn * 2 * inter));
    CK(cudaMalloc(&dout, sizeof(T) * no));
    CK(cudaMalloc(&dws, ws_bytes));
    CK(cudaMemcpy(dx, hx, sizeof(T) * nx, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dw, hw, sizeof(T) * nw, cudaMemcpyHostToDevice));
    xfc_gemm g;
    if (xfc_gemm_init(&g, dws, ws_bytes) != XF_OK) return fprintf(stderr, "cuBLASLt init failed\n"), 1;
    const xf_dtype mode = type == XFC_BF16 ? XF_DTYPE_BF16 : XF_DTYPE_F16;
    CK(cudaFuncSetAttribute(ffn_swiglu_ws_kernel<T, false>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)ffn_smem_bytes()));
    CK(cudaFuncSetAttribute(ffn_swiglu_ws_kernel<T, true>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)ffn_smem_bytes()));
    // (the data type only sizes the elements: bf16 and f16 are both 2 bytes)
    const CUtensorMap mx = tensor_map(dx, Tn, in, in), mw = tensor_map(dw, 2 * inter, in, in);
    const unsigned grid = (unsigned)(((Tn + 127) / 128) * (inter / 128));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    const double flops = 2.0 * Tn * 2.0 * inter * in;
    printf("%s, T=%d in=%d I=%d\n", type == XFC_BF16 ? "bf16" : "f16", Tn, in, inter);
    int failed = 0;
    for (int path = 0; path < 5; path++) {
        // 0: cuBLASLt gate|up then swiglu; 1: fused (cp.async); 2: fused (TMA); 3: the matmul alone;
        // 4: the swiglu alone
        auto run = [&]() {
            if (path == 0 || path == 3)
                xfc_gemm_run(&g, 0, mode, Tn, 2 * inter, in, type, dx, in, dw, in, type, dy, 2 * inter, 0.0f);
            if (path == 0 || path == 4)
                xfc_swiglu(0, type, dy, 2 * inter, (T *)dy + inter, 2 * inter, dout, inter, Tn, inter);
            if (path == 1)
                ffn_swiglu_ws_kernel<T, false><<<grid, 384, ffn_smem_bytes()>>>((const T *)dx, in, (const T *)dw, in,
                                                                                 (T *)dout, inter, Tn, inter, in, mx, mw);
            if (path == 2)
                ffn_swiglu_ws_kernel<T, true><<<grid, 384, ffn_smem_bytes()>>>((const T *)dx, in, (const T *)dw, in,
                                                                                (T *)dout, inter, Tn, inter, in, mx, mw);
        };
        static const char *const names[] = {"cublasLt gate|up, then swiglu [library]", "fused wgmma + swiglu, cp.async",
                                            "fused wgmma + swiglu, TMA", "  of which the matmul", "  of which the swiglu"};
        CK(cudaMemset(dout, 0, sizeof(T) * no));
        g.tuning = path == 0 || path == 3;  // the first call times cuBLASLt's candidates, as the library's first forward does
        run();
        g.tuning = 0;
        CK(cudaGetLastError());
        CK(cudaDeviceSynchronize());
        double err = 0;
        if (path < 3) {
            CK(cudaMemcpy(ho, dout, sizeof(T) * no, cudaMemcpyDeviceToHost));
            double num = 0, den = 0;
            for (int r = 0; r < nr; r++)
                for (int j = 0; j < inter; j++) {
                    const double d = to_f(ho[(size_t)rows[r] * inter + j]) - ref[(size_t)r * inter + j];
                    num += d * d, den += ref[(size_t)r * inter + j] * ref[(size_t)r * inter + j];
                }
            err = sqrt(num / (den > 0 ? den : 1));
        }
        CK(cudaEventRecord(e0));
        for (int it = 0; it < iters; it++) run();
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        float ms = 0;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        ms /= iters;
        const int ok = path >= 3 || (err < 2e-2 && err == err);
        failed += !ok;
        if (path < 3)
            printf("  %-44s rel.err %.2e %s %8.3f ms %6.1f TFLOP/s\n", names[path], err, ok ? "ok  " : "FAIL", ms,
                   flops / (ms * 1e-3) / 1e12);
        else
            printf("  %-44s %24.3f ms\n", names[path], ms);
    }
    xfc_gemm_free(&g);
    cudaFree(dx), cudaFree(dw), cudaFree(dy), cudaFree(dout), cudaFree(dws);
    free(hx), free(hw), free(ho), free(ref);
    return failed;
}

int main(int argc, char **argv) {
    int Tn = 8192, in = 2560, inter = 9728, iters = 20, f16 = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : "0";
        if (!strcmp(o, "--tokens")) Tn = atoi(val), i++;
        else if (!strcmp(o, "--in")) in = atoi(val), i++;
        else if (!strcmp(o, "--inter")) inter = atoi(val), i++;
        else if (!strcmp(o, "--iters")) iters = atoi(val), i++;
        else if (!strcmp(o, "--dtype")) f16 = !strcmp(val, "f16"), i++;
        else return fprintf(stderr, "usage: %s [--tokens T] [--in N] [--inter I] [--dtype bf16|f16] [--iters N]\n", argv[0]), 2;
    }
    if (Tn < 1 || in < 64 || in % 64 || inter < 128 || inter % 128 || iters < 1)
        return fprintf(stderr, "bad arguments (in a multiple of 64, inter of 128)\n"), 2;
    int n_dev = 0, major = 0, minor = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0) return printf("skipped: no CUDA device\n"), 77;
    CK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0));
    CK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0));
    if (major != 9 || minor != 0) return printf("skipped: the fused kernel needs compute capability 9.0\n"), 77;
    const int failed = f16 ? bench<__half>(Tn, in, inter, iters, XFC_F16) : bench<__nv_bfloat16>(Tn, in, inter, iters, XFC_BF16);
    printf("%s\n", failed ? "FAIL" : "PASS");
    return failed ? 1 : 0;
}
