/* outfile.h — output files that appear whole or not at all.
 *
 * An output is written to a temporary file beside the destination (same
 * directory, so the final rename is atomic; created with O_EXCL under a name
 * unique to the process) and renamed over the destination only when complete,
 * after fsync. Until then the previous file, if any, is untouched. On failure,
 * or when the process is interrupted (SIGINT, SIGTERM, SIGHUP, SIGQUIT), the
 * temporary file is removed; an interrupted process then dies of its signal
 * (non-zero status). SIGBUS (a memory-mapped model file truncated during the
 * run) also removes them, after one line on stderr saying what happened.
 *
 * A destination that exists and is not a regular file (a pipe, /dev/stdout,
 * /dev/null, /dev/full) is written in place: there is nothing to replace. So is
 * "-", standard output ("<stdout>" in messages).
 *
 * Use:
 *   xf_outfile o;
 *   if (xf_outfile_open(&o, path, err, sizeof err)) fail(err);
 *   fprintf(o.f, ...);                       // or xf_outfile_write()
 *   if (xf_outfile_commit(&o, err, sizeof err)) fail(err);   // else: xf_outfile_abort(&o)
 * Errors are one line naming the destination and the cause
 * ("out.npy: cannot write: no space left on device"). */
#ifndef XF_OUTFILE_H
#define XF_OUTFILE_H

#include <stddef.h>
#include <stdio.h>

typedef struct xf_outfile {
    char *path;     /* the destination as given */
    char *tmp;      /* the temporary file being written; NULL when writing in place */
    FILE *f;        /* write here */
    int err;        /* first errno seen by xf_outfile_write, 0 if none */
    int slot;       /* 1 + entry in the interrupt clean-up list, 0 if none */
} xf_outfile;

/* Creates the temporary file for `path`. 0, or -1 with a message in err. */
int xf_outfile_open(xf_outfile *o, const char *path, char *err, size_t err_size);
/* fwrite that remembers the first failure's cause; 0 or -1. */
int xf_outfile_write(xf_outfile *o, const void *data, size_t bytes);
/* Flushes, fsyncs, closes and renames the temporary file over the destination.
 * 0, or -1 with a message in err (the temporary file is then removed). Either
 * way the xf_outfile is finished. */
int xf_outfile_commit(xf_outfile *o, char *err, size_t err_size);
/* Closes and removes the temporary file; the destination is left as it was.
 * Safe on an xf_outfile that failed to open, was committed or aborted, or is
 * all zero bytes (never opened). */
void xf_outfile_abort(xf_outfile *o);
/* errno as a lower-case phrase: ENOSPC -> "no space left on device". */
const char *xf_outfile_strerror(int e);

#endif /* XF_OUTFILE_H */
