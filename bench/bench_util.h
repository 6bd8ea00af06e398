/* bench_util.h — what the benchmark drivers (tools/bench.c, bench/cuda_bench.c,
 * bench/vulkan_bench.c) share: a monotonic clock, the median of a sample, and
 * dtype names. Header-only: each driver is a single translation unit. */
#ifndef XF_BENCH_UTIL_H
#define XF_BENCH_UTIL_H

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xfwd.h"

static inline double xb_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int xb_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts v [n] in place and returns its median (upper middle for even n). */
static inline double xb_median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, xb_cmp_double);
    return v[n / 2];
}

/* "f32" | "tf32" | "bf16" | "f16" → *d; -1 if unknown. */
static inline int xb_parse_dtype(const char *s, xf_dtype *d) {
    static const char *const names[] = {"f32", "tf32", "bf16", "f16"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i])) return *d = (xf_dtype)i, 0;
    return -1;
}

#endif /* XF_BENCH_UTIL_H */
