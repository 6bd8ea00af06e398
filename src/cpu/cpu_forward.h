/* cpu_forward.h — the CPU forward driver shared by the reference and the fast
 * CPU backends: both execute the plan's recipe (recipe.h) with the same executor,
 * the kernels that differ passed in as a small table. */
#ifndef XF_CPU_FORWARD_H
#define XF_CPU_FORWARD_H

#include <pthread.h>

#include "../backend.h"

typedef struct cpu_kernels {
    /* y [T, out] (+)= x [T, in] · Wᵀ + bias */
    void (*linear)(void *ctx, const float *x, const xf_tensor *W, const xf_tensor *bias, float *y, int64_t T,
                   int in, int out, int accumulate);
    /* as xf_ref_attention */
    void (*attention)(void *ctx, const float *q, int64_t qs, const float *k, int64_t ks, const float *v,
                      int64_t vs, float *out, const int32_t *seq_start, int B, int nh, int nkv, int D,
                      xf_attn_mask mask);
    /* as xf_ref_rmsnorm, xf_ref_qknorm_rope and xf_ref_swiglu */
    void (*rmsnorm)(const float *x, const float *w, float *y, int64_t rows, int n, float eps);
    void (*qknorm_rope)(float *x, const float *w, float eps, const int32_t *pos, int64_t T, int nh, int D,
                        const float *cos, const float *sin);
    void (*swiglu)(const float *gate, const float *up, float *out, int64_t n);
} cpu_kernels;

/* Activation scratch, grown on demand (the CPU path may allocate per forward).
 * One per engine: forwards on one state run one at a time (cpu_state.lock), since
 * a second forward would free or overwrite the buffers the first is using. */
typedef struct cpu_scratch {
    int64_t capacity;   /* tokens */
    float *x;           /* [T, H] residual stream */
    float *xn;          /* [T, H] normed input of a block */
    float *q;           /* [T, NH*D] */
    float *k;           /* [T, NKV*D] */
    float *v;           /* [T, NKV*D] */
    float *att;         /* [T, NH*D] */
    float *gate;        /* [T, I] */
    float *up;          /* [T, I] */
    float *lora;        /* [T, r_max] */
    float *rows;        /* [B, H] the recipe's POOLED rows (when not the result) */
    size_t bytes;
} cpu_scratch;

typedef struct cpu_state {
    const xf_model *model;
    const xf_layer *layers;     /* weights used by the forward: the model's, or converted/merged copies */
    xf_tensor embed, final_norm, lm_head, score;
    const xf_adapter *const *adapters;  /* NULL when merged */
    int32_t n_adapters;
    int32_t lora_rank;          /* largest rank of any adapter */
    const cpu_kernels *k;
    void *ctx;
    cpu_scratch s;              /* used under lock */
    float *rope_cos, *rope_sin; /* [rope_rows, D/2], grown to the longest sequence seen (under lock) */
    int32_t rope_rows;
    pthread_mutex_t lock;       /* held by each forward (xf_cpu_forward_op) */
    size_t peak;
    xf_layer *own_layers;       /* converted/merged layer table, or NULL */
    void **owned;               /* weight copies owned by the backend */
    int32_t n_owned;
    size_t weight_bytes;        /* bytes of weight copies */
} cpu_state;

/* How a CPU backend wants its matrices (linear weights, lm_head, score head). */
typedef enum cpu_weights {
    CPU_W_STORED = 0,   /* as stored (the reference reads any dtype) */
    CPU_W_F32 = 1,      /* fp32 (BLAS sgemm): a copy of every matrix not stored in fp32 */
    CPU_W_BF16 = 2      /* bf16 (oneDNN): matrices stored in bf16 used as they are, others
                           copied to bf16; q/k/v biases and the score head in fp32; the
                           embedding read as stored */
} cpu_weights;

/* Sets up weights for the CPU backends as `w` says; with cfg->merge, adapter 0 is
 * folded into the targeted weights (in fp32, then kept in the dtype `w` asks for). */
xf_status xf_cpu_state_init(cpu_state *cs, const xf_backend_config *cfg, cpu_weights w);
void xf_cpu_state_free(cpu_state *cs);

/* Runs plan->recipe (recipe.h) with cs's kernels. */
xf_status xf_cpu_forward(cpu_state *cs, const xf_plan *plan);
/* The weight a recipe op reads on the CPU (a LINEAR's first piece: wq of QKV, w_gate of
 * GATE_UP), as the backend holds it (converted or merged copies); NULL when none. */
const xf_tensor *xf_cpu_op_weight(const cpu_state *cs, const xf_op *op);
void xf_cpu_scratch_free(cpu_scratch *s);
/* Largest LoRA rank over the adapters. */
int32_t xf_cpu_max_rank(const xf_adapter *const *adapters, int32_t n);

/* What both CPU backends share: the f32 mode check (f32/tf32) and the op-table
 * entries whose kernels are the reference ones in both (fp32 in every mode the
 * backend accepts: the fast backend checks its bf16 mode itself). */
xf_status xf_cpu_check_mode(xf_dtype mode);
xf_status xf_cpu_op_rmsnorm(xf_dtype mode, const float *x, const float *w, float *y, int rows, int n, float eps);
xf_status xf_cpu_op_qknorm_rope(xf_dtype mode, float *x, const float *w, float eps, const int32_t *pos, int T,
                                int nh, int D, const float *cos, const float *sin);
xf_status xf_cpu_op_swiglu(xf_dtype mode, const float *gate, const float *up, float *out, int64_t n);
/* The kernel table of a CPU backend (backend.h: kernel): the entry of op, where
 * `loops` names the backend's elementwise kernels (rmsnorm, qk_rope, swiglu), `attention`
 * its attention kernel and `att_tile` that kernel's tile ("" none), and `linear(W)` the
 * matrix multiply the backend runs for a weight as it holds it, with its layout. */
typedef struct cpu_kernel_names {
    const char *loops, *attention, *att_tile;
    void (*linear)(const cpu_state *cs, const xf_tensor *W, char *kernel, size_t kn, char *layout, size_t ln);
} cpu_kernel_names;
void xf_cpu_kernel_entry(const cpu_state *cs, const cpu_kernel_names *names, const xf_op *op, xf_kernel_choice *out);
/* The name of a storage type: "f32", "bf16", "f16". */
const char *xf_cpu_wtype_name(xf_wtype t);
/* create / peak / destroy of a CPU backend whose kernels are `k` (called with `ctx`);
 * weights as in xf_cpu_state_init. The caller checks cfg->dtype first. */
xf_status xf_cpu_create(const xf_backend_config *cfg, const cpu_kernels *k, void *ctx, cpu_weights w, void **state);
xf_status xf_cpu_forward_op(void *state, const xf_plan *plan);
size_t xf_cpu_peak(void *state);
void xf_cpu_destroy(void *state);

#endif /* XF_CPU_FORWARD_H */
