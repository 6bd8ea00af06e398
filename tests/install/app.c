/* app.c — a program built against an installed xfwd (tests/install.sh builds it with
 * pkg-config, shared and static, and with find_package): the final hidden states of
 * a golden case through the public API, compared with the Hugging Face reference.
 * usage: app MODEL_DIR DATA_DIR   (DATA_DIR: tokens.i32 [T], seq_lens.i32 [B] and
 * hidden.f32 [T, H], raw little-endian, written by tests/install.sh) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <xfwd.h>

/* The whole of DIR/NAME in a malloc'ed buffer; *n its size in bytes. */
static void *read_file(const char *dir, const char *name, size_t *n) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *buf = malloc(*n ? *n : 1);
    if (buf && fread(buf, 1, *n, f) != *n) free(buf), buf = NULL;
    fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 3) return fprintf(stderr, "usage: app MODEL_DIR DATA_DIR\n"), 2;
    size_t nt, nl, nh;
    int32_t *tokens = read_file(argv[2], "tokens.i32", &nt);     /* [T] */
    int32_t *lens = read_file(argv[2], "seq_lens.i32", &nl);     /* [B] */
    float *want = read_file(argv[2], "hidden.f32", &nh);         /* [T, H] */
    if (!tokens || !lens || !want) return fprintf(stderr, "app: cannot read %s\n", argv[2]), 1;

    xf_model *m = NULL;
    xf_engine *e = NULL;
    xf_model_info info;
    xf_engine_options o;
    if (xf_model_open(argv[1], &m) != XF_OK || xf_model_get_info(m, &info) != XF_OK) goto fail;
    xf_engine_options_init(&o);
    o.backend = XF_BACKEND_CPU;  /* f32: the parity mode */
    if (xf_engine_create(m, &o, &e) != XF_OK) goto fail;
    xf_batch b = {.tokens = tokens, .seq_lens = lens, .n_seqs = (int32_t)(nl / 4)};
    size_t n_out = (size_t)xf_batch_tokens(&b) * (size_t)info.hidden_size;
    if (n_out * 4 != nh) return fprintf(stderr, "app: hidden.f32 holds %zu bytes, expected %zu\n", nh, n_out * 4), 1;
    float *got = malloc(nh);
    if (!got || xf_engine_hidden(e, &b, got) != XF_OK) goto fail;

    double err = 0, ref = 0;  /* relative Frobenius error */
    for (size_t i = 0; i < n_out; i++) {
        double d = (double)got[i] - want[i];
        err += d * d, ref += (double)want[i] * want[i];
    }
    double rel = sqrt(err / ref);
    printf("app: %s, %d sequences, %zu tokens: relative error %.3g (%s backend)\n", info.architecture, b.n_seqs,
           nt / 4, rel, xf_engine_backend(e) == XF_BACKEND_CPU ? "cpu" : "other");
    xf_engine_free(e);
    xf_model_free(m);
    free(got), free(tokens), free(lens), free(want);
    return rel <= 1e-5 ? 0 : 1;
fail:
    fprintf(stderr, "app: %s\n", xf_last_error());
    xf_engine_free(e);
    xf_model_free(m);
    return 1;
}
