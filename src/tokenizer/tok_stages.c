/* tok_stages.c — reads the pipeline stages of tokenizer.json (normalizer,
 * pre_tokenizer, post_processor, decoder) into the tokenizer, and compiles split
 * regexes with PCRE2. Anything outside what xfwd implements is refused with
 * XF_ERR_UNSUPPORTED naming the stage, rather than silently tokenizing differently. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer.h"

/* The GPT-2 split regex of a ByteLevel pre-tokenizer with use_regex. */
static const char gpt2_regex[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/* Oniguruma's (and Rust's) \s: White_Space. PCRE2's UCP \s also takes U+180E, so \s and
 * \S are spelled out before compiling. */
#define WS_ITEMS "\\t-\\r\\x20\\x{85}\\p{Z}"

static xf_status no_memory(void)
{
    return xf_error(XF_ERR_NO_MEMORY, "tokenizer: out of host memory");
}

/* Appends class items: "[" items "]" outside a class (negated when asked). */
static xf_status append_class(tok_buf *out, int in_class, int negate, const char *a, const char *b)
{
    xf_status st = XF_OK;
    if (!in_class) st = tok_buf_append(out, negate ? "[^" : "[", negate ? 2 : 1);
    if (st == XF_OK) st = tok_buf_append(out, a, strlen(a));
    if (st == XF_OK) st = tok_buf_append(out, b, strlen(b));
    if (st == XF_OK && !in_class) st = tok_buf_append(out, "]", 1);
    return st;
}

/* Length of a \p{L} / \pL (letter) or \p{N} / \pN (number) escape at p, else 0. */
static size_t property_escape(const char *p, size_t n, char *which)
{
    if (n >= 5 && p[2] == '{' && (p[3] == 'L' || p[3] == 'N') && p[4] == '}') {
        *which = p[3];
        return 5;
    }
    if (n >= 3 && (p[2] == 'L' || p[2] == 'N')) {
        *which = p[2];
        return 3;
    }
    return 0;
}

/* Rewrites an Oniguruma pattern for PCRE2: \s (everywhere) and \S (outside classes)
 * as White_Space; \p{L} and \p{N} (and \P outside classes) with the letters and numbers
 * of newer Unicode versions (tok_unicode.c). */
static char *rewrite_regex(const char *p, size_t n, size_t *out_len)
{
    tok_buf out = {0};
    int in_class = 0;
    size_t i = 0;
    xf_status st = tok_buf_reserve(&out, n + 1);
    while (st == XF_OK && i < n) {
        char ch = p[i], which;
        size_t len;
        if (ch == '\\' && i + 1 < n) {
            char nx = p[i + 1];
            if (nx == 's') {
                st = append_class(&out, in_class, 0, WS_ITEMS, "");
            } else if (nx == 'S' && !in_class) {
                st = append_class(&out, 0, 1, WS_ITEMS, "");
            } else if ((nx == 'p' || (nx == 'P' && !in_class)) &&
                       (len = property_escape(p + i, n - i, &which)) != 0) {
                st = append_class(&out, in_class, nx == 'P', which == 'L' ? "\\p{L}" : "\\p{N}",
                                  which == 'L' ? tok_re_extra_letters : tok_re_extra_numbers);
                i += len;
                continue;
            } else {
                st = tok_buf_append(&out, p + i, 2);
            }
            i += 2;
            continue;
        }
        if (ch == '[' && !in_class) {
            in_class = 1;
            size_t j = i + 1;
            if (j < n && p[j] == '^') j++;
            if (j < n && p[j] == ']') j++;  /* a ']' first in a class is literal */
            st = tok_buf_append(&out, p + i, j - i);
            i = j;
            continue;
        }
        if (ch == '[' && in_class && i + 1 < n && p[i + 1] == ':') {  /* [:alpha:] */
            size_t j = i + 2;
            while (j + 1 < n && !(p[j] == ':' && p[j + 1] == ']')) j++;
            j = j + 1 < n ? j + 2 : n;
            st = tok_buf_append(&out, p + i, j - i);
            i = j;
            continue;
        }
        if (ch == ']' && in_class) in_class = 0;
        st = tok_buf_append(&out, &ch, 1);
        i++;
    }
    if (st == XF_OK) st = tok_buf_append(&out, "", 0);  /* NUL-terminated, even when empty */
    if (st != XF_OK) {
        tok_buf_free(&out);
        return NULL;
    }
    *out_len = out.n;
    return out.p;
}

xf_status tok_regex_compile(const xf_tokenizer *t, const char *pattern, size_t len, int literal,
                            pcre2_code **out)
{
    char *rewritten = NULL;
    if (!literal) {
        rewritten = rewrite_regex(pattern, len, &len);
        if (!rewritten) return no_memory();
        pattern = rewritten;
    }
    int err;
    PCRE2_SIZE err_off;
    /* UCP is refused with LITERAL. \C (one code unit) could end a match inside a UTF-8
     * character, and every later step assumes whole characters: refused. */
    uint32_t options = PCRE2_UTF | (literal ? PCRE2_LITERAL : PCRE2_UCP | PCRE2_NEVER_BACKSLASH_C);
    *out = pcre2_compile((PCRE2_SPTR)pattern, len, options, &err, &err_off, NULL);
    free(rewritten);
    if (!*out) {
        PCRE2_UCHAR msg[160];
        pcre2_get_error_message(err, msg, sizeof(msg));
        return xf_error(XF_ERR_UNSUPPORTED, "tokenizer %s: split regex does not compile: %s",
                        t->path, (const char *)msg);
    }
    pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE);  /* the interpreter is the fallback */
    return XF_OK;
}

/* ---------------------------------------------------------------- JSON helpers */

static const char *type_of(const json_t *o)
{
    const char *s = json_string_value(json_object_get(o, "type"));
    return s ? s : "";
}

static int get_bool(const json_t *o, const char *key, int def)
{
    const json_t *v = json_object_get(o, key);
    return json_is_boolean(v) ? json_is_true(v) : def;
}

/* A malloc'ed copy of a JSON string (with its length), or NULL if not a string. */
static char *dup_string(const json_t *v, size_t *len)
{
    if (!json_is_string(v)) return NULL;
    size_t n = json_string_length(v);
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, json_string_value(v), n);
        s[n] = 0;
        *len = n;
    }
    return s;
}

/* {"String": s} or {"Regex": r}: returns the JSON string and sets *is_regex. */
static const json_t *pattern_of(const json_t *o, int *is_regex)
{
    const json_t *pat = json_object_get(o, "pattern");
    const json_t *s = json_object_get(pat, "String");
    *is_regex = 0;
    if (json_is_string(s)) return s;
    *is_regex = 1;
    s = json_object_get(pat, "Regex");
    return json_is_string(s) ? s : NULL;
}

#define STAGE_FAIL(s, ...) return xf_error((s), __VA_ARGS__)

/* A stage of one kind: fills the next slot of its chain from a (non-Sequence) object. */
typedef xf_status (*stage_fn)(xf_tokenizer *t, const json_t *o);

/* Loads a stage object (absent or null: none); a Sequence is flattened into its items,
 * listed under `list_key`. */
static xf_status load_stage(xf_tokenizer *t, const json_t *o, const char *what, const char *list_key,
                            stage_fn one)
{
    if (!o || json_is_null(o)) return XF_OK;
    if (!json_is_object(o)) return xf_error(XF_ERR_FORMAT, "tokenizer %s: %s is not an object", t->path, what);
    if (strcmp(type_of(o), "Sequence") != 0) return one(t, o);
    const json_t *list = json_object_get(o, list_key);
    if (!json_is_array(list))
        return xf_error(XF_ERR_FORMAT, "tokenizer %s: Sequence %s without \"%s\"", t->path, what, list_key);
    for (size_t i = 0; i < json_array_size(list); i++) {
        xf_status st = load_stage(t, json_array_get(list, i), what, list_key, one);
        if (st != XF_OK) return st;
    }
    return XF_OK;
}

/* ---------------------------------------------------------------- normalizer */

/* One normalizer. */
static xf_status load_normalizer(xf_tokenizer *t, const json_t *o)
{
    const char *type = type_of(o);
    if (t->n_norm == TOK_MAX_STEPS)
        STAGE_FAIL(XF_ERR_UNSUPPORTED, "tokenizer %s: more than %d normalizers", t->path, TOK_MAX_STEPS);
    tok_normalizer *nz = &t->norm[t->n_norm];
    memset(nz, 0, sizeof(*nz));
    if (!strcmp(type, "NFC")) nz->kind = TOK_NORM_NFC;
    else if (!strcmp(type, "NFD")) nz->kind = TOK_NORM_NFD;
    else if (!strcmp(type, "NFKC")) nz->kind = TOK_NORM_NFKC;
    else if (!strcmp(type, "NFKD")) nz->kind = TOK_NORM_NFKD;
    else if (!strcmp(type, "Prepend")) {
        nz->kind = TOK_NORM_PREPEND;
        nz->content = dup_string(json_object_get(o, "prepend"), &nz->content_len);
        if (!nz->content)
            STAGE_FAIL(XF_ERR_FORMAT, "tokenizer %s: Prepend normalizer without \"prepend\" string", t->path);
    } else if (!strcmp(type, "Replace")) {
        int is_regex;
        const json_t *pat = pattern_of(o, &is_regex);
        if (!pat) STAGE_FAIL(XF_ERR_FORMAT, "tokenizer %s: Replace normalizer without a pattern", t->path);
        if (is_regex)
            STAGE_FAIL(XF_ERR_UNSUPPORTED, "tokenizer %s: Replace normalizer with a Regex pattern is not supported",
                       t->path);
        nz->kind = TOK_NORM_REPLACE;
        nz->pattern = dup_string(pat, &nz->pattern_len);
        nz->content = dup_string(json_object_get(o, "content"), &nz->content_len);
        if (!nz->pattern || !nz->content) {
            free(nz->pattern);
            free(nz->content);
            STAGE_FAIL(XF_ERR_FORMAT, "tokenizer %s: Replace normalizer needs string pattern and content", t->path);
        }
    } else {
        STAGE_FAIL(XF_ERR_UNSUPPORTED, "tokenizer %s: normalizer type \"%s\" is not supported", t->path, type);
    }
    t->n_norm++;
    return XF_OK;
}

/* ---------------------------------------------------------------- pre-tokenizer */

/* One pre-tokenizer; ByteLevel must come last (it decides the vocabulary's keys). */
static xf_status load_pretok(xf_tokenizer *t, const json_t *o)
{
    const char *type = type_of(o);
    if (t->byte_level)
        STAGE_FAIL(XF_ERR_UNSUPPORTED, "tokenizer %s: a pre_tokenizer after ByteLevel is not supported", t->path);
    if (t->n_pre == TOK_MAX_STEPS)
        STAGE_FAIL(XF_ERR_UNSUPPORTED, "tokenizer %s: more than %d pre_tokenizers", t->path, TOK_MAX_STEPS);
    tok_pretok *p = &t->pre[t->n_pre];
    memset(p, 0, sizeof(*p));
    if (!strcmp(type, "Split")) {
        static const char *const behaviors[] = {"Isolated", "Removed", "MergedWithPrevious",
                                                "MergedWithNext", "Contiguous"};
        int is_regex, found = 0;
        const json_t *pat = pattern_of(o, &is_regex);
        const char *behavior = json_string_value(json_object_get(o, "behavior"));
        if (!pat) STAGE_FAIL(XF_ERR_FORMAT, "tokenizer %s: Split pre_tokenizer without a pattern", t->path);
        for (int b = 0; behavior && b < 5; b++)
            if (!strcmp(behavior, behaviors[b])) p->behavior = (tok_split_behavior)b, found = 1;
        if (!found)
            STAGE_FAIL(XF_ERR_FORMAT, "tokenizer %s: Split pre_tokenizer with unknown behavior \"%s\"",
                       t->path, behavior ? behavior : "(none)");
        p->kind = TOK_PRE_SPLIT;
        p->invert = get_bool(o, "invert", 0);
        xf_status st = tok_regex_compile(t, json_string_value(pat), json_string_length(pat), !is_regex, &p->re);
        if (st != XF_OK) return st;
    } else if (!strcmp(type, "ByteLevel")) {
        p->kind = TOK_PRE_BYTELEVEL;
        p->add_prefix_space = get_bool(o, "add_prefix_space", 1);
        if (get_bool(o, "use_regex", 1)) {
            xf_status st = tok_regex_compile(t, gpt2_regex, strlen(gpt2_regex), 0, &p->re);
            if (st != XF_OK) return st;
        }
        t->byte_level = 1;
    } else {
        STAGE_FAIL(XF_ERR_UNSUPPORTED, "tokenizer %s: pre_tokenizer type \"%s\" is not supported", t->path, type);
    }
    t->n_pre++;
    return XF_OK;
}

/* ---------------------------------------------------------------- post-processor */

static xf_status add_item_to(tok_post_item **list, size_t *count, const int32_t *ids, size_t n)
{
    tok_post_item *items = realloc(*list, (*count + 1) * sizeof(*items));
    if (!items) return no_memory();
    *list = items;
    tok_post_item *it = &items[(*count)++];
    it->ids = NULL;
    it->n_ids = n;
    if (ids) {
        it->ids = malloc((n ? n : 1) * sizeof(int32_t));
        if (!it->ids) return no_memory();
        memcpy(it->ids, ids, n * sizeof(int32_t));
    }
    return XF_OK;
}

static xf_status add_item(xf_tokenizer *t, tok_post *p, const int32_t *ids, size_t n)
{
    (void)t;
    return add_item_to(&p->items, &p->n_items, ids, n);
}

/* Reads template `key` ("single" or "pair") of a TemplateProcessing into list. */
static xf_status load_template_items(xf_tokenizer *t, const json_t *o, const char *key, tok_post_item **list,
                                     size_t *count)
{
    const json_t *single = json_object_get(o, key);
    const json_t *specials = json_object_get(o, "special_tokens");
    const int pair = !strcmp(key, "pair");
    if (!json_is_array(single))
        STAGE_FAIL(XF_ERR_FORMAT, "tokenizer %s: TemplateProcessing without a \"%s\" template", t->path, key);
    for (size_t i = 0; i < json_array_size(single); i++) {
        const json_t *item = json_array_get(single, i);
        const json_t *seq = json_object_get(item, "Sequence");
        const json_t *spec = json_object_get(item, "SpecialToken");
        xf_status st;
        if (seq) {
            const char *id = json_string_value(json_object_get(seq, "id"));
            if (!id || (strcmp(id, "A") != 0 && (!pair || strcmp(id, "B") != 0)))
                STAGE_FAIL(XF_ERR_FORMAT, "tokenizer %s: %s template uses sequence \"%s\"", t->path, key,
                           id ? id : "?");
            st = add_item_to(list, count, NULL, !strcmp(id, "B"));
        } else if (spec) {
            const char *name = json_string_value(json_object_get(spec, "id"));
            const json_t *def = name ? json_object_get(specials, name) : NULL;
            const json_t *ids = json_object_get(def, "ids");
            if (!json_is_array(ids))
                STAGE_FAIL(XF_ERR_FORMAT, "tokenizer %s: template special token \"%s\" has no ids", t->path,
                           name ? name : "?");
            size_t n = json_array_size(ids);
            int32_t *buf = malloc((n ? n : 1) * sizeof(*buf));
            if (!buf) return no_memory();
            for (size_t k = 0; k < n; k++) {
                json_int_t v = json_integer_value(json_array_get(ids, k));
                if (!json_is_integer(json_array_get(ids, k)) || v < 0 || v >= t->n_ids) {
                    free(buf);
                    STAGE_FAIL(XF_ERR_FORMAT,
                               "tokenizer %s: template special token \"%s\" has an id outside the vocabulary",
                               t->path, name);
                }
                buf[k] = (int32_t)v;
            }
            st = add_item_to(list, count, buf, n);
            free(buf);
        } else {
            STAGE_FAIL(XF_ERR_FORMAT, "tokenizer %s: template item %zu is neither Sequence nor SpecialToken",
                       t->path, i);
        }
        if (st != XF_OK) return st;
    }
    return XF_OK;
}

static xf_status load_template(xf_tokenizer *t, tok_post *p, const json_t *o)
{
    xf_status st = load_template_items(t, o, "single", &p->items, &p->n_items);
    if (st == XF_OK && json_object_get(o, "pair")) st = load_template_items(t, o, "pair", &p->pair, &p->n_pair);
    return st;
}

/* BertProcessing / RobertaProcessing: "cls" and "sep" as [token, id]. */
static xf_status load_bert(xf_tokenizer *t, tok_post *p, const json_t *o, int roberta)
{
    const json_t *cls = json_array_get(json_object_get(o, "cls"), 1);
    const json_t *sep = json_array_get(json_object_get(o, "sep"), 1);
    json_int_t c = json_integer_value(cls), s = json_integer_value(sep);
    if (!json_is_integer(cls) || !json_is_integer(sep) || c < 0 || s < 0 || c >= t->n_ids || s >= t->n_ids)
        STAGE_FAIL(XF_ERR_FORMAT, "tokenizer %s: post_processor cls/sep are not [token, id] in the vocabulary",
                   t->path);
    int32_t ci = (int32_t)c, si = (int32_t)s;
    xf_status st = add_item(t, p, &ci, 1);
    if (st == XF_OK) st = add_item(t, p, NULL, 0);
    if (st == XF_OK) st = add_item(t, p, &si, 1);
    /* pairs: cls A sep B sep (Bert), cls A sep sep B sep (Roberta) */
    const int32_t pair_ids[6] = {ci, -1, si, si, -2, si};
    for (int k = 0; k < 6 && st == XF_OK; k++) {
        if (k == 3 && !roberta) continue;
        st = add_item_to(&p->pair, &p->n_pair, pair_ids[k] >= 0 ? &pair_ids[k] : NULL,
                         pair_ids[k] >= 0 ? 1 : pair_ids[k] == -2);
    }
    return st;
}

/* One post-processor. */
static xf_status load_post(xf_tokenizer *t, const json_t *o)
{
    const char *type = type_of(o);
    if (t->n_post == TOK_MAX_STEPS)
        STAGE_FAIL(XF_ERR_UNSUPPORTED, "tokenizer %s: more than %d post_processors", t->path, TOK_MAX_STEPS);
    tok_post *p = &t->post[t->n_post++];
    memset(p, 0, sizeof(*p));
    if (!strcmp(type, "ByteLevel")) {
        p->kind = TOK_POST_BYTELEVEL;
        return XF_OK;
    }
    if (!strcmp(type, "TemplateProcessing")) {
        p->kind = TOK_POST_TEMPLATE;
        return load_template(t, p, o);
    }
    if (!strcmp(type, "BertProcessing") || !strcmp(type, "RobertaProcessing")) {
        p->kind = TOK_POST_BERT;
        return load_bert(t, p, o, !strcmp(type, "RobertaProcessing"));
    }
    t->n_post--;
    STAGE_FAIL(XF_ERR_UNSUPPORTED, "tokenizer %s: post_processor type \"%s\" is not supported", t->path, type);
}

/* ---------------------------------------------------------------- decoder */

/* One decoder. */
static xf_status load_decoder(xf_tokenizer *t, const json_t *o)
{
    const char *type = type_of(o);
    if (t->n_dec == TOK_MAX_STEPS)
        STAGE_FAIL(XF_ERR_UNSUPPORTED, "tokenizer %s: more than %d decoders", t->path, TOK_MAX_STEPS);
    tok_decoder *d = &t->dec[t->n_dec];
    memset(d, 0, sizeof(*d));
    if (!strcmp(type, "ByteLevel")) {
        d->kind = TOK_DEC_BYTELEVEL;
    } else if (!strcmp(type, "ByteFallback")) {
        d->kind = TOK_DEC_BYTEFALLBACK;
    } else if (!strcmp(type, "Fuse")) {
        d->kind = TOK_DEC_FUSE;
    } else if (!strcmp(type, "Replace")) {
        int is_regex;
        const json_t *pat = pattern_of(o, &is_regex);
        if (!pat || is_regex)
            STAGE_FAIL(pat ? XF_ERR_UNSUPPORTED : XF_ERR_FORMAT,
                       "tokenizer %s: Replace decoder needs a String pattern", t->path);
        d->kind = TOK_DEC_REPLACE;
        d->pattern = dup_string(pat, &d->pattern_len);
        d->content = dup_string(json_object_get(o, "content"), &d->content_len);
        if (!d->pattern || !d->content) {
            free(d->pattern);
            free(d->content);
            STAGE_FAIL(XF_ERR_FORMAT, "tokenizer %s: Replace decoder needs string pattern and content", t->path);
        }
    } else if (!strcmp(type, "Strip")) {
        const json_t *start = json_object_get(o, "start"), *stop = json_object_get(o, "stop");
        d->kind = TOK_DEC_STRIP;
        d->content = dup_string(json_object_get(o, "content"), &d->content_len);
        if (!d->content || !json_is_integer(start) || !json_is_integer(stop) ||
            json_integer_value(start) < 0 || json_integer_value(stop) < 0 ||
            json_integer_value(start) > 1000000 || json_integer_value(stop) > 1000000) {
            free(d->content);
            STAGE_FAIL(XF_ERR_FORMAT, "tokenizer %s: Strip decoder needs content, start and stop", t->path);
        }
        d->strip_start = (int)json_integer_value(start);
        d->strip_stop = (int)json_integer_value(stop);
    } else {
        STAGE_FAIL(XF_ERR_UNSUPPORTED, "tokenizer %s: decoder type \"%s\" is not supported", t->path, type);
    }
    t->n_dec++;
    return XF_OK;
}

xf_status tok_load_stages(xf_tokenizer *t, void *root_json)
{
    const json_t *root = root_json, *decoder = json_object_get(root, "decoder");
    xf_status st = load_stage(t, json_object_get(root, "normalizer"), "normalizer", "normalizers", load_normalizer);
    if (st == XF_OK)
        st = load_stage(t, json_object_get(root, "pre_tokenizer"), "pre_tokenizer", "pretokenizers", load_pretok);
    if (st == XF_OK) st = load_stage(t, decoder, "decoder", "decoders", load_decoder);
    t->has_decoder = decoder && !json_is_null(decoder);
    return st;
}

xf_status tok_load_post(xf_tokenizer *t, void *root_json)
{
    return load_stage(t, json_object_get((const json_t *)root_json, "post_processor"), "post_processor",
                      "processors", load_post);
}

void tok_stages_free(xf_tokenizer *t)
{
    for (int i = 0; i < t->n_norm; i++) {
        free(t->norm[i].pattern);
        free(t->norm[i].content);
    }
    for (int i = 0; i < t->n_pre; i++) pcre2_code_free(t->pre[i].re);
    for (int i = 0; i < t->n_post; i++) {
        for (size_t k = 0; k < t->post[i].n_items; k++) free(t->post[i].items[k].ids);
        free(t->post[i].items);
        for (size_t k = 0; k < t->post[i].n_pair; k++) free(t->post[i].pair[k].ids);
        free(t->post[i].pair);
    }
    for (int i = 0; i < t->n_dec; i++) {
        free(t->dec[i].pattern);
        free(t->dec[i].content);
    }
}
