/* test_recipe.c — the forward recipe (src/recipe.h) as data, and how the CPU backends
 * print and test it:
 *  - a plain causal model: 1 + 9·layers + head ops, in the layer order recipe.h states;
 *  - Qwen2 q/k/v biases, Qwen3 q/k norms, per-layer masks (full, windowed);
 *  - LoRA bits only on the linears whose modules the adapters target, per layer
 *    (and none when merged);
 *  - each output kind's head, stop_layer, an unknown pooling refused;
 *  - xf_engine_describe on cpu and cpu_ref: every op with its kernel, alike layers
 *    once, differing layers apart;
 *  - the CPU op tables' kernel matrix (variants, select) and linear_swiglu.
 *   test_recipe GOLDEN_DIR */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "error.h"
#include "recipe.h"
#include "testutil.h"

static int failures, checks; /* counted by XT_EXPECT */

#define BIT(m) (1u << (m))

/* A small Llama-like config: 3 layers, GQA 4:2, head_dim 8. */
static xf_config plain_config(void) {
    xf_config c;
    memset(&c, 0, sizeof c);
    c.arch = XF_ARCH_LLAMA;
    snprintf(c.model_type, sizeof c.model_type, "llama");
    c.hidden = 32, c.intermediate = 48, c.n_layers = 3, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 8;
    c.vocab = 100, c.max_pos = 64, c.eps = 1e-6, c.rope_theta = 1e4, c.num_labels = 3, c.pad_token_id = -1;
    return c;
}

static xf_status build(const xf_config *c, xf_output out, const uint32_t *lora, int qkv_bias, xf_pooling pooling,
                       int normalize, int stop_layer, xf_recipe *r) {
    const xf_recipe_args a = {.cfg = c, .lora_mods = lora, .qkv_bias = qkv_bias, .output = out, .pooling = pooling,
                              .normalize = normalize, .stop_layer = stop_layer};
    return xf_recipe_build(&a, r);
}

/* The op of layer l at position k of the layer (0..8). */
static const xf_op *layer_op(const xf_recipe *r, int l, int k) { return &r->ops[1 + 9 * l + k]; }

static void check_plain(void) {
    const xf_config c = plain_config();
    const int Q = 32, KV = 16;
    xf_recipe r;
    XT_EXPECT(build(&c, XF_OUT_HIDDEN, NULL, 0, XF_POOL_LAST, 0, -1, &r) == XF_OK, "build: %s", xf_last_error());
    XT_EXPECT(r.n_ops == 1 + 9 * 3 + 1, "plain causal: %d ops, want %d", r.n_ops, 1 + 9 * 3 + 1);
    XT_EXPECT(r.result == XF_BUF_HIDDEN, "result %s", xf_buf_name(r.result));
    XT_EXPECT(r.ops[0].kind == XF_OP_EMBED && r.ops[0].dst == XF_BUF_X && r.ops[0].out == 32, "op 0 embeds into X");
    static const xf_op_kind kinds[9] = {XF_OP_RMSNORM, XF_OP_LINEAR, XF_OP_QK_ROPE, XF_OP_ATTENTION, XF_OP_LINEAR,
                                        XF_OP_RMSNORM, XF_OP_LINEAR, XF_OP_SWIGLU, XF_OP_LINEAR};
    static const xf_weight weights[9] = {XF_WT_ATTN_NORM, XF_WT_QKV, XF_WT_NONE, XF_WT_NONE, XF_WT_O,
                                         XF_WT_MLP_NORM, XF_WT_GATE_UP, XF_WT_NONE, XF_WT_DOWN};
    for (int l = 0; l < 3; l++)
        for (int k = 0; k < 9; k++) {
            const xf_op *op = layer_op(&r, l, k);
            XT_EXPECT(op->kind == kinds[k] && op->weight == weights[k] && op->layer == l,
                      "layer %d op %d: %s %s layer %d", l, k, xf_op_kind_name(op->kind), xf_weight_name(op->weight),
                      op->layer);
            XT_EXPECT(!op->bias && !op->norm && !op->lora, "layer %d op %d: no bias, norm or LoRA", l, k);
        }
    const xf_op *qkv = layer_op(&r, 1, 1), *att = layer_op(&r, 1, 3), *o = layer_op(&r, 1, 4), *gu = layer_op(&r, 1, 6);
    XT_EXPECT(qkv->in == 32 && qkv->out == Q + 2 * KV && qkv->src == XF_BUF_XN && qkv->dst == XF_BUF_QKV, "qkv shape");
    XT_EXPECT(att->mask.kind == XF_MASK_CAUSAL && att->mask.window == 0 && att->out == Q, "causal, no window");
    XT_EXPECT(o->accumulate && o->dst == XF_BUF_X && layer_op(&r, 1, 8)->accumulate, "o and down accumulate into X");
    XT_EXPECT(gu->out == 2 * 48 && gu->fuse_next && layer_op(&r, 1, 7)->out == 48, "gate|up fusable with swiglu");
    const xf_op *fin = &r.ops[r.n_ops - 1];
    XT_EXPECT(fin->kind == XF_OP_RMSNORM && fin->weight == XF_WT_FINAL_NORM && fin->dst == XF_BUF_HIDDEN, "final norm");
    xf_recipe_free(&r);
}

static void check_bias_norm_masks(void) {
    xf_config c = plain_config();
    xf_recipe r;
    XT_EXPECT(build(&c, XF_OUT_HIDDEN, NULL, 1, XF_POOL_LAST, 0, -1, &r) == XF_OK, "build: %s", xf_last_error());
    for (int l = 0; l < 3; l++) {
        XT_EXPECT(layer_op(&r, l, 1)->bias == 1, "qwen2: layer %d qkv has a bias", l);
        XT_EXPECT(!layer_op(&r, l, 4)->bias && !layer_op(&r, l, 6)->bias && !layer_op(&r, l, 8)->bias,
                  "qwen2: only qkv has a bias (layer %d)", l);
    }
    xf_recipe_free(&r);

    c.arch = XF_ARCH_QWEN3, c.qk_norm = 1;
    XT_EXPECT(build(&c, XF_OUT_HIDDEN, NULL, 0, XF_POOL_LAST, 0, -1, &r) == XF_OK, "build: %s", xf_last_error());
    for (int l = 0; l < 3; l++)
        XT_EXPECT(layer_op(&r, l, 2)->norm == 1 && layer_op(&r, l, 2)->weight == XF_WT_QK_NORM,
                  "qwen3: layer %d q/k norm before RoPE", l);
    char line[200];
    xf_op_format(layer_op(&r, 0, 2), line, sizeof line);
    XT_EXPECT(strstr(line, "qk-norm") != NULL, "printed: %s", line);
    xf_recipe_free(&r);

    /* per layer: causal, causal with a window of 4, full */
    xf_attn_mask masks[3] = {{XF_MASK_CAUSAL, 0}, {XF_MASK_CAUSAL, 4}, {XF_MASK_FULL, 0}};
    c.qk_norm = 0, c.masks = masks;
    XT_EXPECT(build(&c, XF_OUT_HIDDEN, NULL, 0, XF_POOL_LAST, 0, -1, &r) == XF_OK, "build: %s", xf_last_error());
    for (int l = 0; l < 3; l++) {
        const xf_attn_mask m = layer_op(&r, l, 3)->mask;
        XT_EXPECT(m.kind == masks[l].kind && m.window == masks[l].window, "layer %d mask %d/%d, want %d/%d", l,
                  (int)m.kind, m.window, (int)masks[l].kind, masks[l].window);
    }
    xf_op_format(layer_op(&r, 1, 3), line, sizeof line);
    XT_EXPECT(strstr(line, "causal window 4") != NULL, "printed: %s", line);
    xf_op_format(layer_op(&r, 2, 3), line, sizeof line);
    XT_EXPECT(strstr(line, "full") != NULL, "printed: %s", line);
    xf_recipe_free(&r);
}

static void check_lora(void) {
    const xf_config c = plain_config();
    /* layer 0: q and v; layer 1: nothing; layer 2: gate and down */
    const uint32_t mods[3] = {BIT(XF_MOD_Q) | BIT(XF_MOD_V), 0, BIT(XF_MOD_GATE) | BIT(XF_MOD_DOWN)};
    xf_recipe r;
    XT_EXPECT(build(&c, XF_OUT_HIDDEN, mods, 0, XF_POOL_LAST, 0, -1, &r) == XF_OK, "build: %s", xf_last_error());
    for (int l = 0; l < 3; l++) {
        const uint32_t want[9] = {0, mods[l] & (BIT(XF_MOD_Q) | BIT(XF_MOD_K) | BIT(XF_MOD_V)), 0, 0,
                                  mods[l] & BIT(XF_MOD_O), 0, mods[l] & (BIT(XF_MOD_GATE) | BIT(XF_MOD_UP)), 0,
                                  mods[l] & BIT(XF_MOD_DOWN)};
        for (int k = 0; k < 9; k++)
            XT_EXPECT(layer_op(&r, l, k)->lora == want[k], "layer %d op %d: lora %#x, want %#x", l, k,
                      layer_op(&r, l, k)->lora, want[k]);
    }
    XT_EXPECT(layer_op(&r, 0, 6)->fuse_next && !layer_op(&r, 2, 6)->fuse_next,
              "gate|up with a LoRA term is not fusable with swiglu");
    char line[200];
    xf_op_format(layer_op(&r, 0, 1), line, sizeof line);
    XT_EXPECT(strstr(line, "lora{q,v}") != NULL, "printed: %s", line);
    xf_recipe_free(&r);
}

static void check_heads(void) {
    const xf_config c = plain_config();
    const int base = 1 + 9 * 3;
    xf_recipe r;
    XT_EXPECT(build(&c, XF_OUT_LOGITS, NULL, 0, XF_POOL_LAST, 0, -1, &r) == XF_OK, "build: %s", xf_last_error());
    XT_EXPECT(r.n_ops == base + 2 && r.result == XF_BUF_LOGITS, "logits: %d ops, result %s", r.n_ops,
              xf_buf_name(r.result));
    if (r.n_ops == base + 2) {
        const xf_op *n = &r.ops[base], *lm = &r.ops[base + 1];
        XT_EXPECT(n->kind == XF_OP_RMSNORM && n->dst == XF_BUF_XN && lm->kind == XF_OP_LINEAR &&
                      lm->weight == XF_WT_LM_HEAD && lm->src == XF_BUF_XN && lm->dst == XF_BUF_LOGITS &&
                      lm->out == c.vocab && lm->rows == XF_ROWS_T,
                  "logits head: final norm, lm_head [T, V]");
    }
    xf_recipe_free(&r);

    const xf_pooling pools[3] = {XF_POOL_LAST, XF_POOL_MEAN, XF_POOL_FIRST};
    for (int i = 0; i < 3; i++) {
        XT_EXPECT(build(&c, XF_OUT_EMBED, NULL, 0, pools[i], i == 1, -1, &r) == XF_OK, "build: %s", xf_last_error());
        XT_EXPECT(r.n_ops == base + 2 && r.result == XF_BUF_POOLED, "embed: %d ops", r.n_ops);
        if (r.n_ops == base + 2) {
            const xf_op *pool = &r.ops[base + 1];
            XT_EXPECT(r.ops[base].dst == XF_BUF_HIDDEN && pool->kind == XF_OP_POOL && pool->src == XF_BUF_HIDDEN &&
                          pool->dst == XF_BUF_POOLED && pool->pooling == pools[i] && pool->normalize == (i == 1),
                      "embed head: pooling %d normalize %d", (int)pool->pooling, pool->normalize);
        }
        xf_recipe_free(&r);
    }

    XT_EXPECT(build(&c, XF_OUT_CLASSIFY, NULL, 0, XF_POOL_LAST, 0, -1, &r) == XF_OK, "build: %s", xf_last_error());
    XT_EXPECT(r.n_ops == base + 3 && r.result == XF_BUF_SCORES, "classify: %d ops", r.n_ops);
    if (r.n_ops == base + 3) {
        const xf_op *pool = &r.ops[base + 1], *score = &r.ops[base + 2];
        XT_EXPECT(r.ops[base].kind == XF_OP_RMSNORM && pool->kind == XF_OP_POOL && pool->pooling == XF_POOL_LAST &&
                      !pool->normalize,
                  "classify: norm, then the last row of each sequence");
        XT_EXPECT(score->kind == XF_OP_LINEAR && score->weight == XF_WT_SCORE && score->rows == XF_ROWS_B &&
                      score->src == XF_BUF_POOLED && score->out == c.num_labels,
                  "classify: the score head on B rows");
    }
    xf_recipe_free(&r);

    /* stop_layer: the residual entering that layer, no head */
    for (int stop = 0; stop <= 3; stop++) {
        XT_EXPECT(build(&c, XF_OUT_CLASSIFY, NULL, 0, XF_POOL_LAST, 0, stop, &r) == XF_OK, "build: %s", xf_last_error());
        XT_EXPECT(r.n_ops == 1 + 9 * stop && r.result == XF_BUF_X, "stop_layer %d: %d ops, result %s", stop, r.n_ops,
                  xf_buf_name(r.result));
        xf_recipe_free(&r);
    }

    /* a pooling no forward computes (max, mean_sqrt_len are the host's) is refused */
    XT_EXPECT(build(&c, XF_OUT_EMBED, NULL, 0, XF_POOL_MAX, 0, -1, &r) == XF_ERR_INVALID_ARG && r.ops == NULL,
              "max pooling refused");
    XT_EXPECT(build(&c, XF_OUT_EMBED, NULL, 0, (xf_pooling)17, 0, -1, &r) == XF_ERR_INVALID_ARG, "pooling 17 refused");
    XT_EXPECT(build(&c, (xf_output)9, NULL, 0, XF_POOL_LAST, 0, -1, &r) != XF_OK, "output 9 refused");
}

static int count(const char *text, const char *what) {
    int n = 0;
    for (const char *p = strstr(text, what); p; p = strstr(p + 1, what)) n++;
    return n;
}

static char *describe(const xf_model *m, xf_backend be, const xf_adapter *ad) {
    xf_engine_options o;
    xf_engine_options_init(&o);
    o.backend = be;
    o.adapters = &ad;
    o.n_adapters = ad ? 1 : 0;
    xf_engine *e = NULL;
    char *text = NULL;
    if (xf_engine_create(m, &o, &e) != XF_OK || xf_engine_describe(e, &text) != XF_OK)
        printf("  describe: %s\n", xf_last_error());
    xf_engine_free(e);
    return text;
}

/* The engine's recipe and xf_engine_describe on the golden models (2 layers each). */
static void check_engines(const char *golden) {
    char dir[1024], adir[1024];
    xf_model *m = NULL;
    xf_adapter *ad = NULL;
    snprintf(dir, sizeof dir, "%s/qwen3-tiny-lora-qv", golden);
    snprintf(adir, sizeof adir, "%s/adapter", dir);
    if (xf_model_open(dir, &m) != XF_OK || xf_adapter_open(m, adir, &ad) != XF_OK) {
        XT_EXPECT(0, "open %s: %s", dir, xf_last_error());
        xf_model_free(m);
        return;
    }
    const xf_adapter *ads[2] = {ad, NULL};
    for (int l = 0; l < 2; l++) {
        XT_EXPECT(xf_recipe_lora_mods(ads, 1, l) == (BIT(XF_MOD_Q) | BIT(XF_MOD_V)), "layer %d: the adapter's q, v", l);
        XT_EXPECT(xf_recipe_lora_mods(ads + 1, 1, l) == 0 && xf_recipe_lora_mods(ads, 0, l) == 0, "no adapter: no bits");
    }
    const xf_backend bes[2] = {XF_BACKEND_CPU, XF_BACKEND_CPU_REF};
    for (int i = 0; i < 2; i++) {
        char *t = describe(m, bes[i], ad);
        XT_EXPECT(t != NULL, "describe on %s", xt_backend_name(bes[i]));
        if (!t) continue;
        XT_EXPECT(strstr(t, "x 2 (every layer alike)") && count(t, "L*   ") == 9, "alike layers once:\n%s", t);
        XT_EXPECT(count(t, "lora{q,v}") == 1 && count(t, "   attention QKV") == 1 && count(t, "head (") == 2,
                  "ops, LoRA, heads:\n%s", t);
        XT_EXPECT(!strstr(t, "kernel table not filled") && !strstr(t, "| ?") && !strstr(t, "not offered"),
                  "every op has a kernel:\n%s", t);
        /* (the fast path's matmul is named after the BLAS the build uses) */
        XT_EXPECT(strstr(t, i == 0 ? " x3 (q,k,v) + LoRA f32" : "ref loops (double acc.) x3 (q,k,v) + LoRA"),
                  "the CPU's kernels:\n%s", t);
        free(t);
    }
    /* layers that differ (here: their masks) are printed apart */
    xf_config *c = (xf_config *)&m->cfg;
    xf_attn_mask *own = c->masks, masks[2] = {{XF_MASK_CAUSAL, 0}, {XF_MASK_CAUSAL, 3}};
    c->masks = masks;
    char *t = describe(m, XF_BACKEND_CPU, NULL);
    c->masks = own;
    XT_EXPECT(t && strstr(t, "layer 0:\n") && strstr(t, "layer 1:\n") && !strstr(t, "every layer alike") &&
                  count(t, "window 3") == 1 && !strstr(t, "lora"),
              "differing layers apart:\n%s", t ? t : "(none)");
    free(t);
    xf_adapter_free(ad);
    xf_model_free(m);
}

/* The CPU op tables: the kernel matrix, select, and the gate|up + SwiGLU entry. */
static void check_op_tables(void) {
    const xf_op_table *ref = xf_backend_cpu_ref.ops, *cpu = xf_backend_cpu.ops;
    xf_kernel_choice k[4];
    XT_EXPECT(xf_backend_cpu_ref.kernel && xf_backend_cpu.kernel, "CPU kernel tables filled");
    XT_EXPECT(ref->variants && ref->select && cpu->variants && cpu->select && ref->linear_swiglu && cpu->linear_swiglu,
              "variants, select, linear_swiglu offered");
    if (!ref->variants || !cpu->variants || !ref->linear_swiglu || !cpu->linear_swiglu) return;
    for (int id = 0; id < XF_OPT_COUNT; id++) {
        const int offered = id != XF_OP_EMBED && id != XF_OP_POOL;
        XT_EXPECT(ref->variants(id, XF_DTYPE_F32, k, 4) == offered && (!offered || k[0].kernel[0]),
                  "cpu_ref op %d: one kernel in f32", id);
        XT_EXPECT(ref->variants(id, XF_DTYPE_BF16, k, 4) == 0, "cpu_ref op %d: none in bf16", id);
        XT_EXPECT(cpu->variants(id, XF_DTYPE_F32, k, 4) == offered, "cpu op %d: one kernel in f32", id);
        XT_EXPECT(cpu->variants(id, XF_DTYPE_F16, k, 4) == 0, "cpu op %d: none in f16", id);
    }
    const int n_bf16 = cpu->variants(XF_OP_LINEAR, XF_DTYPE_BF16, k, 4);
    XT_EXPECT(n_bf16 == 0 || (n_bf16 == 2 && strstr(k[0].kernel, "bf16") && strstr(k[1].kernel, "f32")),
              "cpu linear in bf16: the bf16 and f32 matmuls (%d)", n_bf16);
    XT_EXPECT(cpu->select(XF_OP_LINEAR, 2) != XF_OK && cpu->select(XF_OP_RMSNORM, 1) != XF_OK &&
                  ref->select(XF_OP_LINEAR, 1) != XF_OK && cpu->select(XF_OPT_COUNT, 0) != XF_OK,
              "select refuses a variant that is not there");
    xf_error_clear();

    /* linear_swiglu = silu(x·W_gateᵀ) ⊙ (x·W_upᵀ) on both tables, every variant */
    enum { T = 7, IN = 24, I = 10 };
    float x[T * IN], W[2 * I * IN], want[T * I], got[T * I];
    xt_fill_uniform(x, T * IN, 1, 1.0f);
    xt_fill_uniform(W, 2 * I * IN, 2, 0.3f);
    for (int t = 0; t < T; t++)
        for (int i = 0; i < I; i++) {
            double g = 0, u = 0;
            for (int j = 0; j < IN; j++) g += (double)x[t * IN + j] * W[i * IN + j], u += (double)x[t * IN + j] * W[(I + i) * IN + j];
            want[t * I + i] = (float)(g / (1 + exp(-g)) * u);
        }
    XT_EXPECT(ref->linear_swiglu(XF_DTYPE_F32, x, W, got, T, IN, I) == XF_OK &&
                  xt_rel_err(got, want, T * I) < 1e-6,
              "cpu_ref linear_swiglu: rel err %.3g", xt_rel_err(got, want, T * I));
    const xf_dtype modes[2] = {XF_DTYPE_F32, XF_DTYPE_BF16};
    for (int mi = 0; mi < 2; mi++) {
        const int n = cpu->variants(XF_OPT_LINEAR_SWIGLU, modes[mi], k, 4);
        for (int v = 0; v < n; v++) {
            XT_EXPECT(cpu->select(XF_OPT_LINEAR_SWIGLU, v) == XF_OK, "select %d", v);
            xf_status st = cpu->linear_swiglu(modes[mi], x, W, got, T, IN, I);
            const double err = xt_rel_err(got, want, T * I), tol = xt_tolerance(modes[mi]);
            XT_EXPECT(st == XF_OK && err < tol, "cpu linear_swiglu %s [%s]: %s, rel err %.3g (tol %.3g)",
                      xt_dtype_name(modes[mi]), k[v].kernel, xf_status_name(st), err, tol);
        }
        cpu->select(XF_OPT_LINEAR_SWIGLU, -1);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_recipe GOLDEN_DIR\n");
        return 2;
    }
    check_plain();
    check_bias_norm_masks();
    check_lora();
    check_heads();
    check_engines(argv[1]);
    check_op_tables();
    printf("test_recipe: %d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
