/* fuzz_config.c — libFuzzer: any bytes as a model folder's config.json and, after
 * the separator line (fuzz_util.h), its model.safetensors.index.json. The weights
 * are the qwen3-tiny golden case's, as model.safetensors and as the one shard
 * the seed index names. Opening must succeed or fail with an error; a model that
 * opens runs one short forward on the reference backend. */
#include "fuzz_util.h"
#include "xfwd.h"

#ifndef XF_SOURCE_DIR
#define XF_SOURCE_DIR "."
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/data/golden/qwen3-tiny/model.safetensors", XF_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    if (!f) return fprintf(stderr, "fuzz_config: cannot read %s\n", path), exit(1), 0;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) abort();
    fclose(f);
    fz_put("model.safetensors", buf, (size_t)n);
    fz_put("model-00001-of-00001.safetensors", buf, (size_t)n);
    free(buf);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    const uint8_t *cfg, *index;
    size_t n_cfg, n_index;
    fz_split(data, n, &cfg, &n_cfg, &index, &n_index);
    fz_put("config.json", cfg, n_cfg);
    fz_put("model.safetensors.index.json", index, n_index);  /* removed when absent */
    xf_model *m = NULL;
    if (xf_model_open(fz_dir(), &m) != XF_OK) return 0;
    xf_model_info info;
    xf_model_get_info(m, &info);
    xf_engine_options o;
    xf_engine_options_init(&o);
    o.backend = XF_BACKEND_CPU_REF;
    xf_engine *e = NULL;
    if (xf_engine_create(m, &o, &e) == XF_OK && info.vocab_size > 3 && info.hidden_size <= 4096) {
        int32_t tokens[] = {1, 2, 3}, lens[] = {3};
        xf_batch b = {.tokens = tokens, .seq_lens = lens, .n_seqs = 1};
        float *out = malloc(sizeof(float) * 3 * (size_t)info.hidden_size);
        if (out) xf_engine_hidden(e, &b, out);
        free(out);
    }
    xf_engine_free(e);
    xf_model_free(m);
    return 0;
}
