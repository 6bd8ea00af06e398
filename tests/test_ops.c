/* test_ops.c — op by op: a backend's op table against the CPU reference on
 * random inputs of many shapes, odd sizes included, for every op of the recipe
 * (and the fused gate|up + SwiGLU) × every kernel variant the backend's table can
 * choose (its `variants`; the default alone when it has none) × the dtype asked for.
 * The backend checks guard regions in device memory around each output (an error
 * naming "guard"); here guard words after each host output catch the copy back.
 *   test_ops [--backend cpu|cuda|vulkan] [--dtype D] [--op NAME]...   (--op: only those ops)
 * An op or variant the backend or device does not offer is reported skipped, never
 * passed; a backend without a device makes the whole test skipped (exit 77). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cpu/ref_ops.h"
#include "testutil.h"

#define GUARD 16
static const float guard_value = 1234567.0f;

typedef struct run {
    const xf_op_table *ops;
    xf_dtype mode;
    int failures, checks, skipped, no_device;
    char variant[112];  /* " [kernel, layout]" of the variant running, or "" */
    char last_skip[256]; /* the last skip reason printed (repeats are counted, not printed) */
} run;

/* In 16-bit modes the backend rounds matrix inputs to bf16/f16; the reference is
 * computed from the same rounded inputs, so the comparison measures the backend's
 * arithmetic, not the rounding of its inputs (which a cancelling dot product can
 * amplify without bound). */
static void round_inputs(xf_dtype mode, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (mode == XF_DTYPE_BF16) x[i] = xf_bf16_to_f32(xf_f32_to_bf16(x[i]));
        else if (mode == XF_DTYPE_F16) x[i] = xf_f16_to_f32(xf_f32_to_f16(x[i]));
    }
}

static float *alloc_out(int64_t n) {
    float *p = malloc(sizeof(float) * (size_t)(n + GUARD));
    for (int64_t i = 0; i < n + GUARD; i++) p[i] = i < n ? NAN : guard_value;
    return p;
}

static int guards_ok(const float *p, int64_t n) {
    for (int i = 0; i < GUARD; i++)
        if (p[n + i] != guard_value) return 0;
    return 1;
}

/* Records the outcome of one call: skip on no device, fail on error. */
static int outcome(run *r, xf_status st, const char *what) {
    if (st == XF_OK) return 1;
    if (st == XF_ERR_NO_DEVICE) {
        r->no_device = 1;
        return 0;
    }
    if (st == XF_ERR_UNSUPPORTED) { /* this variant on this device or shape: skipped, never passed */
        r->skipped++;
        if (strcmp(r->last_skip, xf_last_error()) != 0) {
            snprintf(r->last_skip, sizeof r->last_skip, "%s", xf_last_error());
            printf("  %-44s%s skipped: %s\n", what, r->variant, r->last_skip);
        }
        return 0;
    }
    printf("  %-44s%s error: %s\n", what, r->variant, xf_last_error());
    r->failures++;
    return 0;
}

static void compare(run *r, const char *what, const float *out, const float *ref, int64_t n) {
    char name[256];
    snprintf(name, sizeof name, "%s%s", what, r->variant);
    if (!guards_ok(out, n)) {
        printf("  %-44s FAIL: wrote past the end of its output\n", name);
        r->failures++;
        return;
    }
    r->failures += xt_report(name, xt_rel_err(out, ref, n), xt_tolerance(r->mode));
    r->checks++;
}

static void test_rmsnorm(run *r) {
    const int rows[] = {1, 3, 17}, ns[] = {1, 7, 64, 333};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 4; b++) {
            int R = rows[a], n = ns[b];
            float *x = malloc(sizeof(float) * (size_t)(R * n)), *w = malloc(sizeof(float) * (size_t)n);
            float *ref = malloc(sizeof(float) * (size_t)(R * n)), *out = alloc_out(R * n);
            xt_fill_uniform(x, R * n, 11 + a * 7 + b, 2.0f);
            xt_fill_uniform(w, n, 5 + b, 1.0f);
            xf_ref_rmsnorm(x, w, ref, R, n, 1e-6f);
            char what[96];
            snprintf(what, sizeof what, "rmsnorm rows=%d n=%d", R, n);
            if (outcome(r, r->ops->rmsnorm(r->mode, x, w, out, R, n, 1e-6f), what)) compare(r, what, out, ref, R * n);
            free(x), free(w), free(ref), free(out);
            if (r->no_device) return;
        }
}

static void test_linear(run *r) {
    const int Ts[] = {1, 5, 33}, ins[] = {1, 7, 64, 130}, outs[] = {1, 3, 96, 257};
    /* then the tiny golden models' projections (T, in, out, bias, acc): inner sizes that
     * are multiples of 8 but not of the K slice, outputs narrower than a tile, and row
     * counts that end a tile part-way in its second half (whole and partial fragments
     * of one workgroup: the case a driver got wrong); and whole 128×128 tiles beside
     * partial ones (the matrix-unit kernels store whole tiles' fragments directly) */
    static const int extra[][5] = {{9, 136, 64, 0, 1}, {9, 128, 64, 0, 1}, {9, 64, 256, 1, 0},
                                   {9, 64, 272, 0, 0}, {87, 136, 64, 0, 1}, {200, 72, 40, 1, 1},
                                   {65, 64, 64, 0, 0}, {87, 64, 128, 0, 0}, {260, 64, 256, 0, 0}};
    const int n_grid = 3 * 4 * 4, n_extra = (int)(sizeof(extra) / sizeof(extra[0]));
    for (int k = 0; k < n_grid + n_extra; k++) {
        int T, in, O, with_bias, acc;
        if (k < n_grid) {
            T = Ts[k / 16], in = ins[(k / 4) % 4], O = outs[k % 4], with_bias = k % 2, acc = (k / 2) % 2;
        } else {
            const int *e = extra[k - n_grid];
            T = e[0], in = e[1], O = e[2], with_bias = e[3], acc = e[4];
        }
        float *x = malloc(sizeof(float) * (size_t)(T * in)), *W = malloc(sizeof(float) * (size_t)(O * in));
        float *bias = malloc(sizeof(float) * (size_t)O);
        float *ref = malloc(sizeof(float) * (size_t)(T * O)), *out = alloc_out(T * O);
        xt_fill_uniform(x, T * in, 100 + k, 1.0f);
        xt_fill_uniform(W, O * in, 200 + k, 1.0f / sqrtf((float)in));
        xt_fill_uniform(bias, O, 300 + k, 0.5f);
        round_inputs(r->mode, x, T * in);
        round_inputs(r->mode, W, O * in);
        xt_fill_uniform(ref, T * O, 400 + k, 1.0f);
        memcpy(out, ref, sizeof(float) * (size_t)(T * O));
        xf_tensor Wt = {.data = W, .type = XF_W_F32, .ndim = 2, .shape = {O, in}};
        xf_tensor bt = {.data = bias, .type = XF_W_F32, .ndim = 1, .shape = {O, 1}};
        xf_ref_linear(x, &Wt, with_bias ? &bt : NULL, ref, T, in, O, acc);
        char what[96];
        snprintf(what, sizeof what, "linear T=%d in=%d out=%d%s%s", T, in, O, with_bias ? " +bias" : "",
                 acc ? " +acc" : "");
        if (outcome(r, r->ops->linear(r->mode, x, W, with_bias ? bias : NULL, out, T, in, O, acc), what))
            compare(r, what, out, ref, T * O);
        free(x), free(W), free(bias), free(ref), free(out);
        if (r->no_device) return;
    }
}

static void test_qknorm_rope(run *r) {
    const int Ts[] = {1, 9, 40}, nhs[] = {1, 3}, Ds[] = {2, 32, 66, 64, 128};
    const int P = 64;
    int k = 0;
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 5; c++, k++) {
                int T = Ts[a], nh = nhs[b], D = Ds[c], with_norm = k % 2;
                int64_t n = (int64_t)T * nh * D;
                float *x = malloc(sizeof(float) * (size_t)n), *ref = malloc(sizeof(float) * (size_t)n);
                float *out = alloc_out(n), *w = malloc(sizeof(float) * (size_t)D);
                float *cs = malloc(sizeof(float) * (size_t)(P * D / 2)), *sn = malloc(sizeof(float) * (size_t)(P * D / 2));
                int32_t *pos = malloc(sizeof(int32_t) * (size_t)T);
                for (int p = 0; p < P; p++)
                    for (int j = 0; j < D / 2; j++) {
                        double ang = p * pow(10000.0, -2.0 * j / D);
                        cs[p * D / 2 + j] = (float)cos(ang), sn[p * D / 2 + j] = (float)sin(ang);
                    }
                for (int t = 0; t < T; t++) pos[t] = (t * 7 + k) % P;
                xt_fill_uniform(x, n, 500 + k, 2.0f);
                xt_fill_uniform(w, D, 600 + k, 1.0f);
                memcpy(ref, x, sizeof(float) * (size_t)n);
                memcpy(out, x, sizeof(float) * (size_t)n);
                xf_ref_qknorm_rope(ref, with_norm ? w : NULL, 1e-6f, pos, T, nh, D, cs, sn);
                char what[96];
                snprintf(what, sizeof what, "qknorm_rope T=%d nh=%d D=%d%s", T, nh, D, with_norm ? " +norm" : "");
                if (outcome(r, r->ops->qknorm_rope(r->mode, out, with_norm ? w : NULL, 1e-6f, pos, T, nh, D, cs, sn),
                            what))
                    compare(r, what, out, ref, n);
                free(x), free(ref), free(out), free(w), free(cs), free(sn), free(pos);
                if (r->no_device) return;
            }
}

/* One attention case against the reference: random q/k/v for sequences lens[0..B). */
static void attention_case(run *r, int seed, const int *lens, int B, int nh, int nkv, int D, xf_attn_mask mask) {
    int32_t ss[9] = {0};
    for (int b = 0; b < B; b++) ss[b + 1] = ss[b] + lens[b];
    int T = ss[B];
    int64_t nq = (int64_t)T * nh * D, nk = (int64_t)T * nkv * D;
    float *q = malloc(sizeof(float) * (size_t)nq), *k = malloc(sizeof(float) * (size_t)nk);
    float *v = malloc(sizeof(float) * (size_t)nk), *ref = malloc(sizeof(float) * (size_t)nq);
    float *out = alloc_out(nq);
    xt_fill_uniform(q, nq, 700 + seed, 2.0f);
    xt_fill_uniform(k, nk, 800 + seed, 2.0f);
    xt_fill_uniform(v, nk, 900 + seed, 1.0f);
    round_inputs(r->mode, q, nq);
    round_inputs(r->mode, k, nk);
    round_inputs(r->mode, v, nk);
    xf_ref_attention(q, (int64_t)nh * D, k, (int64_t)nkv * D, v, (int64_t)nkv * D, ref, ss, B, nh, nkv, D, mask);
    char what[128], lens_s[64] = "";
    for (int b = 0; b < B && strlen(lens_s) < 48; b++)
        snprintf(lens_s + strlen(lens_s), sizeof lens_s - strlen(lens_s), "%s%d", b ? "," : "", lens[b]);
    char mask_s[24] = "";
    if (mask.kind == XF_MASK_FULL) snprintf(mask_s, sizeof mask_s, " full");
    else if (mask.window > 0) snprintf(mask_s, sizeof mask_s, " window=%d", mask.window);
    snprintf(what, sizeof what, "attention lens=%s nh=%d nkv=%d D=%d%s", lens_s, nh, nkv, D, mask_s);
    if (outcome(r, r->ops->attention(r->mode, q, k, v, out, ss, B, nh, nkv, D, mask), what))
        compare(r, what, out, ref, nq);
    free(q), free(k), free(v), free(ref), free(out);
}

static void test_attention(run *r) {
    static const int lens[][5] = {{1}, {5, 17}, {1, 33, 64, 2}, {130}, {7, 1, 200}};
    static const int n_lens[] = {1, 2, 4, 1, 3};
    static const int heads[][2] = {{1, 1}, {4, 2}, {6, 2}, {3, 1}, {8, 8}};
    static const int Ds[] = {32, 64, 128, 80, 16};
    const xf_attn_mask causal = {XF_MASK_CAUSAL, 0};
    for (int a = 0; a < 5; a++)
        for (int h = 0; h < 5; h++) {
            attention_case(r, a * 5 + h, lens[a], n_lens[a], heads[h][0], heads[h][1], Ds[(a + h) % 5], causal);
            if (r->no_device) return;
        }
    /* The other masks: full attention within each sequence, and sliding windows smaller
     * than, equal to and larger than the sequences and the kernels' tiles (64 queries or
     * keys on the GPUs), on one-token, odd and multi-tile sequences packed together, with
     * GQA ratios 1, 2, 3 and 4 and head_dims of every kernel (64/128: tensor cores). */
    static const struct {
        int kind, window, B, lens[8], nh, nkv, D;
    } masked[] = {
        {XF_MASK_FULL, 0, 1, {1}, 2, 1, 64},
        {XF_MASK_FULL, 0, 4, {1, 33, 64, 2}, 4, 2, 64},
        {XF_MASK_FULL, 0, 3, {7, 1, 200}, 8, 2, 128},
        {XF_MASK_FULL, 0, 2, {130, 65}, 4, 4, 128},
        {XF_MASK_FULL, 0, 2, {5, 17}, 6, 2, 80},
        {XF_MASK_FULL, 0, 3, {9, 40, 3}, 3, 3, 32},
        {XF_MASK_FULL, 0, 4, {1, 9, 40, 130}, 4, 2, 16},
        {XF_MASK_CAUSAL, 1, 3, {1, 5, 17}, 2, 1, 64},
        {XF_MASK_CAUSAL, 16, 4, {5, 16, 17, 90}, 4, 1, 64},
        {XF_MASK_CAUSAL, 16, 4, {5, 16, 17, 90}, 8, 2, 128},
        {XF_MASK_CAUSAL, 64, 4, {63, 64, 65, 200}, 4, 2, 128},
        {XF_MASK_CAUSAL, 70, 3, {130, 1, 9}, 8, 2, 128},
        {XF_MASK_CAUSAL, 100, 2, {7, 33}, 4, 4, 32},
        {XF_MASK_CAUSAL, 130, 2, {130, 260}, 8, 2, 64},
        {XF_MASK_CAUSAL, 3, 1, {200}, 8, 8, 16},
        {XF_MASK_CAUSAL, 40, 2, {300, 7}, 6, 2, 80},
        {XF_MASK_CAUSAL, 16, 1, {260}, 8, 4, 128},
        /* GQA ratio 8: one-token sequences beside ones longer than a tile, every mask */
        {XF_MASK_CAUSAL, 0, 2, {1, 70}, 8, 1, 64},
        {XF_MASK_FULL, 0, 3, {33, 1, 130}, 16, 2, 128},
        {XF_MASK_CAUSAL, 8, 2, {90, 1}, 8, 1, 32},
        /* head_dim 128 over many key tiles (more than a ring of 4 stages of 64 keys holds: the
         * buffers wrap), GQA ratios 2, 4 and 8 */
        {XF_MASK_CAUSAL, 0, 1, {600}, 4, 2, 128},
        {XF_MASK_CAUSAL, 0, 3, {1, 129, 300}, 8, 2, 128},
        {XF_MASK_CAUSAL, 0, 2, {257, 64}, 16, 2, 128},
        {XF_MASK_FULL, 0, 2, {330, 3}, 4, 2, 128},
    };
    for (size_t i = 0; i < sizeof masked / sizeof masked[0]; i++) {
        xf_attn_mask m = {(xf_mask_kind)masked[i].kind, masked[i].window};
        attention_case(r, 100 + (int)i, masked[i].lens, masked[i].B, masked[i].nh, masked[i].nkv, masked[i].D, m);
        if (r->no_device) return;
    }
}

static void test_swiglu(run *r) {
    const int64_t ns[] = {1, 1000, 4097};
    for (int a = 0; a < 3; a++) {
        int64_t n = ns[a];
        float *g = malloc(sizeof(float) * (size_t)n), *u = malloc(sizeof(float) * (size_t)n);
        float *ref = malloc(sizeof(float) * (size_t)n), *out = alloc_out(n);
        xt_fill_uniform(g, n, 1000 + a, 6.0f);
        xt_fill_uniform(u, n, 1100 + a, 2.0f);
        xf_ref_swiglu(g, u, ref, n);
        char what[96];
        snprintf(what, sizeof what, "swiglu n=%lld", (long long)n);
        if (outcome(r, r->ops->swiglu(r->mode, g, u, out, n), what)) compare(r, what, out, ref, n);
        free(g), free(u), free(ref), free(out);
        if (r->no_device) return;
    }
}

/* gate|up then SwiGLU (fused where the backend has the kernel): W [2I, in] = gate rows, up rows. */
static void test_linear_swiglu(run *r) {
    static const int shapes[][3] = {{1, 64, 64}, {5, 136, 32}, {33, 64, 96}, {130, 128, 64}, {9, 72, 40}, {200, 64, 128}};
    for (int k = 0; k < (int)(sizeof shapes / sizeof shapes[0]); k++) {
        int T = shapes[k][0], in = shapes[k][1], I = shapes[k][2];
        float *x = malloc(sizeof(float) * (size_t)(T * in)), *W = malloc(sizeof(float) * (size_t)(2 * I * in));
        float *gu = malloc(sizeof(float) * (size_t)(T * 2 * I)), *ref = malloc(sizeof(float) * (size_t)(T * I));
        float *out = alloc_out((int64_t)T * I);
        xt_fill_uniform(x, T * in, 1200 + k, 1.0f);
        xt_fill_uniform(W, 2 * I * in, 1300 + k, 2.0f / sqrtf((float)in));
        round_inputs(r->mode, x, T * in);
        round_inputs(r->mode, W, 2 * I * in);
        xf_tensor Wt = {.data = W, .type = XF_W_F32, .ndim = 2, .shape = {2 * I, in}};
        xf_ref_linear(x, &Wt, NULL, gu, T, in, 2 * I, 0);
        for (int t = 0; t < T; t++) xf_ref_swiglu(gu + (size_t)t * 2 * I, gu + (size_t)t * 2 * I + I, ref + (size_t)t * I, I);
        char what[96];
        snprintf(what, sizeof what, "linear_swiglu T=%d in=%d I=%d", T, in, I);
        if (outcome(r, r->ops->linear_swiglu(r->mode, x, W, out, T, in, I), what)) compare(r, what, out, ref, (int64_t)T * I);
        free(x), free(W), free(gu), free(ref), free(out);
        if (r->no_device) return;
    }
}

/* One op's cases on each kernel variant the backend lists (the default alone without a list). */
static void test_op(run *r, int id, void (*test)(run *)) {
    xf_kernel_choice v[32];
    int n = r->ops->variants ? r->ops->variants(id, r->mode, v, 32) : 0;
    if (n > 32) n = 32;
    if (n <= 0 || !r->ops->select) {
        r->variant[0] = '\0';
        test(r);
        return;
    }
    for (int i = 0; i < n && !r->no_device; i++) {
        if (r->ops->select(id, i) != XF_OK) {
            printf("  variant %d of op %d: select failed: %s\n", i, id, xf_last_error());
            r->failures++;
            continue;
        }
        snprintf(r->variant, sizeof r->variant, " [%s%s%s%s%s]", v[i].kernel, v[i].tile[0] ? " " : "", v[i].tile,
                 v[i].layout[0] ? ", " : "", v[i].layout);
        r->last_skip[0] = '\0';
        test(r);
    }
    r->ops->select(id, -1);
    r->variant[0] = '\0';
}

int main(int argc, char **argv) {
    xf_backend backend = XF_BACKEND_CPU;
    xf_dtype mode = XF_DTYPE_F32;
    const char *only[XF_OPT_COUNT];
    int n_only = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--backend") && i + 1 < argc && !xt_parse_backend(argv[i + 1], &backend)) i++;
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc && !xt_parse_dtype(argv[i + 1], &mode)) i++;
        else if (!strcmp(argv[i], "--op") && i + 1 < argc && n_only < XF_OPT_COUNT) only[n_only++] = argv[++i];
        else return fprintf(stderr, "usage: test_ops [--backend B] [--dtype D] [--op NAME]...\n"), 2;
    }
    const xf_backend_ops *be = xf_backend_lookup(backend);
    printf("op tests: backend %s, dtype %s, against the CPU reference\n", xt_backend_name(backend), xt_dtype_name(mode));
    if (!be || !be->ops) {
        printf("skipped: the %s backend is not built in\n", xt_backend_name(backend));
        return XT_SKIP;
    }
    run r = {.ops = be->ops, .mode = mode};
    /* every op id: the recipe's op kinds, then the fused gate|up + SwiGLU */
    struct {
        const char *name;
        const void *fn;
        void (*test)(run *);
    } ops[XF_OPT_COUNT] = {
        [XF_OP_EMBED] = {"embed", NULL, NULL},
        [XF_OP_RMSNORM] = {"rmsnorm", (const void *)be->ops->rmsnorm, test_rmsnorm},
        [XF_OP_LINEAR] = {"linear", (const void *)be->ops->linear, test_linear},
        [XF_OP_QK_ROPE] = {"qknorm_rope", (const void *)be->ops->qknorm_rope, test_qknorm_rope},
        [XF_OP_ATTENTION] = {"attention", (const void *)be->ops->attention, test_attention},
        [XF_OP_SWIGLU] = {"swiglu", (const void *)be->ops->swiglu, test_swiglu},
        [XF_OP_POOL] = {"pool", NULL, NULL},
        [XF_OPT_LINEAR_SWIGLU] = {"linear_swiglu", (const void *)be->ops->linear_swiglu, test_linear_swiglu},
    };
    for (int id = 0; id < XF_OPT_COUNT; id++) {
        int wanted = n_only == 0;
        for (int i = 0; i < n_only; i++) wanted |= !strcmp(only[i], ops[id].name);
        if (!wanted) continue;
        if (!ops[id].fn) { /* embed and pool: covered end to end (golden cases), no op entry */
            printf("  %-44s skipped (no op entry in this backend)\n", ops[id].name);
            r.skipped++;
            continue;
        }
        test_op(&r, id, ops[id].test);
        if (r.no_device) {
            printf("skipped: no %s device: %s\n", xt_backend_name(backend), xf_last_error());
            return XT_SKIP;
        }
    }
    printf("%d passed, %d failed, %d skipped\n", r.checks - r.failures, r.failures, r.skipped);
    if (r.checks == 0 && r.failures == 0) return XT_SKIP; /* errors are failures, never a skip */
    return r.failures ? 1 : 0;
}
