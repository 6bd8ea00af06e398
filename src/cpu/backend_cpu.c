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
                           int64_t vs, float *out, const int32_t *seq_start, int B, int nh, int nkv, int D) {
    (void)ctx;
    xf_fast_attention(q, qs, k, ks, v, vs, out, seq_start, B, nh, nkv, D);
}

static const cpu_kernels fast_kernels = {.linear = fast_linear, .attention = fast_attention};

static xf_status check_mode(xf_dtype mode) {
    if (mode == XF_DTYPE_F32 || mode == XF_DTYPE_TF32) return XF_OK;
    return xf_error(XF_ERR_UNSUPPORTED, "the CPU backends compute in f32: use --dtype f32 (bf16/f16 need a GPU backend)");
}

static xf_status cpu_create(const xf_backend_config *cfg, void **state) {
    xf_status st = check_mode(cfg->dtype);
    if (st != XF_OK) return st;
    cpu_state *cs = calloc(1, sizeof *cs);
    if (!cs) return xf_error(XF_ERR_NO_MEMORY, "out of host memory");
    /* biases and norms stay in their stored dtype (read per use); matrices become fp32 */
    st = xf_cpu_state_init(cs, cfg, 1);
    if (st != XF_OK) {
        xf_cpu_state_free(cs);
        free(cs);
        return st;
    }
    xf_fast_set_threads(cfg->n_threads);
    cs->k = &fast_kernels;
    *state = cs;
    return XF_OK;
}

static xf_status cpu_forward(void *state, const xf_plan *plan) { return xf_cpu_forward(state, plan); }

static size_t cpu_peak(void *state) {
    cpu_state *cs = state;
    return cs->peak + cs->weight_bytes;
}

static void cpu_destroy(void *state) {
    if (!state) return;
    xf_cpu_state_free(state);
    free(state);
}

/* ---------------------------------------------------------------- op table */

static xf_status op_rmsnorm(xf_dtype mode, const float *x, const float *w, float *y, int rows, int n, float eps) {
    xf_ref_rmsnorm(x, w, y, rows, n, eps);
    return check_mode(mode);
}

static xf_status op_linear(xf_dtype mode, const float *x, const float *W, const float *bias, float *y, int T,
                           int in, int out, int accumulate) {
    xf_fast_linear(x, W, bias, y, T, in, out, accumulate);
    return check_mode(mode);
}

static xf_status op_qknorm_rope(xf_dtype mode, float *x, const float *w, float eps, const int32_t *pos, int T,
                                int nh, int D, const float *cos, const float *sin) {
    xf_ref_qknorm_rope(x, w, eps, pos, T, nh, D, cos, sin);
    return check_mode(mode);
}

static xf_status op_attention(xf_dtype mode, const float *q, const float *k, const float *v, float *out,
                              const int32_t *seq_start, int B, int nh, int nkv, int D) {
    xf_fast_attention(q, (int64_t)nh * D, k, (int64_t)nkv * D, v, (int64_t)nkv * D, out, seq_start, B, nh, nkv, D);
    return check_mode(mode);
}

static xf_status op_swiglu(xf_dtype mode, const float *gate, const float *up, float *out, int64_t n) {
    xf_ref_swiglu(gate, up, out, n);
    return check_mode(mode);
}

static const xf_op_table fast_ops = {
    .rmsnorm = op_rmsnorm,
    .linear = op_linear,
    .qknorm_rope = op_qknorm_rope,
    .attention = op_attention,
    .swiglu = op_swiglu,
};

const xf_backend_ops xf_backend_cpu = {
    .name = "cpu",
    .create = cpu_create,
    .forward = cpu_forward,
    .peak_memory = cpu_peak,
    .destroy = cpu_destroy,
    .ops = &fast_ops,
};
