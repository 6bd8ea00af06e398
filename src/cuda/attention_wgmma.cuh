// attention_wgmma.cuh — the Hopper (sm_90a) wgmma flash-attention kernel
// attn_wgg_kernel (one to four query heads of one GQA group per block). Included
// once, by attention.cu, after attention_mma.cuh, whose helpers and softmax it
// shares.
#ifndef XF_CUDA_ATTENTION_WGMMA_CUH
#define XF_CUDA_ATTENTION_WGMMA_CUH

// ---------------------------------------------------------------- Hopper wgmma variant
// One warpgroup (4 warps) per 64 queries of a head, head_dim 128, 64-key tiles.
// S [64 × 64] = Q·Kᵀ and O [64 × 128] += P·V on wgmma (sm_90a): S with both operands
// in shared memory, O with A (P) from registers, B (K, V) through matrix descriptors;
// accumulator fragments have mma.sync's layout per warp (warp w: rows 16w..16w+15),
// so the softmax is the one above. Tiles are stored as two 64-column halves of
// [rows][64] with the 128-byte swizzle (16-byte chunk c of row r at c ^ (r & 7)),
// 1024-byte aligned. K is B in K-major order (no transpose); V is B in MN-major
// order (transposed): LBO = the stride between its 64-column halves, SBO = between
// groups of 8 keys (the other assignment was measured wrong).
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define XFC_HAVE_WGMMA 1
#endif

template <int TNSPB> __device__ __forceinline__ void wgmma_m64n128(float (&d)[64], const uint32_t a[4], uint64_t desc, int scale_d, __nv_bfloat16 *) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
        "{"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
        "}, {%64, %65, %66, %67}, %68, p, 1, 1, %70;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(scale_d), "n"(TNSPB));
}
template <int TNSPB> __device__ __forceinline__ void wgmma_m64n128(float (&d)[64], const uint32_t a[4], uint64_t desc, int scale_d, __half *) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %69, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 "
        "{"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63"
        "}, {%64, %65, %66, %67}, %68, p, 1, 1, %70;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(desc), "r"(scale_d), "n"(TNSPB));
}

__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_wait0() { asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory"); }
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
// Keeps the compiler from moving reads of accumulators across wgmma_wait0.
template <int N> __device__ __forceinline__ void reg_fence(float (&d)[N]) {
#pragma unroll
    for (int i = 0; i < N; i++) asm volatile("" : "+f"(d[i])::"memory");
}

// Shared-memory matrix descriptor, 128-byte swizzle.
__device__ __forceinline__ uint64_t gmma_desc(uint32_t addr, uint32_t lbo, uint32_t sbo) {
    return (uint64_t)((addr & 0x3FFFF) >> 4) | ((uint64_t)(lbo >> 4) << 16) | ((uint64_t)(sbo >> 4) << 32) |
           (1ull << 62);
}

// Byte offset of 16-byte chunk cc (of D/8) of row r in a [ROWS][D] tile stored as 64-column halves.
template <int ROWS> __device__ __forceinline__ uint32_t swz128(int r, int cc) {
    return (uint32_t)((cc >> 3) * ROWS * 128 + r * 128 + (((cc & 7) ^ (r & 7)) << 4));
}

template <int D, int ROWS, int NT, typename T>
__device__ __forceinline__ void load_tile128(uint32_t dst, const T *base, int ld, int row0, int end, int tid) {
    constexpr int CH = D / 8;
#pragma unroll
    for (int i = tid; i < ROWS * CH; i += NT) {
        const int r = i / CH, cc = i % CH;
        const bool ok = row0 + r < end;
        const T *src = ok ? base + (int64_t)(row0 + r) * ld + cc * 8 : base;
        cp_async16(dst + swz128<ROWS>(r, cc), src, ok ? 16 : 0);
    }
}


// NWG warpgroups per block (1, 2 or 4), warpgroup w on query head h0 + w, the NWG
// heads sharing one kv head (NWG divides the GQA group), so each K/V tile read from
// memory serves NWG × 64 query rows. Q stays in shared memory ([NWG][64][128], the
// same swizzled halves) and S = Q·Kᵀ reads both operands through descriptors, which
// keeps the registers under 65536 / threads. Layout: [Q_0 .. Q_{NWG-1}][K0][V0][K1][V1].
__device__ __forceinline__ void wgmma_ss_m64n64(float (&d)[32], uint64_t da, uint64_t db, int scale_d, __nv_bfloat16 *) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
        "{"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
        "}, %32, %33, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "l"(da), "l"(db), "r"(scale_d));
}
__device__ __forceinline__ void wgmma_ss_m64n64(float (&d)[32], uint64_t da, uint64_t db, int scale_d, __half *) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
        "{"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
        "}, %32, %33, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "l"(da), "l"(db), "r"(scale_d));
}

template <typename T, int NWG>
__global__ void __launch_bounds__(NWG * 128, NWG == 4 ? 1 : 2)
    attn_wgg_kernel(const T *__restrict__ q, int ldq, const T *__restrict__ k, int ldk, const T *__restrict__ v,
                    int ldv, T *__restrict__ out, int ldo, const xfc_tile *__restrict__ tiles, int nh, int group,
                    float scale_log2, int full, int window) {
#if defined(XFC_HAVE_WGMMA)
    constexpr int D = 128, BM = 64, BN = 64, NT = NWG * 128;
    constexpr int TILE_BYTES = BN * D * 2;  // 16 KB
    extern __shared__ __align__(128) unsigned char smem_raw[];
    const uint32_t s0 = (smem_addr(smem_raw) + 1023u) & ~1023u;
    unsigned char *smem = smem_raw + (s0 - smem_addr(smem_raw));
    const uint32_t sQ = s0, sK = s0 + NWG * BM * D * 2, sV = sK + TILE_BYTES;

    const int nhb = nh / NWG;
    const xfc_tile tile = tiles[blockIdx.x / nhb];
    if (tile.q0 < 0) return;
    const int tid = threadIdx.x, wg = tid >> 7, warp = (tid >> 5) & 3, lane = tid & 31;
    const int head = (blockIdx.x % nhb) * NWG + wg;
    const int q0 = tile.q0, ss = tile.ss, se = tile.se;
    const T *kb = k + (int64_t)(head / group) * D;  // the same for every warpgroup
    const T *vb = v + (int64_t)(head / group) * D;
    const int g = lane >> 2, t4 = lane & 3;
    const int q_hi = min(q0 + BM, se) - 1;
    int kv_first, n_kv;  // the key tiles the tile's queries see
    attn_key_tiles(q0, q_hi, ss, se, full, window, BN, kv_first, n_kv);
    // a key tile inside [lo_last, hi_first] (the last row's first key, the first row's last
    // key: attn_row_keys) needs no mask
    const int hi_first = full ? se - 1 : min(q0, se - 1);
    const int lo_last = window > 0 ? q0 + BM - window : ss;
    const int wrow = warp * 16;
    const int wq_lo = q0 + wrow;
    const float c = scale_log2;
    const uint32_t myQ = sQ + wg * BM * D * 2;

    // Q of every head of the block (warpgroup w copies its own head), the first K/V tile.
    load_tile128<D, BM, 128>(myQ, q + (int64_t)head * D, ldq, q0, se, tid & 127);
    load_tile128<D, BN, NT>(sK, kb, ldk, kv_first, se, tid);
    load_tile128<D, BN, NT>(sV, vb, ldv, kv_first, se, tid);
    cp_async_commit();

    float o[D / 2];
    float m_r[2] = {-INFINITY, -INFINITY}, l_r[2] = {0.0f, 0.0f};
#pragma unroll
    for (int i = 0; i < D / 2; i++) o[i] = 0.0f;

    for (int j = 0; j < n_kv; j++) {
        const int kv0 = kv_first + j * BN;
        if (j + 1 < n_kv) {
            const uint32_t st = ((j + 1) & 1) * 2 * TILE_BYTES;
            load_tile128<D, BN, NT>(sK + st, kb, ldk, kv0 + BN, se, tid);
            load_tile128<D, BN, NT>(sV + st, vb, ldv, kv0 + BN, se, tid);
            cp_async_commit();
            cp_async_wait<1>();
        } else {
            cp_async_wait<0>();
        }
        fence_proxy_async();
        __syncthreads();
        const uint32_t cK = sK + (j & 1) * 2 * TILE_BYTES, cV = sV + (j & 1) * 2 * TILE_BYTES;

        float sacc[BN / 2];
#pragma unroll
        for (int i = 0; i < BN / 2; i++) sacc[i] = 0.0f;
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < D / 16; kk++) {
            const uint32_t off = (kk >> 2) * 64 * 128 + (kk & 3) * 32;  // both tiles have 64 rows
            wgmma_ss_m64n64(sacc, gmma_desc(myQ + off, 16, 1024), gmma_desc(cK + off, 16, 1024), 1, (T *)nullptr);
        }
        wgmma_commit();
        wgmma_wait0();
        reg_fence(sacc);

        if (kv0 + BN - 1 > hi_first || kv0 < lo_last || kv0 + BN > se) {
            int lo[2], hi[2];
            attn_row_keys(wq_lo + g, ss, se, full, window, lo[0], hi[0]);
            attn_row_keys(wq_lo + g + 8, ss, se, full, window, lo[1], hi[1]);
#pragma unroll
            for (int n = 0; n < BN / 8; n++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int key = kv0 + n * 8 + 2 * t4 + (e & 1);
                    if (key > hi[e >> 1] || key < lo[e >> 1]) sacc[4 * n + e] = -INFINITY;
                }
        }
        float mx[2] = {m_r[0], m_r[1]};
#pragma unroll
        for (int n = 0; n < BN / 8; n++) {
            mx[0] = fmaxf(mx[0], fmaxf(sacc[4 * n + 0], sacc[4 * n + 1]));
            mx[1] = fmaxf(mx[1], fmaxf(sacc[4 * n + 2], sacc[4 * n + 3]));
        }
        float nb[2], alpha[2], rs[2] = {0.0f, 0.0f};
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
            mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
            nb[r] = mx[r] == -INFINITY ? 0.0f : -mx[r] * c;
            alpha[r] = ex2(fmaf(m_r[r], c, nb[r]));
            m_r[r] = mx[r];
        }
        uint32_t pf[BN / 16][4];
#pragma unroll
        for (int ks = 0; ks < BN / 16; ks++) {
            float p[2][4];
#pragma unroll
            for (int h = 0; h < 2; h++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    p[h][e] = ex2(fmaf(sacc[4 * (2 * ks + h) + e], c, nb[e >> 1]));
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
            o[4 * d + 0] *= alpha[0], o[4 * d + 1] *= alpha[0];
            o[4 * d + 2] *= alpha[1], o[4 * d + 3] *= alpha[1];
        }

        wgmma_fence();
#pragma unroll
        for (int ks = 0; ks < BN / 16; ks++)
            wgmma_m64n128<1>(o, pf[ks], gmma_desc(cV + ks * 16 * 128, 64 * 128, 1024), 1, (T *)nullptr);
        wgmma_commit();
        wgmma_wait0();
        reg_fence(o);
        __syncthreads();  // this stage is refilled two iterations on
    }

    // Normalise, stage the warp's 16 rows in its own warpgroup's Q tile, store 16-byte chunks.
    unsigned char *so = smem + wg * BM * D * 2;
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
        *(uint32_t *)(so + swz<D>(r0, d) + 4 * t4) = pack2<T>(o[4 * d + 0] * inv[0], o[4 * d + 1] * inv[0]);
        *(uint32_t *)(so + swz<D>(r0 + 8, d) + 4 * t4) = pack2<T>(o[4 * d + 2] * inv[1], o[4 * d + 3] * inv[1]);
    }
    __syncwarp();
    constexpr int CH = D / 8;
#pragma unroll
    for (int i = lane; i < 16 * CH; i += 32) {
        const int r = i / CH, cc = i % CH, qi = wq_lo + r;
        if (qi < se)
            *(uint4 *)(out + (int64_t)qi * ldo + (int64_t)head * D + cc * 8) = *(const uint4 *)(so + swz<D>(wrow + r, cc));
    }
#endif
}
static size_t wgg_smem_bytes(int nwg) { return (size_t)(nwg * 64 + 4 * 64) * 128 * 2 + 1024; }

#endif  // XF_CUDA_ATTENTION_WGMMA_CUH
