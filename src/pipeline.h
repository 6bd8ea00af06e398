/* pipeline.h — what engine.c lends the host-side heads of pipeline.c (pooling
 * modes the backends lack, Dense modules, classifier pad positions, last-token
 * logits at chosen ids). */
#ifndef XF_PIPELINE_H
#define XF_PIPELINE_H

#include "model.h"

const xf_model *xf_engine_model(const xf_engine *e);
/* The checks every forward makes of a batch (lengths, token ids, adapters), with
 * messages that index the whole batch. */
xf_status xf_engine_check_batch(const xf_engine *e, const xf_batch *b, const void *out);
/* Tokens per forward chunk. */
int32_t xf_engine_max_tokens(const xf_engine *e);
/* The backends' own pooling (last, mean, first) after the final norm: out [B, H]. */
xf_status xf_engine_pool_backend(xf_engine *e, const xf_batch *b, xf_pooling pooling, int normalize, float *out);
/* The backends' score head at each sequence's last token: out [B, L]. */
xf_status xf_engine_classify_last(xf_engine *e, const xf_batch *b, float *out);

#endif /* XF_PIPELINE_H */
