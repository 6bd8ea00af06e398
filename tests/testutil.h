/* testutil.h — what every test shares: golden cases, error metrics, random data,
 * command-line parsing of backend/dtype, and the skip convention (exit 77). */
#ifndef XF_TESTUTIL_H
#define XF_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>

#include "xfwd.h"

#define XT_SKIP 77

/* A golden case's golden.safetensors, read into memory. */
typedef struct xt_golden {
    int32_t *tokens;    /* [T] */
    int32_t *seq_lens;  /* [B] */
    int32_t n_tokens, n_seqs;
    void *st;           /* the parsed file (opaque) */
} xt_golden;

int xt_golden_load(const char *case_dir, xt_golden *g);       /* 0 on success */
/* fp32 tensor `name` ([rows, cols]) or NULL if the case lacks it. */
const float *xt_golden_get(const xt_golden *g, const char *name, int64_t *rows, int64_t *cols);
void xt_golden_free(xt_golden *g);

/* ‖out − ref‖ / ‖ref‖ over n floats; +inf if out has NaN/Inf. */
double xt_rel_err(const float *out, const float *ref, int64_t n);
/* Smallest cosine similarity over rows of [rows, cols]. */
double xt_min_row_cos(const float *out, const float *ref, int64_t rows, int64_t cols);
/* Relative-error tolerance of a mode (golden README): f32 1e-5, tf32 5e-3, bf16/f16 3e-2. */
double xt_tolerance(xf_dtype mode);

/* Deterministic uniform floats in [-scale, scale]. */
void xt_fill_uniform(float *x, int64_t n, uint64_t seed, float scale);

int xt_parse_backend(const char *s, xf_backend *out);  /* 0 on success */
int xt_parse_dtype(const char *s, xf_dtype *out);
const char *xt_dtype_name(xf_dtype d);
const char *xt_backend_name(xf_backend b);

/* A folder like the golden case `src` whose attention mask is `mask` — "full" ("is_causal":
 * false) or "window=N" (a sliding window of N on every layer; src's config.json must carry
 * "use_sliding_window": false, "sliding_window": null and full_attention layer_types) —
 * made as a new temporary folder, its name in out [n]: config.json edited, model.safetensors
 * linked. 0 on success; xt_folder_remove deletes it. */
int xt_masked_folder(const char *src, const char *mask, char *out, size_t n);
void xt_folder_remove(const char *dir);
/* The masks the engine tests run end to end: full, a window inside the first key tile and
 * one that crosses a tile edge (GPU tiles are 64 keys). */
#define XT_N_MASKS 3
extern const char *const xt_masks[XT_N_MASKS];

/* One of them on qwen3-hd128-bf16 (head_dim 128, 4:2 heads) of the golden cases, with a
 * batch of sequences shorter and longer than the kernels' tiles and its CPU reference. */
typedef struct xt_mask_case {
    const char *mask;       /* xt_masks[k] */
    char folder[4096];      /* the temporary model folder */
    xf_model *model;
    int32_t seq_lens[4];
    int n_seqs;
    int32_t *tokens;        /* [T] */
    int64_t n_tokens;       /* T */
    int hidden;             /* H */
    float *ref;             /* [T, H] hidden states from cpu_ref in f32 */
} xt_mask_case;
/* 0 on success; else -1 with the reason printed. */
int xt_mask_case_open(const char *golden_dir, int k, xt_mask_case *c);
void xt_mask_case_close(xt_mask_case *c);

/* Final hidden states [T, H] of a batch on a new engine of (backend, dtype), malloc'ed;
 * NULL when creating the engine or the forward fails (*st: why; xf_last_error()). */
float *xt_engine_hidden(const xf_model *m, xf_backend backend, xf_dtype dtype, const int32_t *tokens,
                        const int32_t *lens, int n_seqs, xf_status *st);

/* Prints "name: worst error E (tolerance T) ok|FAIL" and returns 1 if it failed. */
int xt_report(const char *name, double err, double tol);

/* One check of a test that keeps `static int failures, checks;`: counts it, and on
 * failure prints file:line and the formatted message. */
#define XT_EXPECT(cond, ...)                                                                               \
    do {                                                                                                   \
        checks++;                                                                                          \
        if (!(cond)) {                                                                                     \
            failures++;                                                                                    \
            printf("  FAIL %s:%d: ", __FILE__, __LINE__);                                                  \
            printf(__VA_ARGS__);                                                                           \
            printf("\n");                                                                                  \
        }                                                                                                  \
    } while (0)

#endif /* XF_TESTUTIL_H */
