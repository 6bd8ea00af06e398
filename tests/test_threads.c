/* test_threads.c — the thread-safety contract of xfwd.h, exercised: one engine
 * called by several threads at once (calls are serialised: every result is
 * right), one model shared by engines of several threads, one tokenizer shared
 * by encoding threads. Every result is compared with the single-threaded one.
 * Built with ThreadSanitizer by scripts/test.sh (stage "tsan"), where a data
 * race fails the run.
 * usage: test_threads MODEL_DIR [TOKENIZER_JSON] [--runs N] [--cpu-threads N]
 * (--cpu-threads 1 under ThreadSanitizer: OpenMP's and OpenBLAS's own worker
 * threads synchronise in ways TSan cannot see, which it would report as races) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfwd.h"

enum { N_THREADS = 4, MAX_RUNS = 200 };

static int runs = 30;
static int cpu_threads = 2;
static const int32_t tokens[] = {1, 17, 42, 99, 3, 250, 8, 8, 8, 200, 11, 5, 77, 140, 2};
static const int32_t lens[] = {6, 4, 5};
static const xf_batch batch = {.tokens = tokens, .seq_lens = lens, .n_seqs = 3};
static const int64_t n_tokens = 15;

typedef struct job {
    xf_engine *engine;          /* shared, or NULL: the thread makes its own from model */
    const xf_model *model;
    const float *ref;           /* [n_tokens, H] */
    int64_t n;                  /* floats in ref */
    int wrong, errors;
    char first_error[256];
} job;

static void engine_options(xf_engine_options *o) {
    xf_engine_options_init(o);
    o->backend = XF_BACKEND_CPU;
    o->n_threads = cpu_threads;
}

static int differs(const float *a, const float *b, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        if (d > 1e-5f || d < -1e-5f || a[i] != a[i]) return 1;
    }
    return 0;
}

static void *run_hidden(void *arg) {
    job *j = arg;
    xf_engine *own = NULL;
    float *out = malloc(sizeof(float) * (size_t)j->n);
    if (!j->engine) {
        xf_engine_options o;
        engine_options(&o);
        if (xf_engine_create(j->model, &o, &own) != XF_OK) {
            j->errors = runs;
            snprintf(j->first_error, sizeof j->first_error, "%s", xf_last_error());
        }
    }
    xf_engine *e = j->engine ? j->engine : own;
    for (int r = 0; e && out && r < runs; r++) {
        memset(out, 0xff, sizeof(float) * (size_t)j->n);  /* NaN: a result left unwritten shows */
        if (xf_engine_hidden(e, &batch, out) != XF_OK) {
            if (!j->errors++) snprintf(j->first_error, sizeof j->first_error, "%s", xf_last_error());
        } else if (differs(out, j->ref, j->n)) {
            j->wrong++;
        }
    }
    xf_engine_free(own);
    free(out);
    return NULL;
}

/* n threads run job template `t` (engine shared or not); returns failures. */
static int hidden_threads(const char *what, const job *t) {
    pthread_t th[N_THREADS];
    job jobs[N_THREADS];
    int wrong = 0, errors = 0;
    for (int i = 0; i < N_THREADS; i++) jobs[i] = *t;
    for (int i = 0; i < N_THREADS; i++) pthread_create(&th[i], NULL, run_hidden, &jobs[i]);
    for (int i = 0; i < N_THREADS; i++) pthread_join(th[i], NULL);
    const char *msg = "";
    for (int i = 0; i < N_THREADS; i++) {
        wrong += jobs[i].wrong, errors += jobs[i].errors;
        if (jobs[i].errors && !*msg) msg = jobs[i].first_error;
    }
    printf("%s %s: %d threads x %d runs: %d wrong results, %d errors%s%s\n", wrong || errors ? "FAIL" : "ok  ",
           what, N_THREADS, runs, wrong, errors, *msg ? ": " : "", msg);
    return wrong + errors > 0;
}

typedef struct tok_job {
    const xf_tokenizer *tok;
    const char *const *texts;
    int n_texts;
    int32_t **ref_ids;
    size_t *ref_n;
    int wrong;
} tok_job;

static const char *const sample_texts[] = {
    "Hello, world! The quick brown fox jumps over the lazy dog.",
    "  leading spaces, tabs\tand\nnewlines  ",
    "数字 12345 and émojis 🙂🙃 mixed with ASCII",
    "def f(x):\n    return x ** 2  # squares",
};

static void *run_encode(void *arg) {
    tok_job *j = arg;
    for (int r = 0; r < runs; r++)
        for (int i = 0; i < j->n_texts; i++) {
            int32_t *ids = NULL;
            size_t n = 0;
            if (xf_tokenizer_encode(j->tok, j->texts[i], strlen(j->texts[i]), 1, &ids, &n) != XF_OK ||
                n != j->ref_n[i] || memcmp(ids, j->ref_ids[i], n * sizeof(int32_t)) != 0)
                j->wrong++;
            free(ids);
        }
    return NULL;
}

static int tokenizer_threads(const char *path) {
    xf_tokenizer *t = NULL;
    if (xf_tokenizer_open(path, &t) != XF_OK) {
        printf("skip shared tokenizer: %s\n", xf_last_error());
        return 0;
    }
    enum { NT = sizeof sample_texts / sizeof sample_texts[0] };
    int32_t *ref_ids[NT];
    size_t ref_n[NT];
    for (int i = 0; i < NT; i++)
        if (xf_tokenizer_encode(t, sample_texts[i], strlen(sample_texts[i]), 1, &ref_ids[i], &ref_n[i]) != XF_OK) {
            printf("FAIL shared tokenizer: %s\n", xf_last_error());
            return 1;
        }
    pthread_t th[N_THREADS];
    tok_job jobs[N_THREADS];
    int wrong = 0;
    for (int i = 0; i < N_THREADS; i++) {
        jobs[i] = (tok_job){.tok = t, .texts = sample_texts, .n_texts = NT, .ref_ids = ref_ids, .ref_n = ref_n};
        pthread_create(&th[i], NULL, run_encode, &jobs[i]);
    }
    for (int i = 0; i < N_THREADS; i++) pthread_join(th[i], NULL), wrong += jobs[i].wrong;
    printf("%s shared tokenizer: %d threads x %d runs x %d texts: %d wrong\n", wrong ? "FAIL" : "ok  ", N_THREADS,
           runs, NT, wrong);
    for (int i = 0; i < NT; i++) free(ref_ids[i]);
    xf_tokenizer_free(t);
    return wrong > 0;
}

int main(int argc, char **argv) {
    const char *model_dir = NULL, *tok_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--cpu-threads") && i + 1 < argc) cpu_threads = atoi(argv[++i]);
        else if (!model_dir) model_dir = argv[i];
        else tok_path = argv[i];
    }
    if (!model_dir || runs < 1 || runs > MAX_RUNS) {
        fprintf(stderr, "usage: test_threads MODEL_DIR [TOKENIZER_JSON] [--runs N<=%d] [--cpu-threads N]\n", MAX_RUNS);
        return 2;
    }
    xf_model *m = NULL;
    xf_engine *e = NULL;
    if (xf_model_open(model_dir, &m) != XF_OK) return printf("FAIL %s\n", xf_last_error()), 1;
    xf_model_info info;
    xf_model_get_info(m, &info);
    xf_engine_options o;
    engine_options(&o);
    if (xf_engine_create(m, &o, &e) != XF_OK) return printf("FAIL %s\n", xf_last_error()), 1;
    const int64_t n = n_tokens * info.hidden_size;
    float *ref = malloc(sizeof(float) * (size_t)n);
    if (!ref || xf_engine_hidden(e, &batch, ref) != XF_OK) return printf("FAIL reference: %s\n", xf_last_error()), 1;

    int failed = 0;
    job shared = {.engine = e, .model = m, .ref = ref, .n = n};
    failed += hidden_threads("one engine shared by threads", &shared);
    job own = {.engine = NULL, .model = m, .ref = ref, .n = n};
    failed += hidden_threads("one model shared by per-thread engines", &own);
    if (tok_path) failed += tokenizer_threads(tok_path);
    else printf("skip shared tokenizer: no tokenizer.json given\n");

    xf_engine_free(e);
    xf_model_free(m);
    free(ref);
    printf("%s\n", failed ? "FAIL" : "ok");
    return failed ? 1 : 0;
}
