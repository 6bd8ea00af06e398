/* cmd_tokenize.c — the `xfwd tokenize` and `xfwd detokenize` subcommands: JSONL text
 * to token ids and back, with a model folder's tokenizer.json or a given file.
 *   tokenize:   {"text": "..."} per line  →  {"ids": [...]} per line
 *   detokenize: {"ids": [...]} or [...]  →  {"text": "..."} per line
 * Blank input lines are skipped. Errors: one line on stderr naming the file and line.
 * Lines are read through the bounded line reader (jsonl.h, --max-line-bytes); the
 * output is built with jansson and written whole or not at all (outfile.h).
 * Options take --key value or --key=value; "-" is standard input / output. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonl.h"
#include "outfile.h"
#include "xfwd.h"

typedef struct tok_args {
    const char *model, *tokenizer, *input, *output;
    int no_special;
    size_t max_line_bytes;
} tok_args;

static int parse_args(int argc, char **argv, int allow_no_special, tok_args *a)
{
    const char *cmd = argv[0];
    memset(a, 0, sizeof(*a));
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i], **dst = NULL;
        /* --key=value or --key value */
        const char *eq = strncmp(o, "--", 2) == 0 ? strchr(o, '=') : NULL;
        char name[32];
        size_t len = eq ? (size_t)(eq - o) : strlen(o);
        if (len >= sizeof(name)) len = sizeof(name) - 1;
        memcpy(name, o, len);
        name[len] = '\0';
        if (allow_no_special && !strcmp(name, "--no-special") && !eq) {
            a->no_special = 1;
            continue;
        }
        if (!strcmp(name, "--model")) dst = &a->model;
        else if (!strcmp(name, "--tokenizer")) dst = &a->tokenizer;
        else if (!strcmp(name, "--input")) dst = &a->input;
        else if (!strcmp(name, "--output")) dst = &a->output;
        else if (strcmp(name, "--max-line-bytes") != 0) {
            fprintf(stderr, "xfwd %s: unknown option '%s' (try xfwd %s --help)\n", cmd, o, cmd);
            return 2;
        }
        if (!eq && i + 1 >= argc) {
            fprintf(stderr, "xfwd %s: option '%s' needs a value\n", cmd, o);
            return 2;
        }
        const char *v = eq ? eq + 1 : argv[++i];
        if (dst) {
            *dst = v;
            continue;
        }
        char *end;
        errno = 0;
        unsigned long long n = strtoull(v, &end, 10);
        if (errno || *end || end == v || n < 1 || v[0] == '-') {
            fprintf(stderr, "xfwd %s: --max-line-bytes expects a positive integer, got '%s'\n", cmd, v);
            return 2;
        }
        a->max_line_bytes = (size_t)n;
    }
    if (!a->model == !a->tokenizer) {
        fprintf(stderr, "xfwd %s: give exactly one of --model DIR or --tokenizer FILE\n", cmd);
        return 2;
    }
    if (!a->max_line_bytes) a->max_line_bytes = XF_TOKENIZE_LINE_LIMIT;
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

/* Appends one value as a JSON line; the value is released. 0, or an error line. */
static int put_line(json_t *v, FILE *out, const char *where)
{
    if (!v) return xf_cli_fail("%s: out of memory (or the text is not valid UTF-8)", where);
    int bad = json_dumpf(v, out, 0) != 0 || fputc('\n', out) == EOF;
    json_decref(v);
    return bad ? 1 : 0;  /* a write failure is reported with its cause by the commit */
}

typedef int (*line_fn)(xf_tokenizer *tok, const tok_args *a, json_t *v, FILE *out, const char *where);

/* Runs fn on every non-blank line of the input; one error line on failure, and
 * then the output is left as it was. */
static int for_each_line(const tok_args *a, line_fn fn)
{
    xf_tokenizer *tok = NULL;
    xf_line_reader in;
    xf_outfile out;
    char err[4400], *line;
    size_t k;
    int got;
    int rc = open_tokenizer(a, &tok);
    if (rc) return rc;
    if (xf_lines_open(&in, a->input, a->max_line_bytes, err, sizeof err)) {
        xf_tokenizer_free(tok);
        return xf_cli_fail("%s", err);
    }
    if (xf_outfile_open(&out, a->output, err, sizeof err)) {
        xf_lines_close(&in);
        xf_tokenizer_free(tok);
        return xf_cli_fail("%s", err);
    }
    rc = 1;
    while ((got = xf_lines_next(&in, &line, &k, err, sizeof err)) > 0) {
        if (k == 0) continue;
        char where[4200];
        snprintf(where, sizeof(where), "%s:%ld", a->input, in.lineno);
        json_error_t je;
        json_t *v = json_loadb(line, k, JSON_ALLOW_NUL, &je);
        if (!v) {
            xf_cli_fail("%s: invalid JSON: %s", where, je.text);
            goto cleanup;
        }
        int bad = fn(tok, a, v, out.f, where);
        json_decref(v);
        if (bad) goto cleanup;
    }
    if (got < 0) {
        xf_cli_fail("%s", err);
        goto cleanup;
    }
    if (xf_outfile_commit(&out, err, sizeof err)) {
        xf_cli_fail("%s", err);
        goto cleanup;
    }
    rc = 0;
cleanup:
    xf_outfile_abort(&out);  /* nothing left to do after a commit; else the old output stays */
    xf_lines_close(&in);
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
    json_t *arr = json_array(), *obj = json_object();
    int ok = arr && obj;
    for (size_t i = 0; ok && i < n; i++) ok = json_array_append_new(arr, json_integer(ids[i])) == 0;
    free(ids);
    if (ok && json_object_set_new(obj, "ids", arr) == 0) return put_line(obj, out, where);
    if (!ok) json_decref(arr);
    json_decref(obj);
    return put_line(NULL, out, where);
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
    json_t *obj = json_object(), *str = json_stringn(text, len);
    free(text);
    if (!obj || !str || json_object_set_new(obj, "text", str) != 0) {
        if (!obj) json_decref(str);
        json_decref(obj);
        return put_line(NULL, out, where);
    }
    return put_line(obj, out, where);
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
