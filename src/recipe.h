/* recipe.h — the forward recipe as data: the ordered list of ops of one forward
 * for a model, its adapters and the output asked for. Built once per engine and
 * output kind (xf_recipe_build), outside the backends; the CPU reference, the CPU
 * fast path, CUDA (captured into its graphs) and Vulkan (recorded into its one
 * command buffer) all execute this list, op by op, in order.
 *
 * Buffers are logical and named (xf_buf); where each lives (which device buffer,
 * which offset, which element type, which layout) is the executing backend's
 * choice, reported by its kernel table. Row counts are symbolic: T (tokens of the
 * chunk) or B (its sequences); columns are exact.
 *
 * The layer, for every architecture xfwd runs (Llama, Qwen2, Qwen3, Mistral):
 *   RMSNORM    X   -> XN   attn_norm
 *   LINEAR     XN  -> QKV  q|k|v (+ bias on Qwen2; LoRA q, k, v)
 *   QK_ROPE    QKV in place: per-head q/k norm (Qwen3), then RoPE on q and k
 *   ATTENTION  QKV -> ATT  GQA within each sequence, the layer's mask
 *   LINEAR     ATT -> X    o, accumulated into the residual (LoRA o)
 *   RMSNORM    X   -> XN   mlp_norm
 *   LINEAR     XN  -> GU   gate|up (LoRA gate, up)
 *   SWIGLU     GU  -> ACT  silu(gate) ⊙ up
 *   LINEAR     ACT -> X    down, accumulated (LoRA down)
 * then the head (final norm, and pooling / lm_head / score head).
 *
 * Rewrites a backend may apply (and only these; each keeps the result of the ops
 * it replaces, and is reported by the kernel table):
 *   - a fused LINEAR whose weight is a concatenation (QKV, GATE_UP) may run as one
 *     matrix multiply per piece (the CPU runs q, k, v as three);
 *   - LINEAR(GATE_UP) immediately followed by SWIGLU on its output may run as one
 *     kernel when the LINEAR carries no LoRA term (xf_op.fuse_next = 1 marks it);
 *   - RMSNORM then POOL(LAST) may normalise only the pooled rows. */
#ifndef XF_RECIPE_H
#define XF_RECIPE_H

#include <stdint.h>
#include <stdio.h>

#include "model.h"
#include "xfwd.h"

typedef enum xf_output { XF_OUT_HIDDEN = 0, XF_OUT_LOGITS, XF_OUT_EMBED, XF_OUT_CLASSIFY } xf_output;

/* Logical buffers. Shapes: H hidden, D head_dim, NH/NKV heads, Q = NH·D, KV = NKV·D,
 * I intermediate, V vocab, L labels. */
typedef enum xf_buf {
    XF_BUF_NONE = 0,
    XF_BUF_X,       /* [T, H]   residual stream, fp32 on every backend */
    XF_BUF_XN,      /* [T, H]   normalised rows, the next matrix multiply's input */
    XF_BUF_QKV,     /* [T, Q + 2·KV]  q | k | v */
    XF_BUF_ATT,     /* [T, Q]   attention output */
    XF_BUF_GU,      /* [T, 2I]  gate | up */
    XF_BUF_ACT,     /* [T, I]   silu(gate) ⊙ up */
    XF_BUF_HIDDEN,  /* [T, H]   final hidden states, fp32 */
    XF_BUF_POOLED,  /* [B, H]   pooled (and maybe L2-normalised) rows, fp32 */
    XF_BUF_LOGITS,  /* [T, V]   fp32 */
    XF_BUF_SCORES,  /* [B, L]   fp32 */
    XF_BUF_COUNT
} xf_buf;

/* Weights an op reads: per layer (layer >= 0) or the model's. */
typedef enum xf_weight {
    XF_WT_NONE = 0,
    XF_WT_EMBED,      /* [V, H] */
    XF_WT_ATTN_NORM,  /* [H] */
    XF_WT_QKV,        /* [Q + 2·KV, H] = wq | wk | wv, bias bq | bk | bv where present */
    XF_WT_QK_NORM,    /* q_norm, k_norm [D] (Qwen3) */
    XF_WT_O,          /* [H, Q] */
    XF_WT_MLP_NORM,   /* [H] */
    XF_WT_GATE_UP,    /* [2I, H] = w_gate | w_up */
    XF_WT_DOWN,       /* [H, I] */
    XF_WT_FINAL_NORM, /* [H] */
    XF_WT_LM_HEAD,    /* [V, H] */
    XF_WT_SCORE,      /* [L, H] */
    XF_WT_COUNT
} xf_weight;

typedef enum xf_op_kind {
    XF_OP_EMBED = 0,    /* dst [T, H] = embed[tokens] */
    XF_OP_RMSNORM,      /* dst = src / rms(src) · weight, row by row (eps from the config) */
    XF_OP_LINEAR,       /* dst (+)= src · weightᵀ (+ bias) (+ the LoRA terms of `lora`) */
    XF_OP_QK_ROPE,      /* q and k of src in place: per-head norm when `norm`, then RoPE */
    XF_OP_ATTENTION,    /* dst = softmax(q·kᵀ/√D under `mask`)·v within each sequence; GQA */
    XF_OP_SWIGLU,       /* dst [T, I] = silu(src[:, :I]) ⊙ src[:, I:] */
    XF_OP_POOL,         /* dst [B, H] = pooled rows of src (pooling, normalize) */
    XF_OP_COUNT
} xf_op_kind;

typedef enum xf_rows { XF_ROWS_T = 0, XF_ROWS_B = 1 } xf_rows;

typedef struct xf_op {
    xf_op_kind kind;
    int32_t layer;          /* -1: not in a layer */
    xf_buf src, dst;        /* QK_ROPE: src == dst (in place) */
    xf_weight weight;
    xf_rows rows;           /* src's rows: T, or B for the score head */
    int32_t in, out;        /* columns of src and of dst */
    int32_t accumulate;     /* LINEAR: dst += (the residual) */
    int32_t bias;           /* LINEAR: the weight has a bias */
    int32_t norm;           /* QK_ROPE: per-head q/k norm before RoPE */
    uint32_t lora;          /* LINEAR: bit (1u << m) — the LoRA term of module m (xf_module) is added
                             * for the sequences whose adapter targets it (none when the adapters
                             * are merged into the weights) */
    int32_t fuse_next;      /* LINEAR(GATE_UP): the SWIGLU that follows may run fused with it */
    xf_attn_mask mask;      /* ATTENTION */
    xf_pooling pooling;     /* POOL: XF_POOL_LAST, _MEAN or _FIRST */
    int32_t normalize;      /* POOL: L2-normalise each pooled row */
} xf_op;

/* One forward's recipe. result: the buffer copied to the caller's output. */
typedef struct xf_recipe {
    xf_op *ops;
    int32_t n_ops;
    xf_buf result;
    xf_output output;
} xf_recipe;

/* What the recipe depends on besides the config: which LoRA modules the adapters
 * (unmerged) target in each layer, and whether the attention projections have biases. */
typedef struct xf_recipe_args {
    const xf_config *cfg;
    const uint32_t *lora_mods;  /* [n_layers] bit (1u << m) for module m; NULL: no LoRA */
    int32_t qkv_bias;           /* Qwen2: q/k/v biases */
    xf_output output;
    xf_pooling pooling;         /* XF_OUT_EMBED: LAST, MEAN or FIRST */
    int32_t normalize;          /* XF_OUT_EMBED */
    int32_t stop_layer;         /* >= 0 (debugging aid, tests): stop before that layer, result X */
} xf_recipe_args;

xf_status xf_recipe_build(const xf_recipe_args *a, xf_recipe *r);
void xf_recipe_free(xf_recipe *r);

/* The LoRA bits of layer l for a set of unmerged adapters (n may be 0). */
uint32_t xf_recipe_lora_mods(const xf_adapter *const *adapters, int32_t n, int32_t l);

/* Names for printing: "rmsnorm", "XN", "attn_norm", ... */
const char *xf_op_kind_name(xf_op_kind k);
const char *xf_buf_name(xf_buf b);
const char *xf_weight_name(xf_weight w);
/* One line for op (no newline): "L3 linear  XN[T,1024] -> QKV[T,2048] qkv +bias lora{q,k,v}". */
void xf_op_format(const xf_op *op, char *buf, size_t n);

/* How a backend runs an op: its kernel table's entry, for printing and for the op tests. */
typedef struct xf_kernel_choice {
    char kernel[64];    /* e.g. "cublaslt", "attention_wgmma", "linear_cm(coopmat)" */
    char tile[32];      /* e.g. "128x128x32", "" */
    char layout[48];    /* e.g. "bf16 row-major", "blocked 16x16" */
} xf_kernel_choice;

#endif /* XF_RECIPE_H */
