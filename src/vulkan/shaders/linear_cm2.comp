#version 450
// linear_cm2.comp — the matrix-unit path of linear on devices with
// VK_NV_cooperative_matrix2: workgroup-scope cooperative matrices loaded and
// stored through tensor layouts, so that the driver stages the tiles itself.
//   y[m, n] = alpha · Σ_k x[m, k] · W[n, k] + bias[n]  (+ y[m, n] when accumulating)
// x [M, K] and W [N, K] in the mode's 16-bit type T (f16, or bf16 with BF16);
// products accumulate in fp32; y [M, N] fp32.
// GLU variant: W holds the gate rows [0, N) and then the up rows [gate_rows, ...)
// (push constant b_off = gate_rows), and the kernel writes
//   act[m, n] = silu(g[m, n]) · u[m, n]   (act [M, N] in T, ldy/y_off its layout)
// instead of y: the gate|up product and SwiGLU in one pass.
// A workgroup computes one BM×BN tile; K advances in slices of BK. Loads outside
// [M, K] / [N, K] read zero (clamp-to-constant layouts) and stores outside
// [M, N] are dropped, so any shape works; VEC (K, ldx, ldw, x_off, w_off all
// multiples of 8) addresses x and W as 16-byte units, which lets the driver use
// wide loads.
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_NV_cooperative_matrix2 : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#ifdef BF16
#extension GL_EXT_bfloat16 : require
#define T bfloat16_t
#else
#define T float16_t
#endif

layout(constant_id = 0) const uint WG = 256;
layout(constant_id = 1) const uint BM = 128;
layout(constant_id = 2) const uint BN = 128;
layout(constant_id = 3) const uint BK = 32;
layout(constant_id = 4) const bool VEC = true;
layout(local_size_x_id = 0) in;

layout(std430, binding = 0) readonly buffer X { T x[]; };
layout(std430, binding = 0) readonly buffer X8 { uvec4 x8[]; };
layout(std430, binding = 1) readonly buffer Wt { T w[]; };
layout(std430, binding = 1) readonly buffer Wt8 { uvec4 w8[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
#ifdef GLU
layout(std430, binding = 3) writeonly buffer Y { T y[]; };
#else
layout(std430, binding = 3) buffer Y { float y[]; };
#endif

layout(push_constant) uniform PC {
    uint M, N, K;
    uint x_off, ldx;
    uint w_off, ldw;
    uint y_off, ldy;
    uint b_off;        // bias offset; GLU: first row of the up half of W
    uint flags;        // 1 bias, 2 accumulate (4, row masks, never reaches this kernel)
    float alpha;
    int mask_adapter;
} pc;

#define ACC coopmat<float, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator>

float add_bias(const in uint r, const in uint c, const in float v, const in uint n0) {
    return v + bias[pc.b_off + n0 + c];
}

void main() {
    uint n0 = gl_WorkGroupID.x * BN, m0 = gl_WorkGroupID.y * BM;

    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> tx = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> tw = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    tx = setTensorLayoutDimensionNV(tx, pc.M, pc.K);
    tx = setTensorLayoutStrideNV(tx, pc.ldx, 1);
    tensorViewNV<2, false, 1, 0> wt = createTensorViewNV(2, false, 1, 0);  // W[n, k] read as B[k, n]

    ACC acc = ACC(0.0);
#ifdef GLU
    ACC acc_u = ACC(0.0);
    uint up0 = pc.b_off;
    tw = setTensorLayoutDimensionNV(tw, up0 + pc.N, pc.K);
#else
    tw = setTensorLayoutDimensionNV(tw, pc.N, pc.K);
#endif
    tw = setTensorLayoutStrideNV(tw, pc.ldw, 1);

    for (uint k0 = 0u; k0 < pc.K; k0 += BK) {
        coopmat<T, gl_ScopeWorkgroup, BM, BK, gl_MatrixUseA> a;
        coopmat<T, gl_ScopeWorkgroup, BK, BN, gl_MatrixUseB> b;
        if (VEC) {
            coopMatLoadTensorNV(a, x8, pc.x_off / 8u, sliceTensorLayoutNV(tx, m0, BM, k0, BK));
            coopMatLoadTensorNV(b, w8, pc.w_off / 8u, sliceTensorLayoutNV(tw, n0, BN, k0, BK), wt);
        } else {
            coopMatLoadTensorNV(a, x, pc.x_off, sliceTensorLayoutNV(tx, m0, BM, k0, BK));
            coopMatLoadTensorNV(b, w, pc.w_off, sliceTensorLayoutNV(tw, n0, BN, k0, BK), wt);
        }
        acc = coopMatMulAdd(a, b, acc);
#ifdef GLU
        coopmat<T, gl_ScopeWorkgroup, BK, BN, gl_MatrixUseB> bu;
        if (VEC)
            coopMatLoadTensorNV(bu, w8, pc.w_off / 8u, sliceTensorLayoutNV(tw, up0 + n0, BN, k0, BK), wt);
        else
            coopMatLoadTensorNV(bu, w, pc.w_off, sliceTensorLayoutNV(tw, up0 + n0, BN, k0, BK), wt);
        acc_u = coopMatMulAdd(a, bu, acc_u);
#endif
    }

    // Stores outside [M, N] are dropped only with a clamp mode other than Undefined.
    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> ty = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    ty = setTensorLayoutDimensionNV(ty, pc.M, pc.N);
    ty = setTensorLayoutStrideNV(ty, pc.ldy, 1);
#ifdef GLU
    // Same type, scope and shape: element i of both matrices is the same (row, column).
    [[unroll]] for (int i = 0; i < acc.length(); i++) {
        float g = acc[i];
        acc[i] = g / (1.0 + exp(-g)) * acc_u[i];
    }
    coopmat<T, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator> act = coopmat<T, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator>(acc);
    coopMatStoreTensorNV(act, y, pc.y_off, sliceTensorLayoutNV(ty, m0, BM, n0, BN));
#else
    if (pc.alpha != 1.0) acc = acc * pc.alpha;
    if ((pc.flags & 1u) != 0u) coopMatPerElementNV(acc, acc, add_bias, n0);
    if ((pc.flags & 2u) != 0u) {
        ACC old;
        coopMatLoadTensorNV(old, y, pc.y_off, sliceTensorLayoutNV(ty, m0, BM, n0, BN));
        acc = acc + old;
    }
    coopMatStoreTensorNV(acc, y, pc.y_off, sliceTensorLayoutNV(ty, m0, BM, n0, BN));
#endif
}
