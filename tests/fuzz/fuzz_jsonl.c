/* fuzz_jsonl.c — libFuzzer: any bytes as the CLI's JSONL input (tools/jsonl.c):
 * id arrays, {"tokens": ...} and {"text": ...} lines (tokenized with the small
 * byte-level tokenizer of corpus/tokenizer_json, loaded per call as the CLI
 * does), with a small line limit.
 * Reading must succeed or fail with an error; what it returns must add up. */
#include "fuzz_util.h"
#include "jsonl.h"

#ifndef XF_SOURCE_DIR
#define XF_SOURCE_DIR "."
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/fuzz/corpus/tokenizer_json/byte_level", XF_SOURCE_DIR);
    FILE *f = fopen(path, "rb");
    uint8_t buf[1 << 16];
    size_t got = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    if (!got) return fprintf(stderr, "fuzz_jsonl: cannot read %s\n", path), exit(1), 0;
    fz_put("tokenizer.json", buf, got);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n) {
    xf_seqs s;
    char err[4400];
    if (xf_seqs_read(fz_as_file(data, n), fz_dir(), 4096, &s, err, sizeof err) != 0) return 0;
    int64_t total = 0;
    for (int32_t i = 0; i < s.n_seqs; i++) {
        if (s.lens[i] < 1) abort();
        total += s.lens[i];
    }
    if (total != s.n_tokens) abort();
    for (int64_t t = 0; t < s.n_tokens; t++)
        if (s.tokens[t] < 0) abort();
    xf_seqs_free(&s);
    return 0;
}
