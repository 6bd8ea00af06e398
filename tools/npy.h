/* npy.h — writing NumPy .npy float32 arrays, whole or not at all (outfile.h). */
#ifndef XF_NPY_H
#define XF_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "outfile.h"

/* Writes data [rows, cols] as little-endian float32, C order, into an open
 * output file. 0, or -1 (the cause is reported by xf_outfile_commit). */
int xf_npy_put(xf_outfile *o, const float *data, int64_t rows, int64_t cols);
/* Writes path whole: open, put, commit. 0, or -1 with one line in err naming
 * the file and the cause; the previous file at path is then left untouched. */
int xf_npy_write(const char *path, const float *data, int64_t rows, int64_t cols, char *err, size_t err_size);

#endif /* XF_NPY_H */
