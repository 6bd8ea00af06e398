/* cuda_gemm.h — dense matmuls through cuBLASLt, row-major as the model stores
 * them:  Y [M, N] = X [M, K] · W [N, K]ᵀ + beta · Y   (fp32 accumulation)
 * with the compute mode of the engine (f32: no TF32; tf32; bf16/f16 operands).
 * Each distinct shape gets its descriptors and algorithm once (heuristic, or the
 * fastest of the heuristic's candidates when tuning is on) and keeps them.
 *
 * Tuned choices are shared: every engine of the process on the same kind of GPU takes
 * the choice the first one timed, and choices are kept in a file in the cache folder
 * (one per GPU name and cuBLASLt version) that later processes read, under a file lock
 * so that two processes never time the same shape differently. So the same inputs give
 * the same bytes in every engine and every run on that machine (replicas included);
 * a fresh cache folder only costs the timing again. */
#ifndef XF_CUDA_GEMM_H
#define XF_CUDA_GEMM_H

#include <cublasLt.h>

#include "cuda_api.h"

typedef struct xfc_gemm_plan xfc_gemm_plan;

typedef struct xfc_gemm {
    cublasLtHandle_t lt;
    void *workspace;        /* device, ws_bytes */
    size_t ws_bytes;
    xfc_gemm_plan *plans;   /* cache, one per shape */
    int n_plans, cap_plans;
    int tuning;             /* 1: time the candidates of a new shape (only outside graph capture,
                               and only where running the matmul several times is harmless) */
    char gpu[160];          /* the GPU kind the choices are for (name, capability, cuBLASLt version) */
    char choices[1024];     /* the file of tuned choices ("": none, kept in the process only) */
} xfc_gemm;

/* cache_dir: where the tuned choices are kept (NULL or "": the process only); device: the
 * GPU whose name keys the file. */
xf_status xfc_gemm_init(xfc_gemm *g, void *workspace, size_t ws_bytes);
void xfc_gemm_set_cache(xfc_gemm *g, const char *cache_dir, int device);
void xfc_gemm_free(xfc_gemm *g);

/* mode: the engine's xf_dtype (decides the compute type). ab: type of X and W;
 * c: type of Y. beta is 0 or 1. */
xf_status xfc_gemm_run(xfc_gemm *g, cudaStream_t s, xf_dtype mode, int M, int N, int K, xfc_type ab, const void *X,
                       int ldx, const void *W, int ldw, xfc_type c, void *Y, int ldy, float beta);

#endif /* XF_CUDA_GEMM_H */
