/* backend_ref.c — the "cpu_ref" backend: the CPU forward driver with the plain
 * reference kernels, reading weights in their stored dtype. Also the reference
 * op table that op tests compare every other backend against. */
#include <stdlib.h>

#include "../error.h"
#include "cpu_forward.h"
#include "ref_ops.h"

static void ref_linear(void *ctx, const float *x, const xf_tensor *W, const xf_tensor *bias, float *y, int64_t T,
                       int in, int out, int accumulate) {
    (void)ctx;
    xf_ref_linear(x, W, bias, y, T, in, out, accumulate);
}

static void ref_attention(void *ctx, const float *q, int64_t qs, const float *k, int64_t ks, const float *v,
                          int64_t vs, float *out, const int32_t *seq_start, int B, int nh, int nkv, int D,
                          xf_attn_mask mask) {
    (void)ctx;
    xf_ref_attention(q, qs, k, ks, v, vs, out, seq_start, B, nh, nkv, D, mask);
}

static const cpu_kernels ref_kernels = {.linear = ref_linear,
                                        .attention = ref_attention,
                                        .rmsnorm = xf_ref_rmsnorm,
                                        .qknorm_rope = xf_ref_qknorm_rope,
                                        .swiglu = xf_ref_swiglu};

static xf_status ref_create(const xf_backend_config *cfg, void **state) {
    xf_status st = xf_cpu_check_mode(cfg->dtype);
    if (st != XF_OK) return st;
    return xf_cpu_create(cfg, &ref_kernels, NULL, CPU_W_STORED, state);
}

/* ---------------------------------------------------------------- op table */

static xf_status op_linear(xf_dtype mode, const float *x, const float *W, const float *bias, float *y, int T,
                           int in, int out, int accumulate) {
    xf_tensor Wt = {.data = W, .type = XF_W_F32, .ndim = 2, .shape = {out, in}};
    xf_tensor bt = {.data = bias, .type = XF_W_F32, .ndim = 1, .shape = {out, 1}};
    xf_ref_linear(x, &Wt, &bt, y, T, in, out, accumulate);
    return xf_cpu_check_mode(mode);
}

static xf_status op_attention(xf_dtype mode, const float *q, const float *k, const float *v, float *out,
                              const int32_t *seq_start, int B, int nh, int nkv, int D, xf_attn_mask mask) {
    xf_ref_attention(q, (int64_t)nh * D, k, (int64_t)nkv * D, v, (int64_t)nkv * D, out, seq_start, B, nh, nkv, D,
                     mask);
    return xf_cpu_check_mode(mode);
}

static const xf_op_table ref_ops = {
    .rmsnorm = xf_cpu_op_rmsnorm,
    .linear = op_linear,
    .qknorm_rope = xf_cpu_op_qknorm_rope,
    .attention = op_attention,
    .swiglu = xf_cpu_op_swiglu,
};

const xf_backend_ops xf_backend_cpu_ref = {
    .name = "cpu_ref",
    .create = ref_create,
    .forward = xf_cpu_forward_op,
    .peak_memory = xf_cpu_peak,
    .destroy = xf_cpu_destroy,
    .ops = &ref_ops,
};
