#version 450
// linear_cm.comp — the matrix-unit path of linear through subgroup cooperative
// matrices: GL_NV_cooperative_matrix by default (f16 weights, x fp32 rounded to
// f16 as it is staged), GL_KHR_cooperative_matrix with KHR (see below):
//   y[m, n] = alpha · Σ_k x[m, k] · W[n, k] + bias[n]  (+ y[m, n] when accumulating)
// W [N, K] 16-bit; y [M, N] fp32. 16-bit products accumulate in fp32. Same push
// constants and bindings as linear.comp, so the host can use either.
//
// A workgroup of (BM/WM)·(BN/WN) subgroups computes a BM×BN tile of y, each
// subgroup a WM×WN sub-tile as (WM/TM)·(WN/TN) accumulator fragments of the
// device's TM×TN×TK shape (from vkGetPhysicalDeviceCooperativeMatrixProperties*).
// K advances in slices of BK: the workgroup stages x and W slices in shared
// memory as rows of 16-byte units (8 halves, one unit of padding per row
// against bank conflicts), fetching the next slice into registers while the
// current one is multiplied. The epilogue goes through a small per-subgroup
// scratch so that bias, accumulation, row masks and bounds apply per element.
//
// DBUF variant (linear_cm_f16d): two shared-memory stages, one barrier per K
// slice (slice k+1 is fetched into registers and written to the other stage
// while slice k is multiplied). The epilogue stores whole fragments straight to
// y (scaled, plus the old y when accumulating) where the workgroup's whole tile lies
// inside y and no bias or row mask applies; otherwise it goes element by element
// through a per-subgroup scratch that reuses the A stages. With PF2 as well
// (linear_cm_f16p), the global loads run two slices ahead (two register sets).
//
// GLU (KHR only): the gate|up product with SwiGLU in the epilogue (see there).
//
// KHR variant (linear_cmk_*, with DBUF): the same kernel on GL_KHR_cooperative_matrix
// (any vendor's VK_KHR_cooperative_matrix), reading 16-bit activations (X16: x is
// [M, K] in the weights' type, f16 or, with BF16, bf16, as the a16 producers write
// it) — no conversion while staging.
//
// Blocked layouts (WBLK, XBLK, YBLK): with row-major x and W, a slice is BM (BN) rows
// of only 2·BK bytes each, and one warp's 16-byte loads touch 16 cache lines; the
// global loads, not the multiplies, then bound the kernel (bench/vulkan-h100.md).
// Stored in BN×BK (BM×BK) blocks, a slice is one contiguous run of memory.
#include "common.glsl"
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_KHR_shader_subgroup_basic : require
#ifdef KHR
#extension GL_KHR_cooperative_matrix : require
#ifdef BF16
#extension GL_EXT_bfloat16 : require
#define T16 bfloat16_t
#else
#define T16 float16_t
#endif
#define FRAG_A coopmat<T16, gl_ScopeSubgroup, TM, TK, gl_MatrixUseA>
#define FRAG_B coopmat<T16, gl_ScopeSubgroup, TK, TN, gl_MatrixUseB>
#define FRAG_C coopmat<float, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator>
#define CM_LOAD(m, buf, off, stride, colmajor) \
    coopMatLoad(m, buf, off, stride, (colmajor) ? gl_CooperativeMatrixLayoutColumnMajor : gl_CooperativeMatrixLayoutRowMajor)
#define CM_STORE(m, buf, off, stride) coopMatStore(m, buf, off, stride, gl_CooperativeMatrixLayoutRowMajor)
#define CM_MULADD coopMatMulAdd
#else
#extension GL_NV_cooperative_matrix : require
#define FRAG_A fcoopmatNV<16, gl_ScopeSubgroup, TM, TK>
#define FRAG_B fcoopmatNV<16, gl_ScopeSubgroup, TK, TN>
#define FRAG_C fcoopmatNV<32, gl_ScopeSubgroup, TM, TN>
#define CM_LOAD(m, buf, off, stride, colmajor) coopMatLoadNV(m, buf, off, stride, colmajor)
#define CM_STORE(m, buf, off, stride) coopMatStoreNV(m, buf, off, stride, false)
#define CM_MULADD coopMatMulAddNV
#endif

layout(constant_id = 0) const uint WG = 256;   // = SG · (BM/WM) · (BN/WN)
layout(constant_id = 1) const uint BM = 128;
layout(constant_id = 2) const uint BN = 128;
layout(constant_id = 3) const uint BK = 32;    // multiple of 8 and of TK
layout(constant_id = 4) const uint WM = 64;
layout(constant_id = 5) const uint WN = 32;
layout(constant_id = 6) const uint TM = 16;
layout(constant_id = 7) const uint TN = 8;
layout(constant_id = 8) const uint TK = 16;
layout(constant_id = 9) const uint SG = 32;    // subgroup size
// DBUF: > 1 makes consecutive workgroups walk down groups of GM tile rows before
// moving right (more reuse of the x and W tiles in L2 than row after row).
layout(constant_id = 10) const uint GM = 0;
// (constant 11 was a tuning diagnostic that computed wrong results on purpose, removed;
// its measurements are in bench/vulkan-h100.md. The host still passes 0 there.)
// DBUF: W uploaded in blocks (vkx_weight_upload_blocked): rows in groups of BN, each
// group stored as K/BK consecutive BN×BK blocks, so that a slice of W is one
// contiguous run of memory (K a multiple of BK, w_off a multiple of 8).
layout(constant_id = 12) const bool WBLK = false;
// DBUF, X16: x written in the same blocked layout (rows in groups of BM, each group
// as K/BK consecutive BM×BK blocks; rmsnorm16 with its blocked output), x_off a
// multiple of 8.
layout(constant_id = 13) const bool XBLK = false;
// GLU: act written in that blocked layout (groups of BM rows, blocks of BK columns;
// N/2 a multiple of BK, BK of TN), for the down multiply to read with XBLK.
layout(constant_id = 14) const bool YBLK = false;
// 16-byte global loads: K, ldw, w_off multiples of 8 and ldx, x_off multiples of 4.
layout(constant_id = 15) const bool VEC = true;
// KHR, not GLU: y written in the 16-bit type instead of fp32 (y16, same indices; never
// accumulating), for q|k|v with 16-bit q, k, v.
layout(constant_id = 16) const bool YH = false;
layout(local_size_x_id = 0) in;

const uint FM = WM / TM, FN = WN / TN;
const uint UPR = BK / 8u;                   // 16-byte units per staged row
const uint SA = UPR + 1u, SB = UPR + 1u;    // padded row strides, in units
const uint NUA = BM * UPR, NUB = BN * UPR;  // 16-byte units of x and W per slice
const uint UA = (NUA + WG - 1u) / WG;       // units of x each thread stages per slice (at most)
const uint UB = (NUB + WG - 1u) / WG;       // units of W each thread stages per slice (at most)
// whether unit l of this thread exists (DBUF; the other kernels need WG | NUA, NUB)
#define HAS_A(u) (NUA % WG == 0u || (u) < NUA)
#define HAS_B(u) (NUB % WG == 0u || (u) < NUB)
const uint NSG = WG / SG;
const uint EPL = TM * TN / SG;              // epilogue elements per lane and fragment

#ifdef X16
layout(std430, binding = 0) readonly buffer X { uint16_t xh[]; };
layout(std430, binding = 0) readonly buffer X8 { uvec4 x8[]; };
#else
layout(std430, binding = 0) readonly buffer X { float x[]; };
layout(std430, binding = 0) readonly buffer X4 { vec4 x4[]; };
#endif
layout(std430, binding = 1) readonly buffer Wt { uint16_t w[]; };
layout(std430, binding = 1) readonly buffer Wt8 { uvec4 w8[]; };
layout(std430, binding = 2) readonly buffer Bias { float bias[]; };
layout(std430, binding = 3) buffer Y { float y[]; };
#ifdef KHR
layout(std430, binding = 3) writeonly buffer Y16 { T16 y16[]; };
#endif
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

#if defined(DBUF)
const uint EU = 1u;
const uint STA = BM * SA, STB = BN * SB;     // one stage, in 16-byte units
shared uvec4 As[2u * STA];
shared uvec4 Bs[2u * STB];
#elif defined(SHMEM_F16)
// Variant: the staged slices as f16 scalars (fragment loads then address halves).
const uint EU = 8u;  // elements per unit
shared float16_t As[BM * SA * EU];
shared float16_t Bs[BN * SB * EU];
void put_unit(bool to_a, uint idx, uvec4 u) {
    [[unroll]] for (uint i = 0u; i < 4u; i++) {
        f16vec2 h = unpackFloat2x16(u[i]);
        if (to_a) {
            As[idx * EU + 2u * i] = h.x;
            As[idx * EU + 2u * i + 1u] = h.y;
        } else {
            Bs[idx * EU + 2u * i] = h.x;
            Bs[idx * EU + 2u * i + 1u] = h.y;
        }
    }
}
#else
const uint EU = 1u;  // fragment loads address whole 16-byte units
shared uvec4 As[BM * SA];
shared uvec4 Bs[BN * SB];
void put_unit(bool to_a, uint idx, uvec4 u) {
    if (to_a) As[idx] = u;
    else Bs[idx] = u;
}
#endif
#ifndef DBUF
shared float Cs[NSG * TM * TN];
#endif

#ifdef X16
// 8 consecutive 16-bit x values of row gm from column gk (zero outside).
uvec4 fetch_x(uint gm, uint gk) {
    if (gm >= pc.M) return uvec4(0u);
    uint base = pc.x_off + gm * pc.ldx + gk;
    if (VEC) return gk < pc.K ? x8[base / 8u] : uvec4(0u);
    uint h[8];
    [[unroll]] for (uint i = 0u; i < 8u; i++) h[i] = gk + i < pc.K ? uint(xh[base + i]) : 0u;
    return uvec4(h[0] | (h[1] << 16), h[2] | (h[3] << 16), h[4] | (h[5] << 16), h[6] | (h[7] << 16));
}
#else
// 8 consecutive x values of row gm from column gk, as f16 pairs (zero outside).
uvec4 fetch_x(uint gm, uint gk) {
    if (gm >= pc.M) return uvec4(0u);
    uint base = pc.x_off + gm * pc.ldx + gk;
    vec4 a, b;
    if (VEC) {
        if (gk >= pc.K) return uvec4(0u);
        a = x4[base / 4u];
        b = x4[base / 4u + 1u];
    } else {
        float v[8];
        [[unroll]] for (uint i = 0u; i < 8u; i++) v[i] = gk + i < pc.K ? x[base + i] : 0.0;
        a = vec4(v[0], v[1], v[2], v[3]);
        b = vec4(v[4], v[5], v[6], v[7]);
    }
    return uvec4(packHalf2x16(a.xy), packHalf2x16(a.zw), packHalf2x16(b.xy), packHalf2x16(b.zw));
}
#endif

// Unit u of the slice at column kb of the BN-row group starting at n0 (WBLK).
uvec4 fetch_wb(uint n0, uint kb, uint u) {
    return w8[pc.w_off / 8u + ((n0 / BN) * (pc.K / BK) + kb / BK) * NUB + u];
}

// Unit u of the slice at column kb of the BM-row group starting at m0 (XBLK).
uvec4 fetch_xb(uint m0, uint kb, uint u) {
#ifdef X16
    return x8[pc.x_off / 8u + ((m0 / BM) * (pc.K / BK) + kb / BK) * NUA + u];
#else
    return uvec4(0u);
#endif
}

// 8 consecutive W values of row gn from column gk (zero outside).
uvec4 fetch_w(uint gn, uint gk) {
    if (gn >= pc.N) return uvec4(0u);
    uint base = pc.w_off + gn * pc.ldw + gk;
    if (VEC) return gk < pc.K ? w8[base / 8u] : uvec4(0u);
    uint h[8];  // raw 16-bit weights (f16 or bf16 bits)
    [[unroll]] for (uint i = 0u; i < 8u; i++) h[i] = gk + i < pc.K ? uint(w[base + i]) : 0u;
    return uvec4(h[0] | (h[1] << 16), h[2] | (h[3] << 16), h[4] | (h[5] << 16), h[6] | (h[7] << 16));
}

#ifndef DBUF
void main() {
    uint tid = gl_LocalInvocationID.x;
    uint sg = gl_SubgroupID, lane = gl_SubgroupInvocationID;
    uint n0 = gl_WorkGroupID.x * BN, m0 = gl_WorkGroupID.y * BM;
    uint wm0 = (sg / (BN / WN)) * WM, wn0 = (sg % (BN / WN)) * WN;

    // Every loop over fragments has a constant trip count and is unrolled, so the
    // accumulators stay in registers (an indexed fragment array goes to local memory).
    fcoopmatNV<32, gl_ScopeSubgroup, TM, TN> acc[FM][FN];
    [[unroll]] for (uint i = 0u; i < FM; i++)
        [[unroll]] for (uint j = 0u; j < FN; j++) acc[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, TM, TN>(0.0);

    uvec4 ra[UA], rb[UB];
    [[unroll]] for (uint l = 0u; l < UA; l++) {
        uint u = tid + l * WG;
        ra[l] = fetch_x(m0 + u / UPR, (u % UPR) * 8u);
    }
    [[unroll]] for (uint l = 0u; l < UB; l++) {
        uint u = tid + l * WG;
        rb[l] = fetch_w(n0 + u / UPR, (u % UPR) * 8u);
    }

    for (uint k0 = 0u; k0 < pc.K; k0 += BK) {
        barrier();  // everyone is done reading the previous slice
        [[unroll]] for (uint l = 0u; l < UA; l++) {
            uint u = tid + l * WG;
            put_unit(true, (u / UPR) * SA + u % UPR, ra[l]);
        }
        [[unroll]] for (uint l = 0u; l < UB; l++) {
            uint u = tid + l * WG;
            put_unit(false, (u / UPR) * SB + u % UPR, rb[l]);
        }
        barrier();
        if (k0 + BK < pc.K) {  // next slice in flight while this one is multiplied
            [[unroll]] for (uint l = 0u; l < UA; l++) {
                uint u = tid + l * WG;
                ra[l] = fetch_x(m0 + u / UPR, k0 + BK + (u % UPR) * 8u);
            }
            [[unroll]] for (uint l = 0u; l < UB; l++) {
                uint u = tid + l * WG;
                rb[l] = fetch_w(n0 + u / UPR, k0 + BK + (u % UPR) * 8u);
            }
        }
        [[unroll]] for (uint ks = 0u; ks < BK / TK; ks++) {
            uint kk = ks * TK;
            fcoopmatNV<16, gl_ScopeSubgroup, TM, TK> a[FM];
            [[unroll]] for (uint i = 0u; i < FM; i++)
                coopMatLoadNV(a[i], As, ((wm0 + i * TM) * SA + kk / 8u) * EU, SA * EU, false);
            [[unroll]] for (uint j = 0u; j < FN; j++) {
                fcoopmatNV<16, gl_ScopeSubgroup, TK, TN> b;
                coopMatLoadNV(b, Bs, ((wn0 + j * TN) * SB + kk / 8u) * EU, SB * EU, true);
                [[unroll]] for (uint i = 0u; i < FM; i++) acc[i][j] = coopMatMulAddNV(a[i], b, acc[i][j]);
            }
        }
    }

    uint cb = sg * TM * TN;
    [[unroll]] for (uint i = 0u; i < FM; i++) {
        [[unroll]] for (uint j = 0u; j < FN; j++) {
            coopMatStoreNV(acc[i][j], Cs, cb, TN, false);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            [[unroll]] for (uint r = 0u; r < EPL; r++) {
                uint e = lane + r * SG;
                uint gm = m0 + wm0 + i * TM + e / TN, gn = n0 + wn0 + j * TN + e % TN;
                bool ok = gm < pc.M && gn < pc.N;
                if (ok && (pc.flags & 4u) != 0u) ok = tok_adapter[gm] == pc.mask_adapter;
                if (ok) {
                    float v = pc.alpha * Cs[cb + e];
                    if ((pc.flags & 1u) != 0u) v += bias[pc.b_off + gn];
                    uint yi = pc.y_off + gm * pc.ldy + gn;
                    if ((pc.flags & 2u) != 0u) v += y[yi];
                    y[yi] = v;
                }
            }
            subgroupBarrier();
        }
    }
}
#endif

#ifdef DBUF
void main() {
    uint tid = gl_LocalInvocationID.x;
    uint sg = gl_SubgroupID, lane = gl_SubgroupInvocationID;
    uint tx = gl_WorkGroupID.x, ty = gl_WorkGroupID.y;
    if (GM > 1u) {  // linear workgroup id → (column, row) of tiles, GM rows per group
        uint nx = gl_NumWorkGroups.x, id = ty * nx + tx, per = GM * nx, first = (id / per) * GM;
        uint rows = min(gl_NumWorkGroups.y - first, GM), r = id % per;
        ty = first + r % rows;
        tx = r / rows;
    }
    uint n0 = tx * BN, m0 = ty * BM;
    uint wm0 = (sg / (BN / WN)) * WM, wn0 = (sg % (BN / WN)) * WN;

    // When the workgroup's tile lies inside y and no bias or row mask applies, its
    // fragments are stored whole at the end (direct); when accumulating with alpha = 1
    // they start from the old y instead of zero (glslc 2023.2's optimizer crashed on the
    // sum of two cooperative matrices, so the old y is not added at the end).
    // The choice is made per workgroup, never per fragment: the
    // element-wise path synchronises its subgroup, and subgroup barriers in control flow
    // that differs between subgroups broke on a driver (Mesa's lavapipe 26).
    bool direct = m0 + BM <= pc.M && n0 + BN <= pc.N && (pc.flags & 5u) == 0u && pc.ldy % 4u == 0u &&
                  pc.y_off % 4u == 0u;
    bool pre = direct && (pc.flags & 2u) != 0u && pc.alpha == 1.0;
    FRAG_C acc[FM][FN];
    [[unroll]] for (uint i = 0u; i < FM; i++)
        [[unroll]] for (uint j = 0u; j < FN; j++) {
            uint fm = m0 + wm0 + i * TM, fn = n0 + wn0 + j * TN;
            if (pre)
                CM_LOAD(acc[i][j], y, pc.y_off + fm * pc.ldy + fn, pc.ldy, false);
            else
                acc[i][j] = FRAG_C(0.0);
        }

#ifndef PF2
    // Slice 0 into stage 0.
    uvec4 ra[UA], rb[UB];
    [[unroll]] for (uint l = 0u; l < UA; l++) {
        uint u = tid + l * WG;
        if (HAS_A(u)) ra[l] = (XBLK ? fetch_xb(m0, 0u, u) : fetch_x(m0 + u / UPR, (u % UPR) * 8u));
    }
    [[unroll]] for (uint l = 0u; l < UB; l++) {
        uint u = tid + l * WG;
        if (HAS_B(u)) rb[l] = (WBLK ? fetch_wb(n0, 0u, u) : fetch_w(n0 + u / UPR, (u % UPR) * 8u));
    }
    [[unroll]] for (uint l = 0u; l < UA; l++) {
        uint u = tid + l * WG;
        if (HAS_A(u)) As[(u / UPR) * SA + u % UPR] = ra[l];
    }
    [[unroll]] for (uint l = 0u; l < UB; l++) {
        uint u = tid + l * WG;
        if (HAS_B(u)) Bs[(u / UPR) * SB + u % UPR] = rb[l];
    }
    barrier();

    uint sa = 0u, sb = 0u;  // offsets of the stage being multiplied
    for (uint k0 = 0u; k0 < pc.K; k0 += BK) {
        bool more = k0 + BK < pc.K;
        if (more) {  // next slice in flight while this one is multiplied
            [[unroll]] for (uint l = 0u; l < UA; l++) {
                uint u = tid + l * WG;
                if (HAS_A(u)) ra[l] = (XBLK ? fetch_xb(m0, k0 + BK, u) : fetch_x(m0 + u / UPR, k0 + BK + (u % UPR) * 8u));
            }
            [[unroll]] for (uint l = 0u; l < UB; l++) {
                uint u = tid + l * WG;
                if (HAS_B(u)) rb[l] = (WBLK ? fetch_wb(n0, k0 + BK, u) : fetch_w(n0 + u / UPR, k0 + BK + (u % UPR) * 8u));
            }
        }
        [[unroll]] for (uint ks = 0u; ks < BK / TK; ks++) {
            uint kk = ks * TK;
            FRAG_A a[FM];
            [[unroll]] for (uint i = 0u; i < FM; i++)
                CM_LOAD(a[i], As, sa + (wm0 + i * TM) * SA + kk / 8u, SA, false);
            [[unroll]] for (uint j = 0u; j < FN; j++) {
                FRAG_B b;
                CM_LOAD(b, Bs, sb + (wn0 + j * TN) * SB + kk / 8u, SB, true);
                [[unroll]] for (uint i = 0u; i < FM; i++) acc[i][j] = CM_MULADD(a[i], b, acc[i][j]);
            }
        }
        // The other stage was last read before the previous barrier: fill it now.
        sa = STA - sa;
        sb = STB - sb;
        if (more) {
            [[unroll]] for (uint l = 0u; l < UA; l++) {
                uint u = tid + l * WG;
                if (HAS_A(u)) As[sa + (u / UPR) * SA + u % UPR] = ra[l];
            }
            [[unroll]] for (uint l = 0u; l < UB; l++) {
                uint u = tid + l * WG;
                if (HAS_B(u)) Bs[sb + (u / UPR) * SB + u % UPR] = rb[l];
            }
        }
        barrier();
    }

#else
    // PF2: two register sets, so that the global loads of slice k+2 are issued
    // while slice k is multiplied (slice k+1 waits in the other set). The loop is
    // unrolled by two so that each set is named, never indexed.
    uvec4 ra0[UA], rb0[UB], ra1[UA], rb1[UB];
#define FETCH(RA, RB, KB)                                                   \
    {                                                                       \
    uint kb = (KB);                                                         \
    [[unroll]] for (uint l = 0u; l < UA; l++) {                             \
        uint u = tid + l * WG;                                              \
        if (HAS_A(u))                                                       \
            RA[l] = XBLK ? fetch_xb(m0, kb, u) : fetch_x(m0 + u / UPR, kb + (u % UPR) * 8u); \
    }                                                                       \
    [[unroll]] for (uint l = 0u; l < UB; l++) {                             \
        uint u = tid + l * WG;                                              \
        if (HAS_B(u))                                                       \
            RB[l] = WBLK ? fetch_wb(n0, kb, u) : fetch_w(n0 + u / UPR, kb + (u % UPR) * 8u); \
    } }
#define STORE(RA, RB, SA0, SB0)                                             \
    [[unroll]] for (uint l = 0u; l < UA; l++) {                             \
        uint u = tid + l * WG;                                              \
        if (HAS_A(u)) As[(SA0) + (u / UPR) * SA + u % UPR] = RA[l];         \
    }                                                                       \
    [[unroll]] for (uint l = 0u; l < UB; l++) {                             \
        uint u = tid + l * WG;                                              \
        if (HAS_B(u)) Bs[(SB0) + (u / UPR) * SB + u % UPR] = RB[l];         \
    }
#define MULTIPLY(SA0, SB0)                                                  \
    [[unroll]] for (uint ks = 0u; ks < BK / TK; ks++) {                     \
        uint kk = ks * TK;                                                  \
        FRAG_A a[FM];                     \
        [[unroll]] for (uint i = 0u; i < FM; i++)                           \
            CM_LOAD(a[i], As, (SA0) + (wm0 + i * TM) * SA + kk / 8u, SA, false); \
        [[unroll]] for (uint j = 0u; j < FN; j++) {                         \
            FRAG_B b;                     \
            CM_LOAD(b, Bs, (SB0) + (wn0 + j * TN) * SB + kk / 8u, SB, true); \
            [[unroll]] for (uint i = 0u; i < FM; i++) acc[i][j] = CM_MULADD(a[i], b, acc[i][j]); \
        }                                                                   \
    }
    FETCH(ra0, rb0, 0u)
    if (BK < pc.K) { FETCH(ra1, rb1, BK) }
    STORE(ra0, rb0, 0u, 0u)
    barrier();
    for (uint k0 = 0u; k0 < pc.K; k0 += 2u * BK) {
        // slice k0 in stage 0, slice k0+BK in set 1; set 0 is free
        if (k0 + 2u * BK < pc.K) { FETCH(ra0, rb0, k0 + 2u * BK) }
        MULTIPLY(0u, 0u)
        if (k0 + BK < pc.K) { STORE(ra1, rb1, STA, STB) }
        barrier();
        if (k0 + BK >= pc.K) break;
        // slice k0+BK in stage 1, slice k0+2BK in set 0; set 1 is free
        if (k0 + 3u * BK < pc.K) { FETCH(ra1, rb1, k0 + 3u * BK) }
        MULTIPLY(STA, STB)
        if (k0 + 2u * BK < pc.K) { STORE(ra0, rb0, 0u, 0u) }
        barrier();
    }
#endif
#ifdef GLU
    // act [M, N/2] (16-bit, at y_off / ldy of y16) = silu(gate) · up. The host stores the
    // gate|up weight rows interleaved in blocks of WN/2 (a gate block, then the up block
    // of the same act columns, ...), so in every subgroup fragment j < FN/2 holds gate
    // values and fragment j + FN/2 the up values of the same act columns. Whole
    // fragments inside act are stored directly (f16); the rest, and bf16, go element
    // by element through the per-subgroup scratch in As.
    const uint FH = FN / 2u;
    uint cb = sg * (TM * TN / 4u), nout = pc.N / 2u;
#define ACT_INDEX(gm, gc) (YBLK ? blocked_index(gm, gc, nout, BM, BK) : pc.y_off + (gm) * pc.ldy + (gc))
    // per workgroup, as above: the whole tile's act columns inside
    bool gdirect = m0 + BM <= pc.M && (n0 + BN) / 2u <= nout && pc.ldy % 8u == 0u && pc.y_off % 8u == 0u;
    [[unroll]] for (uint i = 0u; i < FM; i++) {
        [[unroll]] for (uint j = 0u; j < FH; j++) {
            FRAG_C g = acc[i][j];
            [[unroll]] for (int e = 0; e < g.length(); e++) {
                float gv = g[e];
                g[e] = gv / (1.0 + exp(-gv)) * acc[i][j + FH][e];
            }
            uint fm = m0 + wm0 + i * TM, fc = (n0 + wn0) / 2u + j * TN;
#ifndef BF16
            if (gdirect) {
                coopmat<T16, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator> h =
                    coopmat<T16, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator>(g);
                coopMatStore(h, y16, ACT_INDEX(fm, fc), YBLK ? BK : pc.ldy, gl_CooperativeMatrixLayoutRowMajor);
                continue;
            }
#endif
            CM_STORE(g, As, cb, TN / 4u);
            subgroupMemoryBarrierShared();
            subgroupBarrier();
            [[unroll]] for (uint r = 0u; r < EPL; r++) {
                uint e = lane + r * SG;
                uint gm = fm + e / TN, gc = fc + e % TN;
                if (gm < pc.M && gc < nout)
                    y16[ACT_INDEX(gm, gc)] = T16(uintBitsToFloat(As[cb + e / 4u][e % 4u]));
            }
            subgroupBarrier();
        }
    }
#else
    // Epilogue. The scratch (TM·TN floats per subgroup, as 16-byte units) reuses
    // As: the loop's last barrier ended every read of it.
    uint cb = sg * (TM * TN / 4u);
    [[unroll]] for (uint i = 0u; i < FM; i++) {
        [[unroll]] for (uint j = 0u; j < FN; j++) {
            uint fm = m0 + wm0 + i * TM, fn = n0 + wn0 + j * TN;
#if defined(KHR) && !defined(BF16)
            if (YH && direct && pc.ldy % 8u == 0u && pc.y_off % 8u == 0u) {
                coopmat<T16, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator> h =
                    coopmat<T16, gl_ScopeSubgroup, TM, TN, gl_MatrixUseAccumulator>(acc[i][j] * pc.alpha);
                coopMatStore(h, y16, pc.y_off + fm * pc.ldy + fn, pc.ldy, gl_CooperativeMatrixLayoutRowMajor);
                continue;
            }
#endif
            if (!YH && direct && ((pc.flags & 2u) == 0u || pre)) {
                // alpha = 1 when pre: the old y is already in acc.
                CM_STORE(acc[i][j] * pc.alpha, y, pc.y_off + fm * pc.ldy + fn, pc.ldy);
            } else {
                CM_STORE(acc[i][j], As, cb, TN / 4u);
                subgroupMemoryBarrierShared();
                subgroupBarrier();
                [[unroll]] for (uint r = 0u; r < EPL; r++) {
                    uint e = lane + r * SG;
                    uint gm = fm + e / TN, gn = fn + e % TN;
                    bool ok = gm < pc.M && gn < pc.N;
                    if (ok && (pc.flags & 4u) != 0u) ok = tok_adapter[gm] == pc.mask_adapter;
                    if (ok) {
                        float v = pc.alpha * uintBitsToFloat(As[cb + e / 4u][e % 4u]);
                        if ((pc.flags & 1u) != 0u) v += bias[pc.b_off + gn];
                        uint yi = pc.y_off + gm * pc.ldy + gn;
#ifdef KHR
                        if (YH) {
                            y16[yi] = T16(v);
                            continue;
                        }
#endif
                        if ((pc.flags & 2u) != 0u) v += y[yi];
                        y[yi] = v;
                    }
                }
                subgroupBarrier();
            }
        }
    }
#endif
}
#endif
