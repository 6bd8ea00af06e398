/* cuda_bench.c — benchmark of the CUDA backend on a random-weight Qwen3 shape:
 * B sequences of S random tokens, final hidden states, timed after a warm-up.
 * Reports the median device time of the graph replay (CUDA events) and of the
 * whole forward call as the caller sees it (host clock: replay + copy of the
 * [T, H] fp32 result into ordinary host memory),
 * tokens/s, TFLOP/s, % of the measured 798 TFLOP/s bf16 ceiling, peak device
 * memory against the weights; then (--profile) a per-op-family breakdown from
 * eager runs timed with events between the families.
 *   xfwd_cuda_bench --shape qwen3-4b --dtype bf16 --batch 16 --seq 512 [--iters 20] [--warmup 3] [--profile]
 * FLOPs: 2 × linear parameters (embedding and lm_head excluded) per token, plus
 * causal attention 4 · S(S+1)/2 · n_heads · head_dim per sequence and layer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backend.h"
#include "bench_util.h"
#include "cuda/cuda_backend.h"

#define CEILING_TFLOPS 798.0


int main(int argc, char **argv) {
    const char *shape = "qwen3-4b", *dtype_name = "bf16";
    xf_dtype dtype = XF_DTYPE_BF16;
    int batch = 16, seq = 512, iters = 20, warmup = 3, profile = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--shape") && i + 1 < argc) shape = argv[++i];
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc && !xb_parse_dtype(argv[i + 1], &dtype)) dtype_name = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seq") && i + 1 < argc) seq = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warmup = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--profile")) profile = 1;
        else {
            fprintf(stderr, "usage: xfwd_cuda_bench [--shape S] [--dtype f32|tf32|bf16|f16] [--batch B] [--seq S] "
                            "[--iters N] [--warmup N] [--profile]\n");
            return 2;
        }
    }
    if (batch < 1 || seq < 1 || iters < 1 || warmup < 0) return fprintf(stderr, "xfwd_cuda_bench: bad sizes\n"), 2;
    xf_model *m = NULL;
    void *state = NULL;
    int rc = 1;
    const int T = batch * seq;
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)T), *positions = malloc(sizeof(int32_t) * (size_t)T);
    int32_t *seq_start = malloc(sizeof(int32_t) * (size_t)(batch + 1)), *ids = malloc(sizeof(int32_t) * (size_t)batch);
    double *replay = malloc(sizeof(double) * (size_t)iters), *total = malloc(sizeof(double) * (size_t)iters);
    float *out = NULL;
    const xf_dtype storage = dtype == XF_DTYPE_BF16 || dtype == XF_DTYPE_F16 ? dtype : XF_DTYPE_F32;
    double t0 = xb_now_s();
    if (xf_model_random(shape, storage, 1, &m) != XF_OK) {
        fprintf(stderr, "xfwd_cuda_bench: %s\n", xf_last_error());
        goto done;
    }
    const double t_model = xb_now_s() - t0;
    const xf_config *c = &m->cfg;
    out = malloc(sizeof(float) * (size_t)T * (size_t)c->hidden);
    uint64_t r = 0x9e3779b97f4a7c15ull;
    for (int b = 0; b <= batch; b++) seq_start[b] = b * seq;
    for (int t = 0; t < T; t++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        tokens[t] = (int32_t)(r % (uint64_t)c->vocab);
        positions[t] = t % seq;
    }
    for (int b = 0; b < batch; b++) ids[b] = -1;
    xf_backend_config cfg = {.model = m, .dtype = dtype, .max_tokens = T};
    t0 = xb_now_s();
    if (xf_backend_cuda.create(&cfg, &state) != XF_OK) {
        fprintf(stderr, "xfwd_cuda_bench: %s\n", xf_last_error());
        rc = 77;  /* no GPU: skipped */
        goto done;
    }
    const double t_create = xb_now_s() - t0;
    xf_plan plan = {.n_tokens = T, .n_seqs = batch, .tokens = tokens, .seq_start = seq_start,
                    .positions = positions, .adapter_ids = ids, .max_seq_len = seq, .output = XF_OUT_HIDDEN,
                    .out = out, .stop_layer = -1};
    t0 = xb_now_s();
    for (int i = 0; i < warmup; i++)
        if (xf_backend_cuda.forward(state, &plan) != XF_OK) goto fail;
    const double t_warm = xb_now_s() - t0;
    for (int i = 0; i < iters; i++) {
        float rep, tot;
        if (xf_backend_cuda.forward(state, &plan) != XF_OK) goto fail;
        xf_cuda_last_times(state, &rep, &tot);
        replay[i] = rep * 1e-3, total[i] = tot * 1e-3;
    }
    int64_t bad = 0;
    for (int64_t i = 0; i < (int64_t)T * c->hidden; i++)
        if (!(out[i] == out[i]) || out[i] > 1e30f || out[i] < -1e30f) bad++;
    const double H = c->hidden, I = c->intermediate, NH = c->n_heads, NKV = c->n_kv_heads, D = c->head_dim;
    const double linear = c->n_layers * (H * NH * D * 2 + H * NKV * D * 2 + 3 * H * I);
    const double flops = 2.0 * linear * T + c->n_layers * 4.0 * NH * D * ((double)seq * (seq + 1) / 2) * batch;
    const double t_rep = xb_median(replay, iters), t_tot = xb_median(total, iters);
    const double peak = xf_backend_cuda.peak_memory(state) / 1048576.0, wts = xf_cuda_weight_bytes(state) / 1048576.0;
    printf("shape %s, dtype %s, %d x %d = %d tokens; model %.1f s, create %.1f s, warm-up %.2f s\n", shape, dtype_name,
           batch, seq, T, t_model, t_create, t_warm);
    printf("device replay   median %8.3f ms  %9.0f tok/s  %6.1f TFLOP/s  %5.1f %% of %.0f\n", t_rep * 1e3, T / t_rep,
           flops / t_rep / 1e12, 100 * flops / t_rep / 1e12 / CEILING_TFLOPS, CEILING_TFLOPS);
    printf("forward call    median %8.3f ms  %9.0f tok/s  %6.1f TFLOP/s\n", t_tot * 1e3, T / t_tot, flops / t_tot / 1e12);
    printf("memory          peak %.0f MiB = weights %.0f MiB + %.0f MiB; non-finite outputs %lld\n", peak, wts,
           peak - wts, (long long)bad);
    printf("RESULT shape=%s dtype=%s batch=%d seq=%d tok_s=%.0f tflops=%.1f pct=%.1f e2e_tok_s=%.0f peak_mib=%.0f "
           "weights_mib=%.0f extra_mib=%.0f\n",
           shape, dtype_name, batch, seq, T / t_rep, flops / t_rep / 1e12, 100 * flops / t_rep / 1e12 / CEILING_TFLOPS,
           T / t_tot, peak, wts, peak - wts);
    if (profile) {
        const char *const *names;
        const double *ms;
        int runs = 0, n;
        if (xf_cuda_set_profile(state, 1) != XF_OK) goto fail;
        for (int i = 0; i < 5; i++)
            if (xf_backend_cuda.forward(state, &plan) != XF_OK) goto fail;
        n = xf_cuda_profile(state, &names, &ms, &runs);
        double sum = 0;
        for (int i = 0; i < n; i++) sum += ms[i];
        printf("profile (eager, events between op families, mean of %d runs; sum %.3f ms vs replay %.3f ms)\n", runs,
               sum / runs, t_rep * 1e3);
        for (int i = 0; i < n; i++)
            if (ms[i] > 0)
                printf("  %-24s %9.3f ms  %5.1f %%\n", names[i], ms[i] / runs, 100 * ms[i] / sum);
        xf_cuda_set_profile(state, 0);
    }
    rc = bad ? 1 : 0;
    goto done;
fail:
    fprintf(stderr, "xfwd_cuda_bench: %s\n", xf_last_error());
done:
    if (state) xf_backend_cuda.destroy(state);
    xf_model_free(m);
    free(tokens), free(positions), free(seq_start), free(ids), free(replay), free(total), free(out);
    return rc;
}
