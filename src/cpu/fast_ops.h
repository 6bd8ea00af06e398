/* fast_ops.h — the fast CPU kernels in fp32: sgemm (oneDNN's where built in, else the
 * BLAS's) for linear layers and attention, OpenMP threads for the rest. fp32 in, fp32
 * out, matching ref_ops.h. */
#ifndef XF_FAST_OPS_H
#define XF_FAST_OPS_H

#include "../model.h"

/* y [T, out] (+)= x [T, in] · W[out, in]ᵀ + bias; W and bias must be fp32. */
void xf_fast_linear(const float *x, const float *W, const float *bias, float *y, int64_t T, int in, int out,
                    int accumulate);
/* As xf_ref_attention, threaded, float accumulation. */
void xf_fast_attention(const float *q, int64_t qs, const float *k, int64_t ks, const float *v, int64_t vs,
                       float *out, const int32_t *seq_start, int B, int nh, int nkv, int D, xf_attn_mask mask);
/* As xf_ref_rmsnorm and xf_ref_qknorm_rope (the same arithmetic), rows threaded. */
void xf_fast_rmsnorm(const float *x, const float *w, float *y, int64_t rows, int n, float eps);
void xf_fast_qknorm_rope(float *x, const float *w, float eps, const int32_t *pos, int64_t T, int nh, int D,
                         const float *cos, const float *sin);
/* out[i] = silu(gate[i]) * up[i] in fp32, threaded. */
void xf_fast_swiglu(const float *gate, const float *up, float *out, int64_t n);
/* The attention kernel's query tile in this build, for the kernel table (0: one
 * (token, head) pair per iteration, no tiles). */
int xf_fast_attention_tile(void);
/* Sets the thread count of BLAS and of the attention kernel (0: all cores). */
void xf_fast_set_threads(int n);

#endif /* XF_FAST_OPS_H */
