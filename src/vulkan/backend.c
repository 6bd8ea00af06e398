/* backend.c — the xf_backend_vulkan table: create (device, kernels, weights,
 * activations and every descriptor set, once), forward (a plan in submissions
 * of at most tcap tokens: one unless the device's buffer limits are smaller
 * than the engine's max_tokens), peak memory and destroy. */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

static xf_status sets_for_weight(vkx_ctx *c, const vkx_weight *w, vkx_buffer *x, vkx_buffer *bias,
                                 vkx_buffer *y, VkDescriptorSet **out) {
    xf_status st = XF_OK;
    XF_ALLOC(*out, w->n);
    for (int p = 0; p < w->n; p++) {
        vkx_buffer *b[4] = {x, &w->pieces[p], bias, y};
        XF_TRY(vkx_set(c, b, 4, &(*out)[p]));
    }
cleanup:
    return st;
}

static vkx_buffer *opt(vkx_buffer *b) {
    return b->buf ? b : NULL;
}

static xf_status make_layer_sets(vkx_engine *e, int l) {
    xf_status st = XF_OK;
    vkx_ctx *c = e->c;
    vkx_layer *L = &e->w.layers[l];
    vkx_layer_sets *S = &e->ls[l];
    vkx_buffer *xn16 = e->k.a16 ? &e->xn16 : NULL;
    vkx_buffer *an[4] = {&e->x, &L->attn_norm, &e->xn, xn16};
    XF_TRY(vkx_set(c, an, 4, &S->attn_norm));
    vkx_buffer *mn[4] = {&e->x, &L->mlp_norm, &e->xn, xn16};
    XF_TRY(vkx_set(c, mn, 4, &S->mlp_norm));
    vkx_buffer *qa = e->t.qkv16 ? &e->qkv16 : &e->qkv; /* q|k|v */
    vkx_buffer *qr[5] = {qa, opt(&L->q_norm), &e->w.rope_cos, &e->w.rope_sin, &e->pos};
    XF_TRY(vkx_set(c, qr, 5, &S->qrope));
    vkx_buffer *kr[5] = {qa, opt(&L->k_norm), &e->w.rope_cos, &e->w.rope_sin, &e->pos};
    XF_TRY(vkx_set(c, kr, 5, &S->krope));
    int a16 = e->k.a16 != 0;
    vkx_buffer *at[6] = {qa, qa, qa, &e->att, &e->span, a16 ? &e->att16 : NULL};
    XF_TRY(vkx_set(c, at, 6, &S->attn));
    vkx_buffer *sw[4] = {opt(&e->gu), opt(&e->gu), opt(&e->act), a16 ? &e->act16 : NULL};
    XF_TRY(vkx_set(c, sw, 4, &S->swiglu));
    /* the matrix multiplies of 16-bit weights read the 16-bit activations when a16 */
    XF_TRY(sets_for_weight(c, &L->qkv, a16 ? &e->xn16 : &e->xn, opt(&L->bqkv), qa, &S->qkv));
    XF_TRY(sets_for_weight(c, &L->o, a16 ? &e->att16 : &e->att, NULL, &e->x, &S->o));
    XF_TRY(sets_for_weight(c, &L->gu, a16 ? &e->xn16 : &e->xn, NULL, opt(&e->gu), &S->gu));
    XF_TRY(sets_for_weight(c, &L->down, a16 ? &e->act16 : &e->act, NULL, &e->x, &S->down));
    if (e->t.glu) {
        vkx_buffer *g[4] = {&e->xn16, &L->gu.pieces[0], NULL, &e->act16};
        XF_TRY(vkx_set(c, g, 4, &S->glu));
    }
cleanup:
    return st;
}

/* Input and output buffers of module m's LoRA. */
static void lora_buffers(vkx_engine *e, xf_module m, vkx_buffer **x, vkx_buffer **y) {
    switch (m) {
    case XF_MOD_Q: case XF_MOD_K: case XF_MOD_V: *x = &e->xn, *y = &e->qkv; break;
    case XF_MOD_O: *x = &e->att, *y = &e->x; break;
    case XF_MOD_GATE: case XF_MOD_UP: *x = &e->xn, *y = &e->gu; break;
    default: *x = &e->act, *y = &e->x; break;
    }
}

static xf_status make_sets(vkx_engine *e) {
    xf_status st = XF_OK;
    vkx_ctx *c = e->c;
    XF_ALLOC(e->embed_sets, e->w.embed.n);
    for (int p = 0; p < e->w.embed.n; p++) {
        vkx_buffer *b[3] = {&e->w.embed.pieces[p], &e->tokens, &e->x};
        XF_TRY(vkx_set(c, b, 3, &e->embed_sets[p]));
    }
    XF_ALLOC(e->ls, e->w.n_layers);
    for (int l = 0; l < e->w.n_layers; l++) XF_TRY(make_layer_sets(e, l));
    if (e->w.lora) {
        size_t n = (size_t)e->w.n_adapters * e->w.n_layers * XF_MOD_COUNT;
        XF_ALLOC(e->lora_sets, n);
        for (size_t i = 0; i < n; i++) {
            vkx_lora *lo = &e->w.lora[i];
            if (!lo->r) continue;
            vkx_buffer *x, *y;
            lora_buffers(e, (xf_module)(i % XF_MOD_COUNT), &x, &y);
            vkx_buffer *ba[4] = {x, &lo->A, NULL, &e->u};
            XF_TRY(vkx_set(c, ba, 4, &e->lora_sets[i].a));
            vkx_buffer *bb[5] = {&e->u, &lo->B, NULL, y, &e->tok_adapter};
            XF_TRY(vkx_set(c, bb, 5, &e->lora_sets[i].b));
        }
    }
    vkx_buffer *fn[4] = {&e->x, &e->w.final_norm, &e->xn, e->k.a16 ? &e->xn16 : NULL};
    XF_TRY(vkx_set(c, fn, 4, &e->final_norm));
    vkx_buffer *pl[3] = {&e->xn, &e->seq_start, &e->pooled};
    XF_TRY(vkx_set(c, pl, 3, &e->pool));
    if (e->w.score.n) XF_TRY(sets_for_weight(c, &e->w.score, &e->pooled, NULL, &e->cls, &e->score_sets));
cleanup:
    return st;
}

/* Logit buffers: host-visible row chunks that each fit one binding. */
xf_status vkx_engine_logits_init(vkx_engine *e) {
    xf_status st = XF_OK;
    if (e->logits) return XF_OK;
    size_t row = (size_t)e->V * 4;
    VkDeviceSize lim = e->c->max_range < e->c->max_alloc ? e->c->max_range : e->c->max_alloc;
    uint64_t rows = lim / row;
    XF_CHECK(rows >= 1, XF_ERR_UNSUPPORTED, "vulkan: a row of %u logits exceeds the device's buffer range", e->V);
    if (rows > e->tcap) rows = e->tcap;
    int n = (int)((e->tcap + rows - 1) / rows);
    XF_ALLOC(e->logits, n);
    size_t n_sets = (size_t)n * e->w.lm_head.n;
    XF_ALLOC(e->logit_sets, n_sets);
    e->n_lchunks = n;
    e->lrows = (uint32_t)rows;
    for (int ch = 0; ch < n; ch++) {
        XF_TRY(vkx_buffer_create(e->c, (VkDeviceSize)rows * row, 1, &e->logits[ch]));
        for (int p = 0; p < e->w.lm_head.n; p++) {
            vkx_buffer *b[4] = {e->k.a16 ? &e->xn16 : &e->xn, &e->w.lm_head.pieces[p], NULL, &e->logits[ch]};
            XF_TRY(vkx_set(e->c, b, 4, &e->logit_sets[(size_t)ch * e->w.lm_head.n + p]));
        }
    }
cleanup:
    return st;
}

/* Tokens the device's limits allow in one submission (widest activation row). */
static uint32_t device_token_cap(const vkx_engine *e) {
    uint32_t widest = e->H;
    if (e->qkv_ld > widest) widest = e->qkv_ld;
    if (2 * e->I > widest) widest = 2 * e->I;
    VkDeviceSize lim = e->c->max_range < e->c->max_alloc ? e->c->max_range : e->c->max_alloc;
    uint64_t cap = lim / ((uint64_t)widest * 4);
    return cap > UINT32_MAX / 2 ? UINT32_MAX / 2 : (uint32_t)cap;
}

/* Activations and per-forward inputs for `tokens` tokens. */
static xf_status make_scratch(vkx_engine *e, uint32_t tokens) {
    xf_status st = XF_OK;
    vkx_ctx *c = e->c;
    e->tcap = tokens;
    VkDeviceSize T = e->tcap;
    XF_TRY(vkx_rope_upload(c, e->cfg.model, tokens, &e->w));  /* positions < tcap */
    XF_TRY(vkx_buffer_create(c, T * e->H * 4, 0, &e->x));
    XF_TRY(vkx_buffer_create(c, T * e->H * 4, 0, &e->xn));
    if (!e->t.qkv16) XF_TRY(vkx_buffer_create(c, T * e->qkv_ld * 4, 0, &e->qkv));
    XF_TRY(vkx_buffer_create(c, T * e->NH * e->D * 4, 0, &e->att));
    if (!e->t.glu) { /* the fused gate|up multiply writes act16 alone */
        XF_TRY(vkx_buffer_create(c, T * 2 * e->I * 4, 0, &e->gu));
        XF_TRY(vkx_buffer_create(c, T * e->I * 4, 0, &e->act));
    }
    if (e->k.a16) {
        VkDeviceSize bm = e->k.cm_bm ? e->k.cm_bm : 1, T16 = (T + bm - 1) / bm * bm; /* whole row groups (blocked) */
        XF_TRY(vkx_buffer_create(c, (e->t.xblk ? T16 : T) * e->H * 2, 0, &e->xn16));
        XF_TRY(vkx_buffer_create(c, (e->t.oblk ? T16 : T) * e->NH * e->D * 2, 0, &e->att16));
        if (e->t.qkv16) XF_TRY(vkx_buffer_create(c, T * e->qkv_ld * 2, 0, &e->qkv16));
        XF_TRY(vkx_buffer_create(c, (e->t.ablk ? T16 : T) * e->I * 2, 0, &e->act16));
    }
    if (e->w.r_max) XF_TRY(vkx_buffer_create(c, T * (VkDeviceSize)e->w.r_max * 4, 0, &e->u));
    XF_TRY(vkx_buffer_create(c, T * e->H * 4, 0, &e->pooled));
    XF_TRY(vkx_buffer_create(c, T * (e->L ? e->L : 1) * 4, 0, &e->cls));
    XF_TRY(vkx_buffer_create(c, T * 4, 0, &e->tokens));
    XF_TRY(vkx_buffer_create(c, T * 4, 0, &e->pos));
    XF_TRY(vkx_buffer_create(c, T * 8, 0, &e->span));
    XF_TRY(vkx_buffer_create(c, T * 4, 0, &e->tok_adapter));
    XF_TRY(vkx_buffer_create(c, (T + 1) * 4, 0, &e->seq_start));
    XF_TRY(vkx_buffer_create(c, (6 * T + 1) * 4, 1, &e->inputs));
    XF_TRY(vkx_buffer_create(c, T * e->H * 4, 1, &e->readback));
cleanup:
    return st;
}

static void free_sets(vkx_engine *e) {
    for (int l = 0; e->ls && l < e->w.n_layers; l++) {
        free(e->ls[l].qkv);
        free(e->ls[l].o);
        free(e->ls[l].gu);
        free(e->ls[l].down);
    }
    free(e->ls);
    free(e->embed_sets);
    free(e->lora_sets);
    free(e->score_sets);
    free(e->logit_sets);
    e->ls = NULL, e->embed_sets = NULL, e->score_sets = NULL, e->logit_sets = NULL;
    e->lora_sets = NULL;
    if (e->c) vkx_sets_reset(e->c); /* the sets themselves live in the context's pools */
}

static void free_scratch(vkx_engine *e) {
    if (!e->c) return;
    vkx_buffer *bufs[] = {&e->x, &e->xn, &e->qkv, &e->qkv16, &e->att, &e->gu, &e->act, &e->xn16, &e->att16,
                          &e->act16, &e->u, &e->pooled,
                          &e->cls, &e->tokens, &e->pos, &e->span, &e->tok_adapter, &e->seq_start,
                          &e->inputs, &e->readback};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++) vkx_buffer_destroy(e->c, bufs[i]);
    for (int i = 0; e->logits && i < e->n_lchunks; i++) vkx_buffer_destroy(e->c, &e->logits[i]);
    free(e->logits);
    e->logits = NULL;
    e->n_lchunks = 0;
}

static void vk_destroy(void *state) {
    vkx_engine *e = state;
    if (!e) return;
    if (e->c && e->c->dev) vkDeviceWaitIdle(e->c->dev);
    free_sets(e);
    free_scratch(e);
    if (e->c) vkx_model_free(e->c, &e->w);
    vkx_ctx_destroy(e->c);
    free(e);
}

/* A sequence longer than max_tokens (the engine runs it alone): activations are
 * made again for it, within the device's limits. */
static xf_status grow(vkx_engine *e, uint32_t tokens) {
    xf_status st = XF_OK;
    uint32_t cap = device_token_cap(e);
    XF_CHECK(tokens <= cap, XF_ERR_UNSUPPORTED,
             "vulkan: a sequence of %u tokens exceeds what %s's buffers hold at once (%u tokens)", tokens,
             e->c->device_name, cap);
    vkDeviceWaitIdle(e->c->dev);
    free_sets(e);
    free_scratch(e);
    XF_TRY(make_scratch(e, tokens));
    XF_TRY(make_sets(e));
cleanup:
    return st;
}

static xf_status vk_create(const xf_backend_config *cfg, void **state) {
    xf_status st = XF_OK;
    vkx_engine *e = NULL;
    *state = NULL;
    XF_CHECK(cfg && cfg->model, XF_ERR_INVALID_ARG, "vulkan: no model");
    const xf_config *mc = &cfg->model->cfg;
    XF_ALLOC(e, 1);
    e->cfg = *cfg;
    e->H = (uint32_t)mc->hidden;
    e->I = (uint32_t)mc->intermediate;
    e->D = (uint32_t)mc->head_dim;
    e->NH = (uint32_t)mc->n_heads;
    e->NKV = (uint32_t)mc->n_kv_heads;
    e->V = (uint32_t)mc->vocab;
    e->L = cfg->model->score.data ? (uint32_t)cfg->model->score.shape[0] : 0;
    e->qkv_ld = (e->NH + 2 * e->NKV) * e->D;
    XF_CHECK(e->NKV > 0 && e->NH % e->NKV == 0, XF_ERR_UNSUPPORTED, "vulkan: %u heads over %u kv heads",
             e->NH, e->NKV);
    XF_TRY(vkx_ctx_create(cfg->cache_dir, cfg->device, &e->c));
    XF_TRY(vkx_kernels_init(e->c, cfg->dtype, (int)e->D, (int)(e->NH / e->NKV), &e->k));
    XF_CHECK(!e->k.a16 || (e->H % 2 == 0 && e->I % 2 == 0), XF_ERR_UNSUPPORTED,
             "vulkan: 16-bit activations need an even hidden (%u) and intermediate (%u) size", e->H, e->I);
    /* the kernel table: which variant runs each op, and the layouts (weights included) */
    vkx_table_fill(e);
    XF_TRY(vkx_model_upload(e->c, cfg, e->k.wt, &e->t.lay, &e->w));
    /* the table foresaw how each layer's matrices would be stored (vkx_blocked_fits) */
    for (int l = 0; l < e->w.n_layers; l++) {
        const vkx_layer *L = &e->w.layers[l];
        XF_CHECK(!e->t.glu || L->gu.n == 1, XF_ERR_INTERNAL, "vulkan: gate|up weight split unexpectedly");
        XF_CHECK((!e->t.xblk || (L->qkv.blk_rows && L->gu.blk_rows)) && (!e->t.ablk || L->down.blk_rows) &&
                     (!e->t.oblk || L->o.blk_rows),
                 XF_ERR_INTERNAL, "vulkan: layer %d's weights not stored as the kernel table says", l);
    }
    uint32_t dev_cap = device_token_cap(e);
    uint32_t want = cfg->max_tokens > 0 ? (uint32_t)cfg->max_tokens : 8192;
    XF_CHECK(dev_cap >= 1, XF_ERR_UNSUPPORTED, "vulkan: %s's buffers cannot hold one token of this model",
             e->c->device_name);
    XF_TRY(make_scratch(e, want < dev_cap ? want : dev_cap));
    XF_TRY(make_sets(e));
    *state = e;
    return XF_OK;
cleanup:
    vk_destroy(e);
    return st;
}

/* Runs the plan in submissions of whole sequences of at most tcap tokens
 * (one submission unless the device's buffer limits are below max_tokens). */
static xf_status vk_forward(void *state, const xf_plan *plan) {
    xf_status st = XF_OK;
    vkx_engine *e = state;
    if ((uint32_t)plan->n_tokens <= e->tcap) return vkx_forward_chunk(e, plan);
    int32_t *ss = NULL;
    XF_ALLOC(ss, plan->n_seqs + 1);
    size_t row = plan->output == XF_OUT_HIDDEN ? e->H : plan->output == XF_OUT_LOGITS ? e->V : 0;
    size_t brow = plan->output == XF_OUT_EMBED ? e->H : plan->output == XF_OUT_CLASSIFY ? e->L : 0;
    for (int32_t b0 = 0; b0 < plan->n_seqs;) {
        int32_t t0 = plan->seq_start[b0], b1 = b0;
        while (b1 < plan->n_seqs && (uint32_t)(plan->seq_start[b1 + 1] - t0) <= e->tcap) b1++;
        if (b1 == b0) {
            XF_TRY(grow(e, (uint32_t)(plan->seq_start[b0 + 1] - t0)));
            b1 = b0 + 1;
        }
        for (int32_t b = b0; b <= b1; b++) ss[b - b0] = plan->seq_start[b] - t0;
        xf_plan sub = *plan;
        sub.n_seqs = b1 - b0;
        sub.n_tokens = plan->seq_start[b1] - t0;
        sub.tokens = plan->tokens + t0;
        sub.positions = plan->positions + t0;
        sub.seq_start = ss;
        sub.adapter_ids = plan->adapter_ids + b0;
        sub.max_seq_len = plan->max_seq_len;
        sub.out = plan->out + (size_t)t0 * row + (size_t)b0 * brow;
        XF_TRY(vkx_forward_chunk(e, &sub));
        b0 = b1;
    }
cleanup:
    free(ss);
    return st;
}

static void vk_kernel(void *state, const xf_op *op, xf_kernel_choice *out) {
    vkx_table_describe(state, op, out);
}

static size_t vk_peak_memory(void *state) {
    vkx_engine *e = state;
    return e && e->c ? e->c->bytes_peak : 0;
}

extern const xf_op_table vkx_op_table; /* ops_test.c */

const xf_backend_ops xf_backend_vulkan = {
    .name = "vulkan",
    .create = vk_create,
    .forward = vk_forward,
    .peak_memory = vk_peak_memory,
    .destroy = vk_destroy,
    .ops = &vkx_op_table,
    .kernel = vk_kernel,
};
