// attention.cu — causal varlen attention with GQA on tensor cores (bf16/f16,
// head_dim 64 or 128), flash-style: fp32 online softmax, fp32 accumulation, no
// T×T matrix in memory; and the dispatcher that sends every other case (fp32
// modes, other head_dims) to attention_generic.cu.
//
// One block = one (tile of BM queries of one sequence, query head). Each warp
// owns 16 query rows: S = Q·Kᵀ with mma.sync m16n8k16 (A from Q, B from K rows),
// online softmax on the accumulators, then O += P·V with P reused from the
// score registers as the A operand and V read through ldmatrix.trans.
// K/V tiles of 64 keys are double-buffered with cp.async; shared memory rows are
// XOR-swizzled in 16-byte chunks so ldmatrix is free of bank conflicts.
//   q [T, nh*D], k/v [T, nkv*D] (row strides ldq/ldk/ldv) -> out [T, nh*D] (ldo)
#include <stdlib.h>

#include "attention.cuh"

#define MMA_WARPS 4

__device__ __forceinline__ uint32_t smem_addr(const void *p) { return (uint32_t)__cvta_generic_to_shared(p); }

// 16-byte async copy global -> shared; src_bytes = 0 writes zeros.
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldmatrix_x4(uint32_t r[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}
__device__ __forceinline__ void ldmatrix_x4_trans(uint32_t r[4], uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

// c [16×8 fp32] += a [16×16] · b [16×8]
template <typename T> __device__ __forceinline__ void mma16816(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1);
template <>
__device__ __forceinline__ void mma16816<__nv_bfloat16>(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
template <>
__device__ __forceinline__ void mma16816<__half>(float c[4], const uint32_t a[4], uint32_t b0, uint32_t b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
                 "{%8, %9}, {%0, %1, %2, %3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Two fp32 -> one 32-bit register of two 16-bit values (lo in the low half).
template <typename T> __device__ __forceinline__ uint32_t pack2(float lo, float hi);
template <> __device__ __forceinline__ uint32_t pack2<__nv_bfloat16>(float lo, float hi) {
    __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *(uint32_t *)&v;
}
template <> __device__ __forceinline__ uint32_t pack2<__half>(float lo, float hi) {
    __half2 v = __floats2half2_rn(lo, hi);
    return *(uint32_t *)&v;
}

// Byte offset of 16-byte chunk `c` of row `r` in a swizzled [rows][D] 16-bit tile.
template <int D> __device__ __forceinline__ uint32_t swz(int r, int c) {
    return (uint32_t)(r * D * 2 + ((c ^ (r & 7)) << 4));
}

// Starts copying rows [row0, row0 + ROWS) of a head's [*, D] slice into a tile;
// rows at or past `end` are zero-filled.
template <int D, int ROWS, int NT, typename T>
__device__ __forceinline__ void load_tile(uint32_t dst, const T *base, int ld, int row0, int end, int tid) {
    constexpr int CH = D / 8;
#pragma unroll
    for (int i = tid; i < ROWS * CH; i += NT) {
        const int r = i / CH, c = i % CH;
        const bool ok = row0 + r < end;
        const T *src = ok ? base + (int64_t)(row0 + r) * ld + c * 8 : base;
        cp_async16(dst + swz<D>(r, c), src, ok ? 16 : 0);
    }
}

// MT: 16-row m-tiles per warp (each K/V fragment read from shared memory feeds MT
// matrix multiplies); BN: keys per K/V tile. Rows of warp w: [w·16·MT, (w+1)·16·MT).
template <typename T, int D, int MT, int BN>
__global__ void __launch_bounds__(MMA_WARPS * 32, MT == 1 ? 3 : 2)
    attn_mma_kernel(const T *__restrict__ q, int ldq, const T *__restrict__ k, int ldk, const T *__restrict__ v,
                    int ldv, T *__restrict__ out, int ldo, const xfc_tile *__restrict__ tiles, int nh, int group,
                    float scale_log2) {
    constexpr int WR = 16 * MT, BM = MMA_WARPS * WR, NT = MMA_WARPS * 32;
    constexpr int TILE_BYTES = BN * D * 2;
    extern __shared__ __align__(128) unsigned char smem[];
    const uint32_t sQ = smem_addr(smem);
    const uint32_t sK = sQ + BM * D * 2;      // 2 stages
    const uint32_t sV = sK + 2 * TILE_BYTES;  // 2 stages

    const int head = blockIdx.x % nh;
    const xfc_tile tile = tiles[blockIdx.x / nh];
    if (tile.q0 < 0) return;
    const int q0 = tile.q0, ss = tile.ss, se = tile.se;
    const T *qb = q + (int64_t)head * D;
    const T *kb = k + (int64_t)(head / group) * D;
    const T *vb = v + (int64_t)(head / group) * D;
    const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    const int g = lane >> 2, t4 = lane & 3;
    const int q_hi = min(q0 + BM, se) - 1;  // last real query of the tile
    const int n_kv = (q_hi - ss) / BN + 1;
    const int wrow = warp * WR;             // first row of this warp in the tile
    const int wq_lo = q0 + wrow, wq_hi = wq_lo + WR - 1;

    load_tile<D, BM, NT>(sQ, qb, ldq, q0, se, tid);
    load_tile<D, BN, NT>(sK, kb, ldk, ss, se, tid);
    load_tile<D, BN, NT>(sV, vb, ldv, ss, se, tid);
    cp_async_commit();

    float o[MT][D / 8][4];
    float m_r[MT][2], l_r[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
        m_r[mt][0] = m_r[mt][1] = -INFINITY;
        l_r[mt][0] = l_r[mt][1] = 0.0f;
#pragma unroll
        for (int d = 0; d < D / 8; d++) o[mt][d][0] = o[mt][d][1] = o[mt][d][2] = o[mt][d][3] = 0.0f;
    }

    for (int j = 0; j < n_kv; j++) {
        const int kv0 = ss + j * BN;
        if (j + 1 < n_kv) {
            const uint32_t st = ((j + 1) & 1) * TILE_BYTES;
            load_tile<D, BN, NT>(sK + st, kb, ldk, kv0 + BN, se, tid);
            load_tile<D, BN, NT>(sV + st, vb, ldv, kv0 + BN, se, tid);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        __syncthreads();
        // A warp whose rows all precede this tile's first key has nothing to do here.
        if (kv0 <= wq_hi) {
            const uint32_t cK = sK + (j & 1) * TILE_BYTES, cV = sV + (j & 1) * TILE_BYTES;
            // S [WR × BN] = Q_warp · K_tileᵀ
            float sacc[MT][BN / 8][4];
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int n = 0; n < BN / 8; n++) sacc[mt][n][0] = sacc[mt][n][1] = sacc[mt][n][2] = sacc[mt][n][3] = 0.0f;
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                uint32_t a[MT][4];
#pragma unroll
                for (int mt = 0; mt < MT; mt++)
                    ldmatrix_x4(a[mt], sQ + swz<D>(wrow + mt * 16 + (lane & 15), kk * 2 + (lane >> 4)));
#pragma unroll
                for (int n2 = 0; n2 < BN / 16; n2++) {
                    uint32_t b[4];
                    ldmatrix_x4(b, cK + swz<D>(n2 * 16 + (lane & 7) + ((lane >> 4) << 3), kk * 2 + ((lane >> 3) & 1)));
#pragma unroll
                    for (int mt = 0; mt < MT; mt++) {
                        mma16816<T>(sacc[mt][2 * n2], a[mt], b[0], b[1]);
                        mma16816<T>(sacc[mt][2 * n2 + 1], a[mt], b[2], b[3]);
                    }
                }
            }

            // Scale into the log2 domain, mask (causal, sequence end), online softmax.
            uint32_t pf[MT][BN / 16][4];
            const bool need_mask = kv0 + BN - 1 > wq_lo || kv0 + BN > se;
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                const int qrow = wq_lo + mt * 16 + g;  // this thread's query rows: qrow, qrow + 8
                float mx[2] = {m_r[mt][0], m_r[mt][1]};
#pragma unroll
                for (int n = 0; n < BN / 8; n++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        float x = sacc[mt][n][e] * scale_log2;
                        if (need_mask) {
                            const int key = kv0 + n * 8 + 2 * t4 + (e & 1);
                            const int qi = qrow + ((e >> 1) << 3);
                            if (key > qi || key >= se) x = -INFINITY;
                        }
                        sacc[mt][n][e] = x;
                        mx[e >> 1] = fmaxf(mx[e >> 1], x);
                    }
                float base[2], alpha[2], rs[2] = {0.0f, 0.0f};
#pragma unroll
                for (int r = 0; r < 2; r++) {
                    mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
                    mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
                    base[r] = mx[r] == -INFINITY ? 0.0f : mx[r];
                    alpha[r] = exp2f(m_r[mt][r] - base[r]);
                    m_r[mt][r] = mx[r];
                }
                // P, packed at once into the A fragments of P·V (the score registers die here):
                // n-tile pair (2ks, 2ks+1) -> {rows g: keys 2t.., rows g+8: keys 2t.., then keys 8+2t..}
#pragma unroll
                for (int ks = 0; ks < BN / 16; ks++) {
                    float p[2][4];
#pragma unroll
                    for (int h = 0; h < 2; h++)
#pragma unroll
                        for (int e = 0; e < 4; e++) {
                            p[h][e] = exp2f(sacc[mt][2 * ks + h][e] - base[e >> 1]);
                            rs[e >> 1] += p[h][e];
                        }
                    pf[mt][ks][0] = pack2<T>(p[0][0], p[0][1]);
                    pf[mt][ks][1] = pack2<T>(p[0][2], p[0][3]);
                    pf[mt][ks][2] = pack2<T>(p[1][0], p[1][1]);
                    pf[mt][ks][3] = pack2<T>(p[1][2], p[1][3]);
                }
#pragma unroll
                for (int r = 0; r < 2; r++) l_r[mt][r] = l_r[mt][r] * alpha[r] + rs[r];
#pragma unroll
                for (int d = 0; d < D / 8; d++) {
                    o[mt][d][0] *= alpha[0], o[mt][d][1] *= alpha[0];
                    o[mt][d][2] *= alpha[1], o[mt][d][3] *= alpha[1];
                }
            }

            // O [WR × D] += P [WR × BN] · V_tile [BN × D]
#pragma unroll
            for (int ks = 0; ks < BN / 16; ks++) {
#pragma unroll
                for (int d2 = 0; d2 < D / 16; d2++) {
                    uint32_t b[4];
                    ldmatrix_x4_trans(b, cV + swz<D>(ks * 16 + (lane & 7) + (((lane >> 3) & 1) << 3), d2 * 2 + (lane >> 4)));
#pragma unroll
                    for (int mt = 0; mt < MT; mt++) {
                        mma16816<T>(o[mt][2 * d2], pf[mt][ks], b[0], b[1]);
                        mma16816<T>(o[mt][2 * d2 + 1], pf[mt][ks], b[2], b[3]);
                    }
                }
            }
        }
        __syncthreads();  // this stage is refilled two iterations on
    }

    // Normalise, stage the warp's rows in its own part of sQ, store 16-byte chunks.
    unsigned char *sq = smem;
#pragma unroll
    for (int mt = 0; mt < MT; mt++) {
        float inv[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            float L = l_r[mt][r];
            L += __shfl_xor_sync(0xffffffffu, L, 1);
            L += __shfl_xor_sync(0xffffffffu, L, 2);
            inv[r] = 1.0f / L;
        }
        const int r0 = wrow + mt * 16 + g;
#pragma unroll
        for (int d = 0; d < D / 8; d++) {
            *(uint32_t *)(sq + swz<D>(r0, d) + 4 * t4) = pack2<T>(o[mt][d][0] * inv[0], o[mt][d][1] * inv[0]);
            *(uint32_t *)(sq + swz<D>(r0 + 8, d) + 4 * t4) = pack2<T>(o[mt][d][2] * inv[1], o[mt][d][3] * inv[1]);
        }
    }
    __syncwarp();
    constexpr int CH = D / 8;
#pragma unroll
    for (int i = lane; i < WR * CH; i += 32) {
        const int r = i / CH, c = i % CH, qi = wq_lo + r;
        if (qi < se)
            *(uint4 *)(out + (int64_t)qi * ldo + (int64_t)head * D + c * 8) = *(const uint4 *)(sq + swz<D>(wrow + r, c));
    }
}

// Tile shapes (m-tiles per warp, keys per tile); XFWD_ATTN_VARIANT picks one for experiments.
static const struct { int mt, bn; } variants[] = {{2, 64}, {1, 64}, {2, 32}};
static int variant = 0;

static size_t mma_smem_bytes(int D, int mt, int bn) { return (size_t)(MMA_WARPS * 16 * mt + 4 * bn) * D * 2; }

template <typename T, int D, int MT, int BN>
static xf_status launch_mma(cudaStream_t s, const void *q, int ldq, const void *k, int ldk, const void *v, int ldv,
                            void *out, int ldo, const xfc_tile *tiles, int n_tiles, int nh, int nkv,
                            float scale_log2) {
    attn_mma_kernel<T, D, MT, BN><<<(unsigned)((int64_t)n_tiles * nh), MMA_WARPS * 32, mma_smem_bytes(D, MT, BN), s>>>(
        (const T *)q, ldq, (const T *)k, ldk, (const T *)v, ldv, (T *)out, ldo, tiles, nh, nh / nkv, scale_log2);
    XFC_LAUNCH_CHECK("attention_mma");
    return XF_OK;
}

template <typename T, int D>
static xf_status launch_variant(cudaStream_t s, const void *q, int ldq, const void *k, int ldk, const void *v,
                                int ldv, void *out, int ldo, const xfc_tile *tiles, int n_tiles, int nh, int nkv,
                                float scale_log2) {
    switch (variant) {
    case 1: return launch_mma<T, D, 1, 64>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2);
    case 2: return launch_mma<T, D, 2, 32>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2);
    default: return launch_mma<T, D, 2, 64>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2);
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
                                   int nh, int nkv, int D) {
    if (n_tiles <= 0) return XF_OK;
    if (nkv <= 0 || nh % nkv)
        return xf_error(XF_ERR_INVALID_ARG, "cuda: %d query heads are not a multiple of %d kv heads", nh, nkv);
    const float scale_log2 = (float)(1.4426950408889634 / sqrt((double)D));
    if (mma_ok(type, D, ldq, ldk, ldv, ldo, q, k, v, out)) {
        if (type == XFC_BF16 && D == 64)
            return launch_variant<__nv_bfloat16, 64>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2);
        if (type == XFC_BF16)
            return launch_variant<__nv_bfloat16, 128>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2);
        if (D == 64)
            return launch_variant<__half, 64>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2);
        return launch_variant<__half, 128>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, scale_log2);
    }
    return xfc_attention_generic(s, type, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, D, scale_log2);
}

template <typename T, int D, int MT, int BN>
static cudaError_t set_smem() {
    return cudaFuncSetAttribute(attn_mma_kernel<T, D, MT, BN>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                (int)mma_smem_bytes(D, MT, BN));
}

template <typename T, int D>
static cudaError_t set_smem_all() {
    cudaError_t e = set_smem<T, D, 2, 64>();
    if (!e) e = set_smem<T, D, 1, 64>();
    if (!e) e = set_smem<T, D, 2, 32>();
    return e;
}

extern "C" xf_status xfc_kernels_init(void) {
    const char *env = getenv("XFWD_ATTN_VARIANT");  // experiments only; 0 is the default
    const int want = env ? atoi(env) : 0;
    variant = want >= 0 && want < (int)(sizeof variants / sizeof variants[0]) ? want : 0;
    cudaError_t e = set_smem_all<__nv_bfloat16, 128>();
    if (!e) e = set_smem_all<__half, 128>();
    if (!e) e = set_smem_all<__nv_bfloat16, 64>();
    if (!e) e = set_smem_all<__half, 64>();
    if (e) return xf_error(XF_ERR_DEVICE, "cuda: setting attention shared memory: %s", cudaGetErrorString(e));
    return xfc_attention_generic_init();
}
