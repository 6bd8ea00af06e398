/* cmd_forward.c — `xfwd hidden | logits | embed | classify`: the input is read
 * one line at a time (cli_input.h) into chunks of at most --max-tokens tokens or
 * --chunk-sequences sequences (a longer sequence is a chunk alone), each chunk is
 * run and its rows written at once (cli_output.h), so memory is bounded by the
 * chunk, not the file. A bad line is an error naming it, or with --on-error skip
 * a report line and a placeholder row that keeps the output aligned with the
 * input. On a terminal a progress line is kept up to date on stderr.
 * With --devices (replicas), one engine per device: chunks are filled one per
 * engine, run side by side (a thread per engine) and written in input order. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "cli_input.h"
#include "cli_output.h"

#define DEFAULT_CHUNK_TOKENS 8192   /* the engine's default max_tokens */
#define DEFAULT_CHUNK_SEQS 1024

typedef enum { CMD_HIDDEN, CMD_LOGITS, CMD_EMBED, CMD_CLASSIFY } fwd_kind;

/* One input line of a chunk: a sequence of the batch, or a skipped line. */
typedef struct chunk_item {
    long line;
    char *id_json;      /* the input's "id" as JSON, or NULL */
    char *error;        /* NULL: a sequence; else why the line is skipped */
    int in_batch;       /* the line is a sequence of the batch (it may still fail alone) */
    int32_t seq;        /* its index in the batch */
} chunk_item;

/* The lines read and not yet written. */
typedef struct chunk {
    int32_t *tokens;            /* [n_tokens] */
    int32_t *lens, *prompt_lens; /* [n_seqs] */
    int64_t n_tokens, cap_tokens;
    int32_t n_seqs, cap_seqs;
    chunk_item *items;          /* [n_items], in input order */
    int32_t n_items, cap_items;
    float *out;                 /* [rows, cols] of the last run */
    size_t out_cap;
    /* the run (run_chunk, maybe on its engine's thread): 0, or 1 with msg to report */
    int failed;
    char msg[4400];
    double t_forward;
} chunk;

typedef struct progress {
    int on;                 /* stderr is a terminal and not --quiet */
    int shown;              /* a progress line is on the screen */
    const char *cmd;
    double t0, last;
    int64_t seqs, tokens, skipped;
    double t_forward, t_input, t_output;  /* seconds in each part (--verbose) */
} progress;

typedef struct job {
    const char *cmd;
    fwd_kind kind;
    cli_opts *o;
    xf_engine *e;               /* engines[0] */
    xf_engine *engines[XF_CLI_MAX_DEVICES];
    int n_engines;
    xf_encode_options enc;
    int64_t cols;
    int per_token;
    xf_cli_output out, labels;  /* labels: classify --jsonl */
    int has_labels;
    xf_outfile report;          /* --error-report */
    int has_report;
    const char *input_name;
    progress pr;
    chunk c[XF_CLI_MAX_DEVICES]; /* one being filled, run and written per engine */
    int cur;                    /* the chunk being filled */
} job;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---------------------------------------------------------------- progress */

static void progress_clear(progress *p) {
    if (p->shown) fputs("\r\033[K", stderr), p->shown = 0;
}

/* frac: the part of the input read (a regular file), or < 0 when unknown */
static void progress_show(progress *p, double frac, int final) {
    double t = now_s();
    if (!p->on || (!final && t - p->last < 0.5)) return;
    p->last = t;
    double el = t - p->t0, rate = el > 0 ? p->tokens / el : 0;
    char eta[64] = "";
    if (frac > 0 && frac < 1 && !final && p->tokens > 0) {
        long s = (long)(el * (1 - frac) / frac + 0.5);
        snprintf(eta, sizeof eta, ", %.0f%%, ETA %ld:%02ld:%02ld", 100 * frac, s / 3600, s / 60 % 60, s % 60);
    }
    char skipped[48] = "";
    if (p->skipped) snprintf(skipped, sizeof skipped, ", %lld skipped", (long long)p->skipped);
    fprintf(stderr, "\r\033[Kxfwd %s: %lld sequences, %lld tokens, %.0f tokens/s%s%s%s", p->cmd, (long long)p->seqs,
            (long long)p->tokens, rate, skipped, eta, final ? "\n" : "");
    fflush(stderr);
    p->shown = !final;
}

/* ---------------------------------------------------------------- chunks */

static int grow(void **p, size_t elem, int64_t need, int64_t *cap) {
    if (need <= *cap) return 0;
    int64_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *g = realloc(*p, elem * (size_t)c);
    if (!g) return -1;
    *p = g, *cap = c;
    return 0;
}

static int add_item(chunk *c, long line, char **id_json, char *error, int in_batch) {
    int64_t cap = c->cap_items;
    if (grow((void **)&c->items, sizeof *c->items, c->n_items + 1, &cap)) return -1;
    c->cap_items = (int32_t)cap;
    c->items[c->n_items++] =
        (chunk_item){.line = line, .id_json = *id_json, .error = error, .in_batch = in_batch, .seq = c->n_seqs};
    *id_json = NULL;
    return 0;
}

/* Takes the reader's sequence into the chunk (its id_json too). */
static int add_seq(chunk *c, xf_cli_input *in) {
    int64_t cap = c->cap_seqs;
    if (grow((void **)&c->tokens, sizeof(int32_t), c->n_tokens + in->n, &c->cap_tokens)) return -1;
    if (grow((void **)&c->lens, sizeof(int32_t), c->n_seqs + 1, &cap)) return -1;
    cap = c->cap_seqs;
    if (grow((void **)&c->prompt_lens, sizeof(int32_t), c->n_seqs + 1, &cap)) return -1;
    c->cap_seqs = (int32_t)cap;
    if (add_item(c, in->lineno, &in->id_json, NULL, 1)) return -1;
    memcpy(c->tokens + c->n_tokens, in->ids, sizeof(int32_t) * (size_t)in->n);
    c->n_tokens += in->n;
    c->prompt_lens[c->n_seqs] = in->prompt_len;
    c->lens[c->n_seqs++] = (int32_t)in->n;
    return 0;
}

static void chunk_reset(chunk *c) {
    for (int32_t i = 0; i < c->n_items; i++) free(c->items[i].id_json), free(c->items[i].error);
    c->n_items = 0, c->n_seqs = 0, c->n_tokens = 0;
}

static void chunk_free(chunk *c) {
    chunk_reset(c);
    free(c->tokens), free(c->lens), free(c->prompt_lens), free(c->items), free(c->out);
    memset(c, 0, sizeof *c);
}

/* ---------------------------------------------------------------- running */

/* The command's forward on b into out, on engine e. */
static xf_status run(const job *j, xf_engine *e, const xf_batch *b, const int32_t *prompt_lens, float *out) {
    switch (j->kind) {
    case CMD_HIDDEN: return xf_engine_hidden(e, b, out);
    case CMD_LOGITS: return xf_engine_logits(e, b, out);
    case CMD_EMBED: {
        xf_encode_options eo = j->enc;
        eo.prompt_lens = prompt_lens;
        return xf_engine_encode(e, b, &eo, out);
    }
    default: return xf_engine_classify(e, b, out);
    }
}

/* A skipped line: the report (or stderr), and its place in the outputs. */
static int skip_line(job *j, long line, const char *msg, const char *id_json) {
    j->pr.skipped++;
    if (j->has_report) {
        char *m = xf_cli_json_string(msg);
        fprintf(j->report.f, "{\"line\": %ld, \"error\": %s}\n", line, m ? m : "\"(not valid UTF-8)\"");
        free(m);
    } else {
        progress_clear(&j->pr);
        fprintf(stderr, "xfwd: %s (skipped)\n", msg);
    }
    if (xf_cli_output_skip(&j->out, msg, id_json)) return -1;
    return j->has_labels ? xf_cli_output_skip(&j->labels, msg, id_json) : 0;
}

/* Runs chunk c on engine e: the forward, and under --on-error skip each sequence alone
 * after a failure, to find the line(s) at fault. Safe on its own thread (touches only c
 * and e); a failure to report is left in c->failed and c->msg. */
static void run_chunk(const job *j, chunk *c, xf_engine *e) {
    c->failed = 0;
    c->t_forward = 0;
    if (c->n_seqs == 0) return;
    const int64_t rows = j->per_token ? c->n_tokens : c->n_seqs;
    int64_t cap = (int64_t)c->out_cap;
    if (grow((void **)&c->out, sizeof(float), rows * j->cols, &cap)) {
        c->failed = 1;
        snprintf(c->msg, sizeof c->msg, "out of memory for a [%lld, %lld] chunk", (long long)rows, (long long)j->cols);
        return;
    }
    c->out_cap = (size_t)cap;
    xf_batch b = {.tokens = c->tokens, .seq_lens = c->lens, .n_seqs = c->n_seqs};
    const double t0 = now_s();
    const xf_status st = run(j, e, &b, c->prompt_lens, c->out);
    if (st != XF_OK) {
        const long first = c->items[0].line, last = c->items[c->n_items - 1].line;
        if (!j->o->on_error_skip) {
            c->failed = 1;
            snprintf(c->msg, sizeof c->msg, "%s:%ld-%ld: %s", j->input_name, first, last, xf_last_error());
            c->t_forward = now_s() - t0;
            return;
        }
        int64_t tok = 0, row = 0;
        for (int32_t i = 0; i < c->n_items; i++) {
            chunk_item *it = &c->items[i];
            if (!it->in_batch) continue;
            xf_batch one = {.tokens = c->tokens + tok, .seq_lens = c->lens + it->seq, .n_seqs = 1};
            if (run(j, e, &one, c->prompt_lens + it->seq, c->out + row * j->cols) != XF_OK) {
                char msg[4400];
                snprintf(msg, sizeof msg, "%s:%ld: %s", j->input_name, it->line, xf_last_error());
                it->error = strdup(msg);
                if (!it->error) {
                    c->failed = 1;
                    snprintf(c->msg, sizeof c->msg, "out of memory");
                    break;
                }
            }
            tok += c->lens[it->seq];
            row += j->per_token ? c->lens[it->seq] : 1;
        }
    }
    c->t_forward = now_s() - t0;
}

typedef struct replica_run {
    const job *j;
    chunk *c;
    xf_engine *e;
} replica_run;

static void *replica_thread(void *arg) {
    replica_run *r = arg;
    run_chunk(r->j, r->c, r->e);
    return NULL;
}

/* Writes chunk c's lines in input order. 0, or 1 after an error line. */
static int write_chunk(job *j, chunk *c) {
    const double t_out = now_s();
    int64_t row = 0;  /* the first output row of the item's sequence */
    for (int32_t i = 0; i < c->n_items; i++) {
        const chunk_item *it = &c->items[i];
        const int64_t n = !it->in_batch ? 0 : j->per_token ? c->lens[it->seq] : 1;
        if (!it->error) {
            if (xf_cli_output_put(&j->out, c->out + row * j->cols, n, it->id_json)) break;
            if (j->has_labels && xf_cli_output_put(&j->labels, c->out + row * j->cols, 1, it->id_json)) break;
            j->pr.seqs++, j->pr.tokens += c->lens[it->seq];
        } else if (skip_line(j, it->line, it->error, it->id_json)) {
            break;
        }
        row += n;
    }
    chunk_reset(c);
    /* the chunk's rows leave the process now (a reader of the temporary file, a pipe, sees them) */
    fflush(j->out.f.f);
    if (j->has_labels) fflush(j->labels.f.f);
    j->pr.t_output += now_s() - t_out;
    xf_cli_output *bad = xf_cli_output_failed(&j->out) ? &j->out
                         : j->has_labels && xf_cli_output_failed(&j->labels) ? &j->labels : NULL;
    if (bad) {  /* stop at once; the commit names the cause (no space left on device, ...) */
        char err[4400];
        progress_clear(&j->pr);
        if (xf_cli_output_commit(bad, err, sizeof err)) return xf_cli_fail("%s", err);
        return xf_cli_fail("%s: cannot write", j->o->output);
    }
    return 0;
}

/* Runs the filled chunks c[0..cur] — side by side, one thread per engine, with
 * replicas — then writes them in input order. 0, or 1 after an error line. */
static int flush(job *j) {
    const int n = j->cur + 1;
    pthread_t threads[XF_CLI_MAX_DEVICES];
    replica_run runs[XF_CLI_MAX_DEVICES];
    int started[XF_CLI_MAX_DEVICES] = {0};
    for (int k = 1; k < n; k++) {
        runs[k] = (replica_run){j, &j->c[k], j->engines[k]};
        started[k] = pthread_create(&threads[k], NULL, replica_thread, &runs[k]) == 0;
        if (!started[k]) run_chunk(j, &j->c[k], j->engines[k]);
    }
    run_chunk(j, &j->c[0], j->engines[0]);
    double longest = j->c[0].t_forward;
    for (int k = 1; k < n; k++) {
        if (started[k]) pthread_join(threads[k], NULL);
        if (j->c[k].t_forward > longest) longest = j->c[k].t_forward;
    }
    j->pr.t_forward += longest;  /* wall time of the forwards, side by side */
    j->cur = 0;
    for (int k = 0; k < n; k++) {
        if (j->c[k].failed) {
            progress_clear(&j->pr);
            return xf_cli_fail("%s", j->c[k].msg);
        }
        if (write_chunk(j, &j->c[k])) return 1;
    }
    return 0;
}

/* ---------------------------------------------------------------- the command */

/* embed's prompt: --prompt TEXT, --prompt-name NAME, else the folder's default_prompt_name. */
static int embed_prompt(const xf_model *m, const xf_model_info *info, const cli_opts *o, const char **prompt,
                        const char **name) {
    *prompt = o->prompt, *name = o->prompt ? "(--prompt)" : o->prompt_name ? o->prompt_name : info->default_prompt_name;
    if (o->prompt || !*name) return 0;
    if (xf_model_prompt(m, *name, prompt) != XF_OK) return xf_cli_fail("%s", xf_last_error());
    return 0;
}

/* --verbose: the backend and dtype chosen, and for embed the pipeline, on stderr. */
static void print_choice(const job *j, const xf_model_info *info, const char *prompt_name, const char *prompt,
                         int64_t chunk_tokens, int chunk_seqs) {
    const cli_opts *o = j->o;
    fprintf(stderr, "xfwd %s: %s; chunks of <= %lld tokens or %d sequences\n", j->cmd, o->chosen,
            (long long)chunk_tokens, chunk_seqs);
    if (o->n_devices > 0) {
        fprintf(stderr, "xfwd %s: %d engines (replicas) on devices", j->cmd, j->n_engines);
        for (int k = 0; k < o->n_devices; k++) fprintf(stderr, "%s%d", k ? "," : " ", o->devices[k]);
        fputc('\n', stderr);
    }
    if (j->kind != CMD_EMBED) return;
    const xf_encode_options *eo = &j->enc;
    int pooling = eo->pooling == XF_POOL_DEFAULT ? info->default_pooling : eo->pooling;
    int normalize = eo->normalize < 0 ? info->default_normalize : eo->normalize;
    fprintf(stderr, "xfwd %s: backend %s, dtype %s; pooling %s (%s), include_prompt %s, %d Dense module%s -> %d, "
                    "normalize %s (%s), dimensions %d; prompt %s%s%s%s\n",
            j->cmd, xf_cli_backend_name(xf_engine_backend(j->e)), xf_cli_dtype_name(o->dtype),
            xf_cli_pooling_name(pooling), o->pooling_set ? "--pooling" : "folder", info->include_prompt ? "true" : "false",
            info->n_dense, info->n_dense == 1 ? "" : "s", info->embed_dim, normalize ? "yes" : "no",
            o->normalize || o->no_normalize ? "flag" : "folder", eo->dimensions ? eo->dimensions : info->embed_dim,
            prompt ? prompt_name : "none", prompt ? " = \"" : "", prompt ? prompt : "", prompt ? "\"" : "");
}

/* npy unless --output-format says otherwise or the name ends in .jsonl / .json / .ndjson, or is "-" */
static xf_cli_format output_format(const cli_opts *o) {
    if (o->output_format >= 0) return o->output_format ? XF_FORMAT_JSONL : XF_FORMAT_NPY;
    const char *dot = strrchr(o->output, '.');
    if (!strcmp(o->output, "-") || (dot && (!strcmp(dot, ".jsonl") || !strcmp(dot, ".json") || !strcmp(dot, ".ndjson"))))
        return XF_FORMAT_JSONL;
    return XF_FORMAT_NPY;
}

/* Checks the flags against the command. 0, or 2 after a usage line. */
static int check_flags(const char *cmd, fwd_kind kind, const cli_opts *o) {
    if (!o->model || !o->input || !o->output)
        return fprintf(stderr, "xfwd %s: --model DIR, --input IN.jsonl and --output OUT are required (xfwd %s --help)\n",
                       cmd, cmd), 2;
    if ((o->pooling_set || o->normalize || o->no_normalize || o->prompt_name || o->prompt || o->dimensions) &&
        kind != CMD_EMBED)
        return fprintf(stderr, "xfwd %s: --pooling, --normalize, --no-normalize, --prompt, --prompt-name and "
                               "--dimensions apply to embed only\n", cmd), 2;
    if (o->normalize && o->no_normalize) return fprintf(stderr, "xfwd embed: --normalize or --no-normalize, not both\n"), 2;
    if (o->prompt && o->prompt_name) return fprintf(stderr, "xfwd embed: --prompt or --prompt-name, not both\n"), 2;
    if (o->jsonl_out && kind != CMD_CLASSIFY) return fprintf(stderr, "xfwd %s: --jsonl applies to classify only\n", cmd), 2;
    if (o->merge_adapter && !o->adapter) return fprintf(stderr, "xfwd %s: --merge-adapter needs --adapter DIR\n", cmd), 2;
    if (o->error_report && !o->on_error_skip)
        return fprintf(stderr, "xfwd %s: --error-report FILE goes with --on-error skip\n", cmd), 2;
    return 0;
}

/* Reads, runs and writes the whole input. 0, or 1 after an error line. */
static int stream(job *j, xf_cli_input *in, int64_t chunk_tokens, int chunk_seqs) {
    char err[4400];
    int64_t lines = 0;
    for (;;) {
        const double t0 = now_s();
        int got = xf_cli_input_next(in, err, sizeof err);
        j->pr.t_input += now_s() - t0;
        if (got == -2) {
            progress_clear(&j->pr);
            return xf_cli_fail("%s", err);
        }
        if (got == -1 && !j->o->on_error_skip) {
            progress_clear(&j->pr);
            return xf_cli_fail("%s", err);
        }
        chunk *c = &j->c[j->cur];
        const int full = got == 0 || c->n_items >= chunk_seqs ||
                         (got == 1 && c->n_seqs > 0 && (c->n_tokens + in->n > chunk_tokens || c->n_seqs >= chunk_seqs));
        if (full && c->n_items > 0) {
            if (got != 0 && j->cur + 1 < j->n_engines) c = &j->c[++j->cur];  /* the next engine's chunk */
            else if (flush(j)) return 1;
            else c = &j->c[0];
        }
        progress_show(&j->pr, in->size > 0 ? (double)in->bytes_read / (double)in->size : -1, 0);
        if (got == 0) break;
        lines++;
        char *msg = got == -1 ? strdup(err) : NULL;
        if (got == -1 ? !msg || add_item(c, in->lineno, &in->id_json, msg, 0) : add_seq(c, in) != 0) {
            free(msg);
            progress_clear(&j->pr);
            return xf_cli_fail("%s:%ld: out of memory", j->input_name, in->lineno);
        }
    }
    if (lines == 0) return xf_cli_fail("%s: no sequences (the file is empty)", j->input_name);
    return 0;
}

int xf_cli_forward(int argc, char **argv) {
    cli_opts o;
    int rc = xf_cli_parse(argc, argv,
                          "model input output backend dtype adapter merge-adapter max-tokens threads cache-dir "
                          "pooling normalize no-normalize prompt-name prompt dimensions verbose truncate jsonl "
                          "max-line-bytes output-format output-dtype on-error error-report quiet chunk-sequences devices",
                          &o);
    if (rc) return rc;
    job j;
    memset(&j, 0, sizeof j);
    j.cmd = argv[0];
    j.kind = !strcmp(j.cmd, "hidden") ? CMD_HIDDEN : !strcmp(j.cmd, "logits") ? CMD_LOGITS
           : !strcmp(j.cmd, "embed") ? CMD_EMBED : CMD_CLASSIFY;
    j.o = &o;
    j.per_token = j.kind == CMD_HIDDEN || j.kind == CMD_LOGITS;
    if ((rc = check_flags(j.cmd, j.kind, &o))) return rc;
    const xf_cli_format format = output_format(&o);
    xf_model *m = NULL;
    xf_adapter *ad = NULL;
    xf_cli_input in;
    memset(&in, 0, sizeof in);
    char err[4400];
    rc = 1;
    if (xf_model_open(o.model, &m) != XF_OK) { xf_cli_fail("%s", xf_last_error()); goto done; }
    xf_model_info info;
    xf_model_get_info(m, &info);
    if (j.kind == CMD_LOGITS && !info.has_lm_head) {
        xf_cli_fail("%s: the checkpoint has no lm_head and untied embeddings (a headless model), so no logits", o.model);
        goto done;
    }
    if (j.kind == CMD_CLASSIFY && info.num_labels == 0) {
        xf_cli_fail("%s: not a sequence-classification model (no score head)", o.model);
        goto done;
    }
    if (o.dimensions > info.embed_dim) {
        xf_cli_fail("%s: --dimensions %d: the model's embeddings have %d", o.model, o.dimensions, info.embed_dim);
        goto done;
    }
    j.cols = j.kind == CMD_LOGITS ? info.vocab_size : j.kind == CMD_CLASSIFY ? info.num_labels : info.hidden_size;
    if (j.kind == CMD_EMBED) j.cols = o.dimensions ? o.dimensions : info.embed_dim;
    /* outputs before any work: an unwritable destination fails first */
    static const char *const keys[] = {"hidden", "logits", "embedding", "scores"};
    const char *const *labels = j.kind == CMD_CLASSIFY ? info.labels : NULL;
    if (xf_cli_output_open(&j.out, o.output, format, o.output_f16, j.per_token, keys[j.kind],
                           format == XF_FORMAT_JSONL ? labels : NULL, j.cols, err, sizeof err)) {
        xf_cli_fail("%s", err);
        goto done;
    }
    if (o.jsonl_out) {
        if (xf_cli_output_open(&j.labels, o.jsonl_out, XF_FORMAT_JSONL, 0, 0, "scores", labels, j.cols, err, sizeof err)) {
            xf_cli_fail("%s", err);
            goto done;
        }
        j.has_labels = 1;
    }
    if (o.error_report) {
        if (xf_outfile_open(&j.report, o.error_report, err, sizeof err)) { xf_cli_fail("%s", err); goto done; }
        j.has_report = 1;
    }
    const char *prompt = NULL, *prompt_name = NULL;
    if (j.kind == CMD_EMBED && embed_prompt(m, &info, &o, &prompt, &prompt_name)) goto done;
    if (o.adapter && xf_adapter_open(m, o.adapter, &ad) != XF_OK) { xf_cli_fail("%s", xf_last_error()); goto done; }
    const xf_adapter *ads[1] = {ad};
    if (o.n_devices > 0) o.device = o.devices[0];
    if (xf_cli_engine(m, &o, ads, &j.e)) goto done;
    j.engines[0] = j.e, j.n_engines = 1;
    /* replicas: the backend and dtype the first engine settled on, on every other device listed */
    const xf_backend chosen = xf_engine_backend(j.e);
    for (int k = 1; k < o.n_devices; k++) {
        cli_opts ok = o;
        ok.backend = chosen, ok.dtype_auto = 0, ok.device = o.devices[k];
        if (xf_cli_engine(m, &ok, ads, &j.engines[k])) goto done;
        j.n_engines = k + 1;
    }
    xf_encode_options_init(&j.enc);
    if (o.pooling_set) j.enc.pooling = o.pooling;
    if (o.normalize || o.no_normalize) j.enc.normalize = o.normalize;
    j.enc.dimensions = o.dimensions;
    const int64_t chunk_tokens = o.max_tokens ? o.max_tokens : DEFAULT_CHUNK_TOKENS;
    const int chunk_seqs = o.chunk_seqs ? o.chunk_seqs : DEFAULT_CHUNK_SEQS;
    if (o.verbose) print_choice(&j, &info, prompt_name, prompt, chunk_tokens, chunk_seqs);
    size_t line_limit = o.max_line_bytes ? (size_t)o.max_line_bytes : xf_default_line_limit(info.max_position);
    xf_text_options to;
    xf_text_options_init(&to);
    to.prompt = prompt;
    to.truncate = o.truncate;
    if (xf_cli_input_open(&in, o.input, m, o.model, &to, line_limit, err, sizeof err)) { xf_cli_fail("%s", err); goto done; }
    j.input_name = in.lr.path;
    j.pr = (progress){.on = !o.quiet && isatty(STDERR_FILENO), .cmd = j.cmd, .t0 = now_s()};
    j.pr.last = j.pr.t0;  /* the first line after half a second */
    if (stream(&j, &in, chunk_tokens, chunk_seqs)) goto done;
    if (xf_cli_output_commit(&j.out, err, sizeof err)) { xf_cli_fail("%s", err); goto done; }
    if (j.has_labels && xf_cli_output_commit(&j.labels, err, sizeof err)) { xf_cli_fail("%s", err); goto done; }
    if (j.has_report && xf_outfile_commit(&j.report, err, sizeof err)) { xf_cli_fail("%s", err); goto done; }
    progress_show(&j.pr, 1, 1);
    if (o.verbose) {
        const double wall = now_s() - j.pr.t0;
        fprintf(stderr, "xfwd %s: %lld sequences, %lld tokens in %.3f s = %.0f tokens/s; forwards %.3f s (%.0f tokens/s), "
                        "input %.3f s, output %.3f s\n", j.cmd, (long long)j.pr.seqs, (long long)j.pr.tokens, wall,
                j.pr.tokens / wall, j.pr.t_forward, j.pr.t_forward > 0 ? j.pr.tokens / j.pr.t_forward : 0,
                j.pr.t_input, j.pr.t_output);
    }
    if (j.pr.skipped)
        fprintf(stderr, "xfwd %s: %lld input line%s skipped%s%s\n", j.cmd, (long long)j.pr.skipped,
                j.pr.skipped == 1 ? "" : "s", o.error_report ? ", listed in " : "", o.error_report ? o.error_report : "");
    rc = 0;
done:
    xf_cli_output_abort(&j.out);  /* after a commit: nothing to do; else the old files stay */
    xf_cli_output_abort(&j.labels);
    xf_outfile_abort(&j.report);
    xf_cli_input_close(&in);
    for (int k = 0; k < XF_CLI_MAX_DEVICES; k++) chunk_free(&j.c[k]);
    for (int k = 0; k < j.n_engines; k++) xf_engine_free(j.engines[k]);
    xf_adapter_free(ad);
    xf_model_free(m);
    return rc;
}
