/* engine_debug.h — internal hooks for tests: the residual stream entering a
 * layer, to localise where a backend departs from the reference. */
#ifndef XF_ENGINE_DEBUG_H
#define XF_ENGINE_DEBUG_H

#include "xfwd.h"

/* out [T, H]: the residual stream entering `layer` (0 = token embeddings,
 * n_layers = before the final norm). XF_ERR_UNSUPPORTED if the backend lacks it. */
xf_status xf_engine_debug_residual(xf_engine *e, const xf_batch *b, int32_t layer, float *out);

#endif /* XF_ENGINE_DEBUG_H */
