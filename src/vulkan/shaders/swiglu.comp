#version 450
// swiglu.comp — out[r, c] = silu(gate[r, c]) · up[r, c], silu(g) = g / (1 + e^-g).
// Gate and up are usually the two halves of the fused gate|up projection.
// One thread per element over a flat index (2-D grid when large).
#include "common.glsl"

layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer G { float g[]; };   // gate rows, stride g_ld
layout(std430, binding = 1) readonly buffer U { float u[]; };   // up rows, stride u_ld
layout(std430, binding = 2) writeonly buffer O { float o[]; };  // [rows, o_ld]

layout(push_constant) uniform PC {
    uint rows, n;
    uint g_off, g_ld;
    uint u_off, u_ld;
    uint o_off, o_ld;
} pc;

void main() {
    uint i = group_linear() * 256u + gl_LocalInvocationID.x;
    if (i >= pc.rows * pc.n) return;
    uint r = i / pc.n, c = i % pc.n;
    float gv = g[pc.g_off + r * pc.g_ld + c];
    float uv = u[pc.u_off + r * pc.u_ld + c];
    o[pc.o_off + r * pc.o_ld + c] = gv / (1.0 + exp(-gv)) * uv;
}
