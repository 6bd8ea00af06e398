/* jsonl.c — reading the JSONL token input of the forward subcommands. Every
 * line is checked: JSON, the shape of the value, integer ids in int32 range,
 * no empty sequences. Range checks against the model happen in the engine.
 * Lines come through a bounded reader: a line's memory is capped before it is
 * parsed (jansson needs ~24 bytes per byte of an id array), and no failure is
 * ever mistaken for the end of the file. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonl.h"

void xf_seqs_free(xf_seqs *s) {
    free(s->tokens);
    free(s->lens);
    memset(s, 0, sizeof *s);
}

static int push(xf_seqs *s, int64_t *cap_t, int32_t *cap_s, const int32_t *ids, int64_t n) {
    if (s->n_tokens + n > *cap_t) {
        int64_t cap = (*cap_t ? *cap_t * 2 : 1024);
        while (cap < s->n_tokens + n) cap *= 2;
        int32_t *g = realloc(s->tokens, sizeof(int32_t) * (size_t)cap);
        if (!g) return -1;
        s->tokens = g, *cap_t = cap;
    }
    if (s->n_seqs + 1 > *cap_s) {
        int32_t cap = *cap_s ? *cap_s * 2 : 64;
        int32_t *g = realloc(s->lens, sizeof(int32_t) * (size_t)cap);
        if (!g) return -1;
        s->lens = g, *cap_s = cap;
    }
    memcpy(s->tokens + s->n_tokens, ids, sizeof(int32_t) * (size_t)n);
    s->n_tokens += n;
    s->lens[s->n_seqs++] = (int32_t)n;
    return 0;
}

/* ---------------------------------------------------------------- lines */

size_t xf_default_line_limit(int32_t max_pos) {
    size_t n = (size_t)(max_pos > 0 ? max_pos : 1) * 64;
    if (n < ((size_t)1 << 20)) n = (size_t)1 << 20;
    if (n > ((size_t)256 << 20)) n = (size_t)256 << 20;
    return n;
}

int xf_lines_open(xf_line_reader *r, const char *path, size_t max_bytes, char *err, size_t err_size) {
    memset(r, 0, sizeof *r);
    r->path = path;
    r->max_bytes = max_bytes ? max_bytes : ((size_t)1 << 20);
    if (!strcmp(path, "-")) {  /* standard input, named so in messages */
        r->path = "<stdin>";
        r->f = stdin;
        return 0;
    }
    r->f = fopen(path, "rb");
    if (!r->f) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

int xf_lines_next(xf_line_reader *r, char **line, size_t *len, char *err, size_t err_size) {
    size_t n = 0;
    int c = EOF;
    errno = 0;
    for (;;) {
        c = getc_unlocked(r->f);
        if (c == EOF || c == '\n') break;
        if (n >= r->max_bytes) {
            r->overlong = 1;
            snprintf(err, err_size, "%s:%ld: line longer than the limit of %zu bytes (--max-line-bytes)", r->path,
                     r->lineno + 1, r->max_bytes);
            return -1;
        }
        if (n + 1 >= r->cap) {
            size_t cap = r->cap ? r->cap * 2 : 4096;
            if (cap > r->max_bytes + 1) cap = r->max_bytes + 1;
            char *g = realloc(r->buf, cap);
            if (!g) {
                snprintf(err, err_size, "%s:%ld: out of memory reading the line", r->path, r->lineno + 1);
                return -1;
            }
            r->buf = g, r->cap = cap;
        }
        r->buf[n++] = (char)c;
    }
    if (c == EOF && ferror(r->f)) {
        snprintf(err, err_size, "%s:%ld: read error: %s", r->path, r->lineno + 1,
                 strerror(errno ? errno : EIO));
        return -1;
    }
    if (c == EOF && n == 0) return 0;
    r->lineno++;
    while (n > 0 && (r->buf[n - 1] == '\r' || r->buf[n - 1] == ' ' || r->buf[n - 1] == '\t')) n--;
    if (!r->buf) {  /* an empty first line: no buffer yet */
        r->buf = malloc(1);
        if (!r->buf) {
            snprintf(err, err_size, "%s:%ld: out of memory reading the line", r->path, r->lineno);
            return -1;
        }
        r->cap = 1;
    }
    r->buf[n] = '\0';
    *line = r->buf;
    *len = n;
    return 1;
}

int xf_lines_skip(xf_line_reader *r) {
    if (!r->overlong) return -1;
    int c;
    while ((c = getc_unlocked(r->f)) != EOF && c != '\n') {}
    if (c == EOF && ferror(r->f)) return -1;
    r->overlong = 0;
    r->lineno++;
    return 0;
}

void xf_lines_close(xf_line_reader *r) {
    if (r->f && r->f != stdin) fclose(r->f);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

/* ---------------------------------------------------------------- sequences */

int xf_seqs_read(const char *path, const char *model_dir, size_t max_line_bytes, xf_seqs *out, char *err,
                 size_t err_size) {
    xf_line_reader lr;
    char *line = NULL;
    int32_t *ids = NULL;
    int64_t cap_t = 0;
    int32_t cap_s = 0;
    xf_tokenizer *tok = NULL;
    int rc = -1;
    memset(out, 0, sizeof *out);
    if (xf_lines_open(&lr, path, max_line_bytes, err, err_size)) return -1;
    size_t k;
    int got;
    while ((got = xf_lines_next(&lr, &line, &k, err, err_size)) > 0) {
        const long lineno = lr.lineno;
        if (k == 0) continue; /* blank lines separate nothing */
        if (memchr(line, '\0', k)) {
            snprintf(err, err_size, "%s:%ld: contains a NUL byte", path, lineno);
            goto done;
        }
        json_error_t jerr;
        json_t *v = json_loadb(line, k, 0, &jerr);
        if (!v) {
            snprintf(err, err_size, "%s:%ld: invalid JSON: %s", path, lineno, jerr.text);
            goto done;
        }
        json_t *arr = json_is_array(v) ? v : json_object_get(v, "tokens");
        json_t *text = json_is_object(v) ? json_object_get(v, "text") : NULL;
        int64_t n = 0;
        int ok = 1;
        free(ids);
        ids = NULL;
        if (json_is_array(arr)) {
            n = (int64_t)json_array_size(arr);
            ids = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
            if (!ids) ok = 0, snprintf(err, err_size, "%s:%ld: out of memory", path, lineno);
            for (int64_t i = 0; ok && i < n; i++) {
                json_t *e = json_array_get(arr, (size_t)i);
                if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > INT32_MAX) {
                    snprintf(err, err_size, "%s:%ld: token %lld is not a non-negative integer id", path, lineno,
                             (long long)i);
                    ok = 0;
                } else {
                    ids[i] = (int32_t)json_integer_value(e);
                }
            }
        } else if (json_is_string(text)) {
            if (!tok) {
                char tp[4096];
                snprintf(tp, sizeof tp, "%s/tokenizer.json", model_dir ? model_dir : ".");
                if (xf_tokenizer_open(tp, &tok) != XF_OK) {
                    snprintf(err, err_size, "%s:%ld: text input needs the model's tokenizer: %s", path, lineno,
                             xf_last_error());
                    ok = 0;
                }
            }
            size_t nid = 0;
            if (ok && xf_tokenizer_encode(tok, json_string_value(text), json_string_length(text), 1, &ids, &nid) !=
                          XF_OK) {
                snprintf(err, err_size, "%s:%ld: %s", path, lineno, xf_last_error());
                ok = 0;
            }
            n = (int64_t)nid;
        } else {
            snprintf(err, err_size, "%s:%ld: expected a JSON array of token ids or an object with \"tokens\" or \"text\"",
                     path, lineno);
            ok = 0;
        }
        json_decref(v);
        if (!ok) goto done;
        if (n == 0) {
            snprintf(err, err_size, "%s:%ld: empty sequence", path, lineno);
            goto done;
        }
        if (n > INT32_MAX || push(out, &cap_t, &cap_s, ids, n) != 0) {
            snprintf(err, err_size, "%s:%ld: out of memory", path, lineno);
            goto done;
        }
    }
    if (got < 0) goto done;
    if (out->n_seqs == 0) {
        snprintf(err, err_size, "%s: no sequences (the file is empty)", path);
        goto done;
    }
    rc = 0;
done:
    if (rc != 0) xf_seqs_free(out);
    xf_tokenizer_free(tok);
    free(ids);
    xf_lines_close(&lr);
    return rc;
}
