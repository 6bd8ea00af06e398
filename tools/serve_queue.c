/* serve_queue.c — the batching queue of `xfwd serve`: one queue, and one forward
 * thread per engine (replicas: --devices). HTTP threads queue jobs and sleep on the job's condition variable;
 * the forward thread packs the sequences of queued jobs (oldest first) into one
 * forward of at most max_batch_tokens tokens, no padding, waiting up to max_wait_ms
 * after the oldest job arrived for more to come. A job larger than one forward is
 * spread over several; each forward's rows are copied back to their jobs, and a job
 * whose last rows came back is woken. Jobs of different adapters share forwards
 * (xf_batch.adapter_ids). Embedding and classification jobs go in separate forwards
 * (different outputs); a rerank job is one library call on its own. With several
 * engines, whichever forward thread is free packs the next forward: a forward's
 * sequences are taken from the queue under its lock, so no sequence runs twice, and
 * each thread writes back only the rows of its own forward. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve.h"

typedef struct sv_worker {
    struct sv_queue *q;
    xf_engine *e;
    pthread_t thread;
    int started;
} sv_worker;

struct sv_queue {
    sv_server *s;
    sv_worker workers[SV_MAX_DEVICES];
    int n_workers;
    pthread_mutex_t lock;
    pthread_cond_t work;          /* a job arrived, or stop */
    sv_job *head, *tail;          /* jobs with sequences not yet dispatched, oldest first */
    int stopping;
    int answered;                 /* jobs the last forward finished */
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A part of a job in one forward: sequences [first, first + n). */
typedef struct slice {
    sv_job *job;
    int32_t first, n;
} slice;

static int64_t job_tokens_left(const sv_job *j) {
    if (j->task == SV_TASK_RERANK) return 0;
    int64_t t = 0;
    for (int32_t i = j->next_seq; i < j->end_seq; i++) t += j->seq_lens[i];
    return t;
}

static void unlink_head(sv_queue *q) {
    q->head = q->head->next;
    if (!q->head) q->tail = NULL;
}

static void finish(sv_job *j, xf_status st, const char *msg) {
    if (st != XF_OK && j->status == XF_OK) {
        j->status = st;
        snprintf(j->error, sizeof j->error, "%s", msg);
    }
}

/* Runs one rerank job outside the lock. */
static void run_rerank(sv_queue *q, xf_engine *e, sv_job *j) {
    pthread_mutex_unlock(&q->lock);
    double t0 = now_s();
    xf_status st = sv_forward_rerank(q->s, e, j, j->out);
    char msg[256];
    snprintf(msg, sizeof msg, "%s", st == XF_OK ? "" : xf_last_error());
    sv_metrics_forward(&q->s->metrics, 0, j->n_docs, now_s() - t0);
    pthread_mutex_lock(&q->lock);
    finish(j, st, msg);
    j->finished = 1;
    pthread_cond_signal(&j->done);
}

/* Packs, runs (on engine e) and scatters one forward of the head job's task. Called locked. */
static void run_packed(sv_queue *q, xf_engine *e) {
    sv_server *s = q->s;
    sv_task task = q->head->task;
    int64_t budget = s->cfg.max_batch_tokens, total = 0;
    int32_t n_seqs = 0, n_slices = 0, cap_slices = 16;
    slice *sl = malloc(sizeof *sl * (size_t)cap_slices);
    /* pick sequences, oldest job first, whole sequences, until the budget is full */
    for (sv_job *j = q->head; j && total < budget && sl; j = j->next) {
        if (j->task != task) continue;
        int32_t first = j->next_seq, k = first;
        while (k < j->end_seq && total + j->seq_lens[k] <= budget) total += j->seq_lens[k++];
        if (k == first) break;   /* the next sequence does not fit: keep the order */
        if (n_slices == cap_slices) {
            slice *g = realloc(sl, sizeof *sl * (size_t)(cap_slices *= 2));
            if (!g) break;
            sl = g;
        }
        sl[n_slices++] = (slice){j, first, k - first};
        n_seqs += k - first;
        j->next_seq = k;
        if (j->queue_s < 0) j->queue_s = now_s() - j->t_enqueue;
    }
    /* drop fully dispatched jobs from the list (they stay alive until finished) */
    for (sv_job **pp = &q->head, *prev = NULL; *pp;) {
        sv_job *j = *pp;
        if (j->next_seq >= j->end_seq && j->task != SV_TASK_RERANK) {
            *pp = j->next;
            if (q->tail == j) q->tail = prev;
        } else {
            prev = j;
            pp = &j->next;
        }
    }
    for (int32_t i = 0; i < n_slices; i++)
        if (sl[i].first == 0) sv_metrics_queue(&s->metrics, sl[i].job->queue_s);
    pthread_mutex_unlock(&q->lock);

    int32_t width = task == SV_TASK_EMBED ? s->embed_width : s->info.num_labels;
    int32_t *tokens = malloc(sizeof(int32_t) * (size_t)(total ? total : 1));
    int32_t *lens = malloc(sizeof(int32_t) * (size_t)(n_seqs ? n_seqs : 1));
    int32_t *prompt = malloc(sizeof(int32_t) * (size_t)(n_seqs ? n_seqs : 1));
    int32_t *ads = malloc(sizeof(int32_t) * (size_t)(n_seqs ? n_seqs : 1));
    float *out = malloc(sizeof(float) * (size_t)(n_seqs ? n_seqs : 1) * (size_t)width);
    xf_status st = XF_OK;
    char msg[256] = "";
    double t0 = now_s(), dt = 0;
    if (!sl || !tokens || !lens || !prompt || !ads || !out) {
        st = XF_ERR_NO_MEMORY;
        snprintf(msg, sizeof msg, "out of host memory for a forward of %lld tokens", (long long)total);
    } else {
        int64_t t = 0;
        int32_t r = 0;
        for (int32_t i = 0; i < n_slices; i++) {
            const sv_job *j = sl[i].job;
            for (int32_t k = sl[i].first; k < sl[i].first + sl[i].n; k++, r++) {
                memcpy(tokens + t, j->tokens + j->seq_off[k], sizeof(int32_t) * (size_t)j->seq_lens[k]);
                t += j->seq_lens[k];
                lens[r] = j->seq_lens[k];
                prompt[r] = j->prompt_lens ? j->prompt_lens[k] : 0;
                ads[r] = j->adapter;
            }
        }
        xf_batch b = {.tokens = tokens, .seq_lens = lens, .n_seqs = n_seqs,
                      .adapter_ids = s->cfg.n_adapters > 0 ? ads : NULL};
        st = task == SV_TASK_EMBED ? sv_forward_embed(s, e, &b, prompt, out) : xf_engine_classify(e, &b, out);
        if (st != XF_OK) snprintf(msg, sizeof msg, "%s", xf_last_error());
        dt = now_s() - t0;
        sv_metrics_forward(&s->metrics, total, n_seqs, dt);
    }

    pthread_mutex_lock(&q->lock);
    int32_t r = 0;
    for (int32_t i = 0; i < n_slices; i++) {
        sv_job *j = sl[i].job;
        if (st == XF_OK)
            memcpy(j->out + (size_t)sl[i].first * (size_t)width, out + (size_t)r * (size_t)width,
                   sizeof(float) * (size_t)sl[i].n * (size_t)width);
        r += sl[i].n;
        finish(j, st, msg);
        j->done_seqs += sl[i].n;
        if (j->done_seqs == j->end_seq) {
            j->finished = 1;
            q->answered++;
            pthread_cond_signal(&j->done);
        }
    }
    if (!sl) {   /* could not even record the slices: fail the head job rather than spin */
        sv_job *j = q->head;
        if (j) {
            unlink_head(q);
            finish(j, XF_ERR_NO_MEMORY, "out of host memory");
            j->finished = 1;
            pthread_cond_signal(&j->done);
        }
    }
    free(sl), free(tokens), free(lens), free(prompt), free(ads), free(out);
}

static void *forward_thread(void *arg) {
    sv_worker *w = arg;
    sv_queue *q = w->q;
    double engine_free = 0;   /* when the last forward ended */
    pthread_mutex_lock(&q->lock);
    for (;;) {
        while (!q->head && !q->stopping) pthread_cond_wait(&q->work, &q->lock);
        if (!q->head) break;   /* stopping and nothing left */
        sv_job *oldest = q->head;
        if (oldest->task == SV_TASK_RERANK) {
            unlink_head(q);
            run_rerank(q, w->e, oldest);
            continue;
        }
        /* Wait for more work, at most max_wait_ms after the oldest job arrived or the engine
         * came free (whichever is later), and only while it is worth it: go at once when the
         * budget is full, or when as many jobs arrived since the last forward as it answered
         * (its clients are back; one client alone never waits). This keeps the clients of a
         * busy server in full forwards instead of cohorts alternating in half-full ones. */
        int64_t pending = 0;
        int arrived = 0;
        for (sv_job *j = q->head; j; j = j->next) {
            if (j->task == oldest->task && pending < q->s->cfg.max_batch_tokens) pending += job_tokens_left(j);
            arrived += j->t_enqueue >= engine_free && j->next_seq == 0;
        }
        double since = oldest->t_enqueue > engine_free ? oldest->t_enqueue : engine_free;
        double deadline = since + 1e-3 * q->s->cfg.max_wait_ms, now = now_s();
        if (pending < q->s->cfg.max_batch_tokens && arrived < q->answered && now < deadline && !q->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            double wait = deadline - now;
            ts.tv_sec += (time_t)wait;
            ts.tv_nsec += (long)((wait - (double)(time_t)wait) * 1e9);
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&q->work, &q->lock, &ts);
            continue;
        }
        q->answered = 0;
        run_packed(q, w->e);
        engine_free = now_s();
    }
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

int sv_queue_start(sv_server *s, sv_queue **out) {
    sv_queue *q = calloc(1, sizeof *q);
    if (!q) return -1;
    q->s = s;
    pthread_mutex_init(&q->lock, NULL);
    pthread_cond_init(&q->work, NULL);
    *out = q;
    for (int i = 0; i < s->n_engines; i++) {
        sv_worker *w = &q->workers[q->n_workers++];
        *w = (sv_worker){.q = q, .e = s->engines[i]};
        if (pthread_create(&w->thread, NULL, forward_thread, w) != 0) return -1;  /* sv_queue_stop cleans up */
        w->started = 1;
    }
    return 0;
}

void sv_queue_stop(sv_queue *q) {
    if (!q) return;
    pthread_mutex_lock(&q->lock);
    q->stopping = 1;
    pthread_cond_broadcast(&q->work);
    pthread_mutex_unlock(&q->lock);
    for (int i = 0; i < q->n_workers; i++)
        if (q->workers[i].started) pthread_join(q->workers[i].thread, NULL);
    pthread_cond_destroy(&q->work);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

/* Drops the job's undispatched sequences (its client has gone). Called locked. */
static void cancel(sv_queue *q, sv_job *j) {
    if (j->task == SV_TASK_RERANK || j->end_seq == j->next_seq) return;
    j->end_seq = j->next_seq;
    for (sv_job **pp = &q->head, *prev = NULL; *pp; prev = *pp, pp = &(*pp)->next)
        if (*pp == j) {
            *pp = j->next;
            if (q->tail == j) q->tail = prev;
            break;
        }
    if (j->status == XF_OK) {
        j->status = XF_ERR_INVALID_ARG;
        snprintf(j->error, sizeof j->error, "the client went away; the request was dropped");
    }
    if (j->done_seqs == j->end_seq) j->finished = 1;
}

xf_status sv_queue_run(sv_queue *q, sv_job *j, int (*alive)(void *), void *alive_ctx) {
    j->status = XF_OK;
    j->error[0] = 0;
    j->next_seq = j->done_seqs = 0;
    j->end_seq = j->n_seqs;
    j->finished = 0;
    j->queue_s = -1;
    j->next = NULL;
    j->seq_off = NULL;
    if (j->task != SV_TASK_RERANK) {
        if (j->n_seqs == 0) return XF_OK;
        j->seq_off = malloc(sizeof(int64_t) * (size_t)j->n_seqs);
        if (!j->seq_off) {
            snprintf(j->error, sizeof j->error, "out of host memory");
            return j->status = XF_ERR_NO_MEMORY;
        }
        int64_t off = 0;
        for (int32_t i = 0; i < j->n_seqs; i++) j->seq_off[i] = off, off += j->seq_lens[i];
    }
    pthread_cond_init(&j->done, NULL);
    pthread_mutex_lock(&q->lock);
    j->t_enqueue = now_s();
    if (q->stopping) {
        j->status = XF_ERR_DEVICE;
        snprintf(j->error, sizeof j->error, "the server is shutting down");
    } else {
        if (q->tail) q->tail->next = j;
        else q->head = j;
        q->tail = j;
        pthread_cond_broadcast(&q->work);  /* any idle forward thread may take it */
        while (!j->finished) {
            if (!alive) {
                pthread_cond_wait(&j->done, &q->lock);
                continue;
            }
            /* every 200 ms: has the client gone? then its sequences not yet in a forward
             * are dropped, and the job ends with the forward in progress */
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200000000L;
            if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
            if (pthread_cond_timedwait(&j->done, &q->lock, &ts) == 0 || j->finished || alive(alive_ctx)) continue;
            cancel(q, j);
        }
    }
    pthread_mutex_unlock(&q->lock);
    pthread_cond_destroy(&j->done);
    free(j->seq_off);
    j->seq_off = NULL;
    return j->status;
}
