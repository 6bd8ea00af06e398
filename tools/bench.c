/* bench.c — `xfwd bench`: times the forward (final hidden states) on a model
 * folder or a named random-weight shape, B sequences of S random tokens, after
 * a warm-up; prints the median tokens/s, TFLOP/s and peak memory.
 * FLOPs per forward: 2 × (linear parameters, embedding and lm_head excluded)
 * per token, plus causal attention 4 · S(S+1)/2 · n_heads · head_dim per
 * sequence and layer (QKᵀ and P·V). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../bench/bench_util.h"
#include "cli.h"

int xf_cli_bench(int argc, char **argv) {
    cli_opts o;
    int rc = xf_cli_parse(argc, argv, "model shape batch seq iters warmup backend dtype max-tokens threads cache-dir", &o);
    if (rc) return rc;
    if (!o.model == !o.shape) return fprintf(stderr, "xfwd bench: give exactly one of --model DIR or --shape NAME\n"), 2;
    xf_model *m = NULL;
    xf_engine *e = NULL;
    int32_t *tokens = NULL, *lens = NULL;
    float *out = NULL;
    double *times = NULL;
    rc = 1;
    double t_load = xb_now_s();
    xf_status st = o.model ? xf_model_open(o.model, &m)
                           : xf_model_random(o.shape, o.dtype == XF_DTYPE_F16 ? XF_DTYPE_F16
                                                      : o.dtype == XF_DTYPE_BF16 ? XF_DTYPE_BF16 : XF_DTYPE_F32,
                                             1, &m);
    if (st != XF_OK) { xf_cli_fail("%s", xf_last_error()); goto done; }
    t_load = xb_now_s() - t_load;
    xf_model_info info;
    xf_model_get_info(m, &info);
    if (o.seq > info.max_position) { xf_cli_fail("--seq %d exceeds the model's %d positions", o.seq, info.max_position); goto done; }
    const int64_t T = (int64_t)o.batch * o.seq;
    xf_engine_options eo;
    xf_engine_options_init(&eo);
    eo.backend = o.backend;
    eo.dtype = o.dtype;
    eo.max_tokens = o.max_tokens ? o.max_tokens : (int32_t)(T < 8192 ? (T > o.seq ? T : o.seq) : 8192);
    eo.n_threads = o.threads;
    eo.cache_dir = o.cache_dir;
    double t_create = xb_now_s();
    if (xf_engine_create(m, &eo, &e) != XF_OK) { xf_cli_fail("%s", xf_last_error()); goto done; }
    t_create = xb_now_s() - t_create;
    tokens = malloc(sizeof(int32_t) * (size_t)T);
    lens = malloc(sizeof(int32_t) * (size_t)o.batch);
    out = malloc(sizeof(float) * (size_t)T * (size_t)info.hidden_size);
    times = malloc(sizeof(double) * (size_t)o.iters);
    if (!tokens || !lens || !out || !times) { xf_cli_fail("out of host memory"); goto done; }
    uint64_t s = 0x9e3779b97f4a7c15ull;
    for (int64_t t = 0; t < T; t++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        tokens[t] = (int32_t)(s % (uint64_t)info.vocab_size);
    }
    for (int b = 0; b < o.batch; b++) lens[b] = o.seq;
    xf_batch batch = {.tokens = tokens, .seq_lens = lens, .n_seqs = o.batch};
    double t_first = xb_now_s();
    for (int i = 0; i < o.warmup; i++)
        if (xf_engine_hidden(e, &batch, out) != XF_OK) { xf_cli_fail("%s", xf_last_error()); goto done; }
    t_first = xb_now_s() - t_first;
    for (int i = 0; i < o.iters; i++) {
        double t0 = xb_now_s();
        if (xf_engine_hidden(e, &batch, out) != XF_OK) { xf_cli_fail("%s", xf_last_error()); goto done; }
        times[i] = xb_now_s() - t0;
    }
    double med = xb_median(times, o.iters);
    const double D = info.head_dim, NH = info.n_heads, NKV = info.n_kv_heads, H = info.hidden_size,
                 I = info.intermediate_size;
    double linear_params = info.n_layers * (H * (NH * D) * 2 + H * (NKV * D) * 2 + 3 * H * I);
    double flops = 2.0 * linear_params * (double)T +
                   info.n_layers * 4.0 * NH * D * ((double)o.seq * (o.seq + 1) / 2) * o.batch;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("model      %s (%s, %lld params, weights %s)\n", o.model ? o.model : o.shape, info.model_type,
           (long long)info.n_params, info.weight_dtype);
    printf("backend    %s  dtype %s  batch %d x seq %d = %lld tokens\n",
           xf_cli_backend_name(xf_engine_backend(e)), xf_cli_dtype_name(o.dtype), o.batch, o.seq, (long long)T);
    printf("startup    load %.3f s, engine create %.3f s, warm-up (%d) %.3f s\n", t_load, t_create, o.warmup, t_first);
    printf("time       median %.3f ms (min %.3f, max %.3f, %d runs)\n", med * 1e3, times[0] * 1e3,
           times[o.iters - 1] * 1e3, o.iters);
    printf("throughput %.0f tokens/s, %.1f GFLOP/s = %.3f TFLOP/s (%.1f GFLOP per forward)\n", (double)T / med,
           flops / med / 1e9, flops / med / 1e12, flops / 1e9);
    printf("memory     engine peak %.1f MiB, host max RSS %.1f MiB\n", xf_engine_peak_memory(e) / 1048576.0,
           ru.ru_maxrss / 1024.0);
    rc = 0;
done:
    free(tokens), free(lens), free(out), free(times);
    xf_engine_free(e);
    xf_model_free(m);
    return rc;
}
