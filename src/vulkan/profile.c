/* profile.c — measuring tools for tuning on a device, off unless asked for:
 * XFWD_VK_PROFILE=1 writes a timestamp after every dispatch and sums the device
 * time per shader (dispatches are serialised by their barriers, so the gap
 * between two timestamps is the later dispatch); XFWD_VK_PIPE_STATS=1 records
 * the driver's compiler statistics of each pipeline (registers, spills) through
 * VK_KHR_pipeline_executable_properties. Reports are read by bench/vulkan_bench.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"
#include "vk_timing.h"

static char g_prof[4096];
static char g_stats[16384];
static size_t g_stats_len;
static vkx_ctx *g_prof_ctx;

void vkx_prof_dispatched(vkx_ctx *c, VkPipeline p) {
    if (!c->prof_pool || c->prof_n >= VKX_PROF_MAX) return;
    vkx_shader sh = VKX_SH_COUNT;
    for (int i = 0; i < c->n_pipes; i++)
        if (c->pipes[i].pipe == p) sh = c->pipes[i].sh;
    if (c->prof_n == 0) {
        vkCmdResetQueryPool(c->cmd, c->prof_pool, 0, VKX_PROF_MAX);
        c->prof_sh[c->prof_n] = VKX_SH_COUNT;
        vkCmdWriteTimestamp(c->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, c->prof_pool, c->prof_n++);
    }
    c->prof_sh[c->prof_n] = sh;
    vkCmdWriteTimestamp(c->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, c->prof_pool, c->prof_n++);
}

void vkx_prof_collect(vkx_ctx *c) {
    if (!c->prof_pool || c->prof_n < 2) {
        c->prof_n = 0;
        return;
    }
    uint64_t *t = calloc(c->prof_n, sizeof(uint64_t));
    if (t && vkGetQueryPoolResults(c->dev, c->prof_pool, 0, c->prof_n, c->prof_n * sizeof(uint64_t), t,
                                   sizeof(uint64_t), VK_QUERY_RESULT_64_BIT) == VK_SUCCESS) {
        for (uint32_t i = 1; i < c->prof_n; i++) {
            vkx_shader sh = c->prof_sh[i];
            if (sh >= VKX_SH_COUNT || t[i] < t[i - 1]) continue;
            c->prof_ms[sh] += (double)(t[i] - t[i - 1]) * c->ts_period_ns * 1e-6;
            c->prof_calls[sh]++;
        }
    }
    free(t);
    c->prof_n = 0;
    g_prof_ctx = c;
}

const char *xf_vk_profile_report(void) {
    vkx_ctx *c = g_prof_ctx;
    size_t n = 0;
    g_prof[0] = '\0';
    if (!c) return g_prof;
    double total = 0;
    for (int i = 0; i < VKX_SH_COUNT; i++) total += c->prof_ms[i];
    for (int i = 0; i < VKX_SH_COUNT && n < sizeof(g_prof); i++) {
        if (!c->prof_calls[i]) continue;
        n += (size_t)snprintf(g_prof + n, sizeof(g_prof) - n, "  %-16s %7u calls %10.3f ms %5.1f %%\n",
                              vkx_shaders[i].name, c->prof_calls[i], c->prof_ms[i],
                              total > 0 ? 100.0 * c->prof_ms[i] / total : 0.0);
        c->prof_ms[i] = 0;
        c->prof_calls[i] = 0;
    }
    return g_prof;
}

const char *xf_vk_pipeline_stats(void) {
    return g_stats;
}

void vkx_pipe_stats(vkx_ctx *c, VkPipeline p, const char *name) {
    if (!c->pipe_stats) return;
    PFN_vkGetPipelineExecutablePropertiesKHR props =
        (PFN_vkGetPipelineExecutablePropertiesKHR)vkGetDeviceProcAddr(c->dev, "vkGetPipelineExecutablePropertiesKHR");
    PFN_vkGetPipelineExecutableStatisticsKHR stats =
        (PFN_vkGetPipelineExecutableStatisticsKHR)vkGetDeviceProcAddr(c->dev, "vkGetPipelineExecutableStatisticsKHR");
    if (!props || !stats) return;
    VkPipelineInfoKHR pi = {.sType = VK_STRUCTURE_TYPE_PIPELINE_INFO_KHR, .pipeline = p};
    uint32_t ne = 0;
    if (props(c->dev, &pi, &ne, NULL) != VK_SUCCESS || ne == 0) return;
    VkPipelineExecutableInfoKHR ei = {.sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_INFO_KHR, .pipeline = p,
                                      .executableIndex = 0};
    uint32_t ns = 0;
    if (stats(c->dev, &ei, &ns, NULL) != VK_SUCCESS || ns == 0) return;
    VkPipelineExecutableStatisticKHR *st = calloc(ns, sizeof(*st));
    if (!st) return;
    for (uint32_t i = 0; i < ns; i++) st[i].sType = VK_STRUCTURE_TYPE_PIPELINE_EXECUTABLE_STATISTIC_KHR;
    if (stats(c->dev, &ei, &ns, st) == VK_SUCCESS) {
        size_t cap = sizeof(g_stats);
        g_stats_len += (size_t)snprintf(g_stats + g_stats_len, cap > g_stats_len ? cap - g_stats_len : 0, "  %s:",
                                        name);
        for (uint32_t i = 0; i < ns && g_stats_len < cap; i++) {
            char v[64];
            const VkPipelineExecutableStatisticValueKHR *x = &st[i].value;
            switch (st[i].format) {
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_BOOL32_KHR: snprintf(v, sizeof v, "%u", x->b32); break;
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_INT64_KHR: snprintf(v, sizeof v, "%lld", (long long)x->i64); break;
            case VK_PIPELINE_EXECUTABLE_STATISTIC_FORMAT_UINT64_KHR:
                snprintf(v, sizeof v, "%llu", (unsigned long long)x->u64);
                break;
            default: snprintf(v, sizeof v, "%g", x->f64); break;
            }
            g_stats_len += (size_t)snprintf(g_stats + g_stats_len, cap - g_stats_len, " %s=%s", st[i].name, v);
        }
        if (g_stats_len < cap) g_stats_len += (size_t)snprintf(g_stats + g_stats_len, cap - g_stats_len, "\n");
        if (g_stats_len > cap - 1) g_stats_len = cap - 1;
    }
    free(st);
}

/* ------------------------------------------------------------------ multiply timing */

typedef struct gemm_fill {
    uint32_t cols;
    vkx_wt wt;
    float scale;
} gemm_fill;

/* Deterministic values in [-scale, scale] of the mode's 16-bit type. */
static uint16_t gemm_value16(vkx_wt wt, uint64_t i, float scale) {
    uint64_t s = (i + 1) * 0x9e3779b97f4a7c15ull;
    s ^= s >> 31;
    s *= 0xbf58476d1ce4e5b9ull;
    s ^= s >> 29;
    float v = scale * ((float)(s >> 40) / (float)(1u << 24) * 2.0f - 1.0f);
    return wt == VKX_WT_BF16 ? xf_f32_to_bf16(v) : xf_f32_to_f16(v);
}

static void gemm_rows(void *user, uint32_t row0, uint32_t nrows, void *dst) {
    const gemm_fill *f = user;
    uint16_t *d = dst;
    for (uint64_t i = 0; i < (uint64_t)nrows * f->cols; i++)
        d[i] = gemm_value16(f->wt, (uint64_t)row0 * f->cols + i, f->scale);
}

static void gemm_bytes(void *user, void *dst, size_t byte_off, size_t n) {
    const gemm_fill *f = user;
    uint16_t *d = dst;
    for (size_t i = 0; i < n / 2; i++) d[i] = gemm_value16(f->wt, byte_off / 2 + i + 0x5bd1e995u, f->scale);
}

static vkx_ctx *g_gemm_ctx;

/* Bench hook (vk_timing.h; bench/vulkan_bench.c --gemm): the forward's multiply on
 * random data, the weights and x laid out as the forward's layers have them. */
xf_status xf_vk_gemm_time(xf_dtype mode, int M, int N, int K, int glu, int iters, double ms[5]) {
    xf_status st = XF_OK;
    vkx_buffer bx = {0}, by = {0};
    vkx_weight w = {0};
    vkx_kernels k;
    VkDescriptorSet *sets = NULL;
    memset(ms, 0, 5 * sizeof(double));
    XF_CHECK(M >= 1 && N >= 2 && K >= 8 && iters >= 1 && (mode == XF_DTYPE_F16 || mode == XF_DTYPE_BF16),
             XF_ERR_INVALID_ARG, "vulkan gemm timing: bad arguments");
    if (!g_gemm_ctx) XF_TRY(vkx_ctx_create(NULL, 0, &g_gemm_ctx));
    vkx_ctx *c = g_gemm_ctx;
    vkx_sets_reset(c);
    XF_TRY(vkx_kernels_init(c, mode, 0, 1, &k));
    XF_CHECK(k.a16 && (!glu || k.glu_vec), XF_ERR_UNSUPPORTED,
             "vulkan gemm timing: no matrix-unit %s kernel on this device with these settings",
             glu ? "gate|up" : "multiply");
    XF_CHECK(!glu || (N % 2 == 0 && (uint64_t)N * (uint64_t)K * 2 <= c->max_piece), XF_ERR_INVALID_ARG,
             "vulkan gemm timing: bad gate|up shape");
    gemm_fill fw = {(uint32_t)K, k.wt, 1.0f}, fx = {(uint32_t)K, k.wt, 1.0f / sqrtf((float)K)};
    int blk = glu ? k.glub_vec != NULL : k.cmb_vec != NULL; /* as the forward uploads its layers */
    XF_TRY(vkx_weight_upload_blocked(c, k.wt, (uint32_t)N, (uint32_t)K, gemm_rows, &fw, blk ? k.cm_bn : 0, k.blk_k,
                                     &w));
    /* x as the forward's q|k|v and gate|up read it: blocked where they do (random data either way) */
    int xb = w.blk_rows && (glu ? k.glubx : k.cmbx) && w.n == 1;
    size_t xbytes = (size_t)(M + k.cm_bm) * K * 2;
    XF_TRY(vkx_buffer_create(c, xbytes, 0, &bx));
    XF_TRY(vkx_upload_fill(c, &bx, 0, xbytes, gemm_bytes, &fx));
    XF_TRY(vkx_buffer_create(c, (size_t)(M + k.cm_bm) * N * (glu ? 1 : 4), 0, &by));
    XF_ALLOC(sets, w.n);
    for (int p = 0; p < w.n; p++) {
        vkx_buffer *b[4] = {&bx, &w.pieces[p], NULL, &by};
        XF_TRY(vkx_set(c, b, 4, &sets[p]));
    }
    XF_CHECK(!glu || w.n == 1, XF_ERR_UNSUPPORTED, "vulkan gemm timing: gate|up weight in pieces");
    /* warm-up rounds for at least 0.5 s of device time, then five timed rounds */
    double warmed = 0;
    int warm = 0;
    for (int round = 0; warm < 5; round++) {
        XF_TRY(vkx_begin(c));
        vkx_ts_begin(c);
        for (int i = 0; i < iters; i++) {
            if (glu) {
                vkx_rec_glu(c, &k, sets[0], (uint32_t)M, (uint32_t)N / 2, (uint32_t)K, w.blk_rows != 0, xb,
                            xb && k.glubxy && (N / 2) % k.blk_k == 0);
                continue;
            }
            for (int p = 0; p < w.n; p++) {
                vkx_linear_pc pc = {.M = (uint32_t)M, .N = w.row0[p + 1] - w.row0[p], .K = (uint32_t)K,
                                    .ldx = (uint32_t)K, .ldw = (uint32_t)K, .y_off = w.row0[p],
                                    .ldy = (uint32_t)N, .alpha = 1.0f, .mask_adapter = -1};
                vkx_rec_linear(c, &k, xb ? VKX_W_BLOCKED_X : vkx_weight_kind(&w), sets[p], &pc);
            }
        }
        vkx_ts_end(c);
        XF_TRY(vkx_submit_wait(c));
        vkx_ts_read(c);
        if (warmed >= 500 || round >= 1000) ms[warm++] = c->last_forward_ms / iters;
        warmed += c->last_forward_ms > 0 ? c->last_forward_ms : 1;
    }
cleanup:
    free(sets);
    if (g_gemm_ctx) {
        vkx_weight_free(g_gemm_ctx, &w);
        vkx_buffer_destroy(g_gemm_ctx, &bx);
        vkx_buffer_destroy(g_gemm_ctx, &by);
    }
    return st;
}
