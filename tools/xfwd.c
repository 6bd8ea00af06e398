/* xfwd.c — the command-line tool's entry: the command table, the common option
 * parser (--key value and --key=value) and `xfwd info`. The forward commands are
 * in cmd_forward.c, rerank in cmd_hub.c, tokenize in cmd_tokenize.c, bench in
 * bench.c, serve in serve*.c, the help texts in cli_help.c. Errors: one line on
 * stderr, non-zero exit status. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "jsonl.h"
#include "npy.h"
#include "outfile.h"
#include "serve.h"

int xf_cli_fail(const char *fmt, ...) {
    va_list ap;
    fputs("xfwd: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

static const char *const backend_names[] = {"auto", "cpu", "cpu_ref", "cuda", "vulkan"};
static const char *const dtype_names[] = {"f32", "tf32", "bf16", "f16", "auto"};
/* indexed by xf_pooling; "cls" and "lasttoken" (sentence-transformers) are accepted too */
static const char *const pooling_names[] = {"last", "mean", "first", "max", "mean_sqrt_len"};
static const char *const truncate_names[] = {"none", "right", "left"};

const char *xf_cli_backend_name(xf_backend b) { return (unsigned)b < 5 ? backend_names[b] : "?"; }
const char *xf_cli_dtype_name(xf_dtype d) { return (unsigned)d < 4 ? dtype_names[d] : "?"; }
const char *xf_cli_pooling_name(int p) { return (unsigned)p < 5 ? pooling_names[p] : "?"; }

static int pick(const char *v, const char *const *names, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(v, names[i])) return i;
    return -1;
}

static int parse_int(const char *flag, const char *v, int lo, int *out) {
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || end == v || x < lo || x > 1 << 30) {
        fprintf(stderr, "xfwd: %s expects an integer >= %d, got '%s'\n", flag, lo, v);
        return 2;
    }
    *out = (int)x;
    return 0;
}

static int allowed_has(const char *allowed, const char *name) {
    size_t n = strlen(name);
    for (const char *p = strstr(allowed, name); p; p = strstr(p + 1, name))
        if ((p == allowed || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0')) return 1;
    return 0;
}

/* Options that take no value. */
static const char *const switches[] = {"normalize", "merge-adapter", "no-normalize", "verbose", "raw-scores", "quiet"};

int xf_cli_parse(int argc, char **argv, const char *allowed, cli_opts *o) {
    memset(o, 0, sizeof *o);
    o->backend = XF_BACKEND_AUTO;
    o->dtype = XF_DTYPE_F32;  /* what bench runs; the forward commands resolve dtype_auto */
    o->dtype_auto = 1;
    o->output_format = -1;
    o->batch = 1, o->seq = 128, o->iters = 10, o->warmup = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        char name[64];
        const char *eq = strncmp(a, "--", 2) == 0 ? strchr(a, '=') : NULL;  /* --key=value */
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a) - (strncmp(a, "--", 2) == 0 ? 2 : 0);
        if (strncmp(a, "--", 2) != 0 || len >= sizeof name) {
            fprintf(stderr, "xfwd %s: unknown option '%s' (try xfwd %s --help)\n", argv[0], a, argv[0]);
            return 2;
        }
        memcpy(name, a + 2, len);
        name[len] = '\0';
        if (!allowed_has(allowed, name)) {
            fprintf(stderr, "xfwd %s: unknown option '%s' (try xfwd %s --help)\n", argv[0], a, argv[0]);
            return 2;
        }
        if (pick(name, switches, 6) >= 0) {
            if (eq) {
                fprintf(stderr, "xfwd %s: option '--%s' takes no value\n", argv[0], name);
                return 2;
            }
            if (!strcmp(name, "normalize")) o->normalize = 1;
            else if (!strcmp(name, "merge-adapter")) o->merge_adapter = 1;
            else if (!strcmp(name, "no-normalize")) o->no_normalize = 1;
            else if (!strcmp(name, "verbose")) o->verbose = 1;
            else if (!strcmp(name, "raw-scores")) o->raw_scores = 1;
            else o->quiet = 1;
            continue;
        }
        if (!eq && i + 1 >= argc) {
            fprintf(stderr, "xfwd %s: option '--%s' needs a value\n", argv[0], name);
            return 2;
        }
        const char *v = eq ? eq + 1 : argv[++i];
        char flag[80];
        snprintf(flag, sizeof flag, "--%s", name);
        int k, rc = 0;
        if (!strcmp(name, "model")) o->model = v;
        else if (!strcmp(name, "input")) o->input = v;
        else if (!strcmp(name, "output")) o->output = v;
        else if (!strcmp(name, "adapter")) o->adapter = v;
        else if (!strcmp(name, "shape")) o->shape = v;
        else if (!strcmp(name, "jsonl")) o->jsonl_out = v;
        else if (!strcmp(name, "cache-dir")) o->cache_dir = v;
        else if (!strcmp(name, "prompt-name")) o->prompt_name = v;
        else if (!strcmp(name, "prompt")) o->prompt = v;
        else if (!strcmp(name, "query")) o->query = v;
        else if (!strcmp(name, "documents")) o->documents = v;
        else if (!strcmp(name, "token-ids")) o->token_ids = v;
        else if (!strcmp(name, "instruction")) o->instruction = v;
        else if (!strcmp(name, "prefix")) o->prefix = v;
        else if (!strcmp(name, "suffix")) o->suffix = v;
        else if (!strcmp(name, "yes-token")) o->yes_token = v;
        else if (!strcmp(name, "no-token")) o->no_token = v;
        else if (!strcmp(name, "error-report")) o->error_report = v;
        else if (!strcmp(name, "dimensions")) rc = parse_int(flag, v, 1, &o->dimensions);
        else if (!strcmp(name, "devices")) {
            if ((o->n_devices = xf_cli_parse_devices(flag, v, o->devices, XF_CLI_MAX_DEVICES)) < 0) return 2;
        } else if (!strcmp(name, "truncate")) {
            if ((k = pick(v, truncate_names, 3)) < 1) {
                fprintf(stderr, "xfwd: --truncate must be left or right, got '%s'\n", v);
                return 2;
            }
            o->truncate = k;
        } else if (!strcmp(name, "on-error")) {
            if (strcmp(v, "fail") && strcmp(v, "skip")) {
                fprintf(stderr, "xfwd: --on-error must be fail or skip, got '%s'\n", v);
                return 2;
            }
            o->on_error_skip = !strcmp(v, "skip");
        } else if (!strcmp(name, "output-format")) {
            if (strcmp(v, "npy") && strcmp(v, "jsonl")) {
                fprintf(stderr, "xfwd: --output-format must be npy or jsonl, got '%s'\n", v);
                return 2;
            }
            o->output_format = !strcmp(v, "jsonl");
        } else if (!strcmp(name, "output-dtype")) {
            if (strcmp(v, "f32") && strcmp(v, "f16")) {
                fprintf(stderr, "xfwd: --output-dtype must be f32 or f16, got '%s'\n", v);
                return 2;
            }
            o->output_f16 = !strcmp(v, "f16");
        } else if (!strcmp(name, "backend")) {
            if ((k = pick(v, backend_names, 5)) < 0) {
                fprintf(stderr, "xfwd: --backend must be auto, cpu, cpu_ref, cuda or vulkan, got '%s'\n", v);
                return 2;
            }
            o->backend = (xf_backend)k;
        } else if (!strcmp(name, "dtype")) {
            if ((k = pick(v, dtype_names, 5)) < 0) {
                fprintf(stderr, "xfwd: --dtype must be auto, f32, tf32, bf16 or f16, got '%s'\n", v);
                return 2;
            }
            o->dtype_auto = k == 4;
            if (k < 4) o->dtype = (xf_dtype)k;
        } else if (!strcmp(name, "pooling")) {
            k = !strcmp(v, "cls") ? XF_POOL_FIRST : !strcmp(v, "lasttoken") ? XF_POOL_LAST : pick(v, pooling_names, 5);
            if (k < 0) {
                fprintf(stderr, "xfwd: --pooling must be last, mean, first, max or mean_sqrt_len, got '%s'\n", v);
                return 2;
            }
            o->pooling = (xf_pooling)k;
            o->pooling_set = 1;
        } else if (!strcmp(name, "max-tokens")) rc = parse_int(flag, v, 1, &o->max_tokens);
        else if (!strcmp(name, "chunk-sequences")) rc = parse_int(flag, v, 1, &o->chunk_seqs);
        else if (!strcmp(name, "threads")) rc = parse_int(flag, v, 0, &o->threads);
        else if (!strcmp(name, "max-line-bytes")) rc = parse_int(flag, v, 1, &o->max_line_bytes);
        else if (!strcmp(name, "batch")) rc = parse_int(flag, v, 1, &o->batch);
        else if (!strcmp(name, "seq")) rc = parse_int(flag, v, 1, &o->seq);
        else if (!strcmp(name, "iters")) rc = parse_int(flag, v, 1, &o->iters);
        else if (!strcmp(name, "warmup")) rc = parse_int(flag, v, 0, &o->warmup);
        if (rc) return rc;
    }
    return 0;
}

/* `xfwd info --verbose`: on stderr, the engine the flags ask for (backend, dtype,
 * adapter) and what it runs (xf_engine_describe: the recipe with each op's kernel). */
static int describe_engine(const xf_model *m, cli_opts *o) {
    xf_adapter *ad = NULL;
    xf_engine *e = NULL;
    char *text = NULL;
    int rc = 1;
    if (o->adapter && xf_adapter_open(m, o->adapter, &ad) != XF_OK) {
        xf_cli_fail("%s", xf_last_error());
        goto done;
    }
    const xf_adapter *ads[1] = {ad};
    if (xf_cli_engine(m, o, ad ? ads : NULL, &e)) goto done;
    if (xf_engine_describe(e, &text) != XF_OK) {
        xf_cli_fail("%s", xf_last_error());
        goto done;
    }
    fprintf(stderr, "xfwd info: %s%s%s\n%s", o->chosen, ad ? (o->merge_adapter ? ", adapter merged: " : ", adapter: ") : "",
            ad ? o->adapter : "", text);
    rc = 0;
done:
    free(text);
    xf_engine_free(e);
    xf_adapter_free(ad);
    return rc;
}

/* `xfwd info`: one JSON object — the architecture, what the folder declares about
 * attention and heads, and the sentence-embedding pipeline embed applies. */
static int cmd_info(int argc, char **argv) {
    cli_opts o;
    int rc = xf_cli_parse(argc, argv, "model verbose backend dtype adapter merge-adapter max-tokens threads cache-dir", &o);
    if (rc) return rc;
    if (!o.model) return fprintf(stderr, "xfwd info: --model DIR is required\n"), 2;
    xf_model *m = NULL;
    if (xf_model_open(o.model, &m) != XF_OK) return xf_cli_fail("%s", xf_last_error());
    xf_model_info i;
    xf_model_get_info(m, &i);
    json_t *d = json_object(), *labels = json_array(), *emb = json_object();
    const char *prompt = NULL;
    if (i.default_prompt_name) xf_model_prompt(m, i.default_prompt_name, &prompt);
    json_object_set_new(d, "model_type", json_string(i.model_type));
    json_object_set_new(d, "architecture", json_string(i.architecture));
    json_object_set_new(d, "hidden_size", json_integer(i.hidden_size));
    json_object_set_new(d, "intermediate_size", json_integer(i.intermediate_size));
    json_object_set_new(d, "num_layers", json_integer(i.n_layers));
    json_object_set_new(d, "num_heads", json_integer(i.n_heads));
    json_object_set_new(d, "num_kv_heads", json_integer(i.n_kv_heads));
    json_object_set_new(d, "head_dim", json_integer(i.head_dim));
    json_object_set_new(d, "vocab_size", json_integer(i.vocab_size));
    json_object_set_new(d, "max_position", json_integer(i.max_position));
    json_object_set_new(d, "rms_norm_eps", json_real(i.rms_norm_eps));
    json_object_set_new(d, "rope_theta", json_real(i.rope_theta));
    json_object_set_new(d, "tied_embeddings", json_boolean(i.tied_embeddings));
    json_object_set_new(d, "has_lm_head", json_boolean(i.has_lm_head));
    json_object_set_new(d, "num_labels", json_integer(i.num_labels));
    json_object_set_new(d, "weight_dtype", json_string(i.weight_dtype));
    json_object_set_new(d, "parameters", json_integer(i.n_params));
    json_object_set_new(d, "causal", json_boolean(i.causal));
    json_object_set_new(d, "sliding_window", json_integer(i.sliding_window));
    json_object_set_new(d, "pad_token_id", i.pad_token_id >= 0 ? json_integer(i.pad_token_id) : json_null());
    for (int k = 0; k < i.num_labels; k++) json_array_append_new(labels, json_string(i.labels[k]));
    if (i.num_labels > 0) json_object_set(d, "labels", labels);
    json_object_set_new(emb, "pooling", json_string(xf_cli_pooling_name(i.default_pooling)));
    json_object_set_new(emb, "include_prompt", json_boolean(i.include_prompt));
    json_object_set_new(emb, "dense_modules", json_integer(i.n_dense));
    json_object_set_new(emb, "normalize", json_boolean(i.default_normalize));
    json_object_set_new(emb, "dimensions", json_integer(i.embed_dim));
    json_object_set_new(emb, "max_seq_length", json_integer(i.max_seq_length));
    json_object_set_new(emb, "default_prompt_name", i.default_prompt_name ? json_string(i.default_prompt_name) : json_null());
    json_object_set_new(emb, "default_prompt", prompt ? json_string(prompt) : json_null());
    json_object_set(d, "embedding", emb);
    char *text = json_dumps(d, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    rc = text ? (puts(text), 0) : xf_cli_fail("%s: a name in its config is not valid UTF-8", o.model);
    free(text);
    fflush(stdout);
    if (rc == 0 && o.verbose) rc = describe_engine(m, &o);
    json_decref(labels);
    json_decref(emb);
    json_decref(d);
    xf_model_free(m);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        if (argc >= 3 && xf_cli_help(argv[2], stdout) == 0) return 0;  /* xfwd help CMD */
        xf_cli_help(NULL, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version")) return printf("xfwd %d.%d.%d\n", XFWD_VERSION_MAJOR, XFWD_VERSION_MINOR, XFWD_VERSION_PATCH), 0;
    /* xfwd CMD --help (serve prints its own) */
    for (int i = 2; i < argc && strcmp(cmd, "serve"); i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            if (xf_cli_help(cmd, stdout) == 0) return 0;
            break;
        }
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "hidden") || !strcmp(cmd, "logits") || !strcmp(cmd, "embed") || !strcmp(cmd, "classify"))
        return xf_cli_forward(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return xf_cli_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve")) return xf_cli_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "rerank")) return xf_cli_rerank(argc - 1, argv + 1);
    if (!strcmp(cmd, "tokenize")) return xf_cli_tokenize(argc - 1, argv + 1);
    if (!strcmp(cmd, "detokenize")) return xf_cli_detokenize(argc - 1, argv + 1);
    fprintf(stderr, "xfwd: unknown command '%s'\n", cmd);
    xf_cli_help(NULL, stderr);
    return 2;
}
