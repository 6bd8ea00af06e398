/* cuda_bench.c — benchmark of the CUDA backend on a random-weight Qwen3 shape,
 * final hidden states, timed after a warm-up. The workload is B sequences of S
 * random tokens (one forward), or real-traffic shapes: --mixed N (the built-in
 * log-normal mix of bench_util.h, 8–2048 tokens, mean ~300) or --lengths FILE
 * (one length per line), packed in input order into forwards of at most
 * --max-batch-tokens tokens (default 16384; a longer sequence runs alone) with no
 * padding. A pass is every forward of the workload once.
 * Reports, per pass, the median device time of the graph replays (CUDA events,
 * summed over the pass's forwards) and of the forward calls as the caller sees
 * them (host clock: metadata upload, replay, copy of the [T, H] fp32 result into
 * ordinary host memory), tokens/s of real tokens, TFLOP/s, % of the measured
 * 798 TFLOP/s bf16 ceiling, peak device memory against the weights; then
 * (--profile) a per-op-family breakdown from eager runs timed with events
 * between the families.
 *   xfwd_cuda_bench --shape qwen3-4b --dtype bf16 --batch 16 --seq 512 [--iters 20] [--warmup 3] [--profile]
 *   xfwd_cuda_bench --shape qwen3-4b --dtype bf16 --mixed 2000 [--max-batch-tokens 16384] [--iters 3 --warmup 1]
 *   xfwd_cuda_bench --shape qwen3-4b --dtype bf16 --lengths FILE
 * FLOPs (bench_util.h, xb_forward_flops): 2 × linear parameters (embedding and
 * lm_head excluded) per real token, plus causal attention 4 · S(S+1)/2 ·
 * n_heads · head_dim per sequence of S tokens and layer, summed over sequences. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "bench_util.h"
#include "cuda/cuda_backend.h"

/* The padded token count a forward of T tokens runs at (its CUDA graph's bucket;
 * cuda_forward.c): only reported, as the rows xfwd computes beyond the real ones. */
int xfc_t_bucket(int T);
int xfc_b_bucket(int B);

static int usage(void) {
    fprintf(stderr, "usage: xfwd_cuda_bench [--shape S] [--dtype f32|tf32|bf16|f16] [--batch B] [--seq S] "
                    "[--mixed N | --lengths FILE] [--max-batch-tokens N] [--iters N] [--warmup N] [--profile]\n");
    return 2;
}

int main(int argc, char **argv) {
    const char *shape = "qwen3-4b", *dtype_name = "bf16", *lengths_path = NULL;
    xf_dtype dtype = XF_DTYPE_BF16;
    int batch = 16, seq = 512, iters = 20, warmup = 3, profile = 0, mixed = 0, budget = 0, sized = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--shape") && i + 1 < argc) shape = argv[++i];
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc && !xb_parse_dtype(argv[i + 1], &dtype)) dtype_name = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]), sized = 1;
        else if (!strcmp(argv[i], "--seq") && i + 1 < argc) seq = atoi(argv[++i]), sized = 1;
        else if (!strcmp(argv[i], "--mixed") && i + 1 < argc) mixed = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--lengths") && i + 1 < argc) lengths_path = argv[++i];
        else if (!strcmp(argv[i], "--max-batch-tokens") && i + 1 < argc) budget = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--profile")) profile = 1;
        else return usage();
    }
    if (batch < 1 || seq < 1 || iters < 1 || warmup < 0 || mixed < 0 || budget < 0)
        return fprintf(stderr, "xfwd_cuda_bench: bad sizes\n"), 2;
    if ((mixed > 0) + (lengths_path != NULL) + sized > 1)
        return fprintf(stderr, "xfwd_cuda_bench: give one of --batch/--seq, --mixed N, --lengths FILE\n"), 2;
    xf_model *m = NULL;
    void *state = NULL;
    int rc = 1;
    xb_workload w = {0};
    int32_t *tokens = NULL, *positions = NULL, *seq_start = NULL, *rebased = NULL, *ids = NULL, *chunk = NULL;
    xf_plan *plans = NULL;
    xf_recipe recipe = {0};
    double *replay = malloc(sizeof(double) * (size_t)iters), *total = malloc(sizeof(double) * (size_t)iters);
    float *out = NULL;
    char err[512], desc[256];
    const xf_dtype storage = dtype == XF_DTYPE_BF16 || dtype == XF_DTYPE_F16 ? dtype : XF_DTYPE_F32;
    double t0 = xb_now_s();
    if (xf_model_random(shape, storage, 1, &m) != XF_OK) {
        fprintf(stderr, "xfwd_cuda_bench: %s\n", xf_last_error());
        goto done;
    }
    const double t_model = xb_now_s() - t0;
    const xf_config *c = &m->cfg;
    if (xb_workload_make(&w, batch, seq, mixed, lengths_path, c->max_pos, err, sizeof err)) {
        fprintf(stderr, "xfwd_cuda_bench: %s\n", err);
        rc = 2;
        goto done;
    }
    const int T = (int)w.tokens, B = w.n;
    /* the recipe the engine would run for final hidden states (no adapters) */
    const xf_recipe_args ra = {.cfg = c, .qkv_bias = m->layers[0].bq.data != NULL, .output = XF_OUT_HIDDEN,
                               .pooling = XF_POOL_LAST, .stop_layer = -1};
    if (xf_recipe_build(&ra, &recipe) != XF_OK) {
        fprintf(stderr, "xfwd_cuda_bench: %s\n", xf_last_error());
        goto done;
    }
    if (!budget) budget = w.traffic ? XB_TRAFFIC_BUDGET : T;  /* B × S: one forward, as always */
    /* forwards: runs of whole sequences in input order, at most `budget` tokens each */
    chunk = malloc(sizeof(int32_t) * (size_t)(B + 1));
    tokens = malloc(sizeof(int32_t) * (size_t)T), positions = malloc(sizeof(int32_t) * (size_t)T);
    seq_start = malloc(sizeof(int32_t) * (size_t)(B + 1)), ids = malloc(sizeof(int32_t) * (size_t)B);
    if (!chunk || !tokens || !positions || !seq_start || !ids || !replay || !total) {
        fprintf(stderr, "xfwd_cuda_bench: out of host memory\n");
        goto done;
    }
    const int n_fwd = xb_pack(w.lens, B, budget, chunk);
    rebased = malloc(sizeof(int32_t) * (size_t)(B + n_fwd));  /* each forward's seq_start [n + 1], from 0 */
    plans = calloc((size_t)n_fwd, sizeof *plans);
    if (!rebased || !plans) {
        fprintf(stderr, "xfwd_cuda_bench: out of host memory\n");
        goto done;
    }
    seq_start[0] = 0;
    for (int b = 0; b < B; b++) {
        seq_start[b + 1] = seq_start[b] + w.lens[b];
        for (int p = 0; p < w.lens[b]; p++) positions[seq_start[b] + p] = p;
        ids[b] = -1;
    }
    xb_random_tokens(tokens, T, c->vocab);
    int max_fwd = 0, n_buckets = 0;
    int64_t bucket_rows = 0;
    int keys[2 * 64];  /* distinct (T bucket, B bucket) pairs: one CUDA graph each */
    for (int f = 0, *rs = rebased; f < n_fwd; f++) {
        const int s0 = chunk[f], s1 = chunk[f + 1], base = seq_start[s0], Tf = seq_start[s1] - base;
        int longest = 0;
        for (int b = s0; b <= s1; b++) rs[b - s0] = seq_start[b] - base;
        for (int b = s0; b < s1; b++) longest = w.lens[b] > longest ? w.lens[b] : longest;
        plans[f] = (xf_plan){.recipe = &recipe, .n_tokens = Tf, .n_seqs = s1 - s0, .tokens = tokens + base, .seq_start = rs,
                             .positions = positions + base, .adapter_ids = ids + s0, .max_seq_len = longest,
                             .output = XF_OUT_HIDDEN, .stop_layer = -1};
        rs += s1 - s0 + 1;
        max_fwd = Tf > max_fwd ? Tf : max_fwd;
        const int tb = xfc_t_bucket(Tf), bb = xfc_b_bucket(s1 - s0);
        bucket_rows += tb;
        int seen = 0;
        for (int k = 0; k < n_buckets; k++) seen |= keys[2 * k] == tb && keys[2 * k + 1] == bb;
        if (!seen && n_buckets < 64) keys[2 * n_buckets] = tb, keys[2 * n_buckets + 1] = bb, n_buckets++;
    }
    out = malloc(sizeof(float) * (size_t)max_fwd * (size_t)c->hidden);
    if (!out) {
        fprintf(stderr, "xfwd_cuda_bench: out of host memory for a [%d, %d] result\n", max_fwd, c->hidden);
        goto done;
    }
    for (int f = 0; f < n_fwd; f++) plans[f].out = out;
    /* scratch sized once for the largest forward (a long single sequence included) */
    xf_backend_config cfg = {.model = m, .dtype = dtype, .max_tokens = max_fwd};
    t0 = xb_now_s();
    if (xf_backend_cuda.create(&cfg, &state) != XF_OK) {
        fprintf(stderr, "xfwd_cuda_bench: %s\n", xf_last_error());
        rc = 77;  /* no GPU: skipped */
        goto done;
    }
    const double t_create = xb_now_s() - t0;
    t0 = xb_now_s();
    for (int i = 0; i < warmup; i++)  /* the first pass also captures each bucket's graph */
        for (int f = 0; f < n_fwd; f++)
            if (xf_backend_cuda.forward(state, &plans[f]) != XF_OK) goto fail;
    const double t_warm = xb_now_s() - t0;
    int64_t bad = 0;
    for (int i = 0; i < iters; i++) {
        double rep_sum = 0, tot_sum = 0;
        for (int f = 0; f < n_fwd; f++) {
            float rep, tot;
            if (xf_backend_cuda.forward(state, &plans[f]) != XF_OK) goto fail;
            xf_cuda_last_times(state, &rep, &tot);
            rep_sum += rep * 1e-3, tot_sum += tot * 1e-3;
            if (i == iters - 1)  /* every output of the last pass, outside the timed calls */
                for (int64_t k = 0; k < (int64_t)plans[f].n_tokens * c->hidden; k++)
                    if (!(out[k] == out[k]) || out[k] > 1e30f || out[k] < -1e30f) bad++;
        }
        replay[i] = rep_sum, total[i] = tot_sum;
    }
    const double flops = xb_forward_flops(c->n_layers, c->hidden, c->intermediate, c->n_heads, c->n_kv_heads,
                                          c->head_dim, w.lens, B, 1, 0);
    const double t_rep = xb_median(replay, iters), t_tot = xb_median(total, iters);
    const double peak = xf_backend_cuda.peak_memory(state) / 1048576.0, wts = xf_cuda_weight_bytes(state) / 1048576.0;
    xb_workload_describe(&w, desc, sizeof desc);
    printf("shape %s, dtype %s, workload %s: %s\n", shape, dtype_name, w.name, desc);
    printf("forwards        %d of <= %d tokens (input order, no padding; largest %d; graph buckets %d, %lld rows "
           "= +%.2f %% over the real tokens)\n",
           n_fwd, budget, max_fwd, n_buckets, (long long)bucket_rows, 100.0 * ((double)bucket_rows / T - 1));
    printf("startup         model %.1f s, create %.1f s, warm-up (%d pass%s) %.2f s\n", t_model, t_create, warmup,
           warmup == 1 ? "" : "es", t_warm);
    printf("device replay   median %8.3f ms  %9.0f tok/s  %6.1f TFLOP/s  %5.1f %% of %.0f  (per pass, %d passes)\n",
           t_rep * 1e3, T / t_rep, flops / t_rep / 1e12, 100 * flops / t_rep / 1e12 / XB_CEILING_TFLOPS,
           XB_CEILING_TFLOPS, iters);
    printf("forward call    median %8.3f ms  %9.0f tok/s  %6.1f TFLOP/s\n", t_tot * 1e3, T / t_tot, flops / t_tot / 1e12);
    printf("memory          peak %.0f MiB = weights %.0f MiB + %.0f MiB; non-finite outputs %lld\n", peak, wts,
           peak - wts, (long long)bad);
    if (n_buckets > 32)  /* XFC_MAX_GRAPHS: more buckets than cached graphs re-capture inside the timed passes */
        printf("warning         %d graph buckets exceed the 32 cached graphs: timed passes include captures\n",
               n_buckets);
    if (w.traffic)
        printf("RESULT traffic=%s shape=%s dtype=%s seqs=%d tokens=%d padded_tokens=%lld max_batch_tokens=%d "
               "forwards=%d tok_s=%.0f tflops=%.1f pct=%.1f e2e_tok_s=%.0f peak_mib=%.0f weights_mib=%.0f "
               "extra_mib=%.0f\n",
               w.name, shape, dtype_name, B, T, (long long)bucket_rows, budget, n_fwd, T / t_rep, flops / t_rep / 1e12,
               100 * flops / t_rep / 1e12 / XB_CEILING_TFLOPS, T / t_tot, peak, wts, peak - wts);
    else
        printf("RESULT traffic=%s shape=%s dtype=%s batch=%d seq=%d seqs=%d tokens=%d padded_tokens=%lld "
               "max_batch_tokens=%d forwards=%d tok_s=%.0f tflops=%.1f pct=%.1f e2e_tok_s=%.0f peak_mib=%.0f "
               "weights_mib=%.0f extra_mib=%.0f\n",
               w.name, shape, dtype_name, batch, seq, B, T, (long long)bucket_rows, budget, n_fwd, T / t_rep,
               flops / t_rep / 1e12, 100 * flops / t_rep / 1e12 / XB_CEILING_TFLOPS, T / t_tot, peak, wts, peak - wts);
    if (profile) {
        const char *const *names;
        const double *ms;
        int runs = 0, n;
        const int passes = n_fwd > 1 ? 1 : 5;
        if (xf_cuda_set_profile(state, 1) != XF_OK) goto fail;
        for (int i = 0; i < passes; i++)
            for (int f = 0; f < n_fwd; f++)
                if (xf_backend_cuda.forward(state, &plans[f]) != XF_OK) goto fail;
        n = xf_cuda_profile(state, &names, &ms, &runs);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += ms[i];
        printf("profile (eager, events between op families, mean of %d pass%s of %d forward%s; sum %.3f ms vs replay "
               "%.3f ms)\n",
               passes, passes == 1 ? "" : "es", n_fwd, n_fwd == 1 ? "" : "s", sum / passes, t_rep * 1e3);
        for (int i = 0; i < n; i++)
            if (ms[i] > 0)
                printf("  %-24s %9.3f ms  %5.1f %%\n", names[i], ms[i] / passes, 100 * ms[i] / sum);
        xf_cuda_set_profile(state, 0);
    }
    rc = bad ? 1 : 0;
    goto done;
fail:
    fprintf(stderr, "xfwd_cuda_bench: %s\n", xf_last_error());
done:
    if (state) xf_backend_cuda.destroy(state);
    xf_model_free(m);
    xb_workload_free(&w);
    xf_recipe_free(&recipe);
    free(tokens), free(positions), free(seq_start), free(rebased), free(ids), free(chunk), free(plans);
    free(replay), free(total), free(out);
    return rc;
}
