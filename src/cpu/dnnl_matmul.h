/* dnnl_matmul.h — the fast CPU backend's linear layers through oneDNN's matmul
 * primitive: y [T, out] (+)= x [T, in] · W[out, in]ᵀ + bias. In bf16, W is bf16 as
 * stored (never widened), x rounded to bf16 (nearest even) on the way in, products
 * accumulated in fp32 and y written in fp32; in f32 everything is fp32.
 *
 * Without oneDNN in the build (XFWD_HAVE_DNNL unset), xf_mm_create answers
 * XF_ERR_UNSUPPORTED and nothing else may be called. */
#ifndef XF_DNNL_MATMUL_H
#define XF_DNNL_MATMUL_H

#include <stdint.h>

#include "xfwd.h"

/* One context per engine: oneDNN's CPU engine and stream, the primitives made so
 * far (one per shape, reused across layers and forwards) and the bf16 copy of the
 * current input. Calls on one context must not overlap (the CPU backend holds its
 * forward lock). */
typedef struct xf_mm xf_mm;

/* XF_ERR_UNSUPPORTED when oneDNN is not built in, or (bf16 != 0) has no bf16 matmul
 * for this CPU (oneDNN 2.6 needs AVX-512; it emulates bf16 arithmetic exactly where
 * the CPU lacks the AVX512-BF16 instructions, so it is correct there, only slower). */
xf_status xf_mm_create(int bf16, xf_mm **out);
void xf_mm_free(xf_mm *mm);

/* y [T, out] (+)= x [T, in] · W[out, in]ᵀ + bias[out] (bias may be NULL). W is bf16
 * bits, row-major. accumulate: y += instead of y =. */
xf_status xf_mm_linear_bf16(xf_mm *mm, const float *x, const uint16_t *W, const float *bias, float *y, int64_t T,
                            int in, int out, int accumulate);

/* The same with fp32 W and x (exact fp32 arithmetic): the f32 mode's linear layers. */
xf_status xf_mm_linear_f32(xf_mm *mm, const float *x, const float *W, const float *bias, float *y, int64_t T, int in,
                           int out, int accumulate);

/* The CPU's own bf16 dot-product instructions (AVX512-BF16, or AMX-BF16): bf16 is
 * then the fast CPU mode. 0 elsewhere, and 0 when oneDNN is not built in. */
int xf_mm_bf16_native(void);

/* x [n] fp32 -> y [n] bf16 bits, round to nearest even (NaN stays NaN). Threaded. */
void xf_mm_to_bf16(const float *x, uint16_t *y, int64_t n);

#endif /* XF_DNNL_MATMUL_H */
