/* backend_cpu.c — the fast "cpu" backend: the CPU forward driver with BLAS
 * linear layers (weights converted to fp32 once at creation) and threaded
 * attention. Matches cpu_ref within fp32 tolerance (tests/test_ops.c, golden). */
#include <stdlib.h>

#include "../error.h"
#include "cpu_forward.h"
#include "fast_ops.h"
#include "ref_ops.h"

static void fast_linear(void *ctx, const float *x, const xf_tensor *W, const xf_tensor *bias, float *y, int64_t T,
                        int in, int out, int accumulate) {
    (void)ctx;
    xf_fast_linear(x, W->data, bias && bias->data ? bias->data : NULL, y, T, in, out, accumulate);
}

static void fast_attention(void *ctx, const float *q, int64_t qs, const float *k, int64_t ks, const float *v,
                           int64_t vs, float *out, const int32_t *seq_start, int B, int nh, int nkv, int D,
                           xf_attn_mask mask) {
    (void)ctx;
    xf_fast_attention(q, qs, k, ks, v, vs, out, seq_start, B, nh, nkv, D, mask);
}

static const cpu_kernels fast_kernels = {.linear = fast_linear, .attention = fast_attention};

/* Matrices become fp32 copies once (for BLAS); norms are read per use. */
static xf_status cpu_create(const xf_backend_config *cfg, void **state) {
    xf_status st = xf_cpu_create(cfg, &fast_kernels, 1, state);
    if (st == XF_OK) xf_fast_set_threads(cfg->n_threads);
    return st;
}

/* ---------------------------------------------------------------- op table */

static xf_status op_linear(xf_dtype mode, const float *x, const float *W, const float *bias, float *y, int T,
                           int in, int out, int accumulate) {
    xf_fast_linear(x, W, bias, y, T, in, out, accumulate);
    return xf_cpu_check_mode(mode);
}

static xf_status op_attention(xf_dtype mode, const float *q, const float *k, const float *v, float *out,
                              const int32_t *seq_start, int B, int nh, int nkv, int D, xf_attn_mask mask) {
    xf_fast_attention(q, (int64_t)nh * D, k, (int64_t)nkv * D, v, (int64_t)nkv * D, out, seq_start, B, nh, nkv, D,
                      mask);
    return xf_cpu_check_mode(mode);
}

static const xf_op_table fast_ops = {
    .rmsnorm = xf_cpu_op_rmsnorm,
    .linear = op_linear,
    .qknorm_rope = xf_cpu_op_qknorm_rope,
    .attention = op_attention,
    .swiglu = xf_cpu_op_swiglu,
};

const xf_backend_ops xf_backend_cpu = {
    .name = "cpu",
    .create = cpu_create,
    .forward = xf_cpu_forward_op,
    .peak_memory = xf_cpu_peak,
    .destroy = xf_cpu_destroy,
    .ops = &fast_ops,
};
