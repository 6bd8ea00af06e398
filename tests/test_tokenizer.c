/* test_tokenizer.c — the tokenizer against Hugging Face `tokenizers` on real files:
 * for every line of tests/data/tokenizer/NAME.jsonl, encode(text) must give `ids`,
 * encode(text, add_special) `ids_special`, and decode(ids) `decoded`, exactly (a line
 * without "text" checks decode(ids) only).
 * Usage: test_tokenizer DATA_DIR TOKENIZERS_DIR [NAME...]
 * The tokenizer.json files come from scripts/fetch-tokenizers.sh; without them the
 * test is skipped (exit 77). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfwd.h"

#define XT_SKIP 77

static void print_ids(const char *label, const int32_t *ids, size_t n)
{
    fprintf(stderr, "    %s [", label);
    for (size_t i = 0; i < n; i++) fprintf(stderr, "%s%d", i ? ", " : "", (int)ids[i]);
    fprintf(stderr, "]\n");
}

/* Compares encode(text, add_special) with the JSON array `want`; 0 if equal. */
static int check_ids(const xf_tokenizer *tok, const char *text, size_t len, int add_special,
                     const json_t *want, const char *what, size_t line)
{
    int32_t *ids = NULL;
    size_t n = 0;
    xf_status st = xf_tokenizer_encode(tok, text, len, add_special, &ids, &n);
    if (st != XF_OK) {
        fprintf(stderr, "  line %zu: %s: encode failed: %s\n", line, what, xf_last_error());
        return 1;
    }
    int bad = !json_is_array(want) || json_array_size(want) != n;
    for (size_t i = 0; !bad && i < n; i++) bad = json_integer_value(json_array_get(want, i)) != ids[i];
    if (bad) {
        fprintf(stderr, "  line %zu: %s differ for text \"%.80s\"\n", line, what, text);
        print_ids("got ", ids, n);
        int32_t *w = malloc((json_array_size(want) + 1) * sizeof(*w));
        for (size_t i = 0; w && i < json_array_size(want); i++)
            w[i] = (int32_t)json_integer_value(json_array_get(want, i));
        if (w) print_ids("want", w, json_array_size(want));
        free(w);
    }
    free(ids);
    return bad;
}

static int check_decode(const xf_tokenizer *tok, const json_t *ids_json, const json_t *want,
                        size_t line)
{
    size_t n = json_array_size(ids_json);
    int32_t *ids = malloc((n + 1) * sizeof(*ids));
    if (!ids) return 1;
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)json_integer_value(json_array_get(ids_json, i));
    char *text = NULL;
    size_t len = 0;
    xf_status st = xf_tokenizer_decode(tok, ids, n, &text, &len);
    free(ids);
    if (st != XF_OK) {
        fprintf(stderr, "  line %zu: decode failed: %s\n", line, xf_last_error());
        return 1;
    }
    int bad = !json_is_string(want) || json_string_length(want) != len ||
              memcmp(json_string_value(want), text, len) != 0 || text[len] != 0;
    if (bad)
        fprintf(stderr, "  line %zu: decoded \"%.80s\", want \"%.80s\"\n", line, text,
                json_string_value(want) ? json_string_value(want) : "(not a string)");
    free(text);
    return bad;
}

/* Runs one tokenizer's cases; returns failures, or -1 when its file is absent. */
static int run_case(const char *data_dir, const char *tok_dir, const char *name)
{
    char tok_path[4096], data_path[4096];
    snprintf(tok_path, sizeof(tok_path), "%s/%s/tokenizer.json", tok_dir, name);
    snprintf(data_path, sizeof(data_path), "%s/%s.jsonl", data_dir, name);
    FILE *probe = fopen(tok_path, "rb");
    if (!probe) return -1;
    fclose(probe);
    xf_tokenizer *tok = NULL;
    if (xf_tokenizer_open(tok_path, &tok) != XF_OK) {
        fprintf(stderr, "%s: cannot open: %s\n", name, xf_last_error());
        return 1;
    }
    FILE *f = fopen(data_path, "rb");
    if (!f) {
        fprintf(stderr, "%s: cannot open %s\n", name, data_path);
        xf_tokenizer_free(tok);
        return 1;
    }
    char *line = NULL;
    size_t cap = 0, lineno = 0, checked = 0;
    int failures = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0) {
        lineno++;
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)got, JSON_ALLOW_NUL, &je);
        const json_t *text = json_object_get(o, "text");
        if (!text && json_is_array(json_object_get(o, "ids"))) {  /* a decode-only case */
            failures += check_decode(tok, json_object_get(o, "ids"), json_object_get(o, "decoded"), lineno);
            checked++;
            json_decref(o);
            continue;
        }
        if (!json_is_string(text)) {
            fprintf(stderr, "  %s:%zu: not a test line\n", data_path, lineno);
            failures++;
            json_decref(o);
            continue;
        }
        const char *s = json_string_value(text);
        size_t len = json_string_length(text);
        int bad = check_ids(tok, s, len, 0, json_object_get(o, "ids"), "ids", lineno);
        bad |= check_ids(tok, s, len, 1, json_object_get(o, "ids_special"), "ids_special", lineno);
        bad |= check_decode(tok, json_object_get(o, "ids"), json_object_get(o, "decoded"), lineno);
        failures += bad;
        checked++;
        json_decref(o);
    }
    free(line);
    fclose(f);
    xf_tokenizer_free(tok);
    printf("%s: %zu lines checked, %d failures\n", name, checked, failures);
    if (checked == 0) failures++;
    return failures;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s DATA_DIR TOKENIZERS_DIR [NAME...]\n", argv[0]);
        return 2;
    }
    static const char *const all[] = {"qwen3", "llama3", "llama2"};
    const char *const *names = argc > 3 ? (const char *const *)argv + 3 : all;
    int n_names = argc > 3 ? argc - 3 : 3;
    int failures = 0, ran = 0;
    for (int i = 0; i < n_names; i++) {
        int r = run_case(argv[1], argv[2], names[i]);
        if (r < 0) {
            printf("%s: skipped: %s/%s/tokenizer.json absent (run scripts/fetch-tokenizers.sh)\n",
                   names[i], argv[2], names[i]);
            continue;
        }
        ran++;
        failures += r;
    }
    if (!ran) return XT_SKIP;
    if (ran < n_names) {
        printf("FAIL: some tokenizer files are missing\n");
        return 1;
    }
    printf("%s: %d failures\n", failures ? "FAIL" : "ok", failures);
    return failures ? 1 : 0;
}
