#version 450
// linear.comp — the plain (no matrix units) tiled matrix multiply, every mode:
//   y[m, n] = alpha · Σ_k x[m, k] · W[n, k] + bias[n]  (+ y[m, n] when accumulating)
// x [M, K] fp32 (row stride ldx), W [N, K] in the weight type (-D W_*), y [M, N]
// fp32 (row stride ldy). Products and sums are fp32: in the f16/bf16 modes only
// the weights are reduced-precision here (this path has no faster narrow
// arithmetic to gain from rounding activations too).
// With flag MASK, row m is written only when tok_adapter[m] == mask_adapter
// (a LoRA adapter applied to some sequences of a batch only).
//
// Each workgroup computes a BM×BN tile of y; each thread a TM×TN block of it
// (rows ty·TM.., columns tx·TN..), reading its operands from shared memory as
// vec4s. The next K-slice is loaded into registers while the current one is
// multiplied. Tile sizes are specialization constants (TM, TN multiples of 4).
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require

layout(constant_id = 0) const uint WG = 256;  // = (BM/TM)·(BN/TN)
layout(constant_id = 1) const uint BM = 128;
layout(constant_id = 2) const uint BN = 128;
layout(constant_id = 3) const uint BK = 16;
layout(constant_id = 4) const uint TM = 8;
layout(constant_id = 5) const uint TN = 8;
layout(local_size_x_id = 0) in;

const uint CS = BN / TN;          // thread columns
const uint LX = BM * BK / WG;     // x elements each thread loads per slice
const uint LW = BN * BK / WG;     // W elements each thread loads per slice

layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 1) readonly buffer Wt { WTYPE w[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) buffer Y { float y[]; };
layout(std430, binding = 4) readonly buffer TA { int tok_adapter[]; };

layout(push_constant) uniform PC {
    uint M, N, K;
    uint x_off, ldx;
    uint w_off, ldw;
    uint y_off, ldy;
    uint b_off;
    uint flags;        // 1 bias, 2 accumulate, 4 mask rows by adapter
    float alpha;
    int mask_adapter;
} pc;

const uint SX = BM / 4u + 1u;     // padded row strides of the staged slices, in vec4
const uint SW = BN / 4u + 1u;
shared vec4 xs[BK * SX];          // [BK][BM/4 + 1]: x slice, transposed
shared vec4 ws[BK * SW];          // [BK][BN/4 + 1]: W slice, transposed

void main() {
    uint tid = gl_LocalInvocationID.x;
    uint tx = tid % CS, ty = tid / CS;
    uint n0 = gl_WorkGroupID.x * BN, m0 = gl_WorkGroupID.y * BM;

    float acc[TM * TN];
    [[unroll]] for (uint i = 0u; i < TM * TN; i++) acc[i] = 0.0;
    float px[LX], pw[LW];

    // Load slice k0 into registers (zero outside the matrices).
    #define LOAD_SLICE(k0)                                                          \
        [[unroll]] for (uint l = 0u; l < LX; l++) {                                            \
            uint e = tid + l * WG, r = e / BK, k = e % BK;                          \
            uint gm = m0 + r, gk = (k0) + k;                                        \
            px[l] = (gm < pc.M && gk < pc.K) ? x[pc.x_off + gm * pc.ldx + gk] : 0.0; \
        }                                                                           \
        [[unroll]] for (uint l = 0u; l < LW; l++) {                                            \
            uint e = tid + l * WG, r = e / BK, k = e % BK;                          \
            uint gn = n0 + r, gk = (k0) + k;                                        \
            pw[l] = (gn < pc.N && gk < pc.K) ? LOADW(w, pc.w_off + gn * pc.ldw + gk) : 0.0; \
        }

    LOAD_SLICE(0u)
    for (uint k0 = 0u; k0 < pc.K; k0 += BK) {
        barrier();
        [[unroll]] for (uint l = 0u; l < LX; l++) {
            uint e = tid + l * WG, r = e / BK, k = e % BK;
            xs[k * SX + r / 4u][r % 4u] = px[l];
        }
        [[unroll]] for (uint l = 0u; l < LW; l++) {
            uint e = tid + l * WG, r = e / BK, k = e % BK;
            ws[k * SW + r / 4u][r % 4u] = pw[l];
        }
        barrier();
        if (k0 + BK < pc.K) {
            LOAD_SLICE(k0 + BK)
        }
        [[unroll]] for (uint k = 0u; k < BK; k++) {
            vec4 a[TM / 4u], b[TN / 4u];
            [[unroll]] for (uint i = 0u; i < TM / 4u; i++) a[i] = xs[k * SX + ty * (TM / 4u) + i];
            [[unroll]] for (uint j = 0u; j < TN / 4u; j++) b[j] = ws[k * SW + tx * (TN / 4u) + j];
            [[unroll]] for (uint i = 0u; i < TM; i++)
                [[unroll]] for (uint j = 0u; j < TN; j++)
                    acc[i * TN + j] = fma(a[i / 4u][i % 4u], b[j / 4u][j % 4u], acc[i * TN + j]);
        }
    }

    [[unroll]] for (uint i = 0u; i < TM; i++) {
        uint gm = m0 + ty * TM + i;
        if (gm >= pc.M) continue;
        if ((pc.flags & 4u) != 0u && tok_adapter[gm] != pc.mask_adapter) continue;
        [[unroll]] for (uint j = 0u; j < TN; j++) {
            uint gn = n0 + tx * TN + j;
            if (gn >= pc.N) continue;
            float v = pc.alpha * acc[i * TN + j];
            if ((pc.flags & 1u) != 0u) v += bias[pc.b_off + gn];
            uint yi = pc.y_off + gm * pc.ldy + gn;
            if ((pc.flags & 2u) != 0u) v += y[yi];
            y[yi] = v;
        }
    }
}
