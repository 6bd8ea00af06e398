/* xfwd.c — the command-line tool: info, hidden, logits, embed, classify, rerank,
 * bench, tokenize, detokenize, serve. Errors: one line on stderr, non-zero exit status. */
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

static const char usage[] =
    "usage: xfwd <command> [options]\n"
    "  info     --model DIR\n"
    "  hidden   --model DIR --input IN.jsonl --output OUT.npy        float32 [T, H]\n"
    "  logits   --model DIR --input IN.jsonl --output OUT.npy        float32 [T, V]\n"
    "  embed    ... [--pooling last|mean|first|max|mean_sqrt_len] [--normalize|--no-normalize]\n"
    "               [--prompt-name NAME | --prompt TEXT] [--dimensions N] [--verbose]\n"
    "                                                               float32 [B, D] (the folder's pipeline)\n"
    "  classify ... [--jsonl OUT.jsonl]                             float32 [B, L] (+ labels)\n"
    "  rerank   --model DIR --query Q --documents DOCS.jsonl --output OUT.jsonl|OUT.npy\n"
    "               [--instruction T --prefix T --suffix T --yes-token T --no-token T] [--raw-scores]\n"
    "  rerank   --model DIR --input IN.jsonl --token-ids YES,NO --output OUT.npy   P(yes) float32 [B]\n"
    "  bench    (--model DIR | --shape NAME) [--batch B --seq S | --mixed N | --lengths FILE]\n"
    "               [--max-batch-tokens N] [--iters N --warmup N]  tokens/s, TFLOP/s (RESULT line)\n"
    "  tokenize (--model DIR | --tokenizer FILE) --input IN.jsonl --output OUT.jsonl [--no-special]\n"
    "  detokenize (--model DIR | --tokenizer FILE) --input IN.jsonl --output OUT.jsonl\n"
    "  serve    --model DIR [--port N --adapter NAME=DIR ...]       HTTP server (xfwd serve --help)\n"
    "common: --backend auto|cpu|cpu_ref|cuda|vulkan  --dtype f32|tf32|bf16|f16  --adapter DIR\n"
    "        [--merge-adapter] [--max-tokens N] [--threads N] [--cache-dir DIR] [--max-line-bytes N]\n"
    "        [--truncate left|right]   over-long texts cut to max_seq_length instead of an error\n"
    "IN.jsonl: one sequence per line: [ids...], {\"tokens\": [...]}, {\"text\": \"...\"} or\n"
    "          {\"text\": \"...\", \"text_pair\": \"...\"} (the tokenizer's pair template)\n";

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
static const char *const dtype_names[] = {"f32", "tf32", "bf16", "f16"};
/* indexed by xf_pooling; "cls" and "lasttoken" (sentence-transformers) are accepted too */
static const char *const pooling_names[] = {"last", "mean", "first", "max", "mean_sqrt_len"};
static const char *const truncate_names[] = {"none", "right", "left"};

const char *xf_cli_backend_name(xf_backend b) { return (unsigned)b < 5 ? backend_names[b] : "?"; }
const char *xf_cli_dtype_name(xf_dtype d) { return (unsigned)d < 4 ? dtype_names[d] : "?"; }

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

int xf_cli_parse(int argc, char **argv, const char *allowed, cli_opts *o) {
    memset(o, 0, sizeof *o);
    o->backend = XF_BACKEND_AUTO;
    o->dtype = XF_DTYPE_F32;
    o->batch = 1, o->seq = 128, o->iters = 10, o->warmup = 2;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || !allowed_has(allowed, a + 2)) {
            fprintf(stderr, "xfwd %s: unknown option '%s' (try xfwd --help)\n", argv[0], a);
            return 2;
        }
        const char *name = a + 2;
        if (!strcmp(name, "normalize")) { o->normalize = 1; continue; }
        if (!strcmp(name, "merge-adapter")) { o->merge_adapter = 1; continue; }
        if (!strcmp(name, "no-normalize")) { o->no_normalize = 1; continue; }
        if (!strcmp(name, "verbose")) { o->verbose = 1; continue; }
        if (!strcmp(name, "raw-scores")) { o->raw_scores = 1; continue; }
        if (i + 1 >= argc) {
            fprintf(stderr, "xfwd %s: option '%s' needs a value\n", argv[0], a);
            return 2;
        }
        const char *v = argv[++i];
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
        else if (!strcmp(name, "dimensions")) rc = parse_int(a, v, 1, &o->dimensions);
        else if (!strcmp(name, "truncate")) {
            if ((k = pick(v, truncate_names, 3)) < 1) {
                fprintf(stderr, "xfwd: --truncate must be left or right, got '%s'\n", v);
                return 2;
            }
            o->truncate = k;
        }
        else if (!strcmp(name, "backend")) {
            if ((k = pick(v, backend_names, 5)) < 0) {
                fprintf(stderr, "xfwd: --backend must be auto, cpu, cpu_ref, cuda or vulkan, got '%s'\n", v);
                return 2;
            }
            o->backend = (xf_backend)k;
        } else if (!strcmp(name, "dtype")) {
            if ((k = pick(v, dtype_names, 4)) < 0) {
                fprintf(stderr, "xfwd: --dtype must be f32, tf32, bf16 or f16, got '%s'\n", v);
                return 2;
            }
            o->dtype = (xf_dtype)k;
        } else if (!strcmp(name, "pooling")) {
            k = !strcmp(v, "cls") ? XF_POOL_FIRST : !strcmp(v, "lasttoken") ? XF_POOL_LAST : pick(v, pooling_names, 5);
            if (k < 0) {
                fprintf(stderr, "xfwd: --pooling must be last, mean, first, max or mean_sqrt_len, got '%s'\n", v);
                return 2;
            }
            o->pooling = (xf_pooling)k;
            o->pooling_set = 1;
        } else if (!strcmp(name, "max-tokens")) rc = parse_int(a, v, 1, &o->max_tokens);
        else if (!strcmp(name, "threads")) rc = parse_int(a, v, 0, &o->threads);
        else if (!strcmp(name, "max-line-bytes")) rc = parse_int(a, v, 1, &o->max_line_bytes);
        else if (!strcmp(name, "batch")) rc = parse_int(a, v, 1, &o->batch);
        else if (!strcmp(name, "seq")) rc = parse_int(a, v, 1, &o->seq);
        else if (!strcmp(name, "iters")) rc = parse_int(a, v, 1, &o->iters);
        else if (!strcmp(name, "warmup")) rc = parse_int(a, v, 0, &o->warmup);
        if (rc) return rc;
    }
    return 0;
}

/* `xfwd info`: one JSON object — the architecture, what the folder declares about
 * attention and heads, and the sentence-embedding pipeline embed applies. */
static int cmd_info(int argc, char **argv) {
    cli_opts o;
    int rc = xf_cli_parse(argc, argv, "model", &o);
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
    json_object_set_new(emb, "pooling", json_string(pooling_names[i.default_pooling]));
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
    json_decref(labels);
    json_decref(emb);
    json_decref(d);
    xf_model_free(m);
    return rc;
}

/* Writes classify results as JSONL: {"label": best, "scores": {name: score, ...}},
 * built with jansson (names are escaped as JSON needs). 0, or -1 after an error line. */
static int put_labels(xf_outfile *f, const xf_model_info *info, const float *scores, int32_t B) {
    for (int32_t b = 0; b < B; b++) {
        const float *s = scores + (int64_t)b * info->num_labels;
        int best = 0;
        for (int k = 1; k < info->num_labels; k++)
            if (s[k] > s[best]) best = k;
        json_t *line = json_object(), *all = json_object();
        int ok = line && all && json_object_set_new(line, "label", json_string(info->labels[best])) == 0;
        for (int k = 0; ok && k < info->num_labels; k++)
            ok = json_object_set_new(all, info->labels[k], json_real(s[k])) == 0;
        if (ok) ok = json_object_set(line, "scores", all) == 0;
        ok = ok && json_dumpf(line, f->f, JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9)) == 0 && fputc('\n', f->f) != EOF;
        json_decref(all);
        json_decref(line);
        if (!ok && !ferror(f->f)) {  /* a write failure is reported with its cause by the commit */
            xf_cli_fail("%s: a label of %s is not valid UTF-8, or out of memory", f->path, info->architecture);
            return -1;
        }
    }
    return 0;
}

int xf_cli_engine(const xf_model *m, const cli_opts *o, const xf_adapter *const *adapter, xf_engine **e) {
    xf_engine_options eo;
    xf_engine_options_init(&eo);
    eo.backend = o->backend;
    eo.dtype = o->dtype;
    if (o->max_tokens) eo.max_tokens = o->max_tokens;
    eo.n_threads = o->threads;
    eo.cache_dir = o->cache_dir;
    if (adapter && adapter[0]) eo.adapters = adapter, eo.n_adapters = 1, eo.merge_adapters = o->merge_adapter;
    if (xf_engine_create(m, &eo, e) != XF_OK) return xf_cli_fail("%s", xf_last_error());
    return 0;
}

/* embed's prompt: --prompt TEXT, --prompt-name NAME, else the folder's default_prompt_name. */
static int embed_prompt(const xf_model *m, const xf_model_info *info, const cli_opts *o, const char **prompt,
                        const char **name) {
    *prompt = o->prompt, *name = o->prompt ? "(--prompt)" : o->prompt_name ? o->prompt_name : info->default_prompt_name;
    if (o->prompt || !*name) return 0;
    if (xf_model_prompt(m, *name, prompt) != XF_OK) return xf_cli_fail("%s", xf_last_error());
    return 0;
}

/* --verbose: what embed computes, on stderr. */
static void print_pipeline(const char *cmd, const xf_engine *e, const cli_opts *o, const xf_model_info *info,
                           const xf_encode_options *eo, const char *prompt_name, const char *prompt) {
    int pooling = eo->pooling == XF_POOL_DEFAULT ? info->default_pooling : eo->pooling;
    int normalize = eo->normalize < 0 ? info->default_normalize : eo->normalize;
    fprintf(stderr, "xfwd %s: backend %s, dtype %s; pooling %s (%s), include_prompt %s, %d Dense module%s -> %d, "
                    "normalize %s (%s), dimensions %d; prompt %s%s%s%s\n",
            cmd, xf_cli_backend_name(xf_engine_backend(e)), xf_cli_dtype_name(o->dtype), pooling_names[pooling],
            o->pooling_set ? "--pooling" : "folder", info->include_prompt ? "true" : "false", info->n_dense,
            info->n_dense == 1 ? "" : "s", info->embed_dim, normalize ? "yes" : "no",
            o->normalize || o->no_normalize ? "flag" : "folder", eo->dimensions ? eo->dimensions : info->embed_dim,
            prompt ? prompt_name : "none", prompt ? " = \"" : "", prompt ? prompt : "", prompt ? "\"" : "");
}

static int cmd_forward(int argc, char **argv) {
    const char *cmd = argv[0];
    cli_opts o;
    int rc = xf_cli_parse(argc, argv,
                          "model input output backend dtype adapter merge-adapter max-tokens threads cache-dir "
                          "pooling normalize no-normalize prompt-name prompt dimensions verbose truncate jsonl "
                          "max-line-bytes",
                          &o);
    if (rc) return rc;
    int is_embed = !strcmp(cmd, "embed"), is_cls = !strcmp(cmd, "classify");
    if (!o.model || !o.input || !o.output)
        return fprintf(stderr, "xfwd %s: --model DIR, --input IN.jsonl and --output OUT.npy are required\n", cmd), 2;
    if ((o.pooling_set || o.normalize || o.no_normalize || o.prompt_name || o.prompt || o.dimensions || o.verbose) &&
        !is_embed)
        return fprintf(stderr,
                       "xfwd %s: --pooling, --normalize, --no-normalize, --prompt, --prompt-name, --dimensions and "
                       "--verbose apply to embed only\n",
                       cmd), 2;
    if (o.normalize && o.no_normalize) return fprintf(stderr, "xfwd embed: --normalize or --no-normalize, not both\n"), 2;
    if (o.prompt && o.prompt_name) return fprintf(stderr, "xfwd embed: --prompt or --prompt-name, not both\n"), 2;
    if (o.jsonl_out && !is_cls) return fprintf(stderr, "xfwd %s: --jsonl applies to classify only\n", cmd), 2;
    if (o.merge_adapter && !o.adapter) return fprintf(stderr, "xfwd %s: --merge-adapter needs --adapter DIR\n", cmd), 2;

    xf_model *m = NULL;
    xf_adapter *ad = NULL;
    xf_engine *e = NULL;
    xf_tokens seqs = {0};
    float *out = NULL;
    char err[4400];
    /* outputs first: an unwritable destination fails before any work */
    xf_outfile npy_file, labels_file;
    memset(&labels_file, 0, sizeof labels_file);
    if (xf_outfile_open(&npy_file, o.output, err, sizeof err)) return xf_cli_fail("%s", err);
    if (o.jsonl_out && xf_outfile_open(&labels_file, o.jsonl_out, err, sizeof err)) {
        xf_outfile_abort(&npy_file);
        return xf_cli_fail("%s", err);
    }
    rc = 1;
    if (xf_model_open(o.model, &m) != XF_OK) { xf_cli_fail("%s", xf_last_error()); goto done; }
    xf_model_info info;
    xf_model_get_info(m, &info);
    if (!strcmp(cmd, "logits") && !info.has_lm_head) {
        xf_cli_fail("%s: the checkpoint has no lm_head and untied embeddings (a headless model), so no logits", o.model);
        goto done;
    }
    if (is_cls && info.num_labels == 0) {
        xf_cli_fail("%s: not a sequence-classification model (no score head)", o.model);
        goto done;
    }
    if (o.dimensions > info.embed_dim) {
        xf_cli_fail("%s: --dimensions %d: the model's embeddings have %d", o.model, o.dimensions, info.embed_dim);
        goto done;
    }
    const char *prompt = NULL, *prompt_name = NULL;
    if (is_embed && embed_prompt(m, &info, &o, &prompt, &prompt_name)) goto done;
    if (o.adapter && xf_adapter_open(m, o.adapter, &ad) != XF_OK) { xf_cli_fail("%s", xf_last_error()); goto done; }
    size_t line_limit = o.max_line_bytes ? (size_t)o.max_line_bytes : xf_default_line_limit(info.max_position);
    xf_text_options to;
    xf_text_options_init(&to);
    to.prompt = prompt;
    to.truncate = o.truncate;
    if (xf_cli_read_inputs(o.input, m, o.model, &to, line_limit, &seqs, err, sizeof err)) { xf_cli_fail("%s", err); goto done; }
    const xf_adapter *ads[1] = {ad};
    if (xf_cli_engine(m, &o, ads, &e)) goto done;
    xf_batch b = {.tokens = seqs.tokens, .seq_lens = seqs.seq_lens, .n_seqs = seqs.n_seqs};
    xf_encode_options eo;
    xf_encode_options_init(&eo);
    if (o.pooling_set) eo.pooling = o.pooling;
    if (o.normalize || o.no_normalize) eo.normalize = o.normalize;
    eo.dimensions = o.dimensions;
    eo.prompt_lens = seqs.prompt_lens;
    if (o.verbose) print_pipeline(cmd, e, &o, &info, &eo, prompt_name, prompt);
    int64_t rows = is_embed || is_cls ? seqs.n_seqs : seqs.n_tokens;
    int64_t cols = !strcmp(cmd, "logits") ? info.vocab_size : is_cls ? info.num_labels : info.hidden_size;
    if (is_embed) cols = o.dimensions ? o.dimensions : info.embed_dim;
    out = malloc(sizeof(float) * (size_t)(rows * cols));
    if (!out) { xf_cli_fail("out of memory for a [%lld, %lld] output", (long long)rows, (long long)cols); goto done; }
    xf_status st;
    if (!strcmp(cmd, "hidden")) st = xf_engine_hidden(e, &b, out);
    else if (!strcmp(cmd, "logits")) st = xf_engine_logits(e, &b, out);
    else if (is_embed) st = xf_engine_encode(e, &b, &eo, out);
    else st = xf_engine_classify(e, &b, out);
    if (st != XF_OK) { xf_cli_fail("%s: %s", o.input, xf_last_error()); goto done; }
    xf_npy_put(&npy_file, out, rows, cols);
    if (o.jsonl_out && put_labels(&labels_file, &info, out, seqs.n_seqs) != 0) goto done;
    if (xf_outfile_commit(&npy_file, err, sizeof err) != 0) { xf_cli_fail("%s", err); goto done; }
    if (o.jsonl_out && xf_outfile_commit(&labels_file, err, sizeof err) != 0) { xf_cli_fail("%s", err); goto done; }
    rc = 0;
done:
    xf_outfile_abort(&npy_file);    /* after a commit: nothing to do; else the old files stay */
    xf_outfile_abort(&labels_file);
    free(out);
    xf_tokens_free(&seqs);
    xf_engine_free(e);
    xf_adapter_free(ad);
    xf_model_free(m);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "--version")) return printf("xfwd %d.%d.%d\n", XFWD_VERSION_MAJOR, XFWD_VERSION_MINOR, XFWD_VERSION_PATCH), 0;
    if (!strcmp(cmd, "info")) return cmd_info(argc - 1, argv + 1);
    if (!strcmp(cmd, "hidden") || !strcmp(cmd, "logits") || !strcmp(cmd, "embed") || !strcmp(cmd, "classify"))
        return cmd_forward(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return xf_cli_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "serve")) return xf_cli_serve(argc - 1, argv + 1);
    if (!strcmp(cmd, "rerank")) return xf_cli_rerank(argc - 1, argv + 1);
    if (!strcmp(cmd, "tokenize")) return xf_cli_tokenize(argc - 1, argv + 1);
    if (!strcmp(cmd, "detokenize")) return xf_cli_detokenize(argc - 1, argv + 1);
    fprintf(stderr, "xfwd: unknown command '%s'\n%s", cmd, usage);
    return 2;
}
