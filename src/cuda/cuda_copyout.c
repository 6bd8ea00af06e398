/* cuda_copyout.c — the result copy of cuda_copyout.h. Worker w copies bytes
 * [w·n/W, (w+1)·n/W) in chunks: DMA chunk i into pinned buffer i % 2 on its own
 * stream, and while chunk i+1 moves, memcpy chunk i into the caller's memory.
 * Small results take one plain cudaMemcpy on the worker-0 stream. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cuda_check.h"
#include "cuda_copyout.h"

#define CHUNK ((size_t)1 << 20)
#define SMALL ((size_t)1 << 20)   /* below this, one copy */

typedef struct job {
    xfc_copyout *c;
    int w;
    char *dst;
    const char *src;
    size_t bytes;
    cudaEvent_t ready;
    cudaError_t err;
} job;

xf_status xfc_copyout_init(xfc_copyout *c, int device, int n_workers) {
    xf_status st = XF_OK;
    memset(c, 0, sizeof *c);
    if (n_workers <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_workers = n > 1 ? (int)(n / 2) : 1;
    }
    if (n_workers > XFC_COPY_MAX_WORKERS) n_workers = XFC_COPY_MAX_WORKERS;
    c->device = device;
    for (int w = 0; w < n_workers; w++) {
        CUDA_CHECK(cudaStreamCreateWithFlags(&c->stream[w], cudaStreamNonBlocking));
        c->n_workers = w + 1;
        for (int k = 0; k < 2; k++) {
            CUDA_CHECK(cudaHostAlloc((void **)&c->pinned[w][k], CHUNK, cudaHostAllocDefault));
            CUDA_CHECK(cudaEventCreateWithFlags(&c->done[w][k], cudaEventDisableTiming));
        }
    }
cleanup:
    return st;
}

void xfc_copyout_free(xfc_copyout *c) {
    for (int w = 0; w < XFC_COPY_MAX_WORKERS; w++) {
        if (c->stream[w]) cudaStreamSynchronize(c->stream[w]);
        for (int k = 0; k < 2; k++) {
            if (c->pinned[w][k]) cudaFreeHost(c->pinned[w][k]);
            if (c->done[w][k]) cudaEventDestroy(c->done[w][k]);
        }
        if (c->stream[w]) cudaStreamDestroy(c->stream[w]);
    }
    memset(c, 0, sizeof *c);
}

static cudaError_t issue(job *j, size_t off, int k) {
    const size_t n = j->bytes - off < CHUNK ? j->bytes - off : CHUNK;
    cudaError_t e = cudaMemcpyAsync(j->c->pinned[j->w][k], j->src + off, n, cudaMemcpyDeviceToHost, j->c->stream[j->w]);
    return e ? e : cudaEventRecord(j->c->done[j->w][k], j->c->stream[j->w]);
}

static void *worker(void *arg) {
    job *j = arg;
    cudaError_t e = cudaSetDevice(j->c->device);
    if (!e) e = cudaStreamWaitEvent(j->c->stream[j->w], j->ready, 0);
    size_t next = 0;  /* next chunk offset to issue */
    for (int k = 0; k < 2 && !e && next < j->bytes; k++, next += CHUNK) e = issue(j, next, k);
    for (size_t off = 0, i = 0; !e && off < j->bytes; off += CHUNK, i++) {
        const int k = (int)(i & 1);
        const size_t n = j->bytes - off < CHUNK ? j->bytes - off : CHUNK;
        e = cudaEventSynchronize(j->c->done[j->w][k]);
        if (e) break;
        memcpy(j->dst + off, j->c->pinned[j->w][k], n);
        if (next < j->bytes) e = issue(j, next, k), next += CHUNK;
    }
    j->err = e;
    return NULL;
}

xf_status xfc_copyout_run(xfc_copyout *c, void *dst, const void *src, size_t bytes, cudaEvent_t ready) {
    xf_status st = XF_OK;
    job jobs[XFC_COPY_MAX_WORKERS];
    pthread_t th[XFC_COPY_MAX_WORKERS];
    int created[XFC_COPY_MAX_WORKERS] = {0};
    if (bytes == 0) return XF_OK;
    int W = bytes < SMALL ? 1 : c->n_workers;
    if ((size_t)W * CHUNK > bytes) W = (int)((bytes + CHUNK - 1) / CHUNK);
    if (W == 1) {
        CUDA_CHECK(cudaStreamWaitEvent(c->stream[0], ready, 0));
        CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, c->stream[0]));
        CUDA_CHECK(cudaStreamSynchronize(c->stream[0]));
        return XF_OK;
    }
    /* slices on 4 KiB boundaries (the last takes the rest) */
    const size_t per = (bytes / (size_t)W + 4095) / 4096 * 4096;
    for (int w = 0; w < W; w++) {
        const size_t lo = per * (size_t)w < bytes ? per * (size_t)w : bytes;
        const size_t hi = w == W - 1 ? bytes : (lo + per < bytes ? lo + per : bytes);
        jobs[w] = (job){c, w, (char *)dst + lo, (const char *)src + lo, hi - lo, ready, cudaSuccess};
    }
    for (int w = 1; w < W; w++) created[w] = pthread_create(&th[w], NULL, worker, &jobs[w]) == 0;
    worker(&jobs[0]);  /* the calling thread takes slice 0, and any slice whose thread did not start */
    for (int w = 1; w < W; w++) {
        if (created[w]) pthread_join(th[w], NULL);
        else worker(&jobs[w]);
    }
    for (int w = 0; w < W; w++)
        XF_CHECK(jobs[w].err == cudaSuccess, XF_ERR_DEVICE, "cuda: copying the result to the host failed (slice %d): %s",
                 w, cudaGetErrorString(jobs[w].err));
cleanup:
    return st;
}
