/* npy.c — NumPy format version 1.0: magic, a header dict padded with spaces
 * to a multiple of 64 bytes, then the raw little-endian float32 data. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "npy.h"

int xf_npy_write(const char *path, const float *data, int64_t rows, int64_t cols) {
    char dict[128];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld, %lld), }",
                     (long long)rows, (long long)cols);
    int total = 10 + n + 1;                 /* magic(6) version(2) len(2) dict '\n' */
    int pad = (64 - total % 64) % 64;
    int hlen = n + pad + 1;
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff),
                             (unsigned char)(hlen >> 8)};
    int ok = fwrite(pre, 1, 10, f) == 10 && fwrite(dict, 1, (size_t)n, f) == (size_t)n;
    for (int i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
    ok = ok && fputc('\n', f) != EOF;
    size_t count = (size_t)(rows * cols);
    ok = ok && fwrite(data, sizeof(float), count, f) == count;
    int saved = errno;
    if (fclose(f) != 0) ok = 0;
    if (!ok) {
        errno = saved ? saved : EIO;
        return -1;
    }
    return 0;
}
