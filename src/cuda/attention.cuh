// attention.cuh — what the two attention kernels (attention.cu: tensor cores,
// attention_generic.cu: any head_dim, exact fp32) share: the tile size and the
// generic launcher that attention.cu's dispatcher falls back to.
#ifndef XF_CUDA_ATTENTION_CUH
#define XF_CUDA_ATTENTION_CUH

#include "common.cuh"

#define XFC_ATTN_GENERIC_BM 64   // queries per tile of the generic kernel
#define XFC_ATTN_GENERIC_MAX_D 256

xf_status xfc_attention_generic(cudaStream_t s, xfc_type type, const void *q, int ldq, const void *k, int ldk,
                                const void *v, int ldv, void *out, int ldo, const xfc_tile *tiles, int n_tiles,
                                int nh, int nkv, int D, float scale_log2);
xf_status xfc_attention_generic_init(void);

#endif  // XF_CUDA_ATTENTION_CUH
