/* st_pipeline.h — the sentence-embedding pipeline of a model folder, as
 * sentence-transformers reads it: modules.json (Transformer → Pooling → Dense… →
 * Normalize), sentence_bert_config.json, 1_Pooling/config.json, each Dense
 * module's config.json + model.safetensors, config_sentence_transformers.json.
 * A folder without modules.json gets the defaults: last-token pooling, no Dense,
 * no normalisation, no prompts. */
#ifndef XF_ST_PIPELINE_H
#define XF_ST_PIPELINE_H

#include "model.h"

typedef enum xf_act { XF_ACT_IDENTITY = 0, XF_ACT_TANH = 1 } xf_act;

/* One Dense module: y = act(x·Wᵀ + b). */
typedef struct xf_dense {
    xf_tensor w;            /* [out, in] */
    xf_tensor b;            /* [out] or absent */
    xf_act act;
    char path[64];          /* its folder in the model folder, e.g. "2_Dense" */
} xf_dense;

typedef struct xf_st_pipeline {
    int32_t from_modules;   /* 1: read from modules.json; 0: the defaults */
    int32_t pooling;        /* an xf_pooling (never XF_POOL_DEFAULT) */
    int32_t normalize;      /* a Normalize module follows */
    int32_t include_prompt; /* 0: prompt tokens are left out of pooling */
    int32_t max_seq_length; /* sentence_bert_config.json; 0: none given */
    int32_t do_lower_case;  /* the Transformer module lower-cases its input */
    int32_t n_dense;
    xf_dense *dense;        /* [n_dense], applied in order after pooling */
    int32_t embed_dim;      /* width after the Dense modules (H without any) */
    int32_t n_prompts;
    char **prompt_names;    /* [n_prompts] config_sentence_transformers.json "prompts" */
    char **prompt_texts;    /* [n_prompts] */
    char *default_prompt;   /* default_prompt_name, or NULL */
} xf_st_pipeline;

/* Reads the folder's sentence-transformers files into m->st (the defaults when the
 * folder has no modules.json). Dense weight files are added to m->files. Anything
 * the pipeline cannot compute exactly (an unknown module, weightedmean pooling, an
 * unknown activation, a misshaped Dense) is refused with a message naming it. */
xf_status xf_st_load(xf_model *m);
void xf_st_free(xf_st_pipeline *p);
/* The model's pipeline, or the defaults for a model built without a folder. */
const xf_st_pipeline *xf_st_of(const xf_model *m);

/* Name of a pooling mode as sentence-transformers spells it ("lasttoken", "mean", ...). */
const char *xf_pooling_st_name(int32_t pooling);

#endif /* XF_ST_PIPELINE_H */
