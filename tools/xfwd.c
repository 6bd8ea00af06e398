/* xfwd.c — the command-line tool: info, hidden, logits, embed, classify, bench,
 * tokenize, detokenize. Errors: one line on stderr, non-zero exit status. */
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
    "  embed    ... [--pooling last|mean|first] [--normalize]        float32 [B, H]\n"
    "  classify ... [--jsonl OUT.jsonl]                             float32 [B, L] (+ labels)\n"
    "  bench    (--model DIR | --shape NAME) [--batch B --seq S --iters N --warmup N]\n"
    "  tokenize (--model DIR | --tokenizer FILE) --input IN.jsonl --output OUT.jsonl [--no-special]\n"
    "  detokenize (--model DIR | --tokenizer FILE) --input IN.jsonl --output OUT.jsonl\n"
    "  serve    --model DIR [--port N --adapter NAME=DIR ...]       HTTP server (xfwd serve --help)\n"
    "common: --backend auto|cpu|cpu_ref|cuda|vulkan  --dtype f32|tf32|bf16|f16  --adapter DIR\n"
    "        [--merge-adapter] [--max-tokens N] [--threads N] [--cache-dir DIR] [--max-line-bytes N]\n"
    "IN.jsonl: one sequence per line: [ids...], {\"tokens\": [...]} or {\"text\": \"...\"}\n";

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
static const char *const pooling_names[] = {"last", "mean", "first"};

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
            if ((k = pick(v, pooling_names, 3)) < 0) {
                fprintf(stderr, "xfwd: --pooling must be last, mean or first, got '%s'\n", v);
                return 2;
            }
            o->pooling = (xf_pooling)k;
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

static int cmd_info(int argc, char **argv) {
    cli_opts o;
    int rc = xf_cli_parse(argc, argv, "model", &o);
    if (rc) return rc;
    if (!o.model) return fprintf(stderr, "xfwd info: --model DIR is required\n"), 2;
    xf_model *m = NULL;
    if (xf_model_open(o.model, &m) != XF_OK) return xf_cli_fail("%s", xf_last_error());
    xf_model_info i;
    xf_model_get_info(m, &i);
    printf("{\"model_type\": \"%s\", \"architecture\": \"%s\", \"hidden_size\": %d, \"intermediate_size\": %d, "
           "\"num_layers\": %d, \"num_heads\": %d, \"num_kv_heads\": %d, \"head_dim\": %d, \"vocab_size\": %d, "
           "\"max_position\": %d, \"rms_norm_eps\": %g, \"rope_theta\": %g, \"tied_embeddings\": %s, "
           "\"has_lm_head\": %s, \"num_labels\": %d, \"weight_dtype\": \"%s\", \"parameters\": %lld",
           i.model_type, i.architecture, i.hidden_size, i.intermediate_size, i.n_layers, i.n_heads, i.n_kv_heads,
           i.head_dim, i.vocab_size, i.max_position, i.rms_norm_eps, i.rope_theta,
           i.tied_embeddings ? "true" : "false", i.has_lm_head ? "true" : "false", i.num_labels, i.weight_dtype,
           (long long)i.n_params);
    if (i.num_labels > 0) {
        printf(", \"labels\": [");
        for (int k = 0; k < i.num_labels; k++) {
            printf("%s\"", k ? ", " : "");
            for (const char *p = i.labels[k]; *p; p++)
                if (*p == '"' || *p == '\\') printf("\\%c", *p);
                else if ((unsigned char)*p < 0x20) printf("\\u%04x", *p);
                else putchar(*p);
            putchar('"');
        }
        printf("]");
    }
    printf("}\n");
    xf_model_free(m);
    return 0;
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

static int cmd_forward(int argc, char **argv) {
    const char *cmd = argv[0];
    cli_opts o;
    int rc = xf_cli_parse(argc, argv,
                          "model input output backend dtype adapter merge-adapter max-tokens threads cache-dir "
                          "pooling normalize jsonl max-line-bytes",
                          &o);
    if (rc) return rc;
    int is_embed = !strcmp(cmd, "embed"), is_cls = !strcmp(cmd, "classify");
    if (!o.model || !o.input || !o.output)
        return fprintf(stderr, "xfwd %s: --model DIR, --input IN.jsonl and --output OUT.npy are required\n", cmd), 2;
    if ((o.pooling || o.normalize) && !is_embed)
        return fprintf(stderr, "xfwd %s: --pooling/--normalize apply to embed only\n", cmd), 2;
    if (o.jsonl_out && !is_cls) return fprintf(stderr, "xfwd %s: --jsonl applies to classify only\n", cmd), 2;
    if (o.merge_adapter && !o.adapter) return fprintf(stderr, "xfwd %s: --merge-adapter needs --adapter DIR\n", cmd), 2;

    xf_model *m = NULL;
    xf_adapter *ad = NULL;
    xf_engine *e = NULL;
    xf_seqs seqs = {0};
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
    if (!strcmp(cmd, "logits") && !info.has_lm_head) { xf_cli_fail("%s: the model has no lm_head, so no logits", o.model); goto done; }
    if (is_cls && info.num_labels == 0) {
        xf_cli_fail("%s: not a sequence-classification model (no score head)", o.model);
        goto done;
    }
    if (o.adapter && xf_adapter_open(m, o.adapter, &ad) != XF_OK) { xf_cli_fail("%s", xf_last_error()); goto done; }
    size_t line_limit = o.max_line_bytes ? (size_t)o.max_line_bytes : xf_default_line_limit(info.max_position);
    if (xf_seqs_read(o.input, o.model, line_limit, &seqs, err, sizeof err) != 0) { xf_cli_fail("%s", err); goto done; }
    xf_engine_options eo;
    xf_engine_options_init(&eo);
    eo.backend = o.backend;
    eo.dtype = o.dtype;
    if (o.max_tokens) eo.max_tokens = o.max_tokens;
    eo.n_threads = o.threads;
    eo.cache_dir = o.cache_dir;
    const xf_adapter *ads[1] = {ad};
    if (ad) eo.adapters = ads, eo.n_adapters = 1, eo.merge_adapters = o.merge_adapter;
    if (xf_engine_create(m, &eo, &e) != XF_OK) { xf_cli_fail("%s", xf_last_error()); goto done; }
    xf_batch b = {.tokens = seqs.tokens, .seq_lens = seqs.lens, .n_seqs = seqs.n_seqs};
    int64_t rows = is_embed || is_cls ? seqs.n_seqs : seqs.n_tokens;
    int64_t cols = !strcmp(cmd, "logits") ? info.vocab_size : is_cls ? info.num_labels : info.hidden_size;
    out = malloc(sizeof(float) * (size_t)(rows * cols));
    if (!out) { xf_cli_fail("out of memory for a [%lld, %lld] output", (long long)rows, (long long)cols); goto done; }
    xf_status st;
    if (!strcmp(cmd, "hidden")) st = xf_engine_hidden(e, &b, out);
    else if (!strcmp(cmd, "logits")) st = xf_engine_logits(e, &b, out);
    else if (is_embed) st = xf_engine_embed(e, &b, o.pooling, o.normalize, out);
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
    xf_seqs_free(&seqs);
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
    if (!strcmp(cmd, "tokenize")) return xf_cli_tokenize(argc - 1, argv + 1);
    if (!strcmp(cmd, "detokenize")) return xf_cli_detokenize(argc - 1, argv + 1);
    fprintf(stderr, "xfwd: unknown command '%s'\n%s", cmd, usage);
    return 2;
}
