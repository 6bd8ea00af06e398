#version 450
// qknorm_rope.comp — in place on x [T, nh, D] (row t at x_off + t*ld, head h at +h*D):
// optional RMSNorm over each head's D values (Qwen3 q_norm/k_norm, weight w [D]),
// then rotate-half RoPE with the model's table cos/sin [P, D/2] at pos[t]:
//   out[j] = x[j]·c − x[j+D/2]·s,  out[j+D/2] = x[j+D/2]·c + x[j]·s.
// 32 invocations per (token, head) row, 8 rows per workgroup; 2-D grid when T·nh is large.
#include "common.glsl"

layout(local_size_x = 256) in;
const uint TPR = 32u, RPW = 8u;  // invocations per row, rows per workgroup

layout(std430, binding = 0) buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer W { float w[]; };     // [D]
layout(std430, binding = 2) readonly buffer C { float cosv[]; };  // [P, D/2]
layout(std430, binding = 3) readonly buffer S { float sinv[]; };  // [P, D/2]
layout(std430, binding = 4) readonly buffer P { int pos[]; };     // [T]

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
    for (uint j = l; j < half_d; j += TPR) {
        float a = x[base + j] * inv, b = x[base + j + half_d] * inv;
        if (pc.has_norm != 0u) {
            a *= w[j];
            b *= w[j + half_d];
        }
        float c = cosv[rb + j], s = sinv[rb + j];
        x[base + j] = a * c - b * s;
        x[base + j + half_d] = b * c + a * s;
    }
}
