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

/* gate|up then SwiGLU as the reference forward runs it: two linears, then swiglu */
static xf_status op_linear_swiglu(xf_dtype mode, const float *x, const float *W, float *out, int T, int in, int I) {
    float *up = malloc(sizeof(float) * (size_t)T * (size_t)I + 1);
    if (!up) return xf_error(XF_ERR_NO_MEMORY, "out of host memory");
    xf_tensor Wg = {.data = W, .type = XF_W_F32, .ndim = 2, .shape = {I, in}};
    xf_tensor Wu = {.data = W + (int64_t)I * in, .type = XF_W_F32, .ndim = 2, .shape = {I, in}};
    xf_ref_linear(x, &Wg, NULL, out, T, in, I, 0);
    xf_ref_linear(x, &Wu, NULL, up, T, in, I, 0);
    xf_ref_swiglu(out, up, out, (int64_t)T * I);
    free(up);
    return xf_cpu_check_mode(mode);
}

/* ---------------------------------------------------------------- kernel table */

static void ref_linear_name(const cpu_state *cs, const xf_tensor *W, char *k, size_t kn, char *l, size_t ln) {
    (void)cs;
    snprintf(k, kn, "ref loops (double acc.)");
    snprintf(l, ln, "%s W [out,in] as stored, rows to f32", xf_cpu_wtype_name(W->type));
}

static const cpu_kernel_names ref_names = {
    .loops = "ref loops, double",
    .attention = "ref loops per (query, head), double",
    .att_tile = "",
    .linear = ref_linear_name,
};

/* Every op is its plain loop (ref_ops.c): one kernel per op, in f32 only. */
static void ref_kernel(void *state, const xf_op *op, xf_kernel_choice *out) {
    xf_cpu_kernel_entry(state, &ref_names, op, out);
}

static int ref_variants(int id, xf_dtype mode, xf_kernel_choice *out, int max) {
    if (mode != XF_DTYPE_F32 && mode != XF_DTYPE_TF32) return 0;
    /* embed and pool have no entry point: nothing to test */
    if (id != XF_OP_RMSNORM && id != XF_OP_LINEAR && id != XF_OP_QK_ROPE && id != XF_OP_ATTENTION &&
        id != XF_OP_SWIGLU && id != XF_OPT_LINEAR_SWIGLU)
        return 0;
    if (max < 1) return 1;
    const xf_tensor W = {.type = XF_W_F32};
    const xf_op op = {.kind = id == XF_OPT_LINEAR_SWIGLU ? XF_OP_LINEAR : (xf_op_kind)id};
    ref_kernel(NULL, &op, out);
    if (op.kind == XF_OP_LINEAR) ref_linear_name(NULL, &W, out->kernel, sizeof out->kernel, out->layout, sizeof out->layout);
    if (id == XF_OPT_LINEAR_SWIGLU) snprintf(out->kernel, sizeof out->kernel, "ref loops x2, then swiglu");
    return 1;
}

static xf_status ref_select(int id, int variant) {
    if (id < 0 || id >= XF_OPT_COUNT || variant < -1 || variant > 0)
        return xf_error(XF_ERR_INVALID_ARG, "cpu_ref: op %d has no kernel variant %d", id, variant);
    return XF_OK;
}

static const xf_op_table ref_ops = {
    .rmsnorm = xf_cpu_op_rmsnorm,
    .linear = op_linear,
    .qknorm_rope = xf_cpu_op_qknorm_rope,
    .attention = op_attention,
    .swiglu = xf_cpu_op_swiglu,
    .linear_swiglu = op_linear_swiglu,
    .variants = ref_variants,
    .select = ref_select,
};

const xf_backend_ops xf_backend_cpu_ref = {
    .name = "cpu_ref",
    .create = ref_create,
    .forward = xf_cpu_forward_op,
    .peak_memory = xf_cpu_peak,
    .destroy = xf_cpu_destroy,
    .ops = &ref_ops,
    .kernel = ref_kernel,
};
