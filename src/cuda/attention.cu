// attention.cu — varlen attention with GQA on tensor cores (bf16/f16, head_dim 64
// or 128), flash-style: fp32 online softmax, fp32 accumulation, no T×T matrix in
// memory; and the dispatcher that sends every other case (fp32 modes, other
// head_dims) to attention_generic.cu. Every kernel takes the mask (causal or full,
// optional sliding window: attention.cuh): a tile of queries walks only the key tiles
// its rows see (for full attention all of the sequence's; with a window none left of
// it) and masks elements only in the tiles that cross an edge of a row's key range.
//
// Kernels (XFWD_ATTN_VARIANT picks one for experiments; the default is measured best):
// - attn_wgg_kernel (default, head_dim 128, sm_90a): wgmma, one warpgroup per query
//   head, up to 4 heads of one GQA group per block sharing every K/V tile (one head
//   per block for GQA groups of odd size).
// - attn_mma_kernel (the previous default) and attn_fa2_kernel (head_dim 64 in the
//   default, and every head_dim 64/128 case off compute capability 9.0): mma.sync.
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


// Kernel shapes; XFWD_ATTN_VARIANT picks one for experiments. 0-2: attn_mma_kernel
// (m-tiles per warp, keys per tile); 3-5: attn_fa2_kernel (16 rows per warp, 64 keys;
// Q in registers or not, K/V stages); 6-8: attn_wgg_kernel with 1 / up to 2 / up to 4
// heads per block (head_dim 128 on sm_90a; other head_dims take variant 3).
static const struct { int kind, mt, bn, qreg, stages; } variants[] = {
    {0, 2, 64, 0, 2}, {0, 1, 64, 0, 2}, {0, 2, 32, 0, 2},
    {1, 1, 64, 1, 2}, {1, 1, 64, 0, 1}, {1, 1, 64, 1, 1},
    {2, 1, 64, 1, 2}, {2, 1, 64, 1, 2}, {2, 1, 64, 1, 2},
};
#define XFC_ATTN_DEFAULT 8  // measured fastest correct one (bench/cuda-notes.md, visit 6)
static int variant = XFC_ATTN_DEFAULT;

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
static xf_status launch_wg(cudaStream_t s, const void *q, int ldq, const void *k, int ldk, const void *v, int ldv,
                           void *out, int ldo, const xfc_tile *tiles, int n_tiles, int nh, int nkv, float scale_log2, int full, int window) {
    const int group = nh / nkv;
    const int nwg = variant == 8 && group % 4 == 0 ? 4 : variant >= 7 && group % 2 == 0 ? 2 : 1;
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
static xf_status launch_variant(cudaStream_t s, const void *q, int ldq, const void *k, int ldk, const void *v,
                                int ldv, void *out, int ldo, const xfc_tile *tiles, int n_tiles, int nh, int nkv,
                                float scale_log2, int full, int window) {
    switch (variant) {
    case 1: return launch_mma<T, D, 1, 64>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
    case 2: return launch_mma<T, D, 2, 32>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
    case 3: return launch_fa2<T, D, true, 2>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
    case 4: return launch_fa2<T, D, false, 1>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
    case 5: return launch_fa2<T, D, true, 1>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
    case 6:
    case 7:
    case 8:
        if (D != 128) return launch_fa2<T, D, true, 2>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
        return launch_wg<T>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
    default: return launch_mma<T, D, 2, 64>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
    }
}

static bool mma_ok(xfc_type type, int D, int ldq, int ldk, int ldv, int ldo, const void *q, const void *k,
                   const void *v, const void *out) {
    if (type == XFC_F32 || (D != 64 && D != 128)) return false;
    // 16-byte copies: every row and head start must be 16-byte aligned.
    const uintptr_t any = (uintptr_t)q | (uintptr_t)k | (uintptr_t)v | (uintptr_t)out;
    return (any & 15u) == 0 && ldq % 8 == 0 && ldk % 8 == 0 && ldv % 8 == 0 && ldo % 8 == 0;
}

extern "C" int xfc_attention_block_m(xfc_type type, int D) {
    return type != XFC_F32 && (D == 64 || D == 128) ? MMA_WARPS * 16 * variants[variant].mt : XFC_ATTN_GENERIC_BM;
}

extern "C" xf_status xfc_attention(cudaStream_t s, xfc_type type, const void *q, int ldq, const void *k, int ldk,
                                   const void *v, int ldv, void *out, int ldo, const xfc_tile *tiles, int n_tiles,
                                   int nh, int nkv, int D, xf_attn_mask mask) {
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
    if (mma_ok(type, D, ldq, ldk, ldv, ldo, q, k, v, out)) {
        if (type == XFC_BF16 && D == 64)
            return launch_variant<__nv_bfloat16, 64>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
        if (type == XFC_BF16)
            return launch_variant<__nv_bfloat16, 128>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
        if (D == 64)
            return launch_variant<__half, 64>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
        return launch_variant<__half, 128>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2, full, window);
    }
    return xfc_attention_generic(s, type, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, D, scale_log2, full, window);
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
    cudaError_t e = set_smem<T, D, 2, 64>();
    if (!e) e = set_smem<T, D, 1, 64>();
    if (!e) e = set_smem<T, D, 2, 32>();
    if (!e) e = set_smem_fa2<T, D, true, 2>();
    if (!e) e = set_smem_fa2<T, D, false, 1>();
    if (!e) e = set_smem_fa2<T, D, true, 1>();
    if (!e && D == 128) e = cudaFuncSetAttribute(attn_wgg_kernel<T, 1>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)wgg_smem_bytes(1));
    if (!e && D == 128) e = cudaFuncSetAttribute(attn_wgg_kernel<T, 2>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)wgg_smem_bytes(2));
    if (!e && D == 128) e = cudaFuncSetAttribute(attn_wgg_kernel<T, 4>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)wgg_smem_bytes(4));
    return e;
}

extern "C" xf_status xfc_kernels_init(void) {
    const char *env = getenv("XFWD_ATTN_VARIANT");  // experiments only
    const int want = env ? atoi(env) : XFC_ATTN_DEFAULT;
    variant = want >= 0 && want < (int)(sizeof variants / sizeof variants[0]) ? want : XFC_ATTN_DEFAULT;
    if (variants[variant].kind == 2) {  // wgmma code exists only in the sm_90a binary: compute capability 9.0
        int dev = 0, major = 0, minor = 0;
        if (cudaGetDevice(&dev) || cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) ||
            cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) || major != 9 || minor != 0)
            variant = 0;
    }
    cudaError_t e = set_smem_all<__nv_bfloat16, 128>();
    if (!e) e = set_smem_all<__half, 128>();
    if (!e) e = set_smem_all<__nv_bfloat16, 64>();
    if (!e) e = set_smem_all<__half, 64>();
    if (e) return xf_error(XF_ERR_DEVICE, "cuda: setting attention shared memory: %s", cudaGetErrorString(e));
    return xfc_attention_generic_init();
}
