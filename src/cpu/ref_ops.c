/* ref_ops.c — the reference ops as plain loops with double accumulation.
 * Slow on purpose: this is the truth the fast CPU path and the GPU backends are
 * tested against, so it favours obviousness over speed. */
#include <math.h>
#include <stdlib.h>

#include "ref_ops.h"

void xf_ref_rmsnorm(const float *x, const float *w, float *y, int64_t rows, int n, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *yr = y + r * n;
        double ss = 0;
        for (int i = 0; i < n; i++) ss += (double)xr[i] * xr[i];
        double inv = 1.0 / sqrt(ss / n + eps);
        for (int i = 0; i < n; i++) yr[i] = (float)(xr[i] * inv * (w ? w[i] : 1.0f));
    }
}

void xf_ref_linear(const float *x, const xf_tensor *W, const xf_tensor *bias, float *y, int64_t T, int in,
                   int out, int accumulate) {
    float *wrow = malloc(sizeof(float) * (size_t)in);
    float *b = bias && bias->data ? malloc(sizeof(float) * (size_t)out) : NULL;
    if (!wrow || (bias && bias->data && !b)) abort(); /* reference path: tiny models only */
    if (b) xf_tensor_to_f32(bias, 0, out, b);
    for (int o = 0; o < out; o++) {
        xf_tensor_to_f32(W, (int64_t)o * in, in, wrow);
        for (int64_t t = 0; t < T; t++) {
            const float *xr = x + t * in;
            double acc = b ? b[o] : 0.0;
            for (int i = 0; i < in; i++) acc += (double)xr[i] * wrow[i];
            float *dst = &y[t * out + o];
            *dst = accumulate ? (float)(*dst + acc) : (float)acc;
        }
    }
    free(wrow);
    free(b);
}

void xf_ref_qknorm_rope(float *x, const float *w, float eps, const int32_t *pos, int64_t T, int nh, int D,
                        const float *cos, const float *sin) {
    const int half = D / 2;
    for (int64_t t = 0; t < T; t++) {
        const float *c = cos + (int64_t)pos[t] * half, *s = sin + (int64_t)pos[t] * half;
        for (int h = 0; h < nh; h++) {
            float *v = x + (t * nh + h) * D;
            if (w) xf_ref_rmsnorm(v, w, v, 1, D, eps);
            for (int j = 0; j < half; j++) {
                double a = v[j], b = v[j + half];
                v[j] = (float)(a * c[j] - b * s[j]);
                v[j + half] = (float)(b * c[j] + a * s[j]);
            }
        }
    }
}

void xf_ref_attention(const float *q, int64_t q_stride, const float *k, int64_t k_stride, const float *v,
                      int64_t v_stride, float *out, const int32_t *seq_start, int B, int nh, int nkv, int D,
                      xf_attn_mask mask) {
    const int group = nh / nkv;
    const double scale = 1.0 / sqrt((double)D);
    int max_len = 0;
    for (int b = 0; b < B; b++)
        if (seq_start[b + 1] - seq_start[b] > max_len) max_len = seq_start[b + 1] - seq_start[b];
    double *p = malloc(sizeof(double) * (size_t)(max_len ? max_len : 1));
    double *acc = malloc(sizeof(double) * (size_t)D);
    if (!p || !acc) abort();
    for (int b = 0; b < B; b++) {
        const int s0 = seq_start[b], len = seq_start[b + 1] - s0;
        for (int i = 0; i < len; i++)
            for (int h = 0; h < nh; h++) {
                const float *qi = q + (int64_t)(s0 + i) * q_stride + (int64_t)h * D;
                const int kh = h / group;
                int lo, hi; /* the keys of this sequence that query i sees */
                xf_mask_keys(mask, i, len, &lo, &hi);
                double mx = -INFINITY;
                for (int j = lo; j <= hi; j++) {
                    const float *kj = k + (int64_t)(s0 + j) * k_stride + (int64_t)kh * D;
                    double dot = 0;
                    for (int d = 0; d < D; d++) dot += (double)qi[d] * kj[d];
                    p[j] = dot * scale;
                    if (p[j] > mx) mx = p[j];
                }
                double sum = 0;
                for (int j = lo; j <= hi; j++) sum += (p[j] = exp(p[j] - mx));
                for (int d = 0; d < D; d++) acc[d] = 0;
                for (int j = lo; j <= hi; j++) {
                    const float *vj = v + (int64_t)(s0 + j) * v_stride + (int64_t)kh * D;
                    for (int d = 0; d < D; d++) acc[d] += p[j] * vj[d];
                }
                float *o = out + ((int64_t)(s0 + i) * nh + h) * D;
                for (int d = 0; d < D; d++) o[d] = (float)(acc[d] / sum);
            }
    }
    free(p);
    free(acc);
}

void xf_ref_swiglu(const float *gate, const float *up, float *out, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        double g = gate[i];
        out[i] = (float)(g / (1.0 + exp(-g)) * up[i]);
    }
}
