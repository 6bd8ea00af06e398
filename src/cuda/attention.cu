// attention.cu — varlen attention with GQA on tensor cores (bf16/f16, head_dim 64
// or 128), flash-style: fp32 online softmax, fp32 accumulation, no T×T matrix in
// memory; and xfc_attention, which launches the kernel the engine's kernel table
// chose (xfc_attn_choice; attention_generic.cu for fp32 modes and other head_dims)
// and never picks one itself. Every kernel takes the mask (causal or full,
// optional sliding window: attention.cuh): a tile of queries walks only the key tiles
// its rows see (for full attention all of the sequence's; with a window none left of
// it) and masks elements only in the tiles that cross an edge of a row's key range.
//
// Kernels (which one runs is the engine's kernel table's choice, cuda_kernels.c,
// from compute capability, dtype and shape; xfc_attn_kernel in cuda_api.h):
// - attn_wgg_kernel (XFC_ATTN_WGMMA: head_dim 128 on compute capability 9.0, sm_90a):
//   wgmma, one warpgroup per query head, 1, 2 or 4 heads of one GQA group per block
//   sharing every K/V tile (4 where the group size allows, else 2, else 1).
// - attn_fa2_kernel<Q in registers, 2 K/V stages> (XFC_ATTN_FA2: head_dim 64 on 9.0):
//   mma.sync, 16 query rows per warp.
// - attn_mma_kernel<2 m-tiles, 64 keys> (XFC_ATTN_MMA: head_dims 64 and 128 off 9.0,
//   where the sm_90a wgmma code does not exist): mma.sync, 2×16 rows per warp.
// The other shapes these templates were measured in live in bench/cuda_attention.cu.
// In all of them a block is one (tile of BM queries of one sequence, query head or
// heads); each warp owns 16 query rows: S = Q·Kᵀ, online softmax on the accumulators
// (fp32, exp2 of pre-scaled scores), then O += P·V with P reused from the score
// registers as the A operand. K/V tiles of 64 keys are double-buffered with cp.async
// into XOR-swizzled shared memory (bank-conflict free for ldmatrix; the swizzle
// wgmma's descriptors expect).
//   q [T, nh*D], k/v [T, nkv*D] (row strides ldq/ldk/ldv) -> out [T, nh*D] (ldo)
#include <stdlib.h>

#include "attention.cuh"
#include "attention_mma.cuh"
#include "attention_wgmma.cuh"


// The shapes the library keeps (see the header comment).
#define MMA_MT 2   // attn_mma_kernel: m-tiles of 16 rows per warp
#define MMA_BN 64  // attn_mma_kernel: keys per K/V tile

static size_t mma_smem_bytes(int D, int mt, int bn) { return (size_t)(MMA_WARPS * 16 * mt + 4 * bn) * D * 2; }
static size_t fa2_smem_bytes(int D, int bn, int qreg, int stages) {
    return stages == 2 ? (size_t)4 * bn * D * 2 : (size_t)(2 * bn + (qreg ? 0 : MMA_WARPS * 16)) * D * 2;
}

template <typename T, int D, int MT, int BN>
static xf_status launch_mma(cudaStream_t s, const void *q, int ldq, const void *k, int ldk, const void *v, int ldv,
                            void *out, int ldo, const xfc_tile *tiles, int n_tiles, int nh, int nkv,
                            float scale_log2, int full, int window) {
    attn_mma_kernel<T, D, MT, BN><<<(unsigned)((int64_t)n_tiles * nh), MMA_WARPS * 32, mma_smem_bytes(D, MT, BN), s>>>(
        (const T *)q, ldq, (const T *)k, ldk, (const T *)v, ldv, (T *)out, ldo, tiles, nh, nh / nkv, scale_log2, full, window);
    XFC_LAUNCH_CHECK("attention_mma");
    return XF_OK;
}

template <typename T, int D, bool QREG, int STAGES>
static xf_status launch_fa2(cudaStream_t s, const void *q, int ldq, const void *k, int ldk, const void *v, int ldv,
                            void *out, int ldo, const xfc_tile *tiles, int n_tiles, int nh, int nkv,
                            float scale_log2, int full, int window) {
    attn_fa2_kernel<T, D, 64, QREG, STAGES>
        <<<(unsigned)((int64_t)n_tiles * nh), MMA_WARPS * 32, fa2_smem_bytes(D, 64, QREG, STAGES), s>>>(
            (const T *)q, ldq, (const T *)k, ldk, (const T *)v, ldv, (T *)out, ldo, tiles, nh, nh / nkv, scale_log2, full, window);
    XFC_LAUNCH_CHECK("attention_fa2");
    return XF_OK;
}

template <typename T>
static xf_status launch_wg(cudaStream_t s, int nwg, const void *q, int ldq, const void *k, int ldk, const void *v, int ldv,
                           void *out, int ldo, const xfc_tile *tiles, int n_tiles, int nh, int nkv, float scale_log2, int full, int window) {
    const int group = nh / nkv;
    if ((nwg != 1 && nwg != 2 && nwg != 4) || group % nwg)
        return xf_error(XF_ERR_INTERNAL, "cuda: attention_wgmma with %d heads per block for GQA groups of %d", nwg, group);
    if (nwg == 1) {
        attn_wgg_kernel<T, 1><<<(unsigned)((int64_t)n_tiles * nh), 128, wgg_smem_bytes(1), s>>>(
            (const T *)q, ldq, (const T *)k, ldk, (const T *)v, ldv, (T *)out, ldo, tiles, nh, group, scale_log2, full, window);
    } else if (nwg == 2) {
        attn_wgg_kernel<T, 2><<<(unsigned)((int64_t)n_tiles * (nh / 2)), 256, wgg_smem_bytes(2), s>>>(
            (const T *)q, ldq, (const T *)k, ldk, (const T *)v, ldv, (T *)out, ldo, tiles, nh, group, scale_log2, full, window);
    } else {
        attn_wgg_kernel<T, 4><<<(unsigned)((int64_t)n_tiles * (nh / 4)), 512, wgg_smem_bytes(4), s>>>(
            (const T *)q, ldq, (const T *)k, ldk, (const T *)v, ldv, (T *)out, ldo, tiles, nh, group, scale_log2, full, window);
    }
    XFC_LAUNCH_CHECK("attention_wgmma");
    return XF_OK;
}

template <typename T, int D>
static xf_status launch_choice(cudaStream_t s, const xfc_attn_choice *c, const void *q, int ldq, const void *k, int ldk,
                               const void *v, int ldv, void *out, int ldo, const xfc_tile *tiles, int n_tiles, int nh,
                               int nkv, float scale_log2, int full, int window) {
    switch (c->kernel) {
    case XFC_ATTN_WGMMA:
        if (D == 128) return launch_wg<T>(s, c->heads, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
        break;
    case XFC_ATTN_FA2: return launch_fa2<T, D, true, 2>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
    case XFC_ATTN_MMA: return launch_mma<T, D, MMA_MT, MMA_BN>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
    default: break;
    }
    return xf_error(XF_ERR_INTERNAL, "cuda: attention kernel %d cannot run head_dim %d", (int)c->kernel, D);
}

static bool mma_ok(xfc_type type, int D, int ldq, int ldk, int ldv, int ldo, const void *q, const void *k,
                   const void *v, const void *out) {
    if (type == XFC_F32 || (D != 64 && D != 128)) return false;
    // 16-byte copies: every row and head start must be 16-byte aligned.
    const uintptr_t any = (uintptr_t)q | (uintptr_t)k | (uintptr_t)v | (uintptr_t)out;
    return (any & 15u) == 0 && ldq % 8 == 0 && ldk % 8 == 0 && ldv % 8 == 0 && ldo % 8 == 0;
}

extern "C" int xfc_attention_tile_rows(xfc_attn_kernel kernel) {
    switch (kernel) {
    case XFC_ATTN_MMA: return MMA_WARPS * 16 * MMA_MT;
    case XFC_ATTN_FA2: return MMA_WARPS * 16;
    case XFC_ATTN_WGMMA: return 64;  // one warpgroup's wgmma m64 rows
    default: return XFC_ATTN_GENERIC_BM;
    }
}

extern "C" int xfc_attention_tc_shape(xfc_type type, int D) { return type != XFC_F32 && (D == 64 || D == 128); }

extern "C" xf_status xfc_attention(cudaStream_t s, const xfc_attn_choice *c, xfc_type type, const void *q, int ldq,
                                   const void *k, int ldk, const void *v, int ldv, void *out, int ldo,
                                   const xfc_tile *tiles, int n_tiles, int nh, int nkv, int D, xf_attn_mask mask) {
    if (n_tiles <= 0) return XF_OK;
    if (nkv <= 0 || nh % nkv)
        return xf_error(XF_ERR_INVALID_ARG, "cuda: %d query heads are not a multiple of %d kv heads", nh, nkv);
    if (mask.window < 0 || (mask.kind == XF_MASK_FULL && mask.window > 0))
        return xf_error(XF_ERR_INVALID_ARG, "cuda: attention mask (kind %d, window %d) is not supported",
                        (int)mask.kind, mask.window);
    // Every kernel takes the mask as two arguments: full (every key of the sequence) and
    // window; the causal mask without a window masks the tiles it always did.
    const int full = mask.kind == XF_MASK_FULL, window = mask.window;
    const float scale_log2 = (float)(1.4426950408889634 / sqrt((double)D));
    if (c->kernel == XFC_ATTN_GENERIC)
        return xfc_attention_generic(s, type, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, D, scale_log2, full, window);
    // The tensor-core kernels: the table chose one only for bf16/f16 and head_dim 64/128;
    // the tiles were built for its tile rows, so there is no quiet fallback here.
    if (!mma_ok(type, D, ldq, ldk, ldv, ldo, q, k, v, out))
        return xf_error(XF_ERR_INTERNAL, "cuda: attention kernel %d cannot run type %d, head_dim %d or these strides",
                        (int)c->kernel, (int)type, D);
    if (type == XFC_BF16 && D == 64)
        return launch_choice<__nv_bfloat16, 64>(s, c, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
    if (type == XFC_BF16)
        return launch_choice<__nv_bfloat16, 128>(s, c, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
    if (D == 64)
        return launch_choice<__half, 64>(s, c, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
    return launch_choice<__half, 128>(s, c, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
}

template <typename T, int D, int MT, int BN>
static cudaError_t set_smem() {
    return cudaFuncSetAttribute(attn_mma_kernel<T, D, MT, BN>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                (int)mma_smem_bytes(D, MT, BN));
}

template <typename T, int D, bool QREG, int STAGES>
static cudaError_t set_smem_fa2() {
    return cudaFuncSetAttribute(attn_fa2_kernel<T, D, 64, QREG, STAGES>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                (int)fa2_smem_bytes(D, 64, QREG, STAGES));
}

template <typename T, int D>
static cudaError_t set_smem_all() {
    cudaError_t e = set_smem<T, D, MMA_MT, MMA_BN>();
    if (!e) e = set_smem_fa2<T, D, true, 2>();
    if (!e && D == 128) e = cudaFuncSetAttribute(attn_wgg_kernel<T, 1>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)wgg_smem_bytes(1));
    if (!e && D == 128) e = cudaFuncSetAttribute(attn_wgg_kernel<T, 2>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)wgg_smem_bytes(2));
    if (!e && D == 128) e = cudaFuncSetAttribute(attn_wgg_kernel<T, 4>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)wgg_smem_bytes(4));
    return e;
}

extern "C" xf_status xfc_kernels_init(void) {
    cudaError_t e = set_smem_all<__nv_bfloat16, 128>();
    if (!e) e = set_smem_all<__half, 128>();
    if (!e) e = set_smem_all<__nv_bfloat16, 64>();
    if (!e) e = set_smem_all<__half, 64>();
    if (e) return xf_error(XF_ERR_DEVICE, "cuda: setting attention shared memory: %s", cudaGetErrorString(e));
    return xfc_attention_generic_init();
}
