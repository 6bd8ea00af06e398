/* cli_output.h — the forward commands' output, written row by row as each chunk
 * finishes, through outfile.h (a temporary file renamed over the destination when
 * complete; "-" is standard output, written straight through):
 *   - npy: float32 ('<f4') or float16 ('<f2'), C order. The header is written
 *     first with room for any shape (128 bytes) and rewritten with the final
 *     row count at the end, so the output must be seekable (a file; not a pipe).
 *   - jsonl: one line per input sequence, {"id": ..., KEY: ...} with the input's
 *     "id" echoed when it has one: "embedding": [...] (embed), "label" and
 *     "scores": {name: score} (classify), "hidden" / "logits": [[...], ...] (one
 *     row per token). Non-finite values are null.
 * A skipped input line is an {"id": ..., "error": "..."} line in JSONL and a NaN
 * row in a per-sequence .npy (embed, classify); it has no rows in a per-token
 * .npy (hidden, logits), whose rows are the good lines' tokens. */
#ifndef XF_CLI_OUTPUT_H
#define XF_CLI_OUTPUT_H

#include <stdint.h>

#include "outfile.h"

typedef enum xf_cli_format { XF_FORMAT_NPY = 0, XF_FORMAT_JSONL = 1 } xf_cli_format;

typedef struct xf_cli_output {
    xf_outfile f;
    xf_cli_format format;
    int f16;                /* --output-dtype f16 */
    int per_token;          /* hidden / logits: a sequence is [len, cols] */
    const char *key;        /* the JSONL field: "embedding", "hidden", "logits", "scores" */
    char **labels;          /* classify JSONL: [cols] label names as JSON strings, or NULL */
    int64_t cols;
    int64_t rows;           /* npy rows written so far */
    uint16_t *half;         /* scratch for f16 rows */
    size_t half_cap;
} xf_cli_output;

/* Opens path for `cols`-wide rows. labels: classify's [cols] names (JSONL: the
 * "label" and "scores" object), or NULL. 0, or -1 with one line in err. */
int xf_cli_output_open(xf_cli_output *o, const char *path, xf_cli_format format, int f16, int per_token,
                       const char *key, const char *const *labels, int64_t cols, char *err, size_t err_size);
/* One input sequence's result: x [n_rows, cols] (n_rows = its tokens when per
 * token, else 1); id_json: the input's "id" as JSON text, or NULL. 0, or -1 (a
 * write failure, reported by the commit). */
int xf_cli_output_put(xf_cli_output *o, const float *x, int64_t n_rows, const char *id_json);
/* A skipped input line's place: an "error" line or a NaN row (see above). */
int xf_cli_output_skip(xf_cli_output *o, const char *message, const char *id_json);
/* 1 when a write has failed (the commit reports why) */
int xf_cli_output_failed(const xf_cli_output *o);
/* Fixes the npy header, then commits (outfile.h). 0, or -1 with err. */
int xf_cli_output_commit(xf_cli_output *o, char *err, size_t err_size);
/* Leaves the destination as it was. Safe after a commit or a failed open. */
void xf_cli_output_abort(xf_cli_output *o);

/* The JSON string for s (quoted, escaped; malloc'ed), or NULL when s is not UTF-8. */
char *xf_cli_json_string(const char *s);

#endif /* XF_CLI_OUTPUT_H */
