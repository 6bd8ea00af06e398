#version 450
// attention_cmk.comp — grouped-query flash attention on subgroup-scope
// cooperative matrices (GL_KHR_cooperative_matrix: any vendor's matrix units),
// f16 (or bf16 with -DBF16) products with fp32 accumulation. Same bindings, push
// constants and results as attention.comp, plus the 16-bit copy of the output
// (binding 5, pairs packed in uints) that the multiplies read:
//   q [T, nh, D] at q_off + t*q_ld + h*D, k/v [T, nkv, D] likewise (fp32),
//   out [T, nh, D] at o_off + t*o_ld + h*D,
//   span[t] = t's sequence [start, end); query t sees the keys [lo, hi] of
//   attn_keys(t) under the mask (pc.full, pc.window).
//
// A workgroup owns BR = 16·NSG consecutive tokens of one head; each of its NSG
// subgroups owns 16 of them (one fragment row block). Keys from the first token's
// lo to the last token's hi stream through shared memory in blocks of BC, converted
// to 16 bits as they are staged. Per block and subgroup:
//   S [16, BC] = Q·Kᵀ (fragments; Q pre-scaled by scale·log2 e, kept in registers)
//   S goes to shared memory, where two lanes per row mask it (lo ≤ key ≤ hi),
//   update the running max m and sum l, and write P = 2^(S − m) as 16-bit and the
//   row factor α = 2^(m_old − m) to shared memory;
//   O [16, D] = α·O + P·V (fragments).
// Fragment elements belong to rows in a way the implementation chooses; a fragment
// loaded from a table of row numbers tells each lane the row of each of its
// elements (every fragment of the same type maps elements alike), so α scales O in
// registers. Requires 16×16×16 fragments, D a multiple of 16, subgroup size 32,
// q/k/v/o offsets and strides multiples of 4 (vec4 loads) and o16 offsets even.
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_KHR_cooperative_matrix : require
#ifdef BF16
#extension GL_EXT_bfloat16 : require
#define T16 bfloat16_t
const uint KIND = 2u;
#else
#define T16 float16_t
const uint KIND = 1u;
#endif

layout(constant_id = 0) const uint WG = 128;  // 32 · NSG
layout(constant_id = 1) const uint D = 128;   // head_dim
layout(constant_id = 2) const uint NSG = 4;   // subgroups: BR = 16 · NSG tokens per workgroup
layout(constant_id = 3) const uint BC = 32;   // keys per block (multiple of 32)
layout(local_size_x_id = 0) in;

const uint F = 16u;                 // fragment size (M = N = K)
const uint BR = F * NSG;
const uint RS = D / 8u + 1u;        // staged K/V/Q row stride in 16-byte units (8 halves + pad)
const uint PS = BC / 8u + 1u;       // staged P row stride in 16-byte units
const uint DF = D / F;              // fragments along D
const uint CF = BC / F;             // fragments along a key block

#define FA coopmat<T16, gl_ScopeSubgroup, F, F, gl_MatrixUseA>
#define FB coopmat<T16, gl_ScopeSubgroup, F, F, gl_MatrixUseB>
#define FC coopmat<float, gl_ScopeSubgroup, F, F, gl_MatrixUseAccumulator>

layout(std430, binding = 0) readonly buffer Q { vec4 q[]; };
layout(std430, binding = 1) readonly buffer K { vec4 k[]; };
layout(std430, binding = 2) readonly buffer V { vec4 v[]; };
layout(std430, binding = 3) writeonly buffer O { float o[]; };
layout(std430, binding = 4) readonly buffer S { ivec2 span[]; };  // [T]
layout(std430, binding = 5) writeonly buffer O16 { uint o16[]; }; // out as 16-bit pairs

layout(push_constant) uniform PC {
    uint T, nh, nkv;
    uint q_off, q_ld;
    uint k_off, k_ld;
    uint v_off, v_ld;
    uint o_off, o_ld;
    float scale;
    uint full, window;  // the mask (attn_keys)
} pc;

// K and V blocks (BC rows each); before the loop the first BR rows hold Q.
const uint KV_UNITS = (2u * BC > BR ? 2u * BC : BR) * RS;
shared uvec4 kv[KV_UNITS];
shared float ss[NSG * F * BC];       // S of each subgroup, then its output fragments
shared uvec4 ps[NSG * F * PS];       // P of each subgroup, 16-bit
shared float alpha_sh[NSG * F];      // per-row factor of each subgroup
shared float rowtab[F * F];          // element (r, c) = r

// 8 consecutive fp32 values at vec4 index i (zero when !ok), as 16-bit in one unit.
uvec4 stage8(bool ok, uint i, float mul, uint which) {
    vec4 a = vec4(0.0), b = vec4(0.0);
    if (ok) {
        if (which == 0u) { a = q[i]; b = q[i + 1u]; }
        else if (which == 1u) { a = k[i]; b = k[i + 1u]; }
        else { a = v[i]; b = v[i + 1u]; }
    }
    a *= mul;
    b *= mul;
    return uvec4(pack16(a.xy, KIND), pack16(a.zw, KIND), pack16(b.xy, KIND), pack16(b.zw, KIND));
}

void main() {
    uint tid = gl_LocalInvocationID.x, sg = gl_SubgroupID, lane = gl_SubgroupInvocationID;
    uint h = gl_WorkGroupID.y, kvh = h / (pc.nh / pc.nkv);
    uint t0 = gl_WorkGroupID.x * BR;
    uint tlast = min(t0 + BR, pc.T) - 1u;
    const uint U = D / 8u;  // 16-byte units per row

    // Q rows t0.. (scaled by scale·log2 e) and the row-number table into shared memory.
    float qmul = pc.scale * 1.4426950408889634;
    for (uint i = tid; i < BR * U; i += WG) {
        uint r = i / U, u = i % U, t = t0 + r;
        kv[r * RS + u] = stage8(t < pc.T, (pc.q_off + t * pc.q_ld + h * D) / 4u + 2u * u, qmul, 0u);
    }
    for (uint i = tid; i < F * F; i += WG) rowtab[i] = float(i / F);
    barrier();
    FA qa[DF];
    [[unroll]] for (uint j = 0u; j < DF; j++) coopMatLoad(qa[j], kv, sg * F * RS + j * 2u, RS, gl_CooperativeMatrixLayoutRowMajor);
    FC rowid;
    coopMatLoad(rowid, rowtab, 0u, F, gl_CooperativeMatrixLayoutRowMajor);
    FC acc[DF];
    [[unroll]] for (uint j = 0u; j < DF; j++) acc[j] = FC(0.0);

    // This lane's row of the subgroup's 16 (two lanes per row, each BC/2 keys).
    uint r = lane / 2u, half_ = lane % 2u;
    uint t = min(t0 + sg * F + r, pc.T - 1u);
    uvec2 keys = attn_keys(t, span[t], pc.full, pc.window);
    float m = NEG_INF, l = 0.0;

    uint t0c = min(t0, pc.T - 1u);
    uint kfirst = attn_keys(t0c, span[t0c], pc.full, pc.window).x;
    uint klast = attn_keys(tlast, span[tlast], pc.full, pc.window).y;
    for (uint kb = kfirst; kb <= klast; kb += BC) {
        barrier();  // the previous block (or Q) is no longer read
        for (uint i = tid; i < 2u * BC * U; i += WG) {
            uint row = i / U, u = i % U, isv = row / BC, key = kb + row % BC;
            uint base = isv == 0u ? pc.k_off + key * pc.k_ld : pc.v_off + key * pc.v_ld;
            kv[row * RS + u] = stage8(key <= klast, (base + kvh * D) / 4u + 2u * u, 1.0, 1u + isv);
        }
        barrier();

        // S = Q·Kᵀ: K rows are Kᵀ's columns (column-major B).
        FC sc[CF];
        [[unroll]] for (uint n = 0u; n < CF; n++) {
            sc[n] = FC(0.0);
            [[unroll]] for (uint j = 0u; j < DF; j++) {
                FB kt;
                coopMatLoad(kt, kv, n * F * RS + j * 2u, RS, gl_CooperativeMatrixLayoutColumnMajor);
                sc[n] = coopMatMulAdd(qa[j], kt, sc[n]);
            }
            coopMatStore(sc[n], ss, sg * F * BC + n * F, BC, gl_CooperativeMatrixLayoutRowMajor);
        }
        subgroupMemoryBarrierShared();
        subgroupBarrier();

        // Online softmax of this lane's half row.
        const uint HC = BC / 2u;
        float sv[HC];
        float mb = NEG_INF;
        [[unroll]] for (uint c = 0u; c < HC; c++) {
            uint col = half_ * HC + c, key = kb + col;
            float x = ss[(sg * F + r) * BC + col];
            sv[c] = (key >= keys.x && key <= keys.y) ? x : NEG_INF;
            mb = max(mb, sv[c]);
        }
        mb = max(mb, subgroupShuffleXor(mb, 1u));
        float mn = max(m, mb);
        float alpha = mn == NEG_INF ? 1.0 : exp2(m - mn);  // m = -inf, mn finite: 0
        float ls = 0.0;
        uint pk[HC / 2u];
        [[unroll]] for (uint c = 0u; c < HC; c += 2u) {
            float p0 = sv[c] == NEG_INF ? 0.0 : exp2(sv[c] - mn);
            float p1 = sv[c + 1u] == NEG_INF ? 0.0 : exp2(sv[c + 1u] - mn);
            ls += p0 + p1;
            pk[c / 2u] = pack16(vec2(p0, p1), KIND);
        }
        ls += subgroupShuffleXor(ls, 1u);
        l = alpha * l + ls;
        m = mn;
        uint pb = (sg * F + r) * PS + half_ * (HC / 8u);
        [[unroll]] for (uint u = 0u; u < HC / 8u; u++)
            ps[pb + u] = uvec4(pk[4u * u], pk[4u * u + 1u], pk[4u * u + 2u], pk[4u * u + 3u]);
        if (half_ == 0u) alpha_sh[sg * F + r] = alpha;
        subgroupMemoryBarrierShared();
        subgroupBarrier();

        // O = α·O + P·V
        [[unroll]] for (uint j = 0u; j < DF; j++)
            [[unroll]] for (int e = 0; e < acc[j].length(); e++) acc[j][e] *= alpha_sh[sg * F + uint(rowid[e])];
        [[unroll]] for (uint kk = 0u; kk < CF; kk++) {
            FA pa;
            coopMatLoad(pa, ps, sg * F * PS + kk * 2u, PS, gl_CooperativeMatrixLayoutRowMajor);
            [[unroll]] for (uint j = 0u; j < DF; j++) {
                FB vb;
                coopMatLoad(vb, kv, (BC + kk * F) * RS + j * 2u, RS, gl_CooperativeMatrixLayoutRowMajor);
                acc[j] = coopMatMulAdd(pa, vb, acc[j]);
            }
        }
    }

    // out = O / l, row by row through the subgroup's scratch (rows past T dropped).
    if (half_ == 0u) alpha_sh[sg * F + r] = 1.0 / l;
    subgroupMemoryBarrierShared();
    subgroupBarrier();
    [[unroll]] for (uint j = 0u; j < DF; j++) {
        [[unroll]] for (int e = 0; e < acc[j].length(); e++) acc[j][e] *= alpha_sh[sg * F + uint(rowid[e])];
        coopMatStore(acc[j], ss, sg * F * BC, F, gl_CooperativeMatrixLayoutRowMajor);
        subgroupMemoryBarrierShared();
        subgroupBarrier();
        // 32 lanes: lane → row lane/2, 8 columns from (lane%2)·8
        uint rr = lane / 2u, c0 = (lane % 2u) * 8u, tt = t0 + sg * F + rr;
        if (tt < pc.T) {
            uint ob = pc.o_off + tt * pc.o_ld + h * D + j * F + c0;
            [[unroll]] for (uint c = 0u; c < 8u; c += 2u) {
                vec2 w = vec2(ss[sg * F * BC + rr * F + c0 + c], ss[sg * F * BC + rr * F + c0 + c + 1u]);
                o[ob + c] = w.x;
                o[ob + c + 1u] = w.y;
                o16[(ob + c) / 2u] = pack16(w, KIND);
            }
        }
        subgroupBarrier();
    }
}
