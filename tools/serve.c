/* serve.c — `xfwd serve`: options, loading the model, its adapters and its engines
 * (one, or one per --devices entry), starting the forward threads and the HTTP server, and the orderly exit on
 * SIGTERM/SIGINT (stop accepting, let in-flight requests finish, exit 0). */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "serve.h"

static const char serve_usage[] =
    "usage: xfwd serve --model DIR [options]\n"
    "  --model DIR               Hugging Face model folder (tokenizer.json beside it for text input)\n"
    "  --shape NAME              instead of --model: random weights of a Qwen3 shape, token ids only\n"
    "                            (qwen3-0.6b, qwen3-4b, qwen3-8b, qwen3-tiny; for benchmarks)\n"
    "  --adapter NAME=DIR        a PEFT LoRA folder, selected per request by NAME (repeatable)\n"
    "  --backend B               auto|cpu|cpu_ref|cuda|vulkan (default auto)\n"
    "  --dtype T                 f32|tf32|bf16|f16 (default f32)\n"
    "  --host ADDR               numeric listen address (default 127.0.0.1; 0.0.0.0 or :: for all)\n"
    "  --port N                  listen port (default 8080; 0: any free port, printed at start)\n"
    "  --max-batch-tokens N      tokens per forward (default 8192)\n"
    "  --max-wait-ms M           how long a forward waits for more requests (default 5)\n"
    "  --max-input-tokens N      longest input accepted (default: the model's, at most max-batch-tokens)\n"
    "  --max-inputs N            inputs per request (default 2048)\n"
    "  --max-body-bytes N        request bodies larger than this get 413 (default 33554432)\n"
    "  --max-connections N       open connections at once (default 512)\n"
    "  --timeout S               idle connection timeout in seconds (default 30)\n"
    "  --api-key KEY             require 'Authorization: Bearer KEY' (or set XFWD_API_KEY)\n"
    "  --served-model-name NAME  the model name requests use and replies report (default: folder name)\n"
    "  --threads N               CPU threads of the engine (0: all cores)\n"
    "  --devices 0,1,...         one engine (replica) per GPU listed; requests go to whichever is free\n"
    "  --cache-dir DIR           Vulkan pipeline cache and CUDA matmul choices (default ~/.cache/xfwd)\n"
    "options take '--key value' or '--key=value'\n"
    "endpoints: POST /v1/embeddings, GET /v1/models (OpenAI); POST /embed /rerank /predict /tokenize,\n"
    "           GET /health /info /metrics (text-embeddings-inference); see README.md\n";

static int parse_num(const char *flag, const char *v, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > hi) {
        fprintf(stderr, "xfwd serve: %s expects an integer in [%ld, %ld], got '%s'\n", flag, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

/* Index of v among the CLI's backend (or dtype) names, or -1. */
static int pick_name(const char *v, int dtype) {
    for (int i = 0; i < (dtype ? 4 : 5); i++)
        if (!strcmp(v, dtype ? xf_cli_dtype_name((xf_dtype)i) : xf_cli_backend_name((xf_backend)i))) return i;
    return -1;
}

/* The numeric options: where each goes in sv_config and its range. */
typedef struct num_opt {
    const char *flag;
    long lo, hi;
    size_t offset;
    int is_size;
} num_opt;
static const num_opt num_opts[] = {
    {"--port", 0, 65535, offsetof(sv_config, port), 0},
    {"--max-batch-tokens", 1, 1 << 24, offsetof(sv_config, max_batch_tokens), 0},
    {"--max-wait-ms", 0, 60000, offsetof(sv_config, max_wait_ms), 0},
    {"--max-input-tokens", 1, 1 << 24, offsetof(sv_config, max_input_tokens), 0},
    {"--max-inputs", 1, 1 << 20, offsetof(sv_config, max_inputs), 0},
    {"--max-body-bytes", 1, 1L << 31, offsetof(sv_config, max_body_bytes), 1},
    {"--max-connections", 1, 65536, offsetof(sv_config, max_connections), 0},
    {"--timeout", 1, 86400, offsetof(sv_config, timeout_s), 0},
    {"--threads", 0, 4096, offsetof(sv_config, threads), 0},
};

static const num_opt *find_num(const char *flag, const sv_config *c) {
    (void)c;
    for (size_t i = 0; i < sizeof num_opts / sizeof *num_opts; i++)
        if (!strcmp(flag, num_opts[i].flag)) return &num_opts[i];
    return NULL;
}

static int parse_args(int argc, char **argv, sv_config *c) {
    memset(c, 0, sizeof *c);
    c->host = "127.0.0.1";
    c->port = 8080;
    c->max_batch_tokens = 8192;
    c->max_wait_ms = 5;
    c->max_inputs = 2048;
    c->max_body_bytes = 32u << 20;
    c->max_connections = 512;
    c->timeout_s = 30;
    c->api_key = getenv("XFWD_API_KEY");
    if (c->api_key && !*c->api_key) c->api_key = NULL;
    c->adapters = calloc((size_t)argc, sizeof *c->adapters);
    if (!c->adapters) return 1;
    char flag[64];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v, *eq = strchr(a, '=');
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(serve_usage, stdout);
            return -1;
        }
        if (strncmp(a, "--", 2) == 0 && eq && (size_t)(eq - a) < sizeof flag) {   /* --key=value */
            snprintf(flag, sizeof flag, "%.*s", (int)(eq - a), a);
            a = flag, v = eq + 1;
        } else if (i + 1 >= argc || strncmp(a, "--", 2) != 0) {
            fprintf(stderr, "xfwd serve: %s '%s' (try xfwd serve --help)\n",
                    strncmp(a, "--", 2) ? "unexpected argument" : "option needs a value:", a);
            return 2;
        } else {
            v = argv[++i];
        }
        long x = 0;
        int k;
        const num_opt *num;
        if (!strcmp(a, "--model")) c->model_dir = v;
        else if (!strcmp(a, "--shape")) c->shape = v;
        else if (!strcmp(a, "--host")) c->host = v;
        else if (!strcmp(a, "--api-key")) c->api_key = *v ? v : NULL;
        else if (!strcmp(a, "--served-model-name")) c->model_id = v;
        else if (!strcmp(a, "--cache-dir")) c->cache_dir = v;
        else if (!strcmp(a, "--devices")) {
            if ((c->n_devices = xf_cli_parse_devices(a, v, c->devices, SV_MAX_DEVICES)) < 0) return 2;
        }
        else if (!strcmp(a, "--adapter")) {
            const char *sep = strchr(v, '=');
            if (!sep || sep == v || !sep[1]) {
                fprintf(stderr, "xfwd serve: --adapter expects NAME=DIR, got '%s'\n", v);
                return 2;
            }
            char *name = strndup(v, (size_t)(sep - v));
            if (!name) return 1;
            for (int j = 0; j < c->n_adapters; j++)
                if (!strcmp(c->adapters[j].name, name)) {
                    fprintf(stderr, "xfwd serve: adapter name '%s' given twice\n", name);
                    free(name);
                    return 2;
                }
            c->adapters[c->n_adapters++] = (sv_adapter_arg){name, sep + 1};
        } else if (!strcmp(a, "--backend")) {
            if ((k = pick_name(v, 0)) < 0) {
                fprintf(stderr, "xfwd serve: --backend must be auto, cpu, cpu_ref, cuda or vulkan, got '%s'\n", v);
                return 2;
            }
            c->backend = (xf_backend)k;
        } else if (!strcmp(a, "--dtype")) {
            if ((k = pick_name(v, 1)) < 0) {
                fprintf(stderr, "xfwd serve: --dtype must be f32, tf32, bf16 or f16, got '%s'\n", v);
                return 2;
            }
            c->dtype = (xf_dtype)k;
        } else if ((num = find_num(a, c))) {
            if (parse_num(a, v, num->lo, num->hi, &x)) return 2;
            if (num->is_size) *(size_t *)((char *)c + num->offset) = (size_t)x;
            else *(int *)((char *)c + num->offset) = (int)x;
        } else {
            fprintf(stderr, "xfwd serve: unknown option '%s' (try xfwd serve --help)\n", a);
            return 2;
        }
    }
    if (!c->model_dir == !c->shape) {
        fprintf(stderr, "xfwd serve: give one of --model DIR or --shape NAME (try xfwd serve --help)\n");
        return 2;
    }
    return 0;
}

/* The folder's last path component: what "model" means when no name is given. */
static const char *folder_name(const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/') n--;
    size_t b = n;
    while (b > 0 && dir[b - 1] != '/') b--;
    static char name[256];
    snprintf(name, sizeof name, "%.*s", (int)(n - b), dir + b);
    return name;
}

static int load(sv_server *s) {
    sv_config *c = &s->cfg;
    xf_dtype storage = c->dtype == XF_DTYPE_BF16 || c->dtype == XF_DTYPE_F16 ? c->dtype : XF_DTYPE_F32;
    if ((c->shape ? xf_model_random(c->shape, storage, 1, &s->model) : xf_model_open(c->model_dir, &s->model)) != XF_OK)
        return xf_cli_fail("%s", xf_last_error());
    xf_model_get_info(s->model, &s->info);
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/tokenizer.json", c->model_dir ? c->model_dir : "");
    if (c->model_dir && stat(path, &st) == 0 && xf_tokenizer_open(path, &s->tok) != XF_OK)
        return xf_cli_fail("%s", xf_last_error());
    s->adapters = calloc((size_t)(c->n_adapters ? c->n_adapters : 1), sizeof *s->adapters);
    if (!s->adapters) return xf_cli_fail("out of memory");
    for (int i = 0; i < c->n_adapters; i++)
        if (xf_adapter_open(s->model, c->adapters[i].dir, &s->adapters[i]) != XF_OK)
            return xf_cli_fail("--adapter %s: %s", c->adapters[i].name, xf_last_error());
    int model_max = s->info.max_seq_length > 0 ? s->info.max_seq_length : s->info.max_position;
    if (!c->max_input_tokens) c->max_input_tokens = model_max < c->max_batch_tokens ? model_max : c->max_batch_tokens;
    if (c->max_input_tokens > c->max_batch_tokens)
        return xf_cli_fail("--max-input-tokens %d is more than --max-batch-tokens %d: an input must fit one forward",
                           c->max_input_tokens, c->max_batch_tokens);
    if (c->max_input_tokens > s->info.max_position)
        return xf_cli_fail("--max-input-tokens %d is more than the model's max_position_embeddings %d",
                           c->max_input_tokens, s->info.max_position);
    xf_engine_options eo;
    xf_engine_options_init(&eo);
    eo.backend = c->backend;
    eo.dtype = c->dtype;
    eo.max_tokens = c->max_batch_tokens;
    eo.n_threads = c->threads;
    eo.cache_dir = c->cache_dir;
    eo.adapters = (const xf_adapter *const *)s->adapters;
    eo.n_adapters = c->n_adapters;
    eo.device = c->n_devices > 0 ? c->devices[0] : 0;
    if (xf_engine_create(s->model, &eo, &s->engines[0]) != XF_OK) return xf_cli_fail("%s", xf_last_error());
    s->engine = s->engines[0];
    s->n_engines = 1;
    /* replicas: the backend the first engine settled on (auto resolved), on every other device */
    eo.backend = xf_engine_backend(s->engine);
    for (int k = 1; k < c->n_devices; k++) {
        eo.device = c->devices[k];
        if (xf_engine_create(s->model, &eo, &s->engines[k]) != XF_OK)
            return xf_cli_fail("--devices: device %d: %s", c->devices[k], xf_last_error());
        s->n_engines = k + 1;
    }
    sv_model_describe(s);
    return 0;
}

int xf_cli_serve(int argc, char **argv) {
    sv_server s;
    memset(&s, 0, sizeof s);
    sv_metrics_init(&s.metrics);
    int rc = parse_args(argc, argv, &s.cfg);
    sv_http *http = NULL;
    if (rc) {
        rc = rc < 0 ? 0 : rc;
        goto done;
    }
    if (!s.cfg.model_id) s.cfg.model_id = s.cfg.shape ? s.cfg.shape : folder_name(s.cfg.model_dir);
    /* every thread started from here on inherits this mask: only sigwait below sees the signals */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    rc = 1;
    if (load(&s) != 0) goto done;
    if (sv_queue_start(&s, &s.queue) != 0) {
        xf_cli_fail("cannot start the forward threads");
        goto done;
    }
    int port = 0;
    if (sv_http_start(&s, &http, &port) != 0) goto done;
    fprintf(stderr, "xfwd serve: listening on http://%s:%d (model %s, %s, backend %s, dtype %s, %d adapters, %d engine%s)\n",
            s.cfg.host, port, s.cfg.model_id, s.model_type, xf_cli_backend_name(xf_engine_backend(s.engine)),
            xf_cli_dtype_name(s.cfg.dtype), s.cfg.n_adapters, s.n_engines, s.n_engines == 1 ? "" : "s");
    fflush(stderr);
    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "xfwd serve: %s: finishing the requests in flight\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    sv_http_stop(http, s.cfg.timeout_s);
    http = NULL;
    fprintf(stderr, "xfwd serve: stopped\n");
    rc = 0;
done:
    sv_http_stop(http, 0);
    sv_queue_stop(s.queue);
    for (int k = 0; k < s.n_engines; k++) xf_engine_free(s.engines[k]);
    for (int i = 0; s.adapters && i < s.cfg.n_adapters; i++) xf_adapter_free(s.adapters[i]);
    free(s.adapters);
    xf_tokenizer_free(s.tok);
    xf_model_free(s.model);
    sv_metrics_free(&s.metrics);
    for (int i = 0; i < s.cfg.n_adapters; i++) free((char *)s.cfg.adapters[i].name);
    free(s.cfg.adapters);
    return rc;
}
