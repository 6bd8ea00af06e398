/* forward.c — executes the plan's recipe (recipe.h), op by op in its order, recorded
 * into the context's one command buffer and submitted once, with a barrier between
 * dependent dispatches and a single wait at the end. Each op is recorded as the
 * engine's kernel table (vkx_table, table.c) says: which variant of its kernel, and
 * where its logical buffers live (X → x, XN/HIDDEN → xn and its 16-bit copy xn16,
 * QKV → qkv or qkv16, ATT → att/att16, GU → gu, ACT → act/act16, POOLED → pooled,
 * SCORES → cls, LOGITS → host-visible row chunks). The one rewrite applied is the
 * recipe's own: LINEAR(gate|up) with fuse_next, then SWIGLU, as one fused kernel
 * where the table has it (t.glu). */
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

static void copy_to(vkx_ctx *c, vkx_buffer *src, vkx_buffer *dst, VkDeviceSize bytes) {
    if (!bytes) return;
    vkx_barrier_all(c);
    VkBufferCopy region = {.srcOffset = 0, .dstOffset = 0, .size = bytes};
    vkx_trace_copy(c, 0, 0, bytes);
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
        vkx_trace_copy(e->c, r.srcOffset, r.dstOffset, r.size);
        vkCmdCopyBuffer(e->c->cmd, e->inputs.buf, dst[i]->buf, 1, &r);
    }
    vkx_barrier_all(e->c);
}

/* The LoRA terms (recipe bits, 1u << module) of a LINEAR, in module order. */
static void rec_loras(vkx_engine *e, int l, uint32_t bits, uint32_t T) {
    for (int m = 0; m < XF_MOD_COUNT; m++)
        if (bits & (1u << m)) rec_lora(e, l, (xf_module)m, T);
}

/* One LINEAR of a layer: x · Wᵀ into its buffer, the LoRA terms after. */
static void rec_layer_linear(vkx_engine *e, const xf_op *op, uint32_t T) {
    const vkx_layer *L = &e->w.layers[op->layer];
    const vkx_layer_sets *S = &e->ls[op->layer];
    const vkx_table *t = &e->t;
    uint32_t H = e->H, q = e->NH * e->D;
    switch (op->weight) {
    case XF_WT_QKV: // qkv [T, q | k | v] = xn · Wqkvᵀ (+ b); 16-bit qkv16 with t.qkv16
        rec_weight_x(e, &L->qkv, S->qkv, T, 0, H, 0, e->qkv_ld, L->bqkv.buf != VK_NULL_HANDLE, 0, (int)t->qkv_x);
        break;
    case XF_WT_O: // x += att · Woᵀ (att16 blocked with t.oblk)
        rec_weight_x(e, &L->o, S->o, T, 0, q, 0, H, 0, 1, (int)t->o_x);
        break;
    case XF_WT_GATE_UP: // gu [T, gate | up] = xn · Wguᵀ
        rec_weight_x(e, &L->gu, S->gu, T, 0, H, 0, 2 * e->I, 0, 0, (int)t->gu_x);
        break;
    default: // x += act · Wdownᵀ
        rec_weight_x(e, &L->down, S->down, T, 0, e->I, 0, H, 0, 1, (int)t->down_x);
        break;
    }
    rec_loras(e, op->layer, op->lora, T);
}

/* Records op i of the recipe (and, for a fused pair, the op after it); returns how many
 * ops it consumed, 0 when the op is not one this executor knows (an internal error). */
static int rec_op(vkx_engine *e, const xf_plan *p, const xf_recipe *r, int i) {
    vkx_ctx *c = e->c;
    const vkx_kernels *k = &e->k;
    const vkx_table *t = &e->t;
    const xf_op *op = &r->ops[i];
    uint32_t T = (uint32_t)p->n_tokens, B = (uint32_t)p->n_seqs, H = e->H, q = e->NH * e->D, kv = e->NKV * e->D;
    float eps = (float)e->cfg.model->cfg.eps;
    int l = op->layer;
    const vkx_layer *L = l >= 0 ? &e->w.layers[l] : NULL;
    const vkx_layer_sets *S = l >= 0 ? &e->ls[l] : NULL;
    switch (op->kind) {
    case XF_OP_EMBED: // x [T, H] = embed[tokens]
        for (int j = 0; j < e->w.embed.n; j++)
            vkx_rec_embed(c, k, e->embed_sets[j], T, H, e->w.embed.row0[j], e->w.embed.row0[j + 1] - e->w.embed.row0[j]);
        return 1;
    case XF_OP_RMSNORM: // xn [T, H] = rms(x) · w (and the 16-bit copy the multiplies read)
        if (l >= 0)
            vkx_rec_rmsnorm(c, k, op->weight == XF_WT_ATTN_NORM ? S->attn_norm : S->mlp_norm, T, H, 0, H, 0, H, eps,
                            1, t->layer_norm);
        else
            vkx_rec_rmsnorm(c, k, e->final_norm, T, H, 0, H, 0, H, eps, 1, t->final_norm);
        return 1;
    case XF_OP_LINEAR:
        if (op->weight == XF_WT_GATE_UP && op->fuse_next && t->glu && i + 1 < r->n_ops &&
            r->ops[i + 1].kind == XF_OP_SWIGLU) {
            // act16 [T, I] = silu(xn · Wgateᵀ) · (xn · Wupᵀ) in one pass (the recipe's rewrite)
            vkx_rec_glu(c, k, S->glu, T, e->I, H, L->gu.blk_rows != 0, t->xblk, t->ablk);
            return 2;
        }
        if (l >= 0) {
            if (t->glu && op->weight == XF_WT_GATE_UP) return 0; /* no gu buffer: the table fused it */
            rec_layer_linear(e, op, T);
        } else if (op->weight == XF_WT_SCORE) {
            // cls [B, L] = pooled · scoreᵀ
            rec_weight(e, &e->w.score, e->score_sets, B, 0, H, 0, e->L, 0, 0);
        } else if (op->weight == XF_WT_LM_HEAD) {
            // logits chunk ch [rows, V] = xn[rows of ch] · lm_headᵀ, straight into host-visible memory
            for (int ch = 0; ch < e->n_lchunks; ch++) {
                uint32_t r0 = (uint32_t)ch * e->lrows;
                if (r0 >= T) break;
                uint32_t rows = T - r0 < e->lrows ? T - r0 : e->lrows;
                rec_weight(e, &e->w.lm_head, e->logit_sets + (size_t)ch * e->w.lm_head.n, rows, r0 * H, H, 0, e->V, 0,
                           0);
            }
        } else {
            return 0;
        }
        return 1;
    case XF_OP_QK_ROPE: { // q, k in place: per-head norm (Qwen3) then RoPE
        int x16 = t->qkv16;
        vkx_rec_qkrope(c, k, S->qrope, T, e->NH, e->D, 0, e->qkv_ld, L->q_norm.buf != VK_NULL_HANDLE, eps, x16);
        vkx_rec_qkrope(c, k, S->krope, T, e->NKV, e->D, q, e->qkv_ld, L->k_norm.buf != VK_NULL_HANDLE, eps, x16);
        return 1;
    }
    case XF_OP_ATTENTION: { // att [T, NH·D] = GQA attention within each sequence, masked as the op says
        uint32_t ol[8] = {0, e->qkv_ld, q, e->qkv_ld, q + kv, e->qkv_ld, 0, q};
        vkx_rec_attention(c, k, S->attn, T, e->NH, e->NKV, ol, t->att, op->mask);
        return 1;
    }
    case XF_OP_SWIGLU: { // act [T, I] = silu(gate) · up
        if (t->glu) return 0;
        uint32_t sl[6] = {0, 2 * e->I, e->I, 2 * e->I, 0, e->I};
        vkx_rec_swiglu(c, k, S->swiglu, T, e->I, sl, t->a16);
        return 1;
    }
    case XF_OP_POOL: // pooled [B, H] = each sequence's pooled rows of the hidden states
        vkx_rec_pool(c, k, e->pool, B, H, H, (uint32_t)op->pooling, op->normalize ? 1u : 0u);
        return 1;
    default:
        return 0;
    }
}

/* The device buffer holding a recipe result (LOGITS: the host-visible chunks, NULL). */
static vkx_buffer *result_buffer(vkx_engine *e, xf_buf b, size_t *bytes, const xf_plan *p) {
    uint32_t T = (uint32_t)p->n_tokens, B = (uint32_t)p->n_seqs;
    switch (b) {
    case XF_BUF_X: *bytes = (size_t)T * e->H * 4; return &e->x;
    case XF_BUF_HIDDEN: case XF_BUF_XN: *bytes = (size_t)T * e->H * 4; return &e->xn;
    case XF_BUF_POOLED: *bytes = (size_t)B * e->H * 4; return &e->pooled;
    case XF_BUF_SCORES: *bytes = (size_t)B * e->L * 4; return &e->cls;
    default: *bytes = 0; return NULL;
    }
}

xf_status vkx_forward_chunk(vkx_engine *e, const xf_plan *p) {
    xf_status st = XF_OK;
    vkx_ctx *c = e->c;
    const xf_recipe *r = p->recipe;
    uint32_t T = (uint32_t)p->n_tokens;
    XF_CHECK(p->n_tokens >= 1 && T <= e->tcap && p->n_seqs >= 1, XF_ERR_INTERNAL,
             "vulkan: a chunk of %d tokens for a capacity of %u", p->n_tokens, e->tcap);
    XF_CHECK(r && r->n_ops >= 1, XF_ERR_INTERNAL, "vulkan: a plan without a recipe");
    for (int i = 0; i < r->n_ops; i++) {
        XF_CHECK(r->ops[i].layer < e->w.n_layers, XF_ERR_INTERNAL, "vulkan: recipe op %d in layer %d of %d", i,
                 r->ops[i].layer, e->w.n_layers);
        if (r->ops[i].weight == XF_WT_LM_HEAD) {
            XF_CHECK(e->w.lm_head.n > 0, XF_ERR_INVALID_ARG, "vulkan: this model has no lm_head for logits");
            XF_TRY(vkx_engine_logits_init(e));
        }
        if (r->ops[i].weight == XF_WT_SCORE)
            XF_CHECK(e->w.score.n > 0, XF_ERR_INVALID_ARG, "vulkan: this model has no score head");
    }
    size_t out_bytes = 0;
    vkx_buffer *result = result_buffer(e, r->result, &out_bytes, p);
    XF_CHECK(result || r->result == XF_BUF_LOGITS, XF_ERR_INTERNAL, "vulkan: recipe result %s",
             xf_buf_name(r->result));
    write_inputs(e, p);

    XF_TRY(vkx_begin(c));
    copy_inputs(e, p);
    vkx_ts_begin(c);
    for (int i = 0; i < r->n_ops;) {
        int n = rec_op(e, p, r, i);
        if (!n) {
            char line[160];
            xf_op_format(&r->ops[i], line, sizeof line);
            vkx_submit_wait(c); /* end the recording; nothing of it is used */
            XF_CHECK(0, XF_ERR_INTERNAL, "vulkan: recipe op %d (%s) has no kernel in this engine's table", i, line);
        }
        i += n;
    }
    /* The device time ends before the copy of residual-sized results and after that of the
     * heads' small ones (as measured since the first session). */
    int ts_before_copy = r->result == XF_BUF_X || r->result == XF_BUF_HIDDEN || r->result == XF_BUF_XN;
    if (ts_before_copy) vkx_ts_end(c);
    if (result) copy_to(c, result, &e->readback, out_bytes);
    if (!ts_before_copy) vkx_ts_end(c);
    vkx_barrier_all(c);
    XF_TRY(vkx_submit_wait(c));
    vkx_ts_read(c);
    g_last_forward_ms = c->last_forward_ms;

    if (!result) {
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
