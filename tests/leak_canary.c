/* leak_canary.c — sanitizer builds only: proves the leak check still bites.
 * It runs a forward on a backend (Vulkan by default, so the driver is loaded and
 * "unloaded" as in every Vulkan test), frees everything, then leaks one block of
 * its own on purpose. tests/leak_canary.sh expects LeakSanitizer to report
 * exactly that block, and nothing else, and the run to fail. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfwd.h"

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: leak_canary MODEL_DIR cpu|vulkan\n");
        return 2;
    }
    xf_model *m = NULL;
    xf_engine *e = NULL;
    xf_engine_options o;
    xf_engine_options_init(&o);
    o.backend = strcmp(argv[2], "vulkan") ? XF_BACKEND_CPU : XF_BACKEND_VULKAN;
    if (xf_model_open(argv[1], &m) != XF_OK) {
        fprintf(stderr, "leak_canary: %s\n", xf_last_error());
        return 2;
    }
    xf_status st = xf_engine_create(m, &o, &e);
    if (st == XF_ERR_NO_DEVICE) {
        fprintf(stderr, "leak_canary: %s: skipped\n", xf_last_error());
        xf_model_free(m);
        return 77;
    }
    if (st != XF_OK) {
        fprintf(stderr, "leak_canary: %s\n", xf_last_error());
        xf_model_free(m);
        return 2;
    }
    xf_model_info info;
    xf_model_get_info(m, &info);
    int32_t tokens[3] = {1, 2, 3}, lens[1] = {3};
    xf_batch b = {.tokens = tokens, .seq_lens = lens, .n_seqs = 1};
    float *hidden = malloc(sizeof(float) * 3 * (size_t)info.hidden_size);
    st = hidden ? xf_engine_hidden(e, &b, hidden) : XF_ERR_NO_MEMORY;
    free(hidden);
    xf_engine_free(e);
    xf_model_free(m);
    if (st != XF_OK) {
        fprintf(stderr, "leak_canary: forward failed: %s\n", xf_last_error());
        return 2;
    }
    /* The deliberate leak: 4242 bytes nobody frees, reached by nothing. */
    volatile char *lost = malloc(4242);
    if (lost) lost[0] = 1;
    lost = NULL;
    return 0;
}
