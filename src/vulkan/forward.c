/* forward.c — one forward of a plan (T ≤ tcap tokens) recorded into the
 * context's one command buffer and submitted once, with a barrier between
 * dependent dispatches and a single wait at the end:
 *   embed → per layer [norm → qkv (+LoRA) → q/k norm+RoPE → attention →
 *   o (+= residual, +LoRA) → norm → gate|up (+LoRA) → SwiGLU → down (+= residual,
 *   +LoRA)] → final norm → head (hidden | logits | pooled | scores). */
#include <string.h>

#include "vk_internal.h"
#include "vk_timing.h"

static double g_last_forward_ms;

double xf_vk_last_forward_ms(void) {
    return g_last_forward_ms;
}

/* One matrix multiply over every piece of w: y[:, y_col + piece rows] = x·Wᵀ (+bias)(+y).
 * xb (blocked weights): 1 x in the blocked layout; 2 that and y in the 16-bit type. */
static void rec_weight_x(vkx_engine *e, const vkx_weight *w, const VkDescriptorSet *sets, uint32_t M,
                         uint32_t x_off, uint32_t ldx, uint32_t y_off, uint32_t ldy, int bias, int acc, int xb) {
    for (int p = 0; p < w->n; p++) {
        vkx_linear_pc pc = {.M = M,
                            .N = w->row0[p + 1] - w->row0[p],
                            .K = w->cols,
                            .x_off = x_off,
                            .ldx = ldx,
                            .w_off = 0,
                            .ldw = w->cols,
                            .y_off = y_off + w->row0[p],
                            .ldy = ldy,
                            .b_off = w->row0[p],
                            .flags = (bias ? VKX_LIN_BIAS : 0u) | (acc ? VKX_LIN_ACC : 0u),
                            .alpha = 1.0f,
                            .mask_adapter = -1};
        int kind = vkx_weight_kind(w);
        if (kind == VKX_W_BLOCKED && xb) kind = xb == 2 ? VKX_W_BLOCKED_X16 : VKX_W_BLOCKED_X;
        vkx_rec_linear(e->c, &e->k, kind, sets[p], &pc);
    }
}

/* The same on row-major x. */
static void rec_weight(vkx_engine *e, const vkx_weight *w, const VkDescriptorSet *sets, uint32_t M,
                       uint32_t x_off, uint32_t ldx, uint32_t y_off, uint32_t ldy, int bias, int acc) {
    rec_weight_x(e, w, sets, M, x_off, ldx, y_off, ldy, bias, acc, 0);
}

/* Where module m reads its input and adds its output: (x_ld, y_col, y_ld). */
static void lora_geometry(const vkx_engine *e, xf_module m, uint32_t *x_ld, uint32_t *y_col,
                          uint32_t *y_ld) {
    uint32_t q = e->NH * e->D, kv = e->NKV * e->D;
    switch (m) {
    case XF_MOD_Q: *x_ld = e->H, *y_col = 0, *y_ld = e->qkv_ld; break;
    case XF_MOD_K: *x_ld = e->H, *y_col = q, *y_ld = e->qkv_ld; break;
    case XF_MOD_V: *x_ld = e->H, *y_col = q + kv, *y_ld = e->qkv_ld; break;
    case XF_MOD_O: *x_ld = q, *y_col = 0, *y_ld = e->H; break;
    case XF_MOD_GATE: *x_ld = e->H, *y_col = 0, *y_ld = 2 * e->I; break;
    case XF_MOD_UP: *x_ld = e->H, *y_col = e->I, *y_ld = 2 * e->I; break;
    default: *x_ld = e->I, *y_col = 0, *y_ld = e->H; break;
    }
}

/* Unmerged LoRA of module m in layer l, for every adapter that targets it:
 * u = x·Aᵀ, then y += scale·u·Bᵀ on the rows of that adapter's sequences. */
static void rec_lora(vkx_engine *e, int l, xf_module m, uint32_t T) {
    if (!e->w.lora) return;
    uint32_t x_ld, y_col, y_ld;
    lora_geometry(e, m, &x_ld, &y_col, &y_ld);
    for (int a = 0; a < e->w.n_adapters; a++) {
        size_t i = ((size_t)a * e->w.n_layers + l) * XF_MOD_COUNT + m;
        const vkx_lora *lo = &e->w.lora[i];
        if (!lo->r) continue;
        vkx_linear_pc pa = {.M = T, .N = (uint32_t)lo->r, .K = (uint32_t)lo->in, .ldx = x_ld,
                            .ldw = (uint32_t)lo->in, .ldy = (uint32_t)lo->r, .alpha = 1.0f,
                            .mask_adapter = -1};
        vkx_rec_linear(e->c, &e->k, VKX_W_F32, e->lora_sets[i].a, &pa);
        vkx_linear_pc pb = {.M = T, .N = (uint32_t)lo->out, .K = (uint32_t)lo->r, .ldx = (uint32_t)lo->r,
                            .ldw = (uint32_t)lo->r, .y_off = y_col, .ldy = y_ld,
                            .flags = VKX_LIN_ACC | VKX_LIN_MASK, .alpha = lo->scale, .mask_adapter = a};
        vkx_rec_linear(e->c, &e->k, VKX_W_F32, e->lora_sets[i].b, &pb);
    }
}

static void rec_layer(vkx_engine *e, int l, uint32_t T) {
    vkx_ctx *c = e->c;
    const vkx_kernels *k = &e->k;
    const vkx_layer *L = &e->w.layers[l];
    const vkx_layer_sets *S = &e->ls[l];
    float eps = (float)e->cfg.model->cfg.eps;
    uint32_t H = e->H, q = e->NH * e->D, kv = e->NKV * e->D;

    int a16 = k->a16 != 0;
    // xn [T, H] = rms(x) · attn_norm (and its 16-bit copy for the multiplies)
    /* the layers' norms write their 16-bit copy blocked (xblk), without the fp32 xn where
     * nothing reads it */
    int n16 = e->xblk ? (e->xn16_only ? 3 : 2) : a16;
    vkx_rec_rmsnorm(c, k, S->attn_norm, T, H, 0, H, 0, H, eps, 1, n16);
    // qkv [T, q | k | v] = xn · Wqkvᵀ (+ b)
    rec_weight_x(e, &L->qkv, S->qkv, T, 0, H, 0, e->qkv_ld, L->bqkv.buf != VK_NULL_HANDLE, 0,
                 e->qkv16_on ? 2 : e->xblk); /* qkv16_on: qkv16 [T, q | k | v] in 16 bits */
    rec_lora(e, l, XF_MOD_Q, T);
    rec_lora(e, l, XF_MOD_K, T);
    rec_lora(e, l, XF_MOD_V, T);
    // q, k in place: per-head norm (Qwen3) then RoPE
    int r16 = e->qkv16_on;
    vkx_rec_qkrope(c, k, S->qrope, T, e->NH, e->D, 0, e->qkv_ld, L->q_norm.buf != VK_NULL_HANDLE, eps, r16);
    vkx_rec_qkrope(c, k, S->krope, T, e->NKV, e->D, q, e->qkv_ld, L->k_norm.buf != VK_NULL_HANDLE, eps, r16);
    // att [T, NH·D] = GQA attention within each sequence, masked as the layer says
    uint32_t ol[8] = {0, e->qkv_ld, q, e->qkv_ld, q + kv, e->qkv_ld, 0, q};
    vkx_rec_attention(c, k, S->attn, T, e->NH, e->NKV, ol, e->qkv16_on ? 3 : e->oblk ? 2 : a16,
                      xf_config_mask(&e->cfg.model->cfg, l));
    // x += att · Woᵀ (att16 blocked with oblk)
    rec_weight_x(e, &L->o, S->o, T, 0, q, 0, H, 0, 1, e->oblk);
    rec_lora(e, l, XF_MOD_O, T);
    // xn = rms(x) · mlp_norm ; gu [T, gate | up] = xn · Wguᵀ
    vkx_rec_rmsnorm(c, k, S->mlp_norm, T, H, 0, H, 0, H, eps, 1, n16);
    if (e->glu) {
        // act16 [T, I] = silu(xn · Wgateᵀ) · (xn · Wupᵀ) in one pass
        vkx_rec_glu(c, k, S->glu, T, e->I, H, L->gu.blk_rows != 0, e->xblk, e->ablk);
    } else {
        rec_weight_x(e, &L->gu, S->gu, T, 0, H, 0, 2 * e->I, 0, 0, e->xblk);
        rec_lora(e, l, XF_MOD_GATE, T);
        rec_lora(e, l, XF_MOD_UP, T);
        // act [T, I] = silu(gate) · up
        uint32_t sl[6] = {0, 2 * e->I, e->I, 2 * e->I, 0, e->I};
        vkx_rec_swiglu(c, k, S->swiglu, T, e->I, sl, a16);
    }
    // x += act · Wdownᵀ
    rec_weight_x(e, &L->down, S->down, T, 0, e->I, 0, H, 0, 1, e->ablk);
    rec_lora(e, l, XF_MOD_DOWN, T);
}

static void copy_to(vkx_ctx *c, vkx_buffer *src, vkx_buffer *dst, VkDeviceSize bytes) {
    if (!bytes) return;
    vkx_barrier_all(c);
    VkBufferCopy region = {.srcOffset = 0, .dstOffset = 0, .size = bytes};
    vkCmdCopyBuffer(c->cmd, src->buf, dst->buf, 1, &region);
}

/* Per-forward inputs into the host-visible staging area (seen by the device
 * at submit), then copied to device memory by the forward's first commands:
 * shaders never read host memory across the bus. */
static void write_inputs(vkx_engine *e, const xf_plan *p) {
    uint32_t T = e->tcap, n = (uint32_t)p->n_tokens;
    int32_t *in = e->inputs.map;
    int32_t *tok = in, *pos = in + T, *span = in + 2 * T, *ta = in + 4 * T, *ss = in + 5 * T;
    memcpy(tok, p->tokens, (size_t)n * 4);
    memcpy(pos, p->positions, (size_t)n * 4);
    memcpy(ss, p->seq_start, (size_t)(p->n_seqs + 1) * 4);
    for (int32_t s = 0; s < p->n_seqs; s++) {
        int32_t a = e->cfg.merge ? -1 : p->adapter_ids[s];
        for (int32_t t = p->seq_start[s]; t < p->seq_start[s + 1]; t++) {
            span[2 * t] = p->seq_start[s];
            span[2 * t + 1] = p->seq_start[s + 1];
            ta[t] = a;
        }
    }
}

static void copy_inputs(vkx_engine *e, const xf_plan *p) {
    VkDeviceSize T = e->tcap, n = (VkDeviceSize)p->n_tokens * 4;
    vkx_buffer *dst[5] = {&e->tokens, &e->pos, &e->span, &e->tok_adapter, &e->seq_start};
    const VkDeviceSize at[5] = {0, T, 2 * T, 4 * T, 5 * T}; /* offsets in int32 (write_inputs) */
    const VkDeviceSize size[5] = {n, n, 2 * n, n, (VkDeviceSize)(p->n_seqs + 1) * 4};
    for (int i = 0; i < 5; i++) {
        VkBufferCopy r = {.srcOffset = at[i] * 4, .dstOffset = 0, .size = size[i]};
        vkCmdCopyBuffer(e->c->cmd, e->inputs.buf, dst[i]->buf, 1, &r);
    }
    vkx_barrier_all(e->c);
}

xf_status vkx_forward_chunk(vkx_engine *e, const xf_plan *p) {
    xf_status st = XF_OK;
    vkx_ctx *c = e->c;
    const vkx_kernels *k = &e->k;
    uint32_t T = (uint32_t)p->n_tokens, B = (uint32_t)p->n_seqs, H = e->H;
    XF_CHECK(p->n_tokens >= 1 && T <= e->tcap && p->n_seqs >= 1, XF_ERR_INTERNAL,
             "vulkan: a chunk of %d tokens for a capacity of %u", p->n_tokens, e->tcap);
    if (p->output == XF_OUT_LOGITS && p->stop_layer < 0) {
        XF_CHECK(e->w.lm_head.n > 0, XF_ERR_INVALID_ARG, "vulkan: this model has no lm_head for logits");
        XF_TRY(vkx_engine_logits_init(e));
    }
    if (p->output == XF_OUT_CLASSIFY)
        XF_CHECK(e->w.score.n > 0, XF_ERR_INVALID_ARG, "vulkan: this model has no score head");
    write_inputs(e, p);

    XF_TRY(vkx_begin(c));
    copy_inputs(e, p);
    vkx_ts_begin(c);
    // x [T, H] = embed[tokens]
    for (int i = 0; i < e->w.embed.n; i++)
        vkx_rec_embed(c, k, e->embed_sets[i], T, H, e->w.embed.row0[i],
                      e->w.embed.row0[i + 1] - e->w.embed.row0[i]);
    int stop = p->stop_layer >= 0 && p->stop_layer < e->w.n_layers ? p->stop_layer : e->w.n_layers;
    for (int l = 0; l < stop; l++) rec_layer(e, l, T);
    size_t out_bytes = 0;
    if (p->stop_layer >= 0) {
        vkx_ts_end(c);
        // debugging aid: the residual stream entering layer stop_layer
        out_bytes = (size_t)T * H * 4;
        copy_to(c, &e->x, &e->readback, out_bytes);
        goto submit;
    }
    // xn [T, H] = final norm: the hidden states
    vkx_rec_rmsnorm(c, k, e->final_norm, T, H, 0, H, 0, H, (float)e->cfg.model->cfg.eps, 1, k->a16 != 0);

    if (p->output == XF_OUT_HIDDEN) vkx_ts_end(c); /* other heads: after their (small) head work */
    switch (p->output) {
    case XF_OUT_HIDDEN:
        out_bytes = (size_t)T * H * 4;
        copy_to(c, &e->xn, &e->readback, out_bytes);
        break;
    case XF_OUT_EMBED:
        vkx_rec_pool(c, k, e->pool, B, H, H, (uint32_t)p->pooling, p->normalize ? 1u : 0u);
        out_bytes = (size_t)B * H * 4;
        copy_to(c, &e->pooled, &e->readback, out_bytes);
        break;
    case XF_OUT_CLASSIFY:
        // pooled [B, H] = each sequence's last token; cls [B, L] = pooled · scoreᵀ
        vkx_rec_pool(c, k, e->pool, B, H, H, XF_POOL_LAST, 0);
        rec_weight(e, &e->w.score, e->score_sets, B, 0, H, 0, e->L, 0, 0);
        out_bytes = (size_t)B * e->L * 4;
        copy_to(c, &e->cls, &e->readback, out_bytes);
        break;
    case XF_OUT_LOGITS:
        // logits chunk ch [rows, V] = xn[rows of ch] · lm_headᵀ, straight into host-visible memory
        for (int ch = 0; ch < e->n_lchunks; ch++) {
            uint32_t r0 = (uint32_t)ch * e->lrows;
            if (r0 >= T) break;
            uint32_t rows = T - r0 < e->lrows ? T - r0 : e->lrows;
            rec_weight(e, &e->w.lm_head, e->logit_sets + (size_t)ch * e->w.lm_head.n, rows, r0 * H, H, 0,
                       e->V, 0, 0);
        }
        break;
    }
submit:
    if (p->output != XF_OUT_HIDDEN && p->stop_layer < 0) vkx_ts_end(c);
    vkx_barrier_all(c);
    XF_TRY(vkx_submit_wait(c));
    vkx_ts_read(c);
    g_last_forward_ms = c->last_forward_ms;

    if (p->output == XF_OUT_LOGITS && p->stop_layer < 0) {
        for (int ch = 0; ch < e->n_lchunks; ch++) {
            uint32_t r0 = (uint32_t)ch * e->lrows;
            if (r0 >= T) break;
            uint32_t rows = T - r0 < e->lrows ? T - r0 : e->lrows;
            memcpy(p->out + (size_t)r0 * e->V, e->logits[ch].map, (size_t)rows * e->V * 4);
        }
    } else {
        memcpy(p->out, e->readback.map, out_bytes);
    }
cleanup:
    return st;
}
