/* test_tokenizer_bad.c — the tokenizer on bad and extreme input: malformed
 * tokenizer.json variants (written to a temporary folder) must fail with the right
 * status and a message naming the file; invalid UTF-8 text, bad ids and NULL
 * arguments must fail cleanly; a small valid tokenizer must encode and decode as
 * worked out by hand; and, when the real tokenizers are fetched, megabyte-long runs
 * must encode without a crash and decode back to the text.
 * Usage: test_tokenizer_bad [TOKENIZERS_DIR] */
#define _POSIX_C_SOURCE 200809L  /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xfwd.h"

static int failures, checks;
static char dir[64];

#define EXPECT(cond, ...)                                                                          \
    do {                                                                                           \
        checks++;                                                                                  \
        if (!(cond)) {                                                                             \
            failures++;                                                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* A tiny valid byte-level BPE: "ab ab" → [ab, Ġab]; <s> is the BOS of the template. */
static const char mini[] =
    "{\"version\": \"1.0\",\n"
    " \"added_tokens\": [{\"id\": 5, \"content\": \"<s>\", \"single_word\": false, \"lstrip\": false,"
    " \"rstrip\": false, \"normalized\": false, \"special\": true}],\n"
    " \"normalizer\": {\"type\": \"NFC\"},\n"
    " \"pre_tokenizer\": {\"type\": \"Sequence\", \"pretokenizers\": ["
    "{\"type\": \"Split\", \"pattern\": {\"Regex\": \" ?\\\\S+|\\\\s+\"}, \"behavior\": \"Isolated\","
    " \"invert\": false},"
    "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": false}]},\n"
    " \"post_processor\": {\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"<s>\","
    " \"type_id\": 0}}, {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"pair\": [],"
    " \"special_tokens\": {\"<s>\": {\"id\": \"<s>\", \"ids\": [5], \"tokens\": [\"<s>\"]}}},\n"
    " \"decoder\": {\"type\": \"ByteLevel\"},\n"
    " \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"ab\": 2, \"\\u0120\": 3, \"\\u0120ab\": 4},"
    " \"merges\": [\"a b\", \"\\u0120 ab\"]}}\n";

static void write_file(const char *path, const char *text, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(text, 1, n, f) != n) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

/* Replaces the first `from` in the mini tokenizer with `to`. */
static char *mini_with(const char *from, const char *to)
{
    const char *at = strstr(mini, from);
    if (!at) {
        fprintf(stderr, "test bug: '%s' not in the mini tokenizer\n", from);
        exit(1);
    }
    size_t n = strlen(mini) - strlen(from) + strlen(to);
    char *s = malloc(n + 1);
    size_t k = (size_t)(at - mini);
    memcpy(s, mini, k);
    strcpy(s + k, to);
    strcat(s, at + strlen(from));
    return s;
}

/* Writes `text` as NAME.json and expects xf_tokenizer_open to fail with `want`. */
static void expect_open_fails(const char *name, const char *text, size_t n, xf_status want)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s.json", dir, name);
    write_file(path, text, n);
    xf_tokenizer *t = (xf_tokenizer *)&path;  /* must be reset to NULL on failure */
    xf_status st = xf_tokenizer_open(path, &t);
    EXPECT(st == want, "%s: status %s, want %s (%s)", name, xf_status_name(st), xf_status_name(want),
           xf_last_error());
    EXPECT(t == NULL, "%s: handle not NULL after a failure", name);
    EXPECT(strstr(xf_last_error(), path) != NULL, "%s: message does not name the file: %s", name,
           xf_last_error());
    printf("  %-22s -> %s: %s\n", name, xf_status_name(st), xf_last_error());
    if (st == XF_OK) xf_tokenizer_free(t);
    remove(path);
}

static void expect_open_fails_mini(const char *name, const char *from, const char *to, xf_status want)
{
    char *s = mini_with(from, to);
    expect_open_fails(name, s, strlen(s), want);
    free(s);
}

static void bad_files(const char *tok_dir)
{
    printf("malformed tokenizer.json files:\n");
    xf_tokenizer *t = NULL;
    char path[256];
    snprintf(path, sizeof(path), "%s/absent.json", dir);
    EXPECT(xf_tokenizer_open(path, &t) == XF_ERR_IO && !t, "absent file: %s", xf_last_error());
    EXPECT(xf_tokenizer_open(dir, &t) == XF_ERR_IO && !t, "a folder: %s", xf_last_error());
    EXPECT(xf_tokenizer_open(NULL, &t) == XF_ERR_INVALID_ARG, "NULL path");
    EXPECT(xf_tokenizer_open(path, NULL) == XF_ERR_INVALID_ARG, "NULL out");
    expect_open_fails("empty", "", 0, XF_ERR_FORMAT);
    expect_open_fails("not_json", "not json {", 10, XF_ERR_FORMAT);
    expect_open_fails("array", "[1, 2]", 6, XF_ERR_FORMAT);
    expect_open_fails("no_model", "{}", 2, XF_ERR_FORMAT);
    expect_open_fails("bad_utf8", "{\"model\": \"\xff\"}", 14, XF_ERR_FORMAT);
    expect_open_fails("truncated", mini, strlen(mini) / 2, XF_ERR_FORMAT);
    expect_open_fails_mini("model_type_bogus", "\"type\": \"BPE\"", "\"type\": \"Bogus\"", XF_ERR_FORMAT);
    expect_open_fails_mini("model_type_unigram", "\"type\": \"BPE\"", "\"type\": \"Unigram\"", XF_ERR_UNSUPPORTED);
    expect_open_fails_mini("model_not_object", "\"model\": {", "\"model\": 3, \"x\": {", XF_ERR_FORMAT);
    expect_open_fails_mini("no_vocab", "\"vocab\"", "\"vocabulary\"", XF_ERR_FORMAT);
    expect_open_fails_mini("vocab_array", "\"vocab\": {\"a\": 0, \"b\": 1,", "\"vocab\": [0, 1], \"x\": {\"b\": 1,",
                           XF_ERR_FORMAT);
    expect_open_fails_mini("vocab_id_string", "\"a\": 0", "\"a\": \"0\"", XF_ERR_FORMAT);
    expect_open_fails_mini("vocab_id_negative", "\"a\": 0", "\"a\": -1", XF_ERR_FORMAT);
    expect_open_fails_mini("vocab_id_huge", "\"a\": 0", "\"a\": 99999999999", XF_ERR_FORMAT);
    expect_open_fails_mini("no_merges", "\"merges\"", "\"mergers\"", XF_ERR_FORMAT);
    expect_open_fails_mini("merge_no_space", "\"a b\"", "\"ab\"", XF_ERR_FORMAT);
    expect_open_fails_mini("merge_three_parts", "\"a b\"", "\"a b c\"", XF_ERR_FORMAT);
    expect_open_fails_mini("merge_unknown_token", "\"a b\"", "\"a x\"", XF_ERR_FORMAT);
    expect_open_fails_mini("merge_result_unknown", "\"a b\"", "\"b a\"", XF_ERR_FORMAT);
    expect_open_fails_mini("merge_not_string", "\"a b\"", "[\"a\", 1]", XF_ERR_FORMAT);
    expect_open_fails_mini("merge_number", "\"a b\"", "7", XF_ERR_FORMAT);
    expect_open_fails_mini("added_not_array", "\"added_tokens\": [", "\"added_tokens\": 1, \"x\": [", XF_ERR_FORMAT);
    expect_open_fails_mini("added_no_content", "\"content\": \"<s>\"", "\"contents\": \"<s>\"", XF_ERR_FORMAT);
    expect_open_fails_mini("normalizer_bogus", "\"type\": \"NFC\"", "\"type\": \"Bogus\"", XF_ERR_UNSUPPORTED);
    expect_open_fails_mini("regex_bad", "\" ?\\\\S+|\\\\s+\"", "\"(\"", XF_ERR_UNSUPPORTED);
    expect_open_fails_mini("split_behavior_bogus", "\"Isolated\"", "\"Sideways\"", XF_ERR_FORMAT);
    expect_open_fails_mini("split_no_pattern", "\"pattern\": {\"Regex\"", "\"pattern\": {\"Regexp\"", XF_ERR_FORMAT);
    expect_open_fails_mini("decoder_bogus", "\"decoder\": {\"type\": \"ByteLevel\"}",
                           "\"decoder\": {\"type\": \"Bogus\"}", XF_ERR_UNSUPPORTED);
    expect_open_fails_mini("template_unknown_special", "\"special_tokens\": {\"<s>\"", "\"special_tokens\": {\"<t>\"",
                           XF_ERR_FORMAT);
    expect_open_fails_mini("template_id_outside", "\"ids\": [5]", "\"ids\": [500]", XF_ERR_FORMAT);
    /* a real tokenizer.json cut short */
    char real[4096];
    snprintf(real, sizeof(real), "%s/qwen3/tokenizer.json", tok_dir ? tok_dir : ".");
    FILE *f = tok_dir ? fopen(real, "rb") : NULL;
    if (f) {
        size_t n = 1 << 20;
        char *buf = malloc(n);
        n = fread(buf, 1, n, f);
        fclose(f);
        expect_open_fails("real_truncated", buf, n, XF_ERR_FORMAT);
        free(buf);
    }
}

static void expect_ids(const xf_tokenizer *t, const char *text, int add_special, const int32_t *want, size_t n_want)
{
    int32_t *ids = NULL;
    size_t n = 0;
    xf_status st = xf_tokenizer_encode(t, text, strlen(text), add_special, &ids, &n);
    int same = st == XF_OK && n == n_want && (n == 0 || !memcmp(ids, want, n * sizeof(*ids)));
    EXPECT(same, "encode(\"%s\", %d): status %s, %zu ids", text, add_special, xf_status_name(st), n);
    EXPECT(st != XF_OK || ids != NULL, "encode(\"%s\") gave a NULL array", text);
    free(ids);
}

static void mini_tokenizer(void)
{
    printf("a small valid tokenizer, bad text and bad ids:\n");
    char path[256];
    snprintf(path, sizeof(path), "%s/mini.json", dir);
    write_file(path, mini, strlen(mini));
    xf_tokenizer *t = NULL;
    xf_status st = xf_tokenizer_open(path, &t);
    EXPECT(st == XF_OK, "mini tokenizer: %s", xf_last_error());
    if (st != XF_OK) return;
    expect_ids(t, "ab ab", 0, (const int32_t[]){2, 4}, 2);
    expect_ids(t, "ab ab", 1, (const int32_t[]){5, 2, 4}, 3);
    expect_ids(t, "ab<s>ab", 0, (const int32_t[]){2, 5, 2}, 3);
    expect_ids(t, "", 0, NULL, 0);
    expect_ids(t, "", 1, (const int32_t[]){5}, 1);
    char *text = NULL;
    size_t len = 0;
    st = xf_tokenizer_decode(t, (const int32_t[]){5, 2, 4, 3}, 4, &text, &len);
    EXPECT(st == XF_OK && text && len == 9 && !strcmp(text, "<s>ab ab "), "decode: %s", text ? text : "(null)");
    free(text);
    st = xf_tokenizer_decode(t, NULL, 0, &text, &len);
    EXPECT(st == XF_OK && text && len == 0 && text[0] == 0, "decode of nothing");
    free(text);

    static const char *const bad_utf8[] = {
        "\xff", "\xc3", "a\xc3(", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "ok\xf8\x88\x80\x80\x80",
        "\x80", "ab\xe2\x82\xac\xe2"};
    for (size_t i = 0; i < sizeof(bad_utf8) / sizeof(bad_utf8[0]); i++) {
        int32_t *ids = (int32_t *)&st;
        size_t n = 7;
        st = xf_tokenizer_encode(t, bad_utf8[i], strlen(bad_utf8[i]), 1, &ids, &n);
        EXPECT(st == XF_ERR_INVALID_ARG && ids == NULL && n == 0, "invalid UTF-8 #%zu: %s", i, xf_status_name(st));
        EXPECT(strstr(xf_last_error(), "UTF-8") != NULL, "message: %s", xf_last_error());
    }
    printf("  invalid UTF-8 -> %s\n", xf_last_error());
    int32_t *ids = NULL;
    size_t n = 0;
    EXPECT(xf_tokenizer_encode(NULL, "a", 1, 0, &ids, &n) == XF_ERR_INVALID_ARG, "NULL tokenizer");
    EXPECT(xf_tokenizer_encode(t, NULL, 3, 0, &ids, &n) == XF_ERR_INVALID_ARG, "NULL text");
    EXPECT(xf_tokenizer_encode(t, "a", 1, 0, NULL, &n) == XF_ERR_INVALID_ARG, "NULL ids");
    EXPECT(xf_tokenizer_decode(t, NULL, 2, &text, &len) == XF_ERR_INVALID_ARG, "NULL ids to decode");
    EXPECT(xf_tokenizer_decode(t, (const int32_t[]){2, -1}, 2, &text, &len) == XF_ERR_INVALID_ARG && !text,
           "id -1");
    EXPECT(xf_tokenizer_decode(t, (const int32_t[]){6}, 1, &text, &len) == XF_ERR_INVALID_ARG && !text,
           "id 6 (past the vocabulary)");
    printf("  bad id -> %s\n", xf_last_error());
    xf_tokenizer_free(t);
    xf_tokenizer_free(NULL);
    remove(path);

    /* A split regex that matches the empty string: every character becomes its own
     * piece, as in `tokenizers` (and the empty pattern once read past its buffer). */
    char *empty_re = mini_with("\" ?\\\\S+|\\\\s+\"", "\"\"");
    write_file(path, empty_re, strlen(empty_re));
    free(empty_re);
    t = NULL;
    st = xf_tokenizer_open(path, &t);
    EXPECT(st == XF_OK, "empty split regex: %s", xf_last_error());
    if (t) expect_ids(t, "ab ab", 0, (const int32_t[]){0, 1, 3, 0, 1}, 5);
    xf_tokenizer_free(t);
    remove(path);
}

/* Megabyte runs through the real tokenizers: no crash, and decode(encode(x)) == x. */
static void long_runs(const char *tok_dir)
{
    static const char *const names[] = {"qwen3", "llama3", "llama2"};
    static const char *const units[] = {" ", "a", "\n", "7", "\xf0\x9f\x99\x82", "ab ", "\xe4\xb8\xad", "\t\n "};
    printf("megabyte runs:\n");
    for (int k = 0; k < 3; k++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s/tokenizer.json", tok_dir, names[k]);
        xf_tokenizer *t = NULL;
        if (access(path, R_OK) != 0) {
            printf("  %s: not fetched, skipped\n", names[k]);
            continue;
        }
        EXPECT(xf_tokenizer_open(path, &t) == XF_OK, "%s: %s", names[k], xf_last_error());
        if (!t) continue;
        for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
            size_t ul = strlen(units[u]), len = 0;
            size_t n = (1u << 20) / ul * ul;
            char *text = malloc(n + 1);
            for (size_t i = 0; i < n; i += ul) memcpy(text + i, units[u], ul);
            text[n] = 0;
            int32_t *ids = NULL;
            size_t n_ids = 0;
            xf_status st = xf_tokenizer_encode(t, text, n, 0, &ids, &n_ids);
            EXPECT(st == XF_OK && n_ids > 0, "%s: encode of a run of %zu bytes: %s", names[k], n, xf_last_error());
            char *back = NULL;
            if (st == XF_OK) st = xf_tokenizer_decode(t, ids, n_ids, &back, &len);
            EXPECT(st == XF_OK && len == n && back && !memcmp(back, text, n), "%s: round trip of unit %zu",
                   names[k], u);
            free(back);
            free(ids);
            free(text);
        }
        printf("  %s: %zu runs of 1 MiB encoded and decoded back\n", names[k], sizeof(units) / sizeof(units[0]));
        xf_tokenizer_free(t);
    }
}

int main(int argc, char **argv)
{
    const char *tok_dir = argc > 1 ? argv[1] : NULL;
    snprintf(dir, sizeof(dir), "/tmp/xfwd-tokbad-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    bad_files(tok_dir);
    mini_tokenizer();
    if (tok_dir) long_runs(tok_dir);
    rmdir(dir);
    printf("%d checks, %d failures\n", checks, failures);
    return failures ? 1 : 0;
}
