// attention.cuh — what the two attention kernels (attention.cu: tensor cores,
// attention_generic.cu: any head_dim, exact fp32) share: the tile size, the mask
// arithmetic and the generic kernel's launcher (xfc_attention calls it for XFC_ATTN_GENERIC).
#ifndef XF_CUDA_ATTENTION_CUH
#define XF_CUDA_ATTENTION_CUH

#include "common.cuh"

#define XFC_ATTN_GENERIC_BM 64   // queries per tile of the generic kernel
#define XFC_ATTN_GENERIC_MAX_D 256

// The mask inside the kernels: full (0 causal, 1 every key of the sequence) and
// window (> 0: query i also needs key j > i - window). Query qi of the sequence
// [ss, se) sees the keys [lo, hi] of attn_row_keys; a tile of queries [qa, qb]
// needs the key tiles of BN keys (counted from ss) of attn_key_tiles. Causal
// without a window gives the old bounds (lo = ss, hi = min(qi, se - 1)).
__device__ __forceinline__ void attn_row_keys(int qi, int ss, int se, int full, int window, int &lo, int &hi) {
    hi = full ? se - 1 : min(qi, se - 1);
    lo = window > 0 ? qi - window + 1 : ss;
}
// First key of the first tile, and the number of tiles.
__device__ __forceinline__ void attn_key_tiles(int qa, int qb, int ss, int se, int full, int window, int bn,
                                               int &kv_first, int &n_kv) {
    const int lo = window > 0 ? max(ss, qa - window + 1) : ss;
    const int hi = full ? se - 1 : qb;
    kv_first = ss + (lo - ss) / bn * bn;
    n_kv = (hi - kv_first) / bn + 1;
}

xf_status xfc_attention_generic(cudaStream_t s, xfc_type type, const void *q, int ldq, const void *k, int ldk,
                                const void *v, int ldv, void *out, int ldo, const xfc_tile *tiles, int n_tiles,
                                int nh, int nkv, int D, float scale_log2, int full, int window);
xf_status xfc_attention_generic_init(void);

#endif  // XF_CUDA_ATTENTION_CUH
