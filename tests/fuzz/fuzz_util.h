/* fuzz_util.h — what the libFuzzer harnesses share: the input as a file (a memfd
 * seen through /proc/self/fd, so nothing touches the disk), a scratch folder for
 * harnesses that need several files, and splitting one input into parts. */
#ifndef XF_FUZZ_UTIL_H
#define XF_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Parts of one input are separated by this line. */
#define FZ_SEPARATOR "\n#@@#\n"

/* The bytes as the contents of a file; returns its path (the same file every call). */
static inline const char *fz_as_file(const uint8_t *data, size_t n) {
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("xfwd-fuzz", MFD_CLOEXEC);
        if (fd < 0) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || (n && pwrite(fd, data, n, 0) != (ssize_t)n)) abort();
    return path;
}

/* A folder of this process for harnesses that write several files. */
static inline const char *fz_dir(void) {
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "%s/xfwd-fuzz-XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir)) abort();
    }
    return dir;
}

/* Writes (or, with data NULL, removes) dir/name. */
static inline void fz_put(const char *name, const uint8_t *data, size_t n) {
    char path[256];
    snprintf(path, sizeof path, "%s/%s", fz_dir(), name);
    if (!data) {
        unlink(path);
        return;
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (n) fwrite(data, 1, n, f);
    fclose(f);
}

/* Splits data at the first separator: part a before, part b after (b NULL when none). */
static inline void fz_split(const uint8_t *data, size_t n, const uint8_t **a, size_t *na, const uint8_t **b,
                            size_t *nb) {
    const size_t sl = sizeof FZ_SEPARATOR - 1;
    *a = data, *na = n, *b = NULL, *nb = 0;
    for (size_t i = 0; i + sl <= n; i++)
        if (!memcmp(data + i, FZ_SEPARATOR, sl)) {
            *na = i, *b = data + i + sl, *nb = n - i - sl;
            return;
        }
}

#endif /* XF_FUZZ_UTIL_H */
