/* weights.c — uploading a model once at engine creation: matrices in the mode's
 * weight type (fp32, f16 or bf16), split by rows where one would exceed a
 * storage-buffer binding; q/k/v fused into one [(NH+2·NKV)·D, H] matrix and
 * gate/up into one [2·I, H] matrix so each is one multiply (the layers' matrices in
 * the blocked layout of the matrix-unit kernel where it reads that); norms, biases and
 * the RoPE table in fp32; LoRA factors in fp32, or adapter 0 folded into the
 * weights (W += s·B·A) when the engine merges it. */
#include <stdlib.h>
#include <string.h>

#include "../loader.h"
#include "vk_internal.h"

xf_status vkx_buffer_from(vkx_ctx *c, const void *src, size_t bytes, vkx_buffer *b) {
    xf_status st = XF_OK;
    XF_TRY(vkx_buffer_create(c, bytes, 0, b));
    if (bytes) XF_TRY(vkx_upload(c, b, 0, src, bytes));
cleanup:
    return st;
}

xf_status vkx_weight_upload(vkx_ctx *c, vkx_wt wt, uint32_t rows, uint32_t cols, vkx_rows_fn fill,
                            void *user, vkx_weight *w) {
    xf_status st = XF_OK;
    memset(w, 0, sizeof(*w));
    w->wt = wt;
    w->rows = rows;
    w->cols = cols;
    size_t row_bytes = (size_t)cols * vkx_wt_size(wt);
    uint64_t per_piece = row_bytes ? c->max_piece / row_bytes : rows;
    XF_CHECK(per_piece >= 1, XF_ERR_UNSUPPORTED,
             "vulkan: one row of %u values exceeds the device's storage-buffer range", cols);
    if (per_piece > rows) per_piece = rows ? rows : 1;
    int n = rows ? (int)((rows + per_piece - 1) / per_piece) : 1;
    XF_ALLOC(w->pieces, n);
    XF_ALLOC(w->row0, n + 1);
    w->n = n;
    for (int p = 0; p <= n; p++) {
        uint64_t r = (uint64_t)p * per_piece;
        w->row0[p] = (uint32_t)(r < rows ? r : rows);
    }
    uint32_t chunk_rows = row_bytes ? (uint32_t)(c->staging.size / row_bytes) : rows;
    XF_CHECK(chunk_rows >= 1, XF_ERR_UNSUPPORTED, "vulkan: a weight row of %u values exceeds the staging buffer",
             cols);
    for (int p = 0; p < n; p++) {
        uint32_t r0 = w->row0[p], r1 = w->row0[p + 1];
        XF_TRY(vkx_buffer_create(c, (VkDeviceSize)(r1 - r0) * row_bytes, 0, &w->pieces[p]));
        for (uint32_t r = r0; r < r1; r += chunk_rows) {
            uint32_t nr = r1 - r < chunk_rows ? r1 - r : chunk_rows;
            fill(user, r, nr, c->staging.map);
            XF_TRY(vkx_begin(c));
            VkBufferCopy region = {.srcOffset = 0, .dstOffset = (VkDeviceSize)(r - r0) * row_bytes,
                                   .size = (VkDeviceSize)nr * row_bytes};
            vkCmdCopyBuffer(c->cmd, c->staging.buf, w->pieces[p].buf, 1, &region);
            XF_TRY(vkx_submit_wait(c));
        }
    }
    return XF_OK;
cleanup:
    vkx_weight_free(c, w);
    return st;
}

int vkx_blocked_fits(const vkx_ctx *c, vkx_wt wt, uint32_t rows, uint32_t cols, uint32_t bn, uint32_t bk) {
    uint64_t groups = bn ? ((uint64_t)rows + bn - 1) / bn : 0, group_bytes = (uint64_t)bn * cols * vkx_wt_size(wt);
    uint64_t per_chunk = group_bytes ? c->staging.size / group_bytes : 0;
    return bn && bk && rows != 0 && cols % bk == 0 && groups * group_bytes <= c->max_piece && per_chunk != 0;
}

xf_status vkx_weight_upload_blocked(vkx_ctx *c, vkx_wt wt, uint32_t rows, uint32_t cols, vkx_rows_fn fill,
                                    void *user, uint32_t bn, uint32_t bk, vkx_weight *w) {
    xf_status st = XF_OK;
    size_t es = vkx_wt_size(wt);
    uint64_t groups = bn ? ((uint64_t)rows + bn - 1) / bn : 0, group_bytes = (uint64_t)bn * cols * es;
    uint64_t per_chunk = group_bytes ? c->staging.size / group_bytes : 0;
    if (!vkx_blocked_fits(c, wt, rows, cols, bn, bk)) return vkx_weight_upload(c, wt, rows, cols, fill, user, w);
    char *tmp = NULL;
    memset(w, 0, sizeof(*w));
    w->wt = wt;
    w->rows = rows;
    w->cols = cols;
    w->blk_rows = bn;
    w->blk_k = bk;
    XF_ALLOC(w->pieces, 1);
    XF_ALLOC(w->row0, 2);
    w->n = 1;
    w->row0[1] = rows;
    XF_TRY(vkx_buffer_create(c, (VkDeviceSize)(groups * group_bytes), 0, &w->pieces[0]));
    if (per_chunk > groups) per_chunk = groups;
    size_t tmp_bytes = (size_t)(per_chunk * group_bytes);
    XF_ALLOC(tmp, tmp_bytes);
    size_t run = (size_t)bk * es, row_bytes = (size_t)cols * es;
    for (uint64_t g0 = 0; g0 < groups; g0 += per_chunk) {
        uint64_t ng = groups - g0 < per_chunk ? groups - g0 : per_chunk;
        uint64_t r0 = g0 * bn, nr = rows - r0 < ng * bn ? rows - r0 : ng * bn;
        fill(user, (uint32_t)r0, (uint32_t)nr, tmp);
        memset(tmp + nr * row_bytes, 0, (size_t)((ng * bn - nr) * row_bytes)); /* the padding rows */
        char *dst = c->staging.map;
        for (uint64_t g = 0; g < ng; g++)
            for (uint32_t kb = 0; kb < cols / bk; kb++)
                for (uint32_t r = 0; r < bn; r++, dst += run)
                    memcpy(dst, tmp + (g * bn + r) * row_bytes + kb * run, run);
        XF_TRY(vkx_begin(c));
        VkBufferCopy region = {.srcOffset = 0, .dstOffset = g0 * group_bytes, .size = ng * group_bytes};
        vkCmdCopyBuffer(c->cmd, c->staging.buf, w->pieces[0].buf, 1, &region);
        XF_TRY(vkx_submit_wait(c));
    }
    free(tmp);
    return XF_OK;
cleanup:
    free(tmp);
    vkx_weight_free(c, w);
    return st;
}

void vkx_weight_free(vkx_ctx *c, vkx_weight *w) {
    if (w->pieces)
        for (int p = 0; p < w->n; p++) vkx_buffer_destroy(c, &w->pieces[p]);
    free(w->pieces);
    free(w->row0);
    memset(w, 0, sizeof(*w));
}

/* ------------------------------------------------------------ fused sources */

/* Rows of several tensors stacked (q|k|v, gate|up), each optionally with a LoRA
 * pair to fold in. Conversion goes straight to the target type unless merging. */
typedef struct fused {
    int n;
    const xf_tensor *t[3];
    const xf_lora *merge[3];
    int64_t rows[3];
    int64_t cols;
    int64_t block;     /* > 0: two equal sources interleaved in blocks of this many rows */
    uint32_t blk_rows, blk_k; /* > 0: uploaded in the blocked layout (vkx_weight_upload_blocked) */
    vkx_wt wt;
    xf_status st;      /* first failure inside a fill (host memory) */
} fused;

static void to_type(const xf_tensor *t, int64_t off, int64_t n, vkx_wt wt, void *dst) {
    if (wt == VKX_WT_F32) xf_tensor_to_f32(t, off, n, dst);
    else if (wt == VKX_WT_F16) xf_tensor_to_f16(t, off, n, dst);
    else xf_tensor_to_bf16(t, off, n, dst);
}

static void f32_to_type(const float *src, int64_t n, vkx_wt wt, void *dst) {
    if (wt == VKX_WT_F32) {
        memcpy(dst, src, (size_t)n * 4);
    } else {
        uint16_t *d = dst;
        for (int64_t i = 0; i < n; i++) d[i] = wt == VKX_WT_F16 ? xf_f32_to_f16(src[i]) : xf_f32_to_bf16(src[i]);
    }
}

/* rows [a, b) of source s, W + scale·B·A, into dst. */
static void merged_rows(fused *f, int s, int64_t a, int64_t b, void *dst) {
    const xf_lora *lo = f->merge[s];
    int64_t n = (b - a) * f->cols;
    float *tmp = malloc((size_t)n * sizeof(float));
    if (!tmp) {
        f->st = XF_ERR_NO_MEMORY;
        memset(dst, 0, (size_t)n * vkx_wt_size(f->wt));
        return;
    }
    xf_tensor_to_f32(f->t[s], a * f->cols, n, tmp);
    for (int64_t o = a; o < b; o++) {
        float *row = tmp + (o - a) * f->cols;
        for (int32_t r = 0; r < lo->r; r++) {
            float bo = lo->scale * lo->B[o * lo->r + r];
            const float *arow = lo->A + (int64_t)r * lo->in;
            for (int64_t i = 0; i < f->cols; i++) row[i] += bo * arow[i];
        }
    }
    f32_to_type(tmp, n, f->wt, dst);
    free(tmp);
}

/* Rows [a, b) of source s into out, converted (and merged) as the fused weight says. */
static void source_rows(fused *f, int s, int64_t a, int64_t b, void *out) {
    if (f->merge[s]) merged_rows(f, s, a, b, out);
    else to_type(f->t[s], a * f->cols, (b - a) * f->cols, f->wt, out);
}

static void fused_fill(void *user, uint32_t row0, uint32_t nrows, void *dst) {
    fused *f = user;
    char *out = dst;
    size_t es = vkx_wt_size(f->wt);
    if (f->block > 0) { /* row r: block r / block alternates between the two sources */
        for (int64_t r = row0, end = (int64_t)row0 + nrows; r < end;) {
            int64_t blk = r / f->block, in = r % f->block, n = f->block - in;
            if (n > end - r) n = end - r;
            int64_t a = (blk / 2) * f->block + in;
            source_rows(f, (int)(blk % 2), a, a + n, out);
            out += (size_t)(n * f->cols) * es;
            r += n;
        }
        return;
    }
    int64_t base = 0, r = row0, end = (int64_t)row0 + nrows;
    for (int s = 0; s < f->n && r < end; s++) {
        int64_t s_end = base + f->rows[s];
        if (r < s_end) {
            int64_t a = r - base, b = (end < s_end ? end : s_end) - base;
            source_rows(f, s, a, b, out);
            out += (size_t)((b - a) * f->cols) * es;
            r = base + b;
        }
        base = s_end;
    }
}

static xf_status upload_fused(vkx_ctx *c, fused *f, vkx_weight *w) {
    xf_status st = XF_OK;
    int64_t rows = 0;
    for (int s = 0; s < f->n; s++) rows += f->rows[s];
    XF_CHECK(rows < ((int64_t)1 << 31) && f->cols < ((int64_t)1 << 31), XF_ERR_UNSUPPORTED,
             "vulkan: a %lld x %lld weight is too large", (long long)rows, (long long)f->cols);
    f->st = XF_OK;
    XF_TRY(vkx_weight_upload_blocked(c, f->wt, (uint32_t)rows, (uint32_t)f->cols, fused_fill, f, f->blk_rows,
                                     f->blk_k, w));
    XF_CHECK(f->st == XF_OK, f->st, "out of host memory while merging a LoRA adapter");
cleanup:
    return st;
}

static xf_status upload_vector(vkx_ctx *c, const xf_tensor *t, vkx_buffer *b) {
    xf_status st = XF_OK;
    int64_t n = xf_tensor_numel(t);
    float *tmp = NULL;
    XF_ALLOC(tmp, n);
    xf_tensor_to_f32(t, 0, n, tmp);
    XF_TRY(vkx_buffer_from(c, tmp, (size_t)n * 4, b));
cleanup:
    free(tmp);
    return st;
}

/* LoRA pair of adapter a for module mod of layer l, or NULL. */
static const xf_lora *lora_of(const xf_backend_config *cfg, int a, int l, xf_module mod) {
    if (a >= cfg->n_adapters || !cfg->adapters[a]) return NULL;
    const xf_lora *lo = &cfg->adapters[a]->mods[l][mod];
    return lo->A ? lo : NULL;
}

static xf_status upload_layer(vkx_ctx *c, const xf_backend_config *cfg, vkx_wt wt, const vkx_layout *lay, int l,
                              vkx_layer *L) {
    xf_status st = XF_OK;
    const xf_config *mc = &cfg->model->cfg;
    const xf_layer *ml = &cfg->model->layers[l];
    int64_t D = mc->head_dim, H = mc->hidden, I = mc->intermediate;
    int64_t qr = (int64_t)mc->n_heads * D, kvr = (int64_t)mc->n_kv_heads * D;
    int merge = cfg->merge && cfg->n_adapters > 0;
#define MERGE(mod) (merge ? lora_of(cfg, 0, l, mod) : NULL)

    XF_TRY(upload_vector(c, &ml->attn_norm, &L->attn_norm));
    XF_TRY(upload_vector(c, &ml->mlp_norm, &L->mlp_norm));
    if (ml->q_norm.data) XF_TRY(upload_vector(c, &ml->q_norm, &L->q_norm));
    if (ml->k_norm.data) XF_TRY(upload_vector(c, &ml->k_norm, &L->k_norm));
    if (ml->bq.data || ml->bk.data || ml->bv.data) {
        float *b = NULL;
        XF_ALLOC(b, qr + 2 * kvr);
        if (ml->bq.data) xf_tensor_to_f32(&ml->bq, 0, qr, b);
        if (ml->bk.data) xf_tensor_to_f32(&ml->bk, 0, kvr, b + qr);
        if (ml->bv.data) xf_tensor_to_f32(&ml->bv, 0, kvr, b + qr + kvr);
        st = vkx_buffer_from(c, b, (size_t)(qr + 2 * kvr) * 4, &L->bqkv);
        free(b);
        XF_TRY(st);
    }
    fused f = {.n = 3, .t = {&ml->wq, &ml->wk, &ml->wv},
               .merge = {MERGE(XF_MOD_Q), MERGE(XF_MOD_K), MERGE(XF_MOD_V)},
               .rows = {qr, kvr, kvr}, .cols = H, .blk_rows = lay->blk_rows, .blk_k = lay->blk_k, .wt = wt};
    XF_TRY(upload_fused(c, &f, &L->qkv));
    fused fo = {.n = 1, .t = {&ml->wo}, .merge = {MERGE(XF_MOD_O)}, .rows = {H}, .cols = qr,
                .blk_rows = lay->blk_rows, .blk_k = lay->blk_k, .wt = wt};
    XF_TRY(upload_fused(c, &fo, &L->o));
    fused fg = {.n = 2, .t = {&ml->w_gate, &ml->w_up}, .merge = {MERGE(XF_MOD_GATE), MERGE(XF_MOD_UP)},
                .rows = {I, I}, .cols = H, .block = lay->glu_block, .blk_rows = lay->gu_blk_rows,
                .blk_k = lay->blk_k, .wt = wt};
    XF_TRY(upload_fused(c, &fg, &L->gu));
    fused fd = {.n = 1, .t = {&ml->w_down}, .merge = {MERGE(XF_MOD_DOWN)}, .rows = {H}, .cols = I,
                .blk_rows = lay->blk_rows, .blk_k = lay->blk_k, .wt = wt};
    XF_TRY(upload_fused(c, &fd, &L->down));
#undef MERGE
cleanup:
    return st;
}

static xf_status upload_loras(vkx_ctx *c, const xf_backend_config *cfg, vkx_model *vm) {
    xf_status st = XF_OK;
    int nl = cfg->model->cfg.n_layers;
    size_t n_lora = (size_t)cfg->n_adapters * nl * XF_MOD_COUNT;
    XF_ALLOC(vm->lora, n_lora);
    vm->n_adapters = cfg->n_adapters;
    for (int a = 0; a < cfg->n_adapters; a++)
        for (int l = 0; l < nl; l++)
            for (int m = 0; m < XF_MOD_COUNT; m++) {
                const xf_lora *lo = lora_of(cfg, a, l, (xf_module)m);
                if (!lo) continue;
                vkx_lora *d = &vm->lora[((size_t)a * nl + l) * XF_MOD_COUNT + m];
                d->r = lo->r;
                d->in = lo->in;
                d->out = lo->out;
                d->scale = lo->scale;
                XF_TRY(vkx_buffer_from(c, lo->A, (size_t)lo->r * lo->in * 4, &d->A));
                XF_TRY(vkx_buffer_from(c, lo->B, (size_t)lo->out * lo->r * 4, &d->B));
                if (lo->r > vm->r_max) vm->r_max = lo->r;
            }
cleanup:
    return st;
}

xf_status vkx_model_upload(vkx_ctx *c, const xf_backend_config *cfg, vkx_wt wt, const vkx_layout *lay,
                           vkx_model *vm) {
    xf_status st = XF_OK;
    const xf_model *m = cfg->model;
    const xf_config *mc = &m->cfg;
    memset(vm, 0, sizeof(*vm));
    XF_ALLOC(vm->layers, mc->n_layers);
    vm->n_layers = mc->n_layers;
    fused fe = {.n = 1, .t = {&m->embed}, .rows = {mc->vocab}, .cols = mc->hidden, .wt = wt};
    XF_TRY(upload_fused(c, &fe, &vm->embed));
    if (m->lm_head.data) {
        if (m->lm_head.data == m->embed.data) {
            vm->lm_head = vm->embed;
            vm->lm_tied = 1;
        } else {
            fused fl = {.n = 1, .t = {&m->lm_head}, .rows = {m->lm_head.shape[0]}, .cols = mc->hidden, .wt = wt};
            XF_TRY(upload_fused(c, &fl, &vm->lm_head));
        }
    }
    if (m->score.data) {
        fused fs = {.n = 1, .t = {&m->score}, .rows = {m->score.shape[0]}, .cols = mc->hidden,
                    .wt = VKX_WT_F32};
        XF_TRY(upload_fused(c, &fs, &vm->score));
    }
    XF_TRY(upload_vector(c, &m->final_norm, &vm->final_norm));
    /* the RoPE table is made with the scratch, for its token capacity (vkx_rope_upload) */
    for (int l = 0; l < mc->n_layers; l++) XF_TRY(upload_layer(c, cfg, wt, lay, l, &vm->layers[l]));
    if (!cfg->merge && cfg->n_adapters > 0) XF_TRY(upload_loras(c, cfg, vm));
cleanup:
    return st;
}

xf_status vkx_rope_upload(vkx_ctx *c, const xf_model *m, uint32_t rows, vkx_model *vm) {
    xf_status st = XF_OK;
    float *rc = NULL, *rs = NULL;
    const uint32_t max_pos = (uint32_t)m->cfg.max_pos;
    if (rows > max_pos) rows = max_pos;
    vkx_buffer_destroy(c, &vm->rope_cos);
    vkx_buffer_destroy(c, &vm->rope_sin);
    XF_TRY(xf_rope_table(&m->cfg, (int32_t)rows, &rc, &rs));
    size_t bytes = (size_t)rows * (size_t)(m->cfg.head_dim / 2) * 4;
    XF_TRY(vkx_buffer_from(c, rc, bytes, &vm->rope_cos));
    XF_TRY(vkx_buffer_from(c, rs, bytes, &vm->rope_sin));
cleanup:
    free(rc);
    free(rs);
    return st;
}

void vkx_model_free(vkx_ctx *c, vkx_model *vm) {
    if (!vm) return;
    if (!vm->lm_tied) vkx_weight_free(c, &vm->lm_head);
    vkx_weight_free(c, &vm->embed);
    vkx_weight_free(c, &vm->score);
    vkx_buffer_destroy(c, &vm->final_norm);
    vkx_buffer_destroy(c, &vm->rope_cos);
    vkx_buffer_destroy(c, &vm->rope_sin);
    for (int l = 0; vm->layers && l < vm->n_layers; l++) {
        vkx_layer *L = &vm->layers[l];
        vkx_buffer_destroy(c, &L->attn_norm);
        vkx_buffer_destroy(c, &L->mlp_norm);
        vkx_buffer_destroy(c, &L->q_norm);
        vkx_buffer_destroy(c, &L->k_norm);
        vkx_buffer_destroy(c, &L->bqkv);
        vkx_weight_free(c, &L->qkv);
        vkx_weight_free(c, &L->o);
        vkx_weight_free(c, &L->gu);
        vkx_weight_free(c, &L->down);
    }
    free(vm->layers);
    size_t n_lora = vm->lora ? (size_t)vm->n_adapters * vm->n_layers * XF_MOD_COUNT : 0;
    for (size_t i = 0; i < n_lora; i++) {
        vkx_buffer_destroy(c, &vm->lora[i].A);
        vkx_buffer_destroy(c, &vm->lora[i].B);
    }
    free(vm->lora);
    memset(vm, 0, sizeof(*vm));
}
