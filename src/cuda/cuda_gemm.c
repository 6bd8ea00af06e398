/* cuda_gemm.c — cuBLASLt matmuls with a per-shape cache of descriptors and the
 * chosen algorithm (see cuda_gemm.h). Row-major Y = X·Wᵀ is cuBLASLt's
 * column-major Yᵀ = op(W)·Xᵀ with op = transpose ("TN"), the layout Hopper's
 * kernels prefer. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "../backend.h"
#include "cuda_check.h"
#include "cuda_gemm.h"

#define GEMM_CANDIDATES 8  /* heuristic candidates timed when tuning a new shape (32 measured no better) */

struct xfc_gemm_plan {
    /* key */
    int M, N, K, ldx, ldw, ldy, beta1;
    xfc_type ab, c;
    xf_dtype mode;
    int align_x, align_w, align_y;
    /* value */
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulAlgo_t algo;
    int fallback;           /* 1: cuBLASLt has no algorithm for this shape; use xfc_gemm_simple */
};

/* ---------------------------------------------------------------- shared choices */

enum { KEY_INTS = 13 };

/* A tuned choice: the GPU (name, capability, cuBLASLt version), the shape's key, how many
 * candidates the heuristic offered and which one was fastest. */
typedef struct choice {
    char gpu[160];
    int key[KEY_INTS], n, pick;
} choice;

static pthread_mutex_t choices_lock = PTHREAD_MUTEX_INITIALIZER;
static choice *choices;   /* every choice this process made or read, for every engine */
static int n_choices, cap_choices;

static const choice *choice_find(const char *gpu, const int *key) {
    for (int i = 0; i < n_choices; i++)
        if (!strcmp(choices[i].gpu, gpu) && !memcmp(choices[i].key, key, sizeof choices[i].key)) return &choices[i];
    return NULL;
}

static void choice_add(const char *gpu, const int *key, int n, int pick) {
    if (choice_find(gpu, key)) return;  /* the first one stays */
    if (n_choices == cap_choices) {
        int cap = cap_choices ? 2 * cap_choices : 64;
        choice *grown = realloc(choices, sizeof *grown * (size_t)cap);
        if (!grown) return;  /* not shared then; still correct */
        choices = grown, cap_choices = cap;
    }
    choice *c = &choices[n_choices++];
    snprintf(c->gpu, sizeof c->gpu, "%s", gpu);
    memcpy(c->key, key, sizeof c->key);
    c->n = n, c->pick = pick;
}

/* Reads the choices file (open, locked) into the table: lines "v1 KEY... n pick". */
static void choices_read(int fd, const char *gpu) {
    char buf[512];
    FILE *f = fdopen(dup(fd), "r");
    if (!f) return;
    rewind(f);
    while (fgets(buf, sizeof buf, f)) {
        int k[KEY_INTS], n, pick, used = 0;
        if (sscanf(buf, "v1 %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d%n", &k[0], &k[1], &k[2], &k[3], &k[4], &k[5],
                   &k[6], &k[7], &k[8], &k[9], &k[10], &k[11], &k[12], &n, &pick, &used) == 15 && used > 0 &&
            pick >= 0 && pick < n)
            choice_add(gpu, k, n, pick);
    }
    fclose(f);
}

void xfc_gemm_set_cache(xfc_gemm *g, const char *cache_dir, int device) {
    struct cudaDeviceProp prop;
    char name[96] = "unknown";
    if (cudaGetDeviceProperties(&prop, device) == cudaSuccess)
        snprintf(name, sizeof name, "%.80s-sm%d%d", prop.name, prop.major, prop.minor);
    else (void)cudaGetLastError();
    for (char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-')) *p = '-';
    snprintf(g->gpu, sizeof g->gpu, "%s-cublasLt%zu", name, cublasLtGetVersion());
    g->choices[0] = 0;
    if (cache_dir && *cache_dir && xf_make_dirs(cache_dir) == 0)
        snprintf(g->choices, sizeof g->choices, "%s/matmul-%s.txt", cache_dir, g->gpu);
}

static int fastest(xfc_gemm *g, const xfc_gemm_plan *p, const cublasLtMatmulHeuristicResult_t *cand, int n,
                   cudaStream_t s, const void *X, const void *W, void *Y, float beta);

/* The candidate to use for a new shape: the one already chosen for it (this process, or
 * any process through the file), else the fastest, timed now and recorded. */
static int tuned_pick(xfc_gemm *g, const xfc_gemm_plan *p, const cublasLtMatmulHeuristicResult_t *cand, int n,
                      cudaStream_t s, const void *X, const void *W, void *Y, float beta) {
    const int key[KEY_INTS] = {p->M, p->N, p->K, p->ldx, p->ldw, p->ldy, p->beta1, (int)p->ab, (int)p->c,
                               (int)p->mode, p->align_x, p->align_w, p->align_y};
    int fd = -1, pick;
    pthread_mutex_lock(&choices_lock);
    const choice *c = choice_find(g->gpu, key);
    if (!c && g->choices[0]) {
        fd = open(g->choices, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd >= 0 && flock(fd, LOCK_EX) == 0) {
            choices_read(fd, g->gpu);
            c = choice_find(g->gpu, key);
        }
    }
    if (c && c->n == n && c->pick < n) {
        pick = c->pick;
    } else {
        pick = fastest(g, p, cand, n, s, X, W, Y, beta);
        if (!c) {
            choice_add(g->gpu, key, n, pick);
            if (fd >= 0)
                dprintf(fd, "v1 %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d\n", key[0], key[1], key[2], key[3], key[4],
                        key[5], key[6], key[7], key[8], key[9], key[10], key[11], key[12], n, pick);
        }
    }
    if (fd >= 0) close(fd);  /* releases the lock */
    pthread_mutex_unlock(&choices_lock);
    return pick;
}

static cudaDataType_t cuda_type(xfc_type t) {
    return t == XFC_F32 ? CUDA_R_32F : t == XFC_BF16 ? CUDA_R_16BF : CUDA_R_16F;
}

/* Largest power of two (at most 256) dividing the address. */
static int align_of(const void *p) {
    uintptr_t a = (uintptr_t)p;
    int k = 1;
    while (k < 256 && !(a & (uintptr_t)k)) k <<= 1;
    return k;
}

xf_status xfc_gemm_init(xfc_gemm *g, void *workspace, size_t ws_bytes) {
    xf_status st = XF_OK;
    memset(g, 0, sizeof *g);
    CUBLAS_CHECK(cublasLtCreate(&g->lt));
    g->workspace = workspace;
    g->ws_bytes = ws_bytes;
cleanup:
    return st;
}

static void plan_destroy(xfc_gemm_plan *p) {
    if (p->lc) cublasLtMatrixLayoutDestroy(p->lc);
    if (p->lb) cublasLtMatrixLayoutDestroy(p->lb);
    if (p->la) cublasLtMatrixLayoutDestroy(p->la);
    if (p->op) cublasLtMatmulDescDestroy(p->op);
}

void xfc_gemm_free(xfc_gemm *g) {
    for (int i = 0; i < g->n_plans; i++) plan_destroy(&g->plans[i]);
    free(g->plans);
    if (g->lt) cublasLtDestroy(g->lt);
    memset(g, 0, sizeof *g);
}

static int plan_matches(const xfc_gemm_plan *p, const xfc_gemm_plan *k) {
    return p->M == k->M && p->N == k->N && p->K == k->K && p->ldx == k->ldx && p->ldw == k->ldw &&
           p->ldy == k->ldy && p->beta1 == k->beta1 && p->ab == k->ab && p->c == k->c && p->mode == k->mode &&
           p->align_x == k->align_x && p->align_w == k->align_w && p->align_y == k->align_y;
}

static cublasStatus_t matmul(xfc_gemm *g, const xfc_gemm_plan *p, const cublasLtMatmulAlgo_t *algo, cudaStream_t s,
                             const void *X, const void *W, void *Y, float beta) {
    const float alpha = 1.0f;
    return cublasLtMatmul(g->lt, p->op, &alpha, W, p->la, X, p->lb, &beta, Y, p->lc, Y, p->lc, algo, g->workspace,
                          g->ws_bytes, s);
}

/* Times each candidate (one warm-up, three timed runs) in two passes and returns the
 * index with the lowest time of either pass: the card's clock drifts while it warms,
 * and a single pass favours whichever candidates ran first. */
static int fastest(xfc_gemm *g, const xfc_gemm_plan *p, const cublasLtMatmulHeuristicResult_t *cand, int n,
                   cudaStream_t s, const void *X, const void *W, void *Y, float beta) {
    cudaEvent_t e0 = NULL, e1 = NULL;
    float best_ms[GEMM_CANDIDATES];
    int best = 0;
    for (int i = 0; i < n; i++) best_ms[i] = 1e30f;
    if (cudaEventCreate(&e0) != cudaSuccess || cudaEventCreate(&e1) != cudaSuccess) goto done;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < n; i++) {
            if (matmul(g, p, &cand[i].algo, s, X, W, Y, beta) != CUBLAS_STATUS_SUCCESS) continue;
            cudaEventRecord(e0, s);
            int ok = 1;
            for (int r = 0; r < 3 && ok; r++) ok = matmul(g, p, &cand[i].algo, s, X, W, Y, beta) == CUBLAS_STATUS_SUCCESS;
            cudaEventRecord(e1, s);
            float ms = 0;
            if (!ok || cudaEventSynchronize(e1) != cudaSuccess || cudaEventElapsedTime(&ms, e0, e1) != cudaSuccess)
                continue;
            if (ms < best_ms[i]) best_ms[i] = ms;
        }
    for (int i = 1; i < n; i++)
        if (best_ms[i] < best_ms[best]) best = i;
done:
    if (e0) cudaEventDestroy(e0);
    if (e1) cudaEventDestroy(e1);
    (void)cudaGetLastError();
    return best;
}

static xf_status plan_create(xfc_gemm *g, xfc_gemm_plan *p, cudaStream_t s, const void *X, const void *W, void *Y,
                             float beta) {
    xf_status st = XF_OK;
    cublasLtMatmulPreference_t pref = NULL;
    cublasLtMatmulHeuristicResult_t cand[GEMM_CANDIDATES];
    int n = 0;
    const cublasComputeType_t ct = p->mode == XF_DTYPE_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    const cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&p->op, ct, CUDA_R_32F));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(p->op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    /* A = W seen column-major: [K, N], ld ldw; B = X: [K, M], ld ldx; C = D = Y: [N, M], ld ldy */
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->la, cuda_type(p->ab), (uint64_t)p->K, (uint64_t)p->N, p->ldw));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->lb, cuda_type(p->ab), (uint64_t)p->K, (uint64_t)p->M, p->ldx));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&p->lc, cuda_type(p->c), (uint64_t)p->N, (uint64_t)p->M, p->ldy));
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &g->ws_bytes,
                                                      sizeof g->ws_bytes));
    uint32_t aa = (uint32_t)p->align_w, ab = (uint32_t)p->align_x, ac = (uint32_t)p->align_y;
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aa, sizeof aa));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ab, sizeof ab));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &ac, sizeof ac));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &ac, sizeof ac));
    {
        cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(g->lt, p->op, p->la, p->lb, p->lc, p->lc, pref,
                                                           GEMM_CANDIDATES, cand, &n);
        if (hs == CUBLAS_STATUS_NOT_SUPPORTED) n = 0;
        else CUBLAS_CHECK(hs);
    }
    if (n == 0) {  /* odd sizes / alignments: the plain kernel takes them */
        p->fallback = 1;
        goto cleanup;
    }
    int pick = 0;
    enum cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
    CUDA_CHECK(cudaStreamIsCapturing(s, &cap));
    if (g->tuning && n > 1 && cap == cudaStreamCaptureStatusNone) pick = tuned_pick(g, p, cand, n, s, X, W, Y, beta);
    p->algo = cand[pick].algo;
cleanup:
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    return st;
}

xf_status xfc_gemm_run(xfc_gemm *g, cudaStream_t s, xf_dtype mode, int M, int N, int K, xfc_type ab, const void *X,
                       int ldx, const void *W, int ldw, xfc_type c, void *Y, int ldy, float beta) {
    xf_status st = XF_OK;
    if (M <= 0 || N <= 0) return XF_OK;
    xfc_gemm_plan key = {.M = M, .N = N, .K = K, .ldx = ldx, .ldw = ldw, .ldy = ldy, .beta1 = beta != 0.0f,
                         .ab = ab, .c = c, .mode = mode, .align_x = align_of(X), .align_w = align_of(W),
                         .align_y = align_of(Y)};
    xfc_gemm_plan *p = NULL;
    for (int i = 0; i < g->n_plans && !p; i++)
        if (plan_matches(&g->plans[i], &key)) p = &g->plans[i];
    if (!p) {
        if (g->n_plans == g->cap_plans) {
            int cap = g->cap_plans ? 2 * g->cap_plans : 16;
            xfc_gemm_plan *grown = realloc(g->plans, sizeof *grown * (size_t)cap);
            XF_CHECK(grown, XF_ERR_NO_MEMORY, "out of host memory");
            g->plans = grown, g->cap_plans = cap;
        }
        st = plan_create(g, &key, s, X, W, Y, beta);
        if (st != XF_OK) {
            plan_destroy(&key);
            goto cleanup;
        }
        g->plans[g->n_plans] = key;
        p = &g->plans[g->n_plans++];
    }
    if (!p->fallback) {
        cublasStatus_t ms = matmul(g, p, &p->algo, s, X, W, Y, beta);
        if (ms == CUBLAS_STATUS_NOT_SUPPORTED) p->fallback = 1;  /* the algorithm refused this shape after all */
        else CUBLAS_CHECK(ms);
    }
    if (p->fallback) XF_TRY(xfc_gemm_simple(s, M, N, K, ab, X, ldx, W, ldw, c, Y, ldy, beta));
cleanup:
    return st;
}
