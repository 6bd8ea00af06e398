/* cli_input.c — the forward commands' input, one sequence at a time (cli_input.h),
 * and xf_cli_read_inputs (cli.h): a whole file through the same reader, for
 * rerank --token-ids. Lines come through the bounded line reader (jsonl.h). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "cli_input.h"

int xf_cli_input_open(xf_cli_input *in, const char *path, const xf_model *m, const char *model_dir,
                      const xf_text_options *to, size_t line_limit, char *err, size_t err_size) {
    memset(in, 0, sizeof *in);
    in->model = m;
    in->model_dir = model_dir;
    in->to = *to;
    in->size = -1;
    xf_model_get_info(m, &in->info);
    if (xf_lines_open(&in->lr, path, line_limit, err, err_size)) return -1;
    struct stat sb;
    if (fstat(fileno(in->lr.f), &sb) == 0 && S_ISREG(sb.st_mode)) in->size = (long long)sb.st_size;
    return 0;
}

void xf_cli_input_close(xf_cli_input *in) {
    xf_lines_close(&in->lr);
    xf_tokenizer_free(in->tok);
    free(in->ids);
    free(in->id_json);
    memset(in, 0, sizeof *in);
}

/* Token ids of a JSON array into in->ids [in->n]. 0, or -1 with err. */
static int read_ids(xf_cli_input *in, const json_t *arr, const char *where, char *err, size_t err_size) {
    int64_t n = (int64_t)json_array_size(arr);
    in->ids = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    if (!in->ids) return snprintf(err, err_size, "%s: out of memory", where), -1;
    for (int64_t i = 0; i < n; i++) {
        const json_t *e = json_array_get(arr, (size_t)i);
        if (!json_is_integer(e) || json_integer_value(e) < 0 || json_integer_value(e) > INT32_MAX)
            return snprintf(err, err_size, "%s: token %lld is not a non-negative integer id", where, (long long)i), -1;
        in->ids[i] = (int32_t)json_integer_value(e);
    }
    in->n = n;
    /* --truncate applies to ids as to texts: cut to max_seq_length (no special tokens to keep) */
    const int64_t keep = in->info.max_seq_length;
    if (in->to.truncate != XF_TRUNCATE_NONE && n > keep) {
        if (in->to.truncate == XF_TRUNCATE_LEFT) memmove(in->ids, in->ids + (n - keep), sizeof(int32_t) * (size_t)keep);
        in->n = keep;
    }
    return 0;
}

/* Tokenizes {"text", "text_pair"} into in->ids. 0, or -1 with err. */
static int read_text(xf_cli_input *in, const json_t *text, const json_t *pair, const char *where, char *err,
                     size_t err_size) {
    if (!in->tok) {
        char tp[4200];
        snprintf(tp, sizeof tp, "%s/tokenizer.json", in->model_dir);
        if (xf_tokenizer_open(tp, &in->tok) != XF_OK)
            return snprintf(err, err_size, "%s: text input needs the model's tokenizer: %s", where, xf_last_error()), -1;
    }
    const char *a = json_string_value(text), *b = pair ? json_string_value(pair) : NULL;
    xf_tokens one = {0};
    if (xf_tokenize_texts(in->model, in->tok, &a, b ? &b : NULL, 1, &in->to, &one) != XF_OK)
        return snprintf(err, err_size, "%s: %s", where, xf_last_error()), -1;
    in->ids = one.tokens, in->n = one.n_tokens, in->prompt_len = one.prompt_lens[0];
    one.tokens = NULL;
    xf_tokens_free(&one);
    return 0;
}

/* One parsed line into the sequence fields. 0, or -1 with err. */
static int parse_line(xf_cli_input *in, const char *line, size_t k, const char *where, char *err, size_t err_size) {
    json_error_t je;
    json_t *v = json_loadb(line, k, JSON_DECODE_ANY, &je);
    if (!v) return snprintf(err, err_size, "%s: invalid JSON: %s", where, je.text), -1;
    const json_t *arr = json_is_array(v) ? v : json_object_get(v, "tokens");
    if (!arr) arr = json_object_get(v, "ids");  /* xfwd tokenize's output */
    const json_t *text = json_is_string(v) ? v : json_object_get(v, "text");
    const json_t *pair = json_is_object(v) ? json_object_get(v, "text_pair") : NULL;
    const json_t *id = json_is_object(v) ? json_object_get(v, "id") : NULL;
    int rc;
    if (id) in->id_json = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
    if (json_is_array(arr)) rc = read_ids(in, arr, where, err, err_size);
    else if (json_is_string(text) && (!pair || json_is_string(pair))) rc = read_text(in, text, pair, where, err, err_size);
    else {
        snprintf(err, err_size,
                 "%s: expected a JSON array of token ids, {\"tokens\": [...]}, {\"ids\": [...]}, {\"text\": "
                 "\"...\"} (with an optional \"text_pair\") or a string",
                 where);
        rc = -1;
    }
    json_decref(v);
    if (rc) return -1;
    if (in->n == 0) return snprintf(err, err_size, "%s: empty sequence", where), -1;
    if (in->n > in->info.max_position)
        return snprintf(err, err_size, "%s: %lld tokens; the model allows at most %d (--truncate left|right cuts it)",
                        where, (long long)in->n, in->info.max_position), -1;
    for (int64_t i = 0; i < in->n; i++)
        if (in->ids[i] >= in->info.vocab_size)
            return snprintf(err, err_size, "%s: token %lld has id %d, outside the vocabulary [0, %d)", where,
                            (long long)i, in->ids[i], in->info.vocab_size), -1;
    return 0;
}

int xf_cli_input_next(xf_cli_input *in, char *err, size_t err_size) {
    free(in->ids), in->ids = NULL;
    free(in->id_json), in->id_json = NULL;
    in->n = 0, in->prompt_len = 0;
    char *line;
    size_t k;
    /* an over-long line is one bad line: the next call passes the rest of it and reads on */
    if (in->lr.overlong && xf_lines_skip(&in->lr))
        return snprintf(err, err_size, "%s:%ld: read error", in->lr.path, in->lr.lineno + 1), -2;
    for (;;) {
        int got = xf_lines_next(&in->lr, &line, &k, err, err_size);
        if (in->size >= 0) in->bytes_read = (int64_t)ftello(in->lr.f);
        if (got < 0) {
            in->lineno = in->lr.lineno + 1;
            return in->lr.overlong ? -1 : -2;
        }
        if (got == 0) return 0;
        if (k > 0) break;
    }
    in->lineno = in->lr.lineno;
    char where[4200];
    snprintf(where, sizeof where, "%s:%ld", in->lr.path, in->lineno);
    if (memchr(line, '\0', k)) return snprintf(err, err_size, "%s: contains a NUL byte", where), -1;
    return parse_line(in, line, k, where, err, err_size) ? -1 : 1;
}

/* ---------------------------------------------------------------- whole files */

/* Appends the reader's sequence to s. 0, or -1 (out of memory). */
static int add_seq(xf_tokens *s, int64_t *cap, int32_t *cap_seqs, const xf_cli_input *in) {
    if (s->n_tokens + in->n > *cap) {
        int64_t c = *cap ? *cap * 2 : 4096;
        while (c < s->n_tokens + in->n) c *= 2;
        int32_t *g = realloc(s->tokens, sizeof(int32_t) * (size_t)c);
        if (!g) return -1;
        s->tokens = g, *cap = c;
    }
    if (s->n_seqs + 1 > *cap_seqs) {
        int32_t c = *cap_seqs ? *cap_seqs * 2 : 64;
        int32_t *g1 = realloc(s->seq_lens, sizeof(int32_t) * (size_t)c);
        if (g1) s->seq_lens = g1;
        int32_t *g2 = g1 ? realloc(s->prompt_lens, sizeof(int32_t) * (size_t)c) : NULL;
        if (!g2) return -1;
        s->prompt_lens = g2, *cap_seqs = c;
    }
    memcpy(s->tokens + s->n_tokens, in->ids, sizeof(int32_t) * (size_t)in->n);
    s->n_tokens += in->n;
    s->prompt_lens[s->n_seqs] = in->prompt_len;
    s->seq_lens[s->n_seqs++] = (int32_t)in->n;
    return 0;
}

int xf_cli_read_inputs(const char *path, const xf_model *m, const char *model_dir, const xf_text_options *to,
                       size_t line_limit, xf_tokens *out, char *err, size_t err_size) {
    xf_cli_input in;
    int64_t cap = 0;
    int32_t cap_seqs = 0;
    int got;
    memset(out, 0, sizeof *out);
    if (xf_cli_input_open(&in, path, m, model_dir, to, line_limit, err, err_size)) return -1;
    while ((got = xf_cli_input_next(&in, err, err_size)) > 0)
        if (in.n > INT32_MAX || add_seq(out, &cap, &cap_seqs, &in)) {
            snprintf(err, err_size, "%s:%ld: out of memory", in.lr.path, in.lineno);
            got = -1;
            break;
        }
    if (got == 0 && out->n_seqs == 0) snprintf(err, err_size, "%s: no sequences (the file is empty)", in.lr.path), got = -1;
    xf_cli_input_close(&in);
    if (got < 0) xf_tokens_free(out);
    return got < 0 ? -1 : 0;
}
