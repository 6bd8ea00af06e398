// cuda_attention_cudnn.cuh — cuDNN's fused flash attention (the frontend's SDPA graph node) on
// xfwd's packed layout, as a variant of bench/cuda_attention.cu: the question it answers is
// whether the library that reached 610 TFLOP/s on PyTorch's padded 1 × 8192 keeps that rate on
// packed variable-length sequences (THD: rows of [tokens, heads · D] with per-sequence ragged
// offsets and lengths), GQA, causal and sliding-window masks, before the library takes it.
//
// Built only where the build was configured with XFWD_CUDNN_FRONTEND (the frontend's include
// folder: bench/fetch-cudnn-frontend.sh) and the CUDA toolkit has cuDNN 9; the program then
// links libcudnn, found at run time through the loader's path (on the GPU machine: its system
// cuDNN 9 install; scripts/gpu-run.sh adds its folder where the loader does not find it).
//
// One graph per (sequences, longest sequence, mask, dtype), built on first use and kept for the
// process (the bench times one shape per run). The graph's batch dimension is the number of
// sequences and its sequence dimension the longest; each sequence's Q/K/V/O rows start at its
// ragged offset (in elements: first token · row stride) and only its own length is attended
// (padding mask with per-sequence lengths), so no padding is read or computed.
#pragma once
#include <cstring>  // the frontend's shim uses std::strlen without including it

#include <cudnn_frontend.h>

#include <memory>
#include <unordered_map>

namespace xfb_cudnn {
namespace fe = cudnn_frontend;

enum : int64_t { U_Q = 1, U_K, U_V, U_O, U_SEQ_Q, U_SEQ_KV, U_OFF_Q, U_OFF_K, U_OFF_V, U_OFF_O };

struct state {
    cudnnHandle_t handle = nullptr;
    std::shared_ptr<fe::graph::Graph> graph;
    void *workspace = nullptr;
    int32_t *seq = nullptr;  // [4][B + 1]: lengths, then the element offsets of q, k|v and out rows
    int B = -1, S = -1, full = -1, window = -1, f16 = -1;
    bool broken = false;
};

static state g_state;

static bool fail(const char *what, fe::error_t e) {
    fprintf(stderr, "cudnn %s: %s\n", what, e.get_message().c_str());
    return false;
}

// Builds the graph for B sequences starting at host_starts[0..B] (token indices; the longest
// is S) with the given row strides (elements) — or keeps the one built for the same shape.
// bucket: the graph's dimensions as a captured CUDA graph of the engine would have to fix them
// before the lengths are known — batch the power of two above B (the extra sequences empty),
// sequence length every token — to measure what empty work costs cuDNN.
template <typename T>
static bool prepare(int B_, const int32_t *host_starts, int nh, int nkv, int D, int ld_q, int ld_kv, int ld_o,
                    int full, int window, int bucket) {
    state &s = g_state;
    const int f16 = std::is_same<T, __half>::value;
    int S = 0, B = B_;
    for (int b = 0; b < B_; b++) S = host_starts[b + 1] - host_starts[b] > S ? host_starts[b + 1] - host_starts[b] : S;
    if (bucket) {
        for (B = 4; B < B_ + 1; B <<= 1) {}
        S = host_starts[B_];
    }
    if (s.broken) return false;
    if (s.graph && s.B == B && s.S == S && s.full == full && s.window == window && s.f16 == f16) return true;
    if (!s.handle && cudnnCreate(&s.handle) != CUDNN_STATUS_SUCCESS) {
        fprintf(stderr, "cudnn: cudnnCreate failed (is libcudnn.so.9 on the loader's path?)\n");
        s.broken = true;
        return false;
    }
    s.broken = true;  // until the build below succeeds
    // per-sequence lengths and ragged offsets (elements) on the device
    int32_t *h = (int32_t *)malloc(sizeof(int32_t) * 4 * (B + 1));
    for (int b = 0; b <= B; b++) {
        const int start = host_starts[b < B_ ? b : B_];
        h[b] = b < B_ ? host_starts[b + 1] - start : 0;
        h[(B + 1) + b] = start * ld_q;
        h[2 * (B + 1) + b] = start * ld_kv;
        h[3 * (B + 1) + b] = start * ld_o;
    }
    cudaFree(s.seq);
    CK(cudaMalloc(&s.seq, sizeof(int32_t) * 4 * (B + 1)));
    CK(cudaMemcpy(s.seq, h, sizeof(int32_t) * 4 * (B + 1), cudaMemcpyHostToDevice));
    free(h);

    auto g = std::make_shared<fe::graph::Graph>();
    g->set_io_data_type(f16 ? fe::DataType_t::HALF : fe::DataType_t::BFLOAT16)
        .set_intermediate_data_type(fe::DataType_t::FLOAT)
        .set_compute_data_type(fe::DataType_t::FLOAT);
    auto ints = [&](const char *name, int64_t uid, int64_t n) {
        return g->tensor(fe::graph::Tensor_attributes().set_name(name).set_uid(uid).set_dim({n, 1, 1, 1})
                             .set_stride({1, 1, 1, 1}).set_data_type(fe::DataType_t::INT32));
    };
    auto rows = [&](const char *name, int64_t uid, int64_t heads, int64_t ld, std::shared_ptr<fe::graph::Tensor_attributes> off) {
        return g->tensor(fe::graph::Tensor_attributes().set_name(name).set_uid(uid).set_dim({B, heads, S, D})
                             .set_stride({(int64_t)S * ld, D, ld, 1}).set_ragged_offset(off));
    };
    auto Q = rows("q", U_Q, nh, ld_q, ints("off_q", U_OFF_Q, B + 1));
    auto K = rows("k", U_K, nkv, ld_kv, ints("off_k", U_OFF_K, B + 1));
    auto V = rows("v", U_V, nkv, ld_kv, ints("off_v", U_OFF_V, B + 1));
    auto opt = fe::graph::SDPA_attributes()
                   .set_name("attention")
                   .set_generate_stats(false)
                   .set_attn_scale((float)(1.0 / sqrt((double)D)))
                   .set_padding_mask(true)
                   .set_seq_len_q(ints("seq_q", U_SEQ_Q, B))
                   .set_seq_len_kv(ints("seq_kv", U_SEQ_KV, B));
    if (!full) opt.set_diagonal_alignment(fe::DiagonalAlignment_t::TOP_LEFT).set_diagonal_band_right_bound(0);
    if (window > 0) opt.set_diagonal_band_left_bound(window);
    auto outs = g->sdpa(Q, K, V, opt);
    outs[0]->set_output(true).set_uid(U_O).set_dim({B, nh, S, D}).set_stride({(int64_t)S * ld_o, D, ld_o, 1})
        .set_ragged_offset(ints("off_o", U_OFF_O, B + 1));
    fe::error_t e = g->validate();
    if (e.is_bad()) return fail("validate", e);
    if ((e = g->build_operation_graph(s.handle)).is_bad()) return fail("build_operation_graph", e);
    if ((e = g->create_execution_plans({fe::HeurMode_t::A})).is_bad()) return fail("create_execution_plans", e);
    if ((e = g->check_support(s.handle)).is_bad()) return fail("check_support", e);
    if ((e = g->build_plans(s.handle)).is_bad()) return fail("build_plans", e);
    int64_t ws = 0;
    if ((e = g->get_workspace_size(ws)).is_bad()) return fail("get_workspace_size", e);
    cudaFree(s.workspace);
    s.workspace = nullptr;
    if (ws > 0) CK(cudaMalloc(&s.workspace, (size_t)ws));
    s.graph = g, s.B = B, s.S = S, s.full = full, s.window = window, s.f16 = f16, s.broken = false;
    printf("  (cudnn %zu, graph for %d sequences of at most %d tokens, workspace %lld bytes)\n",
           (size_t)cudnnGetVersion(), B, S, (long long)ws);
    return true;
}

static bool run(const void *q, const void *k, const void *v, void *out) {
    state &s = g_state;
    int32_t *off_q = s.seq + (s.B + 1), *off_kv = s.seq + 2 * (s.B + 1), *off_o = s.seq + 3 * (s.B + 1);
    std::unordered_map<int64_t, void *> pack = {
        {U_Q, (void *)q},         {U_K, (void *)k},          {U_V, (void *)v},          {U_O, out},
        {U_SEQ_Q, s.seq},         {U_SEQ_KV, s.seq},         {U_OFF_Q, off_q},          {U_OFF_K, off_kv},
        {U_OFF_V, off_kv},        {U_OFF_O, off_o}};
    fe::error_t e = s.graph->execute(s.handle, pack, s.workspace);
    return e.is_good() || fail("execute", e);
}
}  // namespace xfb_cudnn
