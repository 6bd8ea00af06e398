/* backend_cpu.c — the fast "cpu" backend: the CPU forward driver with fast linear
 * layers and threaded attention, in one of two modes:
 *   f32 (and tf32, the same here): BLAS sgemm on fp32 weights (a bf16/f16
 *     checkpoint is converted to fp32 once at creation);
 *   bf16: oneDNN bf16 matmuls with fp32 accumulation on bf16 weights (a bf16
 *     checkpoint used as stored, others converted to bf16 once); norms, RoPE,
 *     attention, SwiGLU and the residual stream stay fp32. Needs oneDNN in the
 *     build and a CPU it supports (dnnl_matmul.h).
 * Matches cpu_ref within the mode's tolerance (tests/test_ops.c, golden). */
#include <omp.h>
#include <stdlib.h>

#include "../error.h"
#include "cpu_forward.h"
#include "dnnl_matmul.h"
#include "fast_ops.h"
#include "ref_ops.h"

/* The fast backend's own part of the state (cpu_state.ctx). */
typedef struct fast_ctx {
    int n_threads;      /* resolved (> 0): set on the forward's thread before each forward */
    xf_mm *mm;          /* oneDNN matmuls; NULL without oneDNN (f32 mode: BLAS sgemm) */
    xf_status mm_status;/* first failure of a bf16 matmul inside a forward */
} fast_ctx;

static void fast_linear(void *ctx, const float *x, const xf_tensor *W, const xf_tensor *bias, float *y, int64_t T,
                        int in, int out, int accumulate) {
    fast_ctx *fc = ctx;
    const float *b = bias && bias->data ? bias->data : NULL;  /* fp32 (xf_cpu_state_init) */
    if (W->type == XF_W_BF16) {
        xf_status st = xf_mm_linear_bf16(fc->mm, x, W->data, b, y, T, in, out, accumulate);
        if (st != XF_OK && fc->mm_status == XF_OK) fc->mm_status = st;
        return;
    }
    /* fp32: f32 mode, LoRA factors, the score head */
    if (fc->mm) {
        xf_status st = xf_mm_linear_f32(fc->mm, x, W->data, b, y, T, in, out, accumulate);
        if (st != XF_OK && fc->mm_status == XF_OK) fc->mm_status = st;
        return;
    }
    xf_fast_linear(x, W->data, b, y, T, in, out, accumulate);
}

static void fast_attention(void *ctx, const float *q, int64_t qs, const float *k, int64_t ks, const float *v,
                           int64_t vs, float *out, const int32_t *seq_start, int B, int nh, int nkv, int D,
                           xf_attn_mask mask) {
    (void)ctx;
    xf_fast_attention(q, qs, k, ks, v, vs, out, seq_start, B, nh, nkv, D, mask);
}

static const cpu_kernels fast_kernels = {.linear = fast_linear,
                                         .attention = fast_attention,
                                         .rmsnorm = xf_fast_rmsnorm,
                                         .qknorm_rope = xf_fast_qknorm_rope,
                                         .swiglu = xf_fast_swiglu};

/* f32 and tf32 always; bf16 where oneDNN is built in (xf_mm_create says whether
 * this CPU can run it); f16 never. */
static xf_status fast_check_mode(xf_dtype mode) {
    if (mode == XF_DTYPE_F32 || mode == XF_DTYPE_TF32 || mode == XF_DTYPE_BF16) return XF_OK;
    return xf_error(XF_ERR_UNSUPPORTED, "the CPU backend computes in f32 or bf16: use --dtype f32 or bf16 "
                                        "(f16 needs a GPU backend)");
}

static void fast_free(fast_ctx *fc) {
    if (!fc) return;
    xf_mm_free(fc->mm);
    free(fc);
}

static xf_status cpu_create(const xf_backend_config *cfg, void **state) {
    xf_status st = fast_check_mode(cfg->dtype);
    if (st != XF_OK) return st;
    fast_ctx *fc = calloc(1, sizeof *fc);
    if (!fc) return xf_error(XF_ERR_NO_MEMORY, "out of host memory");
    fc->n_threads = cfg->n_threads > 0 ? cfg->n_threads : omp_get_num_procs();
    xf_fast_set_threads(fc->n_threads);
    /* oneDNN's matmul in either mode where it is built in: in f32 too, its kernels
     * divide a forward's short (T-row) products between the threads where the sgemms
     * of OpenBLAS 0.3.21 and oneDNN do not (bench/cpu.md) */
    const int bf16 = cfg->dtype == XF_DTYPE_BF16;
    st = xf_mm_create(bf16, &fc->mm);
    if (st != XF_OK && (bf16 || st != XF_ERR_UNSUPPORTED)) {
        fast_free(fc);
        return st;
    }
    st = xf_cpu_create(cfg, &fast_kernels, fc, bf16 ? CPU_W_BF16 : CPU_W_F32, state);
    if (st != XF_OK) fast_free(fc);
    return st;
}

/* The thread count is an OpenMP setting of the calling thread: set it on the
 * thread that runs this forward (engines may be called from any thread). */
static xf_status cpu_forward(void *state, const xf_plan *plan) {
    cpu_state *cs = state;
    fast_ctx *fc = cs->ctx;
    pthread_mutex_lock(&cs->lock);
    omp_set_num_threads(fc->n_threads);
    fc->mm_status = XF_OK;
    xf_status st = xf_cpu_forward(cs, plan);
    if (st == XF_OK) st = fc->mm_status;
    pthread_mutex_unlock(&cs->lock);
    return st;
}

static void cpu_destroy(void *state) {
    if (!state) return;
    fast_ctx *fc = ((cpu_state *)state)->ctx;
    xf_cpu_destroy(state);
    fast_free(fc);
}

/* bf16 when every layer matrix is stored in bf16 (norms may be fp32: "mixed"
 * checkpoints count) and the CPU runs bf16 natively. */
xf_dtype xf_cpu_auto_dtype(const xf_model *m) {
    if (m->cfg.n_layers < 1 || !xf_mm_bf16_native()) return XF_DTYPE_F32;
    for (int l = 0; l < m->cfg.n_layers; l++)
        for (int mod = 0; mod < XF_MOD_COUNT; mod++)
            if (xf_module_weight(&m->layers[l], (xf_module)mod)->type != XF_W_BF16) return XF_DTYPE_F32;
    return XF_DTYPE_BF16;
}

/* ---------------------------------------------------------------- kernel table */

/* The matrix multiply a forward runs for W as the backend holds it (fast_linear). */
static void linear_name(const cpu_state *cs, const xf_tensor *W, char *k, size_t kn, char *l, size_t ln) {
    const fast_ctx *fc = cs->ctx;
    if (W->type == XF_W_BF16) {
        snprintf(k, kn, "oneDNN bf16 matmul");
        snprintf(l, ln, "bf16 W [out,in]; x rounded to bf16, f32 acc.");
    } else {
        snprintf(k, kn, "%s", fc->mm ? "oneDNN f32 matmul" : "cblas_sgemm");
        snprintf(l, ln, "f32 W [out,in] row-major");
    }
}

/* One kernel per op but linear, whose kernel follows the weight's storage
 * (linear_name); chosen by the build (oneDNN or not) and the dtype, at creation. */
static void cpu_kernel(void *state, const xf_op *op, xf_kernel_choice *out) {
    char tile[32] = "";
    if (xf_fast_attention_tile() > 0) snprintf(tile, sizeof tile, "%d queries", xf_fast_attention_tile());
    const cpu_kernel_names names = {
        .loops = "OpenMP threads",
        .attention = xf_fast_attention_tile() > 0 ? "tiled attention (oneDNN sgemm, OpenMP)"
                                                  : "attention loops per (token, head) (OpenMP)",
        .att_tile = tile,
        .linear = linear_name,
    };
    xf_cpu_kernel_entry(state, &names, op, out);
}

/* ---------------------------------------------------------------- op table */

/* The op tests' choice per op (select): the variant + 1, 0 for the default. Test-only
 * state, like the entry points it steers; not used by forwards. */
static int chosen[XF_OPT_COUNT];

/* linear's kernels in `mode`: bf16 has two (oneDNN bf16 for the matrices a forward holds
 * in bf16, oneDNN f32 for the fp32 ones: LoRA factors, the score head); f32 one. */
static int linear_variants(xf_dtype mode, xf_kernel_choice *out, int max) {
    static const xf_kernel_choice bf16[2] = {
        {"oneDNN bf16 matmul", "", "bf16 W [out,in]; x rounded to bf16, f32 acc."},
        {"oneDNN f32 matmul", "", "f32 W [out,in] (LoRA factors, score head)"},
    };
#ifdef XFWD_HAVE_DNNL
    static const xf_kernel_choice f32 = {"oneDNN f32 matmul", "", "f32 W [out,in] row-major"};
#else
    static const xf_kernel_choice f32 = {"cblas_sgemm", "", "f32 W [out,in] row-major"};
#endif
    const xf_kernel_choice *list = mode == XF_DTYPE_BF16 ? bf16 : &f32;
    int n = mode == XF_DTYPE_BF16 ? 2 : 1;
#ifndef XFWD_HAVE_DNNL
    if (mode == XF_DTYPE_BF16) n = 0;
#endif
    if (mode == XF_DTYPE_F16) n = 0;
    for (int i = 0; i < n && i < max; i++) out[i] = list[i];
    return n;
}

static int cpu_variants(int id, xf_dtype mode, xf_kernel_choice *out, int max) {
    if (fast_check_mode(mode) != XF_OK) {
        xf_error_clear();
        return 0;
    }
    if (id == XF_OP_LINEAR) return linear_variants(mode, out, max);
    if (id == XF_OPT_LINEAR_SWIGLU) {
        xf_kernel_choice lin[2];
        const int n = linear_variants(mode, lin, 2);
        for (int i = 0; i < n && i < max; i++) {
            out[i] = lin[i];
            snprintf(out[i].kernel, sizeof out[i].kernel, "%.40s x2, then swiglu", lin[i].kernel);
        }
        return n;
    }
    /* embed and pool have no entry point: nothing to test */
    if (id != XF_OP_RMSNORM && id != XF_OP_QK_ROPE && id != XF_OP_ATTENTION && id != XF_OP_SWIGLU) return 0;
    const xf_op op = {.kind = (xf_op_kind)id};
    if (max > 0) cpu_kernel(NULL, &op, out);
    return 1;
}

static xf_status cpu_select(int id, int variant) {
    if (id < 0 || id >= XF_OPT_COUNT || variant < -1 || variant > (id == XF_OP_LINEAR || id == XF_OPT_LINEAR_SWIGLU))
        return xf_error(XF_ERR_INVALID_ARG, "cpu: op %d has no kernel variant %d", id, variant);
    chosen[id] = variant + 1;
    return XF_OK;
}

/* y = x·Wᵀ + b in `mode` with the linear kernel `variant` (-1: the default): bf16 rounds W
 * to bf16 as a checkpoint would store it, then runs the engine's path. */
static xf_status run_linear(int variant, xf_dtype mode, const float *x, const float *W, const float *bias, float *y,
                            int T, int in, int out, int accumulate) {
    xf_status st = fast_check_mode(mode);
    if (st != XF_OK) return st;
    const int bf16 = mode == XF_DTYPE_BF16 && variant <= 0;
    if (variant > 0 && mode != XF_DTYPE_BF16)
        return xf_error(XF_ERR_UNSUPPORTED, "cpu: linear variant %d is a bf16-mode kernel", variant);
    xf_mm *mm = NULL;
    uint16_t *Wb = NULL;
    st = xf_mm_create(bf16, &mm);
    if (st == XF_ERR_UNSUPPORTED && !bf16 && mode != XF_DTYPE_BF16) {
        xf_error_clear();  /* no oneDNN: BLAS sgemm, the f32 mode's kernel */
        xf_fast_linear(x, W, bias, y, T, in, out, accumulate);
        return XF_OK;
    }
    if (st == XF_OK && bf16) {
        Wb = malloc(sizeof(uint16_t) * (size_t)out * (size_t)in + 1);
        if (!Wb) st = xf_error(XF_ERR_NO_MEMORY, "out of host memory");
        else xf_mm_to_bf16(W, Wb, (int64_t)out * in);
    }
    if (st == XF_OK)
        st = bf16 ? xf_mm_linear_bf16(mm, x, Wb, bias, y, T, in, out, accumulate)
                  : xf_mm_linear_f32(mm, x, W, bias, y, T, in, out, accumulate);
    xf_mm_free(mm);
    free(Wb);
    return st;
}

static xf_status op_linear(xf_dtype mode, const float *x, const float *W, const float *bias, float *y, int T,
                           int in, int out, int accumulate) {
    return run_linear(chosen[XF_OP_LINEAR] - 1, mode, x, W, bias, y, T, in, out, accumulate);
}

/* gate|up then SwiGLU as a forward runs it: two linears (gate rows, up rows), then swiglu */
static xf_status op_linear_swiglu(xf_dtype mode, const float *x, const float *W, float *out, int T, int in, int I) {
    const int v = chosen[XF_OPT_LINEAR_SWIGLU] - 1;
    float *up = malloc(sizeof(float) * (size_t)T * (size_t)I + 1);
    if (!up) return xf_error(XF_ERR_NO_MEMORY, "out of host memory");
    xf_status st = run_linear(v, mode, x, W, NULL, out, T, in, I, 0);
    if (st == XF_OK) st = run_linear(v, mode, x, W + (int64_t)I * in, NULL, up, T, in, I, 0);
    if (st == XF_OK) xf_fast_swiglu(out, up, out, (int64_t)T * I);
    free(up);
    return st;
}

static xf_status op_rmsnorm(xf_dtype mode, const float *x, const float *w, float *y, int rows, int n, float eps) {
    xf_fast_rmsnorm(x, w, y, rows, n, eps);
    return fast_check_mode(mode);
}

static xf_status op_qknorm_rope(xf_dtype mode, float *x, const float *w, float eps, const int32_t *pos, int T,
                                int nh, int D, const float *cos, const float *sin) {
    xf_fast_qknorm_rope(x, w, eps, pos, T, nh, D, cos, sin);
    return fast_check_mode(mode);
}

static xf_status op_attention(xf_dtype mode, const float *q, const float *k, const float *v, float *out,
                              const int32_t *seq_start, int B, int nh, int nkv, int D, xf_attn_mask mask) {
    xf_fast_attention(q, (int64_t)nh * D, k, (int64_t)nkv * D, v, (int64_t)nkv * D, out, seq_start, B, nh, nkv, D,
                      mask);
    return fast_check_mode(mode);
}

static xf_status op_swiglu(xf_dtype mode, const float *gate, const float *up, float *out, int64_t n) {
    xf_fast_swiglu(gate, up, out, n);
    return fast_check_mode(mode);
}

static const xf_op_table fast_ops = {
    .rmsnorm = op_rmsnorm,
    .linear = op_linear,
    .qknorm_rope = op_qknorm_rope,
    .attention = op_attention,
    .swiglu = op_swiglu,
    .linear_swiglu = op_linear_swiglu,
    .variants = cpu_variants,
    .select = cpu_select,
};

const xf_backend_ops xf_backend_cpu = {
    .name = "cpu",
    .create = cpu_create,
    .forward = cpu_forward,
    .peak_memory = xf_cpu_peak,
    .destroy = cpu_destroy,
    .ops = &fast_ops,
    .kernel = cpu_kernel,
};
