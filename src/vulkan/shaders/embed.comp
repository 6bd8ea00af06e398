#version 450
// embed.comp — embedding gather: out[t, :] = E[tokens[t], :] as fp32.
// A table larger than maxStorageBufferRange is uploaded in row pieces; each
// piece is one dispatch that writes only the tokens whose id falls inside it.
// One workgroup per token (2-D grid when T is large).
#include "common.glsl"

layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer Emb { WTYPE emb[]; };   // piece: [rows, H]
layout(std430, binding = 1) readonly buffer Tok { int tokens[]; };  // [T]
layout(std430, binding = 2) writeonly buffer Out { float outv[]; }; // [T, ld]

layout(push_constant) uniform PC {
    uint T;      // tokens
    uint H;      // hidden size
    uint row0;   // first vocabulary row held by this piece
    uint nrows;  // rows in this piece
    uint out_ld; // row stride of out
} pc;

void main() {
    uint t = group_linear();
    if (t >= pc.T) return;
    uint id = uint(tokens[t]);
    if (id < pc.row0 || id >= pc.row0 + pc.nrows) return;
    uint src = (id - pc.row0) * pc.H;
    for (uint c = gl_LocalInvocationID.x; c < pc.H; c += 256u)
        outv[t * pc.out_ld + c] = LOADW(emb, src + c);
}
