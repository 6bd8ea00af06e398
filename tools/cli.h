/* cli.h — what the CLI's subcommand files share: option parsing of the common
 * flags, the engine choice, the help texts and the one-line error convention. */
#ifndef XF_CLI_H
#define XF_CLI_H

#include <stdio.h>

#include "xfwd.h"

#define XF_CLI_MAX_DEVICES 16

typedef struct cli_opts {
    const char *model, *input, *output, *adapter, *shape, *jsonl_out, *cache_dir;
    xf_backend backend;
    xf_dtype dtype;         /* the dtype given, or chosen by xf_cli_engine when dtype_auto */
    int dtype_auto;         /* --dtype auto (the default) */
    xf_pooling pooling;
    int normalize, merge_adapter;
    int max_tokens, threads;
    int max_line_bytes;     /* --max-line-bytes: longest input line (0: sized by the model) */
    int batch, seq, iters, warmup;
    /* embed / rerank: Hub folders */
    int pooling_set, no_normalize, verbose, raw_scores, dimensions, truncate;
    const char *prompt_name, *prompt;
    const char *query, *documents, *token_ids, *instruction, *prefix, *suffix, *yes_token, *no_token;
    /* forward commands: streaming, output, errors */
    int output_format;      /* --output-format: -1 unset (from the file name), 0 npy, 1 jsonl */
    int output_f16;         /* --output-dtype f16 */
    int on_error_skip;      /* --on-error skip */
    const char *error_report;
    int quiet;              /* --quiet: no progress line */
    int chunk_seqs;         /* --chunk-sequences N (0: default) */
    char chosen[512];       /* xf_cli_engine: the backend and dtype chosen, and why */
    int devices[XF_CLI_MAX_DEVICES]; /* --devices 0,1,...: one engine (replica) on each */
    int n_devices;          /* 0: one engine on device 0 */
    int device;             /* the device xf_cli_engine creates its engine on */
} cli_opts;

/* Parses argv[1..] into o (--key value or --key=value); returns 0, or prints one
 * line and returns 2. `allowed` lists the long options the subcommand accepts,
 * e.g. "model input output backend". */
int xf_cli_parse(int argc, char **argv, const char *allowed, cli_opts *o);
/* Prints "xfwd: message" on stderr; returns 1. */
int xf_cli_fail(const char *fmt, ...);
int xf_cli_bench(int argc, char **argv);
int xf_cli_tokenize(int argc, char **argv);
int xf_cli_detokenize(int argc, char **argv);
int xf_cli_rerank(int argc, char **argv);
/* hidden, logits, embed, classify (cmd_forward.c) */
int xf_cli_forward(int argc, char **argv);
/* Prints the help of cmd (NULL: the overview) on f. 0, or -1 for an unknown cmd. */
int xf_cli_help(const char *cmd, FILE *f);
/* Creates the engine the common flags ask for (cli_engine.c: --backend auto and
 * --dtype auto resolved; o->dtype and o->chosen say what was taken); adapter:
 * NULL, or one adapter to apply (an array the engine keeps: it must outlive the
 * engine). 0, or 1 after an error line. */
int xf_cli_engine(const xf_model *m, cli_opts *o, const xf_adapter *const *adapter, xf_engine **e);
/* Reads a forward command's JSONL input (token ids, {"text", "text_pair"} or
 * strings) into out, texts through xf_tokenize_texts with `to`. 0, or -1 with
 * one line in err naming the file and line. */
int xf_cli_read_inputs(const char *path, const xf_model *m, const char *model_dir, const xf_text_options *to,
                       size_t line_limit, xf_tokens *out, char *err, size_t err_size);
/* Parses a --devices list "0,1,3" (distinct or repeated indices >= 0, at most max) into
 * out; returns the count, or -1 after a one-line message naming flag. */
int xf_cli_parse_devices(const char *flag, const char *v, int *out, int max);
const char *xf_cli_backend_name(xf_backend b);
const char *xf_cli_dtype_name(xf_dtype d);
const char *xf_cli_pooling_name(int pooling);

#endif /* XF_CLI_H */
