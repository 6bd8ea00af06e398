/* vk_timing.h — benchmark hooks (bench/vulkan_bench.c): the device time of the
 * last Vulkan forward in this process, from timestamp queries around its work
 * (embedding to the head, excluding the copy of the output to the host), and
 * what the device is. */
#ifndef XF_VK_TIMING_H
#define XF_VK_TIMING_H

#include "xfwd.h"

/* Milliseconds, or 0 when the device has no timestamps or nothing ran yet. */
double xf_vk_last_forward_ms(void);

/* One line about the device of the last Vulkan context made in this process:
 * name, driver version, subgroup size, cooperative-matrix shape, limits. */
const char *xf_vk_device_summary(void);

/* With XFWD_VK_PROFILE=1: device time per shader since the last call, one
 * line each ("name calls ms"), then reset. "" when not profiling. */
const char *xf_vk_profile_report(void);
/* With XFWD_VK_PIPE_STATS=1 (and VK_KHR_pipeline_executable_properties): the
 * driver's statistics (registers, spills, ...) of every pipeline created. */
const char *xf_vk_pipeline_stats(void);

/* Device milliseconds of one multiply of the forward's 16-bit kernels on random
 * data: y[M, N] = x[M, K]·W[N, K]^T, or with glu the fused gate|up product (N
 * interleaved rows, SwiGLU output [M, N/2]), with the kernel settings of the
 * environment at the call. After 0.5 s of warm-up (the clocks ramp up from idle
 * under load), five rounds, each the mean of `iters` dispatches in one submission. */
xf_status xf_vk_gemm_time(xf_dtype mode, int M, int N, int K, int glu, int iters, double ms[5]);

#endif /* XF_VK_TIMING_H */
