/* cli.h — what the CLI's subcommand files share: option parsing of the common
 * flags and the one-line error convention. */
#ifndef XF_CLI_H
#define XF_CLI_H

#include "xfwd.h"

typedef struct cli_opts {
    const char *model, *input, *output, *adapter, *shape, *jsonl_out, *cache_dir;
    xf_backend backend;
    xf_dtype dtype;
    xf_pooling pooling;
    int normalize, merge_adapter;
    int max_tokens, threads;
    int max_line_bytes;     /* --max-line-bytes: longest input line (0: sized by the model) */
    int batch, seq, iters, warmup;
    /* embed / rerank: Hub folders */
    int pooling_set, no_normalize, verbose, raw_scores, dimensions, truncate;
    const char *prompt_name, *prompt;
    const char *query, *documents, *token_ids, *instruction, *prefix, *suffix, *yes_token, *no_token;
} cli_opts;

/* Parses argv[1..] into o; returns 0, or prints one line and returns 2. `allowed`
 * lists the long options the subcommand accepts, e.g. "model input output backend". */
int xf_cli_parse(int argc, char **argv, const char *allowed, cli_opts *o);
/* Prints "xfwd: message" on stderr; returns 1. */
int xf_cli_fail(const char *fmt, ...);
int xf_cli_bench(int argc, char **argv);
int xf_cli_tokenize(int argc, char **argv);
int xf_cli_detokenize(int argc, char **argv);
int xf_cli_rerank(int argc, char **argv);
/* Creates the engine the common flags ask for; adapter: NULL, or one adapter to
 * apply (an array the engine keeps: it must outlive the engine). 0, or 1 after an
 * error line. */
int xf_cli_engine(const xf_model *m, const cli_opts *o, const xf_adapter *const *adapter, xf_engine **e);
/* Reads a forward command's JSONL input (token ids, {"text", "text_pair"} or
 * strings) into out, texts through xf_tokenize_texts with `to`. 0, or -1 with
 * one line in err naming the file and line. */
int xf_cli_read_inputs(const char *path, const xf_model *m, const char *model_dir, const xf_text_options *to,
                       size_t line_limit, xf_tokens *out, char *err, size_t err_size);
const char *xf_cli_backend_name(xf_backend b);
const char *xf_cli_dtype_name(xf_dtype d);

#endif /* XF_CLI_H */
