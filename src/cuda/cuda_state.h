/* cuda_state.h — the CUDA backend's engine state, shared by its host files:
 * device copies of the weights (uploaded once, in the mode's dtype, q/k/v and
 * gate/up fused), LoRA factors, the activation scratch (sized once for a
 * maximum token count), the per-forward metadata block, the cuBLASLt context,
 * the cache of captured CUDA graphs, and the profiling counters. */
#ifndef XF_CUDA_STATE_H
#define XF_CUDA_STATE_H

#include <cuda_runtime_api.h>

#include "../backend.h"
#include "cuda_api.h"
#include "cuda_copyout.h"
#include "cuda_gemm.h"
#include "cuda_kernels.h"

/* The fused projections a LoRA term can be added to, in forward order. */
enum { XFC_G_QKV = 0, XFC_G_O, XFC_G_GU, XFC_G_DOWN, XFC_G_COUNT };

/* One layer's weights on the device. Linear weights [out, in] in the mode's type. */
typedef struct xfc_layer {
    float *attn_norm;   /* [H] */
    float *mlp_norm;    /* [H] */
    float *q_norm;      /* [D] or NULL */
    float *k_norm;      /* [D] or NULL */
    float *bqkv;        /* [NH*D + 2*NKV*D] or NULL */
    void *wqkv;         /* [NH*D + 2*NKV*D, H]: q rows, then k, then v */
    void *wo;           /* [H, NH*D] */
    void *wgu;          /* [2*I, H]: gate rows, then up */
    void *wd;           /* [H, I] */
} xfc_layer;

/* The LoRA terms of one adapter on one fused projection, all targeted modules
 * stacked: y [T, N] += (x [T, in] · Aᵀ) · Bᵀ with A [R, in], B [N, R] (scale
 * folded into B, zero where a module's rank block does not reach its rows).
 * R is a multiple of 8 (zero padding); R = 0: nothing targeted. */
typedef struct xfc_lora {
    int32_t R;
    void *A;
    void *B;
} xfc_lora;

/* What a captured graph was captured for; a forward replays the graph whose key matches. */
typedef struct xfc_graph_key {
    int32_t Tb, Bb;         /* token and sequence buckets (padded sizes) */
    int32_t output, pooling, normalize;
    int32_t lora;           /* -1 none, a in [0, n_adapters) all sequences use adapter a, n_adapters mixed */
} xfc_graph_key;

typedef struct xfc_graph {
    xfc_graph_key key;
    cudaGraphExec_t exec;
    uint64_t used;          /* LRU stamp */
} xfc_graph;

#define XFC_MAX_GRAPHS 32

/* Profiling (XFWD_PROFILE=1, xfc_switches): op families timed with events on an eager run. */
enum {
    XFC_P_EMBED = 0, XFC_P_NORM, XFC_P_GEMM_QKV, XFC_P_ROPE, XFC_P_ATTN, XFC_P_GEMM_O, XFC_P_GEMM_GU,
    XFC_P_SWIGLU, XFC_P_GEMM_DOWN, XFC_P_LORA, XFC_P_HEAD, XFC_P_COUNT
};
#define XFC_PROF_EVENTS 2048

typedef struct xfc_prof {
    cudaEvent_t ev[XFC_PROF_EVENTS];
    int fam[XFC_PROF_EVENTS];
    int n_ev, n_created;
    double ms[XFC_P_COUNT]; /* accumulated over `runs` forwards */
    int runs;
} xfc_prof;

/* Offsets (in int32 units) of the metadata block uploaded before every replay. */
typedef struct xfc_meta_layout {
    int64_t tokens, positions, tok_adapter, seq_start, tiles, total;
} xfc_meta_layout;

typedef struct xfc_alloc {
    void *p;
    size_t bytes;
} xfc_alloc;

typedef struct xfc_state {
    const xf_model *model;
    xf_dtype mode;
    xfc_type act;           /* matmul operand / activation type: F32 (f32, tf32), BF16, F16 */
    int device;
    xfc_switches sw;        /* the environment's tuning switches, read at creation */
    xfc_kernels kernels;    /* the kernel table, filled at creation */
    cudaStream_t stream;
    xfc_gemm gemm;
    /* model dimensions */
    int H, I, NH, NKV, D, V, L, n_layers, Nqkv;
    float eps;
    /* weights */
    xfc_layer *layers;      /* [n_layers] */
    void *embed;            /* [V, H] act type */
    void *lm_head;          /* [V, H] act type; == embed when tied; NULL without one */
    float *final_norm;      /* [H] */
    float *score;           /* [L, H] or NULL */
    float *rope_cos, *rope_sin; /* [min(max_pos, t_cap), D/2], made with the scratch */
    /* adapters applied per sequence (not merged) */
    int n_adapters;
    xfc_lora *lora;         /* [n_adapters][n_layers][XFC_G_COUNT] */
    int lora_rmax;          /* largest R */
    /* scratch, sized for t_cap tokens and b_cap sequences */
    int t_cap, b_cap, tiles_cap, attn_bm; /* attn_bm: queries per attention tile (kernels.attn.bm) */
    float *x;               /* [t_cap, H] residual stream, fp32 in every mode */
    void *bufa;             /* [t_cap, max(H, NH*D, I)] act: normed rows / attention out / SwiGLU out */
    void *bufb;             /* [t_cap, max(Nqkv, 2I)] act: fused q|k|v / fused gate|up */
    void *lora_tmp;         /* [t_cap, lora_rmax] act */
    float *pooled;          /* [t_cap, H], allocated at the first embed/classify */
    float *cls;             /* [t_cap, L], likewise */
    float *logits;          /* [t_cap, V], allocated at the first logits request */
    int32_t *meta_dev;      /* [layout.total] */
    int32_t *meta_host;     /* pinned, [layout.total] */
    int32_t *sort_tmp;      /* host scratch for ordering tiles, [2 * tiles_cap] */
    xfc_meta_layout layout;
    void *workspace;        /* cuBLASLt */
    /* graphs */
    xfc_graph graphs[XFC_MAX_GRAPHS];
    int n_graphs;
    uint64_t stamp;
    /* device memory accounting */
    xfc_alloc *allocs;
    int n_allocs, cap_allocs;
    size_t cur_bytes, peak_bytes, weight_bytes;
    xfc_copyout copy;       /* result copy to the caller's memory */
    /* timing of the last forward: the replay (events), and the whole call (host clock) */
    cudaEvent_t ev_start, ev_replayed;
    float last_replay_ms, last_total_ms;
    xfc_prof *prof;         /* non-NULL (XFWD_PROFILE=1 or xf_cuda_set_profile): forwards run
                               eagerly with per-family events instead of replaying the graph */
} xfc_state;

/* XF_OK when CUDA device *device (an ordinal) exists and is sm_90 or newer, else
 * XF_ERR_NO_DEVICE (no GPU, no such ordinal, or one older than sm_90). */
xf_status xfc_check_device(int *device);

/* Device allocation with accounting; failures name `what`. */
xf_status xfc_malloc(xfc_state *st, void **p, size_t bytes, const char *what);
void xfc_free(xfc_state *st, void *p);

/* cuda_weights.c */
xf_status xfc_upload_weights(xfc_state *st, const xf_backend_config *cfg);
xf_status xfc_upload_adapters(xfc_state *st, const xf_backend_config *cfg);

/* cuda_forward.c */
xf_status xfc_scratch_alloc(xfc_state *st, int t_cap, int b_cap);
void xfc_scratch_free(xfc_state *st);
void xfc_graphs_clear(xfc_state *st);
xf_status xfc_forward(xfc_state *st, const xf_plan *plan);

/* Buckets: the padded token count and sequence count a plan runs at. */
int xfc_t_bucket(int T);
int xfc_b_bucket(int B);

#endif /* XF_CUDA_STATE_H */
