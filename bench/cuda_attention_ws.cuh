// cuda_attention_ws.cuh — the warp-specialised Hopper (sm_90a) flash-attention kernel
// attn_ws_kernel: head_dim 128, two query heads of one GQA group per block. An experiment
// measured by bench/cuda_attention.cu (variants 9–12; numbers in bench/cuda-notes.md): correct,
// but slower than the library's 4-head wgmma kernel, so the library does not carry it.
// Included after src/cuda/attention_wgmma.cuh, whose wgmma wrappers, descriptors and tile
// loader it uses.
//
// A block is three warpgroups. Warpgroup 0 only loads: Q of both heads once, then the
// K/V tiles of 64 keys into a ring of WS_STAGES stages with cp.async (rows past the
// sequence end zero-filled, as in every other kernel here), each thread's copies
// signalling the stage's "full" mbarrier when they land (cp.async.mbarrier.arrive.noinc).
// It gives its registers back (setmaxnreg) to warpgroups 1 and 2, one query head each
// (64 rows), which run the flash loop with the matrix multiplies in flight while the
// softmax runs:
//   issue S_j = Q·K_jᵀ; issue O += P_{j-1}·V_{j-1}; wait for S_j; softmax of S_j in
//   place (O and the P_{j-1} fragments untouched: the second product still reads them);
//   wait for it; release stage j-1 (its "empty" mbarrier); O *= exp(m_{j-1} - m_j);
//   pack P_j into the fragments.
// So the tensor cores work on P·V during the exponentials. With PINGPONG the two
// consumer warpgroups also take turns issuing their products (named barriers 1 and 2),
// so one warpgroup's softmax runs beside the other's matrix multiplies.
// Accumulator layout, masking, the output staging and the 128-byte-swizzled halves are
// those of attn_wgg_kernel.
#ifndef XF_BENCH_CUDA_ATTENTION_WS_CUH
#define XF_BENCH_CUDA_ATTENTION_WS_CUH

// stages of the K/V ring: 4 of 64 keys or 2 of 128 (160 KB of shared memory with Q)
#define WS_STAGES(BN) ((BN) == 128 ? 2 : 4)

// d [64 × 128] (+)= A [64 × 16] · B [128 × 16]ᵀ, both operands K-major in shared memory
// (one definition per 16-bit type: the type is part of the instruction).
#define XFC_WGMMA_SS_M64N128(CT, PTX)                                                                        \
    __device__ __forceinline__ void wgmma_ss_m64n128(float (&d)[64], uint64_t da, uint64_t db, int scale_d, CT *) { \
        asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                             \
                     "wgmma.mma_async.sync.aligned.m64n128k16.f32." PTX "." PTX " "                            \
                     "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "                  \
                     "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "         \
                     "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "         \
                     "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "        \
                     "%64, %65, p, 1, 1, 0, 0;\n}\n"                                                          \
                     : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])        \
                     : "l"(da), "l"(db), "r"(scale_d));                                                          \
    }
XFC_WGMMA_SS_M64N128(__nv_bfloat16, "bf16")
XFC_WGMMA_SS_M64N128(__half, "f16")
#undef XFC_WGMMA_SS_M64N128

__device__ __forceinline__ void mbar_init(uint32_t bar, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
// Spins until the phase with the given parity of the barrier has completed.
__device__ __forceinline__ void mbar_wait(uint32_t bar, int parity) {
    asm volatile(
        "{\n.reg .pred done;\n"
        "WS_AGAIN:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
        "@!done bra WS_AGAIN;\n"
        "}\n" ::"r"(bar),
        "r"(parity)
        : "memory");
}
__device__ __forceinline__ void mbar_arrive(uint32_t bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Arrives on the barrier once every cp.async this thread issued before has landed.
__device__ __forceinline__ void mbar_arrive_cp_async(uint32_t bar) {
    asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void named_sync(int id, int n) { asm volatile("bar.sync %0, %1;\n" ::"r"(id), "r"(n) : "memory"); }
__device__ __forceinline__ void named_arrive(int id, int n) { asm volatile("bar.arrive %0, %1;\n" ::"r"(id), "r"(n) : "memory"); }
template <int N> __device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }

static size_t ws_smem_bytes(int bn) { return (size_t)(2 * 64 + 2 * WS_STAGES(bn) * bn) * 128 * 2 + 1024; }

// What a consumer thread needs to mask its two rows (g and g + 8 of its warp's 16).
struct ws_rows {
    int lo0, lo1, hi0, hi1, hi_first, lo_last, se, t4;
};

// S [64 × BN] = Q·Kᵀ for one warpgroup: issued and committed, not waited for.
template <typename T, int BN> __device__ __forceinline__ void ws_scores(float (&sacc)[BN / 2], uint32_t sq, uint32_t sk) {
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < 8; kk++) {
        const uint32_t oq = (kk >> 2) * 64 * 128 + (kk & 3) * 32, ok = (kk >> 2) * BN * 128 + (kk & 3) * 32;
        if constexpr (BN == 128)
            wgmma_ss_m64n128(sacc, gmma_desc(sq + oq, 16, 1024), gmma_desc(sk + ok, 16, 1024), kk > 0, (T *)nullptr);
        else
            wgmma_ss_m64n64(sacc, gmma_desc(sq + oq, 16, 1024), gmma_desc(sk + ok, 16, 1024), kk > 0, (T *)nullptr);
    }
    wgmma_commit();
}

// O [64 × 128] += P [64 × BN] · V: issued and committed, not waited for.
template <typename T, int BN>
__device__ __forceinline__ void ws_pv(float (&o)[64], const uint32_t (&pf)[BN / 16][4], uint32_t sv) {
    wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < BN / 16; ks++)
        wgmma_m64n128<1>(o, pf[ks], gmma_desc(sv + ks * 16 * 128, BN * 128, 1024), 1, (T *)nullptr);
    wgmma_commit();
}

// Online softmax of one 64-key tile of scores (first key kv0), in place: masks the tiles
// that cross an edge, updates the running max, gives the rescale factors and row sums
// and leaves the probabilities in sacc.
template <typename T, int BN>
__device__ __forceinline__ void ws_softmax(float (&sacc)[BN / 2], int kv0, const ws_rows &w, float c, float (&m_r)[2],
                                           float (&alpha)[2], float (&rs)[2]) {
    if (kv0 + BN - 1 > w.hi_first || kv0 < w.lo_last || kv0 + BN > w.se) {
#pragma unroll
        for (int n = 0; n < BN / 8; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const int key = kv0 + n * 8 + 2 * w.t4 + (e & 1);
                const int hi = e >> 1 ? w.hi1 : w.hi0, lo = e >> 1 ? w.lo1 : w.lo0;
                if (key > hi || key < lo) sacc[4 * n + e] = -INFINITY;
            }
    }
    float mx[2] = {m_r[0], m_r[1]}, nb[2];
#pragma unroll
    for (int n = 0; n < BN / 8; n++) {
        mx[0] = fmaxf(mx[0], fmaxf(sacc[4 * n + 0], sacc[4 * n + 1]));
        mx[1] = fmaxf(mx[1], fmaxf(sacc[4 * n + 2], sacc[4 * n + 3]));
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
        mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
        nb[r] = mx[r] == -INFINITY ? 0.0f : -mx[r] * c;
        alpha[r] = ex2(fmaf(m_r[r], c, nb[r]));
        m_r[r] = mx[r];
        rs[r] = 0.0f;
    }
#pragma unroll
    for (int i = 0; i < BN / 2; i++) {
        sacc[i] = ex2(fmaf(sacc[i], c, nb[(i >> 1) & 1]));
        rs[(i >> 1) & 1] += sacc[i];
    }
}

// The probabilities as the A fragments of O += P·V (m64 k16 per fragment). Done only
// once no product is in flight: ptxas serialises every wgmma if the registers of a
// later product's operand are written while one runs.
template <typename T, int BN> __device__ __forceinline__ void ws_pack(const float (&p)[BN / 2], uint32_t (&pf)[BN / 16][4]) {
#pragma unroll
    for (int ks = 0; ks < BN / 16; ks++) {
        pf[ks][0] = pack2<T>(p[8 * ks + 0], p[8 * ks + 1]);
        pf[ks][1] = pack2<T>(p[8 * ks + 2], p[8 * ks + 3]);
        pf[ks][2] = pack2<T>(p[8 * ks + 4], p[8 * ks + 5]);
        pf[ks][3] = pack2<T>(p[8 * ks + 6], p[8 * ks + 7]);
    }
}

// One key tile j ≥ 1 of a consumer warpgroup: S_j and P_{j-1}·V_{j-1} issued together,
// the softmax of S_j while the second runs, then stage j-1 handed back and O rescaled.
template <typename T, bool PINGPONG, int BN>
__device__ __forceinline__ void ws_step(int j, float (&sacc)[BN / 2], float (&o)[64], uint32_t (&pf)[BN / 16][4], float (&m_r)[2], float (&l_r)[2], uint32_t sq,
                                        uint32_t skv, uint32_t full_bar, uint32_t empty_bar, int kv_first,
                                        const ws_rows &rows, float c, int cw, int lane) {
    constexpr uint32_t STAGE = 2 * BN * 128 * 2, TILE = BN * 128 * 2;
    constexpr int S = WS_STAGES(BN);
    const int s = j % S, sp = (j - 1) % S;
    float alpha[2], rs[2];
    mbar_wait(full_bar + 8 * s, (j / S) & 1);
    fence_proxy_async();
    if (PINGPONG) named_sync(1 + cw, 256);
    ws_scores<T, BN>(sacc, sq, skv + (uint32_t)s * STAGE);
    ws_pv<T, BN>(o, pf, skv + (uint32_t)sp * STAGE + TILE);
    if (PINGPONG) named_arrive(2 - cw, 256);
    wgmma_wait<1>();  // S_j is in; P_{j-1}·V_{j-1} may still run
    reg_fence(sacc);
    ws_softmax<T, BN>(sacc, kv_first + j * BN, rows, c, m_r, alpha, rs);
    wgmma_wait<0>();
    reg_fence(o);
    __syncwarp();
    if (lane == 0) mbar_arrive(empty_bar + 8 * sp);  // stage j-1 is read: the producer may refill it
#pragma unroll
    for (int r = 0; r < 2; r++) l_r[r] = l_r[r] * alpha[r] + rs[r];
#pragma unroll
    for (int d = 0; d < 16; d++) {
        o[4 * d + 0] *= alpha[0], o[4 * d + 1] *= alpha[0];
        o[4 * d + 2] *= alpha[1], o[4 * d + 3] *= alpha[1];
    }
    ws_pack<T, BN>(sacc, pf);
}

// The end of a consumer warpgroup: O / rowsum in 16-bit, each warp's 16 rows staged in so (the
// warpgroup's own Q tile, free once its last product has completed; the mma kernels' swizzle)
// and stored as 16-byte chunks of out's rows below se. (The library's wgmma kernel ends the
// same way, written inline: this copy keeps the experiment from touching the library's kernel.)
template <typename T>
__device__ __forceinline__ void ws_store_rows(const float (&o)[64], const float (&l_r)[2], unsigned char *so, T *out,
                                              int ldo, int head, int wrow, int wq_lo, int se, int lane) {
    constexpr int D = 128, CH = D / 8;
    const int g = lane >> 2, t4 = lane & 3;
    float inv[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const float L = l_r[r] + __shfl_xor_sync(0xffffffffu, l_r[r], 1);
        inv[r] = 1.0f / (L + __shfl_xor_sync(0xffffffffu, L, 2));
    }
#pragma unroll
    for (int d = 0; d < CH; d++)
#pragma unroll
        for (int h = 0; h < 2; h++)
            *(uint32_t *)(so + swz<D>(wrow + g + 8 * h, d) + 4 * t4) =
                pack2<T>(o[4 * d + 2 * h] * inv[h], o[4 * d + 2 * h + 1] * inv[h]);
    __syncwarp();
#pragma unroll
    for (int i = lane; i < 16 * CH; i += 32) {
        const int r = i / CH, cc = i % CH;
        if (wq_lo + r < se)
            *(uint4 *)(out + (int64_t)(wq_lo + r) * ldo + (int64_t)head * D + cc * 8) = *(const uint4 *)(so + swz<D>(wrow + r, cc));
    }
}

template <typename T, bool PINGPONG, int BN>
__global__ void __launch_bounds__(384, 1)
    attn_ws_kernel(const T *__restrict__ q, int ldq, const T *__restrict__ k, int ldk, const T *__restrict__ v,
                   int ldv, T *__restrict__ out, int ldo, const xfc_tile *__restrict__ tiles, int nh, int group,
                   float scale_log2, int full, int window) {
#if defined(XFC_HAVE_WGMMA)
    constexpr int D = 128, BM = 64, S = WS_STAGES(BN);
    constexpr uint32_t TILE_BYTES = BN * D * 2;  // 16 KB
    extern __shared__ __align__(128) unsigned char smem_raw[];
    __shared__ __align__(8) uint64_t bars[2 * S + 1];  // full[S], empty[S], Q
    const uint32_t s0 = (smem_addr(smem_raw) + 1023u) & ~1023u;
    unsigned char *smem = smem_raw + (s0 - smem_addr(smem_raw));
    const uint32_t sQ = s0, sKV = s0 + 2 * BM * D * 2;  // stage s: K at sKV + s·2·TILE, V after it
    const uint32_t full_bar = smem_addr(&bars[0]), empty_bar = smem_addr(&bars[S]), q_bar = smem_addr(&bars[2 * S]);

    const int nhb = nh / 2;
    const xfc_tile tile = tiles[blockIdx.x / nhb];
    if (tile.q0 < 0) return;
    const int tid = threadIdx.x, wg = tid >> 7;
    const int head0 = (blockIdx.x % nhb) * 2;
    const int q0 = tile.q0, ss = tile.ss, se = tile.se;
    const int q_hi = min(q0 + BM, se) - 1;
    int kv_first, n_kv;
    attn_key_tiles(q0, q_hi, ss, se, full, window, BN, kv_first, n_kv);
    if (tid == 0) {
        for (int s = 0; s < S; s++) {
            mbar_init(full_bar + 8 * s, 128);  // every producer thread's copies
            mbar_init(empty_bar + 8 * s, 8);   // one lane of each consumer warp
        }
        mbar_init(q_bar, 128);
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (wg == 0) {  // ------------------------------------------------ producer
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
        const T *kb = k + (int64_t)(head0 / group) * D, *vb = v + (int64_t)(head0 / group) * D;
        load_tile128<D, BM, 128>(sQ, q + (int64_t)head0 * D, ldq, q0, se, tid);
        load_tile128<D, BM, 128>(sQ + BM * D * 2, q + (int64_t)(head0 + 1) * D, ldq, q0, se, tid);
        mbar_arrive_cp_async(q_bar);
        for (int j = 0; j < n_kv; j++) {
            const int s = j % S;
            if (j >= S) mbar_wait(empty_bar + 8 * s, ((j / S) - 1) & 1);
            const uint32_t st = sKV + (uint32_t)s * 2 * TILE_BYTES;
            load_tile128<D, BN, 128>(st, kb, ldk, kv_first + j * BN, se, tid);
            load_tile128<D, BN, 128>(st + TILE_BYTES, vb, ldv, kv_first + j * BN, se, tid);
            mbar_arrive_cp_async(full_bar + 8 * s);
        }
        asm volatile("cp.async.wait_all;\n" ::: "memory");
        return;
    }

    // ---------------------------------------------------------------- consumers
    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
    const int cw = wg - 1, warp = (tid >> 5) & 3, lane = tid & 31;
    const int head = head0 + cw;
    const int g = lane >> 2, t4 = lane & 3;
    const int hi_first = full ? se - 1 : min(q0, se - 1);
    const int lo_last = window > 0 ? q0 + BM - window : ss;
    const int wrow = warp * 16, wq_lo = q0 + wrow;
    const float c = scale_log2;
    const uint32_t myQ = sQ + cw * BM * D * 2;
    int lo[2], hi[2];
    attn_row_keys(wq_lo + g, ss, se, full, window, lo[0], hi[0]);
    attn_row_keys(wq_lo + g + 8, ss, se, full, window, lo[1], hi[1]);

    float o[D / 2];
#pragma unroll
    for (int i = 0; i < D / 2; i++) o[i] = 0.0f;
    float m_r[2] = {-INFINITY, -INFINITY}, l_r[2] = {0.0f, 0.0f}, alpha[2], rs[2];
    float sacc[BN / 2];
    uint32_t pf[BN / 16][4];  // P of the last key tile, the A operand of O += P·V
    const ws_rows rows = {lo[0], lo[1], hi[0], hi[1], hi_first, lo_last, se, t4};

    // the first key tile: S_0 alone
    if (PINGPONG && cw == 1) named_arrive(1, 256);  // warpgroup 1 issues first
    mbar_wait(q_bar, 0);
    mbar_wait(full_bar, 0);
    fence_proxy_async();
    if (PINGPONG) named_sync(1 + cw, 256);
    ws_scores<T, BN>(sacc, myQ, sKV);
    if (PINGPONG) named_arrive(2 - cw, 256);
    wgmma_wait<0>();
    reg_fence(sacc);
    ws_softmax<T, BN>(sacc, kv_first, rows, c, m_r, alpha, rs);
    ws_pack<T, BN>(sacc, pf);
    l_r[0] = rs[0], l_r[1] = rs[1];

    for (int j = 1; j < n_kv; j++)
        ws_step<T, PINGPONG, BN>(j, sacc, o, pf, m_r, l_r, myQ, sKV, full_bar, empty_bar, kv_first, rows, c, cw, lane);

    // the last key tile's P·V
    if (PINGPONG) named_sync(1 + cw, 256);
    ws_pv<T, BN>(o, pf, sKV + (uint32_t)((n_kv - 1) % S) * 2 * TILE_BYTES + TILE_BYTES);
    if (PINGPONG && cw == 0) named_arrive(2, 256);  // (warpgroup 1's last arrival would have no partner)
    wgmma_wait<0>();
    reg_fence(o);

    // Normalise, stage the warp's 16 rows in this warpgroup's Q tile (every product that
    // read it has completed), store 16-byte chunks.
    ws_store_rows<T>(o, l_r, smem + cw * BM * D * 2, out, ldo, head, wrow, wq_lo, se, lane);
#endif
}

#endif  // XF_BENCH_CUDA_ATTENTION_WS_CUH
