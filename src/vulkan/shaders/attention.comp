#version 450
// attention.comp — grouped-query attention over variable-length sequences
// packed without padding, flash style: keys and values stream through shared
// memory in tiles of BK and each query keeps a running max, running sum and
// output accumulator (online softmax); no T×T score matrix exists anywhere.
//   q [T, nh, D] at q_off + t*q_ld + h*D, k/v [T, nkv, D] likewise,
//   out [T, nh, D] at o_off + t*o_ld + h*D,
//   span[t] = t's sequence [start, end); query t sees the keys attn_keys(t) gives
//   under the mask (pc.full, pc.window): causal start..t, full start..end-1, a
//   sliding window the last `window` of start..t.
// Query head h reads kv head h / (nh / nkv). Scores, softmax and sums are fp32.
//
// A workgroup handles BT = WG/TPQ consecutive tokens (possibly from several
// sequences: each masks its own key range) and QPT query heads of one kv group,
// so every K/V tile it stages serves BT·QPT queries. TPQ threads share a token,
// each holding D/TPQ of the dimensions of its QPT queries (vec4 i*TPQ + part);
// partial dot products are summed across the TPQ lanes with subgroup shuffles,
// so TPQ must divide the subgroup size. Keys are folded into the running
// softmax KC at a time. D must be a multiple of 4·TPQ.
#include "common.glsl"
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require

layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint D = 128;
layout(constant_id = 2) const uint TPQ = 8;
layout(constant_id = 3) const uint QPT = 4;   // query heads per thread; divides nh/nkv
layout(constant_id = 4) const uint BK = 32;   // keys per staged tile
layout(constant_id = 5) const uint KC = 8;    // keys per softmax update; divides BK
layout(constant_id = 6) const uint OUT16 = 0; // 1 f16, 2 bf16: also write o as 16-bit pairs to o16
layout(local_size_x_id = 0) in;

const uint BT = WG / TPQ;        // tokens per workgroup
const uint D4 = D / 4u;          // vec4 per head row
const uint DV = D4 / TPQ;        // vec4 per thread

layout(std430, binding = 0) readonly buffer Q { vec4 q[]; };
layout(std430, binding = 1) readonly buffer K { vec4 k[]; };
layout(std430, binding = 2) readonly buffer V { vec4 v[]; };
layout(std430, binding = 3) writeonly buffer O { vec4 o[]; };
layout(std430, binding = 4) readonly buffer S { ivec2 span[]; };  // [T]
layout(std430, binding = 5) writeonly buffer O16 { uvec2 o16[]; }; // o as 16-bit, 4 per uvec2

// Offsets and row strides in floats (multiples of 4).
layout(push_constant) uniform PC {
    uint T, nh, nkv;
    uint q_off, q_ld;
    uint k_off, k_ld;
    uint v_off, v_ld;
    uint o_off, o_ld;
    float scale;
    uint full, window;  // the mask (attn_keys)
} pc;

shared vec4 ks[BK * D4];  // [BK][D/4]
shared vec4 vs[BK * D4];  // [BK][D/4]

void main() {
    uint tid = gl_LocalInvocationID.x;
    uint tt = tid / TPQ, part = tid % TPQ;
    uint t0 = gl_WorkGroupID.x * BT;
    uint h0 = gl_WorkGroupID.y * QPT;
    if (t0 >= pc.T) return;  // whole workgroup: uniform
    uint t = t0 + tt;
    bool valid = t < pc.T;
    uint tq = valid ? t : pc.T - 1u;
    uint tlast = min(t0 + BT, pc.T) - 1u;
    uint kvh = h0 / (pc.nh / pc.nkv);
    uint kfirst = attn_keys(t0, span[t0], pc.full, pc.window).x;    // the keys of the block's tokens
    uint klast = attn_keys(tlast, span[tlast], pc.full, pc.window).y;
    uvec2 mine = attn_keys(tq, span[tq], pc.full, pc.window);       // and of this token

    vec4 qr[QPT][DV], acc[QPT][DV];
    float m[QPT], l[QPT];
    [[unroll]] for (uint h = 0u; h < QPT; h++) {
        uint qb = (pc.q_off + tq * pc.q_ld + (h0 + h) * D) / 4u;
        [[unroll]] for (uint i = 0u; i < DV; i++) {
            qr[h][i] = q[qb + i * TPQ + part] * pc.scale;
            acc[h][i] = vec4(0.0);
        }
        m[h] = NEG_INF;
        l[h] = 0.0;
    }
    uint kb4 = (pc.k_off + kvh * D) / 4u, vb4 = (pc.v_off + kvh * D) / 4u;

    for (uint kb = kfirst; kb <= klast; kb += BK) {
        barrier();
        for (uint e = tid; e < BK * D4; e += WG) {
            uint j = e / D4, d = e % D4, key = kb + j;
            bool in_range = key <= klast;
            ks[e] = in_range ? k[kb4 + key * (pc.k_ld / 4u) + d] : vec4(0.0);
            vs[e] = in_range ? v[vb4 + key * (pc.v_ld / 4u) + d] : vec4(0.0);
        }
        barrier();
        for (uint jc = 0u; jc < BK && kb + jc <= klast; jc += KC) {
            // s[h][j] = q_h · k_(kb+jc+j), summed over the TPQ lanes of this token
            float s[QPT][KC];
            [[unroll]] for (uint j = 0u; j < KC; j++) {
                vec4 kv[DV];
                [[unroll]] for (uint i = 0u; i < DV; i++) kv[i] = ks[(jc + j) * D4 + i * TPQ + part];
                [[unroll]] for (uint h = 0u; h < QPT; h++) {
                    float dsum = 0.0;
                    [[unroll]] for (uint i = 0u; i < DV; i++) dsum += dot(qr[h][i], kv[i]);
                    s[h][j] = dsum;
                }
            }
            [[unroll]] for (uint h = 0u; h < QPT; h++)
                [[unroll]] for (uint j = 0u; j < KC; j++)
                    [[unroll]] for (uint off = 1u; off < TPQ; off <<= 1) s[h][j] += subgroupShuffleXor(s[h][j], off);
            // fold the chunk into each query's running softmax; p replaces s
            [[unroll]] for (uint h = 0u; h < QPT; h++) {
                float mt = m[h];
                [[unroll]] for (uint j = 0u; j < KC; j++) {
                    uint key = kb + jc + j;
                    bool ok = valid && key >= mine.x && key <= mine.y;
                    s[h][j] = ok ? s[h][j] : NEG_INF;
                    mt = max(mt, s[h][j]);
                }
                float c = mt > NEG_INF && m[h] > NEG_INF ? exp(m[h] - mt) : (mt > NEG_INF ? 0.0 : 1.0);
                l[h] *= c;
                [[unroll]] for (uint i = 0u; i < DV; i++) acc[h][i] *= c;
                [[unroll]] for (uint j = 0u; j < KC; j++) {
                    float p = s[h][j] > NEG_INF ? exp(s[h][j] - mt) : 0.0;
                    l[h] += p;
                    s[h][j] = p;
                }
                m[h] = mt;
            }
            [[unroll]] for (uint j = 0u; j < KC; j++) {
                vec4 vv[DV];
                [[unroll]] for (uint i = 0u; i < DV; i++) vv[i] = vs[(jc + j) * D4 + i * TPQ + part];
                [[unroll]] for (uint h = 0u; h < QPT; h++)
                    [[unroll]] for (uint i = 0u; i < DV; i++) acc[h][i] = fma(vec4(s[h][j]), vv[i], acc[h][i]);
            }
        }
    }
    if (valid) {
        [[unroll]] for (uint h = 0u; h < QPT; h++) {
            uint ob = (pc.o_off + t * pc.o_ld + (h0 + h) * D) / 4u;
            float inv = 1.0 / l[h];
            [[unroll]] for (uint i = 0u; i < DV; i++) {
                vec4 ov = acc[h][i] * inv;
                o[ob + i * TPQ + part] = ov;
                if (OUT16 != 0u) o16[ob + i * TPQ + part] = uvec2(pack16(ov.xy, OUT16), pack16(ov.zw, OUT16));
            }
        }
    }
}
