/* cuda_forward.c — one forward of a plan on the GPU. The whole forward (embedding,
 * every layer, final norm, head) is enqueued by enqueue_forward(); the first time
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
    s->attn_bm = xfc_attention_block_m(s->act, s->D);
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

/* Buffers only some outputs need, allocated at their first use (before any capture that uses them). */
static xf_status output_buffers(xfc_state *s, xf_output out) {
    xf_status st = XF_OK;
    if (out == XF_OUT_LOGITS && !s->logits)
        XF_TRY(xfc_malloc(s, (void **)&s->logits, sizeof(float) * (size_t)s->t_cap * (size_t)s->V,
                          "logits (lower max_tokens to need less)"));
    if ((out == XF_OUT_EMBED || out == XF_OUT_CLASSIFY) && !s->pooled)
        XF_TRY(xfc_malloc(s, (void **)&s->pooled, sizeof(float) * (size_t)s->t_cap * (size_t)s->H, "pooled rows"));
    if (out == XF_OUT_CLASSIFY && !s->cls)
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

/* Enqueues the forward on the stream. stop_layer >= 0 (debug): stop with the
 * residual entering that layer in s->x, no head. */
static xf_status enqueue_forward(xfc_state *s, const xfc_graph_key *key, int n_tiles, xfc_prof *pr, int stop_layer) {
    xf_status st = XF_OK;
    cudaStream_t cs = s->stream;
    const int Tb = key->Tb, H = s->H, I = s->I, D = s->D, NH = s->NH, NKV = s->NKV, N = s->Nqkv, Q = NH * D;
    const size_t es = xfc_type_size(s->act);
    const int32_t *tokens = s->meta_dev + s->layout.tokens, *pos = s->meta_dev + s->layout.positions;
    const int32_t *seq_start = s->meta_dev + s->layout.seq_start;
    const xfc_tile *tiles = (const xfc_tile *)(s->meta_dev + s->layout.tiles);
    char *qkv = s->bufb;

    XF_TRY(mark(s, pr, XFC_P_EMBED));
    XF_TRY(xfc_embed(cs, s->act, s->embed, tokens, s->x, Tb, H));
    const int n_layers = stop_layer >= 0 && stop_layer < s->n_layers ? stop_layer : s->n_layers;
    for (int l = 0; l < n_layers; l++) {
        const xfc_layer *w = &s->layers[l];
        /* attention block: x += o_proj(attn(rope(qkv(rms(x))))) */
        XF_TRY(mark(s, pr, XFC_P_NORM));
        XF_TRY(xfc_rmsnorm(cs, s->x, w->attn_norm, s->act, s->bufa, Tb, H, s->eps));
        XF_TRY(mark(s, pr, XFC_P_GEMM_QKV));
        XF_TRY(gemm(s, Tb, N, H, s->bufa, H, w->wqkv, s->act, qkv, N, 0.0f));
        XF_TRY(mark(s, pr, XFC_P_LORA));
        XF_TRY(lora(s, key, l, XFC_G_QKV, s->bufa, H, qkv, s->act, N));
        XF_TRY(mark(s, pr, XFC_P_ROPE));
        XF_TRY(xfc_qknorm_rope(cs, s->act, qkv, N, Tb, NH, NKV, w->bqkv ? NKV : 0, D, w->bqkv, w->q_norm, w->k_norm,
                               s->eps, pos, s->rope_cos, s->rope_sin));
        XF_TRY(mark(s, pr, XFC_P_ATTN));
        XF_TRY(xfc_attention(cs, s->act, qkv, N, qkv + (size_t)Q * es, N, qkv + (size_t)(Q + NKV * D) * es, N, s->bufa,
                             Q, tiles, n_tiles, NH, NKV, D, xf_config_mask(&s->model->cfg, l)));
        XF_TRY(mark(s, pr, XFC_P_GEMM_O));
        XF_TRY(gemm(s, Tb, H, Q, s->bufa, Q, w->wo, XFC_F32, s->x, H, 1.0f));
        XF_TRY(mark(s, pr, XFC_P_LORA));
        XF_TRY(lora(s, key, l, XFC_G_O, s->bufa, Q, s->x, XFC_F32, H));
        /* MLP block: x += down(silu(gate(rms(x))) ⊙ up(rms(x))) */
        XF_TRY(mark(s, pr, XFC_P_NORM));
        XF_TRY(xfc_rmsnorm(cs, s->x, w->mlp_norm, s->act, s->bufa, Tb, H, s->eps));
        XF_TRY(mark(s, pr, XFC_P_GEMM_GU));
        XF_TRY(gemm(s, Tb, 2 * I, H, s->bufa, H, w->wgu, s->act, s->bufb, 2 * I, 0.0f));
        XF_TRY(mark(s, pr, XFC_P_LORA));
        XF_TRY(lora(s, key, l, XFC_G_GU, s->bufa, H, s->bufb, s->act, 2 * I));
        XF_TRY(mark(s, pr, XFC_P_SWIGLU));
        XF_TRY(xfc_swiglu(cs, s->act, s->bufb, 2 * I, (char *)s->bufb + (size_t)I * es, 2 * I, s->bufa, I, Tb, I));
        XF_TRY(mark(s, pr, XFC_P_GEMM_DOWN));
        XF_TRY(gemm(s, Tb, H, I, s->bufa, I, w->wd, XFC_F32, s->x, H, 1.0f));
        XF_TRY(mark(s, pr, XFC_P_LORA));
        XF_TRY(lora(s, key, l, XFC_G_DOWN, s->bufa, I, s->x, XFC_F32, H));
    }
    if (stop_layer >= 0) return XF_OK;
    XF_TRY(mark(s, pr, XFC_P_HEAD));
    switch ((xf_output)key->output) {
    case XF_OUT_HIDDEN: XF_TRY(xfc_rmsnorm(cs, s->x, s->final_norm, XFC_F32, s->x, Tb, H, s->eps)); break;
    case XF_OUT_LOGITS:
        XF_TRY(xfc_rmsnorm(cs, s->x, s->final_norm, s->act, s->bufa, Tb, H, s->eps));
        XF_TRY(gemm(s, Tb, s->V, H, s->bufa, H, s->lm_head, XFC_F32, s->logits, s->V, 0.0f));
        break;
    case XF_OUT_EMBED:
        XF_TRY(xfc_rmsnorm(cs, s->x, s->final_norm, XFC_F32, s->x, Tb, H, s->eps));
        XF_TRY(xfc_pool(cs, s->x, H, seq_start, s->meta_dev + 1, key->Bb, key->pooling, key->normalize, s->pooled));
        break;
    case XF_OUT_CLASSIFY:
        XF_TRY(xfc_rmsnorm(cs, s->x, s->final_norm, XFC_F32, s->x, Tb, H, s->eps));
        XF_TRY(xfc_pool(cs, s->x, H, seq_start, s->meta_dev + 1, key->Bb, XF_POOL_LAST, 0, s->pooled));
        XF_TRY(xfc_small_linear(cs, s->pooled, key->Bb < Tb ? key->Bb : Tb, H, s->score, s->L, s->meta_dev + 1, s->cls));
        break;
    }
    XF_TRY(mark(s, pr, -1));
cleanup:
    return st;
}

/* Runs the forward once eagerly (tuning new matmul shapes), then captures it. */
static xf_status build_graph(xfc_state *s, const xfc_graph_key *key, int n_tiles, cudaGraphExec_t *exec) {
    xf_status st = XF_OK;
    cudaGraph_t graph = NULL;
    s->gemm.tuning = 1;
    st = enqueue_forward(s, key, n_tiles, NULL, -1);
    s->gemm.tuning = 0;
    if (st != XF_OK) goto cleanup;
    CUDA_CHECK(cudaStreamSynchronize(s->stream));
    CUDA_CHECK(cudaStreamBeginCapture(s->stream, cudaStreamCaptureModeThreadLocal));
    st = enqueue_forward(s, key, n_tiles, NULL, -1);
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

static xf_status find_graph(xfc_state *s, const xfc_graph_key *key, int n_tiles, cudaGraphExec_t *exec) {
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
    XF_TRY(build_graph(s, key, n_tiles, exec));
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
    XF_TRY(output_buffers(s, p->output));
    const xfc_graph_key key = {.Tb = Tb, .Bb = Bb, .output = p->output,
                               .pooling = p->output == XF_OUT_EMBED ? (int32_t)p->pooling : 0,
                               .normalize = p->output == XF_OUT_EMBED ? p->normalize != 0 : 0, .lora = lora_key};
    const int n_tiles = fill_meta(s, p, Tb, Bb, lora_key == s->n_adapters && s->n_adapters > 0);
    const size_t meta_bytes = sizeof(int32_t) * (size_t)(s->layout.tiles + 4 * (int64_t)n_tiles);
    CUDA_CHECK(cudaMemcpyAsync(s->meta_dev, s->meta_host, meta_bytes, cudaMemcpyHostToDevice, s->stream));
    cudaGraphExec_t exec = NULL;
    const int debug = p->stop_layer >= 0;
    if (!debug) XF_TRY(find_graph(s, &key, n_tiles, &exec));
    CUDA_CHECK(cudaEventRecord(s->ev_start, s->stream));
    if (debug) XF_TRY(enqueue_forward(s, &key, n_tiles, NULL, p->stop_layer));
    else if (s->prof) XF_TRY(enqueue_forward(s, &key, n_tiles, s->prof, -1));
    else CUDA_CHECK(cudaGraphLaunch(exec, s->stream));
    CUDA_CHECK(cudaEventRecord(s->ev_replayed, s->stream));
    const void *src = NULL;
    size_t bytes = 0;
    switch (debug ? XF_OUT_HIDDEN : p->output) {
    case XF_OUT_HIDDEN: src = s->x, bytes = (size_t)T * (size_t)s->H; break;
    case XF_OUT_LOGITS: src = s->logits, bytes = (size_t)T * (size_t)s->V; break;
    case XF_OUT_EMBED: src = s->pooled, bytes = (size_t)B * (size_t)s->H; break;
    case XF_OUT_CLASSIFY: src = s->cls, bytes = (size_t)B * (size_t)s->L; break;
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
