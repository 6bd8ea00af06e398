/* cuda_weights.c — uploads the model once at engine creation: linear weights in
 * the mode's type (bf16/f16 for the tensor-core modes, fp32 for f32/tf32) with
 * q/k/v and gate/up fused into one matrix each, norms / biases / RoPE table /
 * score head in fp32, adapter 0 folded in when merging, and otherwise every
 * adapter's LoRA factors stacked per fused projection (see xfc_lora).
 * Host-side conversion runs through two pinned staging buffers so that
 * converting one chunk overlaps copying the previous one. */
#include <stdlib.h>
#include <string.h>

#include "../adapter.h"
#include "cuda_check.h"
#include "cuda_state.h"

#define STAGE_BYTES ((size_t)32 << 20)

typedef struct stager {
    char *buf[2];
    cudaEvent_t done[2];
    int cur;
    cudaStream_t s;
} stager;

static xf_status stager_init(stager *sg, cudaStream_t s) {
    xf_status st = XF_OK;
    memset(sg, 0, sizeof *sg);
    sg->s = s;
    for (int i = 0; i < 2; i++) {
        CUDA_CHECK(cudaHostAlloc((void **)&sg->buf[i], STAGE_BYTES, cudaHostAllocDefault));
        CUDA_CHECK(cudaEventCreateWithFlags(&sg->done[i], cudaEventDisableTiming));
        CUDA_CHECK(cudaEventRecord(sg->done[i], s));
    }
cleanup:
    return st;
}

static void stager_free(stager *sg) {
    if (sg->s) cudaStreamSynchronize(sg->s);
    for (int i = 0; i < 2; i++) {
        if (sg->buf[i]) cudaFreeHost(sg->buf[i]);
        if (sg->done[i]) cudaEventDestroy(sg->done[i]);
    }
    memset(sg, 0, sizeof *sg);
}

/* Hands out the next staging buffer once its previous copy has finished. */
static xf_status stager_next(stager *sg, char **buf) {
    xf_status st = XF_OK;
    sg->cur ^= 1;
    CUDA_CHECK(cudaEventSynchronize(sg->done[sg->cur]));
    *buf = sg->buf[sg->cur];
cleanup:
    return st;
}

static xf_status stager_send(stager *sg, void *dev, size_t bytes) {
    xf_status st = XF_OK;
    CUDA_CHECK(cudaMemcpyAsync(dev, sg->buf[sg->cur], bytes, cudaMemcpyHostToDevice, sg->s));
    CUDA_CHECK(cudaEventRecord(sg->done[sg->cur], sg->s));
cleanup:
    return st;
}

static void f32_to_type(const float *src, int64_t n, xfc_type t, void *dst) {
    if (t == XFC_F32) {
        memcpy(dst, src, sizeof(float) * (size_t)n);
    } else {
        uint16_t *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = t == XFC_BF16 ? xf_f32_to_bf16(src[i]) : xf_f32_to_f16(src[i]);
    }
}

/* dev[elem_off + i] = t[i] as type ty, for every element of t. */
static xf_status put_tensor(stager *sg, void *dev, int64_t elem_off, const xf_tensor *t, xfc_type ty) {
    xf_status st = XF_OK;
    const size_t es = xfc_type_size(ty);
    const int64_t n = xf_tensor_numel(t), chunk = (int64_t)(STAGE_BYTES / es);
    for (int64_t off = 0; off < n; off += chunk) {
        const int64_t m = n - off < chunk ? n - off : chunk;
        char *buf = NULL;
        XF_TRY(stager_next(sg, &buf));
        switch (ty) {
        case XFC_F32: xf_tensor_to_f32(t, off, m, (float *)buf); break;
        case XFC_BF16: xf_tensor_to_bf16(t, off, m, (uint16_t *)buf); break;
        case XFC_F16: xf_tensor_to_f16(t, off, m, (uint16_t *)buf); break;
        }
        XF_TRY(stager_send(sg, (char *)dev + (size_t)(elem_off + off) * es, (size_t)m * es));
    }
cleanup:
    return st;
}

/* dev[elem_off + i] = src[i] as type ty, i < n. */
static xf_status put_f32(stager *sg, void *dev, int64_t elem_off, const float *src, int64_t n, xfc_type ty) {
    xf_status st = XF_OK;
    const size_t es = xfc_type_size(ty);
    const int64_t chunk = (int64_t)(STAGE_BYTES / es);
    for (int64_t off = 0; off < n; off += chunk) {
        const int64_t m = n - off < chunk ? n - off : chunk;
        char *buf = NULL;
        XF_TRY(stager_next(sg, &buf));
        f32_to_type(src + off, m, ty, buf);
        XF_TRY(stager_send(sg, (char *)dev + (size_t)(elem_off + off) * es, (size_t)m * es));
    }
cleanup:
    return st;
}

/* Allocates a device array of n elements of ty and fills it from t (shape-checked). */
static xf_status new_tensor(xfc_state *st_, stager *sg, const xf_tensor *t, int64_t n, xfc_type ty, const char *what,
                            void **dev) {
    xf_status st = XF_OK;
    XF_CHECK(t->data && xf_tensor_numel(t) == n, XF_ERR_FORMAT, "cuda: weight %s is missing or has %lld elements, expected %lld",
             what, (long long)xf_tensor_numel(t), (long long)n);
    XF_TRY(xfc_malloc(st_, dev, (size_t)n * xfc_type_size(ty), what));
    XF_TRY(put_tensor(sg, *dev, 0, t, ty));
cleanup:
    return st;
}

/* Puts module `mod` of layer l into a fused matrix at row `row0` (merging adapter 0 when asked). */
static xf_status put_module(xfc_state *s, stager *sg, const xf_backend_config *cfg, int l, xf_module mod, void *dev,
                            int64_t row0, float *f32tmp) {
    xf_status st = XF_OK;
    const xf_tensor *W = xf_module_weight(&s->model->layers[l], mod);
    int32_t out, in;
    xf_module_dims(&s->model->cfg, mod, &out, &in);
    XF_CHECK(W->data && W->ndim == 2 && W->shape[0] == out && W->shape[1] == in, XF_ERR_FORMAT,
             "cuda: layer %d %s is missing or not [%d, %d]", l, xf_module_name(mod), out, in);
    if (cfg->merge && cfg->n_adapters > 0 && cfg->adapters[0]->mods[l][mod].A) {
        XF_TRY(xf_adapter_merge(cfg->adapters[0], l, mod, W, f32tmp));
        XF_TRY(put_f32(sg, dev, row0 * in, f32tmp, (int64_t)out * in, s->act));
    } else {
        XF_TRY(put_tensor(sg, dev, row0 * in, W, s->act));
    }
cleanup:
    return st;
}

static xf_status new_vector(xfc_state *s, stager *sg, const xf_tensor *t, int64_t n, const char *what, float **dev) {
    return new_tensor(s, sg, t, n, XFC_F32, what, (void **)dev);
}

xf_status xfc_upload_weights(xfc_state *s, const xf_backend_config *cfg) {
    xf_status st = XF_OK;
    stager sg = {0};
    float *f32tmp = NULL, *bias = NULL;
    const xf_model *m = s->model;
    const int64_t H = s->H, I = s->I, D = s->D, Q = (int64_t)s->NH * D, KV = (int64_t)s->NKV * D, N = s->Nqkv;
    XF_TRY(stager_init(&sg, s->stream));
    if (cfg->merge && cfg->n_adapters > 0) {
        int64_t biggest = I * H > Q * H ? I * H : Q * H;
        XF_ALLOC(f32tmp, biggest);
    }
    XF_ALLOC(s->layers, s->n_layers);
    for (int l = 0; l < s->n_layers; l++) {
        const xf_layer *L = &m->layers[l];
        xfc_layer *d = &s->layers[l];
        XF_TRY(new_vector(s, &sg, &L->attn_norm, H, "input_layernorm", &d->attn_norm));
        XF_TRY(new_vector(s, &sg, &L->mlp_norm, H, "post_attention_layernorm", &d->mlp_norm));
        if (L->q_norm.data) XF_TRY(new_vector(s, &sg, &L->q_norm, D, "q_norm", &d->q_norm));
        if (L->k_norm.data) XF_TRY(new_vector(s, &sg, &L->k_norm, D, "k_norm", &d->k_norm));
        XF_CHECK(!L->q_norm.data == !L->k_norm.data, XF_ERR_FORMAT, "cuda: layer %d has only one of q_norm/k_norm", l);
        if (L->bq.data || L->bk.data || L->bv.data) {
            if (!bias) XF_ALLOC(bias, N);
            const xf_tensor *b[3] = {&L->bq, &L->bk, &L->bv};
            const int64_t off[3] = {0, Q, Q + KV}, len[3] = {Q, KV, KV};
            for (int i = 0; i < 3; i++) {
                if (!b[i]->data) {
                    memset(bias + off[i], 0, sizeof(float) * (size_t)len[i]);
                    continue;
                }
                XF_CHECK(xf_tensor_numel(b[i]) == len[i], XF_ERR_FORMAT, "cuda: layer %d q/k/v bias %d has %lld elements",
                         l, i, (long long)xf_tensor_numel(b[i]));
                xf_tensor_to_f32(b[i], 0, len[i], bias + off[i]);
            }
            XF_TRY(xfc_malloc(s, (void **)&d->bqkv, sizeof(float) * (size_t)N, "qkv bias"));
            XF_TRY(put_f32(&sg, d->bqkv, 0, bias, N, XFC_F32));
            CUDA_CHECK(cudaStreamSynchronize(s->stream));  /* `bias` is refilled for the next layer */
        }
        const size_t es = xfc_type_size(s->act);
        XF_TRY(xfc_malloc(s, &d->wqkv, (size_t)(N * H) * es, "q/k/v weights"));
        XF_TRY(put_module(s, &sg, cfg, l, XF_MOD_Q, d->wqkv, 0, f32tmp));
        XF_TRY(put_module(s, &sg, cfg, l, XF_MOD_K, d->wqkv, Q, f32tmp));
        XF_TRY(put_module(s, &sg, cfg, l, XF_MOD_V, d->wqkv, Q + KV, f32tmp));
        XF_TRY(xfc_malloc(s, &d->wo, (size_t)(H * Q) * es, "o_proj weights"));
        XF_TRY(put_module(s, &sg, cfg, l, XF_MOD_O, d->wo, 0, f32tmp));
        XF_TRY(xfc_malloc(s, &d->wgu, (size_t)(2 * I * H) * es, "gate/up weights"));
        XF_TRY(put_module(s, &sg, cfg, l, XF_MOD_GATE, d->wgu, 0, f32tmp));
        XF_TRY(put_module(s, &sg, cfg, l, XF_MOD_UP, d->wgu, I, f32tmp));
        XF_TRY(xfc_malloc(s, &d->wd, (size_t)(H * I) * es, "down_proj weights"));
        XF_TRY(put_module(s, &sg, cfg, l, XF_MOD_DOWN, d->wd, 0, f32tmp));
    }
    XF_TRY(new_tensor(s, &sg, &m->embed, (int64_t)s->V * H, s->act, "embed_tokens", &s->embed));
    if (m->lm_head.data == m->embed.data) s->lm_head = s->embed;
    else if (m->lm_head.data) XF_TRY(new_tensor(s, &sg, &m->lm_head, (int64_t)s->V * H, s->act, "lm_head", &s->lm_head));
    XF_TRY(new_vector(s, &sg, &m->final_norm, H, "norm", &s->final_norm));
    if (m->score.data) XF_TRY(new_vector(s, &sg, &m->score, (int64_t)s->L * H, "score", &s->score));
    /* the RoPE table is made with the scratch, for t_cap positions (cuda_forward.c) */
    CUDA_CHECK(cudaStreamSynchronize(s->stream));
cleanup:
    stager_free(&sg);
    free(f32tmp);
    free(bias);
    return st;
}

/* ---------------------------------------------------------------- LoRA */

typedef struct group_def {
    int n;
    xf_module mods[3];
} group_def;

static const group_def groups[XFC_G_COUNT] = {
    [XFC_G_QKV] = {3, {XF_MOD_Q, XF_MOD_K, XF_MOD_V}},
    [XFC_G_O] = {1, {XF_MOD_O}},
    [XFC_G_GU] = {2, {XF_MOD_GATE, XF_MOD_UP}},
    [XFC_G_DOWN] = {1, {XF_MOD_DOWN}},
};

/* Row offset of module `mod` inside its fused projection. */
static int64_t fused_row(const xfc_state *s, xf_module mod) {
    switch (mod) {
    case XF_MOD_K: return (int64_t)s->NH * s->D;
    case XF_MOD_V: return (int64_t)(s->NH + s->NKV) * s->D;
    case XF_MOD_UP: return s->I;
    default: return 0;
    }
}

static xf_status upload_group(xfc_state *s, stager *sg, const xf_adapter *a, int l, int g, xfc_lora *out) {
    xf_status st = XF_OK;
    float *A = NULL, *B = NULL;
    int32_t R = 0, in = 0, N = 0, o, i;
    for (int k = 0; k < groups[g].n; k++) R += a->mods[l][groups[g].mods[k]].A ? a->mods[l][groups[g].mods[k]].r : 0;
    out->R = 0;
    if (R == 0) return XF_OK;
    const int32_t Rp = (R + 7) / 8 * 8;
    xf_module_dims(&s->model->cfg, groups[g].mods[0], &o, &in);
    N = g == XFC_G_QKV ? s->Nqkv : g == XFC_G_GU ? 2 * s->I : s->H;
    const int64_t nA = (int64_t)Rp * in, nB = (int64_t)N * Rp;
    XF_ALLOC(A, nA);
    XF_ALLOC(B, nB);
    int32_t r0 = 0;
    for (int k = 0; k < groups[g].n; k++) {
        const xf_module mod = groups[g].mods[k];
        const xf_lora *Lm = &a->mods[l][mod];
        if (!Lm->A) continue;
        xf_module_dims(&s->model->cfg, mod, &o, &i);
        XF_CHECK(Lm->in == i && Lm->out == o && Lm->r > 0, XF_ERR_FORMAT,
                 "cuda: adapter %s layer %d %s is [%d -> %d], the model's is [%d -> %d]", a->dir ? a->dir : "",
                 l, xf_module_name(mod), Lm->in, Lm->out, i, o);
        memcpy(A + (int64_t)r0 * in, Lm->A, sizeof(float) * (size_t)Lm->r * (size_t)in);
        const int64_t row0 = fused_row(s, mod);
        for (int32_t y = 0; y < o; y++)
            for (int32_t k2 = 0; k2 < Lm->r; k2++)
                B[(row0 + y) * Rp + r0 + k2] = Lm->scale * Lm->B[(int64_t)y * Lm->r + k2];
        r0 += Lm->r;
    }
    XF_TRY(xfc_malloc(s, &out->A, (size_t)Rp * (size_t)in * xfc_type_size(s->act), "LoRA A"));
    XF_TRY(xfc_malloc(s, &out->B, (size_t)N * (size_t)Rp * xfc_type_size(s->act), "LoRA B"));
    XF_TRY(put_f32(sg, out->A, 0, A, nA, s->act));
    XF_TRY(put_f32(sg, out->B, 0, B, nB, s->act));
    CUDA_CHECK(cudaStreamSynchronize(s->stream));  /* A and B are freed below */
    out->R = Rp;
    if (Rp > s->lora_rmax) s->lora_rmax = Rp;
cleanup:
    free(A);
    free(B);
    return st;
}

xf_status xfc_upload_adapters(xfc_state *s, const xf_backend_config *cfg) {
    xf_status st = XF_OK;
    stager sg = {0};
    s->n_adapters = cfg->merge ? 0 : cfg->n_adapters;
    if (s->n_adapters == 0) return XF_OK;
    XF_TRY(stager_init(&sg, s->stream));
    const int64_t n_lora = (int64_t)s->n_adapters * s->n_layers * XFC_G_COUNT;
    XF_ALLOC(s->lora, n_lora);
    for (int a = 0; a < s->n_adapters; a++) {
        XF_CHECK(cfg->adapters[a] && cfg->adapters[a]->n_layers == s->n_layers, XF_ERR_INVALID_ARG,
                 "cuda: adapter %d was made for another model", a);
        for (int l = 0; l < s->n_layers; l++)
            for (int g = 0; g < XFC_G_COUNT; g++)
                XF_TRY(upload_group(s, &sg, cfg->adapters[a], l, g,
                                    &s->lora[((int64_t)a * s->n_layers + l) * XFC_G_COUNT + g]));
    }
cleanup:
    stager_free(&sg);
    return st;
}
