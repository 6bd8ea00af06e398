/* cpu_forward.h — the CPU forward driver shared by the reference and the fast
 * CPU backends: the same sequence of ops, with the kernels that differ passed
 * in as a small table. */
#ifndef XF_CPU_FORWARD_H
#define XF_CPU_FORWARD_H

#include "../backend.h"

typedef struct cpu_kernels {
    /* y [T, out] (+)= x [T, in] · Wᵀ + bias */
    void (*linear)(void *ctx, const float *x, const xf_tensor *W, const xf_tensor *bias, float *y, int64_t T,
                   int in, int out, int accumulate);
    /* as xf_ref_attention */
    void (*attention)(void *ctx, const float *q, int64_t qs, const float *k, int64_t ks, const float *v,
                      int64_t vs, float *out, const int32_t *seq_start, int B, int nh, int nkv, int D);
} cpu_kernels;

/* Activation scratch, grown on demand (the CPU path may allocate per forward). */
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
    float *rows;        /* [B, H] gathered last-token rows */
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
    cpu_scratch s;
    size_t peak;
    xf_layer *own_layers;       /* converted/merged layer table, or NULL */
    void **owned;               /* weight copies owned by the backend */
    int32_t n_owned;
    size_t weight_bytes;        /* bytes of weight copies */
} cpu_state;

/* Sets up weights for the CPU backends: with need_f32, every weight is given as
 * an fp32 copy (for BLAS) unless already fp32; with cfg->merge, adapter 0 is
 * folded into the targeted weights. */
xf_status xf_cpu_state_init(cpu_state *cs, const xf_backend_config *cfg, int need_f32);
void xf_cpu_state_free(cpu_state *cs);

xf_status xf_cpu_forward(cpu_state *cs, const xf_plan *plan);
void xf_cpu_scratch_free(cpu_scratch *s);
/* Largest LoRA rank over the adapters. */
int32_t xf_cpu_max_rank(const xf_adapter *const *adapters, int32_t n);

#endif /* XF_CPU_FORWARD_H */
