/* serve_metrics.c — the counters and histograms of `xfwd serve`, written out in the
 * Prometheus text exposition format at GET /metrics: requests by endpoint and
 * status, tokens by endpoint, errors by kind, and histograms of the request
 * latency, the time a request waits in the queue, the time of each forward and
 * the size of each forward (tokens and sequences). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve.h"

static const char *const endpoint_names[SV_EP_COUNT] = {"/v1/embeddings", "/embed", "/rerank", "/predict",
                                                        "/tokenize", "/health", "/info", "/metrics", "/v1/models",
                                                        "other"};
static const int status_codes[SV_STATUS_SLOTS] = {200, 400, 401, 404, 405, 413, 422, 424};
const char *const sv_error_kind_names[8] = {"validation", "tokenizer", "backend", "auth",
                                            "not_found", "too_large", "unhealthy", "other"};

static void hist_init(sv_hist *h, const double *bounds, int n) {
    memset(h, 0, sizeof *h);
    h->n_bounds = n;
    memcpy(h->bounds, bounds, sizeof(double) * (size_t)n);
}

static void hist_add(sv_hist *h, double v) {
    int i = 0;
    while (i < h->n_bounds && v > h->bounds[i]) i++;
    h->counts[i]++;
    h->sum += v;
    h->count++;
}

void sv_metrics_init(sv_metrics *m) {
    memset(m, 0, sizeof *m);
    pthread_mutex_init(&m->lock, NULL);
    static const double secs[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
    static const double toks[] = {1, 8, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768};
    static const double seqs[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
    hist_init(&m->queue_s, secs, 14);
    hist_init(&m->forward_s, secs, 14);
    hist_init(&m->request_s, secs, 14);
    hist_init(&m->batch_tokens, toks, 13);
    hist_init(&m->batch_seqs, seqs, 11);
}

void sv_metrics_free(sv_metrics *m) { pthread_mutex_destroy(&m->lock); }

void sv_metrics_request(sv_metrics *m, int ep, int status, double seconds) {
    int slot = SV_STATUS_SLOTS;
    for (int i = 0; i < SV_STATUS_SLOTS; i++)
        if (status_codes[i] == status) slot = i;
    pthread_mutex_lock(&m->lock);
    m->requests[ep][slot]++;
    if (ep != SV_EP_METRICS && ep != SV_EP_HEALTH) hist_add(&m->request_s, seconds);
    pthread_mutex_unlock(&m->lock);
}

void sv_metrics_tokens(sv_metrics *m, int ep, int64_t n) {
    pthread_mutex_lock(&m->lock);
    m->tokens[ep] += (uint64_t)n;
    pthread_mutex_unlock(&m->lock);
}

void sv_metrics_error(sv_metrics *m, int kind) {
    pthread_mutex_lock(&m->lock);
    m->errors[kind]++;
    pthread_mutex_unlock(&m->lock);
}

void sv_metrics_forward(sv_metrics *m, int64_t tokens, int32_t seqs, double seconds) {
    pthread_mutex_lock(&m->lock);
    m->forwards++;
    hist_add(&m->batch_tokens, (double)tokens);
    hist_add(&m->batch_seqs, (double)seqs);
    hist_add(&m->forward_s, seconds);
    pthread_mutex_unlock(&m->lock);
}

void sv_metrics_queue(sv_metrics *m, double seconds) {
    pthread_mutex_lock(&m->lock);
    hist_add(&m->queue_s, seconds);
    pthread_mutex_unlock(&m->lock);
}

static void hist_write(sv_buf *b, const char *name, const char *help, const sv_hist *h) {
    sv_buf_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (int i = 0; i < h->n_bounds; i++) {
        cum += h->counts[i];
        sv_buf_printf(b, "%s_bucket{le=\"%g\"} %llu\n", name, h->bounds[i], (unsigned long long)cum);
    }
    cum += h->counts[h->n_bounds];
    sv_buf_printf(b, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.9g\n%s_count %llu\n", name, (unsigned long long)cum,
                  name, h->sum, name, (unsigned long long)h->count);
}

char *sv_metrics_text(sv_metrics *m, size_t *len) {
    sv_buf b = {0};
    pthread_mutex_lock(&m->lock);
    sv_buf_str(&b, "# HELP xfwd_requests_total HTTP requests answered, by endpoint and status.\n"
                   "# TYPE xfwd_requests_total counter\n");
    for (int e = 0; e < SV_EP_COUNT; e++)
        for (int k = 0; k <= SV_STATUS_SLOTS; k++) {
            if (!m->requests[e][k]) continue;
            char code[8];
            if (k < SV_STATUS_SLOTS) snprintf(code, sizeof code, "%d", status_codes[k]);
            else snprintf(code, sizeof code, "other");
            sv_buf_printf(&b, "xfwd_requests_total{endpoint=\"%s\",status=\"%s\"} %llu\n", endpoint_names[e], code,
                          (unsigned long long)m->requests[e][k]);
        }
    sv_buf_str(&b, "# HELP xfwd_tokens_total Input tokens processed, by endpoint.\n"
                   "# TYPE xfwd_tokens_total counter\n");
    for (int e = 0; e < SV_EP_COUNT; e++)
        if (m->tokens[e])
            sv_buf_printf(&b, "xfwd_tokens_total{endpoint=\"%s\"} %llu\n", endpoint_names[e],
                          (unsigned long long)m->tokens[e]);
    sv_buf_str(&b, "# HELP xfwd_errors_total Error replies, by kind.\n# TYPE xfwd_errors_total counter\n");
    for (int k = 0; k < 8; k++)
        sv_buf_printf(&b, "xfwd_errors_total{kind=\"%s\"} %llu\n", sv_error_kind_names[k],
                      (unsigned long long)m->errors[k]);
    sv_buf_printf(&b, "# HELP xfwd_forwards_total Forwards run.\n# TYPE xfwd_forwards_total counter\n"
                      "xfwd_forwards_total %llu\n", (unsigned long long)m->forwards);
    hist_write(&b, "xfwd_batch_tokens", "Tokens per forward.", &m->batch_tokens);
    hist_write(&b, "xfwd_batch_sequences", "Sequences per forward.", &m->batch_seqs);
    hist_write(&b, "xfwd_queue_seconds", "Time from a request's arrival in the queue to its first forward.",
               &m->queue_s);
    hist_write(&b, "xfwd_forward_seconds", "Time of each forward.", &m->forward_s);
    hist_write(&b, "xfwd_request_seconds", "Time from a request's last body byte to its reply.", &m->request_s);
    pthread_mutex_unlock(&m->lock);
    if (b.oom) {
        free(b.p);
        return NULL;
    }
    *len = b.n;
    return b.p;
}
