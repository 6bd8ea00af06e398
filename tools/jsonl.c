/* jsonl.c — reading the JSONL token input of the forward subcommands. Every
 * line is checked: JSON, the shape of the value, integer ids in int32 range,
 * no empty sequences. Range checks against the model happen in the engine. */
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

int xf_seqs_read(const char *path, const char *model_dir, xf_seqs *out, char *err, size_t err_size) {
    FILE *f = fopen(path, "rb");
    char *line = NULL;
    size_t line_cap = 0;
    int32_t *ids = NULL;
    int64_t cap_t = 0;
    int32_t cap_s = 0;
    xf_tokenizer *tok = NULL;
    int rc = -1;
    long lineno = 0;
    memset(out, 0, sizeof *out);
    if (!f) {
        snprintf(err, err_size, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    ssize_t len;
    while ((len = getline(&line, &line_cap, f)) >= 0) {
        lineno++;
        size_t k = (size_t)len;
        while (k > 0 && (line[k - 1] == '\n' || line[k - 1] == '\r' || line[k - 1] == ' ' || line[k - 1] == '\t')) k--;
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
            if (!ids) ok = 0, snprintf(err, err_size, "out of memory");
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
    if (ferror(f)) {
        snprintf(err, err_size, "%s: read error: %s", path, strerror(errno));
        goto done;
    }
    if (out->n_seqs == 0) {
        snprintf(err, err_size, "%s: no sequences (the file is empty)", path);
        goto done;
    }
    rc = 0;
done:
    if (rc != 0) xf_seqs_free(out);
    xf_tokenizer_free(tok);
    free(ids);
    free(line);
    fclose(f);
    return rc;
}
