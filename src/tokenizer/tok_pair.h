/* tok_pair.h — the post-processor on token ids already encoded (for callers that
 * truncate before special tokens are added, as the tokenizers library does). */
#ifndef XF_TOK_PAIR_H
#define XF_TOK_PAIR_H

#include <stddef.h>
#include <stdint.h>

#include "xfwd.h"

/* ids = the post-processors applied to a [na] (b == NULL) or to the pair a, b [nb]
 * (the pair template); add_special == 0 gives a (+ b) unchanged. *ids malloc'ed. */
xf_status tok_post_apply(const xf_tokenizer *t, const int32_t *a, size_t na, const int32_t *b, size_t nb,
                         int add_special, int32_t **ids, size_t *n);

#endif /* XF_TOK_PAIR_H */
