/* cuda_kernels.h — the CUDA backend's kernel table: which kernel runs each op of the
 * recipe, decided once (per engine, and per op-test call) from the device's compute
 * capability, the model's shapes and the dtype, in one function (xfc_choose_attention:
 * attention is the only op with a choice; every other op has one kernel, matmuls go
 * to cuBLASLt); described for printing (the backend's `kernel` entry point) and for
 * the op-test matrix (the variants the table can choose on this device). Also the
 * backend's tuning switches, read from the environment once per engine: cuda_kernels.c
 * is the one file of src/cuda that reads the environment. */
#ifndef XF_CUDA_KERNELS_H
#define XF_CUDA_KERNELS_H

#include "../backend.h"
#include "cuda_api.h"

/* Attention variants, as the op tests and XFWD_ATTN_KERNEL name them. Where a variant
 * cannot run a shape (wgmma: compute capability 9.0 and head_dim 128; fa2, mma: bf16/f16
 * and head_dim 64/128), a forward forced with XFWD_ATTN_KERNEL runs the table's choice
 * and the op tests report the case unsupported (skipped). */
typedef enum xfc_attn_variant {
    XFC_AV_WGMMA = 0,   /* wgmma, 4, 2 or 1 heads per block as the GQA group size allows (the default) */
    XFC_AV_WGMMA1,      /* wgmma, one head per block (the table's choice for odd GQA groups) */
    XFC_AV_FA2,         /* mma.sync, 64-query tiles */
    XFC_AV_MMA,         /* mma.sync, 128-query tiles: the default off compute capability 9.0 */
    XFC_AV_GENERIC,     /* exact fp32, any head_dim: the default for f32/tf32 and other head_dims */
    XFC_AV_COUNT
} xfc_attn_variant;

/* Tuning switches (README "CUDA"), read once per engine by xfc_switches_read. */
typedef struct xfc_switches {
    int profile;        /* XFWD_PROFILE=1: forwards run eagerly, timed per op family */
    int attn;           /* XFWD_ATTN_KERNEL=wgmma|wgmma1|fa2|mma|generic: an xfc_attn_variant; -1 unset */
    char cache_home[512]; /* the default cache folder: $XDG_CACHE_HOME/xfwd, else $HOME/.cache/xfwd; "" none */
} xfc_switches;

void xfc_switches_read(xfc_switches *sw);

/* The engine's kernel table. */
typedef struct xfc_kernels {
    int cc;                 /* compute capability, 10·major + minor (90: H100/H200) */
    xfc_attn_choice attn;   /* every ATTENTION op */
} xfc_kernels;

/* Compute capability of a device as 10·major + minor (0 when the query fails). */
int xfc_device_cc(int device);

/* The attention kernel for this device (cc), activation type and shape; `want` (an
 * xfc_attn_variant, or -1) forces a variant where it can run the shape. */
xfc_attn_choice xfc_choose_attention(int cc, xfc_type act, int D, int nh, int nkv, int want);

/* Fills the table once, at engine creation. */
void xfc_kernels_fill(xfc_kernels *k, int cc, xfc_type act, const xf_config *c, const xfc_switches *sw);

/* The table's entry for an op, for printing (act: the engine's activation type). */
void xfc_kernel_describe(const xfc_kernels *k, xfc_type act, const xf_op *op, xf_kernel_choice *out);

/* The op-test matrix: the variants of op test `id` (xf_op_test_id) in `mode` on a device
 * of capability cc; fills out[0 .. min(count, max)), returns the count. For ATTENTION,
 * *av (when non-NULL, [max]) receives each variant's xfc_attn_variant. */
int xfc_variants(int id, xf_dtype mode, int cc, xf_kernel_choice *out, int *av, int max);

#endif /* XF_CUDA_KERNELS_H */
