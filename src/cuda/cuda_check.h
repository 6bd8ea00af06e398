/* cuda_check.h — error checks for the CUDA backend's host code: every CUDA
 * runtime and cuBLASLt call goes through CUDA_CHECK / CUBLAS_CHECK, which record
 * the call, the error and the place, set `st` and jump to `cleanup:`. */
#ifndef XF_CUDA_CHECK_H
#define XF_CUDA_CHECK_H

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include "../error.h"

#define CUDA_CHECK(call)                                                                           \
    do {                                                                                           \
        cudaError_t e_ = (call);                                                                   \
        if (e_ != cudaSuccess) {                                                                   \
            st = xf_error(e_ == cudaErrorMemoryAllocation ? XF_ERR_NO_MEMORY : XF_ERR_DEVICE,      \
                          "cuda: %s failed: %s (%s:%d)", #call, cudaGetErrorString(e_), __FILE__,  \
                          __LINE__);                                                               \
            goto cleanup;                                                                          \
        }                                                                                          \
    } while (0)

#define CUBLAS_CHECK(call)                                                                         \
    do {                                                                                           \
        cublasStatus_t e_ = (call);                                                                \
        if (e_ != CUBLAS_STATUS_SUCCESS) {                                                         \
            st = xf_error(e_ == CUBLAS_STATUS_ALLOC_FAILED ? XF_ERR_NO_MEMORY : XF_ERR_DEVICE,     \
                          "cublasLt: %s failed: %s (%s:%d)", #call, cublasLtGetStatusString(e_),  \
                          __FILE__, __LINE__);                                                     \
            goto cleanup;                                                                          \
        }                                                                                          \
    } while (0)

#endif /* XF_CUDA_CHECK_H */
