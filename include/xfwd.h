/* xfwd.h — the one public header of libxfwd.
 *
 * xfwd runs the forward pass of Llama / Qwen2 / Qwen3-family decoder transformers
 * straight from Hugging Face checkpoint folders, on the CPU, on NVIDIA GPUs (CUDA)
 * and on any GPU through Vulkan compute.
 *
 * Contracts that hold for every function here:
 *  - Every function that can fail returns an xf_status; XF_OK (0) is success.
 *    On failure, xf_last_error() returns a one-line message naming the file or
 *    argument and what is wrong with it. The message is per thread and stays
 *    valid until the next failing call on the same thread.
 *  - Handles are opaque. Every xf_*_free accepts NULL and does nothing.
 *  - The library never prints and never exits.
 *  - Output buffers are caller-owned and must hold the documented number of floats.
 *  - A model must outlive every engine and adapter made from it.
 */
#ifndef XFWD_H
#define XFWD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XFWD_VERSION_MAJOR 0
#define XFWD_VERSION_MINOR 1
#define XFWD_VERSION_PATCH 0

typedef enum xf_status {
    XF_OK = 0,
    XF_ERR_INVALID_ARG = 1,  /* a bad argument or bad input data (token ids, lengths) */
    XF_ERR_IO = 2,           /* a file is missing or cannot be read */
    XF_ERR_FORMAT = 3,       /* a file is malformed: JSON, safetensors, shapes */
    XF_ERR_UNSUPPORTED = 4,  /* well-formed but not supported (architecture, rope scaling) */
    XF_ERR_NO_MEMORY = 5,    /* host or device allocation failed */
    XF_ERR_NO_DEVICE = 6,    /* the requested backend has no device / is not built in */
    XF_ERR_DEVICE = 7,       /* a device API call failed */
    XF_ERR_INTERNAL = 8      /* a broken invariant; a bug */
} xf_status;

/* Message for the last failure on this thread ("" if none). */
const char *xf_last_error(void);
/* Short constant name of a status, e.g. "XF_ERR_FORMAT". */
const char *xf_status_name(xf_status s);

/* ---------------------------------------------------------------- models */

typedef struct xf_model xf_model;

typedef enum xf_arch {
    XF_ARCH_LLAMA = 0,
    XF_ARCH_QWEN2 = 1,
    XF_ARCH_QWEN3 = 2,
    XF_ARCH_MISTRAL = 3
} xf_arch;

/* What a loaded model is. Pointers inside stay valid while the model lives. */
typedef struct xf_model_info {
    xf_arch arch;
    const char *model_type;      /* "qwen3", ... */
    const char *architecture;    /* "Qwen3ForCausalLM", ... (first of config "architectures") */
    int32_t hidden_size;         /* H */
    int32_t intermediate_size;   /* I */
    int32_t n_layers;
    int32_t n_heads;
    int32_t n_kv_heads;
    int32_t head_dim;
    int32_t vocab_size;          /* V */
    int32_t max_position;        /* max_position_embeddings: longest sequence accepted */
    double rms_norm_eps;
    double rope_theta;
    int32_t tied_embeddings;     /* logits use embed_tokens */
    int32_t has_lm_head;         /* logits are available */
    int32_t num_labels;          /* > 0 for *ForSequenceClassification (score head) */
    const char *const *labels;   /* [num_labels] id2label names, or NULL */
    const char *weight_dtype;    /* "F32" | "BF16" | "F16" | "mixed" as stored on disk */
    int64_t n_params;            /* all parameters stored */
} xf_model_info;

/* Opens a Hugging Face checkpoint folder: config.json plus model.safetensors or
 * shards listed in model.safetensors.index.json. Tensors are memory-mapped. */
xf_status xf_model_open(const char *dir, xf_model **out);

/* Builds a model with random O(1)-scaled weights in memory, for benchmarks.
 * shape: "qwen3-0.6b" | "qwen3-4b" | "qwen3-8b" | "qwen3-tiny".
 * weight_dtype: XF_DTYPE_F32, XF_DTYPE_BF16 or XF_DTYPE_F16 (storage). */
typedef enum xf_dtype {
    XF_DTYPE_F32 = 0,   /* fp32 everywhere: the parity mode, no TF32 */
    XF_DTYPE_TF32 = 1,  /* fp32 storage, TF32 tensor-core matrix multiplies */
    XF_DTYPE_BF16 = 2,  /* bf16 weights/activations for matrix multiplies, fp32 accumulation */
    XF_DTYPE_F16 = 3    /* f16 likewise */
} xf_dtype;
xf_status xf_model_random(const char *shape, xf_dtype weight_dtype, uint64_t seed, xf_model **out);

xf_status xf_model_get_info(const xf_model *m, xf_model_info *info);
void xf_model_free(xf_model *m);

/* ---------------------------------------------------------------- adapters */

typedef struct xf_adapter xf_adapter;

/* Opens a PEFT LoRA folder (adapter_config.json + adapter_model.safetensors)
 * and checks it against the model: shapes, targeted modules, architecture. */
xf_status xf_adapter_open(const xf_model *m, const char *dir, xf_adapter **out);
void xf_adapter_free(xf_adapter *a);

/* ---------------------------------------------------------------- engines */

typedef enum xf_backend {
    XF_BACKEND_AUTO = 0,    /* CUDA if a GPU is present, else CPU */
    XF_BACKEND_CPU = 1,     /* fast CPU path (BLAS, threads) */
    XF_BACKEND_CPU_REF = 2, /* plain-loop reference: the truth, slow */
    XF_BACKEND_CUDA = 3,
    XF_BACKEND_VULKAN = 4
} xf_backend;

typedef struct xf_engine_options {
    xf_backend backend;
    xf_dtype dtype;
    int32_t max_tokens;     /* tokens per forward chunk; scratch is sized for this (0: default 8192) */
    int32_t n_threads;      /* CPU threads (0: all cores) */
    /* Adapters the engine may apply. With n_adapters == 1 and no per-sequence ids
     * in the batch, adapter 0 applies to every sequence. */
    const xf_adapter *const *adapters;
    int32_t n_adapters;
    int32_t merge_adapters; /* 1: fold adapter 0 into the weights at load (n_adapters must be 1) */
    const char *cache_dir;  /* where backends keep compiled-pipeline caches (NULL: default) */
} xf_engine_options;

/* Fills opts with defaults: AUTO backend, F32, default max_tokens, no adapter. */
void xf_engine_options_init(xf_engine_options *opts);

typedef struct xf_engine xf_engine;

xf_status xf_engine_create(const xf_model *m, const xf_engine_options *opts, xf_engine **out);
void xf_engine_free(xf_engine *e);
/* The backend actually chosen (AUTO resolved). */
xf_backend xf_engine_backend(const xf_engine *e);
/* Peak device (or host scratch) memory the engine has used, in bytes. */
size_t xf_engine_peak_memory(const xf_engine *e);

/* A batch: n_seqs independent sequences concatenated without padding.
 * Each sequence is causal and starts at position 0; no sequence sees another. */
typedef struct xf_batch {
    const int32_t *tokens;      /* [n_tokens] = sum(seq_lens) */
    const int32_t *seq_lens;    /* [n_seqs], each >= 1 and <= max_position */
    int32_t n_seqs;
    /* Optional [n_seqs]: index into the engine's adapters per sequence, -1 for
     * none. NULL: adapter 0 for all if the engine has adapters. */
    const int32_t *adapter_ids;
} xf_batch;

typedef enum xf_pooling {
    XF_POOL_LAST = 0,
    XF_POOL_MEAN = 1,
    XF_POOL_FIRST = 2
} xf_pooling;

/* Total tokens of a batch, or -1 if a length is < 1. */
int64_t xf_batch_tokens(const xf_batch *b);

/* Final hidden states (after the final norm): out [n_tokens, H]. */
xf_status xf_engine_hidden(xf_engine *e, const xf_batch *b, float *out);
/* Logits: out [n_tokens, V]. Needs an lm_head or tied embeddings. */
xf_status xf_engine_logits(xf_engine *e, const xf_batch *b, float *out);
/* Pooled embeddings: out [n_seqs, H]; normalize != 0 gives unit L2 rows. */
xf_status xf_engine_embed(xf_engine *e, const xf_batch *b, xf_pooling pooling, int normalize,
                          float *out);
/* Classification scores from the score head at each sequence's last token:
 * out [n_seqs, num_labels]. */
xf_status xf_engine_classify(xf_engine *e, const xf_batch *b, float *out);

/* ---------------------------------------------------------------- tokenizer */

typedef struct xf_tokenizer xf_tokenizer;

/* Loads a Hugging Face tokenizer.json. */
xf_status xf_tokenizer_open(const char *path, xf_tokenizer **out);
void xf_tokenizer_free(xf_tokenizer *t);
/* Encodes UTF-8 text (len bytes). add_special != 0 runs the post-processor
 * (BOS and the like). *ids is malloc'ed by the library; release with free(). */
xf_status xf_tokenizer_encode(const xf_tokenizer *t, const char *text, size_t len, int add_special,
                              int32_t **ids, size_t *n_ids);
/* Decodes ids to UTF-8 (special tokens kept). *text is malloc'ed, NUL-terminated. */
xf_status xf_tokenizer_decode(const xf_tokenizer *t, const int32_t *ids, size_t n_ids, char **text,
                              size_t *len);

#ifdef __cplusplus
}
#endif
#endif /* XFWD_H */
