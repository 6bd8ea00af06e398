/* loader.h — internal pieces of model construction shared by loader.c
 * (checkpoint folders) and random_model.c (benchmark shapes). */
#ifndef XF_LOADER_H
#define XF_LOADER_H

#include "model.h"

/* Fills m->rope_cos / m->rope_sin from m->cfg (double precision). */
xf_status xf_model_build_rope(struct xf_model *m);
/* Recomputes m->n_params and m->weight_dtype from the bound tensors. */
void xf_model_count_params(struct xf_model *m);

#endif /* XF_LOADER_H */
