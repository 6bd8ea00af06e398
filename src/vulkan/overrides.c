/* overrides.c — every environment variable the Vulkan backend reads, read here and
 * only here, into one struct (vkx_overrides) when a context is created; nothing
 * else in src/vulkan calls getenv. Defaults are the measured best
 * (bench/vulkan-h100.md); a kernel asked for that the device or tile cannot run is
 * an error, never a silent fallback.
 *
 * Benchmarking (which kernel or layout runs; compared in bench/vulkan-h100.md):
 *   XFWD_VK_COOPMAT=none|nv|khr   cap the matrix units used (none: plain shaders;
 *                                 nv: VK_NV_cooperative_matrix; khr: no NV2 kernels)
 *   XFWD_VK_MM=db|cm2             the multiply: the KHR kernel with one slice of prefetch
 *                                 (db) instead of two, or NV2's workgroup-scope kernel
 *   XFWD_VK_CM_TILE=BM,BN,BK,WM,WN[,GM]  the subgroup matrix-unit multiply's tile (and
 *                                 GM: workgroups walk groups of GM tile rows, 0 = plain order)
 *   XFWD_VK_GLU=0|cm2             gate|up and SwiGLU as two passes, or NV2's fused kernel
 *   XFWD_VK_ATT=scalar|khr|cm2|cm2-smem  the attention kernel of the 16-bit modes
 *   XFWD_VK_LAYOUT=rows|wblock|xblock|oblock  stop the blocked-layout chain early: row-major
 *                                 weights; blocked weights only; x blocked too; att16 blocked
 *                                 too (the default adds 16-bit q|k|v)
 * Tests and debugging:
 *   XFWD_VK_REQUIRE_COOPMAT=1     a 16-bit mode without matrix units fails (CI's coopmat runs)
 *   XFWD_VK_DEVICE=i              use device i;  XFWD_VK_VALIDATE=1: the validation layer
 *   XFWD_VK_MAX_BUFFER_RANGE, XFWD_VK_WEIGHT_PIECE (bytes), XFWD_VK_MAX_GROUPS
 *                                 lower the device limits (chunked submissions, split
 *                                 weights, 2-D grids on tiny models)
 *   XFWD_VK_PROBE=1               print what the device offers
 *   XFWD_VK_PROFILE=1, XFWD_VK_PIPE_STATS=1  per-shader device time, compiler statistics
 *   XFWD_VK_TRACE=FILE            append every recorded command to FILE (trace.c)
 *   XDG_CACHE_HOME, HOME          where the pipeline cache lives without --cache-dir */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

static int env_ll(const char *name, long long *v) {
    const char *s = getenv(name);
    if (!s || !*s) return 0;
    char *end = NULL;
    long long x = strtoll(s, &end, 0);
    if (end == s || *end) return 0;
    *v = x;
    return 1;
}

static int env_is(const char *name, const char *value) {
    const char *s = getenv(name);
    return s && strcmp(s, value) == 0;
}

void vkx_overrides_read(vkx_overrides *o) {
    memset(o, 0, sizeof(*o));
    long long v = 0;
    o->coopmat = env_is("XFWD_VK_COOPMAT", "none") ? VKX_CM_CAP_NONE
                 : env_is("XFWD_VK_COOPMAT", "nv") ? VKX_CM_CAP_NV
                 : env_is("XFWD_VK_COOPMAT", "khr") ? VKX_CM_CAP_KHR
                                                    : VKX_CM_CAP_ALL;
    o->mm = env_is("XFWD_VK_MM", "db") ? VKX_MM_DB : env_is("XFWD_VK_MM", "cm2") ? VKX_MM_CM2 : VKX_MM_DEFAULT;
    const char *t = getenv("XFWD_VK_CM_TILE");
    uint32_t m[6];
    int n = t ? sscanf(t, "%u,%u,%u,%u,%u,%u", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) : 0;
    if (n >= 5) {
        memcpy(o->cm_tile, m, 5 * sizeof(uint32_t));
        o->cm_tile_set = 1;
    }
    o->cm_group = n == 6 ? (int)m[5] : -1;
    o->glu = env_is("XFWD_VK_GLU", "0") ? VKX_GLU_OFF : env_is("XFWD_VK_GLU", "cm2") ? VKX_GLU_CM2 : VKX_GLU_DEFAULT;
    o->att = env_is("XFWD_VK_ATT", "scalar")     ? VKX_ATT_PICK_SCALAR
             : env_is("XFWD_VK_ATT", "khr")      ? VKX_ATT_PICK_KHR
             : env_is("XFWD_VK_ATT", "cm2")      ? VKX_ATT_PICK_CM2
             : env_is("XFWD_VK_ATT", "cm2-smem") ? VKX_ATT_PICK_CM2_SMEM
                                                 : VKX_ATT_PICK_DEFAULT;
    o->layout = env_is("XFWD_VK_LAYOUT", "rows")     ? VKX_LAYOUT_ROWS
                : env_is("XFWD_VK_LAYOUT", "wblock") ? VKX_LAYOUT_WBLOCK
                : env_is("XFWD_VK_LAYOUT", "xblock") ? VKX_LAYOUT_XBLOCK
                : env_is("XFWD_VK_LAYOUT", "oblock") ? VKX_LAYOUT_OBLOCK
                                                     : VKX_LAYOUT_QKV16;
    o->require_coopmat = env_is("XFWD_VK_REQUIRE_COOPMAT", "1");
    o->device = env_ll("XFWD_VK_DEVICE", &v) ? (int)v : -1;
    o->validate = env_ll("XFWD_VK_VALIDATE", &v) && v;
    o->probe = env_ll("XFWD_VK_PROBE", &v) && v;
    o->profile = env_ll("XFWD_VK_PROFILE", &v) && v;
    o->pipe_stats = env_ll("XFWD_VK_PIPE_STATS", &v) && v;
    o->max_buffer_range = env_ll("XFWD_VK_MAX_BUFFER_RANGE", &v) && v > 0 ? (uint64_t)v : 0;
    o->weight_piece = env_ll("XFWD_VK_WEIGHT_PIECE", &v) && v > 0 ? (uint64_t)v : 0;
    o->max_groups = env_ll("XFWD_VK_MAX_GROUPS", &v) && v > 0 && v < (1LL << 32) ? (uint32_t)v : 0;
}

const char *vkx_trace_path(void) {
    return getenv("XFWD_VK_TRACE");
}

int vkx_default_cache_dir(char *dir, size_t n) {
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && *xdg) return snprintf(dir, n, "%s/xfwd", xdg), 1;
    if (home && *home) return snprintf(dir, n, "%s/.cache/xfwd", home), 1;
    return 0;
}
