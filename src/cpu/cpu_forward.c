/* cpu_forward.c — one forward on the CPU, op by op, for a plan (one chunk of a
 * batch): embedding → layers (norm, q/k/v, q/k-norm + RoPE, attention, o_proj
 * into the residual, norm, gate/up, SwiGLU, down into the residual) → final
 * norm → the requested head. LoRA adds its low-rank term after each targeted
 * projection, per sequence. */
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

static xf_status run_layer(cpu_state *cs, const xf_plan *p, int l, float *normw) {
    const xf_config *c = &cs->model->cfg;
    const xf_layer *L = &cs->layers[l];
    cpu_scratch *s = &cs->s;
    const int64_t T = p->n_tokens;
    const int H = c->hidden, D = c->head_dim, NH = c->n_heads, NKV = c->n_kv_heads, I = c->intermediate;
    const int Q = NH * D, KV = NKV * D;
    const float eps = (float)c->eps;

    /* attention block: h = x + o_proj(attn(rms(x))) */
    to_f32(&L->attn_norm, normw);
    cs->k->rmsnorm(s->x, normw, s->xn, T, H, eps);
    cs->k->linear(cs->ctx, s->xn, &L->wq, &L->bq, s->q, T, H, Q, 0);
    apply_lora(cs, p, l, XF_MOD_Q, s->xn, s->q, H, Q);
    cs->k->linear(cs->ctx, s->xn, &L->wk, &L->bk, s->k, T, H, KV, 0);
    apply_lora(cs, p, l, XF_MOD_K, s->xn, s->k, H, KV);
    cs->k->linear(cs->ctx, s->xn, &L->wv, &L->bv, s->v, T, H, KV, 0);
    apply_lora(cs, p, l, XF_MOD_V, s->xn, s->v, H, KV);
    float *qn = NULL, *kn = NULL;
    if (L->q_norm.data) {
        qn = normw, kn = normw + D;
        to_f32(&L->q_norm, qn);
        to_f32(&L->k_norm, kn);
    }
    /* positions < p->max_seq_len <= cs->rope_rows (rope_reserve) */
    cs->k->qknorm_rope(s->q, qn, eps, p->positions, T, NH, D, cs->rope_cos, cs->rope_sin);
    cs->k->qknorm_rope(s->k, kn, eps, p->positions, T, NKV, D, cs->rope_cos, cs->rope_sin);
    cs->k->attention(cs->ctx, s->q, Q, s->k, KV, s->v, KV, s->att, p->seq_start, p->n_seqs, NH, NKV, D,
                     xf_config_mask(c, l));
    cs->k->linear(cs->ctx, s->att, &L->wo, NULL, s->x, T, Q, H, 1);
    apply_lora(cs, p, l, XF_MOD_O, s->att, s->x, Q, H);

    /* MLP block: x' = h + down(silu(gate(rms(h))) ⊙ up(rms(h))) */
    to_f32(&L->mlp_norm, normw);
    cs->k->rmsnorm(s->x, normw, s->xn, T, H, eps);
    cs->k->linear(cs->ctx, s->xn, &L->w_gate, NULL, s->gate, T, H, I, 0);
    apply_lora(cs, p, l, XF_MOD_GATE, s->xn, s->gate, H, I);
    cs->k->linear(cs->ctx, s->xn, &L->w_up, NULL, s->up, T, H, I, 0);
    apply_lora(cs, p, l, XF_MOD_UP, s->xn, s->up, H, I);
    cs->k->swiglu(s->gate, s->up, s->gate, T * I);
    cs->k->linear(cs->ctx, s->gate, &L->w_down, NULL, s->x, T, I, H, 1);
    apply_lora(cs, p, l, XF_MOD_DOWN, s->gate, s->x, I, H);
    return XF_OK;
}

/* out [B, H]: pooled rows of hidden [T, H], optionally L2-normalised. */
static void pool(const xf_plan *p, const float *hidden, int H, float *out) {
    for (int32_t b = 0; b < p->n_seqs; b++) {
        const int32_t s0 = p->seq_start[b], s1 = p->seq_start[b + 1];
        float *o = out + (int64_t)b * H;
        if (p->pooling == XF_POOL_MEAN) {
            for (int i = 0; i < H; i++) {
                double acc = 0;
                for (int32_t t = s0; t < s1; t++) acc += hidden[(int64_t)t * H + i];
                o[i] = (float)(acc / (s1 - s0));
            }
        } else {
            int32_t t = p->pooling == XF_POOL_FIRST ? s0 : s1 - 1;
            memcpy(o, hidden + (int64_t)t * H, sizeof(float) * (size_t)H);
        }
        if (p->normalize) {
            double ss = 0;
            for (int i = 0; i < H; i++) ss += (double)o[i] * o[i];
            double inv = ss > 0 ? 1.0 / sqrt(ss) : 0.0;
            for (int i = 0; i < H; i++) o[i] = (float)(o[i] * inv);
        }
    }
}

xf_status xf_cpu_forward(cpu_state *cs, const xf_plan *p) {
    xf_status st = XF_OK;
    const xf_config *c = &cs->model->cfg;
    const int64_t T = p->n_tokens;
    const int H = c->hidden;
    float *normw = NULL;
    XF_TRY(scratch_reserve(cs, T, p->n_seqs));
    XF_TRY(rope_reserve(cs, p->max_seq_len));
    XF_ALLOC(normw, H > 2 * c->head_dim ? H : 2 * c->head_dim);
    cpu_scratch *s = &cs->s;
    for (int64_t t = 0; t < T; t++) xf_tensor_to_f32(&cs->embed, (int64_t)p->tokens[t] * H, H, s->x + t * H);
    for (int l = 0; l < c->n_layers; l++) {
        if (l == p->stop_layer) break;
        XF_TRY(run_layer(cs, p, l, normw));
    }
    if (p->stop_layer >= 0) {
        memcpy(p->out, s->x, sizeof(float) * (size_t)(T * H));
        goto cleanup;
    }
    to_f32(&cs->final_norm, normw);
    switch (p->output) {
    case XF_OUT_HIDDEN: cs->k->rmsnorm(s->x, normw, p->out, T, H, (float)c->eps); break;
    case XF_OUT_LOGITS:
        cs->k->rmsnorm(s->x, normw, s->xn, T, H, (float)c->eps);
        cs->k->linear(cs->ctx, s->xn, &cs->lm_head, NULL, p->out, T, H, c->vocab, 0);
        break;
    case XF_OUT_EMBED:
        cs->k->rmsnorm(s->x, normw, s->xn, T, H, (float)c->eps);
        pool(p, s->xn, H, p->out);
        break;
    case XF_OUT_CLASSIFY:
        for (int32_t b = 0; b < p->n_seqs; b++)
            cs->k->rmsnorm(s->x + (int64_t)(p->seq_start[b + 1] - 1) * H, normw, s->rows + (int64_t)b * H, 1, H,
                           (float)c->eps);
        cs->k->linear(cs->ctx, s->rows, &cs->score, NULL, p->out, p->n_seqs, H, c->num_labels, 0);
        break;
    }
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
