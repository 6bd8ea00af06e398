/* jsonl.h — the CLI's input: one sequence per line, a JSON array of token ids,
 * an object with "tokens", or an object with "text" (tokenized with the model
 * folder's tokenizer.json). */
#ifndef XF_JSONL_H
#define XF_JSONL_H

#include <stdint.h>

#include "xfwd.h"

typedef struct xf_seqs {
    int32_t *tokens;    /* [n_tokens] concatenated */
    int32_t *lens;      /* [n_seqs] */
    int32_t n_seqs;
    int64_t n_tokens;
} xf_seqs;

/* Reads path; model_dir is where tokenizer.json is looked for when a line has
 * "text". On failure returns non-zero with a one-line message in err. */
int xf_seqs_read(const char *path, const char *model_dir, xf_seqs *out, char *err, size_t err_size);
void xf_seqs_free(xf_seqs *s);

#endif /* XF_JSONL_H */
