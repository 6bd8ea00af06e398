/* serve_tei.c — the other text-embeddings-inference endpoints of `xfwd serve`:
 *   POST /predict   {"inputs": text | [text, text] | [[text] | [text, text], ...], "raw_scores",
 *                    "truncate", "truncation_direction"} -> [{"label", "score"}, ...] (sorted), or a list
 *                    of those for a batch
 *   POST /rerank    {"query", "texts", "return_text", "raw_scores", "truncate", "truncation_direction",
 *                    "instruction" (xfwd's: the Qwen3-Reranker instruction)}
 *                    -> [{"index", "score", ("text")}, ...] sorted by score, highest first
 *   POST /tokenize  {"inputs": text | [text, ...], "add_special_tokens", "prompt_name"}
 *                    -> [[{"id", "text", "special", "start", "stop"}, ...], ...] (see tokenize below)
 *   GET  /info      what is served and how */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

typedef struct scored {
    int32_t index;
    float score;
} scored;

static int by_score_desc(const void *a, const void *b) {
    float x = ((const scored *)a)->score, y = ((const scored *)b)->score;
    if (x != y) return x < y ? 1 : -1;
    return ((const scored *)a)->index - ((const scored *)b)->index;
}

/* ---------------------------------------------------------------- /predict */

/* Collects the texts of `inputs`; pairs[i] is NULL for a single text. Returns n, -1 on a bad shape. */
static int predict_inputs(json_t *v, const char **a, const char **b, int max, int *batch) {
    *batch = 0;
    if (json_is_string(v)) {
        a[0] = json_string_value(v), b[0] = NULL;
        return 1;
    }
    if (!json_is_array(v) || json_array_size(v) == 0) return -1;
    if (json_is_string(json_array_get(v, 0))) {   /* one pair */
        if (json_array_size(v) != 2 || !json_is_string(json_array_get(v, 1))) return -1;
        a[0] = json_string_value(json_array_get(v, 0)), b[0] = json_string_value(json_array_get(v, 1));
        return 1;
    }
    *batch = 1;
    int n = (int)json_array_size(v);
    if (n > max) return -2;
    for (int i = 0; i < n; i++) {
        json_t *x = json_array_get(v, (size_t)i);
        size_t k = json_array_size(x);
        if (!json_is_array(x) || k < 1 || k > 2 || !json_is_string(json_array_get(x, 0)) ||
            (k == 2 && !json_is_string(json_array_get(x, 1))))
            return -1;
        a[i] = json_string_value(json_array_get(x, 0));
        b[i] = k == 2 ? json_string_value(json_array_get(x, 1)) : NULL;
    }
    return n;
}

/* Tokenizes singles and pairs (two library calls at most) back into input order. */
static int predict_seqs(sv_call *c, sv_reply *r, const char **a, const char **b, int n, int truncate, sv_seqs *out) {
    const sv_api api = SV_API_TEI;
    sv_text_opts to = {.prompt = NULL, .add_special = 1, .truncate = truncate};
    const char **sa = calloc((size_t)n, sizeof *sa), **pa = calloc((size_t)n, sizeof *pa),
               **pb = calloc((size_t)n, sizeof *pb);
    sv_seqs singles = {0}, pairs = {0};
    int ns = 0, np = 0, rc = -1;
    memset(out, 0, sizeof *out);
    if (!sa || !pa || !pb) {
        sv_reply_error(r, &c->server->metrics, api, 500, SV_ERR_OTHER, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++)
        if (b[i]) pa[np] = a[i], pb[np++] = b[i];
        else sa[ns++] = a[i];
    if (ns && sv_texts_to_seqs(c, r, api, sa, NULL, ns, &to, &singles) < 0) goto done;
    if (np && sv_texts_to_seqs(c, r, api, pa, pb, np, &to, &pairs) < 0) goto done;
    out->n_tokens = singles.n_tokens + pairs.n_tokens;
    out->tokens = malloc(sizeof(int32_t) * (size_t)(out->n_tokens ? out->n_tokens : 1));
    out->lens = malloc(sizeof(int32_t) * (size_t)n);
    out->prompt = calloc((size_t)n, sizeof(int32_t));
    if (!out->tokens || !out->lens || !out->prompt) {
        sv_reply_error(r, &c->server->metrics, api, 500, SV_ERR_OTHER, "out of memory");
        goto done;
    }
    int64_t off = 0, so = 0, po = 0;
    for (int i = 0, si = 0, pi = 0; i < n; i++) {
        const sv_seqs *src = b[i] ? &pairs : &singles;
        int k = b[i] ? pi++ : si++;
        int64_t *soff = b[i] ? &po : &so;
        memcpy(out->tokens + off, src->tokens + *soff, sizeof(int32_t) * (size_t)src->lens[k]);
        out->lens[i] = src->lens[k];
        off += src->lens[k], *soff += src->lens[k];
    }
    out->n = n;
    rc = 0;
done:
    free(sa), free(pa), free(pb);
    sv_seqs_free(&singles), sv_seqs_free(&pairs);
    return rc;
}

static void write_predictions(sv_buf *b, const sv_server *s, const float *logits, int raw) {
    int L = s->info.num_labels;
    scored p[L];
    float mx = logits[0];
    for (int k = 1; k < L; k++) mx = logits[k] > mx ? logits[k] : mx;
    double sum = 0;
    for (int k = 0; k < L; k++) sum += exp((double)logits[k] - mx);
    for (int k = 0; k < L; k++) {
        double v = raw ? logits[k] : L == 1 ? 1.0 / (1.0 + exp(-(double)logits[k])) : exp((double)logits[k] - mx) / sum;
        p[k] = (scored){k, (float)v};
    }
    qsort(p, (size_t)L, sizeof *p, by_score_desc);
    sv_buf_add(b, "[", 1);
    for (int k = 0; k < L; k++) {
        char fallback[32];
        const char *name = s->info.labels && s->info.labels[p[k].index] ? s->info.labels[p[k].index] : fallback;
        snprintf(fallback, sizeof fallback, "LABEL_%d", p[k].index);
        sv_buf_str(b, k ? ",{\"label\":" : "{\"label\":");
        sv_buf_json_string(b, name, strlen(name));
        sv_buf_str(b, ",\"score\":");
        sv_buf_float(b, p[k].score);
        sv_buf_add(b, "}", 1);
    }
    sv_buf_add(b, "]", 1);
}

int sv_ep_predict(sv_call *c, sv_reply *r) {
    const sv_api api = SV_API_TEI;
    sv_server *s = c->server;
    if (s->info.num_labels <= 0)
        return sv_reply_error(r, &s->metrics, api, 424, SV_ERR_BACKEND, "the model is not a sequence classifier (no score head)");
    json_t *o = sv_parse_body(c, r, api);
    if (!o) return -1;
    int rc = -1, raw = 0, truncate, batch = 0, adapter;
    int max = s->cfg.max_inputs;
    const char **a = calloc((size_t)max + 1, sizeof *a), **b = calloc((size_t)max + 1, sizeof *b), *ad = c->adapter_header;
    sv_seqs q = {0};
    float *out = NULL;
    if (!a || !b) {
        sv_reply_error(r, &s->metrics, api, 500, SV_ERR_OTHER, "out of memory");
        goto done;
    }
    if (sv_get_bool(c, r, api, o, "raw_scores", &raw) < 0 || (truncate = sv_get_truncate(c, r, api, o)) < 0 ||
        sv_get_string(c, r, api, o, "adapter", &ad) < 0 || (adapter = sv_get_adapter(c, r, api, ad)) < -1)
        goto done;
    int n = predict_inputs(json_object_get(o, "inputs"), a, b, max, &batch);
    if (n == -2) {
        sv_reply_error(r, &s->metrics, api, 413, SV_ERR_TOO_LARGE, "more than the %d inputs allowed per request", max);
        goto done;
    }
    if (n < 0) {
        sv_reply_error(r, &s->metrics, api, 422, SV_ERR_VALIDATION,
                       "'inputs' must be a string, a pair [text, text], or a list of [text] and [text, text]");
        goto done;
    }
    if (predict_seqs(c, r, a, b, n, truncate, &q) < 0) goto done;
    int L = s->info.num_labels;
    out = malloc(sizeof(float) * (size_t)n * (size_t)L);
    if (!out) {
        sv_reply_error(r, &s->metrics, api, 500, SV_ERR_OTHER, "out of memory");
        goto done;
    }
    sv_job job = {.task = SV_TASK_CLASSIFY, .tokens = q.tokens, .seq_lens = q.lens, .n_seqs = q.n, .adapter = adapter,
                  .out = out, .width = L};
    if (sv_run_job(c, r, api, &job) < 0) goto done;
    sv_metrics_tokens(&s->metrics, SV_EP_PREDICT, q.n_tokens);
    sv_buf buf = {0};
    if (batch) sv_buf_add(&buf, "[", 1);
    for (int i = 0; i < n; i++) {
        if (i) sv_buf_add(&buf, ",", 1);
        write_predictions(&buf, s, out + (size_t)i * (size_t)L, raw);
    }
    if (batch) sv_buf_add(&buf, "]", 1);
    rc = sv_reply_buf(r, &s->metrics, api, &buf);
done:
    free(a), free(b), free(out);
    sv_seqs_free(&q);
    json_decref(o);
    return rc;
}

/* ---------------------------------------------------------------- /rerank */

int sv_ep_rerank(sv_call *c, sv_reply *r) {
    const sv_api api = SV_API_TEI;
    sv_server *s = c->server;
    if (!s->can_rerank)
        return sv_reply_error(r, &s->metrics, api, 424, SV_ERR_BACKEND,
                              "the model is not a reranker (no one-label score head, no lm_head with a tokenizer)");
    json_t *o = sv_parse_body(c, r, api);
    if (!o) return -1;
    int rc = -1, raw = 0, ret_text = 0, truncate;
    const char *query = NULL, *instruction = NULL;
    const char **docs = NULL;
    float *scores = NULL;
    scored *order = NULL;
    json_t *texts = json_object_get(o, "texts");
    if (sv_get_string(c, r, api, o, "query", &query) < 0 || sv_get_bool(c, r, api, o, "raw_scores", &raw) < 0 ||
        sv_get_string(c, r, api, o, "instruction", &instruction) < 0 ||
        sv_get_bool(c, r, api, o, "return_text", &ret_text) < 0 || (truncate = sv_get_truncate(c, r, api, o)) < 0)
        goto done;
    if (!query || !json_is_array(texts)) {
        sv_reply_error(r, &s->metrics, api, 422, SV_ERR_VALIDATION, "'query' (a string) and 'texts' (an array of strings) are required");
        goto done;
    }
    size_t n = json_array_size(texts);
    if (n == 0 || !*query) {
        sv_reply_error(r, &s->metrics, api, 400, SV_ERR_VALIDATION, "'query' and 'texts' must not be empty");
        goto done;
    }
    if (n > (size_t)s->cfg.max_inputs) {
        sv_reply_error(r, &s->metrics, api, 413, SV_ERR_TOO_LARGE, "%zu texts, more than the %d allowed per request", n,
                       s->cfg.max_inputs);
        goto done;
    }
    docs = calloc(n, sizeof *docs);
    scores = malloc(sizeof(float) * n);
    order = malloc(sizeof *order * n);
    if (!docs || !scores || !order) {
        sv_reply_error(r, &s->metrics, api, 500, SV_ERR_OTHER, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *x = json_array_get(texts, i);
        if (!json_is_string(x)) {
            sv_reply_error(r, &s->metrics, api, 422, SV_ERR_VALIDATION, "'texts'[%zu] must be a string", i);
            goto done;
        }
        docs[i] = json_string_value(x);
    }
    sv_job job = {.task = SV_TASK_RERANK, .query = query, .instruction = instruction, .docs = docs, .n_docs = (int32_t)n, .raw_scores = raw,
                  .truncate = truncate, .out = scores, .width = 1, .adapter = -1};
    if (sv_run_job(c, r, api, &job) < 0) goto done;
    for (size_t i = 0; i < n; i++) order[i] = (scored){(int32_t)i, scores[i]};
    qsort(order, n, sizeof *order, by_score_desc);
    sv_buf b = {0};
    sv_buf_add(&b, "[", 1);
    for (size_t i = 0; i < n; i++) {
        sv_buf_printf(&b, "%s{\"index\":%d,\"score\":", i ? "," : "", order[i].index);
        sv_buf_float(&b, order[i].score);
        if (ret_text) {
            sv_buf_str(&b, ",\"text\":");
            sv_buf_json_string(&b, docs[order[i].index], strlen(docs[order[i].index]));
        }
        sv_buf_add(&b, "}", 1);
    }
    sv_buf_add(&b, "]", 1);
    rc = sv_reply_buf(r, &s->metrics, api, &b);
done:
    free(docs), free(scores), free(order);
    json_decref(o);
    return rc;
}
