/* engine.c — the public engine API over the backends: option defaults,
 * backend choice (AUTO = CUDA when a GPU is present, else the fast CPU path),
 * validation of every batch, and splitting a batch into chunks of whole
 * sequences that fit max_tokens, each run as one xf_plan. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "engine_debug.h"
#include "error.h"
#include "safetensors.h"
#include "pipeline.h"

#define XF_DEFAULT_MAX_TOKENS 8192

struct xf_engine {
    const xf_model *model;
    const xf_backend_ops *ops;
    void *state;
    xf_backend kind;
    int32_t max_tokens;
    int32_t n_adapters;
    uint32_t *lora_mods;        /* [n_layers] LoRA modules of the unmerged adapters (recipe.h); NULL: none */
    /* Calls on one engine run one at a time (xfwd.h, threads): the backends keep
     * per-engine scratch that two forwards at once would share. */
    pthread_mutex_t lock;
};

const xf_backend_ops *xf_backend_lookup(xf_backend kind) {
    switch (kind) {
    case XF_BACKEND_CPU: return &xf_backend_cpu;
    case XF_BACKEND_CPU_REF: return &xf_backend_cpu_ref;
#ifdef XFWD_HAVE_CUDA
    case XF_BACKEND_CUDA: return &xf_backend_cuda;
#endif
#ifdef XFWD_HAVE_VULKAN
    case XF_BACKEND_VULKAN: return &xf_backend_vulkan;
#endif
    default: return NULL;
    }
}

void xf_engine_options_init(xf_engine_options *o) {
    memset(o, 0, sizeof *o);
    o->backend = XF_BACKEND_AUTO;
    o->dtype = XF_DTYPE_F32;
    o->max_tokens = XF_DEFAULT_MAX_TOKENS;
}

xf_dtype xf_model_auto_dtype(const xf_model *m, xf_backend backend) {
    if (!m) return XF_DTYPE_F32;
    switch (backend) {
    case XF_BACKEND_AUTO:
    case XF_BACKEND_CPU: return xf_cpu_auto_dtype(m);
    case XF_BACKEND_CUDA:
    case XF_BACKEND_VULKAN:
        return !strcmp(m->weight_dtype, "BF16") ? XF_DTYPE_BF16 : !strcmp(m->weight_dtype, "F16") ? XF_DTYPE_F16 : XF_DTYPE_F32;
    default: return XF_DTYPE_F32;
    }
}

int64_t xf_batch_tokens(const xf_batch *b) {
    if (!b || b->n_seqs < 1 || !b->seq_lens) return -1;
    int64_t n = 0;
    for (int32_t i = 0; i < b->n_seqs; i++) {
        if (b->seq_lens[i] < 1) return -1;
        n += b->seq_lens[i];
    }
    return n;
}

static const char *backend_label(xf_backend k) {
    static const char *names[] = {"auto", "cpu", "cpu_ref", "cuda", "vulkan"};
    return (unsigned)k < 5 ? names[k] : "?";
}

/* The model's files still hold what is mapped (safetensors.c: a file that shrank
 * would raise SIGBUS where the weights are read). */
static xf_status check_files(const xf_model *m) {
    for (int32_t i = 0; i < m->n_files; i++) {
        xf_status st = xf_st_check(m->files[i]);
        if (st != XF_OK) return st;
    }
    return XF_OK;
}

xf_status xf_engine_create(const xf_model *m, const xf_engine_options *opts, xf_engine **out) {
    xf_status st = XF_OK;
    xf_engine *e = NULL;
    xf_engine_options defaults;
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_engine_create: out is NULL");
    *out = NULL;
    if (!m) return xf_error(XF_ERR_INVALID_ARG, "xf_engine_create: model is NULL");
    if (!opts) xf_engine_options_init(&defaults), opts = &defaults;
    XF_CHECK((unsigned)opts->dtype <= XF_DTYPE_F16, XF_ERR_INVALID_ARG, "unknown dtype %d", (int)opts->dtype);
    XF_CHECK(opts->max_tokens >= 0, XF_ERR_INVALID_ARG, "max_tokens must be positive");
    XF_CHECK(opts->device >= 0, XF_ERR_INVALID_ARG, "device %d: a device index is 0 or more", (int)opts->device);
    XF_CHECK(opts->device == 0 || (opts->backend != XF_BACKEND_CPU && opts->backend != XF_BACKEND_CPU_REF),
             XF_ERR_INVALID_ARG, "device %d: the CPU backends have one device, 0", (int)opts->device);
    XF_CHECK(opts->n_adapters >= 0 && (opts->n_adapters == 0 || opts->adapters), XF_ERR_INVALID_ARG,
             "adapters array is NULL but n_adapters = %d", opts->n_adapters);
    for (int32_t i = 0; i < opts->n_adapters; i++)
        XF_CHECK(opts->adapters[i] && opts->adapters[i]->n_layers == m->cfg.n_layers, XF_ERR_INVALID_ARG,
                 "adapter %d is NULL or was opened for another model", i);
    XF_CHECK(!opts->merge_adapters || opts->n_adapters == 1, XF_ERR_INVALID_ARG,
             "merging needs exactly one adapter (got %d)", opts->n_adapters);
    XF_TRY(check_files(m));  /* the backends copy the weights from the mapping */
    XF_ALLOC(e, 1);
    pthread_mutex_init(&e->lock, NULL);
    e->model = m;
    e->max_tokens = opts->max_tokens ? opts->max_tokens : XF_DEFAULT_MAX_TOKENS;
    e->n_adapters = opts->n_adapters;
    if (opts->n_adapters > 0 && !opts->merge_adapters) {
        XF_ALLOC(e->lora_mods, m->cfg.n_layers);
        for (int32_t l = 0; l < m->cfg.n_layers; l++)
            e->lora_mods[l] = xf_recipe_lora_mods(opts->adapters, opts->n_adapters, l);
    }
    xf_backend_config cfg = {
        .model = m,
        .dtype = opts->dtype,
        .max_tokens = e->max_tokens,
        .n_threads = opts->n_threads,
        .adapters = opts->adapters,
        .n_adapters = opts->n_adapters,
        .merge = opts->merge_adapters,
        .cache_dir = opts->cache_dir,
        .device = opts->device,
    };
    if (opts->backend == XF_BACKEND_AUTO) {
        const xf_backend_ops *cuda = xf_backend_lookup(XF_BACKEND_CUDA);
        if (cuda) {
            st = cuda->create(&cfg, &e->state);
            if (st == XF_OK) e->ops = cuda, e->kind = XF_BACKEND_CUDA;
            else if (st != XF_ERR_NO_DEVICE) goto cleanup;
        }
        if (!e->ops) {
            XF_CHECK(opts->device == 0, XF_ERR_NO_DEVICE, "device %d: no CUDA GPU, and the CPU has one device, 0",
                     (int)opts->device);
            e->ops = &xf_backend_cpu, e->kind = XF_BACKEND_CPU;
            XF_TRY(e->ops->create(&cfg, &e->state));
        }
    } else {
        e->ops = xf_backend_lookup(opts->backend);
        XF_CHECK(e->ops, XF_ERR_NO_DEVICE, "the %s backend is not built into this xfwd", backend_label(opts->backend));
        e->kind = opts->backend;
        XF_TRY(e->ops->create(&cfg, &e->state));
    }
    *out = e;
    e = NULL;
    st = XF_OK;
cleanup:
    if (e && e->state) e->ops->destroy(e->state);
    if (e) free(e->lora_mods);
    free(e);
    return st;
}

void xf_engine_free(xf_engine *e) {
    if (!e) return;
    if (e->state) e->ops->destroy(e->state);
    pthread_mutex_destroy(&e->lock);
    free(e->lora_mods);
    free(e);
}

xf_backend xf_engine_backend(const xf_engine *e) { return e ? e->kind : XF_BACKEND_AUTO; }

size_t xf_engine_peak_memory(const xf_engine *e) {
    return e && e->ops->peak_memory ? e->ops->peak_memory(e->state) : 0;
}

static xf_status validate(const xf_engine *e, const xf_batch *b, const float *out, int64_t *n_tokens) {
    if (!e || !b || !out) return xf_error(XF_ERR_INVALID_ARG, "engine, batch and out must not be NULL");
    const xf_config *c = &e->model->cfg;
    if (b->n_seqs < 1) return xf_error(XF_ERR_INVALID_ARG, "the batch has no sequences");
    if (!b->seq_lens || !b->tokens) return xf_error(XF_ERR_INVALID_ARG, "batch tokens or seq_lens is NULL");
    int64_t T = 0;
    for (int32_t i = 0; i < b->n_seqs; i++) {
        int32_t len = b->seq_lens[i];
        if (len < 1) return xf_error(XF_ERR_INVALID_ARG, "sequence %d is empty", i);
        if (len > c->max_pos)
            return xf_error(XF_ERR_INVALID_ARG, "sequence %d has %d tokens; the model allows at most %d", i, len,
                            c->max_pos);
        if (b->adapter_ids && (b->adapter_ids[i] < -1 || b->adapter_ids[i] >= e->n_adapters))
            return xf_error(XF_ERR_INVALID_ARG, "sequence %d asks for adapter %d; the engine has %d", i,
                            b->adapter_ids[i], e->n_adapters);
        T += len;
    }
    if (T > INT32_MAX) return xf_error(XF_ERR_INVALID_ARG, "the batch has too many tokens (%lld)", (long long)T);
    for (int64_t t = 0; t < T; t++)
        if (b->tokens[t] < 0 || b->tokens[t] >= c->vocab)
            return xf_error(XF_ERR_INVALID_ARG, "token %lld has id %d, outside the vocabulary [0, %d)", (long long)t,
                            b->tokens[t], c->vocab);
    *n_tokens = T;
    return XF_OK;
}

xf_status xf_engine_recipe(const xf_engine *e, xf_output what, xf_pooling pooling, int normalize, int32_t stop_layer,
                           xf_recipe *r) {
    const xf_recipe_args a = {
        .cfg = &e->model->cfg,
        .lora_mods = e->lora_mods,
        .qkv_bias = e->model->layers[0].bq.data != NULL,
        .output = what,
        .pooling = pooling,
        .normalize = normalize,
        .stop_layer = stop_layer,
    };
    return xf_recipe_build(&a, r);
}

const xf_backend_ops *xf_engine_backend_ops(const xf_engine *e, void **state) {
    *state = e->state;
    return e->ops;
}

/* Runs the batch chunk by chunk: each chunk is a run of whole sequences with at
 * most max_tokens tokens (a longer sequence runs alone). */
static xf_status run_locked(xf_engine *e, const xf_batch *b, xf_output what, xf_pooling pooling, int normalize, float *out,
                     int32_t stop_layer) {
    xf_status st = XF_OK;
    int64_t T = 0;
    int32_t *seq_start = NULL, *positions = NULL, *ids = NULL;
    xf_recipe recipe = {0};
    XF_TRY(validate(e, b, out, &T));
    const xf_config *c = &e->model->cfg;
    XF_CHECK(what != XF_OUT_LOGITS || e->model->lm_head.data, XF_ERR_UNSUPPORTED,
             "%s: the checkpoint has no lm_head.weight and untied embeddings (a headless model): no logits "
             "(hidden states, embeddings and classification work)",
             e->model->dir);
    XF_CHECK(what != XF_OUT_CLASSIFY || e->model->score.data, XF_ERR_INVALID_ARG,
             "%s: the model has no score head (not a *ForSequenceClassification checkpoint)", e->model->dir);
    XF_CHECK((unsigned)pooling <= XF_POOL_FIRST, XF_ERR_INVALID_ARG, "unknown pooling %d", (int)pooling);
    XF_TRY(xf_engine_recipe(e, what, pooling, normalize, stop_layer, &recipe));
    XF_ALLOC(seq_start, b->n_seqs + 1);
    XF_ALLOC(positions, T);
    XF_ALLOC(ids, b->n_seqs);
    for (int32_t i = 0; i < b->n_seqs; i++) {
        seq_start[i + 1] = seq_start[i] + b->seq_lens[i];
        for (int32_t p = 0; p < b->seq_lens[i]; p++) positions[seq_start[i] + p] = p;
        ids[i] = b->adapter_ids ? b->adapter_ids[i] : (e->n_adapters > 0 ? 0 : -1);
    }
    const int64_t row = what == XF_OUT_LOGITS ? c->vocab
                      : what == XF_OUT_CLASSIFY ? c->num_labels : c->hidden;
    const int per_token = what == XF_OUT_HIDDEN || what == XF_OUT_LOGITS;
    for (int32_t s0 = 0; s0 < b->n_seqs;) {
        int32_t s1 = s0 + 1;
        while (s1 < b->n_seqs && seq_start[s1 + 1] - seq_start[s0] <= e->max_tokens) s1++;
        /* the chunk's own seq_start, rebased to 0 */
        int32_t *cs = seq_start + s0, base = seq_start[s0];
        int32_t *rebased = NULL;
        XF_ALLOC(rebased, s1 - s0 + 1);
        int32_t longest = 0;
        for (int32_t i = 0; i <= s1 - s0; i++) rebased[i] = cs[i] - base;
        for (int32_t i = 0; i < s1 - s0; i++)
            if (rebased[i + 1] - rebased[i] > longest) longest = rebased[i + 1] - rebased[i];
        xf_plan plan = {
            .recipe = &recipe,
            .n_tokens = seq_start[s1] - base,
            .n_seqs = s1 - s0,
            .tokens = b->tokens + base,
            .seq_start = rebased,
            .positions = positions + base,
            .adapter_ids = ids + s0,
            .max_seq_len = longest,
            .output = what,
            .pooling = pooling,
            .normalize = normalize,
            .out = out + (per_token ? (int64_t)base : (int64_t)s0) * row,
            .stop_layer = stop_layer,
        };
        st = e->ops->forward(e->state, &plan);
        free(rebased);
        if (st != XF_OK) goto cleanup;
        s0 = s1;
    }
cleanup:
    xf_recipe_free(&recipe);
    free(seq_start);
    free(positions);
    free(ids);
    return st;
}

/* run_locked, one call at a time per engine: a second thread waits its turn. */
static xf_status run(xf_engine *e, const xf_batch *b, xf_output what, xf_pooling pooling, int normalize, float *out,
                     int32_t stop_layer) {
    if (!e) return xf_error(XF_ERR_INVALID_ARG, "engine, batch and out must not be NULL");
    xf_status st = check_files(e->model);
    if (st != XF_OK) return st;
    pthread_mutex_lock(&e->lock);
    st = run_locked(e, b, what, pooling, normalize, out, stop_layer);
    pthread_mutex_unlock(&e->lock);
    return st;
}

xf_status xf_engine_hidden(xf_engine *e, const xf_batch *b, float *out) {
    return run(e, b, XF_OUT_HIDDEN, XF_POOL_LAST, 0, out, -1);
}

xf_status xf_engine_logits(xf_engine *e, const xf_batch *b, float *out) {
    return run(e, b, XF_OUT_LOGITS, XF_POOL_LAST, 0, out, -1);
}

xf_status xf_engine_pool_backend(xf_engine *e, const xf_batch *b, xf_pooling pooling, int normalize, float *out) {
    return run(e, b, XF_OUT_EMBED, pooling, normalize, out, -1);
}

xf_status xf_engine_classify_last(xf_engine *e, const xf_batch *b, float *out) {
    return run(e, b, XF_OUT_CLASSIFY, XF_POOL_LAST, 0, out, -1);
}

const xf_model *xf_engine_model(const xf_engine *e) { return e ? e->model : NULL; }
int32_t xf_engine_max_tokens(const xf_engine *e) { return e ? e->max_tokens : 0; }

xf_status xf_engine_check_batch(const xf_engine *e, const xf_batch *b, const void *out) {
    int64_t n_tokens = 0;
    return validate(e, b, out, &n_tokens);
}

xf_status xf_engine_debug_residual(xf_engine *e, const xf_batch *b, int32_t layer, float *out) {
    if (!e || layer < 0 || layer > e->model->cfg.n_layers)
        return xf_error(XF_ERR_INVALID_ARG, "debug residual: layer %d out of range", layer);
    return run(e, b, XF_OUT_HIDDEN, XF_POOL_LAST, 0, out, layer);
}
