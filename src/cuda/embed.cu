// embed.cu — token embedding gather into the fp32 residual stream, and
// element-type conversion of device arrays.
#include "common.cuh"

// x [T, H] fp32 = E [tokens[t], :]; one block per token row.
template <typename TE>
__global__ void embed_kernel(const TE *__restrict__ E, const int32_t *__restrict__ tokens, float *__restrict__ x,
                             int H) {
    const int t = blockIdx.x;
    const TE *src = E + (int64_t)tokens[t] * H;
    float *dst = x + (int64_t)t * H;
    for (int i = threadIdx.x; i < H; i += blockDim.x) dst[i] = xfc_to_f32(src[i]);
}

template <typename TD, typename TS>
__global__ void convert_kernel(TD *__restrict__ dst, const TS *__restrict__ src, int64_t n) {
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = xfc_from_f32<TD>(xfc_to_f32(src[i]));
}

extern "C" xf_status xfc_embed(cudaStream_t s, xfc_type e_type, const void *E, const int32_t *tokens, float *x,
                               int T, int H) {
    if (T <= 0) return XF_OK;
    XFC_DISPATCH(e_type, TE, embed_kernel<TE><<<T, 256, 0, s>>>((const TE *)E, tokens, x, H));
    XFC_LAUNCH_CHECK("embed");
    return XF_OK;
}

template <typename TD>
static xf_status convert_from(cudaStream_t s, TD *dst, xfc_type src_type, const void *src, int64_t n) {
    XFC_DISPATCH(src_type, TS, convert_kernel<TD, TS><<<xfc_blocks(n, 256), 256, 0, s>>>(dst, (const TS *)src, n));
    XFC_LAUNCH_CHECK("convert");
    return XF_OK;
}

extern "C" xf_status xfc_convert(cudaStream_t s, xfc_type dst_type, void *dst, xfc_type src_type, const void *src,
                                 int64_t n) {
    if (n <= 0) return XF_OK;
    XFC_DISPATCH(dst_type, TD, return convert_from<TD>(s, (TD *)dst, src_type, src, n));
    return XF_OK;
}
