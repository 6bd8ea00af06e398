/* jsonl.h — the CLI's input: one sequence per line, a JSON array of token ids,
 * an object with "tokens", or an object with "text" (tokenized with the model
 * folder's tokenizer.json); and the bounded line reader every JSONL input of
 * the CLI goes through. */
#ifndef XF_JSONL_H
#define XF_JSONL_H

#include <stdint.h>
#include <stdio.h>

#include "xfwd.h"

/* ---------------------------------------------------------------- lines */

/* Reads a file line by line without ever holding more than max_bytes of one
 * line: a longer line is an error naming it, read no further. A read error or
 * a failed allocation is an error naming the line too; never a silent end of
 * file. */
typedef struct xf_line_reader {
    FILE *f;
    const char *path;
    size_t max_bytes;   /* longest line accepted, without its newline */
    long lineno;        /* 1-based number of the line last returned */
    char *buf;
    size_t cap;
    int overlong;       /* the last error was a line over max_bytes: xf_lines_skip may pass it */
} xf_line_reader;

/* Opens path for reading ("-": standard input, "<stdin>" in messages). 0, or
 * -1 with a message in err. */
int xf_lines_open(xf_line_reader *r, const char *path, size_t max_bytes, char *err, size_t err_size);
/* The next line, without its newline and trailing blanks, NUL-terminated in
 * the reader's buffer: 1; end of file: 0; an error: -1 with a message in err
 * naming the file and the 1-based line. */
int xf_lines_next(xf_line_reader *r, char **line, size_t *len, char *err, size_t err_size);
/* After xf_lines_next failed on a line over the limit: reads past the rest of
 * that line (holding none of it), so the next call returns the line after. 0,
 * or -1 (the last error was something else, or a read error). */
int xf_lines_skip(xf_line_reader *r);
void xf_lines_close(xf_line_reader *r);

/* Default line limit of a forward's input: room for max_pos tokens written as
 * text or ids (64 bytes each), at least 1 MiB, at most 256 MiB. */
size_t xf_default_line_limit(int32_t max_pos);
/* Default line limit of tokenize / detokenize (no model to size it by). */
#define XF_TOKENIZE_LINE_LIMIT ((size_t)64 << 20)

/* ---------------------------------------------------------------- sequences */

typedef struct xf_seqs {
    int32_t *tokens;    /* [n_tokens] concatenated */
    int32_t *lens;      /* [n_seqs] */
    int32_t n_seqs;
    int64_t n_tokens;
} xf_seqs;

/* Reads path; model_dir is where tokenizer.json is looked for when a line has
 * "text"; max_line_bytes bounds each line (0: 1 MiB). On failure returns
 * non-zero with a one-line message in err. */
int xf_seqs_read(const char *path, const char *model_dir, size_t max_line_bytes, xf_seqs *out, char *err,
                 size_t err_size);
void xf_seqs_free(xf_seqs *s);

#endif /* XF_JSONL_H */
