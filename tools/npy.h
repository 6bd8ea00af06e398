/* npy.h — writing (and reading back, for tests) NumPy .npy float32 arrays. */
#ifndef XF_NPY_H
#define XF_NPY_H

#include <stdint.h>

/* Writes data [rows, cols] as little-endian float32, C order. 0 on success;
 * otherwise -1 with errno set. */
int xf_npy_write(const char *path, const float *data, int64_t rows, int64_t cols);

#endif /* XF_NPY_H */
