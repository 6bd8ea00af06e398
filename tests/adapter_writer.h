/* adapter_writer.h — writes safetensors files and PEFT LoRA adapter folders from
 * tensors held in memory, so tests can build good and deliberately broken adapters. */
#ifndef XT_ADAPTER_WRITER_H
#define XT_ADAPTER_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "model.h"

/* One tensor to write. dtype is the safetensors name ("F32", "BF16", "I32", ...) and is
 * written as given; nbytes is what goes into the data block (it need not fit the
 * shape, so tests can write lying headers). */
typedef struct xt_st_tensor {
    const char *name;
    const char *dtype;
    int32_t ndim;
    int64_t shape[4];
    const void *data;
    size_t nbytes;
} xt_st_tensor;

/* Writes a safetensors file (header padded to 8 bytes, "__metadata__": {"format": "pt"}).
 * Returns 0 on success, -1 (with a message on stderr) on failure. */
int xt_write_safetensors(const char *path, const xt_st_tensor *t, int n);

/* Writes dir/adapter_config.json (the given text, verbatim) and
 * dir/adapter_model.safetensors; creates dir if needed. Returns 0 on success. */
int xt_write_peft_folder(const char *dir, const char *config_json, const xt_st_tensor *t, int n);

/* The text of a typical PEFT 0.21 adapter_config.json for a LoRA of rank r and
 * lora_alpha alpha on the modules in module_mask (bit 1 << XF_MOD_*), with the
 * model's architecture in auto_mapping. malloc'ed; NULL on failure. */
char *xt_lora_config_json(const xf_config *c, unsigned module_mask, int r, double alpha);

/* Writes a complete PEFT LoRA folder for model m: every layer's modules in
 * module_mask, rank r, lora_alpha alpha, F32 tensors named
 * "base_model.model.model.layers.L.<self_attn|mlp>.<mod>.lora_{A,B}.weight".
 * A is uniform in [-a_scale, a_scale], B in [-b_scale, b_scale]; b_scale = 0 gives an
 * all-zero B (the adapter then changes nothing). Deterministic in seed. 0 on success. */
int xt_write_lora_adapter(const char *dir, const xf_model *m, unsigned module_mask, int r, double alpha,
                          float a_scale, float b_scale, uint64_t seed);

/* Removes dir/adapter_config.json, dir/adapter_model.safetensors and dir itself. */
void xt_remove_peft_folder(const char *dir);

#endif /* XT_ADAPTER_WRITER_H */
