/* cli_input.h — the forward commands' input, read one sequence at a time: each
 * JSONL line is a JSON array of token ids, {"tokens": [...]}, {"ids": [...]}
 * (what `xfwd tokenize` writes), {"text": ..., "text_pair": ...} or a bare JSON
 * string (tokenized by the library: the folder's lower-casing, the prompt,
 * special tokens, --truncate). An object's "id" is kept for the output. Every
 * error names the input and its 1-based line; a bad line leaves the reader
 * usable, so a caller may skip it and read on. */
#ifndef XF_CLI_INPUT_H
#define XF_CLI_INPUT_H

#include <stdint.h>

#include "jsonl.h"
#include "xfwd.h"

typedef struct xf_cli_input {
    xf_line_reader lr;
    const xf_model *model;
    xf_model_info info;
    const char *model_dir;
    xf_text_options to;
    xf_tokenizer *tok;
    long long size;         /* bytes of a regular input file, or -1 (a pipe, stdin) */
    /* the sequence last returned */
    int32_t *ids;           /* [n] */
    int64_t n;
    int32_t prompt_len;     /* leading prompt tokens (embed's include_prompt) */
    char *id_json;          /* the line's "id" value as compact JSON (malloc'ed), or NULL */
    long lineno;            /* its 1-based line */
    int64_t bytes_read;     /* input bytes consumed so far */
} xf_cli_input;

/* Opens path ("-": standard input). 0, or -1 with one line in err. */
int xf_cli_input_open(xf_cli_input *in, const char *path, const xf_model *m, const char *model_dir,
                      const xf_text_options *to, size_t line_limit, char *err, size_t err_size);
/* The next sequence, checked against the model (ids inside the vocabulary, the
 * length within max_position_embeddings unless --truncate cuts it to
 * max_seq_length): 1; end of input: 0; a bad line: -1 with "IN:LINE: why" in
 * err (the next call reads on); the input cannot be read on (I/O, a line over
 * the limit): -2 with a message in err. Blank lines are skipped. */
int xf_cli_input_next(xf_cli_input *in, char *err, size_t err_size);
void xf_cli_input_close(xf_cli_input *in);

#endif /* XF_CLI_INPUT_H */
