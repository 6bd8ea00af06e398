#version 450
// qknorm_rope.comp — in place on x [T, nh, D] (row t at x_off + t*ld, head h at +h*D):
// optional RMSNorm over each head's D values (Qwen3 q_norm/k_norm, weight w [D]),
// then rotate-half RoPE with the model's table cos/sin [P, D/2] at pos[t]:
//   out[j] = x[j]·c − x[j+D/2]·s,  out[j+D/2] = x[j+D/2]·c + x[j]·s.
// 32 invocations per (token, head) row, 8 rows per workgroup; 2-D grid when T·nh is large.
// X16 = 1 (f16) or 2 (bf16): x holds that 16-bit type instead (pairs in uints; D a multiple
// of 4, x_off and ld even); the arithmetic stays fp32.
#include "common.glsl"

layout(constant_id = 0) const uint X16 = 0;

layout(local_size_x = 256) in;
const uint TPR = 32u, RPW = 8u;  // invocations per row, rows per workgroup

layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };     // [D]
layout(std430, binding = 2) readonly buffer C { float cosv[]; };  // [P, D/2]
layout(std430, binding = 3) readonly buffer S { float sinv[]; };  // [P, D/2]
layout(std430, binding = 4) readonly buffer P { int pos[]; };     // [T]
layout(std430, binding = 0) buffer Xh { uint xh[]; };           // X16: x as 16-bit pairs

layout(push_constant) uniform PC {
    uint T, nh, D;
    uint x_off, ld;
    uint has_norm;
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
    if (pc.has_norm != 0u) {  // uniform
        float s = 0.0;
        for (uint j = X16 != 0u ? 2u * l : l; live && j < pc.D; j += X16 != 0u ? 2u * TPR : TPR) {
            if (X16 != 0u) {
                vec2 v = unpack16(xh[(base + j) / 2u], X16);
                s = fma(v.x, v.x, fma(v.y, v.y, s));
            } else {
                float v = x[base + j];
                s = fma(v, v, s);
            }
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
    bool norm = pc.has_norm != 0u;
    if (X16 != 0u) {  // pairs (j, j+1) and (j + D/2, j + D/2 + 1)
        for (uint j = 2u * l; j < half_d; j += 2u * TPR) {
            vec2 a = unpack16(xh[(base + j) / 2u], X16) * inv;
            vec2 b = unpack16(xh[(base + j + half_d) / 2u], X16) * inv;
            if (norm) {
                a *= vec2(w[j], w[j + 1u]);
                b *= vec2(w[j + half_d], w[j + half_d + 1u]);
            }
            vec2 c = vec2(cosv[rb + j], cosv[rb + j + 1u]), s = vec2(sinv[rb + j], sinv[rb + j + 1u]);
            xh[(base + j) / 2u] = pack16(a * c - b * s, X16);
            xh[(base + j + half_d) / 2u] = pack16(b * c + a * s, X16);
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
