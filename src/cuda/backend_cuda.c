/* backend_cuda.c — the CUDA backend's table (xf_backend_cuda): engine creation
 * (device check, switches and kernel table, weight upload, scratch sized for
 * max_tokens), kernel-table entries for printing (cuda_kernels.c), forward (see
 * cuda_forward.c), peak device memory, destruction; plus the device-memory
 * accounting every allocation of the backend goes through. */
#include <stdlib.h>
#include <string.h>

#include "cuda_backend.h"
#include "cuda_check.h"
#include "cuda_state.h"

#define WORKSPACE_BYTES ((size_t)32 << 20)  /* cuBLASLt's recommendation for Hopper */

extern const xf_op_table xfc_op_table;  /* cuda_optable.c */

xf_status xfc_malloc(xfc_state *s, void **p, size_t bytes, const char *what) {
    xf_status st = XF_OK;
    *p = NULL;
    if (s->n_allocs == s->cap_allocs) {
        int cap = s->cap_allocs ? 2 * s->cap_allocs : 256;
        xfc_alloc *grown = realloc(s->allocs, sizeof *grown * (size_t)cap);
        XF_CHECK(grown, XF_ERR_NO_MEMORY, "out of host memory");
        s->allocs = grown, s->cap_allocs = cap;
    }
    cudaError_t e = cudaMalloc(p, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        *p = NULL;
        size_t free_b = 0, total_b = 0;
        cudaMemGetInfo(&free_b, &total_b);
        XF_CHECK(0, e == cudaErrorMemoryAllocation ? XF_ERR_NO_MEMORY : XF_ERR_DEVICE,
                 "cuda: cannot allocate %.1f MiB of device memory for %s (%s; %.1f MiB free of %.1f MiB)",
                 bytes / 1048576.0, what, cudaGetErrorString(e), free_b / 1048576.0, total_b / 1048576.0);
    }
    s->allocs[s->n_allocs++] = (xfc_alloc){*p, bytes};
    s->cur_bytes += bytes;
    if (s->cur_bytes > s->peak_bytes) s->peak_bytes = s->cur_bytes;
cleanup:
    return st;
}

void xfc_free(xfc_state *s, void *p) {
    if (!p) return;
    for (int i = 0; i < s->n_allocs; i++)
        if (s->allocs[i].p == p) {
            cudaFree(p);
            s->cur_bytes -= s->allocs[i].bytes;
            s->allocs[i] = s->allocs[--s->n_allocs];
            return;
        }
}

static void cuda_destroy(void *state) {
    xfc_state *s = state;
    if (!s) return;
    cudaSetDevice(s->device);  /* the device is per host thread: this one may not have set it */
    if (s->stream) cudaStreamSynchronize(s->stream);
    xfc_graphs_clear(s);
    xfc_scratch_free(s);
    for (int i = 0; i < s->n_allocs; i++) cudaFree(s->allocs[i].p);
    free(s->allocs);
    xfc_gemm_free(&s->gemm);
    if (s->prof) {
        for (int i = 0; i < s->prof->n_created; i++) cudaEventDestroy(s->prof->ev[i]);
        free(s->prof);
    }
    xfc_copyout_free(&s->copy);
    if (s->ev_start) cudaEventDestroy(s->ev_start);
    if (s->ev_replayed) cudaEventDestroy(s->ev_replayed);
    if (s->stream) cudaStreamDestroy(s->stream);
    free(s->layers);
    free(s->lora);
    free(s);
}

/* XF_OK when a usable GPU is there; XF_ERR_NO_DEVICE otherwise. */
xf_status xfc_check_device(int *device) {
    int n = 0, d = *device;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess || n == 0) {
        (void)cudaGetLastError();
        return xf_error(XF_ERR_NO_DEVICE, "cuda: no CUDA GPU is available (%s)",
                        e != cudaSuccess ? cudaGetErrorString(e) : "no devices found");
    }
    if (d < 0 || d >= n)
        return xf_error(XF_ERR_NO_DEVICE, "cuda: device %d: this machine has %d CUDA GPU%s (0 to %d)", d, n,
                        n == 1 ? "" : "s", n - 1);
    struct cudaDeviceProp prop;
    e = cudaGetDeviceProperties(&prop, d);
    if (e != cudaSuccess) return xf_error(XF_ERR_NO_DEVICE, "cuda: cannot query GPU %d: %s", d, cudaGetErrorString(e));
    if (prop.major < 9)
        return xf_error(XF_ERR_NO_DEVICE, "cuda: GPU %d (%s) has compute capability %d.%d; this build runs on 9.0 and newer",
                        d, prop.name, prop.major, prop.minor);
    return XF_OK;
}

static xf_status cuda_create(const xf_backend_config *cfg, void **out) {
    xf_status st = XF_OK;
    xfc_state *s = NULL;
    int device = cfg->device;
    *out = NULL;
    XF_TRY(xfc_check_device(&device));
    const xf_config *c = &cfg->model->cfg;
    XF_CHECK(c->head_dim > 0 && c->head_dim % 2 == 0 && c->head_dim <= 256, XF_ERR_UNSUPPORTED,
             "cuda: head_dim %d is not supported (even, at most 256)", c->head_dim);
    XF_CHECK(c->n_kv_heads > 0 && c->n_heads % c->n_kv_heads == 0, XF_ERR_FORMAT,
             "cuda: %d heads are not a multiple of %d kv heads", c->n_heads, c->n_kv_heads);
    XF_CHECK(cfg->max_tokens >= 1, XF_ERR_INVALID_ARG, "cuda: max_tokens must be positive");
    XF_ALLOC(s, 1);
    s->model = cfg->model;
    s->mode = cfg->dtype;
    s->act = cfg->dtype == XF_DTYPE_BF16 ? XFC_BF16 : cfg->dtype == XF_DTYPE_F16 ? XFC_F16 : XFC_F32;
    s->device = device;
    s->H = c->hidden, s->I = c->intermediate, s->NH = c->n_heads, s->NKV = c->n_kv_heads, s->D = c->head_dim;
    s->V = c->vocab, s->L = c->num_labels > 0 ? c->num_labels : 0, s->n_layers = c->n_layers;
    s->Nqkv = (s->NH + 2 * s->NKV) * s->D;
    s->eps = (float)c->eps;
    xfc_switches_read(&s->sw);
    CUDA_CHECK(cudaSetDevice(device));
    XF_TRY(xfc_kernels_init());
    xfc_kernels_fill(&s->kernels, xfc_device_cc(device), s->act, c, &s->sw);
    CUDA_CHECK(cudaStreamCreateWithFlags(&s->stream, cudaStreamNonBlocking));
    CUDA_CHECK(cudaEventCreate(&s->ev_start));
    CUDA_CHECK(cudaEventCreate(&s->ev_replayed));
    XF_TRY(xfc_copyout_init(&s->copy, device, cfg->n_threads));
    if (s->sw.profile) XF_ALLOC(s->prof, 1);
    XF_TRY(xfc_malloc(s, &s->workspace, WORKSPACE_BYTES, "cuBLASLt workspace"));
    XF_TRY(xfc_gemm_init(&s->gemm, s->workspace, WORKSPACE_BYTES));
    xfc_gemm_set_cache(&s->gemm, cfg->cache_dir && *cfg->cache_dir ? cfg->cache_dir : s->sw.cache_home, device);
    XF_TRY(xfc_upload_weights(s, cfg));
    XF_TRY(xfc_upload_adapters(s, cfg));
    s->weight_bytes = s->cur_bytes - WORKSPACE_BYTES;
    XF_TRY(xfc_scratch_alloc(s, xfc_t_bucket(cfg->max_tokens), xfc_b_bucket(cfg->max_tokens)));
    *out = s;
    s = NULL;
cleanup:
    cuda_destroy(s);
    return st;
}

static xf_status cuda_forward(void *state, const xf_plan *plan) { return xfc_forward(state, plan); }

static size_t cuda_peak_memory(void *state) { return state ? ((xfc_state *)state)->peak_bytes : 0; }

static void cuda_kernel(void *state, const xf_op *op, xf_kernel_choice *out) {
    const xfc_state *s = state;
    xfc_kernel_describe(&s->kernels, s->act, op, out);
}

const xf_backend_ops xf_backend_cuda = {
    .name = "cuda",
    .create = cuda_create,
    .forward = cuda_forward,
    .peak_memory = cuda_peak_memory,
    .destroy = cuda_destroy,
    .ops = &xfc_op_table,
    .kernel = cuda_kernel,
};

/* ---------------------------------------------------------------- cuda_backend.h */

void xf_cuda_last_times(void *state, float *replay_ms, float *total_ms) {
    const xfc_state *s = state;
    if (replay_ms) *replay_ms = s->last_replay_ms;
    if (total_ms) *total_ms = s->last_total_ms;
}

size_t xf_cuda_weight_bytes(void *state) { return ((const xfc_state *)state)->weight_bytes; }

static const char *const prof_names[XFC_P_COUNT] = {
    [XFC_P_EMBED] = "embed", [XFC_P_NORM] = "rmsnorm", [XFC_P_GEMM_QKV] = "gemm qkv", [XFC_P_ROPE] = "qknorm+rope",
    [XFC_P_ATTN] = "attention", [XFC_P_GEMM_O] = "gemm o (+residual)", [XFC_P_GEMM_GU] = "gemm gate|up",
    [XFC_P_SWIGLU] = "swiglu", [XFC_P_GEMM_DOWN] = "gemm down (+residual)", [XFC_P_LORA] = "lora",
    [XFC_P_HEAD] = "final norm + head",
};

int xf_cuda_profile(void *state, const char *const **names, const double **ms, int *runs) {
    const xfc_state *s = state;
    if (!s->prof) return 0;
    *names = prof_names;
    *ms = s->prof->ms;
    *runs = s->prof->runs;
    return XFC_P_COUNT;
}

xf_status xf_cuda_set_profile(void *state, int on) {
    xfc_state *s = state;
    if (on && !s->prof) {
        s->prof = calloc(1, sizeof *s->prof);
        if (!s->prof) return xf_error(XF_ERR_NO_MEMORY, "out of host memory");
    } else if (!on && s->prof) {
        for (int i = 0; i < s->prof->n_created; i++) cudaEventDestroy(s->prof->ev[i]);
        free(s->prof);
        s->prof = NULL;
    }
    return XF_OK;
}

void xf_cuda_profile_reset(void *state) {
    xfc_state *s = state;
    if (!s->prof) return;
    memset(s->prof->ms, 0, sizeof s->prof->ms);
    s->prof->runs = 0;
}
