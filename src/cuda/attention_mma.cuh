// attention_mma.cuh — the mma.sync (m16n8k16) flash-attention kernels and their
// device helpers (cp.async, ldmatrix, swizzled tiles): attn_mma_kernel and
// attn_fa2_kernel. Included once, by attention.cu, whose header comment describes
// the kernels; kept apart only so each file stays readable in one sitting.
#ifndef XF_CUDA_ATTENTION_MMA_CUH
#define XF_CUDA_ATTENTION_MMA_CUH

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
                    float scale_log2, int full, int window) {
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
    int kv_first, n_kv;                     // the key tiles the tile's queries see
    attn_key_tiles(q0, q_hi, ss, se, full, window, BN, kv_first, n_kv);
    const int wrow = warp * WR;             // first row of this warp in the tile
    const int wq_lo = q0 + wrow, wq_hi = wq_lo + WR - 1;
    // Keys seen by the warp's first and last rows: a key tile inside [lo_last, hi_first]
    // needs no mask; one outside [lo_first, hi_last] is skipped.
    int lo_first, hi_first, lo_last, hi_last;
    attn_row_keys(wq_lo, ss, se, full, window, lo_first, hi_first);
    attn_row_keys(wq_hi, ss, se, full, window, lo_last, hi_last);

    load_tile<D, BM, NT>(sQ, qb, ldq, q0, se, tid);
    load_tile<D, BN, NT>(sK, kb, ldk, kv_first, se, tid);
    load_tile<D, BN, NT>(sV, vb, ldv, kv_first, se, tid);
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
        const int kv0 = kv_first + j * BN;
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
        // A warp whose rows see no key of this tile has nothing to do here.
        if (kv0 <= hi_last && kv0 + BN - 1 >= lo_first) {
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

            // Scale into the log2 domain, mask (the rows' key ranges, sequence end), online softmax.
            uint32_t pf[MT][BN / 16][4];
            const bool need_mask = kv0 + BN - 1 > hi_first || kv0 < lo_last || kv0 + BN > se;
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                const int qrow = wq_lo + mt * 16 + g;  // this thread's query rows: qrow, qrow + 8
                int lo[2], hi[2];
                attn_row_keys(qrow, ss, se, full, window, lo[0], hi[0]);
                attn_row_keys(qrow + 8, ss, se, full, window, lo[1], hi[1]);
                float mx[2] = {m_r[mt][0], m_r[mt][1]};
#pragma unroll
                for (int n = 0; n < BN / 8; n++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        float x = sacc[mt][n][e] * scale_log2;
                        if (need_mask) {
                            const int key = kv0 + n * 8 + 2 * t4 + (e & 1);
                            if (key > hi[e >> 1] || key < lo[e >> 1]) x = -INFINITY;
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

// 2^x on the special-function unit (flushes results below 2^-126 to zero, -inf -> 0).
__device__ __forceinline__ float ex2(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}

// FlashAttention-2-style variant: 4 warps × 16 query rows (BM = 64), BN keys per
// tile, each warp's O [16 × D] in fp32 registers. QREG: the warp's Q fragments are
// read from shared memory once and kept in registers (D/4 registers); otherwise
// they are re-read with ldmatrix for every K tile. STAGES = 2: K and V tiles
// double-buffered, the next pair loading while this one is used (Q staged in the
// second stage first); STAGES = 1: one K and one V buffer, V_j loading during
// S = Q·K_jᵀ and K_{j+1} during O += P·V_j (FlashAttention-2's order). The max is
// tracked on raw scores; exp2(s·c − m·c) is one FFMA + ex2. Only the tiles that
// cross an edge of the rows' key ranges (the diagonal, a window's left edge) or the
// sequence end are masked.
template <typename T, int D, int BN, bool QREG, int STAGES>
__global__ void __launch_bounds__(MMA_WARPS * 32, QREG ? 3 : 4)
    attn_fa2_kernel(const T *__restrict__ q, int ldq, const T *__restrict__ k, int ldk, const T *__restrict__ v,
                    int ldv, T *__restrict__ out, int ldo, const xfc_tile *__restrict__ tiles, int nh, int group,
                    float scale_log2, int full, int window) {
    constexpr int BM = MMA_WARPS * 16, NT = MMA_WARPS * 32;
    constexpr int TILE_BYTES = BN * D * 2;
    static_assert(!QREG || BM <= BN * (STAGES == 2 ? 2 : 1), "Q is staged in a K/V buffer");
    static_assert(QREG || STAGES == 1, "two stages leave no room for Q in shared memory");
    static_assert(BM <= BN, "the output is staged in the V buffer");
    extern __shared__ __align__(128) unsigned char smem[];
    const uint32_t s0 = smem_addr(smem);
    // STAGES 2: [K0][V0][K1][V1], Q staged at K1.  STAGES 1: [K][V] (+[Q] unless QREG), Q staged at V.
    const uint32_t sK = s0, sV = s0 + TILE_BYTES;
    const uint32_t sQ = STAGES == 2 ? s0 + 2 * TILE_BYTES : (QREG ? sV : s0 + 2 * TILE_BYTES);

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
    int kv_first, n_kv;                     // the key tiles the tile's queries see
    attn_key_tiles(q0, q_hi, ss, se, full, window, BN, kv_first, n_kv);
    const int wrow = warp * 16;
    const int wq_lo = q0 + wrow, wq_hi = wq_lo + 15;
    int lo_first, hi_first, lo_last, hi_last;  // keys of the warp's first and last rows (as attn_mma_kernel)
    attn_row_keys(wq_lo, ss, se, full, window, lo_first, hi_first);
    attn_row_keys(wq_hi, ss, se, full, window, lo_last, hi_last);
    const float c = scale_log2;

    load_tile<D, BM, NT>(sQ, qb, ldq, q0, se, tid);
    load_tile<D, BN, NT>(sK, kb, ldk, kv_first, se, tid);
    if (STAGES == 2) load_tile<D, BN, NT>(sV, vb, ldv, kv_first, se, tid);
    cp_async_commit();

    uint32_t qf[QREG ? D / 16 : 1][4];
    if (QREG) {
        cp_async_wait<0>();
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < (QREG ? D / 16 : 1); kk++)
            ldmatrix_x4(qf[kk], sQ + swz<D>(wrow + (lane & 15), kk * 2 + (lane >> 4)));
        __syncthreads();  // the staging buffer is refilled next
    }

    float o[D / 8][4];
    float m_r[2] = {-INFINITY, -INFINITY}, l_r[2] = {0.0f, 0.0f};
#pragma unroll
    for (int d = 0; d < D / 8; d++) o[d][0] = o[d][1] = o[d][2] = o[d][3] = 0.0f;

    for (int j = 0; j < n_kv; j++) {
        const int kv0 = kv_first + j * BN;
        uint32_t cK, cV;
        if (STAGES == 2) {
            if (j + 1 < n_kv) {
                const uint32_t st = ((j + 1) & 1) * 2 * TILE_BYTES;
                load_tile<D, BN, NT>(sK + st, kb, ldk, kv0 + BN, se, tid);
                load_tile<D, BN, NT>(sV + st, vb, ldv, kv0 + BN, se, tid);
                cp_async_commit();
                cp_async_wait<1>();
            } else {
                cp_async_wait<0>();
            }
            __syncthreads();
            cK = sK + (j & 1) * 2 * TILE_BYTES, cV = sV + (j & 1) * 2 * TILE_BYTES;
        } else {
            cp_async_wait<0>();  // K_j (and Q)
            __syncthreads();     // K_j visible; every warp is done with V_{j-1}
            load_tile<D, BN, NT>(sV, vb, ldv, kv0, se, tid);
            cp_async_commit();
            cK = sK, cV = sV;
        }
        const bool active = kv0 <= hi_last && kv0 + BN - 1 >= lo_first;  // rows of this warp see keys of the tile
        uint32_t pf[BN / 16][4];
        if (active) {
            // S [16 × BN] = Q_warp · K_tileᵀ
            float sacc[BN / 8][4];
#pragma unroll
            for (int n = 0; n < BN / 8; n++) sacc[n][0] = sacc[n][1] = sacc[n][2] = sacc[n][3] = 0.0f;
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                uint32_t a[4];
                if (QREG) {
                    a[0] = qf[QREG ? kk : 0][0], a[1] = qf[QREG ? kk : 0][1];
                    a[2] = qf[QREG ? kk : 0][2], a[3] = qf[QREG ? kk : 0][3];
                } else {
                    ldmatrix_x4(a, sQ + swz<D>(wrow + (lane & 15), kk * 2 + (lane >> 4)));
                }
#pragma unroll
                for (int n2 = 0; n2 < BN / 16; n2++) {
                    uint32_t b[4];
                    ldmatrix_x4(b, cK + swz<D>(n2 * 16 + (lane & 7) + ((lane >> 4) << 3), kk * 2 + ((lane >> 3) & 1)));
                    mma16816<T>(sacc[2 * n2], a, b[0], b[1]);
                    mma16816<T>(sacc[2 * n2 + 1], a, b[2], b[3]);
                }
            }
            // Mask (tiles crossing a row's key range or the sequence end only), online softmax on raw scores.
            if (kv0 + BN - 1 > hi_first || kv0 < lo_last || kv0 + BN > se) {
                int lo[2], hi[2];
                attn_row_keys(wq_lo + g, ss, se, full, window, lo[0], hi[0]);
                attn_row_keys(wq_lo + g + 8, ss, se, full, window, lo[1], hi[1]);
#pragma unroll
                for (int n = 0; n < BN / 8; n++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const int key = kv0 + n * 8 + 2 * t4 + (e & 1);
                        if (key > hi[e >> 1] || key < lo[e >> 1]) sacc[n][e] = -INFINITY;
                    }
            }
            float mx[2] = {m_r[0], m_r[1]};
#pragma unroll
            for (int n = 0; n < BN / 8; n++) {
                mx[0] = fmaxf(mx[0], fmaxf(sacc[n][0], sacc[n][1]));
                mx[1] = fmaxf(mx[1], fmaxf(sacc[n][2], sacc[n][3]));
            }
            float nb[2], alpha[2], rs[2] = {0.0f, 0.0f};
#pragma unroll
            for (int r = 0; r < 2; r++) {
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
                mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
                nb[r] = mx[r] == -INFINITY ? 0.0f : -mx[r] * c;  // exponent offset
                alpha[r] = ex2(fmaf(m_r[r], c, nb[r]));
                m_r[r] = mx[r];
            }
#pragma unroll
            for (int ks = 0; ks < BN / 16; ks++) {
                float p[2][4];
#pragma unroll
                for (int h = 0; h < 2; h++)
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        p[h][e] = ex2(fmaf(sacc[2 * ks + h][e], c, nb[e >> 1]));
                        rs[e >> 1] += p[h][e];
                    }
                pf[ks][0] = pack2<T>(p[0][0], p[0][1]);
                pf[ks][1] = pack2<T>(p[0][2], p[0][3]);
                pf[ks][2] = pack2<T>(p[1][0], p[1][1]);
                pf[ks][3] = pack2<T>(p[1][2], p[1][3]);
            }
#pragma unroll
            for (int r = 0; r < 2; r++) l_r[r] = l_r[r] * alpha[r] + rs[r];
#pragma unroll
            for (int d = 0; d < D / 8; d++) {
                o[d][0] *= alpha[0], o[d][1] *= alpha[0];
                o[d][2] *= alpha[1], o[d][3] *= alpha[1];
            }
        }
        if (STAGES == 1) {
            cp_async_wait<0>();  // V_j
            __syncthreads();     // V_j visible; every warp is done with K_j
            if (j + 1 < n_kv) {
                load_tile<D, BN, NT>(sK, kb, ldk, kv0 + BN, se, tid);
                cp_async_commit();
            }
        }
        if (active) {
            // O [16 × D] += P [16 × BN] · V_tile [BN × D]
#pragma unroll
            for (int ks = 0; ks < BN / 16; ks++) {
#pragma unroll
                for (int d2 = 0; d2 < D / 16; d2++) {
                    uint32_t b[4];
                    ldmatrix_x4_trans(b, cV + swz<D>(ks * 16 + (lane & 7) + (((lane >> 3) & 1) << 3), d2 * 2 + (lane >> 4)));
                    mma16816<T>(o[2 * d2], pf[ks], b[0], b[1]);
                    mma16816<T>(o[2 * d2 + 1], pf[ks], b[2], b[3]);
                }
            }
        }
        if (STAGES == 2) __syncthreads();  // this stage is refilled two iterations on
    }
    if (STAGES == 1) __syncthreads();  // every warp is done with V before it stages output there

    // Normalise, stage the warp's 16 rows in its own rows of the V buffer, store 16-byte chunks.
    unsigned char *so = smem + TILE_BYTES;
    float inv[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        float L = l_r[r];
        L += __shfl_xor_sync(0xffffffffu, L, 1);
        L += __shfl_xor_sync(0xffffffffu, L, 2);
        inv[r] = 1.0f / L;
    }
    const int r0 = wrow + g;
#pragma unroll
    for (int d = 0; d < D / 8; d++) {
        *(uint32_t *)(so + swz<D>(r0, d) + 4 * t4) = pack2<T>(o[d][0] * inv[0], o[d][1] * inv[0]);
        *(uint32_t *)(so + swz<D>(r0 + 8, d) + 4 * t4) = pack2<T>(o[d][2] * inv[1], o[d][3] * inv[1]);
    }
    __syncwarp();
    constexpr int CH = D / 8;
#pragma unroll
    for (int i = lane; i < 16 * CH; i += 32) {
        const int r = i / CH, cc = i % CH, qi = wq_lo + r;
        if (qi < se)
            *(uint4 *)(out + (int64_t)qi * ldo + (int64_t)head * D + cc * 8) = *(const uint4 *)(so + swz<D>(wrow + r, cc));
    }
}


#endif  // XF_CUDA_ATTENTION_MMA_CUH
