/* random_model.c — xf_model_random: a model of a named Qwen3 shape with random
 * O(1)-scaled weights generated in memory (benchmarks need no checkpoint).
 * Linear weights are uniform with variance 1/in, so activations stay O(1);
 * norm weights lie in [0.5, 1.5]. Generation is spread over threads. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "error.h"
#include "loader.h"

typedef struct shape_def {
    const char *name;
    int32_t hidden, intermediate, layers, heads, kv_heads, head_dim, vocab, tie;
} shape_def;

/* From GPU.md: hidden, intermediate, layers, heads, kv heads, head_dim; vocab 151,936. */
static const shape_def shapes[] = {
    {"qwen3-0.6b", 1024, 3072, 28, 16, 8, 128, 151936, 1},
    {"qwen3-4b", 2560, 9728, 36, 32, 8, 128, 151936, 1},
    {"qwen3-8b", 4096, 12288, 36, 32, 8, 128, 151936, 0},
    {"qwen3-tiny", 64, 136, 2, 4, 2, 32, 256, 1},
};

typedef struct fill_job {
    void *dst;
    xf_wtype type;
    int64_t begin, end;
    float lo, hi;
    uint64_t seed;
} fill_job;

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void *fill_range(void *arg) {
    fill_job *j = arg;
    uint64_t s = j->seed ^ ((uint64_t)j->begin * 0x2545f4914f6cdd1dull);
    for (int64_t i = j->begin; i < j->end; i++) {
        float u = (float)(splitmix(&s) >> 40) * (1.0f / 16777216.0f);
        float v = j->lo + (j->hi - j->lo) * u;
        switch (j->type) {
        case XF_W_F32: ((float *)j->dst)[i] = v; break;
        case XF_W_BF16: ((uint16_t *)j->dst)[i] = xf_f32_to_bf16(v); break;
        case XF_W_F16: ((uint16_t *)j->dst)[i] = xf_f32_to_f16(v); break;
        }
    }
    return NULL;
}

/* Allocates a tensor owned by the model and fills it with uniform [lo, hi). */
static xf_status make_tensor(xf_model *m, xf_wtype type, int64_t d0, int64_t d1, float lo, float hi,
                             uint64_t seed, xf_tensor *t) {
    int64_t n = d0 * (d1 ? d1 : 1);
    size_t esize = type == XF_W_F32 ? 4 : 2;
    void *buf = malloc((size_t)n * esize);
    void **grown = realloc(m->owned, sizeof(void *) * (size_t)(m->n_owned + 1));
    if (!buf || !grown) {
        free(buf);
        if (grown) m->owned = grown;
        return xf_error(XF_ERR_NO_MEMORY, "out of host memory for random weights (%lld elements)", (long long)n);
    }
    m->owned = grown;
    m->owned[m->n_owned++] = buf;
    enum { MAX_THREADS = 32 };
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int nt = n < (1 << 20) ? 1 : (int)(cores < 1 ? 1 : cores > MAX_THREADS ? MAX_THREADS : cores);
    pthread_t th[MAX_THREADS];
    fill_job jobs[MAX_THREADS];
    int started = 0;
    for (int i = 0; i < nt; i++) {
        jobs[i] = (fill_job){buf, type, n * i / nt, n * (i + 1) / nt, lo, hi, seed};
        if (i > 0 && pthread_create(&th[i], NULL, fill_range, &jobs[i]) == 0) {
            started |= 1 << i;
            continue;
        }
        fill_range(&jobs[i]);
    }
    for (int i = 1; i < nt; i++)
        if (started & (1 << i)) pthread_join(th[i], NULL);
    t->data = buf;
    t->type = type;
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1 ? d1 : 1;
    return XF_OK;
}

static xf_status linear(xf_model *m, xf_wtype type, int64_t out, int64_t in, uint64_t seed, xf_tensor *t) {
    float a = sqrtf(3.0f / (float)in);
    return make_tensor(m, type, out, in, -a, a, seed, t);
}

xf_status xf_model_random(const char *shape, xf_dtype weight_dtype, uint64_t seed, xf_model **out) {
    xf_status st = XF_OK;
    xf_model *m = NULL;
    const shape_def *s = NULL;
    if (!out) return xf_error(XF_ERR_INVALID_ARG, "xf_model_random: out is NULL");
    *out = NULL;
    for (size_t i = 0; shape && i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(shapes[i].name, shape)) s = &shapes[i];
    if (!s)
        return xf_error(XF_ERR_INVALID_ARG, "unknown shape '%s' (qwen3-0.6b, qwen3-4b, qwen3-8b, qwen3-tiny)",
                        shape ? shape : "(null)");
    xf_wtype type = weight_dtype == XF_DTYPE_BF16 ? XF_W_BF16 : weight_dtype == XF_DTYPE_F16 ? XF_W_F16 : XF_W_F32;
    XF_ALLOC(m, 1);
    xf_config *c = &m->cfg;
    c->arch = XF_ARCH_QWEN3;
    snprintf(c->model_type, sizeof c->model_type, "qwen3");
    snprintf(c->architecture, sizeof c->architecture, "Qwen3ForCausalLM");
    c->hidden = s->hidden;
    c->intermediate = s->intermediate;
    c->n_layers = s->layers;
    c->n_heads = s->heads;
    c->n_kv_heads = s->kv_heads;
    c->head_dim = s->head_dim;
    c->vocab = s->vocab;
    c->max_pos = 40960;
    c->eps = 1e-6;
    c->rope_theta = 1000000.0;
    c->tie_embeddings = s->tie;
    c->qk_norm = 1;
    m->dir = strdup(shape);
    XF_CHECK(m->dir, XF_ERR_NO_MEMORY, "out of memory");
    const int64_t H = c->hidden, I = c->intermediate, D = c->head_dim;
    const int64_t Q = (int64_t)c->n_heads * D, KV = (int64_t)c->n_kv_heads * D;
    uint64_t k = seed * 1000003u;
    XF_TRY(make_tensor(m, type, c->vocab, H, -1.0f, 1.0f, ++k, &m->embed));
    XF_TRY(make_tensor(m, type, H, 0, 0.5f, 1.5f, ++k, &m->final_norm));
    XF_ALLOC(m->layers, c->n_layers);
    for (int l = 0; l < c->n_layers; l++) {
        xf_layer *L = &m->layers[l];
        XF_TRY(make_tensor(m, type, H, 0, 0.5f, 1.5f, ++k, &L->attn_norm));
        XF_TRY(linear(m, type, Q, H, ++k, &L->wq));
        XF_TRY(linear(m, type, KV, H, ++k, &L->wk));
        XF_TRY(linear(m, type, KV, H, ++k, &L->wv));
        XF_TRY(make_tensor(m, type, D, 0, 0.5f, 1.5f, ++k, &L->q_norm));
        XF_TRY(make_tensor(m, type, D, 0, 0.5f, 1.5f, ++k, &L->k_norm));
        XF_TRY(linear(m, type, H, Q, ++k, &L->wo));
        XF_TRY(make_tensor(m, type, H, 0, 0.5f, 1.5f, ++k, &L->mlp_norm));
        XF_TRY(linear(m, type, I, H, ++k, &L->w_gate));
        XF_TRY(linear(m, type, I, H, ++k, &L->w_up));
        XF_TRY(linear(m, type, H, I, ++k, &L->w_down));
    }
    if (c->tie_embeddings) m->lm_head = m->embed;
    else XF_TRY(linear(m, type, c->vocab, H, ++k, &m->lm_head));
    xf_model_count_params(m);
    *out = m;
    m = NULL;
cleanup:
    xf_model_free(m);
    return st;
}
