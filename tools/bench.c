/* bench.c — `xfwd bench`: times the forward (final hidden states) through the
 * public API on a model folder or a named random-weight shape, after a warm-up;
 * prints the median tokens/s, TFLOP/s and peak memory, and one RESULT line.
 * Workloads: B sequences of S random tokens (--batch, --seq), or real-traffic
 * shapes: --mixed N (bench_util.h's log-normal mix, 8–2048 tokens, mean ~300)
 * or --lengths FILE (one length per line), packed in input order into forwards
 * of at most --max-batch-tokens tokens (default 16384; a longer sequence runs
 * alone), no padding — one xf_engine_hidden call per forward, the engine's
 * max_tokens at least the largest forward so it never splits one again. A timed
 * run is one pass over every forward of the workload, result copied to the host.
 * FLOPs (bench_util.h, xb_forward_flops): 2 × (linear parameters, embedding and
 * lm_head excluded) per real token, plus attention 4 · pairs(S) · n_heads ·
 * head_dim per sequence and layer, pairs(S) = S(S+1)/2 when causal (QKᵀ, P·V). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "../bench/bench_util.h"
#include "cli.h"

/* The workload flags, taken out of argv before the common parser sees the rest. */
typedef struct traffic_opts {
    const char *lengths;
    int mixed, budget, sized;
} traffic_opts;

static int take_traffic_flags(int *argc, char **argv, traffic_opts *t) {
    memset(t, 0, sizeof *t);
    int k = 1;
    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        int is_len = !strcmp(a, "--lengths"), is_mix = !strcmp(a, "--mixed"), is_bud = !strcmp(a, "--max-batch-tokens");
        if (!strcmp(a, "--batch") || !strcmp(a, "--seq")) t->sized = 1;
        if (!is_len && !is_mix && !is_bud) {
            argv[k++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc) return fprintf(stderr, "xfwd bench: option '%s' needs a value\n", a), 2;
        const char *v = argv[++i];
        if (is_len) {
            t->lengths = v;
            continue;
        }
        char *end;
        long x = strtol(v, &end, 10);
        if (*end || end == v || x < 1 || x > 1 << 30)
            return fprintf(stderr, "xfwd bench: %s expects an integer >= 1, got '%s'\n", a, v), 2;
        if (is_mix) t->mixed = (int)x;
        else t->budget = (int)x;
    }
    *argc = k;
    if ((t->lengths != NULL) + (t->mixed > 0) + t->sized > 1)
        return fprintf(stderr, "xfwd bench: give one of --batch/--seq, --mixed N, --lengths FILE\n"), 2;
    return 0;
}

static const char *model_label(const cli_opts *o) {
    if (!o->model) return o->shape;
    size_t n = strlen(o->model);
    while (n > 1 && o->model[n - 1] == '/') n--;  /* "dir/" names dir */
    const char *b = o->model + n;
    while (b > o->model && b[-1] != '/') b--;
    static char label[128];
    snprintf(label, sizeof label, "%.*s", (int)(o->model + n - b), b);
    for (char *p = label; *p; p++)  /* one token for the key=value line */
        if (*p == ' ' || *p == '=' || *p == '\t') *p = '_';
    return label;
}

/* One pass: every forward of the workload through xf_engine_hidden. 0, or 1 after an error line. */
static int run_pass(xf_engine *e, const xb_workload *w, const int32_t *tokens, const int32_t *chunk,
                    const int64_t *fwd_base, int32_t n_fwd, float *out) {
    for (int32_t f = 0; f < n_fwd; f++) {
        xf_batch batch = {.tokens = tokens + fwd_base[f], .seq_lens = w->lens + chunk[f],
                          .n_seqs = chunk[f + 1] - chunk[f]};
        if (xf_engine_hidden(e, &batch, out) != XF_OK) return xf_cli_fail("%s", xf_last_error());
    }
    return 0;
}

int xf_cli_bench(int argc, char **argv) {
    cli_opts o;
    traffic_opts tr;
    int rc = take_traffic_flags(&argc, argv, &tr);
    if (rc) return rc;
    rc = xf_cli_parse(argc, argv, "model shape batch seq iters warmup backend dtype max-tokens threads cache-dir", &o);
    if (rc) return rc;
    if (!o.model == !o.shape) return fprintf(stderr, "xfwd bench: give exactly one of --model DIR or --shape NAME\n"), 2;
    xf_model *m = NULL;
    xf_engine *e = NULL;
    xb_workload w = {0};
    int32_t *tokens = NULL, *chunk = NULL;
    int64_t *fwd_base = NULL;
    float *out = NULL;
    double *times = NULL;
    char err[512], desc[256];
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
    if (xb_workload_make(&w, o.batch, o.seq, tr.mixed, tr.lengths, info.max_position, err, sizeof err)) {
        xf_cli_fail("%s", err);
        goto done;
    }
    const int64_t T = w.tokens;
    /* B × S keeps its old packing: forwards of 8192 tokens at most, a longer sequence alone */
    const int budget = tr.budget ? tr.budget : w.traffic ? XB_TRAFFIC_BUDGET : (int)(T < 8192 ? T : 8192);
    chunk = malloc(sizeof(int32_t) * (size_t)(w.n + 1));
    fwd_base = malloc(sizeof(int64_t) * (size_t)(w.n + 1));
    if (!chunk || !fwd_base) { xf_cli_fail("out of host memory"); goto done; }
    const int32_t n_fwd = xb_pack(w.lens, w.n, budget, chunk);
    const int64_t max_fwd = xb_forward_bases(w.lens, chunk, n_fwd, fwd_base);
    xf_engine_options eo;
    xf_engine_options_init(&eo);
    eo.backend = o.backend;
    eo.dtype = o.dtype;
    /* scratch for the largest forward, a long single sequence included (a lower --max-tokens splits them) */
    eo.max_tokens = o.max_tokens ? o.max_tokens : (int32_t)max_fwd;
    eo.n_threads = o.threads;
    eo.cache_dir = o.cache_dir;
    double t_create = xb_now_s();
    if (xf_engine_create(m, &eo, &e) != XF_OK) { xf_cli_fail("%s", xf_last_error()); goto done; }
    t_create = xb_now_s() - t_create;
    tokens = malloc(sizeof(int32_t) * (size_t)T);
    out = malloc(sizeof(float) * (size_t)max_fwd * (size_t)info.hidden_size);  /* [largest forward, H] */
    times = malloc(sizeof(double) * (size_t)o.iters);
    if (!tokens || !out || !times) { xf_cli_fail("out of host memory"); goto done; }
    xb_random_tokens(tokens, T, info.vocab_size);
    double t_first = xb_now_s();
    for (int i = 0; i < o.warmup; i++)
        if (run_pass(e, &w, tokens, chunk, fwd_base, n_fwd, out)) goto done;
    t_first = xb_now_s() - t_first;
    for (int i = 0; i < o.iters; i++) {
        double t0 = xb_now_s();
        if (run_pass(e, &w, tokens, chunk, fwd_base, n_fwd, out)) goto done;
        times[i] = xb_now_s() - t0;
    }
    double med = xb_median(times, o.iters);
    double flops = xb_forward_flops(info.n_layers, info.hidden_size, info.intermediate_size, info.n_heads,
                                    info.n_kv_heads, info.head_dim, w.lens, w.n, info.causal, info.sliding_window);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    const xf_backend be = xf_engine_backend(e);
    const double peak = xf_engine_peak_memory(e) / 1048576.0;
    xb_workload_describe(&w, desc, sizeof desc);
    printf("model      %s (%s, %lld params, weights %s)\n", o.model ? o.model : o.shape, info.model_type,
           (long long)info.n_params, info.weight_dtype);
    printf("backend    %s  dtype %s  workload %s: %s\n", xf_cli_backend_name(be), xf_cli_dtype_name(o.dtype), w.name,
           desc);
    printf("forwards   %d of <= %d tokens (input order, no padding; largest %lld), engine max_tokens %d\n", n_fwd,
           budget, (long long)max_fwd, eo.max_tokens);
    printf("startup    load %.3f s, engine create %.3f s, warm-up (%d) %.3f s\n", t_load, t_create, o.warmup, t_first);
    printf("time       median %.3f ms per pass (min %.3f, max %.3f, %d runs)\n", med * 1e3, times[0] * 1e3,
           times[o.iters - 1] * 1e3, o.iters);
    printf("throughput %.0f tokens/s, %.1f GFLOP/s = %.3f TFLOP/s (%.1f GFLOP per pass)\n", (double)T / med,
           flops / med / 1e9, flops / med / 1e12, flops / 1e9);
    printf("memory     engine peak %.1f MiB, host max RSS %.1f MiB\n", peak, ru.ru_maxrss / 1024.0);
    /* the CLI's figure: wall clock of the xf_engine_hidden calls, the result copied to the host */
    printf("RESULT impl=xfwd-cli backend=%s traffic=%s shape=%s dtype=%s", xf_cli_backend_name(be), w.name,
           model_label(&o), xf_cli_dtype_name(o.dtype));
    if (!w.traffic) printf(" batch=%d seq=%d", o.batch, o.seq);
    printf(" seqs=%d tokens=%lld max_batch_tokens=%d forwards=%d tok_s=%.0f tflops=%.3f", w.n, (long long)T, budget,
           n_fwd, (double)T / med, flops / med / 1e12);
    if (be == XF_BACKEND_CUDA) printf(" pct=%.1f", 100 * flops / med / 1e12 / XB_CEILING_TFLOPS);
    printf(" peak_mib=%.0f\n", peak);
    rc = 0;
done:
    xb_workload_free(&w);
    free(tokens), free(chunk), free(fwd_base), free(out), free(times);
    xf_engine_free(e);
    xf_model_free(m);
    return rc;
}
