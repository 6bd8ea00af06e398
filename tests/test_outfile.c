/* test_outfile.c — the CLI's output files (tools/outfile.c, tools/npy.c) under
 * faults: a write interrupted by SIGINT / SIGTERM leaves the previous file
 * untouched and no temporary file behind, and the process dies of the signal;
 * a full device ("/dev/full") is reported as "no space left on device"; an
 * aborted write changes nothing; a completed one replaces the file whole,
 * keeps its mode and leaves nothing else in the directory.
 * usage: test_outfile */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "npy.h"
#include "outfile.h"

static int failures;
#define EXPECT(cond, ...)                                   \
    do {                                                    \
        if (!(cond)) {                                      \
            failures++;                                     \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);     \
            printf(__VA_ARGS__);                            \
            printf("\n");                                   \
        }                                                   \
    } while (0)

static char dir[64];

static void put_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* The whole file in a static buffer (small files only). */
static const char *get_text(const char *path) {
    static char buf[1 << 16];
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static int entries_in_dir(void) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    if (d) closedir(d);
    return n;
}

/* A child writes part of out.npy and then gets sig; the parent checks the aftermath. */
static void interrupted(int sig) {
    char path[128];
    snprintf(path, sizeof path, "%s/out.npy", dir);
    put_text(path, "previous good output");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        xf_outfile o;
        char err[512];
        float row[256] = {0};
        if (xf_outfile_open(&o, path, err, sizeof err)) _exit(3);
        xf_npy_put(&o, row, 1, 256);
        fflush(o.f);  /* the partial data is on disk, in the temporary file */
        kill(getpid(), sig);
        _exit(0);     /* not reached: the signal ends the process */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT(WIFSIGNALED(status) && WTERMSIG(status) == sig, "signal %d: the writer should die of it (status %#x)",
           sig, status);
    const char *now = get_text(path);
    EXPECT(now && !strcmp(now, "previous good output"), "signal %d: the previous output changed: '%.40s'", sig,
           now ? now : "(missing)");
    EXPECT(entries_in_dir() == 1, "signal %d: %d files in the directory (a temporary file left behind?)", sig,
           entries_in_dir());
    unlink(path);
}

static void full_device(void) {
    char err[512] = "";
    static float data[1 << 16];
    int rc = xf_npy_write("/dev/full", data, 256, 256, err, sizeof err);
    EXPECT(rc != 0, "writing to /dev/full succeeded");
    EXPECT(strstr(err, "/dev/full") && strstr(err, "no space left on device"),
           "the error should name the file and 'no space left on device': '%s'", err);
    printf("ok   /dev/full: %s\n", err);
}

static void aborted_and_committed(void) {
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/labels.jsonl", dir);
    put_text(path, "old\n");
    chmod(path, 0640);
    xf_outfile o;
    EXPECT(xf_outfile_open(&o, path, err, sizeof err) == 0, "open: %s", err);
    fputs("half", o.f);
    xf_outfile_abort(&o);
    EXPECT(!strcmp(get_text(path), "old\n"), "abort changed the file");
    EXPECT(entries_in_dir() == 1, "abort left %d files", entries_in_dir());

    EXPECT(xf_outfile_open(&o, path, err, sizeof err) == 0, "open: %s", err);
    fputs("new\n", o.f);
    EXPECT(!strcmp(get_text(path), "old\n"), "the file changed before the commit");
    EXPECT(xf_outfile_commit(&o, err, sizeof err) == 0, "commit: %s", err);
    xf_outfile_abort(&o);  /* harmless after a commit */
    EXPECT(!strcmp(get_text(path), "new\n"), "commit did not replace the file");
    struct stat sb;
    EXPECT(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0640, "mode %o, expected 640", sb.st_mode & 0777);
    EXPECT(entries_in_dir() == 1, "commit left %d files", entries_in_dir());

    xf_outfile z;
    memset(&z, 0, sizeof z);
    xf_outfile_abort(&z);  /* never opened: nothing happens */
    char missing[160];
    snprintf(missing, sizeof missing, "%s/no/such/dir/out.npy", dir);
    EXPECT(xf_outfile_open(&o, missing, err, sizeof err) != 0 && strstr(err, "no such file or directory"),
           "a missing directory: '%s'", err);
    unlink(path);
}

static void npy_whole(void) {
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/x.npy", dir);
    float data[6] = {1, 2, 3, 4, 5, 6};
    EXPECT(xf_npy_write(path, data, 2, 3, err, sizeof err) == 0, "npy: %s", err);
    struct stat sb;
    EXPECT(stat(path, &sb) == 0 && sb.st_size == 128 + 24, "npy size %lld", (long long)sb.st_size);
    unlink(path);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/xfwd-outfile-XXXXXX");
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    interrupted(SIGINT);
    interrupted(SIGTERM);
    full_device();
    aborted_and_committed();
    npy_whole();
    rmdir(dir);
    printf("%s: %d failures\n", failures ? "FAIL" : "ok", failures);
    return failures ? 1 : 0;
}
