/* adapter_writer.c — writes safetensors files and PEFT LoRA folders for tests
 * (see adapter_writer.h). The layout follows the safetensors format: an 8-byte
 * little-endian header length, a JSON header padded with spaces to a multiple
 * of 8, then the tensors' bytes back to back. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkdtemp, truncate */
#endif
#include "adapter_writer.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int xt_write_safetensors(const char *path, const xt_st_tensor *t, int n) {
    json_t *hdr = json_object();
    json_t *meta = json_object();
    json_object_set_new(meta, "format", json_string("pt"));
    json_object_set_new(hdr, "__metadata__", meta);
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        json_t *e = json_object();
        json_t *shape = json_array();
        for (int d = 0; d < t[i].ndim; d++) json_array_append_new(shape, json_integer(t[i].shape[d]));
        json_object_set_new(e, "dtype", json_string(t[i].dtype));
        json_object_set_new(e, "shape", shape);
        json_t *offs = json_array();
        json_array_append_new(offs, json_integer((json_int_t)off));
        json_array_append_new(offs, json_integer((json_int_t)(off + t[i].nbytes)));
        json_object_set_new(e, "data_offsets", offs);
        json_object_set_new(hdr, t[i].name, e);
        off += t[i].nbytes;
    }
    char *text = json_dumps(hdr, JSON_COMPACT);
    json_decref(hdr);
    if (!text) return -1;
    size_t hlen = strlen(text), padded = (hlen + 7) / 8 * 8;
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "%s: cannot create: %s\n", path, strerror(errno));
        free(text);
        return -1;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(text, 1, hlen, f) == hlen;
    for (size_t i = hlen; i < padded && ok; i++) ok = fputc(' ', f) != EOF;
    for (int i = 0; i < n && ok; i++)
        ok = t[i].nbytes == 0 || fwrite(t[i].data, 1, t[i].nbytes, f) == t[i].nbytes;
    ok = (fclose(f) == 0) && ok;
    free(text);
    if (!ok) fprintf(stderr, "%s: write failed\n", path);
    return ok ? 0 : -1;
}

int xt_write_peft_folder(const char *dir, const char *config_json, const xt_st_tensor *t, int n) {
    char path[4096];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "%s: cannot create: %s\n", dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "%s: cannot create: %s\n", path, strerror(errno));
        return -1;
    }
    int ok = fputs(config_json, f) >= 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok) return -1;
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    return xt_write_safetensors(path, t, n);
}

void xt_remove_peft_folder(const char *dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    unlink(path);
    rmdir(dir);
}

char *xt_lora_config_json(const xf_config *c, unsigned module_mask, int r, double alpha) {
    json_t *o = json_object();
    json_t *am = json_object();
    char lib[128];
    snprintf(lib, sizeof lib, "transformers.models.%s.modeling_%s", c->model_type, c->model_type);
    json_object_set_new(am, "base_model_class", json_string(c->architecture));
    json_object_set_new(am, "parent_library", json_string(lib));
    json_object_set_new(o, "alpha_pattern", json_object());
    json_object_set_new(o, "auto_mapping", am);
    json_object_set_new(o, "base_model_name_or_path", json_null());
    json_object_set_new(o, "bias", json_string("none"));
    json_object_set_new(o, "fan_in_fan_out", json_false());
    json_object_set_new(o, "inference_mode", json_true());
    json_object_set_new(o, "layers_to_transform", json_null());
    json_object_set_new(o, "lora_alpha", json_real(alpha));
    json_object_set_new(o, "lora_bias", json_false());
    json_object_set_new(o, "lora_dropout", json_real(0.0));
    json_object_set_new(o, "modules_to_save", json_null());
    json_object_set_new(o, "peft_type", json_string("LORA"));
    json_object_set_new(o, "r", json_integer(r));
    json_object_set_new(o, "rank_pattern", json_object());
    json_t *tm = json_array();
    for (int m = 0; m < XF_MOD_COUNT; m++)
        if (module_mask & (1u << m)) json_array_append_new(tm, json_string(xf_module_name((xf_module)m)));
    json_object_set_new(o, "target_modules", tm);
    json_object_set_new(o, "task_type", json_null());
    json_object_set_new(o, "use_dora", json_false());
    json_object_set_new(o, "use_rslora", json_false());
    char *text = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    return text;
}

/* splitmix64: a small deterministic generator, enough for test data. */
static float next_uniform(uint64_t *s, float scale) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return scale * (float)((double)(z >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

int xt_write_lora_adapter(const char *dir, const xf_model *m, unsigned module_mask, int r, double alpha,
                          float a_scale, float b_scale, uint64_t seed) {
    const xf_config *c = &m->cfg;
    int n_max = c->n_layers * XF_MOD_COUNT * 2, n = 0, rc = -1;
    xt_st_tensor *t = calloc((size_t)n_max, sizeof *t);
    char **names = calloc((size_t)n_max, sizeof *names);
    float **bufs = calloc((size_t)n_max, sizeof *bufs);
    char *cfg_text = xt_lora_config_json(c, module_mask, r, alpha);
    if (!t || !names || !bufs || !cfg_text) goto done;
    uint64_t s = seed;
    for (int l = 0; l < c->n_layers; l++)
        for (int mi = 0; mi < XF_MOD_COUNT; mi++) {
            if (!(module_mask & (1u << mi))) continue;
            int32_t out, in;
            xf_module_dims(c, (xf_module)mi, &out, &in);
            for (int b = 0; b < 2; b++) {
                int64_t rows = b ? out : r, cols = b ? r : in;
                names[n] = malloc(160);
                bufs[n] = malloc((size_t)(rows * cols) * sizeof(float));
                if (!names[n] || !bufs[n]) {
                    n++;
                    goto done;
                }
                snprintf(names[n], 160, "base_model.model.model.layers.%d.%s.%s.lora_%c.weight", l,
                         mi <= XF_MOD_O ? "self_attn" : "mlp", xf_module_name((xf_module)mi), b ? 'B' : 'A');
                for (int64_t i = 0; i < rows * cols; i++) bufs[n][i] = next_uniform(&s, b ? b_scale : a_scale);
                t[n] = (xt_st_tensor){.name = names[n], .dtype = "F32", .ndim = 2, .shape = {rows, cols},
                                      .data = bufs[n], .nbytes = (size_t)(rows * cols) * sizeof(float)};
                n++;
            }
        }
    rc = xt_write_peft_folder(dir, cfg_text, t, n);
done:
    for (int i = 0; i < n; i++) {
        free(names[i]);
        free(bufs[i]);
    }
    free(t);
    free(names);
    free(bufs);
    free(cfg_text);
    return rc;
}
