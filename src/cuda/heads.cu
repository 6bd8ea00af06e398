// heads.cu — what comes after the final norm besides logits: pooling of each
// sequence's hidden rows (last / mean / first, optional L2 normalisation) and a
// small fp32 linear head (classification scores from the pooled last rows).
#include "common.cuh"

// out [B, H]: one block per sequence b; blocks b >= *n_seqs exit.
__global__ void pool_kernel(const float *__restrict__ hid, int H, const int32_t *__restrict__ seq_start,
                            const int32_t *__restrict__ n_seqs, int pooling, int normalize, float *__restrict__ out) {
    __shared__ float red[32];
    const int b = blockIdx.x;
    if (b >= *n_seqs) return;
    const int32_t s0 = seq_start[b], s1 = seq_start[b + 1];
    float *o = out + (int64_t)b * H;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < H; i += blockDim.x) {
        float v;
        if (pooling == 1) {  // mean
            double acc = 0.0;  // fp64 is full rate enough on the GPUs we target; long sequences stay exact
            for (int32_t t = s0; t < s1; t++) acc += hid[(int64_t)t * H + i];
            v = (float)(acc / (double)(s1 - s0));
        } else {
            v = hid[(int64_t)(pooling == 2 ? s0 : s1 - 1) * H + i];
        }
        o[i] = v;
        ss += v * v;
    }
    if (!normalize) return;
    ss = xfc_block_sum(ss, red);
    const float inv = ss > 0.0f ? 1.0f / sqrtf(ss) : 0.0f;
    for (int i = threadIdx.x; i < H; i += blockDim.x) o[i] *= inv;
}

// out [B, L] = x [B, H] · W [L, H]ᵀ; one block per row of x, one warp per output;
// rows b >= *n_valid (when given) are skipped.
__global__ void small_linear_kernel(const float *__restrict__ x, int H, const float *__restrict__ W, int L,
                                    const int32_t *__restrict__ n_valid, float *__restrict__ out) {
    const int b = blockIdx.x, lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    if (n_valid && b >= *n_valid) return;
    const float *xr = x + (int64_t)b * H;
    for (int l = warp; l < L; l += nw) {
        const float *wr = W + (int64_t)l * H;
        float acc = 0.0f;
        for (int i = lane; i < H; i += 32) acc += xr[i] * wr[i];
        acc = xfc_warp_sum(acc);
        if (lane == 0) out[(int64_t)b * L + l] = acc;
    }
}

extern "C" xf_status xfc_pool(cudaStream_t s, const float *hid, int H, const int32_t *seq_start,
                              const int32_t *n_seqs, int grid_b, int pooling, int normalize, float *out) {
    if (grid_b <= 0) return XF_OK;
    pool_kernel<<<grid_b, 256, 0, s>>>(hid, H, seq_start, n_seqs, pooling, normalize, out);
    XFC_LAUNCH_CHECK("pool");
    return XF_OK;
}

extern "C" xf_status xfc_small_linear(cudaStream_t s, const float *x, int B, int H, const float *W, int L,
                                      const int32_t *n_valid, float *out) {
    if (B <= 0 || L <= 0) return XF_OK;
    small_linear_kernel<<<B, 256, 0, s>>>(x, H, W, L, n_valid, out);
    XFC_LAUNCH_CHECK("small_linear");
    return XF_OK;
}
