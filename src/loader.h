/* loader.h — internal pieces of model construction shared by loader.c
 * (checkpoint folders) and random_model.c (benchmark shapes). */
#ifndef XF_LOADER_H
#define XF_LOADER_H

#include "model.h"

/* The RoPE table of config c for positions [0, rows): *cos and *sin malloc'ed
 * [rows, D/2] each, angle(p, j) = p * inv_freq[j] computed in double precision.
 * rows must be in [1, max_pos]. Backends size it by the longest sequence they
 * run (grown when a longer one comes), not by max_position_embeddings. */
xf_status xf_rope_table(const xf_config *c, int32_t rows, float **cos_out, float **sin_out);
/* Recomputes m->n_params and m->weight_dtype from the bound tensors. */
void xf_model_count_params(struct xf_model *m);

struct xf_st_file;
/* Maps a safetensors file and keeps it with the model (freed with it); *f may be NULL. */
xf_status xf_model_add_file(struct xf_model *m, const char *path, struct xf_st_file **f);
/* Binds tensor `name` of file `in` (NULL: any of the model's files) with the expected
 * shape (d1 = 0: a vector of d0); absent and !required leaves t empty. */
xf_status xf_model_bind_in(const struct xf_model *m, const struct xf_st_file *in, const char *name, int64_t d0,
                           int64_t d1, int required, xf_tensor *t);

#endif /* XF_LOADER_H */
