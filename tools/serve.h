/* serve.h — what the files of `xfwd serve` share: the server's settings and loaded
 * state, the batching queue (serve_queue.c), the bridge to the library's text and
 * pipeline functions (serve_model.c), the HTTP replies (serve_http.c), the
 * endpoints (serve_embed.c, serve_tei.c) and the metrics (serve_metrics.c).
 *
 * Threads: libmicrohttpd runs one thread per connection; those threads parse,
 * tokenize, submit a job and sleep on the job's condition variable. One forward
 * thread per engine (one engine per --devices entry: replicas) takes the queued
 * jobs, packs them into forwards and runs them on its engine. */
#ifndef XF_SERVE_H
#define XF_SERVE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "xfwd.h"

/* ---------------------------------------------------------------- settings */

#define SV_MAX_DEVICES 16

typedef struct sv_adapter_arg {
    const char *name, *dir;
} sv_adapter_arg;

typedef struct sv_config {
    const char *model_dir;
    const char *shape;           /* instead of model_dir: xf_model_random's named shape */
    const char *model_id;        /* the name /info and "model" report: the folder's last component */
    const char *host;            /* listen address (default 127.0.0.1) */
    int port;                    /* 0: any free port (printed at start) */
    xf_backend backend;
    xf_dtype dtype;
    int threads;                 /* CPU threads of the engine (0: all cores) */
    const char *cache_dir;
    sv_adapter_arg *adapters;    /* [n_adapters] --adapter NAME=DIR */
    int n_adapters;
    int max_batch_tokens;        /* tokens per forward */
    int max_wait_ms;             /* how long a forward waits for more requests */
    int max_input_tokens;        /* longest sequence accepted (after any truncation) */
    int max_inputs;              /* inputs per request */
    size_t max_body_bytes;       /* request bodies larger than this get 413 */
    int max_connections;
    int timeout_s;               /* idle connection timeout */
    const char *api_key;         /* NULL: no authentication */
    int devices[SV_MAX_DEVICES]; /* --devices: one engine on each (default: one, on device 0) */
    int n_devices;
} sv_config;

/* ---------------------------------------------------------------- metrics */

#define SV_HIST_MAX 16
typedef struct sv_hist {
    int n_bounds;
    double bounds[SV_HIST_MAX];   /* upper bounds, ascending; +Inf implied */
    uint64_t counts[SV_HIST_MAX + 1];
    double sum;
    uint64_t count;
} sv_hist;

enum { SV_EP_EMBEDDINGS, SV_EP_EMBED, SV_EP_RERANK, SV_EP_PREDICT, SV_EP_TOKENIZE, SV_EP_HEALTH,
       SV_EP_INFO, SV_EP_METRICS, SV_EP_MODELS, SV_EP_OTHER, SV_EP_COUNT };
#define SV_STATUS_SLOTS 8        /* 200 400 401 404 405 413 422 424, 5xx: folded into "other" */

typedef struct sv_metrics {
    pthread_mutex_t lock;
    uint64_t requests[SV_EP_COUNT][SV_STATUS_SLOTS + 1];
    uint64_t tokens[SV_EP_COUNT];
    uint64_t errors[8];          /* by sv_error_kind */
    uint64_t forwards;
    sv_hist batch_tokens, batch_seqs, queue_s, forward_s, request_s;
} sv_metrics;

void sv_metrics_init(sv_metrics *m);
void sv_metrics_free(sv_metrics *m);
void sv_metrics_request(sv_metrics *m, int endpoint, int status, double seconds);
void sv_metrics_tokens(sv_metrics *m, int endpoint, int64_t n);
void sv_metrics_error(sv_metrics *m, int kind);
void sv_metrics_forward(sv_metrics *m, int64_t tokens, int32_t seqs, double seconds);
void sv_metrics_queue(sv_metrics *m, double seconds);
/* Prometheus text exposition format; malloc'ed. */
char *sv_metrics_text(sv_metrics *m, size_t *len);

/* ---------------------------------------------------------------- queue */

typedef enum sv_task { SV_TASK_EMBED = 0, SV_TASK_CLASSIFY = 1, SV_TASK_RERANK = 2 } sv_task;

/* One request's work. The submitting thread owns every pointer and keeps it
 * alive until sv_queue_run returns. */
typedef struct sv_job {
    sv_task task;
    /* EMBED / CLASSIFY: n_seqs sequences concatenated (tokens [sum(seq_lens)]) */
    const int32_t *tokens;
    const int32_t *seq_lens;      /* [n_seqs] */
    const int32_t *prompt_lens;   /* [n_seqs] or NULL */
    int32_t n_seqs;
    int32_t adapter;              /* index into the engine's adapters, -1: base model */
    /* RERANK: one library call, not packed with other jobs */
    const char *query;
    const char *instruction;      /* NULL: the recipe's default */
    const char *const *docs;
    int32_t n_docs;
    int raw_scores, truncate;
    /* out [n_seqs (n_docs), width] */
    float *out;
    int32_t width;
    /* the queue's bookkeeping, under its lock */
    int64_t *seq_off;             /* [n_seqs] token offset of each sequence */
    int32_t next_seq, done_seqs;
    int32_t end_seq;              /* n_seqs, or fewer once the client has gone */
    int finished;
    xf_status status;
    char error[256];
    double t_enqueue, queue_s;
    pthread_cond_t done;
    struct sv_job *next;
} sv_job;

typedef struct sv_server sv_server;
typedef struct sv_queue sv_queue;

/* Starts one forward thread per engine; each owns its engine from now on. */
int sv_queue_start(sv_server *s, sv_queue **out);
/* Lets the thread finish the queued jobs, then joins it. */
void sv_queue_stop(sv_queue *q);
/* Queues the job and sleeps until it is done; returns job->status. alive(ctx), when
 * given, is asked every 200 ms while waiting: 0 (the client has gone) drops the job's
 * sequences that no forward has taken yet. */
xf_status sv_queue_run(sv_queue *q, sv_job *job, int (*alive)(void *), void *alive_ctx);

/* ---------------------------------------------------------------- the server */

struct sv_server {
    sv_config cfg;
    xf_model *model;
    xf_model_info info;
    xf_tokenizer *tok;            /* NULL when the folder has no tokenizer.json */
    xf_adapter **adapters;        /* [cfg.n_adapters] */
    xf_engine *engines[SV_MAX_DEVICES]; /* [n_engines] replicas, each used by its forward thread only */
    int n_engines;
    xf_engine *engine;            /* engines[0]: what /info reports */
    sv_queue *queue;
    sv_metrics metrics;
    int embed_width;              /* D of embedding rows before `dimensions` */
    int can_rerank;
    const char *model_type;       /* "embedding" | "classifier" | "reranker" */
};

/* -------------------------------------------------------- the library bridge */

/* Texts tokenized as the model folder says, optional prompt prepended,
 * truncated (XF_TRUNCATE_*) to max_len. err gets a message on failure. */
xf_status sv_tokenize(const sv_server *s, const char *const *texts, const char *const *pairs, int32_t n,
                      const char *prompt, int add_special, int truncate, int32_t max_len, xf_tokens *out);
void sv_tokens_free(xf_tokens *t);
/* One packed forward of embedding rows: out [n_seqs, s->embed_width], the folder's
 * pooling and Dense modules, not normalised, all dimensions. */
xf_status sv_forward_embed(sv_server *s, xf_engine *e, const xf_batch *b, const int32_t *prompt_lens, float *out);
/* Query/document scores through the library's reranking recipe. */
xf_status sv_forward_rerank(sv_server *s, xf_engine *e, const sv_job *job, float *scores);
/* The named prompt's text; an error message when the folder has none. */
xf_status sv_prompt(const sv_server *s, const char *name, const char **text);
/* Fills in embed_width, can_rerank, model_type from the loaded model. */
void sv_model_describe(sv_server *s);

/* ---------------------------------------------------------------- replies */

typedef enum sv_api { SV_API_OPENAI, SV_API_TEI } sv_api;
typedef enum sv_error_kind {
    SV_ERR_VALIDATION, SV_ERR_TOKENIZER, SV_ERR_BACKEND, SV_ERR_AUTH, SV_ERR_NOT_FOUND,
    SV_ERR_TOO_LARGE, SV_ERR_UNHEALTHY, SV_ERR_OTHER
} sv_error_kind;
extern const char *const sv_error_kind_names[8];

/* A request as the endpoints see it. */
typedef struct sv_call {
    sv_server *server;
    const char *body;
    size_t body_len;
    const char *adapter_header;  /* X-Adapter, or NULL */
    int fd;                      /* the client's socket (-1: unknown), to notice it has gone */
} sv_call;
/* 1 while the client of the call is still connected (sv_queue_run's alive). */
int sv_call_alive(void *call);

/* What an endpoint answers; body malloc'ed. */
typedef struct sv_reply {
    int status;
    char *body;
    size_t len;
    const char *content_type;
} sv_reply;

/* Sets r to a JSON error in the API's shape; returns -1. */
int sv_reply_error(sv_reply *r, sv_metrics *m, sv_api api, int status, sv_error_kind kind, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
/* Takes ownership of a malloc'ed JSON text. */
int sv_reply_json(sv_reply *r, char *text, size_t len);
struct sv_buf;
/* Takes the buffer's text as the JSON reply, or a 500 if it ran out of memory. */
int sv_reply_buf(sv_reply *r, sv_metrics *m, sv_api api, struct sv_buf *b);

/* A growable text buffer for the replies with many numbers. */
typedef struct sv_buf {
    char *p;
    size_t n, cap;
    int oom;
} sv_buf;
void sv_buf_add(sv_buf *b, const char *s, size_t n);
void sv_buf_str(sv_buf *b, const char *s);                     /* raw */
void sv_buf_json_string(sv_buf *b, const char *s, size_t n);   /* quoted, escaped */
void sv_buf_float(sv_buf *b, float v);
void sv_buf_printf(sv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------- request parsing (serve_input.c) */

/* Sequences of one request, concatenated: tokens [n_tokens], lens/prompt [n]. */
typedef struct sv_seqs {
    int32_t *tokens, *lens, *prompt;
    int32_t n;
    int64_t n_tokens;
} sv_seqs;
void sv_seqs_free(sv_seqs *q);

/* How text inputs become sequences. */
typedef struct sv_text_opts {
    const char *prompt;           /* prepended to texts, or NULL */
    int add_special;
    int truncate;                 /* an xf_truncate */
} sv_text_opts;

struct json_t;
/* Parses the body as a JSON object; on failure sets the error reply and returns NULL. */
struct json_t *sv_parse_body(sv_call *c, sv_reply *r, sv_api api);
/* Optional fields: 0 when absent (value untouched), 1 when read, -1 after an error reply. */
int sv_get_bool(sv_call *c, sv_reply *r, sv_api api, struct json_t *o, const char *key, int *v);
int sv_get_int(sv_call *c, sv_reply *r, sv_api api, struct json_t *o, const char *key, long lo, long hi, long *v);
int sv_get_string(sv_call *c, sv_reply *r, sv_api api, struct json_t *o, const char *key, const char **v);
/* `inputs`: a string, one token array, or an array of strings and token arrays.
 * Checks counts, emptiness, token ids and lengths (413 unless truncating). */
int sv_get_inputs(sv_call *c, sv_reply *r, sv_api api, struct json_t *v, const char *field, const sv_text_opts *to,
                  sv_seqs *out);
/* Texts (and optional pair texts) -> sequences, with the same checks. */
int sv_texts_to_seqs(sv_call *c, sv_reply *r, sv_api api, const char *const *texts, const char *const *pairs,
                     int32_t n, const sv_text_opts *to, sv_seqs *out);
/* The prompt named by `prompt_name` (or the folder's default when name is NULL). */
int sv_get_prompt(sv_call *c, sv_reply *r, sv_api api, const char *name, const char **prompt);
/* Adapter by name: -1 for the base model (name NULL, "" or the served model name);
 * -2 after a 404 reply for an unknown name. */
int sv_get_adapter(sv_call *c, sv_reply *r, sv_api api, const char *name);
/* "truncate" + "truncation_direction" of TEI requests -> an xf_truncate, or -1 after an error reply. */
int sv_get_truncate(sv_call *c, sv_reply *r, sv_api api, struct json_t *o);
/* Runs a job; on failure sets a 424 (TEI) / 500 (OpenAI) reply and returns -1. */
int sv_run_job(sv_call *c, sv_reply *r, sv_api api, sv_job *job);

/* ---------------------------------------------------------------- endpoints */

int sv_ep_embeddings(sv_call *c, sv_reply *r);   /* POST /v1/embeddings */
int sv_ep_embed(sv_call *c, sv_reply *r);        /* POST /embed */
int sv_ep_rerank(sv_call *c, sv_reply *r);       /* POST /rerank */
int sv_ep_predict(sv_call *c, sv_reply *r);      /* POST /predict */
int sv_ep_tokenize(sv_call *c, sv_reply *r);     /* POST /tokenize */
int sv_ep_info(sv_call *c, sv_reply *r);         /* GET /info */
int sv_ep_models(sv_call *c, sv_reply *r);       /* GET /v1/models (OpenAI) */

/* HTTP layer (serve_http.c): starts libmicrohttpd, returns the bound port. */
typedef struct sv_http sv_http;
int sv_http_start(sv_server *s, sv_http **out, int *port);
/* Stops accepting, waits up to grace_s for in-flight requests, stops. */
void sv_http_stop(sv_http *h, int grace_s);

int xf_cli_serve(int argc, char **argv);

#endif /* XF_SERVE_H */
