/* error.c — the per-thread last-error message behind xf_last_error(). */
#include <stdarg.h>
#include <stdio.h>

#include "error.h"

static _Thread_local char last_error[1024];

xf_status xf_error(xf_status s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    /* one line: fold any newline a message picked up from its arguments */
    for (char *p = last_error; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return s;
}

void xf_error_clear(void) { last_error[0] = '\0'; }

const char *xf_last_error(void) { return last_error; }

const char *xf_status_name(xf_status s) {
    switch (s) {
    case XF_OK: return "XF_OK";
    case XF_ERR_INVALID_ARG: return "XF_ERR_INVALID_ARG";
    case XF_ERR_IO: return "XF_ERR_IO";
    case XF_ERR_FORMAT: return "XF_ERR_FORMAT";
    case XF_ERR_UNSUPPORTED: return "XF_ERR_UNSUPPORTED";
    case XF_ERR_NO_MEMORY: return "XF_ERR_NO_MEMORY";
    case XF_ERR_NO_DEVICE: return "XF_ERR_NO_DEVICE";
    case XF_ERR_DEVICE: return "XF_ERR_DEVICE";
    case XF_ERR_INTERNAL: return "XF_ERR_INTERNAL";
    }
    return "XF_ERR_UNKNOWN";
}
