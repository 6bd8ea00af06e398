/* engine_describe.c — xf_engine_describe: the recipe (recipe.h) an engine runs for
 * hidden states and for the folder's default output, one line per op with the
 * backend's kernel-table entry beside it (backend.h: kernel). Layers whose lines are
 * alike are printed once with their count, so a 36-layer model reads in a screen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "error.h"
#include "pipeline.h"
#include "st_pipeline.h"

/* What a backend says it runs for op (or that it has no table yet). */
static void kernel_text(const xf_backend_ops *ops, void *state, const xf_op *op, char *buf, size_t n) {
    if (!ops->kernel) {
        snprintf(buf, n, "(kernel table not filled)");
        return;
    }
    xf_kernel_choice k;
    memset(&k, 0, sizeof k);
    ops->kernel(state, op, &k);
    snprintf(buf, n, "%.64s%s%.32s%s%.48s", k.kernel, k.tile[0] ? ", tile " : "", k.tile, k.layout[0] ? "; " : "",
             k.layout);
}

/* One line: the op (with `layer` shown as "L*" when star) and its kernel. */
static void print_op(FILE *f, const xf_backend_ops *ops, void *state, const xf_op *op, int star) {
    char line[192], kern[192];
    xf_op_format(op, line, sizeof line);
    if (star && op->layer >= 0) memcpy(line, "L*  ", 4);  /* xf_op_format's "%-4s" layer column */
    kernel_text(ops, state, op, kern, sizeof kern);
    fprintf(f, "  %-66s | %s\n", line, kern);
}

/* The lines of layer l's ops with the layer number left out: two layers are alike
 * when these match (ops, masks, LoRA bits and kernels). */
static void layer_key(const xf_backend_ops *ops, void *state, const xf_recipe *r, int32_t l, char *buf, size_t n) {
    size_t used = 0;
    buf[0] = '\0';
    for (int32_t i = 0; i < r->n_ops; i++) {
        if (r->ops[i].layer != l) continue;
        xf_op op = r->ops[i];
        op.layer = 0;
        char line[192], kern[192];
        xf_op_format(&op, line, sizeof line);
        kernel_text(ops, state, &op, kern, sizeof kern);
        int w = snprintf(buf + used, used < n ? n - used : 0, "%s|%s\n", line, kern);
        if (w > 0) used += (size_t)w;
    }
}

/* The ops outside the layers that come after them (the head), under a title. */
static void print_head(FILE *f, const xf_backend_ops *ops, void *state, const xf_recipe *r, const char *title) {
    int32_t last = -1;  /* the last op inside a layer */
    for (int32_t i = 0; i < r->n_ops; i++)
        if (r->ops[i].layer >= 0) last = i;
    fprintf(f, "%s\n", title);
    for (int32_t i = last + 1; i < r->n_ops; i++) print_op(f, ops, state, &r->ops[i], 0);
}

static void print_recipe(FILE *f, const xf_backend_ops *ops, void *state, const xf_recipe *r, int32_t n_layers) {
    enum { KEY = 8192 };
    char *a = malloc(KEY), *b = malloc(KEY);
    if (!a || !b) {
        free(a), free(b);
        fprintf(f, "(out of memory)\n");
        return;
    }
    for (int32_t i = 0; i < r->n_ops && r->ops[i].layer < 0; i++) print_op(f, ops, state, &r->ops[i], 0);
    /* runs of alike layers [l0, l1) */
    for (int32_t l0 = 0, l1; l0 < n_layers; l0 = l1) {
        layer_key(ops, state, r, l0, a, KEY);
        for (l1 = l0 + 1; l1 < n_layers; l1++) {
            layer_key(ops, state, r, l1, b, KEY);
            if (strcmp(a, b)) break;
        }
        if (l0 == 0 && l1 == n_layers) fprintf(f, "layers 0-%d, x %d (every layer alike):\n", n_layers - 1, n_layers);
        else if (l1 - l0 > 1) fprintf(f, "layers %d-%d, x %d:\n", l0, l1 - 1, l1 - l0);
        else fprintf(f, "layer %d:\n", l0);
        for (int32_t i = 0; i < r->n_ops; i++)
            if (r->ops[i].layer == l0) print_op(f, ops, state, &r->ops[i], l1 - l0 > 1);
    }
    free(a);
    free(b);
    print_head(f, ops, state, r, "head (hidden states):");
}

/* The folder's default output and its forward pooling, as the CLI and the pipeline
 * run it: a score head classifies; a sentence-transformers folder embeds (max pooling
 * from hidden states on the host; mean_sqrt_len as mean, scaled on the host); else
 * logits where there is an lm_head. 0: hidden states only. */
static int default_output(const xf_model *m, xf_output *what, xf_pooling *pooling, const char **note) {
    const xf_st_pipeline *st = xf_st_of(m);
    *pooling = XF_POOL_LAST, *note = "";
    if (m->score.data) return *what = XF_OUT_CLASSIFY, 1;
    if (st && st->from_modules) {
        *what = XF_OUT_EMBED;
        if (st->pooling == XF_POOL_MAX) return *note = ", max pooling: on the host from the hidden states", 0;
        *pooling = st->pooling == XF_POOL_MEAN_SQRT_LEN ? XF_POOL_MEAN : (xf_pooling)st->pooling;
        if (st->pooling == XF_POOL_MEAN_SQRT_LEN) *note = ", mean_sqrt_len: the mean scaled on the host";
        return 1;
    }
    if (m->lm_head.data) return *what = XF_OUT_LOGITS, 1;
    return 0;
}

xf_status xf_engine_describe(xf_engine *e, char **text) {
    static const char *const out_name[] = {"hidden states", "logits", "embed", "classify"};
    xf_status st = XF_OK;
    xf_recipe hidden = {0}, head = {0};
    char *buf = NULL;
    size_t len = 0;
    FILE *f = NULL;
    if (!text) return xf_error(XF_ERR_INVALID_ARG, "xf_engine_describe: text is NULL");
    *text = NULL;
    if (!e) return xf_error(XF_ERR_INVALID_ARG, "xf_engine_describe: engine is NULL");
    void *state = NULL;
    const xf_backend_ops *ops = xf_engine_backend_ops(e, &state);
    const xf_model *m = xf_engine_model(e);
    const xf_config *c = &m->cfg;
    XF_TRY(xf_engine_recipe(e, XF_OUT_HIDDEN, XF_POOL_LAST, 0, -1, &hidden));
    f = open_memstream(&buf, &len);
    XF_CHECK(f, XF_ERR_NO_MEMORY, "out of host memory for the engine's description");
    fprintf(f, "recipe of one forward (%s, %d layers, H %d, %d ops for hidden states) on backend %s\n", c->model_type,
            c->n_layers, c->hidden, hidden.n_ops, ops->name);
    fprintf(f, "  %-66s | %s\n", "op: src -> dst, weight, extras", "kernel, tile; layout");
    print_recipe(f, ops, state, &hidden, c->n_layers);
    xf_output what;
    xf_pooling pooling;
    const char *note;
    const int has_head = default_output(m, &what, &pooling, &note);
    if (has_head || note[0]) {
        char title[160];
        snprintf(title, sizeof title, "head (%s: the folder's default output%s):", out_name[what], note);
        if (has_head) {
            XF_TRY(xf_engine_recipe(e, what, pooling, 0, -1, &head));
            print_head(f, ops, state, &head, title);
        } else {
            fprintf(f, "%s\n", title);
        }
        const xf_st_pipeline *sp = xf_st_of(m);
        if (what == XF_OUT_EMBED && sp && (sp->n_dense > 0 || sp->normalize))
            fprintf(f, "  then on the host: %d Dense module%s%s\n", sp->n_dense, sp->n_dense == 1 ? "" : "s",
                    sp->normalize ? ", L2 normalize" : "");
    }
    XF_CHECK(fclose(f) == 0, XF_ERR_NO_MEMORY, "out of host memory for the engine's description");
    f = NULL;
    *text = buf;
    buf = NULL;
cleanup:
    if (f) fclose(f);
    free(buf);
    xf_recipe_free(&hidden);
    xf_recipe_free(&head);
    return st;
}
