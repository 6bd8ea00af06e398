#version 450
// qknorm_rope.comp — in place on x [T, nh, D] (row t at x_off + t*ld, head h at +h*D):
// optional RMSNorm over each head's D values (Qwen3 q_norm/k_norm, weight w [D]),
// then rotate-half RoPE with the model's table cos/sin [P, D/2] at pos[t]:
//   out[j] = x[j]·c − x[j+D/2]·s,  out[j+D/2] = x[j+D/2]·c + x[j]·s.
// 32 invocations per (token, head) row, 8 rows per workgroup; 2-D grid when T·nh is large.
// OUT16 = 1 (f16) or 2 (bf16): the result goes to y16 instead (16-bit pairs, same element
// indices; x unchanged, D even, x_off and ld even); flags bit 1 then skips RoPE (a plain
// conversion, for v).
#include "common.glsl"

layout(constant_id = 0) const uint OUT16 = 0;

layout(local_size_x = 256) in;
const uint TPR = 32u, RPW = 8u;  // invocations per row, rows per workgroup

layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };     // [D]
layout(std430, binding = 2) readonly buffer C { float cosv[]; };  // [P, D/2]
layout(std430, binding = 3) readonly buffer S { float sinv[]; };  // [P, D/2]
layout(std430, binding = 4) readonly buffer P { int pos[]; };     // [T]
layout(std430, binding = 5) writeonly buffer Y16 { uint y16[]; }; // OUT16: [T, ld] 16-bit pairs

layout(push_constant) uniform PC {
    uint T, nh, D;
    uint x_off, ld;
    uint has_norm;  // bit 0: norm; bit 1 (OUT16): no RoPE
    float eps;
} pc;

shared float partial[256];

void main() {
    uint tid = gl_LocalInvocationID.x, l = tid % TPR;
    uint row = group_linear() * RPW + tid / TPR;
    bool live = row < pc.T * pc.nh;  // no return before the barriers
    uint t = live ? row / pc.nh : 0u, h = row % pc.nh;
    uint base = pc.x_off + t * pc.ld + h * pc.D;
    uint half_d = pc.D / 2u;
    float inv = 1.0;
    if ((pc.has_norm & 1u) != 0u) {  // uniform
        float s = 0.0;
        for (uint j = l; live && j < pc.D; j += TPR) {
            float v = x[base + j];
            s = fma(v, v, s);
        }
        partial[tid] = s;
        barrier();
        for (uint k = TPR / 2u; k > 0u; k >>= 1) {
            if (l < k) partial[tid] += partial[tid + k];
            barrier();
        }
        inv = 1.0 / sqrt(partial[tid - l] / float(pc.D) + pc.eps);
    }
    if (!live) return;
    uint rb = uint(pos[t]) * half_d;
    bool norm = (pc.has_norm & 1u) != 0u;
    if (OUT16 != 0u) {  // pairs (j, j+1) and (j + D/2, j + D/2 + 1)
        bool rope = (pc.has_norm & 2u) == 0u;
        for (uint j = 2u * l; j < half_d; j += 2u * TPR) {
            vec2 a = vec2(x[base + j], x[base + j + 1u]) * inv;
            vec2 b = vec2(x[base + j + half_d], x[base + j + half_d + 1u]) * inv;
            if (norm) {
                a *= vec2(w[j], w[j + 1u]);
                b *= vec2(w[j + half_d], w[j + half_d + 1u]);
            }
            if (rope) {
                vec2 c = vec2(cosv[rb + j], cosv[rb + j + 1u]), s = vec2(sinv[rb + j], sinv[rb + j + 1u]);
                vec2 ra = a * c - b * s, rb2 = b * c + a * s;
                a = ra;
                b = rb2;
            }
            y16[(base + j) / 2u] = pack16(a, OUT16);
            y16[(base + j + half_d) / 2u] = pack16(b, OUT16);
        }
        return;
    }
    for (uint j = l; j < half_d; j += TPR) {
        float a = x[base + j] * inv, b = x[base + j + half_d] * inv;
        if (norm) {
            a *= w[j];
            b *= w[j + half_d];
        }
        float c = cosv[rb + j], s = sinv[rb + j];
        x[base + j] = a * c - b * s;
        x[base + j + half_d] = b * c + a * s;
    }
}
