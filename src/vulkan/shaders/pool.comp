#version 450
// pool.comp — one row per sequence from hidden [T, H]: the last token, the mean
// over the sequence, or the first token; optionally L2-normalised
// (x / max(‖x‖, 1e-12), as torch.nn.functional.normalize). Also gathers each
// sequence's last token for the classification head (kind 0, no norm).
// One workgroup per sequence.
#include "common.glsl"

layout(local_size_x = 256) in;

layout(std430, binding = 0) readonly buffer Hd { float hid[]; };     // [T, h_ld]
layout(std430, binding = 1) readonly buffer SS { int seq_start[]; }; // [B+1]
layout(std430, binding = 2) writeonly buffer O { float o[]; };       // [B, H]

layout(push_constant) uniform PC {
    uint B, H, h_ld;
    uint kind;       // 0 last, 1 mean, 2 first (xf_pooling)
    uint normalize;
} pc;

shared float partial[256];

// The pooled value of column c of sequence [s0, s1).
float pooled(uint c, uint s0, uint s1) {
    if (pc.kind == 1u) {
        float v = 0.0;
        for (uint t = s0; t < s1; t++) v += hid[t * pc.h_ld + c];
        return v / float(s1 - s0);
    }
    uint t = pc.kind == 0u ? s1 - 1u : s0;
    return hid[t * pc.h_ld + c];
}

void main() {
    uint b = group_linear();
    if (b >= pc.B) return;
    uint tid = gl_LocalInvocationID.x;
    uint s0 = uint(seq_start[b]), s1 = uint(seq_start[b + 1]);
    float scale = 1.0;
    if (pc.normalize != 0u) {  // uniform branch: barriers inside are fine
        float ss = 0.0;
        for (uint c = tid; c < pc.H; c += 256u) {
            float v = pooled(c, s0, s1);
            ss = fma(v, v, ss);
        }
        partial[tid] = ss;
        barrier();
        for (uint k = 128u; k > 0u; k >>= 1) {
            if (tid < k) partial[tid] += partial[tid + k];
            barrier();
        }
        scale = 1.0 / max(sqrt(partial[0]), 1e-12);
    }
    for (uint c = tid; c < pc.H; c += 256u) o[b * pc.H + c] = pooled(c, s0, s1) * scale;
}
