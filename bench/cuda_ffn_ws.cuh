// cuda_ffn_ws.cuh — the fused gate|up matmul with the SwiGLU in its epilogue, on Hopper
// (sm_90a) wgmma: out [T, I] = silu(X·W_gᵀ) ⊙ (X·W_uᵀ), where W = [W_g; W_u] is the
// model's fused [2I, in] gate|up weight (row-major, as stored), so the [T, 2I]
// intermediate of the unfused path (matmul, then xfc_swiglu) is never written.
// An experiment measured by bench/cuda_ffn.cu (numbers in bench/cuda-notes.md): correct, but
// slower than cuBLASLt's matmul plus the separate SwiGLU, so the library does not carry it.
// Included after cuda_attention_ws.cuh (mbarrier helpers, the m64n128 shared-memory wgmma)
// and src/cuda/attention_wgmma.cuh (descriptors, tile loader).
//
// A block computes 128 rows × 128 output columns: warpgroup 0 loads (cp.async into a
// ring of FFN_STAGES stages, each X [128 × 64] and the gate and up rows [128 × 64] of W,
// 128-byte swizzled), warpgroups 1 and 2 multiply 64 rows each, with both the gate and
// the up accumulator (m64n128, fp32) in registers, one k-tile's products in flight while
// the next is issued. Blocks walk the output in groups of FFN_GROUP_M row tiles so that
// one wave of blocks shares both its X rows and its W rows in L2.
// Needs: I % 128 == 0, in % 64 == 0, 16-byte aligned rows (ld % 8 == 0).
#ifndef XF_BENCH_CUDA_FFN_WS_CUH
#define XF_BENCH_CUDA_FFN_WS_CUH

#define FFN_STAGES 4
#define FFN_GROUP_M 8

#include <cuda.h>

// One 2D tile [box rows × 64 columns] of a tensor map into shared memory (128-byte
// swizzled, as the tensor map says), counted on the barrier's transaction bytes.
__device__ __forceinline__ void tma_load_2d(uint32_t dst, const CUtensorMap *map, int col, int row, uint32_t bar) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n"
                 ::"r"(dst), "l"((uint64_t)map), "r"(col), "r"(row), "r"(bar)
                 : "memory");
}
__device__ __forceinline__ void mbar_expect_tx(uint32_t bar, uint32_t bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes) : "memory");
}

static size_t ffn_smem_bytes(void) { return (size_t)FFN_STAGES * 3 * 128 * 64 * 2 + 1024; }

// grid: ceil(T / 128) · (I / 128) blocks of 384 threads, ffn_smem_bytes() of shared memory.
// TMA: the loads are the tensor-memory accelerator's (one thread issues three 16 KB boxes per
// stage from the tensor maps mx: X [rows, in], mw: W [2I, in], boxes of 128 rows × 64 columns,
// 128-byte swizzle, rows past the end read as zeros); otherwise cp.async from 128 threads.
template <typename T, bool TMA>
__global__ void __launch_bounds__(384, 1)
    ffn_swiglu_ws_kernel(const T *__restrict__ x, int ldx, const T *__restrict__ w, int ldw, T *__restrict__ out,
                         int ldo, int rows, int inter, int in, const __grid_constant__ CUtensorMap mx,
                         const __grid_constant__ CUtensorMap mw) {
#if defined(XFC_HAVE_WGMMA)
    constexpr int S = FFN_STAGES;
    constexpr uint32_t TILE = 128 * 64 * 2, STAGE = 3 * TILE;  // X, W_g, W_u: [128 rows][64] each
    extern __shared__ __align__(128) unsigned char smem_raw[];
    __shared__ __align__(8) uint64_t bars[2 * S];
    const uint32_t s0 = (smem_addr(smem_raw) + 1023u) & ~1023u;
    const uint32_t full_bar = smem_addr(&bars[0]), empty_bar = smem_addr(&bars[S]);

    // grouped order: FFN_GROUP_M row tiles × every column tile, then the next group
    const int tm = (rows + 127) / 128, tn = inter / 128, id = blockIdx.x;
    const int group = id / (FFN_GROUP_M * tn), first_m = group * FFN_GROUP_M;
    const int gm = min(tm - first_m, FFN_GROUP_M);
    const int m0 = (first_m + (id % (FFN_GROUP_M * tn)) % gm) * 128;
    const int n0 = ((id % (FFN_GROUP_M * tn)) / gm) * 128;
    const int kt_n = in / 64;
    const int tid = threadIdx.x, wg = tid >> 7;
    if (tid == 0) {
        for (int s = 0; s < S; s++) {
            mbar_init(full_bar + 8 * s, TMA ? 1 : 128);
            mbar_init(empty_bar + 8 * s, 8);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    __syncthreads();

    if (wg == 0) {  // ------------------------------------------------ producer
        asm volatile("setmaxnreg.dec.sync.aligned.u32 56;\n");
        if (TMA) {
            if (tid == 0)
                for (int kt = 0; kt < kt_n; kt++) {
                    const int s = kt % S;
                    if (kt >= S) mbar_wait(empty_bar + 8 * s, ((kt / S) - 1) & 1);
                    const uint32_t st = s0 + (uint32_t)s * STAGE, bar = full_bar + 8 * s;
                    mbar_expect_tx(bar, STAGE);
                    tma_load_2d(st, &mx, kt * 64, m0, bar);
                    tma_load_2d(st + TILE, &mw, kt * 64, n0, bar);
                    tma_load_2d(st + 2 * TILE, &mw, kt * 64, inter + n0, bar);
                }
            return;
        }
        const T *wu = w + (int64_t)inter * ldw;
        for (int kt = 0; kt < kt_n; kt++) {
            const int s = kt % S;
            if (kt >= S) mbar_wait(empty_bar + 8 * s, ((kt / S) - 1) & 1);
            const uint32_t st = s0 + (uint32_t)s * STAGE;
            load_tile128<64, 128, 128>(st, x + kt * 64, ldx, m0, rows, tid);
            load_tile128<64, 128, 128>(st + TILE, w + kt * 64, ldw, n0, inter, tid);
            load_tile128<64, 128, 128>(st + 2 * TILE, wu + kt * 64, ldw, n0, inter, tid);
            mbar_arrive_cp_async(full_bar + 8 * s);
        }
        asm volatile("cp.async.wait_all;\n" ::: "memory");
        return;
    }

    // ---------------------------------------------------------------- consumers
    asm volatile("setmaxnreg.inc.sync.aligned.u32 224;\n");
    const int cw = wg - 1, warp = (tid >> 5) & 3, lane = tid & 31;
    float g[64], u[64];
    for (int kt = 0; kt < kt_n; kt++) {
        const int s = kt % S;
        mbar_wait(full_bar + 8 * s, (kt / S) & 1);
        if (!TMA) fence_proxy_async();
        const uint32_t st = s0 + (uint32_t)s * STAGE, a = st + cw * 64 * 128;
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < 4; kk++) {
            const uint64_t da = gmma_desc(a + kk * 32, 16, 1024);
            wgmma_ss_m64n128(g, da, gmma_desc(st + TILE + kk * 32, 16, 1024), kt > 0 || kk > 0, (T *)nullptr);
            wgmma_ss_m64n128(u, da, gmma_desc(st + 2 * TILE + kk * 32, 16, 1024), kt > 0 || kk > 0, (T *)nullptr);
        }
        wgmma_commit();
        wgmma_wait<1>();  // k-tile kt-1's products are done: its stage goes back
        if (kt > 0) {
            __syncwarp();
            if (lane == 0) mbar_arrive(empty_bar + 8 * ((kt - 1) % S));
        }
    }
    wgmma_wait<0>();
    reg_fence(g);
    reg_fence(u);

    // out = silu(g) ⊙ u: thread (warp, g4 = lane / 4, t4 = lane % 4) holds rows 16·warp + g4
    // and + 8, columns 8n + 2·t4 and + 1
    const int g4 = lane >> 2, t4 = lane & 3;
    const int r0 = m0 + cw * 64 + warp * 16 + g4;
#pragma unroll
    for (int n = 0; n < 16; n++) {
        const int col = n0 + 8 * n + 2 * t4;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int r = r0 + 8 * h;
            const float a0 = g[4 * n + 2 * h], a1 = g[4 * n + 2 * h + 1];
            const float v0 = a0 / (1.0f + expf(-a0)) * u[4 * n + 2 * h];
            const float v1 = a1 / (1.0f + expf(-a1)) * u[4 * n + 2 * h + 1];
            if (r < rows) *(uint32_t *)(out + (int64_t)r * ldo + col) = pack2<T>(v0, v1);
        }
    }
#endif
}

#endif  // XF_BENCH_CUDA_FFN_WS_CUH
