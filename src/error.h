/* error.h — recording the last error (per thread) and the XF_CHECK family of
 * macros that jump to a function's single `cleanup:` label. */
#ifndef XF_ERROR_H
#define XF_ERROR_H

#include "xfwd.h"

#if defined(__GNUC__)
#define XF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define XF_PRINTF(a, b)
#endif

/* Records a formatted one-line message as the last error and returns `s`. */
xf_status xf_error(xf_status s, const char *fmt, ...) XF_PRINTF(2, 3);
/* Clears the last error. */
void xf_error_clear(void);

/* Evaluates a call returning xf_status; on failure keeps its message, sets
 * `st` and jumps to cleanup. Requires `xf_status st` and a `cleanup:` label. */
#define XF_TRY(call)                                                                               \
    do {                                                                                           \
        st = (call);                                                                               \
        if (st != XF_OK) goto cleanup;                                                             \
    } while (0)

/* Fails with status `s` and a formatted message unless `cond` holds. */
#define XF_CHECK(cond, s, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            st = xf_error((s), __VA_ARGS__);                                                       \
            goto cleanup;                                                                          \
        }                                                                                          \
    } while (0)

/* Allocation that fails cleanly. */
#define XF_ALLOC(ptr, count)                                                                       \
    do {                                                                                           \
        (ptr) = calloc((size_t)(count) ? (size_t)(count) : 1, sizeof(*(ptr)));                      \
        if (!(ptr)) {                                                                              \
            st = xf_error(XF_ERR_NO_MEMORY, "out of host memory (%s:%d)", __FILE__, __LINE__);     \
            goto cleanup;                                                                          \
        }                                                                                          \
    } while (0)

#endif /* XF_ERROR_H */
