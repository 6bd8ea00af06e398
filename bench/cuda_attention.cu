// cuda_attention.cu — every attention kernel shape measured for the CUDA backend,
// standalone (in the manner of llm.c's dev/cuda): each variant beside the CPU
// reference, checked against it and timed alone. The library (src/cuda/attention.cu)
// keeps only what its kernel table picks (src/cuda/cuda_kernels.c); the others live
// here, with their measurements in bench/cuda-notes.md ("variant N" there):
//   mma  2×16 rows/warp, 64 keys   variant 0   library: off compute capability 9.0
//   mma  1×16 rows/warp, 64 keys   variant 1   here only
//   mma  2×16 rows/warp, 32 keys   variant 2   here only
//   fa2  Q in registers, 2 stages  variant 3   library: cc 9.0, head_dim 64
//   fa2  Q in smem, 1 stage        variant 4   here only
//   fa2  Q in registers, 1 stage   variant 5   here only
//   wgmma 1 / 2 / 4 heads/block    6 / 7 / 8   library: cc 9.0, head_dim 128 (by GQA group)
//   warp-specialised, 2 heads      9           bench/cuda_attention_ws.cuh (producer warpgroup,
//   ... with ping-pong             10          products in flight during the softmax), 64 keys
//   ... 128-key tiles (+ ping-pong) 11 / 12
//   cuDNN fused attention           13          bench/cuda_attention_cudnn.cuh (the frontend's SDPA
//   ... graph dims of a CUDA-graph  14          graph on the packed ragged layout; built with
//       bucket (B → 2^k, S → all tokens)        XFWD_CUDNN_FRONTEND only)
// Build: the xfwd_cuda_attention_bench target (beside xfwd_cuda_bench). Run on the GPU:
//   xfwd_cuda_attention_bench [--dtype bf16|f16] [--D 64|128] [--seqs 4] [--len 512]
//                             [--heads 32] [--kv 8] [--iters 20] [--full] [--window W]
//                             [--only N] [--nocheck] [--mixed N]
// (--mixed N: one launch over the first N lengths of the benchmarks' mixed distribution)
// prints one line per variant: relative (Frobenius) error vs the CPU on the first
// sequence, ms per launch, TFLOP/s.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda/attention.cuh"
#include "cuda_bench_util.cuh"
#include "cuda/attention_mma.cuh"
#include "cuda/attention_wgmma.cuh"
#include "cuda_attention_ws.cuh"
#ifdef XFWD_BENCH_CUDNN
#include "cuda_attention_cudnn.cuh"
#endif
extern "C" {
#include "cpu/ref_ops.h"
#include "bench_util.h"
}

typedef struct args {
    const void *q, *k, *v;
    void *out;
    int ld_q, ld_kv, ld_o;
    const xfc_tile *tiles;
    int n_tiles, nh, nkv;
    float scale_log2;
    int full, window;
    const int32_t *starts;  // host: sequence starts [B + 1] (cuDNN's graph is built from them)
    int B, D;
} args;

typedef void (*launch_fn)(const args *a);

template <typename T, int D, int MT, int BN> static void run_mma(const args *a) {
    const size_t smem = (size_t)(MMA_WARPS * 16 * MT + 4 * BN) * D * 2;
    CK(cudaFuncSetAttribute(attn_mma_kernel<T, D, MT, BN>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem));
    attn_mma_kernel<T, D, MT, BN><<<a->n_tiles * a->nh, MMA_WARPS * 32, smem>>>(
        (const T *)a->q, a->ld_q, (const T *)a->k, a->ld_kv, (const T *)a->v, a->ld_kv, (T *)a->out, a->ld_o, a->tiles,
        a->nh, a->nh / a->nkv, a->scale_log2, a->full, a->window);
}

template <typename T, int D, bool QREG, int STAGES> static void run_fa2(const args *a) {
    const size_t smem = STAGES == 2 ? (size_t)4 * 64 * D * 2 : (size_t)(2 * 64 + (QREG ? 0 : MMA_WARPS * 16)) * D * 2;
    CK(cudaFuncSetAttribute(attn_fa2_kernel<T, D, 64, QREG, STAGES>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                            (int)smem));
    attn_fa2_kernel<T, D, 64, QREG, STAGES><<<a->n_tiles * a->nh, MMA_WARPS * 32, smem>>>(
        (const T *)a->q, a->ld_q, (const T *)a->k, a->ld_kv, (const T *)a->v, a->ld_kv, (T *)a->out, a->ld_o, a->tiles,
        a->nh, a->nh / a->nkv, a->scale_log2, a->full, a->window);
}

template <typename T, int NWG> static void run_wgg(const args *a) {  // head_dim 128, sm_90a
    CK(cudaFuncSetAttribute(attn_wgg_kernel<T, NWG>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                            (int)wgg_smem_bytes(NWG)));
    attn_wgg_kernel<T, NWG><<<a->n_tiles * (a->nh / NWG), NWG * 128, wgg_smem_bytes(NWG)>>>(
        (const T *)a->q, a->ld_q, (const T *)a->k, a->ld_kv, (const T *)a->v, a->ld_kv, (T *)a->out, a->ld_o, a->tiles,
        a->nh, a->nh / a->nkv, a->scale_log2, a->full, a->window);
}

template <typename T, bool PP, int BN> static void run_ws(const args *a) {  // head_dim 128, sm_90a
    CK(cudaFuncSetAttribute(attn_ws_kernel<T, PP, BN>, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)ws_smem_bytes(BN)));
    attn_ws_kernel<T, PP, BN><<<a->n_tiles * (a->nh / 2), 384, ws_smem_bytes(BN)>>>(
        (const T *)a->q, a->ld_q, (const T *)a->k, a->ld_kv, (const T *)a->v, a->ld_kv, (T *)a->out, a->ld_o, a->tiles,
        a->nh, a->nh / a->nkv, a->scale_log2, a->full, a->window);
}

#ifdef XFWD_BENCH_CUDNN
template <typename T, int BUCKET> static int prep_cudnn(const args *a) {
    return xfb_cudnn::prepare<T>(a->B, a->starts, a->nh, a->nkv, a->D, a->ld_q, a->ld_kv, a->ld_o, a->full, a->window,
                                 BUCKET);
}
template <typename T> static void run_cudnn(const args *a) { xfb_cudnn::run(a->q, a->k, a->v, a->out); }
#endif

typedef struct variant {
    const char *name;
    int bm;         // queries per tile
    int heads;      // query heads per block (wgmma), 0: any GQA group; > 0 needs head_dim 128 and cc 9.0
    launch_fn fn;
    int (*prep)(const args *a);  // optional: set up before the first launch; 0 = unavailable here
} variant;

template <typename T, int D> static int variants(variant *v) {
    int n = 0;
    v[n++] = {"0 mma 2x16 rows, 64 keys [library, off cc 9.0]", 128, 0, run_mma<T, D, 2, 64>};
    v[n++] = {"1 mma 1x16 rows, 64 keys", 64, 0, run_mma<T, D, 1, 64>};
    v[n++] = {"2 mma 2x16 rows, 32 keys", 128, 0, run_mma<T, D, 2, 32>};
    v[n++] = {"3 fa2 Q regs, 2 stages [library, cc 9.0 D 64]", 64, 0, run_fa2<T, D, true, 2>};
    v[n++] = {"4 fa2 Q smem, 1 stage", 64, 0, run_fa2<T, D, false, 1>};
    v[n++] = {"5 fa2 Q regs, 1 stage", 64, 0, run_fa2<T, D, true, 1>};
    if (D == 128) {
        v[n++] = {"6 wgmma 1 head/block [library, odd groups]", 64, 1, run_wgg<T, 1>};
        v[n++] = {"7 wgmma 2 heads/block [library, groups of 2]", 64, 2, run_wgg<T, 2>};
        v[n++] = {"8 wgmma 4 heads/block [library, default]", 64, 4, run_wgg<T, 4>};
        v[n++] = {"9 warp-specialised, 2 heads/block", 64, 2, run_ws<T, false, 64>};
        v[n++] = {"10 warp-specialised, 2 heads/block, ping-pong", 64, 2, run_ws<T, true, 64>};
        v[n++] = {"11 warp-specialised, 128-key tiles", 64, 2, run_ws<T, false, 128>};
        v[n++] = {"12 warp-specialised, 128-key tiles, ping-pong", 64, 2, run_ws<T, true, 128>};
    }
#ifdef XFWD_BENCH_CUDNN
    v[n++] = {"13 cuDNN fused attention (SDPA graph, ragged)", 64, 0, run_cudnn<T>, prep_cudnn<T, 0>};
    v[n++] = {"14 cuDNN, graph dims of a captured bucket", 64, 0, run_cudnn<T>, prep_cudnn<T, 1>};
#endif
    return n;
}

template <typename T, int D>
static int bench(int B, const int32_t *lens, int nh, int nkv, int iters, xf_attn_mask mask, int only, int check) {
    int32_t *ss = (int32_t *)malloc(sizeof(int32_t) * (B + 1));
    int L = 0;  // the longest sequence
    ss[0] = 0;
    for (int b = 0; b < B; b++) ss[b + 1] = ss[b] + lens[b], L = lens[b] > L ? lens[b] : L;
    const int T_ = ss[B], nq = T_ * nh * D, nkvs = T_ * nkv * D, L0 = lens[0];
    int dev = 0, major = 0, minor = 0;
    CK(cudaGetDevice(&dev));
    CK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
    CK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev));
    // inputs rounded to T, so that the reference sees what the kernels see
    float *q = (float *)malloc(sizeof(float) * nq), *k = (float *)malloc(sizeof(float) * nkvs);
    float *v = (float *)malloc(sizeof(float) * nkvs), *ref = (float *)malloc(sizeof(float) * L0 * nh * D);
    float *got = (float *)malloc(sizeof(float) * nq);
    T *hq = (T *)malloc(sizeof(T) * nq), *hk = (T *)malloc(sizeof(T) * nkvs), *hv = (T *)malloc(sizeof(T) * nkvs);
    T *hout = (T *)malloc(sizeof(T) * nq);
    uint64_t seed = 42;
    for (int i = 0; i < nq; i++) hq[i] = to_t<T>(frand(&seed)), q[i] = to_f(hq[i]);
    for (int i = 0; i < nkvs; i++) hk[i] = to_t<T>(frand(&seed)), k[i] = to_f(hk[i]);
    for (int i = 0; i < nkvs; i++) hv[i] = to_t<T>(frand(&seed)), v[i] = to_f(hv[i]);
    // the reference for the first sequence only (the CPU's plain loops are slow; every
    // sequence runs the same code on other data)
    const int n_chk = L0 * nh * D;
    if (check) xf_ref_attention(q, (int64_t)nh * D, k, (int64_t)nkv * D, v, (int64_t)nkv * D, ref, ss, 1, nh, nkv, D, mask);
    double flops = 0;  // 2 matmuls of 2·D FLOPs per (query, key seen, head)
    for (int b = 0; b < B; b++)
        for (int i = 0; i < lens[b]; i++) {
            int lo, hi;
            xf_mask_keys(mask, i, lens[b], &lo, &hi);
            flops += 4.0 * D * (hi - lo + 1) * nh;
        }
    void *dq, *dk, *dv, *dout, *dtiles;
    CK(cudaMalloc(&dq, sizeof(T) * nq));
    CK(cudaMalloc(&dk, sizeof(T) * nkvs));
    CK(cudaMalloc(&dv, sizeof(T) * nkvs));
    CK(cudaMalloc(&dout, sizeof(T) * nq));
    CK(cudaMalloc(&dtiles, sizeof(xfc_tile) * (T_ / 64 + B + 1)));
    CK(cudaMemcpy(dq, hq, sizeof(T) * nq, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dk, hk, sizeof(T) * nkvs, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(dv, hv, sizeof(T) * nkvs, cudaMemcpyHostToDevice));
    xfc_tile *tiles = (xfc_tile *)malloc(sizeof(xfc_tile) * (T_ / 64 + B + 1));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    variant vs[20];
    const int n = variants<T, D>(vs);
    int failed = 0;
    printf("D=%d, %d sequences (%d tokens, longest %d), %d/%d heads, %s%s, cc %d.%d\n", D, B, T_, L, nh, nkv, mask.kind == XF_MASK_FULL ? "full" : "causal", mask.window > 0 ? " window" : "", major, minor);
    for (int i = 0; i < n; i++) {
        const variant *vr = &vs[i];
        if (only >= 0 && atoi(vr->name) != only) continue;
        if (vr->heads > 0 && (major != 9 || minor != 0 || (nh / nkv) % vr->heads)) {
            printf("  %-52s skipped (needs cc 9.0 and GQA groups of a multiple of %d)\n", vr->name, vr->heads);
            continue;
        }
        int nt = 0;  // tiles, the longest-running first (tile index k of every sequence, high k first)
        for (int kk = (L + vr->bm - 1) / vr->bm - 1; kk >= 0; kk--)
            for (int b = 0; b < B; b++)
                if (kk * vr->bm < lens[b]) tiles[nt++] = (xfc_tile){ss[b] + kk * vr->bm, ss[b], ss[b + 1], 0};
        CK(cudaMemcpy(dtiles, tiles, sizeof(xfc_tile) * nt, cudaMemcpyHostToDevice));
        const args a = {dq, dk, dv, dout, nh * D, nkv * D, nh * D, (const xfc_tile *)dtiles, nt, nh, nkv,
                        (float)(1.4426950408889634 / sqrt((double)D)), mask.kind == XF_MASK_FULL, mask.window, ss, B, D};
        if (vr->prep && !vr->prep(&a)) {
            printf("  %-52s unavailable (reason above)\n", vr->name);
            continue;
        }
        CK(cudaMemset(dout, 0, sizeof(T) * nq));
        vr->fn(&a);
        CK(cudaGetLastError());
        CK(cudaDeviceSynchronize());
        CK(cudaMemcpy(hout, dout, sizeof(T) * nq, cudaMemcpyDeviceToHost));
        double num = 0, den = 0;
        for (int j = 0; check && j < n_chk; j++) {
            got[j] = to_f(hout[j]);
            num += (got[j] - ref[j]) * (double)(got[j] - ref[j]), den += (double)ref[j] * ref[j];
        }
        const double err = sqrt(num / (den > 0 ? den : 1));
        CK(cudaEventRecord(e0));
        for (int it = 0; it < iters; it++) vr->fn(&a);
        CK(cudaEventRecord(e1));
        CK(cudaEventSynchronize(e1));
        float ms = 0;
        CK(cudaEventElapsedTime(&ms, e0, e1));
        ms /= iters;
        const int ok = !check || (err < 3e-2 && err == err);
        failed += !ok;
        printf("  %-52s rel.err %.2e %s  %8.3f ms  %6.1f TFLOP/s\n", vr->name, err, !check ? "----" : ok ? "ok  " : "FAIL", ms,
               flops / (ms * 1e-3) / 1e12);
    }
    cudaFree(dq), cudaFree(dk), cudaFree(dv), cudaFree(dout), cudaFree(dtiles);
    free(q), free(k), free(v), free(ref), free(got), free(hq), free(hk), free(hv), free(hout), free(ss), free(tiles);
    return failed;
}

int main(int argc, char **argv) {
    int D = 128, B = 4, L = 512, nh = 32, nkv = 8, iters = 20, f16 = 0, only = -1, check = 1, mixed = 0;
    xf_attn_mask mask = {XF_MASK_CAUSAL, 0};
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], *val = i + 1 < argc ? argv[i + 1] : "0";
        if (!strcmp(o, "--full")) mask.kind = XF_MASK_FULL;
        else if (!strcmp(o, "--dtype")) f16 = !strcmp(val, "f16"), i++;
        else if (!strcmp(o, "--D")) D = atoi(val), i++;
        else if (!strcmp(o, "--seqs")) B = atoi(val), i++;
        else if (!strcmp(o, "--len")) L = atoi(val), i++;
        else if (!strcmp(o, "--heads")) nh = atoi(val), i++;
        else if (!strcmp(o, "--kv")) nkv = atoi(val), i++;
        else if (!strcmp(o, "--iters")) iters = atoi(val), i++;
        else if (!strcmp(o, "--window")) mask.window = atoi(val), i++;
        else if (!strcmp(o, "--only")) only = atoi(val), i++;
        else if (!strcmp(o, "--nocheck")) check = 0;
        else if (!strcmp(o, "--mixed")) mixed = atoi(val), i++;
        else return fprintf(stderr, "usage: %s [--dtype bf16|f16] [--D 64|128] [--seqs B] [--len L] [--heads NH] "
                                    "[--kv NKV] [--iters N] [--full] [--window W] [--only N] [--nocheck] [--mixed N]\n", argv[0]), 2;
    }
    if ((D != 64 && D != 128) || B < 1 || L < 1 || nkv < 1 || nh % nkv || iters < 1 ||
        (mask.kind == XF_MASK_FULL && mask.window > 0) || mixed < 0)
        return fprintf(stderr, "bad arguments (D 64 or 128; heads a multiple of kv; full without a window)\n"), 2;
    int n_dev = 0;
    if (cudaGetDeviceCount(&n_dev) != cudaSuccess || n_dev == 0)
        return printf("skipped: no CUDA device\n"), 77;
    // --mixed N: the first N lengths of the benchmarks' mixed distribution (bench/bench_util.h),
    // packed as the engine packs one forward; else B sequences of L tokens
    if (mixed) B = mixed;
    int32_t *lens = (int32_t *)malloc(sizeof(int32_t) * B);
    if (mixed) xb_mixed_lengths(B, lens);
    else
        for (int b = 0; b < B; b++) lens[b] = L;
    printf("%s, ", f16 ? "f16" : "bf16");
    int failed;
    if (f16) failed = D == 64 ? bench<__half, 64>(B, lens, nh, nkv, iters, mask, only, check) : bench<__half, 128>(B, lens, nh, nkv, iters, mask, only, check);
    else failed = D == 64 ? bench<__nv_bfloat16, 64>(B, lens, nh, nkv, iters, mask, only, check)
                          : bench<__nv_bfloat16, 128>(B, lens, nh, nkv, iters, mask, only, check);
    free(lens);
    printf("%s\n", failed ? "FAIL" : "PASS");
    return failed ? 1 : 0;
}
