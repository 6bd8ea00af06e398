/* serve_http.c — the HTTP layer of `xfwd serve` on libmicrohttpd: one thread per
 * connection (the endpoints sleep there while the forward thread works), an idle
 * timeout, a connection limit and a body-size limit; routing, the API key, the
 * JSON error shapes of both APIs, and the reply buffer helpers. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "serve.h"

struct sv_http {
    sv_server *s;
    struct MHD_Daemon *d;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int in_flight;               /* requests begun and not yet completed */
};

/* ---------------------------------------------------------------- buffers */

void sv_buf_add(sv_buf *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->p = p, b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = 0;
}

void sv_buf_str(sv_buf *b, const char *s) { sv_buf_add(b, s, strlen(s)); }

void sv_buf_printf(sv_buf *b, const char *fmt, ...) {
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        sv_buf_add(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    sv_buf_add(b, big, (size_t)n);
    free(big);
}

/* float -> shortest text that reads back as the same float (9 significant digits). */
void sv_buf_float(sv_buf *b, float v) {
    char tmp[32];
    if (v != v || v - v != 0) {   /* NaN or Inf have no JSON spelling */
        sv_buf_add(b, "null", 4);
        return;
    }
    int n = snprintf(tmp, sizeof tmp, "%.9g", (double)v);
    sv_buf_add(b, tmp, (size_t)n);
}

void sv_buf_json_string(sv_buf *b, const char *s, size_t n) {
    sv_buf_add(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        sv_buf_add(b, s + run, i - run);
        run = i + 1;
        char esc[8];
        if (c == '"') sv_buf_add(b, "\\\"", 2);
        else if (c == '\\') sv_buf_add(b, "\\\\", 2);
        else if (c == '\n') sv_buf_add(b, "\\n", 2);
        else if (c == '\t') sv_buf_add(b, "\\t", 2);
        else if (c == '\r') sv_buf_add(b, "\\r", 2);
        else sv_buf_add(b, esc, (size_t)snprintf(esc, sizeof esc, "\\u%04x", c));
    }
    sv_buf_add(b, s + run, n - run);
    sv_buf_add(b, "\"", 1);
}

/* ---------------------------------------------------------------- replies */

int sv_reply_json(sv_reply *r, char *text, size_t len) {
    r->body = text;
    r->len = len;
    r->content_type = "application/json";
    if (!r->status) r->status = 200;
    return 0;
}

int sv_reply_buf(sv_reply *r, sv_metrics *m, sv_api api, sv_buf *b) {
    if (b->oom || !b->p) {
        free(b->p);
        b->p = NULL;
        return sv_reply_error(r, m, api, 500, SV_ERR_OTHER, "out of memory");
    }
    int rc = sv_reply_json(r, b->p, b->n);
    b->p = NULL;
    return rc;
}

static const char *openai_type(int status) {
    switch (status) {
    case 401: return "invalid_request_error";
    case 404: return "invalid_request_error";
    case 500: case 503: return "server_error";
    default: return "invalid_request_error";
    }
}

static const char *tei_type(sv_error_kind k) {
    switch (k) {
    case SV_ERR_TOKENIZER: return "Tokenizer";
    case SV_ERR_BACKEND: return "Backend";
    case SV_ERR_UNHEALTHY: return "Unhealthy";
    default: return "Validation";
    }
}

int sv_reply_error(sv_reply *r, sv_metrics *m, sv_api api, int status, sv_error_kind kind, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *o;
    if (api == SV_API_OPENAI) {
        const char *code = kind == SV_ERR_AUTH ? "invalid_api_key" : kind == SV_ERR_NOT_FOUND ? "model_not_found" : NULL;
        o = json_pack("{s:{s:s, s:s, s:n, s:o}}", "error", "message", msg, "type", openai_type(status), "param",
                      "code", code ? json_string(code) : json_null());
    } else {
        o = json_pack("{s:s, s:s}", "error", msg, "error_type", tei_type(kind));
    }
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    free(r->body);
    r->status = status;
    if (m) sv_metrics_error(m, kind);
    if (!text) text = strdup("{\"error\":\"out of memory\"}");
    sv_reply_json(r, text, text ? strlen(text) : 0);
    return -1;
}

/* ---------------------------------------------------------------- requests */

typedef struct sv_request {
    sv_buf body;
    int too_big;
    int counted;                  /* in in_flight */
} sv_request;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int endpoint_of(const char *url) {
    static const char *const paths[] = {"/v1/embeddings", "/embed", "/rerank", "/predict", "/tokenize",
                                        "/health", "/info", "/metrics", "/v1/models"};
    for (int i = 0; i < 9; i++)
        if (!strcmp(url, paths[i])) return i;
    if (!strcmp(url, "/embeddings")) return SV_EP_EMBEDDINGS;
    return SV_EP_OTHER;
}

static enum MHD_Result send_reply(struct MHD_Connection *c, sv_reply *r) {
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(r->len, r->body ? r->body : (char *)"", r->body ? MHD_RESPMEM_MUST_FREE
                                                                                      : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(r->body);
        return MHD_NO;
    }
    r->body = NULL;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type ? r->content_type : "application/json");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ok;
}

int sv_call_alive(void *call) {
    const sv_call *c = call;
    if (c->fd < 0) return 1;
    struct pollfd p = {.fd = c->fd, .events = POLLIN | POLLRDHUP};
    if (poll(&p, 1, 0) <= 0) return 1;
    if (p.revents & (POLLHUP | POLLERR | POLLRDHUP)) return 0;
    char byte;   /* readable: the next request of a pipelining client, or the end of the stream */
    return recv(c->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) != 0;
}

/* Authorization: Bearer KEY (constant time over the key's length). */
static int authorized(const sv_server *s, struct MHD_Connection *c) {
    if (!s->cfg.api_key) return 1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return 0;
    h += 7;
    while (*h == ' ') h++;
    size_t n = strlen(s->cfg.api_key), hn = strlen(h);
    unsigned diff = (unsigned)(n != hn);
    for (size_t i = 0; i < n; i++) diff |= (unsigned)(s->cfg.api_key[i] ^ (i < hn ? h[i] : 0));
    return diff == 0;
}

static void route(sv_server *s, struct MHD_Connection *c, const char *url, int ep, const char *method, sv_request *rq,
                  sv_reply *r) {
    sv_api api = ep == SV_EP_EMBEDDINGS || ep == SV_EP_MODELS || !strncmp(url, "/v1/", 4) ? SV_API_OPENAI : SV_API_TEI;
    int is_get = !strcmp(method, "GET"), is_post = !strcmp(method, "POST");
    if (ep == SV_EP_HEALTH && is_get) {
        r->status = 200;
        r->body = strdup("");
        r->len = 0;
        r->content_type = "text/plain";
        return;
    }
    if (!authorized(s, c)) {
        sv_reply_error(r, &s->metrics, api, 401, SV_ERR_AUTH,
                       "missing or wrong API key: send the header 'Authorization: Bearer KEY'");
        return;
    }
    if (ep == SV_EP_OTHER) {
        sv_reply_error(r, &s->metrics, api, 404, SV_ERR_NOT_FOUND, "no route %s %.200s", method, url);
        return;
    }
    int wants_get = ep == SV_EP_INFO || ep == SV_EP_METRICS || ep == SV_EP_HEALTH || ep == SV_EP_MODELS;
    if ((wants_get && !is_get) || (!wants_get && !is_post)) {
        sv_reply_error(r, &s->metrics, api, 405, SV_ERR_VALIDATION, "method %s not allowed here (use %s)", method,
                       wants_get ? "GET" : "POST");
        return;
    }
    if (rq->too_big) {
        sv_reply_error(r, &s->metrics, api, 413, SV_ERR_TOO_LARGE, "request body larger than %zu bytes",
                       s->cfg.max_body_bytes);
        return;
    }
    if (ep == SV_EP_METRICS) {
        size_t len = 0;
        char *text = sv_metrics_text(&s->metrics, &len);
        if (!text) {
            sv_reply_error(r, &s->metrics, api, 500, SV_ERR_OTHER, "out of memory");
            return;
        }
        r->status = 200, r->body = text, r->len = len;
        r->content_type = "text/plain; version=0.0.4";
        return;
    }
    sv_call call = {.server = s, .body = rq->body.p ? rq->body.p : "", .body_len = rq->body.n,
                    .adapter_header = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Adapter"), .fd = -1};
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) call.fd = ci->connect_fd;
    switch (ep) {
    case SV_EP_EMBEDDINGS: sv_ep_embeddings(&call, r); break;
    case SV_EP_EMBED: sv_ep_embed(&call, r); break;
    case SV_EP_RERANK: sv_ep_rerank(&call, r); break;
    case SV_EP_PREDICT: sv_ep_predict(&call, r); break;
    case SV_EP_TOKENIZE: sv_ep_tokenize(&call, r); break;
    case SV_EP_INFO: sv_ep_info(&call, r); break;
    case SV_EP_MODELS: sv_ep_models(&call, r); break;
    default: break;
    }
    if (!r->body) sv_reply_error(r, &s->metrics, api, 500, SV_ERR_OTHER, "no reply (out of memory?)");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *data, size_t *data_size, void **con_cls) {
    sv_http *h = cls;
    sv_server *s = h->s;
    sv_request *rq = *con_cls;
    if (!rq) {   /* headers only: set up, and refuse an announced oversized body at once */
        rq = calloc(1, sizeof *rq);
        if (!rq) return MHD_NO;
        *con_cls = rq;
        pthread_mutex_lock(&h->lock);
        h->in_flight++;
        rq->counted = 1;
        pthread_mutex_unlock(&h->lock);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body_bytes) {
            int ep = endpoint_of(url);
            sv_reply r = {0};
            sv_reply_error(&r, &s->metrics, ep == SV_EP_EMBEDDINGS ? SV_API_OPENAI : SV_API_TEI, 413,
                           SV_ERR_TOO_LARGE, "request body larger than %zu bytes", s->cfg.max_body_bytes);
            sv_metrics_request(&s->metrics, ep, 413, 0);
            return send_reply(c, &r);
        }
        return MHD_YES;
    }
    if (*data_size) {   /* more body: keep it while under the limit, else only remember */
        if (!rq->too_big && rq->body.n + *data_size <= s->cfg.max_body_bytes) sv_buf_add(&rq->body, data, *data_size);
        else rq->too_big = 1;
        if (rq->body.oom) rq->too_big = 1;
        *data_size = 0;
        return MHD_YES;
    }
    double t0 = now_s();
    int ep = endpoint_of(url);
    sv_reply r = {0};
    route(s, c, url, ep, method, rq, &r);
    sv_metrics_request(&s->metrics, ep, r.status, now_s() - t0);
    return send_reply(c, &r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode why) {
    sv_http *h = cls;
    sv_request *rq = *con_cls;
    if (!rq) return;
    if (rq->counted) {
        pthread_mutex_lock(&h->lock);
        if (--h->in_flight == 0) pthread_cond_broadcast(&h->idle);
        pthread_mutex_unlock(&h->lock);
    }
    free(rq->body.p);
    free(rq);
    *con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
    fputs("xfwd serve: ", stderr);
    vfprintf(stderr, fmt, ap);
}

int sv_http_start(sv_server *s, sv_http **out, int *port) {
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    char portstr[16];
    snprintf(portstr, sizeof portstr, "%d", s->cfg.port);
    int rc = getaddrinfo(s->cfg.host, portstr, &hints, &ai);
    if (rc != 0 || !ai) {
        fprintf(stderr, "xfwd serve: --host must be a numeric IPv4 or IPv6 address, got '%s' (%s)\n", s->cfg.host,
                gai_strerror(rc));
        return -1;
    }
    sv_http *h = calloc(1, sizeof *h);
    if (!h) {
        freeaddrinfo(ai);
        return -1;
    }
    h->s = s;
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->idle, NULL);
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, (uint16_t)s->cfg.port, NULL, NULL, on_request, h,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
                            MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->cfg.timeout_s,
                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->cfg.max_connections,
                            MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                            MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!h->d) {
        fprintf(stderr, "xfwd serve: cannot listen on %s port %d (in use, or not an address here?)\n", s->cfg.host,
                s->cfg.port);
        pthread_cond_destroy(&h->idle);
        pthread_mutex_destroy(&h->lock);
        free(h);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? info->port : s->cfg.port;
    *out = h;
    return 0;
}

void sv_http_stop(sv_http *h, int grace_s) {
    if (!h) return;
    MHD_socket listen_fd = MHD_quiesce_daemon(h->d);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += grace_s;
    pthread_mutex_lock(&h->lock);
    while (h->in_flight > 0)
        if (pthread_cond_timedwait(&h->idle, &h->lock, &ts) != 0) break;
    if (h->in_flight > 0) fprintf(stderr, "xfwd serve: %d requests still open after %d s; closing them\n",
                                  h->in_flight, grace_s);
    pthread_mutex_unlock(&h->lock);
    MHD_stop_daemon(h->d);
    if (listen_fd != MHD_INVALID_SOCKET) close(listen_fd);
    pthread_cond_destroy(&h->idle);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
