/* ref_ops.h — the reference ops: plain loops, double accumulation, the truth
 * every other backend is tested against. Shapes as in backend.h's op table. */
#ifndef XF_REF_OPS_H
#define XF_REF_OPS_H

#include <stdint.h>

#include "../model.h"

/* y [rows, n] = x / sqrt(mean(x²) + eps) · w  (w NULL: no weight) */
void xf_ref_rmsnorm(const float *x, const float *w, float *y, int64_t rows, int n, float eps);
/* y [T, out] (+)= x [T, in] · W[out, in]ᵀ + bias[out]; W any storage type */
void xf_ref_linear(const float *x, const xf_tensor *W, const xf_tensor *bias, float *y, int64_t T,
                   int in, int out, int accumulate);
/* x [T, nh, D] in place: optional RMSNorm over each head (w [D]), then rotate-half RoPE
 * with cos/sin [P, D/2] at pos[t]. */
void xf_ref_qknorm_rope(float *x, const float *w, float eps, const int32_t *pos, int64_t T, int nh,
                        int D, const float *cos, const float *sin);
/* The keys [*lo, *hi] of its sequence (positions 0..len-1) that query i sees under `mask`. */
static inline void xf_mask_keys(xf_attn_mask mask, int i, int len, int *lo, int *hi) {
    *lo = mask.window > 0 && i - mask.window + 1 > 0 ? i - mask.window + 1 : 0;
    *hi = mask.kind == XF_MASK_FULL ? len - 1 : i;
}
/* out [T, nh, D]: softmax attention within each sequence (seq_start [B+1]) over the keys
 * `mask` lets each query see, scale 1/sqrt(D), query head h reads kv head h / (nh / nkv).
 * q/k/v rows may be strided: row t of q starts at q + t*q_stride (likewise k, v); out is dense. */
void xf_ref_attention(const float *q, int64_t q_stride, const float *k, int64_t k_stride,
                      const float *v, int64_t v_stride, float *out, const int32_t *seq_start, int B,
                      int nh, int nkv, int D, xf_attn_mask mask);
/* out[i] = silu(gate[i]) * up[i] */
void xf_ref_swiglu(const float *gate, const float *up, float *out, int64_t n);

#endif /* XF_REF_OPS_H */
