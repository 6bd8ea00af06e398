// attention_generic.cu — varlen attention with GQA (causal or full, optional
// sliding window) for any head_dim up to 256, in exact fp32 arithmetic (no tensor
// cores): the f32/tf32 modes' kernel and the fallback for head_dims the
// tensor-core kernel does not cover. Flash-style: one block per (64-query tile,
// head) walks the key tiles of 64 its queries see with an online softmax; no T×T
// matrix exists anywhere.
//   q [T, nh*D], k/v [T, nkv*D] (row strides ldq/ldk/ldv) -> out [T, nh*D] (ldo)
#include "attention.cuh"

#define GEN_BQ XFC_ATTN_GENERIC_BM
#define GEN_BK 64

static size_t generic_smem_bytes(int D) {
    const int DP = D + 1;  // odd row stride: the column walks below hit 16 different banks
    return sizeof(float) * ((size_t)GEN_BQ * DP + (size_t)GEN_BK * DP + (size_t)GEN_BK * D + GEN_BQ * (GEN_BK + 1));
}

// 256 threads as 16 (ty) × 16 (tx). Thread (ty, tx) owns query rows ty + 16 i
// (i < 4); for scores it owns keys tx + 16 j (j < 4), for the output the
// columns tx + 16 c (c < MAXC, MAXC >= D / 16).
template <typename T, int MAXC>
__global__ void __launch_bounds__(256)
    attn_generic_kernel(const T *__restrict__ q, int ldq, const T *__restrict__ k, int ldk,
                        const T *__restrict__ v, int ldv, T *__restrict__ out, int ldo,
                        const xfc_tile *__restrict__ tiles, int nh, int group, int D, float scale_log2, int full,
                        int window) {
    extern __shared__ float sm[];
    const int DP = D + 1;
    float *Qs = sm;                // [BQ][DP]
    float *Ks = Qs + GEN_BQ * DP;  // [BK][DP]
    float *Vs = Ks + GEN_BK * DP;  // [BK][D]
    float *Ps = Vs + GEN_BK * D;   // [BQ][BK + 1]
    const int head = blockIdx.x % nh;
    const xfc_tile tile = tiles[blockIdx.x / nh];
    if (tile.q0 < 0) return;
    const int q0 = tile.q0, ss = tile.ss, se = tile.se;
    const T *qb = q + (int64_t)head * D;
    const T *kb = k + (int64_t)(head / group) * D;
    const T *vb = v + (int64_t)(head / group) * D;
    const int tid = threadIdx.x, ty = tid >> 4, tx = tid & 15;

    for (int i = tid; i < GEN_BQ * D; i += 256) {
        const int r = i / D, c = i % D, qi = q0 + r;
        Qs[r * DP + c] = qi < se ? xfc_ld(qb + (int64_t)qi * ldq + c) : 0.0f;
    }
    float o[4][MAXC], m[4], l[4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        m[i] = -INFINITY, l[i] = 0.0f;
#pragma unroll
        for (int c = 0; c < MAXC; c++) o[i][c] = 0.0f;
    }
    const int q_hi = min(q0 + GEN_BQ, se) - 1;  // last real query of the tile
    int kv_first, n_kv;
    attn_key_tiles(q0, q_hi, ss, se, full, window, GEN_BK, kv_first, n_kv);

    for (int j = 0; j < n_kv; j++) {
        const int kv0 = kv_first + j * GEN_BK;
        __syncthreads();  // the previous tile's Ks/Vs/Ps are no longer read
        for (int i = tid; i < GEN_BK * D; i += 256) {
            const int r = i / D, c = i % D, key = kv0 + r;
            const bool ok = key < se;  // keys past the sequence are zero (and masked below)
            Ks[r * DP + c] = ok ? xfc_ld(kb + (int64_t)key * ldk + c) : 0.0f;
            Vs[r * D + c] = ok ? xfc_ld(vb + (int64_t)key * ldv + c) : 0.0f;
        }
        __syncthreads();

        float s[4][4];
#pragma unroll
        for (int i = 0; i < 4; i++)
#pragma unroll
            for (int jj = 0; jj < 4; jj++) s[i][jj] = 0.0f;
        for (int d = 0; d < D; d++) {
            float a[4], b[4];
#pragma unroll
            for (int i = 0; i < 4; i++) a[i] = Qs[(ty + 16 * i) * DP + d];
#pragma unroll
            for (int jj = 0; jj < 4; jj++) b[jj] = Ks[(tx + 16 * jj) * DP + d];
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int jj = 0; jj < 4; jj++) s[i][jj] = fmaf(a[i], b[jj], s[i][jj]);
        }

#pragma unroll
        for (int i = 0; i < 4; i++) {
            int lo, hi;
            attn_row_keys(q0 + ty + 16 * i, ss, se, full, window, lo, hi);
            float mx = m[i];
#pragma unroll
            for (int jj = 0; jj < 4; jj++) {
                const int key = kv0 + tx + 16 * jj;
                float x = s[i][jj] * scale_log2;
                if (key > hi || key < lo) x = -INFINITY;
                s[i][jj] = x;
                mx = fmaxf(mx, x);
            }
#pragma unroll
            for (int off = 8; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, off));
            const float base = mx == -INFINITY ? 0.0f : mx;
            const float alpha = exp2f(m[i] - base);
            m[i] = mx;
            float rs = 0.0f;
#pragma unroll
            for (int jj = 0; jj < 4; jj++) {
                const float p = exp2f(s[i][jj] - base);
                Ps[(ty + 16 * i) * (GEN_BK + 1) + tx + 16 * jj] = p;
                rs += p;
            }
            l[i] = l[i] * alpha + rs;
#pragma unroll
            for (int c = 0; c < MAXC; c++) o[i][c] *= alpha;
        }
        __syncthreads();

        for (int kk = 0; kk < GEN_BK; kk++) {
            float p[4];
#pragma unroll
            for (int i = 0; i < 4; i++) p[i] = Ps[(ty + 16 * i) * (GEN_BK + 1) + kk];
#pragma unroll
            for (int c = 0; c < MAXC; c++) {
                const int d = tx + 16 * c;
                const float vv = d < D ? Vs[kk * D + d] : 0.0f;
#pragma unroll
                for (int i = 0; i < 4; i++) o[i][c] = fmaf(p[i], vv, o[i][c]);
            }
        }
    }

#pragma unroll
    for (int i = 0; i < 4; i++) {
        float L = l[i];
#pragma unroll
        for (int off = 8; off > 0; off >>= 1) L += __shfl_xor_sync(0xffffffffu, L, off);
        const int qi = q0 + ty + 16 * i;
        if (qi >= se) continue;
        const float inv = 1.0f / L;
        T *orow = out + (int64_t)qi * ldo + (int64_t)head * D;
#pragma unroll
        for (int c = 0; c < MAXC; c++) {
            const int d = tx + 16 * c;
            if (d < D) xfc_st(orow + d, o[i][c] * inv);
        }
    }
}

template <typename T, int MAXC>
static xf_status launch_generic(cudaStream_t s, const void *q, int ldq, const void *k, int ldk, const void *v, int ldv,
                                void *out, int ldo, const xfc_tile *tiles, int n_tiles, int nh, int nkv, int D,
                                float scale_log2, int full, int window) {
    attn_generic_kernel<T, MAXC><<<(unsigned)((int64_t)n_tiles * nh), 256, generic_smem_bytes(D), s>>>(
        (const T *)q, ldq, (const T *)k, ldk, (const T *)v, ldv, (T *)out, ldo, tiles, nh, nh / nkv, D, scale_log2,
        full, window);
    XFC_LAUNCH_CHECK("attention_generic");
    return XF_OK;
}

template <typename T>
static xf_status dispatch_maxc(cudaStream_t s, const void *q, int ldq, const void *k, int ldk, const void *v, int ldv,
                               void *out, int ldo, const xfc_tile *tiles, int n_tiles, int nh, int nkv, int D,
                               float scale_log2, int full, int window) {
#define XFC_GEN(MAXC) \
    launch_generic<T, MAXC>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, D, scale_log2, full, window)
    if (D <= 32) return XFC_GEN(2);
    if (D <= 64) return XFC_GEN(4);
    if (D <= 128) return XFC_GEN(8);
    return XFC_GEN(16);
#undef XFC_GEN
}

xf_status xfc_attention_generic(cudaStream_t s, xfc_type type, const void *q, int ldq, const void *k, int ldk,
                                const void *v, int ldv, void *out, int ldo, const xfc_tile *tiles, int n_tiles,
                                int nh, int nkv, int D, float scale_log2, int full, int window) {
    if (D < 1 || D > XFC_ATTN_GENERIC_MAX_D)
        return xf_error(XF_ERR_UNSUPPORTED, "cuda: head_dim %d is not supported by attention (at most %d)", D,
                        XFC_ATTN_GENERIC_MAX_D);
    XFC_DISPATCH(type, T,
                 return dispatch_maxc<T>(s, q, ldq, k, ldk, v, ldv, out, ldo, tiles, n_tiles, nh, nkv, D, scale_log2,
                                         full, window));
    return XF_OK;
}

// Raises the dynamic shared-memory limit of every instantiation to the largest head_dim's need.
template <typename T>
static cudaError_t generic_attrs(int bytes) {
    cudaError_t e;
    if ((e = cudaFuncSetAttribute(attn_generic_kernel<T, 2>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes))) return e;
    if ((e = cudaFuncSetAttribute(attn_generic_kernel<T, 4>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes))) return e;
    if ((e = cudaFuncSetAttribute(attn_generic_kernel<T, 8>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes))) return e;
    return cudaFuncSetAttribute(attn_generic_kernel<T, 16>, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
}

xf_status xfc_attention_generic_init(void) {
    const int bytes = (int)generic_smem_bytes(XFC_ATTN_GENERIC_MAX_D);
    cudaError_t e = generic_attrs<float>(bytes);
    if (!e) e = generic_attrs<__nv_bfloat16>(bytes);
    if (!e) e = generic_attrs<__half>(bytes);
    if (e) return xf_error(XF_ERR_DEVICE, "cuda: setting attention shared memory (%d bytes): %s", bytes,
                           cudaGetErrorString(e));
    return XF_OK;
}
