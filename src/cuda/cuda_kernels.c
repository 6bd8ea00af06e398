/* cuda_kernels.c — the CUDA backend's kernel table and tuning switches (cuda_kernels.h):
 * the one place that decides which attention kernel runs, the one place that reads
 * the environment, and the names every kernel choice is printed and tested under. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cuda_kernels.h"

static const char *const av_names[XFC_AV_COUNT] = {"wgmma", "wgmma1", "fa2", "mma", "generic"};

void xfc_switches_read(xfc_switches *sw) {
    const char *prof = getenv("XFWD_PROFILE");
    const char *attn = getenv("XFWD_ATTN_KERNEL");  /* experiments (bench/cuda-variants.sh) */
    sw->profile = prof && atoi(prof) > 0;
    sw->attn = -1;
    for (int v = 0; attn && v < XFC_AV_COUNT; v++)
        if (!strcmp(attn, av_names[v])) sw->attn = v;
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");  /* as the Vulkan pipeline cache */
    sw->cache_home[0] = 0;
    if (xdg && *xdg) snprintf(sw->cache_home, sizeof sw->cache_home, "%s/xfwd", xdg);
    else if (home && *home) snprintf(sw->cache_home, sizeof sw->cache_home, "%s/.cache/xfwd", home);
}

int xfc_device_cc(int device) {
    int major = 0, minor = 0;
    if (cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
        cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) != cudaSuccess) {
        (void)cudaGetLastError();
        return 0;
    }
    return 10 * major + minor;
}

/* The one function that picks the attention kernel (measurements: bench/cuda-notes.md).
 * Tensor cores for bf16/f16 at head_dim 64 and 128; on compute capability 9.0 (the only
 * one the sm_90a wgmma code runs on) wgmma at 128 and the 64-row mma.sync kernel at 64,
 * elsewhere the 128-row mma.sync kernel at both; the exact fp32 kernel for f32/tf32 and
 * every other head_dim. */
xfc_attn_choice xfc_choose_attention(int cc, xfc_type act, int D, int nh, int nkv, int want) {
    xfc_attn_choice c = {XFC_ATTN_GENERIC, 1, 0};
    const int tc = xfc_attention_tc_shape(act, D), wgmma = tc && cc == 90 && D == 128;
    const int group = nkv > 0 ? nh / nkv : 1;
    const int heads = group % 4 == 0 ? 4 : group % 2 == 0 ? 2 : 1;  /* heads of one GQA group per block */
    if (wgmma) c.kernel = XFC_ATTN_WGMMA, c.heads = heads;
    else if (tc) c.kernel = cc == 90 ? XFC_ATTN_FA2 : XFC_ATTN_MMA;
    switch (want) {  /* a forced variant, where it can run the shape */
    case XFC_AV_WGMMA: if (wgmma) c.kernel = XFC_ATTN_WGMMA, c.heads = heads; break;
    case XFC_AV_WGMMA1: if (wgmma) c.kernel = XFC_ATTN_WGMMA, c.heads = 1; break;
    case XFC_AV_FA2: if (tc) c.kernel = XFC_ATTN_FA2; break;
    case XFC_AV_MMA: if (tc) c.kernel = XFC_ATTN_MMA; break;
    case XFC_AV_GENERIC: c.kernel = XFC_ATTN_GENERIC; break;
    default: break;
    }
    if (c.kernel != XFC_ATTN_WGMMA) c.heads = 1;
    c.bm = xfc_attention_tile_rows(c.kernel);
    return c;
}

void xfc_kernels_fill(xfc_kernels *k, int cc, xfc_type act, const xf_config *c, const xfc_switches *sw) {
    k->cc = cc;
    k->attn = xfc_choose_attention(cc, act, c->head_dim, c->n_heads, c->n_kv_heads, sw ? sw->attn : -1);
}

static const char *type_name(xfc_type t) { return t == XFC_BF16 ? "bf16" : t == XFC_F16 ? "f16" : "fp32"; }

static void put(xf_kernel_choice *out, const char *kernel, const char *tile, const char *layout) {
    snprintf(out->kernel, sizeof out->kernel, "%s", kernel);
    snprintf(out->tile, sizeof out->tile, "%s", tile);
    snprintf(out->layout, sizeof out->layout, "%s", layout);
}

static void describe_attention(const xfc_attn_choice *a, xfc_type act, xf_kernel_choice *out) {
    static const char *const names[XFC_ATTN_COUNT] = {
        [XFC_ATTN_GENERIC] = "attention_generic (fp32 math)", [XFC_ATTN_MMA] = "attention_mma (mma.sync)",
        [XFC_ATTN_FA2] = "attention_fa2 (mma.sync)", [XFC_ATTN_WGMMA] = "attention_wgmma (sm_90a)"};
    char tile[32], layout[48];
    if (a->kernel == XFC_ATTN_WGMMA) snprintf(tile, sizeof tile, "%dx64, %d head%s/block", a->bm, a->heads,
                                              a->heads > 1 ? "s" : "");
    else snprintf(tile, sizeof tile, "%dx64", a->bm);
    snprintf(layout, sizeof layout, "%s q|k|v rows%s", type_name(act),
             a->kernel == XFC_ATTN_GENERIC ? "" : ", swizzled smem");
    put(out, names[a->kernel], tile, layout);
}

void xfc_kernel_describe(const xfc_kernels *k, xfc_type act, const xf_op *op, xf_kernel_choice *out) {
    char layout[48];
    memset(out, 0, sizeof *out);
    switch (op->kind) {
    case XF_OP_EMBED:
        snprintf(layout, sizeof layout, "%s table -> fp32 X", type_name(act));
        put(out, "embed", "", layout);
        break;
    case XF_OP_RMSNORM:
        snprintf(layout, sizeof layout, "fp32 X -> %s%s", op->dst == XF_BUF_HIDDEN ? "fp32 X (in place)" : type_name(act),
                 op->dst == XF_BUF_HIDDEN ? "" : " rows");
        put(out, "rmsnorm", "", layout);
        break;
    case XF_OP_LINEAR:
        if (op->weight == XF_WT_SCORE) {
            put(out, "small_linear (fp32 FMA)", "", "fp32 rows, W [L, H]");
            break;
        }
        snprintf(layout, sizeof layout, "%s row-major, W [out, in] -> %s%s", type_name(act),
                 op->accumulate || op->dst == XF_BUF_LOGITS ? "fp32" : type_name(act),
                 op->lora ? ", +LoRA A/B" : "");
        /* the algorithm: the fastest of cuBLASLt's heuristic candidates, timed at the first
         * forward of each shape (xfc_gemm_simple where cuBLASLt has none) */
        put(out, "cublaslt (fastest heuristic algo)", "", layout);
        break;
    case XF_OP_QK_ROPE:
        snprintf(layout, sizeof layout, "%s q|k|v in place%s", type_name(act), op->norm ? ", q/k norm" : "");
        /* the q|k|v bias of the LINEAR before it is added here too (recipe rewrite) */
        put(out, "qknorm_rope", "", layout);
        break;
    case XF_OP_ATTENTION: describe_attention(&k->attn, act, out); break;
    case XF_OP_SWIGLU:
        snprintf(layout, sizeof layout, "%s gate|up -> %s (not fused)", type_name(act), type_name(act));
        put(out, "swiglu", "", layout);
        break;
    case XF_OP_POOL: put(out, "pool", "", op->normalize ? "fp32 rows, L2-normalised" : "fp32 rows"); break;
    default: put(out, "?", "", ""); break;
    }
}

int xfc_variants(int id, xf_dtype mode, int cc, xf_kernel_choice *out, int *av, int max) {
    const xfc_type act = mode == XF_DTYPE_BF16 ? XFC_BF16 : mode == XF_DTYPE_F16 ? XFC_F16 : XFC_F32;
    xf_kernel_choice v[XFC_AV_COUNT];
    int ids[XFC_AV_COUNT] = {0}, n = 0;
    memset(v, 0, sizeof v);
    switch (id) {
    case XF_OP_RMSNORM: put(&v[n++], "rmsnorm", "", "fp32 -> act rows"); break;
    case XF_OP_QK_ROPE: put(&v[n++], "qknorm_rope", "", "act rows in place"); break;
    case XF_OP_SWIGLU: put(&v[n++], "swiglu", "", "act rows"); break;
    case XF_OP_LINEAR:
        put(&v[n++], "cublaslt (heuristic algo)", "", "row-major, W [out, in]");
        put(&v[n++], "gemm_simple (fp32 FMA fallback)", "", "row-major, W [out, in]");
        break;
    case XF_OPT_LINEAR_SWIGLU: put(&v[n++], "cublaslt gate|up + swiglu", "", "row-major, W [2I, in]"); break;
    case XF_OP_ATTENTION:
        /* every kernel the table can choose on this device in this mode (for some
         * head_dim or GQA group), and the off-Hopper kernel on Hopper too */
        for (int a = 0; a < XFC_AV_COUNT; a++) {
            static const char *const kernel[XFC_AV_COUNT] = {
                "attention_wgmma (sm_90a)", "attention_wgmma (sm_90a)", "attention_fa2 (mma.sync)",
                "attention_mma (mma.sync)", "attention_generic (fp32 math)"};
            static const char *const tile[XFC_AV_COUNT] = {"64x64, 4|2|1 heads/block", "64x64, 1 head/block",
                                                           "64x64", "128x64", "64x64"};
            const int tc = act != XFC_F32;
            if (!(a == XFC_AV_GENERIC || (tc && (a == XFC_AV_MMA || cc == 90)))) continue;
            char layout[48];
            snprintf(layout, sizeof layout, "%s q|k|v rows", type_name(act));
            put(&v[n], kernel[a], tile[a], layout);
            ids[n++] = a;
        }
        break;
    default: break;
    }
    for (int i = 0; i < n && i < max; i++) {
        if (out) out[i] = v[i];
        if (av) av[i] = id == XF_OP_ATTENTION ? ids[i] : -1;
    }
    return n;
}
