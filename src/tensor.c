/* tensor.c — dtype conversions of weight tensors and the module table
 * (which weight and which shape each LoRA-targetable module has). */
#include <math.h>
#include <string.h>

#include "model.h"

float xf_bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t xf_f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float xf_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t man = h & 0x3ffu;
    uint32_t u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: value = man * 2^-24 */
            float f = (float)man * 5.9604644775390625e-8f;
            memcpy(&u, &f, 4);
            u |= sign;
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 112u) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t xf_f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u;          /* NaN */
    if (a >= 0x477ff000u) return sign | 0x7c00u;         /* overflow (incl. rounding) → inf */
    if (a < 0x38800000u) {                               /* subnormal or zero in f16 */
        float af;
        memcpy(&af, &a, 4);
        float scaled = af * 16777216.0f;                 /* in units of 2^-24 */
        uint32_t m = (uint32_t)scaled;
        float rem = scaled - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1u))) m++;
        return sign | (uint16_t)m;
    }
    uint32_t e = (a >> 23) - 112u;
    uint32_t m = a & 0x7fffffu;
    uint32_t h = (e << 10) | (m >> 13);
    uint32_t rest = m & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++;
    return sign | (uint16_t)h;
}

int64_t xf_tensor_numel(const xf_tensor *t) {
    if (!t->data) return 0;
    return t->ndim == 1 ? t->shape[0] : t->shape[0] * t->shape[1];
}

void xf_tensor_to_f32(const xf_tensor *t, int64_t offset, int64_t n, float *dst) {
    switch (t->type) {
    case XF_W_F32: memcpy(dst, (const float *)t->data + offset, (size_t)n * 4); break;
    case XF_W_BF16: {
        const uint16_t *s = (const uint16_t *)t->data + offset;
        for (int64_t i = 0; i < n; i++) dst[i] = xf_bf16_to_f32(s[i]);
        break;
    }
    case XF_W_F16: {
        const uint16_t *s = (const uint16_t *)t->data + offset;
        for (int64_t i = 0; i < n; i++) dst[i] = xf_f16_to_f32(s[i]);
        break;
    }
    }
}

void xf_tensor_to_bf16(const xf_tensor *t, int64_t offset, int64_t n, uint16_t *dst) {
    if (t->type == XF_W_BF16) {
        memcpy(dst, (const uint16_t *)t->data + offset, (size_t)n * 2);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float f;
        xf_tensor_to_f32(t, offset + i, 1, &f);
        dst[i] = xf_f32_to_bf16(f);
    }
}

void xf_tensor_to_f16(const xf_tensor *t, int64_t offset, int64_t n, uint16_t *dst) {
    if (t->type == XF_W_F16) {
        memcpy(dst, (const uint16_t *)t->data + offset, (size_t)n * 2);
        return;
    }
    for (int64_t i = 0; i < n; i++) {
        float f;
        xf_tensor_to_f32(t, offset + i, 1, &f);
        dst[i] = xf_f32_to_f16(f);
    }
}

static const char *const module_names[XF_MOD_COUNT] = {
    "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj",
};

const char *xf_module_name(xf_module mod) {
    return (mod >= 0 && mod < XF_MOD_COUNT) ? module_names[mod] : "?";
}

void xf_module_dims(const xf_config *c, xf_module mod, int32_t *out, int32_t *in) {
    int32_t q = c->n_heads * c->head_dim, kv = c->n_kv_heads * c->head_dim;
    switch (mod) {
    case XF_MOD_Q: *out = q, *in = c->hidden; break;
    case XF_MOD_K:
    case XF_MOD_V: *out = kv, *in = c->hidden; break;
    case XF_MOD_O: *out = c->hidden, *in = q; break;
    case XF_MOD_GATE:
    case XF_MOD_UP: *out = c->intermediate, *in = c->hidden; break;
    case XF_MOD_DOWN: *out = c->hidden, *in = c->intermediate; break;
    default: *out = *in = 0; break;
    }
}

const xf_tensor *xf_module_weight(const xf_layer *l, xf_module mod) {
    switch (mod) {
    case XF_MOD_Q: return &l->wq;
    case XF_MOD_K: return &l->wk;
    case XF_MOD_V: return &l->wv;
    case XF_MOD_O: return &l->wo;
    case XF_MOD_GATE: return &l->w_gate;
    case XF_MOD_UP: return &l->w_up;
    case XF_MOD_DOWN: return &l->w_down;
    default: return NULL;
    }
}
