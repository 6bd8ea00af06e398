/* cpu_forward.c — one forward on the CPU for a plan (one chunk of a batch): the
 * executor of plan->recipe (recipe.h), op by op in order, with the kernels of the
 * backend (cpu_kernels: the reference's or the fast path's). LoRA adds its low-rank
 * term after each projection the op's lora bits name, per sequence. Also the CPU
 * backends' shared parts: weights (converted or merged copies), scratch, RoPE table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "cpu_forward.h"
#include "ref_ops.h"
#include "../adapter.h"
#include "../loader.h"

void xf_cpu_scratch_free(cpu_scratch *s) {
    free(s->x), free(s->xn), free(s->q), free(s->k), free(s->v);
    free(s->att), free(s->gate), free(s->up), free(s->lora), free(s->rows);
    memset(s, 0, sizeof *s);
}

int32_t xf_cpu_max_rank(const xf_adapter *const *adapters, int32_t n) {
    int32_t r = 0;
    for (int32_t a = 0; a < n; a++) {
        int32_t ra = adapters[a] ? xf_adapter_max_rank(adapters[a]) : 0;
        if (ra > r) r = ra;
    }
    return r;
}

static xf_status scratch_reserve(cpu_state *cs, int64_t T, int32_t B) {
    cpu_scratch *s = &cs->s;
    const xf_config *c = &cs->model->cfg;
    if (T <= s->capacity && s->rows) return XF_OK;
    int64_t cap = T > s->capacity ? T : s->capacity;
    xf_cpu_scratch_free(s);
    const int64_t H = c->hidden, Q = (int64_t)c->n_heads * c->head_dim, KV = (int64_t)c->n_kv_heads * c->head_dim;
    const int64_t I = c->intermediate, R = cs->lora_rank > 0 ? cs->lora_rank : 1;
    struct { float **p; int64_t n; } parts[] = {
        {&s->x, cap * H}, {&s->xn, cap * H}, {&s->q, cap * Q}, {&s->k, cap * KV}, {&s->v, cap * KV},
        {&s->att, cap * Q}, {&s->gate, cap * I}, {&s->up, cap * I}, {&s->lora, cap * R}, {&s->rows, cap * H},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        *parts[i].p = malloc(sizeof(float) * (size_t)parts[i].n);
        if (!*parts[i].p) {
            xf_cpu_scratch_free(s);
            return xf_error(XF_ERR_NO_MEMORY, "out of host memory for %lld tokens of activations", (long long)T);
        }
        s->bytes += sizeof(float) * (size_t)parts[i].n;
    }
    s->capacity = cap;
    if (s->bytes > cs->peak) cs->peak = s->bytes;
    (void)B;
    return XF_OK;
}

/* The RoPE table covers positions [0, max_seq_len): grown (at least doubled, at most
 * max_pos rows) when a longer sequence comes; never sized by max_pos up front. */
static xf_status rope_reserve(cpu_state *cs, int32_t max_seq_len) {
    const int32_t max_pos = cs->model->cfg.max_pos;
    if (max_seq_len <= cs->rope_rows) return XF_OK;
    int32_t rows = cs->rope_rows > max_pos / 2 ? max_pos : 2 * cs->rope_rows;
    if (rows < max_seq_len) rows = max_seq_len;
    if (rows < 256 && max_pos >= 256) rows = 256;
    if (rows > max_pos) rows = max_pos;
    float *c = NULL, *s = NULL;
    xf_status st = xf_rope_table(&cs->model->cfg, rows, &c, &s);
    if (st != XF_OK) return st;
    free(cs->rope_cos), free(cs->rope_sin);
    cs->rope_cos = c, cs->rope_sin = s, cs->rope_rows = rows;
    return XF_OK;
}

/* y[rows of each sequence] += scale · (x · Aᵀ) · Bᵀ for the sequences whose adapter targets `mod`. */
static void apply_lora(cpu_state *cs, const xf_plan *p, int layer, xf_module mod, const float *x, float *y,
                       int in, int out) {
    if (!cs->adapters) return;
    for (int32_t b = 0; b < p->n_seqs; b++) {
        int32_t a = p->adapter_ids[b];
        if (a < 0) continue;
        const xf_lora *L = &cs->adapters[a]->mods[layer][mod];
        if (!L->A) continue;
        /* extend over following sequences with the same adapter: one call per run */
        int32_t e = b + 1;
        while (e < p->n_seqs && p->adapter_ids[e] == a) e++;
        const int64_t t0 = p->seq_start[b], n = p->seq_start[e] - t0;
        xf_tensor A = {.data = L->A, .type = XF_W_F32, .ndim = 2, .shape = {L->r, in}};
        xf_tensor Bm = {.data = L->B, .type = XF_W_F32, .ndim = 2, .shape = {out, L->r}};
        cs->k->linear(cs->ctx, x + t0 * in, &A, NULL, cs->s.lora, n, in, L->r, 0);
        for (int64_t i = 0; i < n * L->r; i++) cs->s.lora[i] *= L->scale;
        cs->k->linear(cs->ctx, cs->s.lora, &Bm, NULL, y + t0 * out, n, L->r, out, 1);
        b = e - 1;
    }
}

static void to_f32(const xf_tensor *t, float *buf) { xf_tensor_to_f32(t, 0, xf_tensor_numel(t), buf); }

/* ---------------------------------------------------------------- the recipe executor */

/* Where the recipe's logical buffers live on the CPU (recipe.h). QKV is three arrays
 * (q, k, v) and GU two (gate, up): the documented rewrite that runs a concatenated
 * LINEAR as one product per piece. ACT is gate, overwritten by SWIGLU in place.
 * HIDDEN is xn when it is not the result (embed, classify): XN is dead once the last
 * layer has run. POOLED is rows [B, H]. The result buffer (but X) is the caller's
 * output itself, so nothing is copied; LOGITS and SCORES exist only as the result. */
typedef struct cpu_view {
    float *at[XF_BUF_COUNT];    /* the buffer's (first) array; NULL: not held on the CPU */
} cpu_view;

static cpu_view view_of(cpu_state *cs, const xf_plan *p) {
    cpu_scratch *s = &cs->s;
    cpu_view v = {.at = {[XF_BUF_X] = s->x, [XF_BUF_XN] = s->xn, [XF_BUF_QKV] = s->q, [XF_BUF_ATT] = s->att,
                         [XF_BUF_GU] = s->gate, [XF_BUF_ACT] = s->gate, [XF_BUF_HIDDEN] = s->xn,
                         [XF_BUF_POOLED] = s->rows}};
    if (p->recipe->result != XF_BUF_X) v.at[p->recipe->result] = p->out;
    return v;
}

/* One matrix of a LINEAR: QKV and GATE_UP have several (the rewrite above). */
typedef struct cpu_piece {
    const xf_tensor *W, *bias;
    xf_module mod;      /* its LoRA module; XF_MOD_COUNT: none (lm_head, score) */
    float *y;
    int out;
} cpu_piece;

/* The pieces of op (a LINEAR) on the CPU's weights and buffers; 0 when the op names a
 * weight the CPU does not hold. */
static int linear_pieces(const cpu_state *cs, const xf_op *op, const cpu_view *v, cpu_piece pc[3]) {
    const xf_config *c = &cs->model->cfg;
    const cpu_scratch *s = &cs->s;
    const int Q = c->n_heads * c->head_dim, KV = c->n_kv_heads * c->head_dim, I = c->intermediate;
    const xf_layer *L = op->layer >= 0 && op->layer < c->n_layers ? &cs->layers[op->layer] : NULL;
    if (!L && op->weight != XF_WT_LM_HEAD && op->weight != XF_WT_SCORE) return 0;
    switch (op->weight) {
    case XF_WT_QKV:
        if (op->dst != XF_BUF_QKV) return 0;
        pc[0] = (cpu_piece){&L->wq, &L->bq, XF_MOD_Q, s->q, Q};
        pc[1] = (cpu_piece){&L->wk, &L->bk, XF_MOD_K, s->k, KV};
        pc[2] = (cpu_piece){&L->wv, &L->bv, XF_MOD_V, s->v, KV};
        return 3;
    case XF_WT_GATE_UP:
        if (op->dst != XF_BUF_GU) return 0;
        pc[0] = (cpu_piece){&L->w_gate, NULL, XF_MOD_GATE, s->gate, I};
        pc[1] = (cpu_piece){&L->w_up, NULL, XF_MOD_UP, s->up, I};
        return 2;
    case XF_WT_O: pc[0] = (cpu_piece){&L->wo, NULL, XF_MOD_O, v->at[op->dst], op->out}; return 1;
    case XF_WT_DOWN: pc[0] = (cpu_piece){&L->w_down, NULL, XF_MOD_DOWN, v->at[op->dst], op->out}; return 1;
    case XF_WT_LM_HEAD: pc[0] = (cpu_piece){&cs->lm_head, NULL, XF_MOD_COUNT, v->at[op->dst], op->out}; return 1;
    case XF_WT_SCORE: pc[0] = (cpu_piece){&cs->score, NULL, XF_MOD_COUNT, v->at[op->dst], op->out}; return 1;
    default: return 0;
    }
}

/* The norm weight of an RMSNORM op. */
static const xf_tensor *norm_weight(const cpu_state *cs, const xf_op *op) {
    const int in_layer = op->layer >= 0 && op->layer < cs->model->cfg.n_layers;
    switch (op->weight) {
    case XF_WT_ATTN_NORM: return in_layer ? &cs->layers[op->layer].attn_norm : NULL;
    case XF_WT_MLP_NORM: return in_layer ? &cs->layers[op->layer].mlp_norm : NULL;
    case XF_WT_FINAL_NORM: return &cs->final_norm;
    default: return NULL;
    }
}

const xf_tensor *xf_cpu_op_weight(const cpu_state *cs, const xf_op *op) {
    if (op->kind == XF_OP_RMSNORM) return norm_weight(cs, op);
    if (op->kind == XF_OP_EMBED) return &cs->embed;
    if (op->kind != XF_OP_LINEAR) return NULL;
    cpu_view v = {{0}};
    cpu_piece pc[3];
    return linear_pieces(cs, op, &v, pc) ? pc[0].W : NULL;
}

/* out [B, H]: L2-normalise each pooled row (in double). */
static void l2_rows(float *out, int32_t B, int H) {
    for (int32_t b = 0; b < B; b++) {
        float *o = out + (int64_t)b * H;
        double ss = 0;
        for (int i = 0; i < H; i++) ss += (double)o[i] * o[i];
        double inv = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
        for (int i = 0; i < H; i++) o[i] = (float)(o[i] * inv);
    }
}

/* out [B, H]: pooled rows of hidden [T, H] (mean in double), optionally L2-normalised. */
static void pool(const xf_plan *p, const xf_op *op, const float *hidden, float *out) {
    const int H = op->out;
    for (int32_t b = 0; b < p->n_seqs; b++) {
        const int32_t s0 = p->seq_start[b], s1 = p->seq_start[b + 1];
        float *o = out + (int64_t)b * H;
        if (op->pooling == XF_POOL_MEAN) {
            for (int i = 0; i < H; i++) {
                double acc = 0;
                for (int32_t t = s0; t < s1; t++) acc += hidden[(int64_t)t * H + i];
                o[i] = (float)(acc / (s1 - s0));
            }
        } else {
            int32_t t = op->pooling == XF_POOL_FIRST ? s0 : s1 - 1;
            memcpy(o, hidden + (int64_t)t * H, sizeof(float) * (size_t)H);
        }
    }
    if (op->normalize) l2_rows(out, p->n_seqs, H);
}

/* RMSNORM (ops[i]) then POOL(LAST) of its output (recipe.h's rewrite): normalise only
 * each sequence's last row, straight into the pooled rows, when nothing after the pool
 * reads the normalised rows. Row by row the kernels compute exactly what they compute
 * over all rows. */
static int pools_last(const xf_recipe *r, int32_t i) {
    const xf_op *op = &r->ops[i], *next = i + 1 < r->n_ops ? &r->ops[i + 1] : NULL;
    if (!next || next->kind != XF_OP_POOL || next->pooling != XF_POOL_LAST || next->src != op->dst ||
        op->dst == r->result)
        return 0;
    for (int32_t j = i + 2; j < r->n_ops; j++)
        if (r->ops[j].src == op->dst) return 0;
    return 1;
}

static xf_status cannot_run(const xf_op *op) {
    char what[160];
    xf_op_format(op, what, sizeof what);
    return xf_error(XF_ERR_INTERNAL, "cpu: the CPU backends cannot run recipe op \"%s\"", what);
}

/* Op i of the recipe on the CPU. *skip_next: the next op was done with this one. */
static xf_status run_op(cpu_state *cs, const xf_plan *p, const cpu_view *v, int32_t i, float *normw, int *skip_next) {
    const xf_op *op = &p->recipe->ops[i];
    const xf_config *c = &cs->model->cfg;
    cpu_scratch *s = &cs->s;
    const int64_t T = p->n_tokens, rows = op->rows == XF_ROWS_B ? p->n_seqs : T;
    const int D = c->head_dim, NH = c->n_heads, NKV = c->n_kv_heads, Q = NH * D, KV = NKV * D;
    const float eps = (float)c->eps;
    const int in_layer = op->layer >= 0 && op->layer < c->n_layers;
    float *src = v->at[op->src], *dst = v->at[op->dst];
    *skip_next = 0;
    switch (op->kind) {
    case XF_OP_EMBED:
        if (!dst) break;
        for (int64_t t = 0; t < T; t++)
            xf_tensor_to_f32(&cs->embed, (int64_t)p->tokens[t] * op->out, op->out, dst + t * op->out);
        return XF_OK;
    case XF_OP_RMSNORM: {
        const xf_tensor *w = norm_weight(cs, op);
        if (!w || !src || !dst || op->in != op->out) break;
        to_f32(w, normw);
        const xf_op *next = pools_last(p->recipe, i) ? &p->recipe->ops[i + 1] : NULL;
        float *pooled = next ? v->at[next->dst] : NULL;
        if (pooled) {
            for (int32_t b = 0; b < p->n_seqs; b++)
                cs->k->rmsnorm(src + (int64_t)(p->seq_start[b + 1] - 1) * op->in, normw, pooled + (int64_t)b * op->in,
                               1, op->in, eps);
            if (next->normalize) l2_rows(pooled, p->n_seqs, op->in);
            *skip_next = 1;
            return XF_OK;
        }
        cs->k->rmsnorm(src, normw, dst, rows, op->in, eps);
        return XF_OK;
    }
    case XF_OP_LINEAR: {
        cpu_piece pc[3];
        const int n = src ? linear_pieces(cs, op, v, pc) : 0;
        if (n == 0 || (op->lora && (op->rows != XF_ROWS_T || !in_layer))) break;
        for (int j = 0; j < n; j++) {
            if (!pc[j].y) return cannot_run(op);
            cs->k->linear(cs->ctx, src, pc[j].W, op->bias ? pc[j].bias : NULL, pc[j].y, rows, op->in, pc[j].out,
                          op->accumulate);
            if (pc[j].mod < XF_MOD_COUNT && (op->lora & (1u << pc[j].mod)))
                apply_lora(cs, p, op->layer, pc[j].mod, src, pc[j].y, op->in, pc[j].out);
        }
        return XF_OK;
    }
    case XF_OP_QK_ROPE: {
        if (op->src != XF_BUF_QKV || op->dst != XF_BUF_QKV || !in_layer) break;
        const xf_layer *L = &cs->layers[op->layer];
        float *qn = NULL, *kn = NULL;
        if (op->norm) {
            if (!L->q_norm.data || !L->k_norm.data) break;
            qn = normw, kn = normw + D;
            to_f32(&L->q_norm, qn);
            to_f32(&L->k_norm, kn);
        }
        /* positions < p->max_seq_len <= cs->rope_rows (rope_reserve) */
        cs->k->qknorm_rope(s->q, qn, eps, p->positions, T, NH, D, cs->rope_cos, cs->rope_sin);
        cs->k->qknorm_rope(s->k, kn, eps, p->positions, T, NKV, D, cs->rope_cos, cs->rope_sin);
        return XF_OK;
    }
    case XF_OP_ATTENTION:
        if (op->src != XF_BUF_QKV || !dst) break;
        cs->k->attention(cs->ctx, s->q, Q, s->k, KV, s->v, KV, dst, p->seq_start, p->n_seqs, NH, NKV, D, op->mask);
        return XF_OK;
    case XF_OP_SWIGLU:
        if (op->src != XF_BUF_GU || op->dst != XF_BUF_ACT) break;
        cs->k->swiglu(s->gate, s->up, s->gate, T * op->out);
        return XF_OK;
    case XF_OP_POOL:
        if (!src || !dst || op->in != op->out) break;
        pool(p, op, src, dst);
        return XF_OK;
    default: break;
    }
    return cannot_run(op);
}

/* Runs plan->recipe's ops in order; the result lands in plan->out (view_of), or is
 * copied there when it is the residual stream (stop_layer). */
xf_status xf_cpu_forward(cpu_state *cs, const xf_plan *p) {
    xf_status st = XF_OK;
    const xf_config *c = &cs->model->cfg;
    const xf_recipe *r = p->recipe;
    float *normw = NULL;
    if (!r || r->n_ops < 1) return xf_error(XF_ERR_INTERNAL, "cpu: the plan has no recipe");
    XF_TRY(scratch_reserve(cs, p->n_tokens, p->n_seqs));
    XF_TRY(rope_reserve(cs, p->max_seq_len));
    XF_ALLOC(normw, c->hidden > 2 * c->head_dim ? c->hidden : 2 * c->head_dim);
    const cpu_view v = view_of(cs, p);
    for (int32_t i = 0; i < r->n_ops; i++) {
        int skip = 0;
        XF_TRY(run_op(cs, p, &v, i, normw, &skip));
        i += skip;
    }
    if (r->result == XF_BUF_X)
        memcpy(p->out, cs->s.x, sizeof(float) * (size_t)p->n_tokens * (size_t)c->hidden);
cleanup:
    free(normw);
    return st;
}

/* ---------------------------------------------------------------- weights */

static xf_status own(cpu_state *cs, size_t bytes, float **out) {
    void **grown = realloc(cs->owned, sizeof(void *) * (size_t)(cs->n_owned + 1));
    if (!grown) return xf_error(XF_ERR_NO_MEMORY, "out of host memory");
    cs->owned = grown;
    *out = malloc(bytes ? bytes : 1);
    if (!*out) return xf_error(XF_ERR_NO_MEMORY, "out of host memory for %zu bytes of weights", bytes);
    cs->owned[cs->n_owned++] = *out;
    cs->weight_bytes += bytes;
    return XF_OK;
}

/* Replaces *t by a bf16 copy unless it already is bf16. */
static xf_status as_bf16(cpu_state *cs, xf_tensor *t) {
    if (!t->data || t->type == XF_W_BF16) return XF_OK;
    float *buf;
    int64_t n = xf_tensor_numel(t);
    xf_status st = own(cs, sizeof(uint16_t) * (size_t)n, &buf);
    if (st != XF_OK) return st;
    xf_tensor_to_bf16(t, 0, n, (uint16_t *)buf);
    t->data = buf;
    t->type = XF_W_BF16;
    return XF_OK;
}

/* Replaces *t by an fp32 copy unless it already is fp32. */
static xf_status as_f32(cpu_state *cs, xf_tensor *t) {
    if (!t->data || t->type == XF_W_F32) return XF_OK;
    float *buf;
    int64_t n = xf_tensor_numel(t);
    xf_status st = own(cs, sizeof(float) * (size_t)n, &buf);
    if (st != XF_OK) return st;
    xf_tensor_to_f32(t, 0, n, buf);
    t->data = buf;
    t->type = XF_W_F32;
    return XF_OK;
}

xf_status xf_cpu_state_init(cpu_state *cs, const xf_backend_config *cfg, cpu_weights w) {
    xf_status st = XF_OK;
    const xf_model *m = cfg->model;
    const xf_config *c = &m->cfg;
    cs->model = m;
    cs->embed = m->embed, cs->final_norm = m->final_norm, cs->lm_head = m->lm_head, cs->score = m->score;
    cs->layers = m->layers;
    cs->adapters = cfg->n_adapters > 0 && !cfg->merge ? cfg->adapters : NULL;
    cs->n_adapters = cfg->n_adapters;
    cs->lora_rank = cs->adapters ? xf_cpu_max_rank(cfg->adapters, cfg->n_adapters) : 0;
    if (w == CPU_W_STORED && !cfg->merge) return XF_OK;

    XF_ALLOC(cs->own_layers, c->n_layers);
    memcpy(cs->own_layers, m->layers, sizeof(xf_layer) * (size_t)c->n_layers);
    cs->layers = cs->own_layers;
    if (w == CPU_W_BF16) {
        /* the embedding stays as stored (rows are read one token at a time); a tied
         * lm_head shares it when it is bf16, else gets its own bf16 copy */
        XF_TRY(as_bf16(cs, &cs->lm_head));
        XF_TRY(as_f32(cs, &cs->score));
        const xf_adapter *merged = cfg->merge && cfg->n_adapters > 0 ? cfg->adapters[0] : NULL;
        for (int l = 0; l < c->n_layers; l++) {
            xf_layer *L = &cs->own_layers[l];
            for (int mod = 0; mod < XF_MOD_COUNT; mod++)
                if (!merged || !merged->mods[l][mod].A)  /* merged ones: below */
                    XF_TRY(as_bf16(cs, (xf_tensor *)xf_module_weight(L, (xf_module)mod)));
            XF_TRY(as_f32(cs, &L->bq));
            XF_TRY(as_f32(cs, &L->bk));
            XF_TRY(as_f32(cs, &L->bv));
        }
    }
    if (w == CPU_W_F32) {
        int tied = m->lm_head.data == m->embed.data;
        XF_TRY(as_f32(cs, &cs->embed));
        XF_TRY(as_f32(cs, &cs->score));
        if (tied) cs->lm_head = cs->embed;
        else XF_TRY(as_f32(cs, &cs->lm_head));
        for (int l = 0; l < c->n_layers; l++) {
            xf_layer *L = &cs->own_layers[l];
            for (int mod = 0; mod < XF_MOD_COUNT; mod++)
                XF_TRY(as_f32(cs, (xf_tensor *)xf_module_weight(L, (xf_module)mod)));
            XF_TRY(as_f32(cs, &L->bq));
            XF_TRY(as_f32(cs, &L->bk));
            XF_TRY(as_f32(cs, &L->bv));
        }
    }
    if (cfg->merge && cfg->n_adapters > 0) {
        const xf_adapter *a = cfg->adapters[0];
        for (int l = 0; l < c->n_layers; l++)
            for (int mod = 0; mod < XF_MOD_COUNT; mod++) {
                if (!a->mods[l][mod].A) continue;
                xf_tensor *W = (xf_tensor *)xf_module_weight(&cs->own_layers[l], (xf_module)mod);
                const int64_t n = xf_tensor_numel(W);
                float *buf;
                if (w == CPU_W_BF16) {
                    /* merged in fp32 (a scratch copy), kept in bf16 */
                    float *merged32 = malloc(sizeof(float) * (size_t)n);
                    XF_CHECK(merged32, XF_ERR_NO_MEMORY, "out of host memory for a merged weight");
                    st = xf_adapter_merge(a, l, (xf_module)mod, W, merged32);
                    if (st == XF_OK) st = own(cs, sizeof(uint16_t) * (size_t)n, &buf);
                    if (st == XF_OK) {
                        xf_tensor t32 = {.data = merged32, .type = XF_W_F32, .ndim = 2, .shape = {W->shape[0], W->shape[1]}};
                        xf_tensor_to_bf16(&t32, 0, n, (uint16_t *)buf);
                        W->data = buf;
                        W->type = XF_W_BF16;
                    }
                    free(merged32);
                    if (st != XF_OK) goto cleanup;
                    continue;
                }
                XF_TRY(own(cs, sizeof(float) * (size_t)n, &buf));
                XF_TRY(xf_adapter_merge(a, l, (xf_module)mod, W, buf));
                W->data = buf;
                W->type = XF_W_F32;
            }
    }
cleanup:
    return st;
}

void xf_cpu_state_free(cpu_state *cs) {
    xf_cpu_scratch_free(&cs->s);
    free(cs->rope_cos);
    free(cs->rope_sin);
    for (int i = 0; i < cs->n_owned; i++) free(cs->owned[i]);
    free(cs->owned);
    free(cs->own_layers);
    memset(cs, 0, sizeof *cs);
}

/* ---------------------------------------------------------------- shared backend parts */

xf_status xf_cpu_check_mode(xf_dtype mode) {
    if (mode == XF_DTYPE_F32 || mode == XF_DTYPE_TF32) return XF_OK;
    return xf_error(XF_ERR_UNSUPPORTED, "the CPU backends compute in f32: use --dtype f32 (bf16/f16 need a GPU backend)");
}

xf_status xf_cpu_op_rmsnorm(xf_dtype mode, const float *x, const float *w, float *y, int rows, int n, float eps) {
    xf_ref_rmsnorm(x, w, y, rows, n, eps);
    return xf_cpu_check_mode(mode);
}

xf_status xf_cpu_op_qknorm_rope(xf_dtype mode, float *x, const float *w, float eps, const int32_t *pos, int T,
                                int nh, int D, const float *cos, const float *sin) {
    xf_ref_qknorm_rope(x, w, eps, pos, T, nh, D, cos, sin);
    return xf_cpu_check_mode(mode);
}

xf_status xf_cpu_op_swiglu(xf_dtype mode, const float *gate, const float *up, float *out, int64_t n) {
    xf_ref_swiglu(gate, up, out, n);
    return xf_cpu_check_mode(mode);
}

xf_status xf_cpu_create(const xf_backend_config *cfg, const cpu_kernels *k, void *ctx, cpu_weights w, void **state) {
    cpu_state *cs = calloc(1, sizeof *cs);
    if (!cs) return xf_error(XF_ERR_NO_MEMORY, "out of host memory");
    xf_status st = xf_cpu_state_init(cs, cfg, w);
    if (st != XF_OK) {
        xf_cpu_state_free(cs);
        free(cs);
        return st;
    }
    cs->k = k;
    cs->ctx = ctx;
    pthread_mutex_init(&cs->lock, NULL);
    *state = cs;
    return XF_OK;
}

/* One forward at a time per state: the scratch is reserved (and possibly freed and
 * grown) by each forward. The engine serialises its calls already; this keeps the
 * backend safe on its own. */
xf_status xf_cpu_forward_op(void *state, const xf_plan *plan) {
    cpu_state *cs = state;
    pthread_mutex_lock(&cs->lock);
    xf_status st = xf_cpu_forward(cs, plan);
    pthread_mutex_unlock(&cs->lock);
    return st;
}

size_t xf_cpu_peak(void *state) {
    cpu_state *cs = state;
    return cs->peak + cs->weight_bytes;
}

void xf_cpu_destroy(void *state) {
    if (!state) return;
    pthread_mutex_destroy(&((cpu_state *)state)->lock);
    xf_cpu_state_free(state);
    free(state);
}

/* ---------------------------------------------------------------- kernel table */

const char *xf_cpu_wtype_name(xf_wtype t) { return t == XF_W_BF16 ? "bf16" : t == XF_W_F16 ? "f16" : "f32"; }

void xf_cpu_kernel_entry(const cpu_state *cs, const cpu_kernel_names *names, const xf_op *op, xf_kernel_choice *out) {
    const xf_tensor *w = cs ? xf_cpu_op_weight(cs, op) : NULL;
    const char *wt = w ? xf_cpu_wtype_name(w->type) : "f32";
    memset(out, 0, sizeof *out);
    switch (op->kind) {
    case XF_OP_EMBED:
        snprintf(out->kernel, sizeof out->kernel, "row gather to f32");
        snprintf(out->layout, sizeof out->layout, "%s table [V,H] as held", wt);
        break;
    case XF_OP_RMSNORM:
    case XF_OP_QK_ROPE:
    case XF_OP_SWIGLU:
        snprintf(out->kernel, sizeof out->kernel, "%s (%s)", xf_op_kind_name(op->kind), names->loops);
        snprintf(out->layout, sizeof out->layout, "%s", op->kind == XF_OP_SWIGLU ? "f32, into gate (ACT = gate)"
                                                        : op->kind == XF_OP_QK_ROPE ? "f32 q, k in place"
                                                                                    : "f32 rows");
        break;
    case XF_OP_LINEAR: {
        /* the fused QKV and GATE_UP run as one product per piece (recipe.h's rewrite) */
        const char *pieces = op->weight == XF_WT_QKV ? " x3 (q,k,v)" : op->weight == XF_WT_GATE_UP ? " x2 (gate,up)" : "";
        char k[64] = "", l[48] = "";
        if (w) names->linear(cs, w, k, sizeof k, l, sizeof l);
        snprintf(out->kernel, sizeof out->kernel, "%s%s%s", w ? k : "?", pieces, op->lora ? " + LoRA f32" : "");
        snprintf(out->layout, sizeof out->layout, "%s", l);
        break;
    }
    case XF_OP_ATTENTION:
        snprintf(out->kernel, sizeof out->kernel, "%s", names->attention);
        snprintf(out->tile, sizeof out->tile, "%s", names->att_tile);
        snprintf(out->layout, sizeof out->layout, "f32 q, k, v arrays (rows strided)");
        break;
    case XF_OP_POOL:
        /* POOL(LAST) after an RMSNORM: only the last rows are normalised (recipe.h's rewrite) */
        snprintf(out->kernel, sizeof out->kernel, "%s%s",
                 op->pooling == XF_POOL_LAST    ? "last rows, normed alone by the rmsnorm"
                 : op->pooling == XF_POOL_MEAN ? "mean in double"
                                                : "row copy",
                 op->normalize ? " + L2 in double" : "");
        snprintf(out->layout, sizeof out->layout, "f32 [B,H]");
        break;
    default: snprintf(out->kernel, sizeof out->kernel, "(not offered)"); break;
    }
}
