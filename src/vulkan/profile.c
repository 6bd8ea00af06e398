/* profile.c — measuring tools for tuning on a device, off unless asked for:
 * XFWD_VK_PROFILE=1 writes a timestamp after every dispatch and sums the device
 * time per shader (dispatches are serialised by their barriers, so the gap
 * between two timestamps is the later dispatch); XFWD_VK_PIPE_STATS=1 records
 * the driver's compiler statistics of each pipeline (registers, spills) through
 * VK_KHR_pipeline_executable_properties. Reports are read by bench/vulkan_bench.c. */
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
