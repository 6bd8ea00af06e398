/* fast_ops.c — fast CPU kernels in fp32. Linear layers are one sgemm each (bias by
 * pre-filling y and beta = 1). With oneDNN in the build, sgemm is oneDNN's and
 * attention runs in tiles of queries through it (attention_tiled); without, sgemm is
 * the BLAS's and attention runs one (token, head) pair per OpenMP iteration with
 * float accumulation. Softmax is numerically safe either way. Elementwise ops are
 * threaded over rows. */
#include <cblas.h>
#include <math.h>
#ifdef XFWD_HAVE_DNNL
#include <oneapi/dnnl/dnnl.h>
#endif
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "fast_ops.h"
#include "ref_ops.h"

void xf_fast_set_threads(int n) {
    if (n <= 0) n = omp_get_num_procs();
    omp_set_num_threads(n);
#ifdef XFWD_OPENBLAS
    openblas_set_num_threads(n);
#endif
}

void xf_fast_linear(const float *x, const float *W, const float *bias, float *y, int64_t T, int in, int out,
                    int accumulate) {
    if (T <= 0) return;
    float beta = accumulate ? 1.0f : 0.0f;
    if (bias) {
        for (int64_t t = 0; t < T; t++) {
            float *yr = y + t * out;
            if (accumulate)
                for (int o = 0; o < out; o++) yr[o] += bias[o];
            else
                memcpy(yr, bias, sizeof(float) * (size_t)out);
        }
        beta = 1.0f;
    }
    /* y [T, out] = x [T, in] · Wᵀ, W row-major [out, in]. oneDNN's sgemm where it is built
     * in: AVX-512 kernels on OpenMP's threads, the runtime every other CPU op uses (see
     * bench/cpu.md: OpenBLAS 0.3.21 runs its AVX2 kernels on this CPU, on a thread pool of
     * its own); the same fp32 arithmetic either way. */
#ifdef XFWD_HAVE_DNNL
    dnnl_sgemm('N', 'T', T, out, in, 1.0f, x, in, W, in, beta, y, out);
#else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, out, in, 1.0f, x, in, W, in, beta, y, out);
#endif
}

#ifdef XFWD_HAVE_DNNL
/* Attention in tiles of ATT_QB queries of one head of one sequence, one tile per OpenMP
 * iteration: S = scale · Q·Kᵀ over the keys the tile's queries see (one sgemm), each
 * row's masked softmax in fp32 (P = 0 outside the row's keys), then O = P·V (one
 * sgemm). oneDNN's sgemm runs on the calling thread inside a parallel region. */
enum { ATT_QB = 64 };

static void attention_tiled(const float *q, int64_t qs, const float *k, int64_t ks, const float *v, int64_t vs,
                            float *out, const int32_t *seq_start, int B, int nh, int nkv, int D, xf_attn_mask mask) {
    const int group = nh / nkv;
    const float scale = 1.0f / sqrtf((float)D);
    int max_len = 0, n_tiles = 0;
    for (int b = 0; b < B; b++) {
        const int len = seq_start[b + 1] - seq_start[b];
        if (len > max_len) max_len = len;
        n_tiles += (len + ATT_QB - 1) / ATT_QB;
    }
    /* tile i of the batch: sequence tile_seq[i], first query tile_q0[i] (in the sequence) */
    int32_t *tile_seq = malloc(sizeof(int32_t) * (size_t)(2 * n_tiles + 1)), *tile_q0 = tile_seq + n_tiles;
    if (!tile_seq) abort();
    for (int b = 0, i = 0; b < B; b++)
        for (int q0 = 0; q0 < seq_start[b + 1] - seq_start[b]; q0 += ATT_QB, i++) tile_seq[i] = b, tile_q0[i] = q0;
#pragma omp parallel
    {
        float *S = malloc(sizeof(float) * (size_t)ATT_QB * (size_t)max_len);  /* [ATT_QB, keys of the tile] */
        if (!S) abort();
#pragma omp for collapse(2) schedule(dynamic, 1)
        for (int i = 0; i < n_tiles; i++)
            for (int h = 0; h < nh; h++) {
                const int b = tile_seq[i], q0 = tile_q0[i], len = seq_start[b + 1] - seq_start[b];
                const int nq = len - q0 < ATT_QB ? len - q0 : ATT_QB;
                int klo, khi, lo, hi;  /* the tile's keys [klo, khi]: the first query's lo .. the last's hi */
                xf_mask_keys(mask, q0, len, &klo, &hi);
                xf_mask_keys(mask, q0 + nq - 1, len, &lo, &khi);
                const int nk = khi - klo + 1;
                const int64_t t0 = seq_start[b] + q0, s0 = seq_start[b] + klo, koff = (int64_t)(h / group) * D;
                /* S [nq, nk] = scale · Q [nq, D] · K [nk, D]ᵀ */
                dnnl_sgemm('N', 'T', nq, nk, D, scale, q + t0 * qs + (int64_t)h * D, qs, k + s0 * ks + koff, ks, 0.0f,
                           S, nk);
                for (int r = 0; r < nq; r++) {
                    float *p = S + (int64_t)r * nk;
                    xf_mask_keys(mask, q0 + r, len, &lo, &hi);
                    lo -= klo, hi -= klo;
                    float mx = -INFINITY, sum = 0;
                    for (int j = lo; j <= hi; j++) mx = p[j] > mx ? p[j] : mx;
                    for (int j = lo; j <= hi; j++) sum += (p[j] = expf(p[j] - mx));
                    const float inv = 1.0f / sum;
                    for (int j = 0; j < nk; j++) p[j] = j < lo || j > hi ? 0.0f : p[j] * inv;
                }
                /* O [nq, D] (rows nh·D apart) = P [nq, nk] · V [nk, D] */
                dnnl_sgemm('N', 'N', nq, D, nk, 1.0f, S, nk, v + s0 * vs + koff, vs, 0.0f,
                           out + (t0 * nh + h) * (int64_t)D, (int64_t)nh * D);
            }
        free(S);
    }
    free(tile_seq);
}
#endif

int xf_fast_attention_tile(void) {
#ifdef XFWD_HAVE_DNNL
    return ATT_QB;
#else
    return 0;
#endif
}

void xf_fast_attention(const float *q, int64_t qs, const float *k, int64_t ks, const float *v, int64_t vs,
                       float *out, const int32_t *seq_start, int B, int nh, int nkv, int D, xf_attn_mask mask) {
#ifdef XFWD_HAVE_DNNL
    attention_tiled(q, qs, k, ks, v, vs, out, seq_start, B, nh, nkv, D, mask);
#else
    const int64_t T = seq_start[B];
    const int group = nh / nkv;
    const float scale = 1.0f / sqrtf((float)D);
    int32_t *seq_of = malloc(sizeof(int32_t) * (size_t)(T ? T : 1));  /* [T] sequence of each token */
    if (!seq_of) abort();
    for (int b = 0; b < B; b++)
        for (int32_t t = seq_start[b]; t < seq_start[b + 1]; t++) seq_of[t] = b;
    int max_len = 0;
    for (int b = 0; b < B; b++)
        if (seq_start[b + 1] - seq_start[b] > max_len) max_len = seq_start[b + 1] - seq_start[b];
#pragma omp parallel
    {
        float *p = malloc(sizeof(float) * (size_t)(max_len + 1));
        float *acc = malloc(sizeof(float) * (size_t)D);
        if (!p || !acc) abort();
#pragma omp for collapse(2) schedule(dynamic, 16)
        for (int64_t t = 0; t < T; t++)
            for (int h = 0; h < nh; h++) {
                const int b = seq_of[t];
                int lo, hi; /* keys s0 + lo .. s0 + hi; p[j] is key s0 + lo + j */
                xf_mask_keys(mask, (int)(t - seq_start[b]), seq_start[b + 1] - seq_start[b], &lo, &hi);
                const int64_t s0 = seq_start[b] + lo;
                const int n = hi - lo + 1;
                const float *qi = q + t * qs + (int64_t)h * D;
                const int64_t koff = (int64_t)(h / group) * D;
                float mx = -INFINITY;
                for (int j = 0; j < n; j++) {
                    const float *kj = k + (s0 + j) * ks + koff;
                    float dot = 0;
                    for (int d = 0; d < D; d++) dot += qi[d] * kj[d];
                    p[j] = dot * scale;
                    mx = p[j] > mx ? p[j] : mx;
                }
                float sum = 0;
                for (int j = 0; j < n; j++) sum += (p[j] = expf(p[j] - mx));
                memset(acc, 0, sizeof(float) * (size_t)D);
                for (int j = 0; j < n; j++) {
                    const float *vj = v + (s0 + j) * vs + koff;
                    const float pj = p[j];
                    for (int d = 0; d < D; d++) acc[d] += pj * vj[d];
                }
                float *o = out + (t * nh + h) * D;
                const float inv = 1.0f / sum;
                for (int d = 0; d < D; d++) o[d] = acc[d] * inv;
            }
        free(p);
        free(acc);
    }
    free(seq_of);
#endif
}

void xf_fast_rmsnorm(const float *x, const float *w, float *y, int64_t rows, int n, float eps) {
#pragma omp parallel for schedule(static) if (rows * n >= (1 << 15))
    for (int64_t r = 0; r < rows; r++) xf_ref_rmsnorm(x + r * n, w, y + r * n, 1, n, eps);
}

void xf_fast_qknorm_rope(float *x, const float *w, float eps, const int32_t *pos, int64_t T, int nh, int D,
                         const float *cos, const float *sin) {
#pragma omp parallel for schedule(static) if (T * nh * D >= (1 << 15))
    for (int64_t t = 0; t < T; t++) xf_ref_qknorm_rope(x + t * nh * D, w, eps, pos + t, 1, nh, D, cos, sin);
}

void xf_fast_swiglu(const float *gate, const float *up, float *out, int64_t n) {
#pragma omp parallel for schedule(static) if (n >= (1 << 15))
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}
