/* backend.h — the backend interface: a table of function pointers every backend
 * (cpu, cpu_ref, cuda, vulkan) fills with designated initializers.
 *
 * engine.c owns what is common: argument checks, splitting a batch into chunks of
 * at most max_tokens tokens (whole sequences), and placing each chunk's output.
 * A backend sees one chunk at a time as an xf_plan, already validated. */
#ifndef XF_BACKEND_H
#define XF_BACKEND_H

#include "model.h"
#include "recipe.h"
#include "xfwd.h"

/* The forward plan for one chunk: which tokens, where every sequence starts,
 * what to produce, and the recipe (recipe.h) that produces it. Built by engine.c;
 * identical for every backend. */
typedef struct xf_plan {
    const xf_recipe *recipe;    /* the ops to run, in order; its result goes to `out` */
    int32_t n_tokens;           /* T */
    int32_t n_seqs;             /* B */
    const int32_t *tokens;      /* [T] ids, all < vocab */
    const int32_t *seq_start;   /* [B+1] offsets into tokens; seq_start[B] = T */
    const int32_t *positions;   /* [T] position of each token inside its sequence */
    const int32_t *adapter_ids; /* [B] index into the engine's adapters, -1 none; never NULL */
    int32_t max_seq_len;        /* longest sequence of the chunk */
    xf_output output;
    xf_pooling pooling;         /* XF_OUT_EMBED only */
    int32_t normalize;          /* XF_OUT_EMBED only */
    float *out;                 /* host: [T,H] | [T,V] | [B,H] | [B,L] */
    /* Debugging aid (tests only): when >= 0, output the residual stream entering
     * layer stop_layer ([T,H], layer 0 = embeddings) instead of `output`. A backend
     * that does not offer it returns XF_ERR_UNSUPPORTED; normal forwards pass -1. */
    int32_t stop_layer;
} xf_plan;

/* What a backend is given at creation. Adapters: adapters[i] valid for i < n_adapters.
 * When merge != 0, adapter 0 must be folded into the weights at upload and the
 * plan's adapter_ids can be ignored. */
typedef struct xf_backend_config {
    const xf_model *model;
    xf_dtype dtype;
    int32_t max_tokens;
    int32_t n_threads;
    const xf_adapter *const *adapters;
    int32_t n_adapters;
    int32_t merge;
    const char *cache_dir;
    int32_t device;             /* GPU index (xf_engine_options.device); 0 on the CPU */
} xf_backend_config;

/* Op entry points on host memory (fp32 in/out), used by the op-by-op tests to
 * compare a backend with the CPU reference. A GPU backend uploads, runs its own
 * kernel in `mode`, and downloads. Any pointer may be NULL: "op not offered"
 * (the test reports skipped). Shapes:
 *   rmsnorm:   x [rows, n], w [n] -> y [rows, n]
 *   linear:    x [T, in], W [out, in], bias [out] or NULL -> y [T, out] = x·Wᵀ + b (+ y if accumulate)
 *   qknorm_rope: x [T, nh, D] in place; w [D] or NULL (no norm); pos [T]; cos/sin [P, D/2]
 *   attention: q [T, nh, D], k,v [T, nkv, D] -> out [T, nh, D]; seq_start [B+1]; within each
 *              sequence, the keys `mask` lets each query see (model.h)
 *   swiglu:    gate, up [n] -> out [n] = silu(gate) * up
 */
typedef struct xf_op_table {
    xf_status (*rmsnorm)(xf_dtype mode, const float *x, const float *w, float *y, int rows, int n,
                         float eps);
    xf_status (*linear)(xf_dtype mode, const float *x, const float *W, const float *bias, float *y,
                        int T, int in, int out, int accumulate);
    xf_status (*qknorm_rope)(xf_dtype mode, float *x, const float *w, float eps, const int32_t *pos,
                             int T, int nh, int D, const float *cos, const float *sin);
    xf_status (*attention)(xf_dtype mode, const float *q, const float *k, const float *v, float *out,
                           const int32_t *seq_start, int B, int nh, int nkv, int D, xf_attn_mask mask);
    xf_status (*swiglu)(xf_dtype mode, const float *gate, const float *up, float *out, int64_t n);
    /* gate|up then SwiGLU, fused where the backend has a fused kernel: x [T, in], W [2I, in]
     * (the gate rows, then the up rows) -> out [T, I] = silu(x·W_gateᵀ) ⊙ (x·W_upᵀ) */
    xf_status (*linear_swiglu)(xf_dtype mode, const float *x, const float *W, float *out, int T, int in, int I);
    /* The op-test matrix: the kernels the backend's table can choose on this device for
     * op `id` (an xf_op_test_id) in `mode` — fills out[0 .. min(count, max)) and returns the
     * count (0: none) — and which one the entry points above run from now on (-1: the
     * table's default). The entry points check guard regions in device memory before and
     * after each output and fail (XF_ERR_INTERNAL, "guard") when a kernel wrote outside it. */
    int (*variants)(int id, xf_dtype mode, xf_kernel_choice *out, int max);
    xf_status (*select)(int id, int variant);
} xf_op_table;

/* Ids of the op tests: the recipe's op kinds, plus the fused gate|up + SwiGLU. */
enum { XF_OPT_LINEAR_SWIGLU = XF_OP_COUNT, XF_OPT_COUNT };

typedef struct xf_backend_ops {
    const char *name;
    /* Returns XF_ERR_NO_DEVICE (with a message) when the device is absent. */
    xf_status (*create)(const xf_backend_config *cfg, void **state);
    xf_status (*forward)(void *state, const xf_plan *plan);
    size_t (*peak_memory)(void *state);
    void (*destroy)(void *state);
    const xf_op_table *ops;
    /* The backend's kernel table entry for op (for printing: xfwd info --verbose). */
    void (*kernel)(void *state, const xf_op *op, xf_kernel_choice *out);
} xf_backend_ops;

/* Backends compiled in; NULL-valued symbols are not linked when a backend is off. */
extern const xf_backend_ops xf_backend_cpu_ref;
extern const xf_backend_ops xf_backend_cpu;
#ifdef XFWD_HAVE_CUDA
extern const xf_backend_ops xf_backend_cuda;
#endif
#ifdef XFWD_HAVE_VULKAN
extern const xf_backend_ops xf_backend_vulkan;
#endif

/* The CPU backend's "auto" dtype for m (xf_model_auto_dtype): bf16 for a BF16
 * checkpoint where the CPU has bf16 instructions and oneDNN is built in, else f32. */
xf_dtype xf_cpu_auto_dtype(const xf_model *m);

/* The recipe an engine runs for an output (engine.c; recipe.h): free with xf_recipe_free. */
xf_status xf_engine_recipe(const xf_engine *e, xf_output what, xf_pooling pooling, int normalize, int32_t stop_layer,
                           xf_recipe *r);

/* mkdir -p of a cache folder (cache_dir.c); 0 when the folder exists afterwards. */
int xf_make_dirs(const char *path);

/* The engine's backend and its state (engine.c), for xf_engine_describe. */
const xf_backend_ops *xf_engine_backend_ops(const xf_engine *e, void **state);

/* Returns the ops table for a backend kind, or NULL when not compiled in. */
const xf_backend_ops *xf_backend_lookup(xf_backend kind);

#endif /* XF_BACKEND_H */
