/* test_hub_text.c — text in, on the hub cases with a tiny tokenizer
 * (data/hub-tok/tokenizer.json: byte-level BPE, "yes" = 97, "no" = 98,
 * <|endoftext|> = 101 appended to each text):
 *   test_hub_text HUB_DIR TOKENIZER_JSON
 * Checks xf_tokenizer_token_id and the pair template; xf_tokenize_texts' prompt,
 * pairs, truncation (none / right / left, longest-first for pairs), lower-casing;
 * xf_engine_encode leaving prompt tokens out of pooling (include_prompt false)
 * against pooling done here from the hidden states; xf_engine_rerank's
 * Qwen3-Reranker recipe against the same template built here token by token.
 * Folder variants are made in a temporary directory of symlinks. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

static int failures, checks;
static char work[] = "/tmp/xfwd-hubtext-XXXXXX";

static int same_ids(const int32_t *a, size_t na, const int32_t *b, size_t nb) {
    return na == nb && (na == 0 || !memcmp(a, b, na * sizeof(*a)));
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (f) fputs(text, f), fclose(f);
}

/* A variant of hub case `name` in work/dir: its files linked, tokenizer.json added,
 * then `files` (path, content pairs, NULL-terminated) written over them. */
static const char *variant(const char *hub, const char *name, const char *tok, const char *dir, const char **files) {
    static char path[4096];
    char src[8192], dst[8192];
    const char *links[] = {"config.json", "model.safetensors", "modules.json", "sentence_bert_config.json",
                           "config_sentence_transformers.json", "1_Pooling", "2_Dense", NULL};
    snprintf(path, sizeof path, "%s/%s", work, dir);
    mkdir(path, 0755);
    for (int i = 0; links[i]; i++) {
        snprintf(src, sizeof src, "%s/%s/%s", hub, name, links[i]);
        snprintf(dst, sizeof dst, "%s/%s", path, links[i]);
        if (access(src, F_OK) == 0 && symlink(src, dst) != 0) perror(dst);
    }
    snprintf(dst, sizeof dst, "%s/tokenizer.json", path);
    if (symlink(tok, dst) != 0) perror(dst);
    for (int i = 0; files && files[i]; i += 2) {
        snprintf(dst, sizeof dst, "%s/%s", path, files[i]);
        if (strchr(files[i], '/')) { /* a module folder of its own */
            char d[8192];
            snprintf(d, sizeof d, "%s", dst);
            *strrchr(d, '/') = '\0';
            unlink(d);
            mkdir(d, 0755);
        }
        unlink(dst);
        write_file(dst, files[i + 1]);
    }
    return path;
}

static void check_tokenizer(const xf_tokenizer *t) {
    XT_EXPECT(xf_tokenizer_token_id(t, "yes") == 97, "token_id(yes) = %d", xf_tokenizer_token_id(t, "yes"));
    XT_EXPECT(xf_tokenizer_token_id(t, "<|im_end|>") == 100, "token_id(<|im_end|>)");
    XT_EXPECT(xf_tokenizer_token_id(t, "\xc4\xa0") == 0, "token_id(Ġ): the vocabulary as written");
    XT_EXPECT(xf_tokenizer_token_id(t, "nope") == -1, "token_id(nope) must be -1");
    int32_t *ids = NULL;
    size_t n = 0;
    const int32_t want[] = {97, 101, 98, 101}, bare[] = {97, 98};
    XT_EXPECT(xf_tokenizer_encode_pair(t, "yes", 3, "no", 2, 1, &ids, &n) == XF_OK && same_ids(ids, n, want, 4),
              "pair template: yes eos no eos");
    free(ids);
    XT_EXPECT(xf_tokenizer_encode_pair(t, "yes", 3, "no", 2, 0, &ids, &n) == XF_OK && same_ids(ids, n, bare, 2),
              "pair without special tokens: yes no");
    free(ids);
}

/* Bert / Roberta post-processors: cls A sep B sep / cls A sep sep B sep (cls <|im_start|> = 99,
 * sep <|im_end|> = 100), written into a copy of the tokenizer. */
static void check_bert_pairs(const char *tokpath) {
    const char *kinds[2] = {"BertProcessing", "RobertaProcessing"};
    const int32_t bert[] = {99, 97, 100, 98, 100}, roberta[] = {99, 97, 100, 100, 98, 100}, single[] = {99, 97, 100};
    for (int k = 0; k < 2; k++) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s.json", work, kinds[k]);
        json_t *root = json_load_file(tokpath, 0, NULL);
        json_t *post = json_pack("{s:s, s:[s,i], s:[s,i]}", "type", kinds[k], "sep", "<|im_end|>", 100, "cls",
                                 "<|im_start|>", 99);
        xf_tokenizer *t = NULL;
        int32_t *ids = NULL;
        size_t n = 0;
        int ok = root && post && json_object_set_new(root, "post_processor", post) == 0 &&
                 json_dump_file(root, path, 0) == 0 && xf_tokenizer_open(path, &t) == XF_OK &&
                 xf_tokenizer_encode_pair(t, "yes", 3, "no", 2, 1, &ids, &n) == XF_OK;
        XT_EXPECT(ok && (k ? same_ids(ids, n, roberta, 6) : same_ids(ids, n, bert, 5)), "%s pair template", kinds[k]);
        free(ids), ids = NULL;
        ok = ok && xf_tokenizer_encode(t, "yes", 3, 1, &ids, &n) == XF_OK;
        XT_EXPECT(ok && same_ids(ids, n, single, 3), "%s single template", kinds[k]);
        free(ids);
        xf_tokenizer_free(t);
        json_decref(root);
    }
}

/* tokens of `text` with (1) or without (0) special tokens */
static size_t enc(const xf_tokenizer *t, const char *text, int special, int32_t **ids) {
    size_t n = 0;
    if (xf_tokenizer_encode(t, text, strlen(text), special, ids, &n) != XF_OK) printf("encode: %s\n", xf_last_error());
    return n;
}

static void check_texts(const xf_model *m, const xf_model *lower, const xf_tokenizer *t) {
    xf_text_options o;
    xf_tokens out;
    int32_t *ids = NULL;
    const char *hello[] = {"hello world"}, *yes[] = {"yes"}, *no[] = {"no"};
    xf_text_options_init(&o);
    o.prompt = "query: ";
    size_t np = enc(t, "query: ", 1, &ids);
    free(ids);
    size_t n = enc(t, "query: hello world", 1, &ids);
    XT_EXPECT(xf_tokenize_texts(m, t, hello, NULL, 1, &o, &out) == XF_OK &&
                  same_ids(out.tokens, (size_t)out.n_tokens, ids, n) && out.prompt_lens[0] == (int32_t)np - 1,
              "prompt: tokens of prompt + text, prompt_len = prompt tokens with specials - 1 (%d)", out.prompt_lens[0]);
    xf_tokens_free(&out);
    free(ids);
    xf_text_options_init(&o);
    const int32_t pair[] = {97, 101, 98, 101};
    XT_EXPECT(xf_tokenize_texts(m, t, yes, no, 1, &o, &out) == XF_OK && same_ids(out.tokens, 4, pair, 4),
              "text_pair through the pair template");
    xf_tokens_free(&out);
    /* "hello world" = 11 byte tokens + eos; limit 5 */
    o.max_length = 5;
    XT_EXPECT(xf_tokenize_texts(m, t, hello, NULL, 1, &o, &out) == XF_ERR_INVALID_ARG &&
                  strstr(xf_last_error(), "at most 5"), "too long without truncation: %s", xf_last_error());
    const int32_t right[] = {72, 69, 76, 76, 101};
    o.truncate = XF_TRUNCATE_RIGHT;
    XT_EXPECT(xf_tokenize_texts(m, t, hello, NULL, 1, &o, &out) == XF_OK && same_ids(out.tokens, 5, right, 5),
              "right truncation keeps the first 4 and the eos");
    xf_tokens_free(&out);
    o.truncate = XF_TRUNCATE_LEFT;
    n = enc(t, "hello world", 0, &ids);
    int ok = xf_tokenize_texts(m, t, hello, NULL, 1, &o, &out) == XF_OK && out.n_tokens == 5 &&
             !memcmp(out.tokens, ids + n - 4, 16) && out.tokens[4] == 101;
    XT_EXPECT(ok, "left truncation keeps the last 4 and the eos");
    xf_tokens_free(&out);
    free(ids);
    /* pair, longest first: 11 + 1 tokens into 6 - 2 specials: 3 + 1 */
    o.truncate = XF_TRUNCATE_RIGHT;
    o.max_length = 6;
    const int32_t cut[] = {72, 69, 76, 101, 98, 101};
    XT_EXPECT(xf_tokenize_texts(m, t, hello, no, 1, &o, &out) == XF_OK && same_ids(out.tokens, 6, cut, 6),
              "pair truncated longest first");
    xf_tokens_free(&out);
    /* do_lower_case: "HeLLo World" as "hello world" */
    xf_text_options_init(&o);
    const char *mixed[] = {"HeLLo World"};
    xf_tokens a, b;
    XT_EXPECT(xf_tokenize_texts(lower, t, mixed, NULL, 1, &o, &a) == XF_OK &&
                  xf_tokenize_texts(m, t, hello, NULL, 1, &o, &b) == XF_OK &&
                  same_ids(a.tokens, (size_t)a.n_tokens, b.tokens, (size_t)b.n_tokens),
              "do_lower_case lower-cases the text");
    xf_tokens_free(&a);
    xf_tokens_free(&b);
}

/* include_prompt = false: mean over the tokens after the prompt, then normalised. */
static void check_prompt_pooling(const xf_model *m, const xf_tokenizer *t) {
    xf_engine *e = NULL;
    xf_tokens tk = {0};
    const char *texts[] = {"yes, no and more", "hello"};
    xf_text_options to;
    xf_text_options_init(&to);
    to.prompt = "query: ";
    if (xf_engine_create(m, NULL, &e) != XF_OK || xf_tokenize_texts(m, t, texts, NULL, 2, &to, &tk) != XF_OK) {
        XT_EXPECT(0, "setup: %s", xf_last_error());
        xf_engine_free(e);
        return;
    }
    xf_model_info info;
    xf_model_get_info(m, &info);
    const int H = info.hidden_size;
    float *hidden = malloc(sizeof(float) * (size_t)(tk.n_tokens * H)), got[2 * 64], want[2 * 64], with[2 * 64];
    xf_batch b = {.tokens = tk.tokens, .seq_lens = tk.seq_lens, .n_seqs = tk.n_seqs};
    xf_encode_options eo;
    xf_encode_options_init(&eo);
    eo.prompt_lens = tk.prompt_lens;
    XT_EXPECT(H <= 64 && xf_engine_hidden(e, &b, hidden) == XF_OK && xf_engine_encode(e, &b, &eo, got) == XF_OK &&
                  xf_engine_encode(e, &b, NULL, with) == XF_OK,
              "hidden / encode: %s", xf_last_error());
    for (int s = 0, t0 = 0; s < 2 && H <= 64; t0 += tk.seq_lens[s], s++) {
        double acc[64] = {0}, ss = 0;
        for (int r = tk.prompt_lens[s]; r < tk.seq_lens[s]; r++)
            for (int i = 0; i < H; i++) acc[i] += hidden[(int64_t)(t0 + r) * H + i];
        for (int i = 0; i < H; i++) ss += acc[i] * acc[i];
        for (int i = 0; i < H; i++) want[s * H + i] = (float)(acc[i] / sqrt(ss));
    }
    double err = xt_rel_err(got, want, 2 * H), diff = xt_rel_err(with, want, 2 * H);
    printf("  include_prompt false: encode vs pooling here %.2e; with the prompt pooled %.2e\n", err, diff);
    XT_EXPECT(info.include_prompt == 0 && tk.prompt_lens[0] > 0, "the variant leaves the prompt out");
    XT_EXPECT(err <= 1e-5, "prompt-excluding mean pooling differs: %.3e", err);
    XT_EXPECT(diff > 1e-3, "prompt tokens make no difference: the test shows nothing");
    free(hidden);
    xf_tokens_free(&tk);
    xf_engine_free(e);
}

/* The Qwen3-Reranker recipe, built here: prefix, body (with specials), suffix. */
static void check_rerank(const xf_model *m, const xf_tokenizer *t) {
    xf_engine *e = NULL;
    const char *docs[] = {"yes it is", "no, hello"};
    float scores[2], raw[2], logits[4];
    if (xf_engine_create(m, NULL, &e) != XF_OK) {
        XT_EXPECT(0, "engine: %s", xf_last_error());
        return;
    }
    xf_rerank_options ro;
    xf_rerank_options_init(&ro);
    ro.instruction = "find it";
    XT_EXPECT(xf_engine_rerank(e, t, "what?", docs, 2, &ro, scores) == XF_OK, "rerank: %s", xf_last_error());
    ro.raw_scores = 1;
    XT_EXPECT(xf_engine_rerank(e, t, "what?", docs, 2, &ro, raw) == XF_OK, "rerank raw: %s", xf_last_error());
    static const char prefix[] =
        "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the Instruct "
        "provided. Note that the answer can only be \"yes\" or \"no\".<|im_end|>\n<|im_start|>user\n";
    static const char suffix[] = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n";
    int32_t tokens[1024], lens[2], ids[2] = {97, 98}, *p = NULL;
    int64_t k = 0;
    for (int d = 0; d < 2; d++) {
        char body[256];
        snprintf(body, sizeof body, "<Instruct>: find it\n<Query>: what?\n<Document>: %s", docs[d]);
        const char *parts[3] = {prefix, body, suffix};
        int64_t start = k;
        for (int q = 0; q < 3; q++) {
            size_t n = enc(t, parts[q], q == 1, &p);
            memcpy(tokens + k, p, n * sizeof(int32_t));
            k += (int64_t)n;
            free(p);
        }
        lens[d] = (int32_t)(k - start);
    }
    xf_batch b = {.tokens = tokens, .seq_lens = lens, .n_seqs = 2};
    XT_EXPECT(xf_engine_last_logits(e, &b, ids, 2, logits) == XF_OK, "last_logits: %s", xf_last_error());
    float want[2], want_raw[2];
    for (int d = 0; d < 2; d++) {
        want_raw[d] = logits[2 * d] - logits[2 * d + 1];
        want[d] = (float)(1.0 / (1.0 + exp(-(double)want_raw[d])));
    }
    double err = xt_rel_err(scores, want, 2), err_raw = xt_rel_err(raw, want_raw, 2);
    printf("  rerank P(yes) %.6f %.6f: vs the template built here %.2e (raw %.2e)\n", scores[0], scores[1], err, err_raw);
    XT_EXPECT(err <= 1e-6 && err_raw <= 1e-5, "rerank differs from the recipe: %.3e / %.3e", err, err_raw);
    xf_engine_free(e);
}

int main(int argc, char **argv) {
    if (argc != 3) return fprintf(stderr, "usage: test_hub_text HUB_DIR TOKENIZER_JSON\n"), 2;
    char hub[4096], tokpath[4096];   /* absolute: the variants link to them */
    if (!realpath(argv[1], hub) || !realpath(argv[2], tokpath)) return perror(argv[1]), 1;
    xf_tokenizer *t = NULL;
    xf_model *st = NULL, *lower = NULL, *noprompt = NULL, *rr = NULL, *cls = NULL;
    if (!mkdtemp(work)) return perror("mkdtemp"), 1;
    if (xf_tokenizer_open(tokpath, &t) != XF_OK) return printf("FAIL: %s\n", xf_last_error()), 1;
    const char *lower_files[] = {"sentence_bert_config.json", "{\"max_seq_length\": 512, \"do_lower_case\": true}", NULL};
    const char *noprompt_files[] = {
        "modules.json",
        "[{\"idx\": 0, \"name\": \"0\", \"path\": \"\", \"type\": \"sentence_transformers.models.Transformer\"},"
        " {\"idx\": 1, \"name\": \"1\", \"path\": \"1_Pooling\", \"type\": \"sentence_transformers.models.Pooling\"},"
        " {\"idx\": 2, \"name\": \"2\", \"path\": \"2_Normalize\", \"type\": \"sentence_transformers.models.Normalize\"}]",
        "1_Pooling/config.json",
        "{\"word_embedding_dimension\": 64, \"pooling_mode_mean_tokens\": true, \"include_prompt\": false}", NULL};
    int ok = xf_model_open(variant(hub, "st-mean-dense", tokpath, "st", NULL), &st) == XF_OK &&
             xf_model_open(variant(hub, "st-mean-dense", tokpath, "lower", lower_files), &lower) == XF_OK &&
             xf_model_open(variant(hub, "st-mean-dense", tokpath, "noprompt", noprompt_files), &noprompt) == XF_OK &&
             xf_model_open(variant(hub, "rerank-yesno", tokpath, "rerank", NULL), &rr) == XF_OK &&
             xf_model_open(variant(hub, "cls-pad", tokpath, "cls", NULL), &cls) == XF_OK;
    if (!ok) {
        printf("FAIL: open a variant: %s\n", xf_last_error());
        failures++;
    } else {
        check_tokenizer(t);
        check_bert_pairs(tokpath);
        check_texts(st, lower, t);
        check_prompt_pooling(noprompt, t);
        check_rerank(rr, t);
        /* a cross-encoder needs 1 or 2 labels; cls-pad has 3 */
        xf_engine *e = NULL;
        const char *docs[] = {"yes"};
        float s;
        XT_EXPECT(xf_engine_create(cls, NULL, &e) == XF_OK &&
                      xf_engine_rerank(e, t, "q", docs, 1, NULL, &s) == XF_ERR_UNSUPPORTED &&
                      strstr(xf_last_error(), "3"), "3-label reranker refused: %s", xf_last_error());
        xf_engine_free(e);
    }
    xf_model_free(st), xf_model_free(lower), xf_model_free(noprompt), xf_model_free(rr), xf_model_free(cls);
    xf_tokenizer_free(t);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    if (system(cmd) != 0) printf("warning: %s left behind\n", work);
    printf("%s: %d checks, %d failed\n", failures ? "FAIL" : "PASS", checks, failures);
    return failures ? 1 : 0;
}
