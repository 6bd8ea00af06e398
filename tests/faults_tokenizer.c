/* faults_tokenizer.c — untrusted tokenizer.json files that used to be accepted and
 * then misbehave: a Split regex with \C (one byte, which can cut a UTF-8
 * character: BPE then read past the piece and past the caller's text) and a
 * post-processor special-token id that is a hole in the vocabulary (encoded, then
 * refused by decode). Both must be refused at load. If a file is accepted anyway,
 * its encode runs on text that ends right before an unmapped page, so an
 * over-read crashes instead of passing unnoticed.
 * usage: faults_tokenizer */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "xfwd.h"

static int failures;

static const char *write_tmp(const char *name, const char *text) {
    static char path[256];
    snprintf(path, sizeof path, "/tmp/xfwd-faults-tok-%ld-%s.json", (long)getpid(), name);
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) == EOF || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    return path;
}

/* Encodes `text` placed at the very end of a readable page, before a PROT_NONE one. */
static void encode_guarded(const xf_tokenizer *t, const char *text) {
    long page = sysconf(_SC_PAGESIZE);
    size_t n = strlen(text);
    char *mem = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return;
    mprotect(mem + page, (size_t)page, PROT_NONE);
    char *at = mem + page - n;
    memcpy(at, text, n);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    xf_status st = xf_tokenizer_encode(t, at, n, 1, &ids, &n_ids);
    printf("     (accepted file) encode: %s, %zu ids\n", st == XF_OK ? "ok" : xf_last_error(), n_ids);
    if (st == XF_OK) {  /* whatever it returned must decode */
        char *back = NULL;
        size_t len = 0;
        if (xf_tokenizer_decode(t, ids, n_ids, &back, &len) != XF_OK)
            printf("     decode refuses what encode returned: %s\n", xf_last_error());
        free(back);
    }
    free(ids);
    munmap(mem, (size_t)page * 2);
}

static void expect_refused(const char *name, const char *json, const char *what) {
    const char *path = write_tmp(name, json);
    xf_tokenizer *t = NULL;
    xf_status st = xf_tokenizer_open(path, &t);
    if (st == XF_OK) {
        failures++;
        printf("FAIL %s: accepted (%s should be refused at load)\n", name, what);
        encode_guarded(t, "ab\xc3\xa9" "a\xc3\xa9");
        xf_tokenizer_free(t);
    } else {
        printf("ok   %s: %s\n", name, xf_last_error());
    }
    unlink(path);
}

#define MODEL                                                                                                  \
    "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"\\u00e9\": 2, \"<unk>\": 3, \"<s>\": 6}," \
    " \"merges\": [], \"unk_token\": \"<unk>\"}"

int main(void) {
    expect_refused("split_backslash_C",
                   "{\"pre_tokenizer\": {\"type\": \"Split\", \"pattern\": {\"Regex\": \"\\\\C\"},"
                   " \"behavior\": \"Isolated\", \"invert\": false}, " MODEL "}",
                   "a Split regex with \\C");
    expect_refused("split_backslash_C_in_sequence",
                   "{\"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": [{\"type\": \"Split\","
                   " \"pattern\": {\"Regex\": \"a|\\\\C\"}, \"behavior\": \"Removed\", \"invert\": false}]}, " MODEL "}",
                   "a Split regex with \\C");
    expect_refused("post_id_in_vocab_hole",
                   "{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\":"
                   " {\"id\": \"<s>\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}],"
                   " \"pair\": [], \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [4], \"tokens\": [\"<s>\"]}}}, "
                   MODEL "}",
                   "a special-token id missing from the vocab");
    expect_refused("pair_id_in_vocab_hole",
                   "{\"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"Sequence\":"
                   " {\"id\": \"A\", \"type_id\": 0}}], \"pair\": [{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}},"
                   " {\"SpecialToken\": {\"id\": \"<sep>\", \"type_id\": 1}}, {\"Sequence\": {\"id\": \"B\", \"type_id\": 1}}],"
                   " \"special_tokens\": {\"<sep>\": {\"id\": \"<sep>\", \"ids\": [5], \"tokens\": [\"<sep>\"]}}}, "
                   MODEL "}",
                   "a pair-template special-token id missing from the vocab");
    expect_refused("bert_sep_in_vocab_hole",
                   "{\"post_processor\": {\"type\": \"BertProcessing\", \"cls\": [\"<s>\", 6], \"sep\": [\"</s>\", 5]}, "
                   MODEL "}",
                   "a sep id missing from the vocab");
    printf("%s: %d failures\n", failures ? "FAIL" : "ok", failures);
    return failures ? 1 : 0;
}
