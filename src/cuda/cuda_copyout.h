/* cuda_copyout.h — copying a forward's result (up to [T, V] fp32) from the device
 * into the caller's ordinary (pageable) host memory faster than one pageable
 * cudaMemcpy: a few worker threads each own a slice of the result and pipeline it
 * through two 1 MiB pinned buffers (DMA of one chunk while copying the other). */
#ifndef XF_CUDA_COPYOUT_H
#define XF_CUDA_COPYOUT_H

#include <cuda_runtime_api.h>
#include <stddef.h>

#include "xfwd.h"

#define XFC_COPY_MAX_WORKERS 8

typedef struct xfc_copyout {
    int n_workers;
    int device;
    cudaStream_t stream[XFC_COPY_MAX_WORKERS];
    char *pinned[XFC_COPY_MAX_WORKERS][2];
    cudaEvent_t done[XFC_COPY_MAX_WORKERS][2];
} xfc_copyout;

/* n_workers <= 0: chosen from the processor count. */
xf_status xfc_copyout_init(xfc_copyout *c, int device, int n_workers);
void xfc_copyout_free(xfc_copyout *c);

/* dst (host) = src (device) [bytes], once `ready` (an event recorded after the
 * producing work) has completed. Returns when the data is in dst. */
xf_status xfc_copyout_run(xfc_copyout *c, void *dst, const void *src, size_t bytes, cudaEvent_t ready);

#endif /* XF_CUDA_COPYOUT_H */
