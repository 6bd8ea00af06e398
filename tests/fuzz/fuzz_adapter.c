/* fuzz_adapter.c — libFuzzer: any bytes as a PEFT adapter folder for the qwen3-tiny
 * golden model: adapter_config.json, then after the separator line (fuzz_util.h)
 * adapter_model.safetensors. Opening must succeed or fail with an error. */
#include <sys/stat.h>

#include "fuzz_util.h"
#include "xfwd.h"

#ifndef XF_SOURCE_DIR
#define XF_SOURCE_DIR "."
#endif

static xf_model *model;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/golden/qwen3-tiny", XF_SOURCE_DIR);
    if (xf_model_open(path, &model) != XF_OK) {
        fprintf(stderr, "fuzz_adapter: %s\n", xf_last_error());
        exit(1);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    const uint8_t *cfg, *weights;
    size_t n_cfg, n_weights;
    fz_split(data, n, &cfg, &n_cfg, &weights, &n_weights);
    fz_put("adapter_config.json", cfg, n_cfg);
    fz_put("adapter_model.safetensors", weights, n_weights);  /* removed when absent */
    xf_adapter *a = NULL;
    if (xf_adapter_open(model, fz_dir(), &a) == XF_OK) xf_adapter_free(a);
    return 0;
}
