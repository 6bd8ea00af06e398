/* trace.c — a debugging aid: with XFWD_VK_TRACE=FILE, every command the backend
 * records (dispatch: pipeline = shader + specialization constants, descriptor set
 * by order of first use, push constants, group counts; full barriers; copies;
 * timestamps; submissions) is appended to FILE as one line, so that two builds'
 * command streams can be compared line by line (identical streams: the same GPU
 * work). Off (one pointer test per command) unless asked for. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

static FILE *g_trace;
static int g_trace_init;
static VkDescriptorSet *g_sets;
static size_t g_n_sets, g_cap_sets;

static FILE *trace_file(void) {
    if (!g_trace_init) {
        g_trace_init = 1;
        const char *path = vkx_trace_path();
        if (path && *path) g_trace = fopen(path, "a");
    }
    return g_trace;
}

void vkx_trace(vkx_ctx *c, const char *what) {
    (void)c;
    FILE *f = trace_file();
    if (f) fprintf(f, "%s\n", what), fflush(f);
}

void vkx_trace_copy(vkx_ctx *c, VkDeviceSize src_off, VkDeviceSize dst_off, VkDeviceSize bytes) {
    (void)c;
    FILE *f = trace_file();
    if (f) fprintf(f, "copy %llu -> %llu, %llu bytes\n", (unsigned long long)src_off, (unsigned long long)dst_off,
                   (unsigned long long)bytes);
}

static size_t set_index(VkDescriptorSet s) {
    for (size_t i = 0; i < g_n_sets; i++)
        if (g_sets[i] == s) return i;
    if (g_n_sets == g_cap_sets) {
        size_t cap = g_cap_sets ? 2 * g_cap_sets : 256;
        VkDescriptorSet *p = realloc(g_sets, cap * sizeof(*p));
        if (!p) return (size_t)-1;
        g_sets = p, g_cap_sets = cap;
    }
    g_sets[g_n_sets] = s;
    return g_n_sets++;
}

void vkx_trace_dispatch(vkx_ctx *c, VkPipeline p, VkDescriptorSet s, const void *pc, uint32_t pc_bytes, uint32_t gx,
                        uint32_t gy) {
    FILE *f = trace_file();
    if (!f) return;
    const vkx_pipe_entry *e = NULL;
    for (int i = 0; i < c->n_pipes; i++)
        if (c->pipes[i].pipe == p) e = &c->pipes[i];
    fprintf(f, "dispatch %s", e ? vkx_shaders[e->sh].name : "?");
    for (uint32_t i = 0; e && i < e->nspec; i++) fprintf(f, "%s%u", i ? "," : " spec=", e->spec[i]);
    fprintf(f, " set#%zu pc=", set_index(s));
    const uint32_t *w = pc;
    for (uint32_t i = 0; i < pc_bytes / 4; i++) fprintf(f, "%s%x", i ? "," : "", w[i]);
    fprintf(f, " groups=%u,%u\n", gx, gy);
}
