/* faults_mapping.c — model.safetensors truncated while the model has it mapped
 * (a checkpoint rewritten in place during a run): creating an engine, or running
 * a forward, must fail with an error naming the file, not die of SIGBUS. Each
 * case runs in a child process so that a crash is reported, not suffered.
 * usage: faults_mapping GOLDEN_CASE_DIR (e.g. tests/data/golden/qwen3-tiny) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "xfwd.h"

static char dir[64];

static int copy_file(const char *from, const char *to) {
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    char buf[1 << 16];
    size_t n;
    int ok = in && out;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
    if (in) fclose(in);
    if (out && fclose(out) != 0) ok = 0;
    return ok ? 0 : -1;
}

static void fresh_copy(const char *golden) {
    char from[4096], to[256];
    snprintf(from, sizeof from, "%s/config.json", golden);
    snprintf(to, sizeof to, "%s/config.json", dir);
    if (copy_file(from, to)) perror(from), exit(1);
    snprintf(from, sizeof from, "%s/model.safetensors", golden);
    snprintf(to, sizeof to, "%s/model.safetensors", dir);
    if (copy_file(from, to)) perror(from), exit(1);
}

static void shrink(void) {
    char path[256];
    struct stat sb;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (stat(path, &sb) != 0 || truncate(path, sb.st_size / 3) != 0) perror(path), exit(1);
}

/* In the child: open, (engine), shrink, then the call under test; exit 0 when it
 * failed with XF_ERR_IO naming the file. */
static int child(int engine_first) {
    xf_model *m = NULL;
    xf_engine *e = NULL;
    xf_engine_options o;
    xf_engine_options_init(&o);
    o.backend = XF_BACKEND_CPU_REF;  /* reads the weights from the mapping at every forward */
    if (xf_model_open(dir, &m) != XF_OK) return printf("     open: %s\n", xf_last_error()), 2;
    if (engine_first && xf_engine_create(m, &o, &e) != XF_OK) return printf("     engine: %s\n", xf_last_error()), 2;
    shrink();
    xf_status st;
    if (engine_first) {
        int32_t tokens[] = {1, 2, 3}, lens[] = {3};
        xf_batch b = {.tokens = tokens, .seq_lens = lens, .n_seqs = 1};
        xf_model_info info;
        xf_model_get_info(m, &info);
        float *out = malloc(sizeof(float) * 3 * (size_t)info.hidden_size);
        st = xf_engine_hidden(e, &b, out);
        free(out);
    } else {
        st = xf_engine_create(m, &o, &e);
    }
    printf("     %s -> %s: %s\n", engine_first ? "xf_engine_hidden" : "xf_engine_create", xf_status_name(st),
           xf_last_error());
    int ok = st == XF_ERR_IO && strstr(xf_last_error(), "model.safetensors") && strstr(xf_last_error(), "shrank");
    xf_engine_free(e);
    xf_model_free(m);
    return ok ? 0 : 1;
}

static int run_case(const char *golden, const char *name, int engine_first) {
    fresh_copy(golden);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        int rc = child(engine_first);
        fflush(stdout);
        _exit(rc);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    if (WIFSIGNALED(status)) {
        printf("FAIL %s: killed by signal %d (%s)\n", name, WTERMSIG(status), strsignal(WTERMSIG(status)));
        return 1;
    }
    printf("%s %s\n", WEXITSTATUS(status) == 0 ? "ok  " : "FAIL", name);
    return WEXITSTATUS(status) != 0;
}

int main(int argc, char **argv) {
    if (argc != 2) return fprintf(stderr, "usage: faults_mapping GOLDEN_CASE_DIR\n"), 2;
    snprintf(dir, sizeof dir, "/tmp/xfwd-mapping-XXXXXX");
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    int failed = 0;
    failed += run_case(argv[1], "file shrinks before the engine is made", 0);
    failed += run_case(argv[1], "file shrinks between forwards", 1);
    char path[256];
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    rmdir(dir);
    return failed ? 1 : 0;
}
