/* cuda_forward.c — one forward of a plan on the GPU. The whole forward (embedding,
 * every layer, final norm, head) is the plan's recipe (recipe.h), enqueued op by op
 * by enqueue_forward(), which maps its logical buffers onto this backend's scratch
 * and dispatches each op to its kernel or matmul; the first time
 * a shape bucket is seen it runs once eagerly (tuning the matmuls) and is then
 * captured into a CUDA graph, cached by bucket. Every later forward of that
 * bucket is: fill the metadata block on the host (tokens, positions, sequence
 * starts, attention tiles), one H2D copy, one graph replay, one D2H copy of the
 * result. Padding: a plan of T tokens runs at Tb >= T tokens; the extra rows form
 * one more (ignored) sequence so that every row of every buffer stays finite. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../loader.h"
#include "cuda_check.h"
#include "cuda_state.h"

int xfc_t_bucket(int T) {
    if (T <= 64) return 64;
    if (T <= 2048) return (T + 63) / 64 * 64;
    return (T + 255) / 256 * 256;
}

int xfc_b_bucket(int B) {
    int b = 4;
    while (b < B + 1) b <<= 1;
    return b;
}

static int64_t max3(int64_t a, int64_t b, int64_t c) { return a > b ? (a > c ? a : c) : (b > c ? b : c); }

/* ---------------------------------------------------------------- scratch */

xf_status xfc_scratch_alloc(xfc_state *s, int t_cap, int b_cap) {
    xf_status st = XF_OK;
    float *rope_cos = NULL, *rope_sin = NULL;
    const size_t es = xfc_type_size(s->act);
    const int64_t wa = max3(s->H, (int64_t)s->NH * s->D, s->I), wb = s->Nqkv > 2 * s->I ? s->Nqkv : 2 * s->I;
    s->t_cap = t_cap, s->b_cap = b_cap;
    s->attn_bm = s->kernels.attn.bm;
    s->tiles_cap = (t_cap + s->attn_bm - 1) / s->attn_bm + b_cap;
    xfc_meta_layout *L = &s->layout;
    L->tokens = 4;
    L->positions = L->tokens + t_cap;
    L->tok_adapter = L->positions + t_cap;
    L->seq_start = L->tok_adapter + t_cap;
    L->tiles = (L->seq_start + b_cap + 1 + 3) / 4 * 4;
    L->total = L->tiles + 4 * (int64_t)s->tiles_cap;
    XF_TRY(xfc_malloc(s, (void **)&s->x, sizeof(float) * (size_t)t_cap * (size_t)s->H, "residual stream"));
    XF_TRY(xfc_malloc(s, &s->bufa, es * (size_t)t_cap * (size_t)wa, "activations"));
    XF_TRY(xfc_malloc(s, &s->bufb, es * (size_t)t_cap * (size_t)wb, "q/k/v and gate/up activations"));
    if (s->lora_rmax > 0)
        XF_TRY(xfc_malloc(s, &s->lora_tmp, es * (size_t)t_cap * (size_t)s->lora_rmax, "LoRA activations"));
    XF_TRY(xfc_malloc(s, (void **)&s->meta_dev, sizeof(int32_t) * (size_t)L->total, "batch metadata"));
    CUDA_CHECK(cudaHostAlloc((void **)&s->meta_host, sizeof(int32_t) * (size_t)L->total, cudaHostAllocDefault));
    s->sort_tmp = calloc((size_t)s->tiles_cap * 2 + 1, sizeof(int32_t));
    XF_CHECK(s->sort_tmp, XF_ERR_NO_MEMORY, "out of host memory");
    /* RoPE for positions [0, min(max_pos, t_cap)): every position of a chunk (padding
     * included, (t - T) % max_pos < Tb <= t_cap) is below both. Made again when the
     * scratch grows (the graphs that captured the old table are dropped first). */
    const int32_t max_pos = s->model->cfg.max_pos, rows = t_cap < max_pos ? t_cap : max_pos;
    const size_t rope_bytes = sizeof(float) * (size_t)rows * (size_t)(s->D / 2);
    XF_TRY(xf_rope_table(&s->model->cfg, rows, &rope_cos, &rope_sin));
    XF_TRY(xfc_malloc(s, (void **)&s->rope_cos, rope_bytes, "rope cos"));
    XF_TRY(xfc_malloc(s, (void **)&s->rope_sin, rope_bytes, "rope sin"));
    /* on the engine's stream (non-blocking: a plain cudaMemcpy would not order the copy
     * before its kernels), and finished before the host tables are freed */
    CUDA_CHECK(cudaMemcpyAsync(s->rope_cos, rope_cos, rope_bytes, cudaMemcpyHostToDevice, s->stream));
    CUDA_CHECK(cudaMemcpyAsync(s->rope_sin, rope_sin, rope_bytes, cudaMemcpyHostToDevice, s->stream));
    CUDA_CHECK(cudaStreamSynchronize(s->stream));
cleanup:
    free(rope_cos);
    free(rope_sin);
    return st;
}

void xfc_scratch_free(xfc_state *s) {
    void *dev[] = {s->x, s->bufa, s->bufb, s->lora_tmp, s->meta_dev, s->pooled, s->cls, s->logits,
                   s->rope_cos, s->rope_sin};
    for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
        if (dev[i]) xfc_free(s, dev[i]);
    if (s->meta_host) cudaFreeHost(s->meta_host);
    free(s->sort_tmp);
    s->x = s->pooled = s->cls = s->logits = NULL;
    s->bufa = s->bufb = s->lora_tmp = NULL;
    s->meta_dev = s->meta_host = s->sort_tmp = NULL;
    s->rope_cos = s->rope_sin = NULL;
    s->t_cap = s->b_cap = 0;
}

void xfc_graphs_clear(xfc_state *s) {
    for (int i = 0; i < s->n_graphs; i++) cudaGraphExecDestroy(s->graphs[i].exec);
    s->n_graphs = 0;
}

/* Buffers only some recipes write (their heads), allocated at their first use (before
 * any capture that uses them). */
static xf_status output_buffers(xfc_state *s, const xf_recipe *r) {
    xf_status st = XF_OK;
    int used[XF_BUF_COUNT] = {0};
    for (int i = 0; i < r->n_ops; i++)
        if ((unsigned)r->ops[i].dst < XF_BUF_COUNT) used[r->ops[i].dst] = 1;
    if (used[XF_BUF_LOGITS] && !s->logits)
        XF_TRY(xfc_malloc(s, (void **)&s->logits, sizeof(float) * (size_t)s->t_cap * (size_t)s->V,
                          "logits (lower max_tokens to need less)"));
    if (used[XF_BUF_POOLED] && !s->pooled)
        XF_TRY(xfc_malloc(s, (void **)&s->pooled, sizeof(float) * (size_t)s->t_cap * (size_t)s->H, "pooled rows"));
    if (used[XF_BUF_SCORES] && !s->cls)
        XF_TRY(xfc_malloc(s, (void **)&s->cls, sizeof(float) * (size_t)s->t_cap * (size_t)s->L, "class scores"));
cleanup:
    return st;
}

/* ---------------------------------------------------------------- metadata */

/* Fills the host metadata block for the plan at buckets (Tb, Bb); returns the attention grid's tile count. */
static int fill_meta(xfc_state *s, const xf_plan *p, int Tb, int Bb, int mixed) {
    int32_t *m = s->meta_host;
    const xfc_meta_layout *L = &s->layout;
    const int T = p->n_tokens, B = p->n_seqs, bm = s->attn_bm, max_pos = s->model->cfg.max_pos;
    m[0] = T, m[1] = B, m[2] = m[3] = 0;
    memcpy(m + L->tokens, p->tokens, sizeof(int32_t) * (size_t)T);
    memcpy(m + L->positions, p->positions, sizeof(int32_t) * (size_t)T);
    for (int t = T; t < Tb; t++) m[L->tokens + t] = 0, m[L->positions + t] = (t - T) % max_pos;
    if (mixed) {
        for (int b = 0; b < B; b++)
            for (int32_t t = p->seq_start[b]; t < p->seq_start[b + 1]; t++) m[L->tok_adapter + t] = p->adapter_ids[b];
        for (int t = T; t < Tb; t++) m[L->tok_adapter + t] = -1;
    }
    int32_t *ss = m + L->seq_start;
    memcpy(ss, p->seq_start, sizeof(int32_t) * (size_t)(B + 1));
    const int n_seg = Tb > T ? B + 1 : B;  /* the padding rows are one more sequence */
    for (int i = B + 1; i <= Bb; i++) ss[i] = Tb;

    /* Tiles, the longest-running first (causal: tile k of a sequence reads (k+1)·bm keys at
     * most; under full attention or a window every tile of a long sequence reads about as
     * many keys, and high k still means a long sequence). */
    int32_t *hist = s->sort_tmp;  /* [max tiles per sequence] */
    int maxk = 0;
    for (int b = 0; b < n_seg; b++) {
        const int nt = (ss[b + 1] - ss[b] + bm - 1) / bm;
        if (nt > maxk) maxk = nt;
    }
    memset(hist, 0, sizeof(int32_t) * (size_t)maxk);
    for (int b = 0; b < n_seg; b++) {
        const int nt = (ss[b + 1] - ss[b] + bm - 1) / bm;
        for (int k = 0; k < nt; k++) hist[k]++;  /* hist[k] = sequences with a tile k */
    }
    int pos = 0;
    for (int k = maxk - 1; k >= 0; k--) {
        const int c = hist[k];
        hist[k] = pos;  /* now: first slot of the tiles with index k */
        pos += c;
    }
    xfc_tile *tiles = (xfc_tile *)(m + L->tiles);
    for (int b = 0; b < n_seg; b++) {
        const int nt = (ss[b + 1] - ss[b] + bm - 1) / bm;
        for (int k = 0; k < nt; k++) tiles[hist[k]++] = (xfc_tile){ss[b] + k * bm, ss[b], ss[b + 1], 0};
    }
    const int grid = (Tb + bm - 1) / bm + Bb;
    for (int i = pos; i < grid; i++) tiles[i] = (xfc_tile){-1, 0, 0, 0};
    return grid;
}

/* ---------------------------------------------------------------- profiling */

static xf_status mark(xfc_state *s, xfc_prof *pr, int fam) {
    xf_status st = XF_OK;
    if (!pr || pr->n_ev >= XFC_PROF_EVENTS) return XF_OK;
    if (pr->n_ev >= pr->n_created) {
        CUDA_CHECK(cudaEventCreate(&pr->ev[pr->n_ev]));
        pr->n_created++;
    }
    pr->fam[pr->n_ev] = fam;
    CUDA_CHECK(cudaEventRecord(pr->ev[pr->n_ev++], s->stream));
cleanup:
    return st;
}

/* ---------------------------------------------------------------- the forward */

static xf_status gemm(xfc_state *s, int M, int N, int K, const void *X, int ldx, const void *W, xfc_type c, void *Y,
                      int ldy, float beta) {
    return xfc_gemm_run(&s->gemm, s->stream, s->mode, M, N, K, s->act, X, ldx, W, K, c, Y, ldy, beta);
}

/* y [Tb, N] (+)= LoRA terms of group g for the sequences that use them. */
static xf_status lora(xfc_state *s, const xfc_graph_key *key, int l, int g, const void *in, int ld_in, void *y,
                      xfc_type y_type, int ldy) {
    xf_status st = XF_OK;
    if (key->lora < 0) return XF_OK;
    const int mixed = key->lora == s->n_adapters;
    const int a0 = mixed ? 0 : key->lora, a1 = mixed ? s->n_adapters : key->lora + 1;
    const int K = g == XFC_G_O ? s->NH * s->D : g == XFC_G_DOWN ? s->I : s->H;
    const int N = g == XFC_G_QKV ? s->Nqkv : g == XFC_G_GU ? 2 * s->I : s->H;
    for (int a = a0; a < a1; a++) {
        const xfc_lora *Lg = &s->lora[((int64_t)a * s->n_layers + l) * XFC_G_COUNT + g];
        if (!Lg->R) continue;
        XF_TRY(gemm(s, key->Tb, Lg->R, K, in, ld_in, Lg->A, s->act, s->lora_tmp, Lg->R, 0.0f));
        if (mixed)
            XF_TRY(xfc_lora_mask(s->stream, s->act, s->lora_tmp, Lg->R, key->Tb, Lg->R,
                                 s->meta_dev + s->layout.tok_adapter, a));
        XF_TRY(xfc_gemm_run(&s->gemm, s->stream, s->mode, key->Tb, N, Lg->R, s->act, s->lora_tmp, Lg->R, Lg->B, Lg->R,
                            y_type, y, ldy, 1.0f));
    }
cleanup:
    return st;
}

/* ---------------------------------------------------------------- the recipe's buffers */

/* Where a logical buffer of the recipe (recipe.h) lives, with its element type. The
 * residual stream X and the final hidden states share s->x (the final norm runs in
 * place, fp32); XN, ATT and ACT share bufa, QKV and GU share bufb (each is dead before
 * the next one of its pair is written: the recipe's order). Row strides are the
 * op's column counts (every buffer is dense). */
static void *buf_of(const xfc_state *s, xf_buf b, xfc_type *type) {
    *type = s->act;
    switch (b) {
    case XF_BUF_X:
    case XF_BUF_HIDDEN: *type = XFC_F32; return s->x;
    case XF_BUF_XN:
    case XF_BUF_ATT:
    case XF_BUF_ACT: return s->bufa;
    case XF_BUF_QKV:
    case XF_BUF_GU: return s->bufb;
    case XF_BUF_POOLED: *type = XFC_F32; return s->pooled;
    case XF_BUF_LOGITS: *type = XFC_F32; return s->logits;
    case XF_BUF_SCORES: *type = XFC_F32; return s->cls;
    default: return NULL;
    }
}

/* The device weight of a LINEAR op, and the LoRA group it belongs to (-1: none). */
static const void *linear_weight(const xfc_state *s, const xf_op *op, int *group) {
    const xfc_layer *w = op->layer >= 0 ? &s->layers[op->layer] : NULL;
    *group = -1;
    switch (op->weight) {
    case XF_WT_QKV: *group = XFC_G_QKV; return w ? w->wqkv : NULL;
    case XF_WT_O: *group = XFC_G_O; return w ? w->wo : NULL;
    case XF_WT_GATE_UP: *group = XFC_G_GU; return w ? w->wgu : NULL;
    case XF_WT_DOWN: *group = XFC_G_DOWN; return w ? w->wd : NULL;
    case XF_WT_LM_HEAD: return s->lm_head;
    default: return NULL;
    }
}

/* The profiling family of an op (XFC_P_*): layer ops by kind and weight, every op
 * of the head (layer -1 after the embedding) in "final norm + head". */
static int family_of(const xf_op *op) {
    if (op->kind == XF_OP_EMBED) return XFC_P_EMBED;
    if (op->layer < 0) return XFC_P_HEAD;
    switch (op->kind) {
    case XF_OP_RMSNORM: return XFC_P_NORM;
    case XF_OP_QK_ROPE: return XFC_P_ROPE;
    case XF_OP_ATTENTION: return XFC_P_ATTN;
    case XF_OP_SWIGLU: return XFC_P_SWIGLU;
    case XF_OP_LINEAR:
        return op->weight == XF_WT_QKV ? XFC_P_GEMM_QKV
             : op->weight == XF_WT_O ? XFC_P_GEMM_O
             : op->weight == XF_WT_GATE_UP ? XFC_P_GEMM_GU : XFC_P_GEMM_DOWN;
    default: return XFC_P_HEAD;
    }
}

/* ---------------------------------------------------------------- the executor */

/* One op of the recipe, enqueued on the stream: the kernels and matmuls the forward
 * has always used, in the same order with the same arguments. CUDA's rewrites
 * (recipe.h): the q|k|v bias of LINEAR(QKV) is added by the QK_ROPE kernel that
 * follows it (xfc_qknorm_rope, bias before the norm), and the final RMSNORM into
 * HIDDEN runs in place on X. fuse_next is not taken (gate|up and SwiGLU run apart). */
static xf_status run_op(xfc_state *s, const xfc_graph_key *key, const xf_op *op, int n_tiles, xfc_prof *pr) {
    xf_status st = XF_OK;
    cudaStream_t cs = s->stream;
    const int Tb = key->Tb, D = s->D, NH = s->NH, NKV = s->NKV, Q = NH * D;
    const size_t es = xfc_type_size(s->act);
    const xfc_layer *w = op->layer >= 0 ? &s->layers[op->layer] : NULL;
    xfc_type st_src, st_dst;
    void *src = buf_of(s, op->src, &st_src), *dst = buf_of(s, op->dst, &st_dst);
    switch (op->kind) {
    case XF_OP_EMBED:
        XF_TRY(xfc_embed(cs, s->act, s->embed, s->meta_dev + s->layout.tokens, dst, Tb, op->out));
        break;
    case XF_OP_RMSNORM: {
        const float *g = op->weight == XF_WT_ATTN_NORM ? w->attn_norm
                       : op->weight == XF_WT_MLP_NORM ? w->mlp_norm : s->final_norm;
        XF_CHECK(st_src == XFC_F32, XF_ERR_INTERNAL, "cuda: rmsnorm reads the fp32 residual stream");
        XF_TRY(xfc_rmsnorm(cs, src, g, st_dst, dst, Tb, op->in, s->eps));
        break;
    }
    case XF_OP_LINEAR: {
        int group = -1;
        if (op->weight == XF_WT_SCORE) {  /* the score head: B pooled rows, fp32, tiny */
            XF_TRY(xfc_small_linear(cs, src, key->Bb < Tb ? key->Bb : Tb, op->in, s->score, op->out,
                                    s->meta_dev + 1, dst));
            break;
        }
        const void *W = linear_weight(s, op, &group);
        XF_CHECK(W && (!op->bias || op->weight == XF_WT_QKV), XF_ERR_INTERNAL, "cuda: linear with weight %s%s",
                 xf_weight_name(op->weight), op->bias ? " and a bias" : "");
        XF_TRY(gemm(s, Tb, op->out, op->in, src, op->in, W, st_dst, dst, op->out, op->accumulate ? 1.0f : 0.0f));
        if (group < 0) break;
        XF_TRY(mark(s, pr, XFC_P_LORA));
        if (op->lora) XF_TRY(lora(s, key, op->layer, group, src, op->in, dst, st_dst, op->out));
        break;
    }
    case XF_OP_QK_ROPE:
        /* in place on QKV [Tb, Q + 2·KV]: the q|k|v bias (Qwen2), then q/k norm (Qwen3), RoPE */
        XF_TRY(xfc_qknorm_rope(cs, s->act, dst, op->out, Tb, NH, NKV, w->bqkv ? NKV : 0, D, w->bqkv,
                               op->norm ? w->q_norm : NULL, op->norm ? w->k_norm : NULL, s->eps,
                               s->meta_dev + s->layout.positions, s->rope_cos, s->rope_sin));
        break;
    case XF_OP_ATTENTION: {
        /* q, k, v: column blocks of QKV [Tb, Q + 2·KV] -> ATT [Tb, Q] */
        const char *qkv = src;
        XF_TRY(xfc_attention(cs, &s->kernels.attn, s->act, qkv, op->in, qkv + (size_t)Q * es, op->in,
                             qkv + (size_t)(Q + NKV * D) * es, op->in, dst, op->out,
                             (const xfc_tile *)(s->meta_dev + s->layout.tiles), n_tiles, NH, NKV, D, op->mask));
        break;
    }
    case XF_OP_SWIGLU: {
        /* GU [Tb, 2I] = gate | up -> ACT [Tb, I] */
        const int I = op->out;
        XF_TRY(xfc_swiglu(cs, s->act, src, op->in, (char *)src + (size_t)I * es, op->in, dst, I, Tb, I));
        break;
    }
    case XF_OP_POOL:
        XF_TRY(xfc_pool(cs, src, op->in, s->meta_dev + s->layout.seq_start, s->meta_dev + 1, key->Bb, op->pooling,
                        op->normalize, dst));
        break;
    default: XF_CHECK(0, XF_ERR_INTERNAL, "cuda: op %s is not offered", xf_op_kind_name(op->kind));
    }
cleanup:
    return st;
}

/* Enqueues the recipe's ops on the stream, in order. Profiling marks an event where
 * the op family changes (the LoRA terms of a matmul are their own family). A recipe
 * built with stop_layer (debugging) simply ends with the residual stream X. */
static xf_status enqueue_forward(xfc_state *s, const xfc_graph_key *key, const xf_recipe *r, int n_tiles,
                                 xfc_prof *pr) {
    xf_status st = XF_OK;
    int fam = -2;
    for (int i = 0; i < r->n_ops; i++) {
        const int f = family_of(&r->ops[i]);
        if (f != fam) XF_TRY(mark(s, pr, fam = f));
        XF_TRY(run_op(s, key, &r->ops[i], n_tiles, pr));
        if (r->ops[i].kind == XF_OP_LINEAR && r->ops[i].layer >= 0) fam = XFC_P_LORA;  /* run_op marked it */
    }
    XF_TRY(mark(s, pr, -1));
cleanup:
    return st;
}

/* Runs the forward once eagerly (tuning new matmul shapes), then captures it. */
static xf_status build_graph(xfc_state *s, const xfc_graph_key *key, const xf_recipe *r, int n_tiles,
                             cudaGraphExec_t *exec) {
    xf_status st = XF_OK;
    cudaGraph_t graph = NULL;
    s->gemm.tuning = 1;
    st = enqueue_forward(s, key, r, n_tiles, NULL);
    s->gemm.tuning = 0;
    if (st != XF_OK) goto cleanup;
    CUDA_CHECK(cudaStreamSynchronize(s->stream));
    CUDA_CHECK(cudaStreamBeginCapture(s->stream, cudaStreamCaptureModeThreadLocal));
    st = enqueue_forward(s, key, r, n_tiles, NULL);
    {
        cudaError_t e = cudaStreamEndCapture(s->stream, &graph);
        if (st != XF_OK) goto cleanup;
        CUDA_CHECK(e);
    }
    CUDA_CHECK(cudaGraphInstantiate(exec, graph, 0));
cleanup:
    if (graph) cudaGraphDestroy(graph);
    return st;
}

static int key_eq(const xfc_graph_key *a, const xfc_graph_key *b) { return !memcmp(a, b, sizeof *a); }

static xf_status find_graph(xfc_state *s, const xfc_graph_key *key, const xf_recipe *r, int n_tiles,
                            cudaGraphExec_t *exec) {
    xf_status st = XF_OK;
    for (int i = 0; i < s->n_graphs; i++)
        if (key_eq(&s->graphs[i].key, key)) {
            s->graphs[i].used = ++s->stamp;
            *exec = s->graphs[i].exec;
            return XF_OK;
        }
    int slot = s->n_graphs;
    if (slot == XFC_MAX_GRAPHS) {  /* evict the least recently used */
        slot = 0;
        for (int i = 1; i < s->n_graphs; i++)
            if (s->graphs[i].used < s->graphs[slot].used) slot = i;
        cudaGraphExecDestroy(s->graphs[slot].exec);
        s->graphs[slot] = s->graphs[--s->n_graphs];
        slot = s->n_graphs;
    }
    XF_TRY(build_graph(s, key, r, n_tiles, exec));
    s->graphs[slot] = (xfc_graph){*key, *exec, ++s->stamp};
    s->n_graphs++;
cleanup:
    return st;
}

static xf_status profile_collect(xfc_state *s) {
    xf_status st = XF_OK;
    xfc_prof *pr = s->prof;
    for (int i = 0; i + 1 < pr->n_ev; i++) {
        float ms = 0;
        CUDA_CHECK(cudaEventElapsedTime(&ms, pr->ev[i], pr->ev[i + 1]));
        if (pr->fam[i] >= 0) pr->ms[pr->fam[i]] += ms;
    }
    pr->runs++;
cleanup:
    pr->n_ev = 0;
    return st;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return 1e3 * (double)ts.tv_sec + 1e-6 * (double)ts.tv_nsec;
}

xf_status xfc_forward(xfc_state *s, const xf_plan *p) {
    xf_status st = XF_OK;
    const double t0 = now_ms();
    const int T = p->n_tokens, B = p->n_seqs;
    XF_CHECK(T >= 1 && B >= 1, XF_ERR_INVALID_ARG, "cuda: empty plan");
    /* the current device is per host thread: replicas run their forwards on their own threads */
    CUDA_CHECK(cudaSetDevice(s->device));
    /* LoRA: none, one adapter for every sequence, or a mix (each adapter masked to its rows) */
    int lora_key = -1;
    if (s->n_adapters > 0) {
        lora_key = p->adapter_ids[0];
        for (int b = 1; b < B; b++)
            if (p->adapter_ids[b] != lora_key) lora_key = s->n_adapters;
    }
    const int Tb = xfc_t_bucket(T), Bb = xfc_b_bucket(B);
    if (Tb > s->t_cap || Bb > s->b_cap) {
        /* only a single sequence longer than max_tokens gets here: grow once, drop the graphs */
        const int t_cap = Tb > s->t_cap ? Tb : s->t_cap, b_cap = Bb > s->b_cap ? Bb : s->b_cap;
        xfc_graphs_clear(s);
        xfc_scratch_free(s);
        XF_TRY(xfc_scratch_alloc(s, t_cap, b_cap));
    }
    const xf_recipe *r = p->recipe;
    XF_CHECK(r && r->n_ops > 0, XF_ERR_INTERNAL, "cuda: plan without a recipe");
    XF_TRY(output_buffers(s, r));
    /* The captured graph is the recipe's ops at these buckets. The recipe is a pure
     * function of the model, the engine's adapters (fixed at creation), the output,
     * pooling and normalize (and stop_layer, which never reaches a graph: those
     * forwards run eagerly); so (output, pooling, normalize) stand for it in the key,
     * and the LoRA key says which adapters' terms the LoRA ops add. */
    const xfc_graph_key key = {.Tb = Tb, .Bb = Bb, .output = r->output,
                               .pooling = r->output == XF_OUT_EMBED ? (int32_t)p->pooling : 0,
                               .normalize = r->output == XF_OUT_EMBED ? p->normalize != 0 : 0, .lora = lora_key};
    const int n_tiles = fill_meta(s, p, Tb, Bb, lora_key == s->n_adapters && s->n_adapters > 0);
    const size_t meta_bytes = sizeof(int32_t) * (size_t)(s->layout.tiles + 4 * (int64_t)n_tiles);
    CUDA_CHECK(cudaMemcpyAsync(s->meta_dev, s->meta_host, meta_bytes, cudaMemcpyHostToDevice, s->stream));
    cudaGraphExec_t exec = NULL;
    const int debug = r->result == XF_BUF_X;  /* built with stop_layer: runs eagerly, never captured */
    if (!debug) XF_TRY(find_graph(s, &key, r, n_tiles, &exec));
    CUDA_CHECK(cudaEventRecord(s->ev_start, s->stream));
    if (debug) XF_TRY(enqueue_forward(s, &key, r, n_tiles, NULL));
    else if (s->prof) XF_TRY(enqueue_forward(s, &key, r, n_tiles, s->prof));
    else CUDA_CHECK(cudaGraphLaunch(exec, s->stream));
    CUDA_CHECK(cudaEventRecord(s->ev_replayed, s->stream));
    const void *src = NULL;
    size_t bytes = 0;
    switch (r->result) {
    case XF_BUF_X:
    case XF_BUF_HIDDEN: src = s->x, bytes = (size_t)T * (size_t)s->H; break;
    case XF_BUF_LOGITS: src = s->logits, bytes = (size_t)T * (size_t)s->V; break;
    case XF_BUF_POOLED: src = s->pooled, bytes = (size_t)B * (size_t)s->H; break;
    case XF_BUF_SCORES: src = s->cls, bytes = (size_t)B * (size_t)s->L; break;
    default: XF_CHECK(0, XF_ERR_INTERNAL, "cuda: recipe result %s", xf_buf_name(r->result));
    }
    XF_TRY(xfc_copyout_run(&s->copy, p->out, src, bytes * sizeof(float), s->ev_replayed));
    CUDA_CHECK(cudaStreamSynchronize(s->stream));
    CUDA_CHECK(cudaEventElapsedTime(&s->last_replay_ms, s->ev_start, s->ev_replayed));
    s->last_total_ms = (float)(now_ms() - t0);
    if (s->prof && !debug) XF_TRY(profile_collect(s));
cleanup:
    if (st != XF_OK && s->prof) s->prof->n_ev = 0;
    return st;
}
