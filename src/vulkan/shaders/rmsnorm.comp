#version 450
// rmsnorm.comp — y[r, :] = x[r, :] / sqrt(mean(x[r, :]²) + eps) · w, in fp32.
// One workgroup per row; the sum of squares is a tree reduction in shared memory.
// OUT16 = 1 (f16) or 2 (bf16) also writes y as 16-bit pairs to y16 (n, y_off and
// y_ld even; BK even).
#include "common.glsl"

layout(constant_id = 0) const uint OUT16 = 0;
// BM, BK > 0: the 16-bit copy in the blocked layout the matrix-unit kernel reads
// (rows in groups of BM, each group n/BK consecutive BM×BK blocks; n a multiple of
// BK, y16 from its start); the fp32 y stays row-major.
layout(constant_id = 1) const uint BM = 0;
layout(constant_id = 2) const uint BK = 0;
layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer X { float x[]; };   // [rows, x_ld]
layout(std430, binding = 1) readonly buffer W { float w[]; };   // [n] (unused if !has_w)
layout(std430, binding = 2) writeonly buffer Y { float y[]; };  // [rows, y_ld]
layout(std430, binding = 3) writeonly buffer Y16 { uint y16[]; }; // [rows, y_ld] 16-bit pairs

layout(push_constant) uniform PC {
    uint rows;
    uint n;
    uint x_off, x_ld;
    uint y_off, y_ld;
    float eps;
    uint has_w;  // 1: scale by w; 2 (OUT16): write only the 16-bit copy
} pc;

shared float partial[256];

void main() {
    uint r = group_linear();
    if (r >= pc.rows) return;
    uint tid = gl_LocalInvocationID.x;
    uint xb = pc.x_off + r * pc.x_ld;
    float s = 0.0;
    for (uint c = tid; c < pc.n; c += 256u) {
        float v = x[xb + c];
        s = fma(v, v, s);
    }
    partial[tid] = s;
    barrier();
    for (uint h = 128u; h > 0u; h >>= 1) {
        if (tid < h) partial[tid] += partial[tid + h];
        barrier();
    }
    float inv = 1.0 / sqrt(partial[0] / float(pc.n) + pc.eps);
    uint yb = pc.y_off + r * pc.y_ld;
    if (OUT16 != 0u) {
        for (uint c = 2u * tid; c < pc.n; c += 512u) {
            vec2 v = vec2(x[xb + c], x[xb + c + 1u]) * inv;
            if ((pc.has_w & 1u) != 0u) v *= vec2(w[c], w[c + 1u]);
            if ((pc.has_w & 2u) == 0u) {  // 2: the 16-bit copy alone
                y[yb + c] = v.x;
                y[yb + c + 1u] = v.y;
            }
            uint e = BM > 0u ? blocked_index(r, c, pc.n, BM, BK) : yb + c;
            y16[e / 2u] = pack16(v, OUT16);
        }
        return;
    }
    for (uint c = tid; c < pc.n; c += 256u) {
        float v = x[xb + c] * inv;
        y[yb + c] = pc.has_w != 0u ? v * w[c] : v;
    }
}
