/* outfile.c — output files written to a temporary file beside the destination
 * and renamed over it when complete (see outfile.h). The temporary names being
 * written are kept in a small fixed list that the signal handler reads: on
 * SIGINT/SIGTERM/SIGHUP/SIGQUIT it unlinks them (async-signal-safe) and
 * re-raises the signal with its previous disposition. SIGBUS is caught too: the
 * library maps model files, and one truncated in the middle of a forward (a
 * shrink between calls is an error of the library, safetensors.c) raises it; the
 * process then says so on stderr before it dies, instead of dying silently. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "outfile.h"

#define MAX_PENDING 16

/* Temporary files being written; the handler unlinks each non-NULL entry. */
static _Atomic(char *) pending[MAX_PENDING];
static const int caught[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGBUS};
static struct sigaction previous[sizeof caught / sizeof caught[0]];
static atomic_int handlers_installed;
static atomic_uint name_counter;

static void on_signal(int sig) {
    for (int i = 0; i < MAX_PENDING; i++) {
        char *p = atomic_load(&pending[i]);
        if (p) unlink(p);
    }
    if (sig == SIGBUS) {
        static const char msg[] = "xfwd: bus error reading a memory-mapped file: was a model file (.safetensors) "
                                  "truncated or rewritten during the run? The output was not written.\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
    }
    for (size_t i = 0; i < sizeof caught / sizeof caught[0]; i++)
        if (caught[i] == sig) sigaction(sig, &previous[i], NULL);
    raise(sig);  /* delivered when the handler returns: the previous disposition (default: die) */
}

static void install_handlers(void) {
    int expected = 0;
    if (!atomic_compare_exchange_strong(&handlers_installed, &expected, 1)) return;
    for (size_t i = 0; i < sizeof caught / sizeof caught[0]; i++) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        for (size_t k = 0; k < sizeof caught / sizeof caught[0]; k++) sigaddset(&sa.sa_mask, caught[k]);
        sigaction(caught[i], NULL, &previous[i]);
        if (previous[i].sa_handler == SIG_IGN) continue;  /* e.g. nohup: stay ignored */
        sigaction(caught[i], &sa, NULL);
    }
}

/* 1 + the list entry now holding tmp, or 0 when the list is full */
static int track(char *tmp) {
    for (int i = 0; i < MAX_PENDING; i++) {
        char *expected = NULL;
        if (atomic_compare_exchange_strong(&pending[i], &expected, tmp)) return i + 1;
    }
    return 0;
}

static void untrack(xf_outfile *o) {
    if (o->slot > 0) atomic_store(&pending[o->slot - 1], NULL);
    o->slot = 0;
}

const char *xf_outfile_strerror(int e) {
    switch (e) {
    case ENOSPC: return "no space left on device";
    case EDQUOT: return "disk quota exceeded";
    case EFBIG: return "file too large";
    case EACCES: return "permission denied";
    case EROFS: return "read-only file system";
    case ENOENT: return "no such file or directory";
    case EIO: return "input/output error";
    default: return strerror(e);
    }
}

static int fail(char *err, size_t err_size, const char *path, const char *what, int e) {
    snprintf(err, err_size, "%s: %s: %s", path, what, xf_outfile_strerror(e));
    errno = e;
    return -1;
}

/* The directory part of path ("." when there is none), malloc'ed. */
static char *dir_of(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return strdup(".");
    if (slash == path) return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

int xf_outfile_open(xf_outfile *o, const char *path, char *err, size_t err_size) {
    memset(o, 0, sizeof *o);
    if (!path || !*path) return snprintf(err, err_size, "no output file named"), -1;
    if (!strcmp(path, "-")) {  /* standard output: written straight through, nothing to replace */
        int fd = dup(STDOUT_FILENO);
        o->path = strdup("<stdout>");
        o->f = fd >= 0 && o->path ? fdopen(fd, "wb") : NULL;
        if (!o->f) {
            int e = errno;
            if (fd >= 0) close(fd);
            xf_outfile_abort(o);
            return fail(err, err_size, "<stdout>", "cannot write", e);
        }
        return 0;
    }
    o->path = strdup(path);
    if (!o->path) return fail(err, err_size, path, "cannot write", ENOMEM);
    struct stat sb;
    int exists = stat(path, &sb) == 0;
    if (exists && S_ISDIR(sb.st_mode)) {
        xf_outfile_abort(o);
        return fail(err, err_size, path, "cannot write", EISDIR);
    }
    if (exists && !S_ISREG(sb.st_mode)) {  /* a pipe or a device: written in place */
        o->f = fopen(path, "wb");
        if (!o->f) {
            int e = errno;
            xf_outfile_abort(o);
            return fail(err, err_size, path, "cannot write", e);
        }
        return 0;
    }
    /* a symbolic link keeps pointing where it did: the file it names is replaced */
    char *target = NULL;
    struct stat lsb;
    if (lstat(path, &lsb) == 0 && S_ISLNK(lsb.st_mode) && exists) target = realpath(path, NULL);
    const char *dest = target ? target : path;
    char *dir = dir_of(dest);
    const char *base = strrchr(dest, '/') ? strrchr(dest, '/') + 1 : dest;
    size_t cap = strlen(dest) + 64;
    o->tmp = malloc(cap);
    int fd = -1, e = ENOMEM;
    for (int attempt = 0; dir && o->tmp && attempt < 100; attempt++) {
        snprintf(o->tmp, cap, "%s/.%s.tmp-%ld-%u", dir, base, (long)getpid(), atomic_fetch_add(&name_counter, 1));
        fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        e = errno;
        if (fd >= 0 || e != EEXIST) break;
    }
    free(dir);
    if (fd < 0) {
        free(o->tmp), o->tmp = NULL;
        free(target);
        xf_outfile_abort(o);
        return fail(err, err_size, path, "cannot write", e);
    }
    if (exists) (void)fchmod(fd, sb.st_mode & 07777);  /* the replacement keeps the old file's mode */
    if (target) {  /* the rename goes to the link's target */
        free(o->path);
        o->path = target;
    }
    install_handlers();
    o->slot = track(o->tmp);
    o->f = fdopen(fd, "wb");
    if (!o->f) {
        e = errno;
        close(fd);
        xf_outfile_abort(o);
        return fail(err, err_size, path, "cannot write", e);
    }
    return 0;
}

int xf_outfile_write(xf_outfile *o, const void *data, size_t bytes) {
    if (!o->f) return -1;
    if (bytes && fwrite(data, 1, bytes, o->f) != bytes) {
        if (!o->err) o->err = errno ? errno : EIO;
        return -1;
    }
    return 0;
}

int xf_outfile_commit(xf_outfile *o, char *err, size_t err_size) {
    int e = 0;
    if (!o->f) e = EBADF;
    if (!e) {
        errno = 0;
        if (fflush(o->f) != 0 || ferror(o->f)) e = o->err ? o->err : errno ? errno : EIO;
    }
    /* fsync: the data reaches the disk before the name does (a pipe or device cannot) */
    if (!e && o->tmp && fsync(fileno(o->f)) != 0) e = errno;
    if (o->f) {
        int closed = fclose(o->f);
        o->f = NULL;
        if (!e && closed != 0) e = errno;
    }
    if (!e && o->tmp) {
        if (rename(o->tmp, o->path) != 0) {
            e = errno;
        } else {
            untrack(o);
            free(o->tmp), o->tmp = NULL;
            char *dir = dir_of(o->path);  /* and the new name reaches the disk too */
            int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
            if (dfd >= 0) (void)fsync(dfd), close(dfd);
            free(dir);
        }
    }
    if (e) {
        char where[4200];
        snprintf(where, sizeof where, "%s", o->path);
        xf_outfile_abort(o);
        return fail(err, err_size, where, "cannot write", e);
    }
    xf_outfile_abort(o);  /* releases the names */
    return 0;
}

void xf_outfile_abort(xf_outfile *o) {
    if (o->f) fclose(o->f);
    o->f = NULL;
    if (o->tmp) unlink(o->tmp);
    untrack(o);
    free(o->tmp);
    free(o->path);
    o->tmp = o->path = NULL;
}
