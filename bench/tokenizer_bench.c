/* tokenizer_bench.c — encoding speed of the tokenizer on one core: MB/s and tokens/s
 * for each real tokenizer (scripts/fetch-tokenizers.sh) on two large texts:
 *   "tests": the texts of tests/data/tokenizer/qwen3.jsonl, one per line, repeated;
 *   "mixed": generated prose, code, numbers, CJK, Cyrillic and emoji (fixed seed).
 * Each text is encoded whole in one call ("doc") and line by line ("lines"), three
 * passes on one tokenizer (the first starts with a cold word cache); decoding of the
 * whole id array is timed once. Results: bench/tokenizer.md.
 * Usage: tokenizer_bench TOKENIZERS_DIR DATA_DIR [MB] */
#define _POSIX_C_SOURCE 200809L  /* clock_gettime */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xfwd.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct text {
    char *p;
    size_t n, cap;
} text;

static void append(text *t, const char *s, size_t n)
{
    if (t->n + n + 1 > t->cap) {
        t->cap = (t->n + n + 1) * 2;
        t->p = realloc(t->p, t->cap);
        if (!t->p) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = 0;
}

/* The test texts, newline-separated (newlines inside a text become spaces), repeated. */
static int tests_text(const char *data_dir, size_t target, text *out)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/qwen3.jsonl", data_dir);
    json_error_t je;
    FILE *f = fopen(path, "rb");
    if (!f) return fprintf(stderr, "cannot open %s\n", path), 1;
    text one = {0};
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, &je);
        const char *s = json_string_value(json_object_get(o, "text"));
        size_t n = json_string_length(json_object_get(o, "text"));
        for (size_t i = 0; s && i < n; i++) append(&one, s[i] == '\n' ? " " : s + i, 1);
        append(&one, "\n", 1);
        json_decref(o);
    }
    free(line);
    fclose(f);
    while (out->n < target) append(out, one.p, one.n);
    free(one.p);
    return 0;
}

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13, rng_state ^= rng_state >> 7, rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* Generated mixed text: mostly English prose, with code, numbers and other scripts. */
static void mixed_text(size_t target, text *out)
{
    static const char *const words[] = {
        "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on",
        "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "had", "they",
        "you", "were", "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more",
        "when", "will", "would", "who", "so", "no", "model", "tokenizer", "attention", "transformer",
        "sequence", "embedding", "gradient", "parameters", "throughput", "latency", "benchmark",
        "internationalization", "don't", "it's", "we'll", "they've", "I'm", "naïve", "café", "Straße"};
    static const char *const other[] = {
        "数据", "模型", "注意力", "我们", "中文文本", "日本語", "テキスト", "данные", "модель", "Привет",
        "Ελληνικά", "한국어", "العربية", "हिन्दी", "😀", "👍🏽", "🚀", "—", "…", "€"};
    static const char *const code[] = {
        "for (int i = 0; i < n; ++i) {", "    sum += a[i] * b[i];", "}", "def forward(self, x):",
        "        return self.proj(x) + x", "if err != nil { return err }", "SELECT id, name FROM t WHERE x > 3;",
        "#include <stdio.h>", "    x = torch.zeros(4, 8, dtype=torch.float32)"};
    while (out->n < target) {
        uint32_t kind = rnd(10);
        if (kind < 7) {  /* a paragraph of prose */
            int n = 20 + (int)rnd(80);
            for (int i = 0; i < n; i++) {
                const char *w = rnd(12) == 0 ? other[rnd(sizeof(other) / sizeof(*other))]
                                             : words[rnd(sizeof(words) / sizeof(*words))];
                char num[32];
                if (rnd(25) == 0) snprintf(num, sizeof(num), "%u", rnd(100000)), w = num;
                if (i && rnd(3)) append(out, " ", 1);
                append(out, w, strlen(w));
                if (rnd(15) == 0) append(out, rnd(2) ? "," : ".", 1);
            }
            append(out, ".\n\n", 3);
        } else if (kind < 9) {  /* a few lines of code */
            int n = 3 + (int)rnd(8);
            for (int i = 0; i < n; i++) {
                const char *c = code[rnd(sizeof(code) / sizeof(*code))];
                append(out, c, strlen(c));
                append(out, "\n", 1);
            }
        } else {  /* a line of another script */
            int n = 5 + (int)rnd(30);
            for (int i = 0; i < n; i++) {
                const char *w = other[rnd(sizeof(other) / sizeof(*other))];
                append(out, w, strlen(w));
                if (rnd(4) == 0) append(out, " ", 1);
            }
            append(out, "\n", 1);
        }
    }
}

static int bench_one(const char *name, const char *tok_path, const char *text_name, const text *t)
{
    xf_tokenizer *tok = NULL;
    double t0 = now();
    if (xf_tokenizer_open(tok_path, &tok) != XF_OK) {
        fprintf(stderr, "%s\n", xf_last_error());
        return 1;
    }
    double load = now() - t0;
    double mb = t->n / 1e6;
    size_t n_ids = 0;
    int32_t *ids = NULL;
    for (int mode = 1; mode >= 0; mode--) {  /* doc last: its ids are decoded below */
        double best = 1e30, first = 0;
        size_t count = 0;
        for (int pass = 0; pass < 3; pass++) {
            free(ids);
            ids = NULL;
            t0 = now();
            if (mode == 0) {  /* the whole text in one call */
                if (xf_tokenizer_encode(tok, t->p, t->n, 0, &ids, &n_ids) != XF_OK) {
                    fprintf(stderr, "%s\n", xf_last_error());
                    return 1;
                }
                count = n_ids;
            } else {  /* one call per line */
                count = 0;
                for (const char *s = t->p, *end = t->p + t->n; s < end;) {
                    const char *nl = memchr(s, '\n', (size_t)(end - s));
                    size_t len = nl ? (size_t)(nl - s + 1) : (size_t)(end - s);
                    int32_t *line_ids;
                    size_t n;
                    if (xf_tokenizer_encode(tok, s, len, 0, &line_ids, &n) != XF_OK) {
                        fprintf(stderr, "%s\n", xf_last_error());
                        return 1;
                    }
                    count += n;
                    free(line_ids);
                    s += len;
                }
            }
            double dt = now() - t0;
            if (pass == 0) first = dt;
            if (dt < best) best = dt;
        }
        printf("| %-7s | %-6s | %-5s | %6.1f | %10zu | %7.2f | %7.1f | %7.1f | %7.2f |\n", name, text_name,
               mode ? "lines" : "doc", mb, count, best, mb / first, mb / best, count / best / 1e6);
    }
    char *back = NULL;
    size_t len = 0;
    t0 = now();
    if (xf_tokenizer_decode(tok, ids, n_ids, &back, &len) != XF_OK) {
        fprintf(stderr, "%s\n", xf_last_error());
        return 1;
    }
    double dt = now() - t0;
    printf("| %-7s | %-6s | decode: %.1f MB/s, %.2f M tokens/s; round trip %s; tokenizer load %.2f s |\n", name,
           text_name, len / dt / 1e6, n_ids / dt / 1e6, len == t->n && !memcmp(back, t->p, len) ? "same" : "differs",
           load);
    free(back);
    free(ids);
    xf_tokenizer_free(tok);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s TOKENIZERS_DIR DATA_DIR [MB]\n", argv[0]);
        return 2;
    }
    size_t target = (size_t)((argc > 3 ? atof(argv[3]) : 20.0) * 1e6);
    text tests = {0}, mixed = {0};
    if (tests_text(argv[2], target, &tests)) return 1;
    mixed_text(target, &mixed);
    printf("| tokenizer | text | mode | MB | tokens | best s | MB/s first | MB/s best | M tok/s |\n");
    printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
    static const char *const names[] = {"qwen3", "llama3", "llama2"};
    int ran = 0;
    for (int k = 0; k < 3; k++) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s/tokenizer.json", argv[1], names[k]);
        FILE *f = fopen(path, "rb");
        if (!f) {
            printf("%s: %s absent (scripts/fetch-tokenizers.sh), skipped\n", names[k], path);
            continue;
        }
        fclose(f);
        if (bench_one(names[k], path, "tests", &tests) || bench_one(names[k], path, "mixed", &mixed)) return 1;
        ran++;
    }
    free(tests.p);
    free(mixed.p);
    return ran ? 0 : 77;
}
