/* cuda_backend.h — internal extras of the CUDA backend for benchmarks and
 * tests (not part of the public API): device timings of the last forward and
 * the per-op-family profile collected when XFWD_PROFILE=1 is set at creation.
 * `state` is what xf_backend_cuda.create returned. */
#ifndef XF_CUDA_BACKEND_H
#define XF_CUDA_BACKEND_H

#include <stddef.h>

#include "xfwd.h"

/* Milliseconds of the last forward: the graph replay alone (CUDA events), and
 * the whole call as the caller sees it (host clock: metadata upload, replay,
 * copy of the result into the caller's memory). */
void xf_cuda_last_times(void *state, float *replay_ms, float *total_ms);

/* Bytes of device memory holding weights (and LoRA factors). */
size_t xf_cuda_weight_bytes(void *state);

/* With XFWD_PROFILE=1: the op families' names, their summed times (ms) over
 * *runs forwards. Returns the number of families (0 when not profiling). */
int xf_cuda_profile(void *state, const char *const **names, const double **ms, int *runs);
/* Turns profiling on or off after creation (on: later forwards run eagerly, timed per family). */
xf_status xf_cuda_set_profile(void *state, int on);
void xf_cuda_profile_reset(void *state);

#endif /* XF_CUDA_BACKEND_H */
