/* fuzz_safetensors.c — libFuzzer: any bytes as a safetensors file. xf_st_open must
 * accept it or refuse it with an error; every tensor it accepts is read whole. */
#include "fuzz_util.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    xf_st_file *f = NULL;
    if (xf_st_open(fz_as_file(data, n), &f) != XF_OK) return 0;
    volatile uint8_t sink = 0;
    for (int i = 0; i < xf_st_count(f); i++) {
        const xf_st_entry *e = xf_st_entry_at(f, i);
        const uint8_t *p = e->data;
        for (size_t k = 0; k < e->nbytes; k++) sink ^= p[k];
        if (xf_st_find(f, e->name) != e) abort();
    }
    (void)sink;
    xf_st_close(f);
    return 0;
}
