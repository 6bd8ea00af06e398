#version 450
// swiglu.comp — out[r, c] = silu(gate[r, c]) · up[r, c], silu(g) = g / (1 + e^-g).
// Gate and up are usually the two halves of the fused gate|up projection.
// One thread per element over a flat index (2-D grid when large). OUT16 = 1 (f16)
// or 2 (bf16): one thread per pair of elements, also written as 16-bit pairs to
// o16 (n, o_off, o_ld even).
#include "common.glsl"

layout(constant_id = 0) const uint OUT16 = 0;
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer G { float g[]; };   // gate rows, stride g_ld
layout(std430, binding = 1) readonly buffer U { float u[]; };   // up rows, stride u_ld
layout(std430, binding = 2) writeonly buffer O { float o[]; };  // [rows, o_ld]
layout(std430, binding = 3) writeonly buffer O16 { uint o16[]; }; // [rows, o_ld] 16-bit pairs

layout(push_constant) uniform PC {
    uint rows, n;
    uint g_off, g_ld;
    uint u_off, u_ld;
    uint o_off, o_ld;
} pc;

void main() {
    uint i = group_linear() * 256u + gl_LocalInvocationID.x;
    if (OUT16 != 0u) {
        uint h = pc.n / 2u;
        if (i >= pc.rows * h) return;
        uint r = i / h, c = 2u * (i % h);
        vec2 gv = vec2(g[pc.g_off + r * pc.g_ld + c], g[pc.g_off + r * pc.g_ld + c + 1u]);
        vec2 uv = vec2(u[pc.u_off + r * pc.u_ld + c], u[pc.u_off + r * pc.u_ld + c + 1u]);
        vec2 ov = gv / (1.0 + exp(-gv)) * uv;
        uint oi = pc.o_off + r * pc.o_ld + c;
        o[oi] = ov.x;
        o[oi + 1u] = ov.y;
        o16[oi / 2u] = pack16(ov, OUT16);
        return;
    }
    if (i >= pc.rows * pc.n) return;
    uint r = i / pc.n, c = i % pc.n;
    float gv = g[pc.g_off + r * pc.g_ld + c];
    float uv = u[pc.u_off + r * pc.u_ld + c];
    o[pc.o_off + r * pc.o_ld + c] = gv / (1.0 + exp(-gv)) * uv;
}
