/* cuda_forward_trace.c — the CUDA forward's host-side call sequence without a GPU:
 * src/cuda/cuda_forward.c is compiled with every CUDA runtime call, launcher and
 * cuBLASLt matmul stubbed to print its arguments (device pointers are fake and
 * deterministic), then runs forwards (graph build, capture, replays; profiling on or
 * off; stop_layer) for one model shape. Two trees traced alike and diffed show
 * whether a refactor changes what gets captured into the CUDA graphs: same kernels,
 * same order, same arguments. bench/cuda-forward-trace.sh builds and diffs them.
 *   cuda_forward_trace ARCH(0 qwen3, 1 qwen2 bias, 2 llama) DTYPE(0-3) N_ADAPTERS(0-2)
 *                      OUTPUT(0 hidden, 1 logits, 2 embed, 3 classify) HEAD_DIM CC90(1|0) PROFILE(1|0)
 * Built with -DNEW for a tree with the kernel table (cuda_kernels.c), without it for
 * the tree before it (6299a44: xfc_attention_block_m, no xfc_attn_choice). */
#include <stdio.h>
#include <stdlib.h>
#include "cuda/cuda_forward.c"

static FILE *LOG;
static uintptr_t next_addr = 0x10000000;
#define P(x) ((unsigned long)(uintptr_t)(x))
xf_status xfc_malloc(xfc_state *st, void **p, size_t bytes, const char *what) { (void)st; *p = (void *)next_addr; next_addr += (bytes + 4095) / 4096 * 4096 + 4096; fprintf(LOG, "malloc %s %zu -> %lx\n", what, bytes, P(*p)); return XF_OK; }
void xfc_free(xfc_state *st, void *p) { (void)st; fprintf(LOG, "free %lx\n", P(p)); }
xf_status xf_rope_table(const xf_config *c, int32_t rows, float **co, float **si) { *co = calloc((size_t)rows * c->head_dim, 4); *si = calloc((size_t)rows * c->head_dim, 4); return XF_OK; }
xf_status xfc_copyout_run(xfc_copyout *c, void *dst, const void *src, size_t bytes, cudaEvent_t ready) { (void)c; (void)ready; (void)dst; fprintf(LOG, "copyout %lx %zu\n", P(src), bytes); return XF_OK; }
xf_status xfc_gemm_run(xfc_gemm *g, cudaStream_t s, xf_dtype mode, int M, int N, int K, xfc_type ab, const void *X, int ldx, const void *W, int ldw, xfc_type c, void *Y, int ldy, float beta) {
    fprintf(LOG, "gemm tuning=%d mode=%d %d %d %d ab=%d X=%lx %d W=%lx %d c=%d Y=%lx %d beta=%g\n", g->tuning, mode, M, N, K, ab, P(X), ldx, P(W), ldw, c, P(Y), ldy, beta); (void)s; return XF_OK; }
xf_status xfc_embed(cudaStream_t s, xfc_type e, const void *E, const int32_t *tok, float *x, int T, int H) { (void)s; fprintf(LOG, "embed %d %lx %lx %lx %d %d\n", e, P(E), P(tok), P(x), T, H); return XF_OK; }
xf_status xfc_rmsnorm(cudaStream_t s, const float *x, const float *w, xfc_type yt, void *y, int rows, int n, float eps) { (void)s; fprintf(LOG, "rmsnorm %lx %lx %d %lx %d %d %g\n", P(x), P(w), yt, P(y), rows, n, eps); return XF_OK; }
xf_status xfc_qknorm_rope(cudaStream_t s, xfc_type type, void *x, int ld, int rows, int nq, int nk, int nv, int D, const float *bias, const float *qw, const float *kw, float eps, const int32_t *pos, const float *cos, const float *sin) {
    (void)s; fprintf(LOG, "rope %d %lx %d %d %d %d %d %d %lx %lx %lx %g %lx %lx %lx\n", type, P(x), ld, rows, nq, nk, nv, D, P(bias), P(qw), P(kw), eps, P(pos), P(cos), P(sin)); return XF_OK; }
#ifdef NEW
int xfc_attention_tile_rows(xfc_attn_kernel k) { return k == XFC_ATTN_MMA ? 128 : 64; }
int xfc_attention_tc_shape(xfc_type type, int D) { return type != XFC_F32 && (D == 64 || D == 128); }
cudaError_t cudaDeviceGetAttribute(int *v, enum cudaDeviceAttr a, int d) { (void)a; (void)d; *v = 0; return cudaSuccess; }
cudaError_t cudaGetLastError(void) { return cudaSuccess; }
xf_status xfc_attention(cudaStream_t s, const xfc_attn_choice *ch, xfc_type type, const void *q, int ldq, const void *k, int ldk, const void *v, int ldv, void *out, int ldo, const xfc_tile *tiles, int n_tiles, int nh, int nkv, int D, xf_attn_mask mask) {
    (void)ch;
#else
static int g_cc90 = 1;
int xfc_attention_block_m(xfc_type type, int D) { return type != XFC_F32 && (D == 64 || D == 128) ? (g_cc90 ? 64 : 128) : 64; }
xf_status xfc_attention(cudaStream_t s, xfc_type type, const void *q, int ldq, const void *k, int ldk, const void *v, int ldv, void *out, int ldo, const xfc_tile *tiles, int n_tiles, int nh, int nkv, int D, xf_attn_mask mask) {
#endif
    (void)s; fprintf(LOG, "attention %d %lx %d %lx %d %lx %d %lx %d %lx %d %d %d %d mask %d %d\n", type, P(q), ldq, P(k), ldk, P(v), ldv, P(out), ldo, P(tiles), n_tiles, nh, nkv, D, mask.kind, mask.window); return XF_OK; }
xf_status xfc_swiglu(cudaStream_t s, xfc_type type, const void *g, int64_t ldg, const void *u, int64_t ldu, void *o, int64_t ldo, int rows, int64_t cols) { (void)s; fprintf(LOG, "swiglu %d %lx %ld %lx %ld %lx %ld %d %ld\n", type, P(g), (long)ldg, P(u), (long)ldu, P(o), (long)ldo, rows, (long)cols); return XF_OK; }
xf_status xfc_lora_mask(cudaStream_t s, xfc_type type, void *tmp, int ld, int rows, int cols, const int32_t *ta, int a) { (void)s; fprintf(LOG, "lora_mask %d %lx %d %d %d %lx %d\n", type, P(tmp), ld, rows, cols, P(ta), a); return XF_OK; }
xf_status xfc_pool(cudaStream_t s, const float *hid, int H, const int32_t *ss, const int32_t *ns, int gb, int pooling, int normalize, float *out) { (void)s; fprintf(LOG, "pool %lx %d %lx %lx %d %d %d %lx\n", P(hid), H, P(ss), P(ns), gb, pooling, normalize, P(out)); return XF_OK; }
xf_status xfc_small_linear(cudaStream_t s, const float *x, int B, int H, const float *W, int L, const int32_t *nv, float *out) { (void)s; fprintf(LOG, "small_linear %lx %d %d %lx %d %lx %lx\n", P(x), B, H, P(W), L, P(nv), P(out)); return XF_OK; }
/* CUDA runtime */
cudaError_t cudaEventCreate(cudaEvent_t *e) { static uintptr_t n = 0x7000; *e = (cudaEvent_t)(n++); return cudaSuccess; }
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) { (void)a; (void)b; *ms = 1; return cudaSuccess; }
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) { (void)s; fprintf(LOG, "event_record %lx\n", P(e)); return cudaSuccess; }
cudaError_t cudaFreeHost(void *p) { free(p); return cudaSuccess; }
cudaError_t cudaGraphDestroy(cudaGraph_t g) { (void)g; return cudaSuccess; }
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t g) { (void)g; return cudaSuccess; }
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *x, cudaGraph_t g, unsigned long long f) { (void)g; (void)f; static uintptr_t n = 0x9000; *x = (cudaGraphExec_t)(n++); fprintf(LOG, "instantiate\n"); return cudaSuccess; }
cudaError_t cudaGraphLaunch(cudaGraphExec_t x, cudaStream_t s) { (void)s; fprintf(LOG, "graph_launch %lx\n", P(x)); return cudaSuccess; }
cudaError_t cudaHostAlloc(void **p, size_t n, unsigned int f) { (void)f; *p = calloc(n, 1); return cudaSuccess; }
cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, enum cudaMemcpyKind k, cudaStream_t st) { (void)s; (void)st; fprintf(LOG, "memcpy %lx %zu %d\n", k == cudaMemcpyHostToDevice ? P(d) : 0ul, n, k); return cudaSuccess; }
cudaError_t cudaStreamBeginCapture(cudaStream_t s, enum cudaStreamCaptureMode m) { (void)s; fprintf(LOG, "begin_capture %d\n", m); return cudaSuccess; }
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *g) { (void)s; *g = (cudaGraph_t)0x8000; fprintf(LOG, "end_capture\n"); return cudaSuccess; }
cudaError_t cudaStreamSynchronize(cudaStream_t s) { (void)s; return cudaSuccess; }
const char *cudaGetErrorString(cudaError_t e) { (void)e; return "stub"; }

/* ---- driver: one model config per case; forwards of several outputs */
static void *fake(uintptr_t base, int i) { return (void *)(base + (uintptr_t)i * 0x100000); }

int main(int argc, char **argv) {
    const int arch = atoi(argv[1]);  /* 0 qwen3 (qk norm), 1 qwen2 (bias), 2 llama */
    const int dtype = atoi(argv[2]), n_adapt = atoi(argv[3]), out_kind = atoi(argv[4]), D = atoi(argv[5]);
    const int cc90 = argc > 6 ? atoi(argv[6]) : 1, profile = argc > 7 ? atoi(argv[7]) : 0;
    LOG = stdout;
#ifndef NEW
    g_cc90 = cc90;
#endif
    static xf_model model;
    xf_config *c = &model.cfg;
    c->hidden = 256, c->intermediate = 640, c->n_heads = 8, c->n_kv_heads = 2, c->head_dim = D, c->vocab = 1000;
    c->n_layers = 5, c->max_pos = 4096, c->eps = 1e-6, c->num_labels = 3, c->qk_norm = arch == 0;
    xf_attn_mask masks[5] = {{XF_MASK_CAUSAL, 0}, {XF_MASK_CAUSAL, 16}, {XF_MASK_FULL, 0}, {XF_MASK_CAUSAL, 0}, {XF_MASK_CAUSAL, 7}};
    c->masks = masks;
    xfc_state *s = calloc(1, sizeof *s);
    s->model = &model, s->mode = dtype, s->act = dtype == XF_DTYPE_BF16 ? XFC_BF16 : dtype == XF_DTYPE_F16 ? XFC_F16 : XFC_F32;
    s->H = c->hidden, s->I = c->intermediate, s->NH = c->n_heads, s->NKV = c->n_kv_heads, s->D = D, s->V = c->vocab, s->L = 3;
    s->n_layers = c->n_layers, s->Nqkv = (s->NH + 2 * s->NKV) * D, s->eps = (float)c->eps;
    s->stream = (cudaStream_t)0x5000;
    if (profile) s->prof = calloc(1, sizeof *s->prof);
    s->layers = calloc(5, sizeof *s->layers);
    for (int l = 0; l < 5; l++) {
        xfc_layer *w = &s->layers[l];
        uintptr_t b = 0x100000000ull + (uintptr_t)l * 0x10000000ull;
        w->attn_norm = fake(b, 1), w->mlp_norm = fake(b, 2), w->wqkv = fake(b, 3), w->wo = fake(b, 4), w->wgu = fake(b, 5), w->wd = fake(b, 6);
        if (arch == 0) w->q_norm = fake(b, 7), w->k_norm = fake(b, 8);
        if (arch == 1) w->bqkv = fake(b, 9);
    }
    s->embed = (void *)0x200000000ull, s->lm_head = (void *)0x210000000ull, s->final_norm = (void *)0x220000000ull, s->score = (void *)0x230000000ull;
    /* adapters: adapter a targets in layer l modules by a pattern; R per group */
    uint32_t lora_mods[5] = {0};
    s->n_adapters = n_adapt;
    if (n_adapt) {
        s->lora = calloc((size_t)n_adapt * 5 * XFC_G_COUNT, sizeof *s->lora);
        for (int a = 0; a < n_adapt; a++)
            for (int l = 0; l < 5; l++) {
                /* adapter 0: q,v in every layer; adapter 1: o in odd layers, down in layer 2, gate in 4 */
                uint32_t m = a == 0 ? (1u << XF_MOD_Q) | (1u << XF_MOD_V)
                                    : ((l & 1) ? 1u << XF_MOD_O : 0) | (l == 2 ? 1u << XF_MOD_DOWN : 0) | (l == 4 ? 1u << XF_MOD_GATE : 0);
                lora_mods[l] |= m;
                const int gs[4] = {(int)(m & 7u) ? 1 : 0, (int)(m >> XF_MOD_O & 1u), (int)(m >> XF_MOD_GATE & 3u) ? 1 : 0, (int)(m >> XF_MOD_DOWN & 1u)};
                for (int g = 0; g < 4; g++)
                    if (gs[g]) {
                        xfc_lora *L = &s->lora[((int64_t)a * 5 + l) * XFC_G_COUNT + g];
                        L->R = 8 * (a + 1), L->A = fake(0x300000000ull + (uintptr_t)(a * 5 + l) * 0x1000000, 2 * g), L->B = fake(0x300000000ull + (uintptr_t)(a * 5 + l) * 0x1000000, 2 * g + 1);
                    }
            }
        s->lora_rmax = 16;
    }
#ifdef NEW
    xfc_kernels_fill(&s->kernels, cc90 ? 90 : 100, s->act, c, NULL);
    fprintf(stderr, "attn choice kernel=%d heads=%d bm=%d\n", s->kernels.attn.kernel, s->kernels.attn.heads, s->kernels.attn.bm);
#endif
    if (xfc_scratch_alloc(s, 256, 16) != XF_OK) return fprintf(stderr, "scratch: %s\n", xf_last_error()), 1;
    /* forwards: lengths; adapters per sequence */
    const int lens_sets[3][4] = {{37, 100, 5, 0}, {64, 64, 0, 0}, {200, 0, 0, 0}};
    for (int rep = 0; rep < 2; rep++)
        for (int ls = 0; ls < 3; ls++)
            for (int stop = -1; stop <= (ls == 0 ? 3 : -1); stop += 4) {
                int B = 0, T = 0, ss[5] = {0}, tok[256], pos[256], ids[4];
                while (B < 4 && lens_sets[ls][B]) { T += lens_sets[ls][B]; ss[B + 1] = T; B++; }
                for (int b = 0; b < B; b++) {
                    for (int t = ss[b]; t < ss[b + 1]; t++) tok[t] = (t * 7) % 1000, pos[t] = t - ss[b];
                    ids[b] = n_adapt == 0 ? -1 : ls == 1 ? 0 : ls == 2 ? -1 : b % (n_adapt + 1) - 1 + (b == 0);
                }
                const xf_output what = (xf_output)out_kind;
                xf_recipe r;
                xf_recipe_args ra = {.cfg = c, .lora_mods = n_adapt ? lora_mods : NULL, .qkv_bias = arch == 1, .output = what,
                                     .pooling = XF_POOL_MEAN, .normalize = 1, .stop_layer = stop};
                if (xf_recipe_build(&ra, &r) != XF_OK) return fprintf(stderr, "recipe: %s\n", xf_last_error()), 1;
                float *outb = calloc(256 * 1000, 4);
                xf_plan p = {.recipe = &r, .n_tokens = T, .n_seqs = B, .tokens = tok, .seq_start = ss, .positions = pos,
                             .adapter_ids = ids, .max_seq_len = 200, .output = what, .pooling = XF_POOL_MEAN, .normalize = 1,
                             .out = outb, .stop_layer = stop};
                fprintf(LOG, "=== forward rep %d lens %d stop %d\n", rep, ls, stop);
                if (xfc_forward(s, &p) != XF_OK) return fprintf(stderr, "forward: %s\n", xf_last_error()), 1;
                free(outb);
                xf_recipe_free(&r);
            }
    return 0;
}
