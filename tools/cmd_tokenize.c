/* cmd_tokenize.c — the `xfwd tokenize` and `xfwd detokenize` subcommands: JSONL text
 * to token ids and back, with a model folder's tokenizer.json or a given file.
 *   tokenize:   {"text": "..."} per line  →  {"ids": [...]} per line
 *   detokenize: {"ids": [...]} or [...]  →  {"text": "..."} per line
 * Blank input lines are skipped. Errors: one line on stderr naming the file and line. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "xfwd.h"

typedef struct tok_args {
    const char *model, *tokenizer, *input, *output;
    int no_special;
} tok_args;

static int parse_args(int argc, char **argv, int allow_no_special, tok_args *a)
{
    const char *cmd = argv[0];
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], **dst = NULL;
        if (allow_no_special && !strcmp(o, "--no-special")) {
            a->no_special = 1;
            continue;
        }
        if (!strcmp(o, "--model")) dst = &a->model;
        else if (!strcmp(o, "--tokenizer")) dst = &a->tokenizer;
        else if (!strcmp(o, "--input")) dst = &a->input;
        else if (!strcmp(o, "--output")) dst = &a->output;
        if (!dst) {
            fprintf(stderr, "xfwd %s: unknown option '%s' (try xfwd --help)\n", cmd, o);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "xfwd %s: option '%s' needs a value\n", cmd, o);
            return 2;
        }
        *dst = argv[++i];
    }
    if (!a->model == !a->tokenizer) {
        fprintf(stderr, "xfwd %s: give exactly one of --model DIR or --tokenizer FILE\n", cmd);
        return 2;
    }
    if (!a->input || !a->output) {
        fprintf(stderr, "xfwd %s: --input IN.jsonl and --output OUT.jsonl are required\n", cmd);
        return 2;
    }
    return 0;
}

static int open_tokenizer(const tok_args *a, xf_tokenizer **tok)
{
    char path[4096];
    if (a->model) {
        if ((size_t)snprintf(path, sizeof(path), "%s/tokenizer.json", a->model) >= sizeof(path))
            return xf_cli_fail("%s: path too long", a->model);
    } else {
        snprintf(path, sizeof(path), "%s", a->tokenizer);
    }
    if (xf_tokenizer_open(path, tok) != XF_OK) return xf_cli_fail("%s", xf_last_error());
    return 0;
}

/* Writes a JSON string value (UTF-8 kept, control characters escaped). */
static void write_json_string(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        switch (c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        case '\b': fputs("\\b", f); break;
        case '\f': fputs("\\f", f); break;
        default:
            if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
            else fputc(c, f);
        }
    }
    fputc('"', f);
}

typedef int (*line_fn)(xf_tokenizer *tok, const tok_args *a, json_t *v, FILE *out, const char *where);

/* Runs fn on every non-blank line of the input; one error line on failure. */
static int for_each_line(const tok_args *a, line_fn fn)
{
    xf_tokenizer *tok = NULL;
    FILE *in = NULL, *out = NULL;
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int rc = open_tokenizer(a, &tok);
    if (rc) return rc;
    rc = 1;
    if (!(in = fopen(a->input, "rb"))) {
        xf_cli_fail("%s: cannot open: %s", a->input, strerror(errno));
        goto cleanup;
    }
    if (!(out = fopen(a->output, "wb"))) {
        xf_cli_fail("%s: cannot write: %s", a->output, strerror(errno));
        goto cleanup;
    }
    ssize_t got;
    while ((got = getline(&line, &cap, in)) >= 0) {
        lineno++;
        size_t k = (size_t)got;
        while (k > 0 && (line[k - 1] == '\n' || line[k - 1] == '\r' || line[k - 1] == ' ' || line[k - 1] == '\t')) k--;
        if (k == 0) continue;
        char where[4200];
        snprintf(where, sizeof(where), "%s:%ld", a->input, lineno);
        json_error_t je;
        json_t *v = json_loadb(line, k, JSON_ALLOW_NUL, &je);
        if (!v) {
            xf_cli_fail("%s: invalid JSON: %s", where, je.text);
            goto cleanup;
        }
        int bad = fn(tok, a, v, out, where);
        json_decref(v);
        if (bad) goto cleanup;
    }
    if (ferror(in)) {
        xf_cli_fail("%s: read error: %s", a->input, strerror(errno));
        goto cleanup;
    }
    if (fflush(out) != 0 || ferror(out)) {
        xf_cli_fail("%s: write failed: %s", a->output, strerror(errno));
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(line);
    if (in) fclose(in);
    if (out && fclose(out) != 0 && rc == 0) rc = xf_cli_fail("%s: write failed: %s", a->output, strerror(errno));
    if (rc && out) remove(a->output);  /* no half-written output */
    xf_tokenizer_free(tok);
    return rc;
}

static int tokenize_line(xf_tokenizer *tok, const tok_args *a, json_t *v, FILE *out, const char *where)
{
    const json_t *text = json_object_get(v, "text");
    if (!json_is_string(text))
        return xf_cli_fail("%s: expected an object with a \"text\" string", where);
    int32_t *ids = NULL;
    size_t n = 0;
    if (xf_tokenizer_encode(tok, json_string_value(text), json_string_length(text), !a->no_special, &ids,
                            &n) != XF_OK)
        return xf_cli_fail("%s: %s", where, xf_last_error());
    fputs("{\"ids\": [", out);
    for (size_t i = 0; i < n; i++) fprintf(out, i ? ", %d" : "%d", (int)ids[i]);
    fputs("]}\n", out);
    free(ids);
    return 0;
}

static int detokenize_line(xf_tokenizer *tok, const tok_args *a, json_t *v, FILE *out, const char *where)
{
    const json_t *arr = json_is_array(v) ? v : json_object_get(v, "ids");
    if (!arr) arr = json_object_get(v, "tokens");
    if (!json_is_array(arr))
        return xf_cli_fail("%s: expected a JSON array of token ids or an object with \"ids\"", where);
    size_t n = json_array_size(arr);
    int32_t *ids = malloc((n ? n : 1) * sizeof(*ids));
    if (!ids) return xf_cli_fail("%s: out of memory", where);
    for (size_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(arr, i);
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > INT32_MAX) {
            free(ids);
            return xf_cli_fail("%s: token %zu is not a non-negative integer id", where, i);
        }
        ids[i] = (int32_t)json_integer_value(e);
    }
    char *text = NULL;
    size_t len = 0;
    xf_status st = xf_tokenizer_decode(tok, ids, n, &text, &len);
    free(ids);
    if (st != XF_OK) return xf_cli_fail("%s: %s", where, xf_last_error());
    fputs("{\"text\": ", out);
    write_json_string(out, text, len);
    fputs("}\n", out);
    free(text);
    return 0;
}

int xf_cli_tokenize(int argc, char **argv)
{
    tok_args a;
    int rc = parse_args(argc, argv, 1, &a);
    return rc ? rc : for_each_line(&a, tokenize_line);
}

int xf_cli_detokenize(int argc, char **argv)
{
    tok_args a;
    int rc = parse_args(argc, argv, 0, &a);
    return rc ? rc : for_each_line(&a, detokenize_line);
}
