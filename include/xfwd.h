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
 *
 * Threads (tests/test_threads.c checks this, under ThreadSanitizer in CI):
 *  - Models, adapters and tokenizers are read-only once opened: any number of
 *    threads may use one at the same time (engines made from one model, encode and
 *    decode on one tokenizer).
 *  - An engine may be called from any thread, and calls on one engine run one at a
 *    time: a second thread's call waits for the first to finish, and both get the
 *    right answer. For forwards in parallel, make one engine per thread from the
 *    same model (the weights are shared, each engine has its own scratch).
 *  - Nothing may be freed while another thread is using it (xf_*_free is not a
 *    call "on" the handle that waits).
 *  - The CPU backend's thread count (n_threads) is the engine's own: each of its
 *    forwards sets it for OpenMP on the calling thread. Only a build without oneDNN,
 *    whose f32 linear layers run on the BLAS, also sets the BLAS's process-wide count:
 *    there the last engine created sets that.
 *  - xf_last_error() is per thread.
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
    /* Attention and heads as the folder declares them. */
    int32_t causal;              /* 1: causal; 0: full attention within each sequence */
    int32_t sliding_window;      /* > 0: query i sees key j iff i - window < j <= i; 0: none */
    int32_t pad_token_id;        /* classifiers score the last token != this; -1: none */
    /* The sentence-embedding pipeline (sentence-transformers modules.json), or its
     * defaults when the folder has none: last-token pooling, no Dense, no normalisation. */
    int32_t embed_dim;           /* D: width of xf_engine_encode rows (after Dense modules) */
    int32_t default_pooling;     /* an xf_pooling: the folder's 1_Pooling mode */
    int32_t default_normalize;   /* the folder lists a Normalize module */
    int32_t include_prompt;      /* 0: prompt tokens are left out of pooling */
    int32_t n_dense;             /* Dense modules applied after pooling */
    int32_t max_seq_length;      /* sentence_bert_config max_seq_length, else max_position */
    const char *default_prompt_name; /* config_sentence_transformers.json, or NULL */
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
    int32_t device;         /* which GPU: the CUDA device ordinal, or the index among the Vulkan 1.2
                             * devices ranked discrete GPU, integrated, virtual, CPU (0: the best);
                             * one engine per device makes replicas. The CPU backends have one
                             * device, 0. */
} xf_engine_options;

/* Fills opts with defaults: AUTO backend, F32, default max_tokens, no adapter. */
void xf_engine_options_init(xf_engine_options *opts);

/* The dtype "auto" means for model m on a backend: the checkpoint's own dtype where
 * that backend computes in it fast, else F32.
 *  - XF_BACKEND_CPU (and XF_BACKEND_AUTO, answered as the CPU): XF_DTYPE_BF16 when
 *    the layers' matrices are stored in BF16 (norms may be F32), the CPU has bf16
 *    dot-product instructions (AVX512-BF16, AMX) and this build has the CPU's bf16
 *    mode (oneDNN); else XF_DTYPE_F32.
 *  - XF_BACKEND_CPU_REF: XF_DTYPE_F32 (the reference computes in f32 only).
 *  - XF_BACKEND_CUDA, XF_BACKEND_VULKAN: XF_DTYPE_BF16 / XF_DTYPE_F16 for a BF16 / F16
 *    checkpoint, else XF_DTYPE_F32.
 * m NULL: XF_DTYPE_F32. */
xf_dtype xf_model_auto_dtype(const xf_model *m, xf_backend backend);

typedef struct xf_engine xf_engine;

xf_status xf_engine_create(const xf_model *m, const xf_engine_options *opts, xf_engine **out);
void xf_engine_free(xf_engine *e);
/* The backend actually chosen (AUTO resolved). */
xf_backend xf_engine_backend(const xf_engine *e);
/* Peak device (or host scratch) memory the engine has used, in bytes. */
size_t xf_engine_peak_memory(const xf_engine *e);
/* What the engine runs, as text for people (the format may change between versions):
 * the recipe of one forward for hidden states — one line per op, its buffers, weight,
 * mask and LoRA terms, with the kernel, tile and layout the backend chose for it — then
 * the head ops of the folder's default output (classify, embed or logits). Layers whose
 * ops and kernels are alike are printed once with their count. *text is malloc'ed;
 * release it with free(). */
xf_status xf_engine_describe(xf_engine *e, char **text);

/* A batch: n_seqs independent sequences concatenated without padding.
 * Each sequence starts at position 0 and is attended with the model's mask
 * (xf_model_info.causal, sliding_window); no sequence sees another. */
typedef struct xf_batch {
    const int32_t *tokens;      /* [n_tokens] = sum(seq_lens) */
    const int32_t *seq_lens;    /* [n_seqs], each >= 1 and <= max_position */
    int32_t n_seqs;
    /* Optional [n_seqs]: index into the engine's adapters per sequence, -1 for
     * none. NULL: adapter 0 for all if the engine has adapters. */
    const int32_t *adapter_ids;
} xf_batch;

typedef enum xf_pooling {
    XF_POOL_DEFAULT = -1,       /* xf_engine_encode: the folder's pooling */
    XF_POOL_LAST = 0,
    XF_POOL_MEAN = 1,
    XF_POOL_FIRST = 2,          /* sentence-transformers "cls_token" */
    XF_POOL_MAX = 3,
    XF_POOL_MEAN_SQRT_LEN = 4
} xf_pooling;

/* Total tokens of a batch, or -1 if a length is < 1. */
int64_t xf_batch_tokens(const xf_batch *b);

/* Final hidden states (after the final norm): out [n_tokens, H]. */
xf_status xf_engine_hidden(xf_engine *e, const xf_batch *b, float *out);
/* Logits: out [n_tokens, V]. Needs an lm_head or tied embeddings: a headless
 * checkpoint (no lm_head.weight, untied) gives XF_ERR_UNSUPPORTED. */
xf_status xf_engine_logits(xf_engine *e, const xf_batch *b, float *out);
/* Pooled embeddings: out [n_seqs, H]; normalize != 0 gives unit L2 rows. Any
 * xf_pooling but XF_POOL_DEFAULT; no Dense modules (xf_engine_encode applies them). */
xf_status xf_engine_embed(xf_engine *e, const xf_batch *b, xf_pooling pooling, int normalize,
                          float *out);
/* Classification scores from the score head at each sequence's last token that
 * is not pad_token_id (Hugging Face's rule; index 0 when every token is the pad;
 * the last token when the config has no pad_token_id): out [n_seqs, num_labels]. */
xf_status xf_engine_classify(xf_engine *e, const xf_batch *b, float *out);

/* The sentence-embedding pipeline as the folder declares it (pooling, Dense
 * modules, Normalize), each step overridable, with sentence-transformers'
 * semantics: pooling over the final hidden states; with include_prompt = false
 * the first prompt_lens[i] tokens are left out of mean / max / mean_sqrt_len
 * (cls and lasttoken read the first / last token regardless); Dense:
 * y = act(x·Wᵀ + b); Normalize: L2. Pooling on the host is in double. */
typedef struct xf_encode_options {
    int32_t pooling;            /* an xf_pooling; XF_POOL_DEFAULT: the folder's */
    int32_t normalize;          /* -1: the folder's; 0 or 1 */
    int32_t dimensions;         /* 0: embed_dim; N: keep the first N before normalising */
    const int32_t *prompt_lens; /* [n_seqs] leading prompt tokens (left out of pooling when the
                                   folder says include_prompt = false), or NULL */
} xf_encode_options;
void xf_encode_options_init(xf_encode_options *o);
/* out [n_seqs, dimensions or embed_dim]. o NULL: the folder's pipeline. */
xf_status xf_engine_encode(xf_engine *e, const xf_batch *b, const xf_encode_options *o, float *out);

/* Logits of each sequence's last token at the given vocabulary ids, without
 * computing the vocabulary at other positions (the last hidden rows times those
 * lm_head rows, on the host in double): out [n_seqs, n_ids]. A headless
 * checkpoint gives XF_ERR_UNSUPPORTED. */
xf_status xf_engine_last_logits(xf_engine *e, const xf_batch *b, const int32_t *ids, int32_t n_ids,
                                float *out);

/* Prompt text by name (config_sentence_transformers.json "prompts");
 * XF_ERR_INVALID_ARG naming the prompt when the folder has no such prompt. */
xf_status xf_model_prompt(const xf_model *m, const char *name, const char **text);

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

/* Encodes a pair of texts through the post-processor's pair template
 * (cross-encoders, "text_pair"). */
xf_status xf_tokenizer_encode_pair(const xf_tokenizer *t, const char *a, size_t alen, const char *b,
                                   size_t blen, int add_special, int32_t **ids, size_t *n_ids);
/* Id of a vocabulary or added token written exactly as in tokenizer.json
 * ("yes", "Ġyes", "<|im_end|>"), or -1. */
int32_t xf_tokenizer_token_id(const xf_tokenizer *t, const char *token);

/* ---------------------------------------------------------------- text batches */

typedef enum xf_truncate {
    XF_TRUNCATE_NONE = 0,       /* too long is an error naming the input */
    XF_TRUNCATE_RIGHT = 1,      /* keep the first max_length tokens */
    XF_TRUNCATE_LEFT = 2        /* keep the last max_length tokens */
} xf_truncate;

typedef struct xf_text_options {
    const char *prompt;         /* text prepended to every input, or NULL */
    int32_t add_special;        /* 1 (default): the post-processor's special tokens */
    int32_t truncate;           /* an xf_truncate */
    int32_t max_length;         /* 0: the model's max_seq_length */
} xf_text_options;
void xf_text_options_init(xf_text_options *o);

/* Texts tokenized as the model folder says (lower-casing, prompt, special tokens,
 * truncation), ready to be an xf_batch. Arrays malloc'ed; release with xf_tokens_free. */
typedef struct xf_tokens {
    int32_t *tokens;            /* [n_tokens] */
    int32_t *seq_lens;          /* [n_seqs] */
    int32_t *prompt_lens;       /* [n_seqs] prompt tokens at the start of each sequence, as
                                   sentence-transformers counts them: the prompt encoded alone
                                   (special tokens included) minus one; 0 without a prompt */
    int32_t n_seqs;
    int64_t n_tokens;
} xf_tokens;
/* pairs: NULL, or [n] second texts encoded through the pair template. Truncation
 * happens before special tokens are added (they are kept); a pair is cut longest
 * first. An empty result is an error naming the text. */
xf_status xf_tokenize_texts(const xf_model *m, const xf_tokenizer *t, const char *const *texts,
                            const char *const *pairs, int32_t n, const xf_text_options *o,
                            xf_tokens *out);
void xf_tokens_free(xf_tokens *t);

/* ---------------------------------------------------------------- reranking */

/* How query/document relevance is scored. A *ForSequenceClassification model
 * scores (query, document) pairs with its head through the tokenizer's pair
 * template (sigmoid for one label, the softmax entry of label 1 for two); a causal LM follows the Qwen3-Reranker recipe: the
 * template below, then softmax over the last token's logits at yes/no -> P(yes). */
typedef struct xf_rerank_options {
    const char *prefix;         /* NULL: the Qwen3-Reranker system/user prefix */
    const char *suffix;         /* NULL: the Qwen3-Reranker assistant suffix */
    const char *instruction;    /* NULL: the Qwen3-Reranker default instruction */
    const char *yes_token;      /* NULL: "yes" */
    const char *no_token;       /* NULL: "no" */
    int32_t raw_scores;         /* 1: logit(yes) - logit(no), or the head's raw logit
                                   (two labels: logit 1 - logit 0) */
    int32_t truncate;           /* an xf_truncate for over-long pairs */
} xf_rerank_options;
void xf_rerank_options_init(xf_rerank_options *o);
/* scores [n_docs]. The causal-LM recipe tokenizes prefix and suffix without
 * special tokens and "<Instruct>: I\n<Query>: Q\n<Document>: D" with them, as
 * the Qwen3-Reranker model card does; yes/no are looked up with
 * xf_tokenizer_token_id. A head with more than two labels is XF_ERR_UNSUPPORTED. */
xf_status xf_engine_rerank(xf_engine *e, const xf_tokenizer *t, const char *query,
                           const char *const *docs, int32_t n_docs, const xf_rerank_options *o,
                           float *scores);

#ifdef __cplusplus
}
#endif
#endif /* XFWD_H */
