#version 450
// attention_cm2.comp — the matrix-unit path of attention on devices with
// VK_NV_cooperative_matrix2 (f16 mode, or bf16 with -DBF16): grouped-query
// flash attention over variable-length sequences packed without padding, with
// workgroup-scope cooperative matrices. Same bindings, push constants and
// results as attention.comp:
//   q [T, nh, D] at q_off + t*q_ld + h*D, k/v [T, nkv, D] likewise (fp32),
//   out [T, nh, D] at o_off + t*o_ld + h*D (fp32, and a 16-bit copy in o16),
//   span[t] = t's sequence [start, end); query t sees the keys [lo, hi] of
//   attn_keys(t) under the mask (pc.full, pc.window).
// Query head h reads kv head h / (nh / nkv).
//
// A workgroup owns Br consecutive tokens of one head (the tokens may belong to
// several sequences: every row masks its own key range) and walks the keys
// lo(first token) .. hi(last token) in blocks of Bc:
//   S [Br, Bc] = Q16 · K16ᵀ          (fp32 accumulate; Q pre-scaled by scale·log2 e)
//   S = -inf outside lo(t) <= key <= hi(t) (only in blocks crossing an edge of a range)
//   m' = max(m, rowmax S),  P = 2^(S - m'),  α = 2^(m - m')
//   l = α·l + rowsum P,  O = α·O + P16 · V16   (fp32 accumulate)
// and finally out = O / l. Softmax is in base 2 with log2 e folded into Q, which
// is the same softmax. m and l are [Br, Bc] matrices whose rows repeat one value;
// α is widened to [Br, D] for O by a row reduction into a [Br, D] result (or,
// with -DROW_SMEM, through shared memory). Loads go through clamp-to-constant
// tensor layouts: rows at or past T read zero, stores of those rows are dropped.
// fp32 tiles are loaded as fp32 accumulator matrices and converted to the
// 16-bit A/B matrices (cooperativeMatrixConversions).
// Host requirements: q_off + h*D, k_off + kvh*D, v_off + kvh*D, o_off + h*D
// multiples of 4 (16-byte aligned fp32 bases); D, Br, Bc multiples of 16.
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_NV_cooperative_matrix2 : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#ifdef BF16
#extension GL_EXT_bfloat16 : require
#define T16 bfloat16_t
#else
#define T16 float16_t
#endif

layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint D = 128;   // head_dim
layout(constant_id = 2) const uint Br = 64;   // query rows (tokens) per workgroup
layout(constant_id = 3) const uint Bc = 64;   // keys per block
layout(constant_id = 4) const bool OUT16 = true; // also write the 16-bit copy (binding 5)
// OBM > 0: the 16-bit copy in the blocked layout the multiplies read (rows in groups of
// OBM, each group nh·D/OBK consecutive OBM×OBK blocks; o_off = 0, o_ld = nh·D), staged
// through shared memory; OUT32 = false: no fp32 output (nothing reads it).
layout(constant_id = 5) const uint OBM = 0;
layout(constant_id = 6) const uint OBK = 16;
layout(constant_id = 7) const bool OUT32 = true;
// IN16: q, k, v in the 16-bit type (offsets and strides in its elements), loaded as the
// A/B matrices directly; the scale is applied to S instead of Q.
layout(constant_id = 8) const bool IN16 = false;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer Q { float q[]; };
layout(std430, binding = 1) readonly buffer K { float k[]; };
layout(std430, binding = 2) readonly buffer V { float v[]; };
layout(std430, binding = 0) readonly buffer Q16 { T16 q16[]; };
layout(std430, binding = 1) readonly buffer K16 { T16 k16[]; };
layout(std430, binding = 2) readonly buffer V16 { T16 v16[]; };
layout(std430, binding = 3) writeonly buffer O { float o[]; };
layout(std430, binding = 4) readonly buffer S { ivec2 span[]; };  // [T]
layout(std430, binding = 5) writeonly buffer O16 { T16 o16[]; };  // out as f16 / bf16
layout(std430, binding = 5) writeonly buffer O16v { uvec4 o16v[]; };

// Offsets and row strides in floats.
layout(push_constant) uniform PC {
    uint T, nh, nkv;
    uint q_off, q_ld;
    uint k_off, k_ld;
    uint v_off, v_ld;
    uint o_off, o_ld;
    float scale;
    uint full, window;  // the mask (attn_keys)
} pc;

const float LOG2E = 1.4426950408889634;

#define MAT_S coopmat<float, gl_ScopeWorkgroup, Br, Bc, gl_MatrixUseAccumulator>
#define MAT_O coopmat<float, gl_ScopeWorkgroup, Br, D, gl_MatrixUseAccumulator>

// Visible key range of each row of the block: [row_lo[r], row_hi[r]]. Rows past
// T copy the range of token T-1, so that they never become fully masked.
shared uint row_lo[Br];
shared uint row_hi[Br];
#ifdef ROW_SMEM
shared float row_f[Br * Bc];  // a [Br, Bc] row-constant matrix, row-major
#endif
shared uvec4 o_stage[OBM > 0u ? Br * D / 8u : 1u];  // OBM: the 16-bit output tile, row-major

float mask_el(const in uint r, const in uint c, const in float s, const in uint kb) {
    uint key = kb + c;
    return key >= row_lo[r] && key <= row_hi[r] ? s : NEG_INF;
}

float max_el(const in uint r, const in uint c, const in float a, const in float b) {
    return max(a, b);
}

// 2^(x - m); a masked x (-inf) gives exactly 0, also when m is -inf too.
float exp2_shift_el(const in uint r, const in uint c, const in float x, const in float m) {
    return x == NEG_INF ? 0.0 : exp2(x - m);
}

float scale_add_el(const in uint r, const in uint c, const in float l, const in float a, const in float s) {
    return l * a + s;
}

float mul_el(const in uint r, const in uint c, const in float x, const in float a) {
    return x * a;
}

float div_el(const in uint r, const in uint c, const in float x, const in float l) {
    return x / l;
}

#ifdef ROW_SMEM
float mul_row_el(const in uint r, const in uint c, const in float x) {
    return x * row_f[r * Bc];
}

float div_row_el(const in uint r, const in uint c, const in float x) {
    return x / row_f[r * Bc];
}
#endif

float max2(const in float a, const in float b) {
    return max(a, b);
}

float add2(const in float a, const in float b) {
    return a + b;
}

// Combine for widening a row-constant matrix: all values of a row are equal.
float first2(const in float a, const in float b) {
    return a;
}

void main() {
    uint t0 = gl_WorkGroupID.x * Br, h = gl_WorkGroupID.y;
    if (t0 >= pc.T) return;  // whole workgroup: uniform
    uint tlast = min(t0 + Br, pc.T) - 1u;
    uint kvh = h / (pc.nh / pc.nkv);
    // Key ranges never shrink from one token to the next (attn_keys): the block needs
    // the keys first.x .. last.y, and a key block inside [last.x, first.y] is visible
    // to every row (no mask).
    uvec2 first = attn_keys(t0, span[t0], pc.full, pc.window);
    uvec2 last = attn_keys(tlast, span[tlast], pc.full, pc.window);

    for (uint r = gl_LocalInvocationID.x; r < Br; r += WG) {
        uint t = min(t0 + r, pc.T - 1u);
        uvec2 keys = attn_keys(t, span[t], pc.full, pc.window);
        row_lo[r] = keys.x;
        row_hi[r] = keys.y;
    }
    barrier();

    // Layouts of the token-major [T, D] head slices; rows >= T read zero.
    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> tq = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> tk = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> tv = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    tq = setTensorLayoutDimensionNV(tq, pc.T, D);
    tq = setTensorLayoutStrideNV(tq, pc.q_ld, 1);
    tk = setTensorLayoutDimensionNV(tk, pc.T, D);
    tk = setTensorLayoutStrideNV(tk, pc.k_ld, 1);
    tv = setTensorLayoutDimensionNV(tv, pc.T, D);
    tv = setTensorLayoutStrideNV(tv, pc.v_ld, 1);
    tensorViewNV<2, false, 1, 0> kt_view = createTensorViewNV(2, false, 1, 0);  // K[key, d] read as B[d, key]
    uint qb = pc.q_off + h * D, kb0 = pc.k_off + kvh * D, vb0 = pc.v_off + kvh * D;

    // qa [Br, D] = Q · scale · log2 e in the 16-bit type
    coopmat<T16, gl_ScopeWorkgroup, Br, D, gl_MatrixUseA> qa;
    if (IN16) {
        coopMatLoadTensorNV(qa, q16, qb, sliceTensorLayoutNV(tq, t0, Br, 0, D));
    } else {
        MAT_O qf;
        coopMatLoadTensorNV(qf, q, qb, sliceTensorLayoutNV(tq, t0, Br, 0, D));
        qf = qf * (pc.scale * LOG2E);
        qa = coopmat<T16, gl_ScopeWorkgroup, Br, D, gl_MatrixUseA>(qf);
    }

    MAT_O acc = MAT_O(0.0);      // O, unnormalised
    MAT_S m = MAT_S(NEG_INF);    // running row max (base-2 logits), rows constant
    MAT_S l = MAT_S(0.0);        // running row sum, rows constant

    for (uint kb = first.x; kb <= last.y; kb += Bc) {
        // kt [D, Bc] = K[kb .. kb+Bc)ᵀ, keys past T read zero
        coopmat<T16, gl_ScopeWorkgroup, D, Bc, gl_MatrixUseB> kt;
        // vt [Bc, D] = V[kb .. kb+Bc); loaded here so that the load overlaps the softmax
        coopmat<T16, gl_ScopeWorkgroup, Bc, D, gl_MatrixUseB> vt;
        if (IN16) {
            coopMatLoadTensorNV(kt, k16, kb0, sliceTensorLayoutNV(tk, kb, Bc, 0, D), kt_view);
            coopMatLoadTensorNV(vt, v16, vb0, sliceTensorLayoutNV(tv, kb, Bc, 0, D));
        } else {
            coopmat<float, gl_ScopeWorkgroup, D, Bc, gl_MatrixUseAccumulator> kf;
            coopMatLoadTensorNV(kf, k, kb0, sliceTensorLayoutNV(tk, kb, Bc, 0, D), kt_view);
            kt = coopmat<T16, gl_ScopeWorkgroup, D, Bc, gl_MatrixUseB>(kf);
            coopmat<float, gl_ScopeWorkgroup, Bc, D, gl_MatrixUseAccumulator> vf;
            coopMatLoadTensorNV(vf, v, vb0, sliceTensorLayoutNV(tv, kb, Bc, 0, D));
            vt = coopmat<T16, gl_ScopeWorkgroup, Bc, D, gl_MatrixUseB>(vf);
        }

        // s [Br, Bc] = scores in base-2 units; masked entries -inf
        MAT_S s = coopMatMulAdd(qa, kt, MAT_S(0.0));
        if (IN16) s = s * (pc.scale * LOG2E);
        if (!(kb >= last.x && kb + Bc <= first.y + 1u)) coopMatPerElementNV(s, s, mask_el, kb);

        MAT_S mb;
        coopMatReduceNV(mb, s, gl_CooperativeMatrixReduceRowNV, max2);
        MAT_S mn;
        coopMatPerElementNV(mn, m, max_el, mb);       // m' = max(m, rowmax s)
        MAT_S p;
        coopMatPerElementNV(p, s, exp2_shift_el, mn);  // P = 2^(s - m')
        MAT_S alpha;
        coopMatPerElementNV(alpha, m, exp2_shift_el, mn);  // α = 2^(m - m'), 0 while m = -inf
        m = mn;
        MAT_S ps;
        coopMatReduceNV(ps, p, gl_CooperativeMatrixReduceRowNV, add2);
        coopMatPerElementNV(l, l, scale_add_el, alpha, ps);  // l = α·l + rowsum P

        // O = α·O, α per row
#ifdef ROW_SMEM
        barrier();  // the previous block's readers of row_f are done
        coopMatStore(alpha, row_f, 0, Bc, gl_CooperativeMatrixLayoutRowMajor);
        barrier();
        coopMatPerElementNV(acc, acc, mul_row_el);
#else
        MAT_O alpha_o;
        coopMatReduceNV(alpha_o, alpha, gl_CooperativeMatrixReduceRowNV, first2);
        coopMatPerElementNV(acc, acc, mul_el, alpha_o);
#endif

        // O += P16 · V16
        coopmat<T16, gl_ScopeWorkgroup, Br, Bc, gl_MatrixUseA> pa = coopmat<T16, gl_ScopeWorkgroup, Br, Bc, gl_MatrixUseA>(p);
        acc = coopMatMulAdd(pa, vt, acc);
    }

    // out = O / l (l > 0: key t is always visible to query t)
#ifdef ROW_SMEM
    barrier();
    coopMatStore(l, row_f, 0, Bc, gl_CooperativeMatrixLayoutRowMajor);
    barrier();
    coopMatPerElementNV(acc, acc, div_row_el);
#else
    MAT_O l_o;
    coopMatReduceNV(l_o, l, gl_CooperativeMatrixReduceRowNV, first2);
    coopMatPerElementNV(acc, acc, div_el, l_o);
#endif

    // Rows >= T are dropped by the clamp-to-constant layouts.
    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> to = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    to = setTensorLayoutDimensionNV(to, pc.T, D);
    to = setTensorLayoutStrideNV(to, pc.o_ld, 1);
    if (OUT32) coopMatStoreTensorNV(acc, o, pc.o_off + h * D, sliceTensorLayoutNV(to, t0, Br, 0, D));
    if (OUT16 && OBM > 0u) {
        coopmat<T16, gl_ScopeWorkgroup, Br, D, gl_MatrixUseAccumulator> a16 =
            coopmat<T16, gl_ScopeWorkgroup, Br, D, gl_MatrixUseAccumulator>(acc);
        coopMatStore(a16, o_stage, 0, D / 8u, gl_CooperativeMatrixLayoutRowMajor);
        barrier();
        for (uint u = gl_LocalInvocationID.x; u < Br * D / 8u; u += WG) {
            uint t = t0 + u / (D / 8u), col = h * D + (u % (D / 8u)) * 8u;
            if (t < pc.T) o16v[blocked_index(t, col, pc.o_ld, OBM, OBK) / 8u] = o_stage[u];
        }
    } else if (OUT16) {
        // The base must be 16-byte aligned (8 halves): round it down and start
        // the slice at the remainder column instead.
        uint b16 = pc.o_off + h * D, c16 = b16 & 7u;
        tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> t16 = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
        t16 = setTensorLayoutDimensionNV(t16, pc.T, c16 + D);
        t16 = setTensorLayoutStrideNV(t16, pc.o_ld, 1);
        coopmat<T16, gl_ScopeWorkgroup, Br, D, gl_MatrixUseAccumulator> a16 =
            coopmat<T16, gl_ScopeWorkgroup, Br, D, gl_MatrixUseAccumulator>(acc);
        coopMatStoreTensorNV(a16, o16, b16 - c16, sliceTensorLayoutNV(t16, t0, Br, c16, D));
    }
}
