/* cmd_hub.c — the CLI's side of Hub folders (the forward commands' JSONL input,
 * text included, is read by cli_input.c):
 *   - xf_cli_rerank: `xfwd rerank`, a query against documents (the Qwen3-Reranker
 *     recipe or a cross-encoder), or pre-templated token sequences scored as
 *     P(yes) at --token-ids YES,NO.
 * Errors: one line naming the file and line. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "jsonl.h"
#include "npy.h"
#include "outfile.h"

/* ---------------------------------------------------------------- rerank */

/* float32 [n] as a one-dimensional .npy. 0, or -1 (reported by the commit). */
static int put_vector_npy(xf_outfile *f, const float *x, int64_t n) {
    char dict[128];
    int len = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (%lld,), }", (long long)n);
    int pad = (64 - (10 + len + 1) % 64) % 64, hlen = len + pad + 1;
    unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    memset(dict + len, ' ', (size_t)pad);
    dict[len + pad] = '\n';
    if (xf_outfile_write(f, pre, sizeof pre) || xf_outfile_write(f, dict, (size_t)hlen)) return -1;
    return xf_outfile_write(f, x, sizeof(float) * (size_t)n);
}

/* {"index": i, "score": s} per document, in input order. */
static int put_scores_jsonl(xf_outfile *f, const float *scores, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (fprintf(f->f, "{\"index\": %lld, \"score\": %.9g}\n", (long long)i, scores[i]) < 0) return -1;
    return 0;
}

/* --token-ids YES,NO */
static int parse_pair(const char *v, int32_t ids[2]) {
    char *end;
    errno = 0;
    long a = strtol(v, &end, 10);
    if (errno || end == v || *end != ',' || a < 0 || a > INT32_MAX) return -1;
    const char *p = end + 1;
    long b = strtol(p, &end, 10);
    if (errno || end == p || *end || b < 0 || b > INT32_MAX) return -1;
    ids[0] = (int32_t)a, ids[1] = (int32_t)b;
    return 0;
}

/* Documents: one {"text": ...} or JSON string per line. */
static int read_documents(const char *path, size_t limit, char ***docs, int32_t *n, char *err, size_t err_size) {
    xf_line_reader lr;
    char *line;
    size_t k;
    int got, cap = 0;
    *docs = NULL, *n = 0;
    if (xf_lines_open(&lr, path, limit, err, err_size)) return -1;
    while ((got = xf_lines_next(&lr, &line, &k, err, err_size)) > 0) {
        if (k == 0) continue;
        json_error_t je;
        json_t *v = json_loadb(line, k, JSON_DECODE_ANY, &je);
        const json_t *text = json_is_string(v) ? v : json_object_get(v, "text");
        if (!json_is_string(text)) {
            snprintf(err, err_size, "%s:%ld: %s", path, lr.lineno,
                     v ? "expected {\"text\": \"...\"} or a JSON string" : je.text);
            json_decref(v);
            got = -1;
            break;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **g = realloc(*docs, sizeof(char *) * (size_t)cap);
            if (!g) { json_decref(v); snprintf(err, err_size, "%s: out of memory", path); got = -1; break; }
            *docs = g;
        }
        (*docs)[(*n)++] = strdup(json_string_value(text));
        json_decref(v);
        if (!(*docs)[*n - 1]) { snprintf(err, err_size, "%s: out of memory", path); got = -1; break; }
    }
    xf_lines_close(&lr);
    if (got == 0 && *n == 0) snprintf(err, err_size, "%s: no documents (the file is empty)", path), got = -1;
    return got < 0 ? -1 : 0;
}

int xf_cli_rerank(int argc, char **argv) {
    cli_opts o;
    int rc = xf_cli_parse(argc, argv,
                          "model query documents input token-ids output backend dtype max-tokens threads cache-dir "
                          "instruction prefix suffix yes-token no-token raw-scores truncate max-line-bytes",
                          &o);
    if (rc) return rc;
    int32_t pair_ids[2] = {-1, -1};
    if (!o.model || !o.output || (!o.query == !o.token_ids) || (o.query && !o.documents) || (o.token_ids && !o.input))
        return fprintf(stderr, "xfwd rerank: --model DIR --output OUT and either --query Q --documents IN.jsonl or "
                               "--input IN.jsonl --token-ids YES,NO are required\n"), 2;
    if (o.token_ids && parse_pair(o.token_ids, pair_ids))
        return fprintf(stderr, "xfwd rerank: --token-ids expects two ids YES,NO, got '%s'\n", o.token_ids), 2;
    size_t n_out = strlen(o.output);
    const int as_npy = n_out >= 4 && !strcmp(o.output + n_out - 4, ".npy");
    xf_model *m = NULL;
    xf_engine *e = NULL;
    xf_tokenizer *tok = NULL;
    xf_tokens seqs = {0};
    char **docs = NULL;
    int32_t n_docs = 0;
    float *scores = NULL, *logits = NULL;
    char err[4400];
    xf_outfile f;
    if (xf_outfile_open(&f, o.output, err, sizeof err)) return xf_cli_fail("%s", err);
    rc = 1;
    if (xf_model_open(o.model, &m) != XF_OK) { xf_cli_fail("%s", xf_last_error()); goto done; }
    xf_model_info info;
    xf_model_get_info(m, &info);
    size_t limit = o.max_line_bytes ? (size_t)o.max_line_bytes : xf_default_line_limit(info.max_position);
    if (o.token_ids) {
        xf_text_options to;
        xf_text_options_init(&to);
        to.truncate = o.truncate;
        if (xf_cli_read_inputs(o.input, m, o.model, &to, limit, &seqs, err, sizeof err)) { xf_cli_fail("%s", err); goto done; }
        n_docs = seqs.n_seqs;
    } else {
        char tp[4200];
        snprintf(tp, sizeof tp, "%s/tokenizer.json", o.model);
        if (xf_tokenizer_open(tp, &tok) != XF_OK) { xf_cli_fail("%s", xf_last_error()); goto done; }
        if (read_documents(o.documents, limit, &docs, &n_docs, err, sizeof err)) { xf_cli_fail("%s", err); goto done; }
    }
    if (xf_cli_engine(m, &o, NULL, &e) != 0) goto done;
    scores = malloc(sizeof(float) * (size_t)n_docs);
    logits = malloc(sizeof(float) * 2 * (size_t)n_docs);
    if (!scores || !logits) { xf_cli_fail("out of memory"); goto done; }
    if (o.token_ids) {
        xf_batch b = {.tokens = seqs.tokens, .seq_lens = seqs.seq_lens, .n_seqs = seqs.n_seqs};
        if (xf_engine_last_logits(e, &b, pair_ids, 2, logits) != XF_OK) {
            xf_cli_fail("%s: %s", o.input, xf_last_error());
            goto done;
        }
        for (int32_t i = 0; i < n_docs; i++) {
            double z = (double)logits[2 * i] - logits[2 * i + 1];
            scores[i] = (float)(o.raw_scores ? z : 1.0 / (1.0 + exp(-z)));
        }
    } else {
        xf_rerank_options ro;
        xf_rerank_options_init(&ro);
        ro.instruction = o.instruction, ro.prefix = o.prefix, ro.suffix = o.suffix;
        ro.yes_token = o.yes_token, ro.no_token = o.no_token;
        ro.raw_scores = o.raw_scores, ro.truncate = o.truncate;
        if (xf_engine_rerank(e, tok, o.query, (const char *const *)docs, n_docs, &ro, scores) != XF_OK) {
            xf_cli_fail("%s: %s", o.documents, xf_last_error());
            goto done;
        }
    }
    if (as_npy) put_vector_npy(&f, scores, n_docs);
    else put_scores_jsonl(&f, scores, n_docs);
    if (xf_outfile_commit(&f, err, sizeof err)) { xf_cli_fail("%s", err); goto done; }
    rc = 0;
done:
    xf_outfile_abort(&f);
    for (int32_t i = 0; docs && i < n_docs; i++) free(docs[i]);
    free(docs);
    free(scores);
    free(logits);
    xf_tokens_free(&seqs);
    xf_tokenizer_free(tok);
    xf_engine_free(e);
    xf_model_free(m);
    return rc;
}
