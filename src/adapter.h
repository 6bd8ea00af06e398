/* adapter.h — internal helpers around a loaded LoRA adapter (struct xf_adapter in
 * model.h; xf_adapter_open / xf_adapter_free are public in xfwd.h). Backends use
 * these to ask what an adapter touches and to fold it into the weights. */
#ifndef XF_ADAPTER_H
#define XF_ADAPTER_H

#include <stdint.h>

#include "model.h"

/* Writes the merged weight of module `mod` in layer `layer`:
 *   out [o, i] = W [o, i] + scale · Σ_k B [o, k] · A [k, i]
 * W: [out, in] in its stored dtype (F32/BF16/F16); out: [out, in] fp32, caller-owned.
 * A module the adapter does not target is copied unchanged.
 * XF_ERR_INVALID_ARG when layer/mod are out of range or W's shape is not the module's. */
xf_status xf_adapter_merge(const xf_adapter *a, int layer, xf_module mod, const xf_tensor *W, float *out);

/* 1 if any layer of the adapter targets module `mod`, else 0. */
int xf_adapter_targets(const xf_adapter *a, xf_module mod);

/* Largest rank over every targeted module (0 when nothing is targeted). */
int32_t xf_adapter_max_rank(const xf_adapter *a);

#endif /* XF_ADAPTER_H */
