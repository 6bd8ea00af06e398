/* cuda_api.h — the C ABI between the host code of the CUDA backend (plain C) and
 * its kernels (.cu files): one launcher per kernel family, each enqueuing on a
 * stream and checking the launch. Every launcher returns XF_OK or XF_ERR_DEVICE
 * (with xf_error's message naming the kernel and the CUDA error).
 *
 * Element types of activations and weights: xfc_type (values equal xf_wtype's).
 * Shapes are written as [rows, cols]; "ld" is a row stride in elements. */
#ifndef XF_CUDA_API_H
#define XF_CUDA_API_H

#include <stddef.h>
#include <stdint.h>

#include <cuda_runtime_api.h>

#include "../model.h"
#include "xfwd.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum xfc_type { XFC_F32 = 0, XFC_BF16 = 1, XFC_F16 = 2 } xfc_type;

/* Bytes per element of a type. */
static inline size_t xfc_type_size(xfc_type t) { return t == XFC_F32 ? 4 : 2; }

/* One attention work item: queries [q0, q0 + BM) of the sequence [ss, se).
 * q0 < 0 marks an unused slot (the grid is sized for a bucket, not the batch). */
typedef struct xfc_tile {
    int32_t q0, ss, se, pad;
} xfc_tile;

/* Sets kernel attributes (dynamic shared memory limits) once per process. */
xf_status xfc_kernels_init(void);

/* x [T, H] fp32 = E[tokens[t], :] converted from E's type (E: [V, H]). */
xf_status xfc_embed(cudaStream_t s, xfc_type e_type, const void *E, const int32_t *tokens, float *x, int T, int H);

/* dst [n] = src [n] converted between element types. */
xf_status xfc_convert(cudaStream_t s, xfc_type dst_type, void *dst, xfc_type src_type, const void *src, int64_t n);

/* y [rows, n] (y_type) = x / sqrt(mean(x²) + eps) · w;  x: [rows, n] fp32; w [n] fp32 or NULL.
 * y may equal x when y_type is F32. */
xf_status xfc_rmsnorm(cudaStream_t s, const float *x, const float *w, xfc_type y_type, void *y, int rows, int n,
                      float eps);

/* In place on x [rows, heads, D] (row stride ld), heads numbered across one fused row:
 *   [0, nq)            q heads: + bias, RMSNorm with qw (if qw), RoPE at pos[row]
 *   [nq, nq+nk)        k heads: + bias, RMSNorm with kw (if kw), RoPE
 *   [nq+nk, nq+nk+nv)  v heads: + bias only (nv = 0 when there is no bias)
 * bias [(nq+nk+nv)*D] fp32 or NULL; cos/sin [max_pos, D/2] fp32. D even, D <= 256. */
xf_status xfc_qknorm_rope(cudaStream_t s, xfc_type type, void *x, int ld, int rows, int nq, int nk, int nv, int D,
                          const float *bias, const float *qw, const float *kw, float eps, const int32_t *pos,
                          const float *cos, const float *sin);

/* The attention kernels. Which one runs is the engine's kernel table's choice
 * (cuda_kernels.c: xfc_choose_attention), made once from the device, dtype and shape. */
typedef enum xfc_attn_kernel {
    XFC_ATTN_GENERIC = 0, /* attention_generic.cu: any type, head_dim <= 256, exact fp32 math */
    XFC_ATTN_MMA,         /* mma.sync, 2×16 query rows per warp (bf16/f16, head_dim 64/128): off sm_90 */
    XFC_ATTN_FA2,         /* mma.sync, 16 rows per warp, Q in registers (bf16/f16, head_dim 64/128) */
    XFC_ATTN_WGMMA,       /* wgmma, sm_90a only (bf16/f16, head_dim 128), `heads` query heads per block */
    XFC_ATTN_COUNT
} xfc_attn_kernel;

typedef struct xfc_attn_choice {
    xfc_attn_kernel kernel;
    int32_t heads;      /* XFC_ATTN_WGMMA: query heads of one GQA group per block (1, 2 or 4) */
    int32_t bm;         /* queries per tile: the attention tiles must be built with it */
} xfc_attn_choice;

/* Queries per tile of a kernel. */
int xfc_attention_tile_rows(xfc_attn_kernel kernel);
/* 1 when the tensor-core kernels (MMA, FA2; WGMMA for D = 128) can run this type and head_dim. */
int xfc_attention_tc_shape(xfc_type type, int D);
/* Attention per sequence with GQA, each query seeing the keys of its sequence that
 * `mask` allows (causal, full; sliding window): out [T, nh*D] (row stride ldo) from
 * q [T, nh*D] (ld ldq), k, v [T, nkv*D] (ldk, ldv) with the kernel `c`; one block per
 * (tile, head or heads); tiles [n_tiles] of c->bm queries (unused slots q0 = -1). All
 * tensors of `type`; math in fp32 (tensor cores with fp32 accumulation for the
 * mma/wgmma kernels). */
xf_status xfc_attention(cudaStream_t s, const xfc_attn_choice *c, xfc_type type, const void *q, int ldq, const void *k,
                        int ldk, const void *v, int ldv, void *out, int ldo, const xfc_tile *tiles, int n_tiles,
                        int nh, int nkv, int D, xf_attn_mask mask);

/* out [rows, cols] = silu(gate) ⊙ up, each with its own row stride; math in fp32. */
xf_status xfc_swiglu(cudaStream_t s, xfc_type type, const void *gate, int64_t ldg, const void *up, int64_t ldu,
                     void *out, int64_t ldo, int rows, int64_t cols);

/* Y [M, N] = X [M, K] · W [N, K]ᵀ + beta · Y with fp32 FMA, one thread per output:
 * the fallback for shapes cuBLASLt has no algorithm for. */
xf_status xfc_gemm_simple(cudaStream_t s, int M, int N, int K, xfc_type ab, const void *X, int ldx, const void *W,
                          int ldw, xfc_type c, void *Y, int ldy, float beta);

/* y [rows, n] fp32 += b [n]. */
xf_status xfc_add_bias(cudaStream_t s, float *y, const float *b, int rows, int n);

/* Rows of tmp [rows, cols] (type, ld) whose token's adapter is not `a` are zeroed. */
xf_status xfc_lora_mask(cudaStream_t s, xfc_type type, void *tmp, int ld, int rows, int cols,
                        const int32_t *tok_adapter, int a);

/* out [B, H] fp32: pooling (0 last, 1 mean, 2 first; xf_pooling) of hid [T, H]
 * over each sequence of seq_start [B+1]; optional L2 normalisation. The grid is
 * `grid_b` blocks; blocks b >= *n_seqs (device) do nothing. */
xf_status xfc_pool(cudaStream_t s, const float *hid, int H, const int32_t *seq_start, const int32_t *n_seqs,
                   int grid_b, int pooling, int normalize, float *out);

/* out [B, L] = x [B, H] · W [L, H]ᵀ in fp32 (small heads: classification scores);
 * rows b >= *n_valid (device; NULL: none) are left alone. */
xf_status xfc_small_linear(cudaStream_t s, const float *x, int B, int H, const float *W, int L,
                           const int32_t *n_valid, float *out);

#ifdef __cplusplus
}
#endif
#endif /* XF_CUDA_API_H */
