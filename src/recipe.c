/* recipe.c — builds the forward recipe (recipe.h): the one place that says what a
 * forward computes, op by op. */
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "recipe.h"

#define BIT(m) (1u << (m))

typedef struct builder {
    xf_recipe *r;
    int32_t cap;
} builder;

static xf_op *push(builder *b, xf_op_kind kind, int32_t layer, xf_buf src, xf_buf dst, xf_weight w, int32_t in,
                   int32_t out) {
    xf_recipe *r = b->r;
    /* sized by xf_recipe_build for every op it pushes; a surplus op lands in a spare slot
     * and is reported there */
    xf_op *op = &r->ops[r->n_ops < b->cap ? r->n_ops : b->cap];
    r->n_ops++;
    *op = (xf_op){.kind = kind, .layer = layer, .src = src, .dst = dst, .weight = w, .rows = XF_ROWS_T,
                  .in = in, .out = out, .pooling = XF_POOL_LAST};
    return op;
}

uint32_t xf_recipe_lora_mods(const xf_adapter *const *adapters, int32_t n, int32_t l) {
    uint32_t bits = 0;
    for (int32_t a = 0; a < n; a++) {
        if (!adapters[a] || l >= adapters[a]->n_layers) continue;
        for (int m = 0; m < XF_MOD_COUNT; m++)
            if (adapters[a]->mods[l][m].A) bits |= BIT(m);
    }
    return bits;
}

enum { OPS_PER_LAYER = 9, HEAD_OPS = 3 };

xf_status xf_recipe_build(const xf_recipe_args *a, xf_recipe *r) {
    xf_status st = XF_OK;
    memset(r, 0, sizeof *r);
    const xf_config *c = a->cfg;
    if (!c || c->n_layers < 1) return xf_error(XF_ERR_INTERNAL, "recipe: no config");
    if (a->output < XF_OUT_HIDDEN || a->output > XF_OUT_CLASSIFY)
        return xf_error(XF_ERR_INTERNAL, "recipe: unknown output %d", (int)a->output);
    if (a->output == XF_OUT_EMBED && a->stop_layer < 0 && a->pooling != XF_POOL_LAST && a->pooling != XF_POOL_MEAN &&
        a->pooling != XF_POOL_FIRST)
        return xf_error(XF_ERR_INVALID_ARG, "recipe: pooling %d is not a forward's (last, mean, first)",
                        (int)a->pooling);
    const int32_t H = c->hidden, D = c->head_dim, Q = c->n_heads * D, KV = c->n_kv_heads * D, I = c->intermediate;
    const int32_t n_layers = a->stop_layer >= 0 && a->stop_layer < c->n_layers ? a->stop_layer : c->n_layers;
    builder b = {r, 1 + n_layers * OPS_PER_LAYER + HEAD_OPS};
    r->ops = calloc((size_t)b.cap + 1, sizeof(xf_op));
    if (!r->ops) return xf_error(XF_ERR_NO_MEMORY, "out of host memory for the forward recipe");
    r->output = a->output;

    push(&b, XF_OP_EMBED, -1, XF_BUF_NONE, XF_BUF_X, XF_WT_EMBED, 0, H);
    for (int32_t l = 0; l < n_layers; l++) {
        const uint32_t lm = a->lora_mods ? a->lora_mods[l] : 0;
        xf_op *op;
        push(&b, XF_OP_RMSNORM, l, XF_BUF_X, XF_BUF_XN, XF_WT_ATTN_NORM, H, H);
        op = push(&b, XF_OP_LINEAR, l, XF_BUF_XN, XF_BUF_QKV, XF_WT_QKV, H, Q + 2 * KV);
        op->bias = a->qkv_bias != 0;
        op->lora = lm & (BIT(XF_MOD_Q) | BIT(XF_MOD_K) | BIT(XF_MOD_V));
        op = push(&b, XF_OP_QK_ROPE, l, XF_BUF_QKV, XF_BUF_QKV, c->qk_norm ? XF_WT_QK_NORM : XF_WT_NONE,
                  Q + 2 * KV, Q + 2 * KV);
        op->norm = c->qk_norm != 0;
        op = push(&b, XF_OP_ATTENTION, l, XF_BUF_QKV, XF_BUF_ATT, XF_WT_NONE, Q + 2 * KV, Q);
        op->mask = xf_config_mask(c, l);
        op = push(&b, XF_OP_LINEAR, l, XF_BUF_ATT, XF_BUF_X, XF_WT_O, Q, H);
        op->accumulate = 1;
        op->lora = lm & BIT(XF_MOD_O);
        push(&b, XF_OP_RMSNORM, l, XF_BUF_X, XF_BUF_XN, XF_WT_MLP_NORM, H, H);
        op = push(&b, XF_OP_LINEAR, l, XF_BUF_XN, XF_BUF_GU, XF_WT_GATE_UP, H, 2 * I);
        op->lora = lm & (BIT(XF_MOD_GATE) | BIT(XF_MOD_UP));
        op->fuse_next = op->lora == 0;
        push(&b, XF_OP_SWIGLU, l, XF_BUF_GU, XF_BUF_ACT, XF_WT_NONE, 2 * I, I);
        op = push(&b, XF_OP_LINEAR, l, XF_BUF_ACT, XF_BUF_X, XF_WT_DOWN, I, H);
        op->accumulate = 1;
        op->lora = lm & BIT(XF_MOD_DOWN);
    }
    if (a->stop_layer >= 0) {
        r->result = XF_BUF_X;
        return XF_OK;
    }
    xf_op *op;
    switch (a->output) {
    case XF_OUT_HIDDEN:
        push(&b, XF_OP_RMSNORM, -1, XF_BUF_X, XF_BUF_HIDDEN, XF_WT_FINAL_NORM, H, H);
        r->result = XF_BUF_HIDDEN;
        break;
    case XF_OUT_LOGITS:
        push(&b, XF_OP_RMSNORM, -1, XF_BUF_X, XF_BUF_XN, XF_WT_FINAL_NORM, H, H);
        push(&b, XF_OP_LINEAR, -1, XF_BUF_XN, XF_BUF_LOGITS, XF_WT_LM_HEAD, H, c->vocab);
        r->result = XF_BUF_LOGITS;
        break;
    case XF_OUT_EMBED:
        push(&b, XF_OP_RMSNORM, -1, XF_BUF_X, XF_BUF_HIDDEN, XF_WT_FINAL_NORM, H, H);
        op = push(&b, XF_OP_POOL, -1, XF_BUF_HIDDEN, XF_BUF_POOLED, XF_WT_NONE, H, H);
        op->pooling = a->pooling;
        op->normalize = a->normalize != 0;
        r->result = XF_BUF_POOLED;
        break;
    case XF_OUT_CLASSIFY:
        push(&b, XF_OP_RMSNORM, -1, XF_BUF_X, XF_BUF_HIDDEN, XF_WT_FINAL_NORM, H, H);
        push(&b, XF_OP_POOL, -1, XF_BUF_HIDDEN, XF_BUF_POOLED, XF_WT_NONE, H, H);
        op = push(&b, XF_OP_LINEAR, -1, XF_BUF_POOLED, XF_BUF_SCORES, XF_WT_SCORE, H, c->num_labels);
        op->rows = XF_ROWS_B;
        r->result = XF_BUF_SCORES;
        break;
    }
    XF_CHECK(r->n_ops <= b.cap, XF_ERR_INTERNAL, "recipe: %d ops for %d slots", r->n_ops, b.cap);
cleanup:
    if (st != XF_OK) xf_recipe_free(r);
    return st;
}

void xf_recipe_free(xf_recipe *r) {
    if (!r) return;
    free(r->ops);
    memset(r, 0, sizeof *r);
}

const char *xf_op_kind_name(xf_op_kind k) {
    static const char *const n[XF_OP_COUNT] = {"embed", "rmsnorm", "linear", "qk_rope", "attention", "swiglu", "pool"};
    return (unsigned)k < XF_OP_COUNT ? n[k] : "?";
}

const char *xf_buf_name(xf_buf b) {
    static const char *const n[XF_BUF_COUNT] = {"-", "X", "XN", "QKV", "ATT", "GU", "ACT", "HIDDEN", "POOLED",
                                                "LOGITS", "SCORES"};
    return (unsigned)b < XF_BUF_COUNT ? n[b] : "?";
}

const char *xf_weight_name(xf_weight w) {
    static const char *const n[XF_WT_COUNT] = {"-", "embed", "attn_norm", "qkv", "qk_norm", "o", "mlp_norm",
                                               "gate_up", "down", "final_norm", "lm_head", "score"};
    return (unsigned)w < XF_WT_COUNT ? n[w] : "?";
}

static const char *pool_name(xf_pooling p) {
    return p == XF_POOL_MEAN ? "mean" : p == XF_POOL_FIRST ? "first" : "last";
}

void xf_op_format(const xf_op *op, char *buf, size_t n) {
    static const char *const mod[XF_MOD_COUNT] = {"q", "k", "v", "o", "gate", "up", "down"};
    char layer[16], extra[96] = "";
    const char *rows = op->rows == XF_ROWS_B ? "B" : "T";
    if (op->layer >= 0) snprintf(layer, sizeof layer, "L%d", op->layer);
    else snprintf(layer, sizeof layer, "--");
    size_t e = 0;
#define ADD(...) e += (size_t)snprintf(extra + e, e < sizeof extra ? sizeof extra - e : 0, __VA_ARGS__)
    if (op->accumulate) ADD(" +=");
    if (op->bias) ADD(" +bias");
    if (op->norm) ADD(" qk-norm");
    if (op->lora) {
        ADD(" lora{");
        int first = 1;
        for (int m = 0; m < XF_MOD_COUNT; m++)
            if (op->lora & BIT(m)) ADD("%s%s", first ? "" : ",", mod[m]), first = 0;
        ADD("}");
    }
    if (op->fuse_next) ADD(" (fusable with swiglu)");
    if (op->kind == XF_OP_ATTENTION) {
        ADD(" %s", op->mask.kind == XF_MASK_FULL ? "full" : "causal");
        if (op->mask.window > 0) ADD(" window %d", op->mask.window);
    }
    if (op->kind == XF_OP_POOL) ADD(" %s%s", pool_name(op->pooling), op->normalize ? " normalize" : "");
#undef ADD
    if (op->kind == XF_OP_EMBED)
        snprintf(buf, n, "%-4s %-9s tokens[T] -> %s[T,%d] %s", layer, xf_op_kind_name(op->kind), xf_buf_name(op->dst),
                 op->out, xf_weight_name(op->weight));
    else
        snprintf(buf, n, "%-4s %-9s %s[%s,%d] -> %s[%s,%d] %s%s", layer, xf_op_kind_name(op->kind),
                 xf_buf_name(op->src), rows, op->in, xf_buf_name(op->dst),
                 op->kind == XF_OP_POOL ? "B" : rows, op->out, xf_weight_name(op->weight), extra);
}
