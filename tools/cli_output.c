/* cli_output.c — the forward commands' streamed output (cli_output.h). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_output.h"

#define NPY_HEADER_BYTES 128 /* magic, version, length, the dict padded: room for any int64 shape */

char *xf_cli_json_string(const char *s) {
    json_t *v = json_string(s);
    char *text = v ? json_dumps(v, JSON_ENCODE_ANY) : NULL;
    json_decref(v);
    return text;
}

/* float -> IEEE half, rounded to nearest even; NaN stays NaN, overflow is ±inf */
static uint16_t to_half(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    const uint32_t sign = (x >> 16) & 0x8000u, e = (x >> 23) & 0xffu;
    uint32_t m = x & 0x7fffffu;
    if (e == 0xff) return (uint16_t)(sign | 0x7c00u | (m ? 0x200u : 0));
    const int32_t he = (int32_t)e - 127 + 15;
    if (he >= 31) return (uint16_t)(sign | 0x7c00u);
    if (he <= 0) {  /* a half subnormal: m·2^(e-150) = h·2^-24 */
        if (he < -10) return (uint16_t)sign;
        m |= 0x800000u;
        const uint32_t shift = (uint32_t)(14 - he), rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
        uint32_t h = m >> shift;
        if (rem > half || (rem == half && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((uint32_t)he << 10) | (m >> 13);
    const uint32_t rem = m & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++;  /* a carry into the exponent is right, up to inf */
    return (uint16_t)(sign | h);
}

static float from_half(uint16_t h) {
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    float v;
    if (e == 0) v = ldexpf((float)m, -24);
    else if (e == 31) v = m ? NAN : INFINITY;
    else v = ldexpf((float)(m | 0x400u), (int)e - 25);
    uint32_t x;
    memcpy(&x, &v, sizeof x);
    x |= sign;
    memcpy(&v, &x, sizeof v);
    return v;
}

static int put_header(xf_cli_output *o) {
    char head[NPY_HEADER_BYTES];
    memset(head, ' ', sizeof head);
    const unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, NPY_HEADER_BYTES - 10, 0};
    memcpy(head, pre, sizeof pre);
    int n = snprintf(head + 10, sizeof head - 10, "{'descr': '%s', 'fortran_order': False, 'shape': (%lld, %lld), }",
                     o->f16 ? "<f2" : "<f4", (long long)o->rows, (long long)o->cols);
    head[10 + n] = ' ';  /* snprintf's NUL */
    head[NPY_HEADER_BYTES - 1] = '\n';
    return xf_outfile_write(&o->f, head, sizeof head);
}

int xf_cli_output_open(xf_cli_output *o, const char *path, xf_cli_format format, int f16, int per_token,
                       const char *key, const char *const *labels, int64_t cols, char *err, size_t err_size) {
    memset(o, 0, sizeof *o);
    o->format = format, o->f16 = f16, o->per_token = per_token, o->key = key, o->cols = cols;
    if (labels) {
        o->labels = calloc((size_t)cols, sizeof(char *));
        for (int64_t k = 0; o->labels && k < cols; k++)
            if (!(o->labels[k] = xf_cli_json_string(labels[k]))) {
                snprintf(err, err_size, "label %lld of the model is not valid UTF-8", (long long)k);
                xf_cli_output_abort(o);
                return -1;
            }
        if (!o->labels) return snprintf(err, err_size, "out of memory"), -1;
    }
    if (xf_outfile_open(&o->f, path, err, err_size)) {
        xf_cli_output_abort(o);
        return -1;
    }
    if (format == XF_FORMAT_NPY) {
        /* the header is rewritten at the end: a pipe cannot take that */
        if (fseeko(o->f.f, 0, SEEK_CUR) != 0) {
            snprintf(err, err_size, "%s: a .npy output must be a file that can be rewound (its header holds the "
                                    "final shape); write --output-format jsonl to a pipe or standard output",
                     o->f.path);
            xf_cli_output_abort(o);
            return -1;
        }
        put_header(o);
    }
    return 0;
}

static void put_number(FILE *f, float v, int f16) {
    if (!isfinite(v)) fputs("null", f);
    else if (f16) fprintf(f, "%.5g", from_half(to_half(v)));
    else fprintf(f, "%.9g", v);
}

static void put_row(FILE *f, const float *x, int64_t cols, int f16) {
    fputc('[', f);
    for (int64_t k = 0; k < cols; k++) {
        if (k) fputs(", ", f);
        put_number(f, x[k], f16);
    }
    fputc(']', f);
}

static int put_npy_rows(xf_cli_output *o, const float *x, int64_t n_rows) {
    const size_t n = (size_t)(n_rows * o->cols);
    o->rows += n_rows;
    if (!o->f16) return xf_outfile_write(&o->f, x, sizeof(float) * n);
    if (n > o->half_cap) {
        uint16_t *g = realloc(o->half, sizeof(uint16_t) * n);
        if (!g) return o->f.err = ENOMEM, -1;
        o->half = g, o->half_cap = n;
    }
    for (size_t i = 0; i < n; i++) o->half[i] = to_half(x[i]);
    return xf_outfile_write(&o->f, o->half, sizeof(uint16_t) * n);
}

int xf_cli_output_put(xf_cli_output *o, const float *x, int64_t n_rows, const char *id_json) {
    if (o->format == XF_FORMAT_NPY) return put_npy_rows(o, x, n_rows);
    FILE *f = o->f.f;
    fputc('{', f);
    if (id_json) fprintf(f, "\"id\": %s, ", id_json);
    if (o->labels) {  /* classify: the best label and every score by name */
        int64_t best = 0;
        for (int64_t k = 1; k < o->cols; k++)
            if (x[k] > x[best]) best = k;
        fprintf(f, "\"label\": %s, \"scores\": {", o->labels[best]);
        for (int64_t k = 0; k < o->cols; k++) {
            fprintf(f, "%s%s: ", k ? ", " : "", o->labels[k]);
            put_number(f, x[k], o->f16);
        }
        fputc('}', f);
    } else {
        fprintf(f, "\"%s\": ", o->key);
        if (o->per_token) fputc('[', f);
        for (int64_t r = 0; r < n_rows; r++) {
            if (r) fputs(", ", f);
            put_row(f, x + r * o->cols, o->cols, o->f16);
        }
        if (o->per_token) fputc(']', f);
    }
    return fputs("}\n", f) == EOF ? -1 : 0;
}

int xf_cli_output_skip(xf_cli_output *o, const char *message, const char *id_json) {
    if (o->format == XF_FORMAT_NPY) {
        if (o->per_token) return 0;
        const float nan = NAN;
        const uint16_t half_nan = 0x7e00u;
        for (int64_t k = 0; k < o->cols; k++)
            if (o->f16 ? xf_outfile_write(&o->f, &half_nan, sizeof half_nan) : xf_outfile_write(&o->f, &nan, sizeof nan))
                return -1;
        o->rows++;
        return 0;
    }
    char *msg = xf_cli_json_string(message);
    int rc = fprintf(o->f.f, "{%s%s%s\"error\": %s}\n", id_json ? "\"id\": " : "", id_json ? id_json : "",
                     id_json ? ", " : "", msg ? msg : "\"(the message is not valid UTF-8)\"") < 0 ? -1 : 0;
    free(msg);
    return rc;
}

int xf_cli_output_failed(const xf_cli_output *o) { return !o->f.f || o->f.err || ferror(o->f.f); }

int xf_cli_output_commit(xf_cli_output *o, char *err, size_t err_size) {
    if (o->format == XF_FORMAT_NPY && o->f.f && !xf_cli_output_failed(o)) {
        if (fseeko(o->f.f, 0, SEEK_SET) != 0) o->f.err = errno;
        else put_header(o);
    }
    int rc = xf_outfile_commit(&o->f, err, err_size);
    xf_cli_output_abort(o);
    return rc;
}

void xf_cli_output_abort(xf_cli_output *o) {
    xf_outfile_abort(&o->f);
    for (int64_t k = 0; o->labels && k < o->cols; k++) free(o->labels[k]);
    free(o->labels), o->labels = NULL;
    free(o->half), o->half = NULL;
    o->half_cap = 0;
}
