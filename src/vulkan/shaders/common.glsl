// common.glsl — what every xfwd compute shader shares: the linear workgroup id
// for 2-D dispatches (grids larger than maxComputeWorkGroupCount[0] are split
// into rows of x groups by the host) and weight-type loaders selected with -D.
//
// Variants (set on the glslc command line in src/vulkan/CMakeLists.txt):
//   W_F32 | W_F16 | W_BF16  storage type of the weight buffer read by LOADW()
#ifndef XF_COMMON_GLSL
#define XF_COMMON_GLSL

#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_int16 : enable

// Linear index of this workgroup in a grid of gl_NumWorkGroups.x × y groups.
uint group_linear() {
    return gl_WorkGroupID.y * gl_NumWorkGroups.x + gl_WorkGroupID.x;
}

// bf16 bits (low 16 bits of h) to fp32: bf16 is the top half of an fp32.
float bf16_to_f32(uint h) {
    return uintBitsToFloat(h << 16);
}

#define NEG_INF uintBitsToFloat(0xff800000u)

// fp32 to bf16 bits, rounded to nearest even (NaN stays NaN).
uint f32_to_bf16(float f) {
    uint u = floatBitsToUint(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

// Two fp32 values as a pair of 16-bit activations in one uint (x in the low
// half): kind 1 f16, kind 2 bf16. Producers write these copies of their fp32
// outputs for the matrix-unit multiplies that read 16-bit activations.
uint pack16(vec2 v, uint kind) {
    if (kind == 2u) return f32_to_bf16(v.x) | (f32_to_bf16(v.y) << 16);
    return packHalf2x16(v);
}

// Element (r, c) of a [rows, cols] matrix in the blocked layout of the matrix-unit
// kernel's operands: rows in groups of bm, each group cols/bk consecutive bm×bk
// row-major blocks (cols a multiple of bk).
uint blocked_index(uint r, uint c, uint cols, uint bm, uint bk) {
    return ((r / bm) * (cols / bk) + c / bk) * bm * bk + (r % bm) * bk + c % bk;
}

// The inverse: a pair of 16-bit values (kind 1 f16, 2 bf16) to fp32.
vec2 unpack16(uint u, uint kind) {
    if (kind == 2u) return vec2(bf16_to_f32(u & 0xffffu), bf16_to_f32(u >> 16));
    return unpackHalf2x16(u);
}

// The keys [lo, hi] that query token t sees in attention: span = its sequence
// [start, end) in the packed batch; full != 0: every key of the sequence, else keys
// up to t; window > 0: also keys > t - window (a sliding window). lo and hi never
// decrease from one token to the next, so a block of tokens t0..t1 needs the keys
// attn_keys(t0).x .. attn_keys(t1).y.
uvec2 attn_keys(uint t, ivec2 span, uint full, uint window) {
    int lo = span.x;
    if (window > 0u) lo = max(lo, int(t) - int(window) + 1);
    return uvec2(uint(lo), full != 0u ? uint(span.y) - 1u : t);
}

// Weight element type of buffers declared with WTYPE, and LOADW(array, i) → float.
#if defined(W_F16)
#define WTYPE float16_t
#define LOADW(a, i) float((a)[i])
#elif defined(W_BF16)
#define WTYPE uint16_t
#define LOADW(a, i) bf16_to_f32(uint((a)[i]))
#else
#define WTYPE float
#define LOADW(a, i) ((a)[i])
#endif

#endif // XF_COMMON_GLSL
