/* fast_ops.c — fast CPU kernels. Linear layers are one sgemm each (bias by
 * pre-filling y and beta = 1); attention runs one (token, head) pair per
 * OpenMP iteration with float accumulation and a numerically safe softmax. */
#include <cblas.h>
#include <math.h>
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
    /* y [T, out] = x [T, in] · Wᵀ, W row-major [out, in] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, out, in, 1.0f, x, in, W, in, beta, y, out);
}

void xf_fast_attention(const float *q, int64_t qs, const float *k, int64_t ks, const float *v, int64_t vs,
                       float *out, const int32_t *seq_start, int B, int nh, int nkv, int D, xf_attn_mask mask) {
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
}
