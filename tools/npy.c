/* npy.c — NumPy format version 1.0: magic, a header dict padded with spaces
 * to a multiple of 64 bytes, then the raw little-endian float32 data. Written
 * through outfile.c, so a reader never sees a header whose shape the data
 * does not fill. */
#include <stdio.h>
#include <string.h>

#include "npy.h"

int xf_npy_put(xf_outfile *o, const float *data, int64_t rows, int64_t cols) {
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld, %lld), }",
                     (long long)rows, (long long)cols);
    int total = 10 + n + 1;                 /* magic(6) version(2) len(2) dict '\n' */
    int pad = (64 - total % 64) % 64;
    int hlen = n + pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    char spaces[64];
    memset(spaces, ' ', sizeof spaces);
    spaces[pad] = '\n';
    if (xf_outfile_write(o, pre, sizeof pre) || xf_outfile_write(o, dict, (size_t)n) ||
        xf_outfile_write(o, spaces, (size_t)pad + 1))
        return -1;
    /* in slices, so that an interrupt is not held up by one huge call */
    const size_t total_bytes = sizeof(float) * (size_t)rows * (size_t)cols, slice = (size_t)1 << 24;
    const char *bytes = (const char *)data;
    for (size_t at = 0; at < total_bytes; at += slice)
        if (xf_outfile_write(o, bytes + at, total_bytes - at < slice ? total_bytes - at : slice)) return -1;
    return 0;
}

int xf_npy_write(const char *path, const float *data, int64_t rows, int64_t cols, char *err, size_t err_size) {
    xf_outfile o;
    if (xf_outfile_open(&o, path, err, err_size)) return -1;
    xf_npy_put(&o, data, rows, cols);  /* a failure is remembered and reported by the commit */
    return xf_outfile_commit(&o, err, err_size);
}
