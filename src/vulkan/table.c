/* table.c — the Vulkan engine's kernel table (vkx_table): for each op of the layer
 * recipe, which recorder variant runs it and how the activations between ops are laid
 * out, decided once at engine creation from the kernels the device got (vkx_kernels_init,
 * ops.c: device capabilities and the XFWD_VK_* overrides), the model's shapes and the
 * adapters; and the text `xfwd info --verbose` prints for each op (vkx_table_describe). */
#include <stdio.h>
#include <string.h>

#include "vk_internal.h"

/* Whether every layer's matrix of rows × cols is stored blocked with the layout lay
 * (vkx_weight_upload_blocked makes the same decision: vkx_blocked_fits). */
static int blocked(const vkx_engine *e, uint32_t rows, uint32_t cols, uint32_t bn) {
    return vkx_blocked_fits(e->c, e->k.wt, rows, cols, bn, e->t.lay.blk_k);
}

void vkx_table_fill(vkx_engine *e) {
    const vkx_kernels *k = &e->k;
    const xf_backend_config *cfg = &e->cfg;
    vkx_table *t = &e->t;
    memset(t, 0, sizeof(*t));
    uint32_t q = e->NH * e->D;
    int unmerged = cfg->n_adapters > 0 && !cfg->merge; /* LoRA terms added at run time, in fp32 */
    int layers = cfg->model->cfg.n_layers > 0;
    t->a16 = k->a16 != 0;
    /* Gate|up multiply fused with SwiGLU (the recipe's fuse_next): needs the fused kernel, the
     * gate|up weight in one piece, intermediate rows in whole interleaving blocks (KHR kernel),
     * and no unmerged LoRA (whose gate/up/down terms use the fp32 gu and act). */
    uint64_t gu_bytes = 2ull * e->I * e->H * vkx_wt_size(k->wt);
    t->glu = k->glu_vec && !unmerged && gu_bytes <= e->c->max_piece &&
             (k->glu_block == 0 || e->I % k->glu_block == 0);
    /* blocked weights where the matrix-unit kernel that reads them has the blocked variant */
    t->lay = (vkx_layout){.glu_block = t->glu ? k->glu_block : 0,
                          .blk_rows = k->cmb_vec ? k->cm_bn : 0,
                          .gu_blk_rows = (t->glu ? k->glub_vec != NULL : k->cmb_vec != NULL) ? k->cm_bn : 0,
                          .blk_k = k->blk_k};
    int qkv_blk = blocked(e, e->qkv_ld, e->H, t->lay.blk_rows), gu_blk = blocked(e, 2 * e->I, e->H, t->lay.gu_blk_rows);
    int o_blk = blocked(e, e->H, q, t->lay.blk_rows), down_blk = blocked(e, e->H, e->I, t->lay.blk_rows);
    /* x blocked too where every layer's q|k|v and gate|up weights are (same K = H) */
    t->xblk = k->cmbx && k->rmsnorm16b && (!t->glu || k->glubx) && layers && qkv_blk && gu_blk;
    /* and act16, written by the fused gate|up, where every down weight is blocked (K = I) */
    t->ablk = t->xblk && t->glu && k->glubxy && e->I % k->blk_k == 0 && down_blk;
    /* and att16, where every o weight is blocked (K = NH·D) and no unmerged LoRA reads the
     * fp32 attention output (the blocked kernel writes none) */
    t->oblk = t->xblk && k->attention16b && q % k->blk_k == 0 && !unmerged &&
              e->c->ov.layout >= VKX_LAYOUT_OBLOCK && o_blk;
    /* q|k|v in 16 bits from their multiply to the attention, where every kernel on the way has
     * that variant (no unmerged LoRA, which adds fp32 terms to them: oblk) */
    t->qkv16 = t->oblk && k->attention16bi && k->qkrope16 && k->cmbx16 && e->D % 4 == 0 && e->qkv_ld % 8 == 0 &&
               e->c->ov.layout >= VKX_LAYOUT_QKV16;
    t->xn16_only = t->xblk && !unmerged;
    /* the per-op choices the forward records */
    t->layer_norm = t->xblk ? (t->xn16_only ? VKX_NORM_16BLK : VKX_NORM_F32_16BLK)
                            : t->a16 ? VKX_NORM_F32_16 : VKX_NORM_F32;
    t->final_norm = t->a16 ? VKX_NORM_F32_16 : VKX_NORM_F32;
    t->qkv_x = t->qkv16 ? VKX_X_BLOCKED_Y16 : t->xblk ? VKX_X_BLOCKED : VKX_X_ROWS;
    t->o_x = t->oblk ? VKX_X_BLOCKED : VKX_X_ROWS;
    t->gu_x = t->xblk ? VKX_X_BLOCKED : VKX_X_ROWS;
    t->down_x = t->ablk ? VKX_X_BLOCKED : VKX_X_ROWS;
    t->att = t->qkv16 ? VKX_ATT_16IN_16BLK : t->oblk ? VKX_ATT_16BLK : t->a16 ? VKX_ATT_F32_16 : VKX_ATT_F32;
}

static const char *wt_name(vkx_wt wt) {
    return wt == VKX_WT_BF16 ? "bf16" : wt == VKX_WT_F16 ? "f16" : "fp32";
}

/* The multiply kernel for weights of kind wkind (VKX_W_*), as vkx_rec_linear picks it. */
static void linear_kernel(const vkx_engine *e, int wkind, vkx_xio x, xf_kernel_choice *out) {
    const vkx_kernels *k = &e->k;
    const char *kind = e->c->khr[k->wt == VKX_WT_BF16] ? "khr" : "nv";
    if (wkind == VKX_W_BLOCKED) {
        snprintf(out->kernel, sizeof out->kernel, "linear_cm(%s)%s", kind,
                 x == VKX_X_BLOCKED_Y16 ? " y16" : "");
        snprintf(out->tile, sizeof out->tile, "%ux%ux%u", k->cm_bm, k->cm_bn, k->blk_k);
        snprintf(out->layout, sizeof out->layout, "w %s blocked %ux%u, x %s", wt_name(k->wt), k->cm_bn, k->blk_k,
                 x == VKX_X_ROWS ? "16-bit rows" : "16-bit blocked");
    } else if (wkind == VKX_W_ROWS && k->mm_vec) {
        snprintf(out->kernel, sizeof out->kernel, "linear_cm2");
        snprintf(out->tile, sizeof out->tile, "%ux%u", k->mm_bm, k->mm_bn);
        snprintf(out->layout, sizeof out->layout, "w %s rows, x 16-bit rows", wt_name(k->wt));
    } else if (wkind == VKX_W_ROWS && k->cm_vec) {
        snprintf(out->kernel, sizeof out->kernel, "linear_cm(%s)", kind);
        snprintf(out->tile, sizeof out->tile, "%ux%u", k->cm_bm, k->cm_bn);
        snprintf(out->layout, sizeof out->layout, "w %s rows, x %s rows", wt_name(k->wt), k->a16 ? "16-bit" : "fp32");
    } else {
        snprintf(out->kernel, sizeof out->kernel, "linear");
        snprintf(out->tile, sizeof out->tile, "%ux%u", k->lin_bm, k->lin_bn);
        snprintf(out->layout, sizeof out->layout, "w %s rows, x fp32 rows",
                 wkind == VKX_W_F32 ? "fp32" : wt_name(k->wt));
    }
}

static const vkx_weight *layer_weight(const vkx_engine *e, const xf_op *op) {
    if (op->layer < 0 || op->layer >= e->w.n_layers) return NULL;
    const vkx_layer *L = &e->w.layers[op->layer];
    switch (op->weight) {
    case XF_WT_QKV: return &L->qkv;
    case XF_WT_O: return &L->o;
    case XF_WT_GATE_UP: return &L->gu;
    case XF_WT_DOWN: return &L->down;
    default: return NULL;
    }
}

void vkx_table_describe(const vkx_engine *e, const xf_op *op, xf_kernel_choice *out) {
    const vkx_table *t = &e->t;
    const vkx_kernels *k = &e->k;
    memset(out, 0, sizeof(*out));
    static const char *const norm_layout[4] = {"fp32", "fp32 + 16-bit rows", "fp32 + 16-bit blocked",
                                               "16-bit blocked only"};
    switch (op->kind) {
    case XF_OP_EMBED:
        snprintf(out->kernel, sizeof out->kernel, "embed");
        snprintf(out->layout, sizeof out->layout, "table %s, x fp32", wt_name(k->wt));
        break;
    case XF_OP_RMSNORM: {
        vkx_norm_out n = op->layer >= 0 ? t->layer_norm : t->final_norm;
        snprintf(out->kernel, sizeof out->kernel, "%s", n >= VKX_NORM_F32_16BLK ? "rmsnorm16b"
                                                        : n == VKX_NORM_F32_16 ? "rmsnorm16" : "rmsnorm");
        snprintf(out->layout, sizeof out->layout, "%s", norm_layout[n]);
        break;
    }
    case XF_OP_LINEAR: {
        const vkx_weight *w = layer_weight(e, op);
        vkx_xio x = op->weight == XF_WT_QKV ? t->qkv_x : op->weight == XF_WT_O ? t->o_x
                    : op->weight == XF_WT_GATE_UP ? t->gu_x : op->weight == XF_WT_DOWN ? t->down_x : VKX_X_ROWS;
        int wkind = w ? vkx_weight_kind(w) : op->weight == XF_WT_SCORE ? VKX_W_F32 : VKX_W_ROWS;
        if (op->weight == XF_WT_LM_HEAD) wkind = vkx_weight_kind(&e->w.lm_head);
        if (op->weight == XF_WT_GATE_UP && op->fuse_next && t->glu) {
            snprintf(out->kernel, sizeof out->kernel, "%s + swiglu (fused)",
                     k->glu_block ? "linear_cm(khr)" : "linear_cm2");
            snprintf(out->tile, sizeof out->tile, "%ux%u", k->glu_bm, k->glu_bn);
            snprintf(out->layout, sizeof out->layout, "w %s%s x16 %s act16 %s", k->glu_block ? "ilv" : "rows",
                     w && w->blk_rows ? "+blk" : "", t->xblk ? "blk" : "rows", t->ablk ? "blk" : "rows");
        } else {
            linear_kernel(e, wkind, x, out);
        }
        if (op->lora) {
            size_t n = strlen(out->kernel);
            snprintf(out->kernel + n, sizeof out->kernel - n, " + lora(linear fp32)");
        }
        break;
    }
    case XF_OP_QK_ROPE:
        snprintf(out->kernel, sizeof out->kernel, "%s", t->qkv16 ? "qknorm_rope16" : "qknorm_rope");
        snprintf(out->layout, sizeof out->layout, "q|k|v %s rows", t->qkv16 ? "16-bit" : "fp32");
        break;
    case XF_OP_ATTENTION: {
        static const char *const io[4] = {"fp32 in, fp32 out", "fp32 in, fp32 + 16-bit out",
                                          "fp32 in, 16-bit blocked out", "16-bit in, 16-bit blocked out"};
        const char *kind = t->att == VKX_ATT_F32 ? "attention (scalar)" : k->att16_name;
        snprintf(out->kernel, sizeof out->kernel, "%s", kind);
        if (k->att16_br && t->att != VKX_ATT_F32) snprintf(out->tile, sizeof out->tile, "Br %u", k->att16_br);
        else snprintf(out->tile, sizeof out->tile, "%u tokens x %u heads", k->att_bt, k->att_qpt);
        snprintf(out->layout, sizeof out->layout, "%s", io[t->att]);
        break;
    }
    case XF_OP_SWIGLU:
        snprintf(out->kernel, sizeof out->kernel, "%s", t->glu ? "(fused into gate|up)" : t->a16 ? "swiglu16" : "swiglu");
        snprintf(out->layout, sizeof out->layout, "%s", t->glu ? "-" : t->a16 ? "fp32 + 16-bit rows" : "fp32");
        break;
    case XF_OP_POOL:
        snprintf(out->kernel, sizeof out->kernel, "pool");
        snprintf(out->layout, sizeof out->layout, "fp32");
        break;
    default:
        snprintf(out->kernel, sizeof out->kernel, "?");
        break;
    }
}
