/* fuzz_tokenizer_json.c — libFuzzer: any bytes as a tokenizer.json. Loading must
 * succeed or fail with an error; a tokenizer that loads must encode a few texts
 * into ids that it decodes again. */
#include "fuzz_util.h"
#include "xfwd.h"

static const char *const texts[] = {"Hello, world!", "  two  spaces\tand\nlines", "caf\xc3\xa9 \xe6\x95\xb0 \xf0\x9f\x99\x82",
                                    "<s>added</s> 123"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    xf_tokenizer *t = NULL;
    if (xf_tokenizer_open(fz_as_file(data, n), &t) != XF_OK) return 0;
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        int32_t *ids = NULL;
        size_t n_ids = 0;
        if (xf_tokenizer_encode(t, texts[i], strlen(texts[i]), (int)(i & 1), &ids, &n_ids) == XF_OK) {
            char *back = NULL;
            size_t len = 0;
            /* every id encode returns must be one decode accepts */
            if (xf_tokenizer_decode(t, ids, n_ids, &back, &len) != XF_OK) {
                fprintf(stderr, "decode refused encode's ids: %s\n", xf_last_error());
                abort();
            }
            free(back);
        }
        free(ids);
    }
    xf_tokenizer_free(t);
    return 0;
}
