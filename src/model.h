/* model.h — the loaded model as every backend sees it: config, weight tensors
 * (memory-mapped, in their on-disk dtype), the RoPE table, and LoRA adapters. */
#ifndef XF_MODEL_H
#define XF_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "xfwd.h"

/* Storage type of a weight tensor. */
typedef enum xf_wtype { XF_W_F32 = 0, XF_W_BF16 = 1, XF_W_F16 = 2 } xf_wtype;

/* A weight tensor: a view, never owning. data == NULL means "absent". */
typedef struct xf_tensor {
    const void *data;   /* row-major; rows are shape[0] */
    xf_wtype type;
    int32_t ndim;       /* 1 or 2 */
    int64_t shape[2];   /* [out, in] for linear weights; [n] for vectors (shape[1] = 1) */
} xf_tensor;

/* Which keys of its own sequence query i sees in a layer's attention (never
 * another sequence's: every backend keeps sequences apart). The zero value is
 * the causal mask without a window. */
typedef enum xf_mask_kind {
    XF_MASK_CAUSAL = 0,     /* keys j <= i */
    XF_MASK_FULL = 1        /* every key of the sequence (bidirectional) */
} xf_mask_kind;

typedef struct xf_attn_mask {
    xf_mask_kind kind;
    int32_t window;         /* > 0 (causal only): also j > i - window; 0: no window */
} xf_attn_mask;

typedef struct xf_config {
    xf_arch arch;
    char model_type[32];
    char architecture[96];
    int32_t hidden;         /* H */
    int32_t intermediate;   /* I */
    int32_t n_layers;
    int32_t n_heads;        /* query heads */
    int32_t n_kv_heads;
    int32_t head_dim;       /* D */
    int32_t vocab;          /* V */
    int32_t max_pos;        /* max_position_embeddings */
    double eps;             /* rms_norm_eps */
    double rope_theta;
    /* llama3 rope scaling (rope_llama3 != 0) */
    int32_t rope_llama3;
    double rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int32_t rope_orig_max_pos;
    int32_t tie_embeddings;
    int32_t qkv_bias;       /* q/k/v have biases (Qwen2) */
    int32_t qk_norm;        /* q_norm / k_norm per head (Qwen3) */
    int32_t num_labels;     /* > 0: sequence classifier with score head */
    char **labels;          /* [num_labels] names, owned */
    int32_t pad_token_id;   /* classifiers score the last token != this; -1: none */
    xf_attn_mask *masks;    /* [n_layers] attention mask of each layer, owned; NULL: all causal */
} xf_config;

/* The attention mask of layer l (causal without a window where the config has none). */
static inline xf_attn_mask xf_config_mask(const xf_config *c, int l) {
    xf_attn_mask causal = {XF_MASK_CAUSAL, 0};
    return c->masks ? c->masks[l] : causal;
}

/* One decoder layer. Shapes: H hidden, D head_dim, NH heads, NKV kv heads, I intermediate. */
typedef struct xf_layer {
    xf_tensor attn_norm;    /* [H] */
    xf_tensor wq;           /* [NH*D, H] */
    xf_tensor wk;           /* [NKV*D, H] */
    xf_tensor wv;           /* [NKV*D, H] */
    xf_tensor bq, bk, bv;   /* [NH*D], [NKV*D], [NKV*D] or absent */
    xf_tensor q_norm;       /* [D] (Qwen3) or absent */
    xf_tensor k_norm;       /* [D] (Qwen3) or absent */
    xf_tensor wo;           /* [H, NH*D] */
    xf_tensor mlp_norm;     /* [H] post_attention_layernorm */
    xf_tensor w_gate;       /* [I, H] */
    xf_tensor w_up;         /* [I, H] */
    xf_tensor w_down;       /* [H, I] */
} xf_layer;

struct xf_st_file;          /* a memory-mapped safetensors file (safetensors.h) */

struct xf_model {
    xf_config cfg;
    xf_tensor embed;        /* [V, H] */
    xf_tensor final_norm;   /* [H] */
    xf_tensor lm_head;      /* [V, H]: embed when tied; absent for classifiers without one */
    xf_tensor score;        /* [L, H] or absent */
    xf_layer *layers;       /* [n_layers] */
    /* No RoPE table: each engine makes one (xf_rope_table, loader.h) for the
     * positions its batches reach, never for max_position_embeddings up front. */
    /* Ownership of what the tensors point into. */
    struct xf_st_file **files;
    int32_t n_files;
    void **owned;           /* heap blocks owned by the model (random weights) */
    int32_t n_owned;
    char *dir;
    struct xf_st_pipeline *st;  /* sentence-transformers modules (st_pipeline.h), owned; never NULL once open */
    char weight_dtype[8];
    int64_t n_params;
};

/* The LoRA modules a layer can have, in this order everywhere. */
typedef enum xf_module {
    XF_MOD_Q = 0, XF_MOD_K, XF_MOD_V, XF_MOD_O, XF_MOD_GATE, XF_MOD_UP, XF_MOD_DOWN, XF_MOD_COUNT
} xf_module;

/* One LoRA pair: y += scale * (x · Aᵀ) · Bᵀ. A == NULL: module not targeted. */
typedef struct xf_lora {
    int32_t r;
    float scale;            /* lora_alpha / r, or / sqrt(r) with use_rslora */
    int32_t in, out;
    float *A;               /* [r, in], fp32, owned */
    float *B;               /* [out, r], fp32, owned */
} xf_lora;

struct xf_adapter {
    int32_t n_layers;
    xf_lora (*mods)[XF_MOD_COUNT];  /* [n_layers][XF_MOD_COUNT] */
    char *dir;
};

/* Dimensions (out, in) of module `mod` of the model. */
void xf_module_dims(const xf_config *c, xf_module mod, int32_t *out, int32_t *in);
/* The weight tensor of module `mod` in layer `l`. */
const xf_tensor *xf_module_weight(const xf_layer *l, xf_module mod);
const char *xf_module_name(xf_module mod);  /* "q_proj", ... */

/* Converts n elements of a tensor starting at element `offset` to fp32 / bf16 / f16. */
void xf_tensor_to_f32(const xf_tensor *t, int64_t offset, int64_t n, float *dst);
void xf_tensor_to_bf16(const xf_tensor *t, int64_t offset, int64_t n, uint16_t *dst);
void xf_tensor_to_f16(const xf_tensor *t, int64_t offset, int64_t n, uint16_t *dst);
int64_t xf_tensor_numel(const xf_tensor *t);

/* Scalar conversions. */
float xf_bf16_to_f32(uint16_t h);
float xf_f16_to_f32(uint16_t h);
uint16_t xf_f32_to_bf16(float f);  /* round to nearest even */
uint16_t xf_f32_to_f16(float f);   /* round to nearest even */

#endif /* XF_MODEL_H */
