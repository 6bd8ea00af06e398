/* pipelines.c — compute pipelines from the embedded SPIR-V (one per shader and
 * set of specialization constants, created once and kept), the VkPipelineCache
 * file that makes the next start-up fast, descriptor sets over the one shared
 * layout (storage buffers 0..5), and recording dispatches with their barriers. */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vk_internal.h"

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Cache file: <dir>/vulkan-<vendor>-<device>-<pipelineCacheUUID>.bin, so a file
 * from another device or driver is never offered to this one. */
static char *cache_file_path(const vkx_ctx *c, const char *cache_dir) {
    char dir[4000];
    if (cache_dir && *cache_dir) {
        snprintf(dir, sizeof(dir), "%s", cache_dir);
    } else {
        if (!vkx_default_cache_dir(dir, sizeof(dir))) return NULL;
    }
    if (xf_make_dirs(dir) != 0) return NULL;
    char uuid[2 * VK_UUID_SIZE + 1];
    for (unsigned i = 0; i < VK_UUID_SIZE; i++) snprintf(uuid + 2 * i, 3, "%02x", c->props.pipelineCacheUUID[i]);
    size_t len = strlen(dir) + 80 + sizeof(uuid);
    char *p = malloc(len);
    if (p)
        snprintf(p, len, "%s/vulkan-%04x-%04x-%s.bin", dir, c->props.vendorID, c->props.deviceID, uuid);
    return p;
}

/* Reads the cache file when its header names this device; otherwise starts empty. */
void vkx_cache_load(vkx_ctx *c, const char *cache_dir) {
    void *data = NULL;
    size_t size = 0;
    c->cache_path = cache_file_path(c, cache_dir);
    FILE *f = c->cache_path ? fopen(c->cache_path, "rb") : NULL;
    if (f) {
        if (fseek(f, 0, SEEK_END) == 0) {
            long n = ftell(f);
            if (n >= 32 && n < (1L << 30) && fseek(f, 0, SEEK_SET) == 0 && (data = malloc((size_t)n)) &&
                fread(data, 1, (size_t)n, f) == (size_t)n)
                size = (size_t)n;
        }
        fclose(f);
    }
    if (size) {
        uint32_t h[4];
        memcpy(h, data, sizeof(h));
        if (h[0] < 32 || h[0] > size || h[1] != VK_PIPELINE_CACHE_HEADER_VERSION_ONE ||
            h[2] != c->props.vendorID || h[3] != c->props.deviceID ||
            memcmp((char *)data + 16, c->props.pipelineCacheUUID, VK_UUID_SIZE) != 0)
            size = 0;
    }
    VkPipelineCacheCreateInfo pci = {.sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
                                     .initialDataSize = size,
                                     .pInitialData = size ? data : NULL};
    if (vkCreatePipelineCache(c->dev, &pci, NULL, &c->pcache) != VK_SUCCESS) {
        pci.initialDataSize = 0;
        pci.pInitialData = NULL;
        size = 0;
        if (vkCreatePipelineCache(c->dev, &pci, NULL, &c->pcache) != VK_SUCCESS) c->pcache = VK_NULL_HANDLE;
    }
    c->cache_loaded = size;
    free(data);
}

/* Writes the cache next to its final name and renames it into place; any
 * failure leaves the old file (or none) and is not an error. */
void vkx_cache_save(vkx_ctx *c) {
    if (!c->pcache || !c->cache_path || c->pipes_new == 0) return;
    size_t size = 0;
    if (vkGetPipelineCacheData(c->dev, c->pcache, &size, NULL) != VK_SUCCESS || size == 0) return;
    void *data = malloc(size);
    if (!data) return;
    if (vkGetPipelineCacheData(c->dev, c->pcache, &size, data) == VK_SUCCESS) {
        size_t n = strlen(c->cache_path) + 32;
        char *tmp = malloc(n);
        if (tmp) {
            snprintf(tmp, n, "%s.%ld.tmp", c->cache_path, (long)getpid());
            FILE *f = fopen(tmp, "wb");
            int ok = f && fwrite(data, 1, size, f) == size;
            if (f && fclose(f) != 0) ok = 0;
            if (!ok || rename(tmp, c->cache_path) != 0) remove(tmp);
            free(tmp);
        }
    }
    free(data);
    c->pipes_new = 0;
}

xf_status vkx_pipeline(vkx_ctx *c, vkx_shader sh, const uint32_t *spec, uint32_t nspec,
                       VkPipeline *out) {
    xf_status st = XF_OK;
    VkShaderModule mod = VK_NULL_HANDLE;
    *out = VK_NULL_HANDLE;
    XF_CHECK(nspec <= VKX_MAX_SPEC && (int)sh >= 0 && sh < VKX_SH_COUNT, XF_ERR_INTERNAL,
             "vulkan: bad pipeline request");
    for (int i = 0; i < c->n_pipes; i++) {
        const vkx_pipe_entry *e = &c->pipes[i];
        if (e->sh == sh && e->nspec == nspec && (nspec == 0 || memcmp(e->spec, spec, nspec * sizeof(uint32_t)) == 0)) {
            *out = e->pipe;
            return XF_OK;
        }
    }
    if (c->n_pipes == c->cap_pipes) {
        int cap = c->cap_pipes ? 2 * c->cap_pipes : 16;
        vkx_pipe_entry *p = realloc(c->pipes, (size_t)cap * sizeof(*p));
        XF_CHECK(p, XF_ERR_NO_MEMORY, "out of host memory (pipelines)");
        c->pipes = p;
        c->cap_pipes = cap;
    }
    double t0 = now_seconds();
    const vkx_spirv *sp = &vkx_shaders[sh];
    VkShaderModuleCreateInfo smi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                    .codeSize = sp->bytes,
                                    .pCode = sp->code};
    VK_CHECK(vkCreateShaderModule(c->dev, &smi, NULL, &mod));
    VkSpecializationMapEntry map[VKX_MAX_SPEC];
    for (uint32_t i = 0; i < nspec; i++)
        map[i] = (VkSpecializationMapEntry){.constantID = i, .offset = 4 * i, .size = 4};
    VkSpecializationInfo si = {.mapEntryCount = nspec, .pMapEntries = map,
                               .dataSize = 4 * nspec, .pData = spec};
    VkPipelineShaderStageRequiredSubgroupSizeCreateInfo rss = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_REQUIRED_SUBGROUP_SIZE_CREATE_INFO,
        .requiredSubgroupSize = c->subgroup_size};
    VkComputePipelineCreateInfo cpi = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .pNext = c->pin_subgroup ? &rss : NULL,
                  .flags = c->pin_subgroup ? VK_PIPELINE_SHADER_STAGE_CREATE_REQUIRE_FULL_SUBGROUPS_BIT : 0,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT,
                  .module = mod,
                  .pName = "main",
                  .pSpecializationInfo = nspec ? &si : NULL},
        .layout = c->layout,
        .flags = c->pipe_stats ? VK_PIPELINE_CREATE_CAPTURE_STATISTICS_BIT_KHR : 0};
    VkPipeline p = VK_NULL_HANDLE;
    VkResult r = vkCreateComputePipelines(c->dev, c->pcache, 1, &cpi, NULL, &p);
    XF_CHECK(r == VK_SUCCESS, vkx_status(r), "vulkan: cannot create the %s pipeline on %s (%s)",
             sp->name, c->device_name, vkx_result_name(r));
    vkx_pipe_entry *e = &c->pipes[c->n_pipes++];
    e->sh = sh;
    e->nspec = nspec;
    memset(e->spec, 0, sizeof(e->spec));
    if (nspec) memcpy(e->spec, spec, nspec * sizeof(uint32_t));
    e->pipe = p;
    *out = p;
    c->pipeline_seconds += now_seconds() - t0;
    c->pipes_new++;
    vkx_pipe_stats(c, p, sp->name);
cleanup:
    if (mod) vkDestroyShaderModule(c->dev, mod, NULL);
    return st;
}

static xf_status add_pool(vkx_ctx *c) {
    xf_status st = XF_OK;
    VkDescriptorPool *p = realloc(c->pools, (size_t)(c->n_pools + 1) * sizeof(*p));
    XF_CHECK(p, XF_ERR_NO_MEMORY, "out of host memory (descriptor pools)");
    c->pools = p;
    VkDescriptorPoolSize ps = {.type = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, .descriptorCount = 256 * VKX_BINDINGS};
    VkDescriptorPoolCreateInfo dpi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
                                      .maxSets = 256,
                                      .poolSizeCount = 1,
                                      .pPoolSizes = &ps};
    VK_CHECK(vkCreateDescriptorPool(c->dev, &dpi, NULL, &c->pools[c->n_pools]));
    c->n_pools++;
cleanup:
    return st;
}

xf_status vkx_set(vkx_ctx *c, vkx_buffer *const *bufs, int n, VkDescriptorSet *out) {
    return vkx_set_at(c, bufs, NULL, n, out);
}

xf_status vkx_set_at(vkx_ctx *c, vkx_buffer *const *bufs, const VkDeviceSize *offs, int n, VkDescriptorSet *out) {
    xf_status st = XF_OK;
    VkResult r = VK_ERROR_OUT_OF_POOL_MEMORY;
    for (int i = 0; i < c->n_pools && r != VK_SUCCESS; i++) {
        VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                          .descriptorPool = c->pools[i],
                                          .descriptorSetCount = 1,
                                          .pSetLayouts = &c->dsl};
        r = vkAllocateDescriptorSets(c->dev, &ai, out);
    }
    if (r != VK_SUCCESS) {
        XF_TRY(add_pool(c));
        VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                          .descriptorPool = c->pools[c->n_pools - 1],
                                          .descriptorSetCount = 1,
                                          .pSetLayouts = &c->dsl};
        VK_CHECK(vkAllocateDescriptorSets(c->dev, &ai, out));
    }
    VkDescriptorBufferInfo bi[VKX_BINDINGS];
    VkWriteDescriptorSet w[VKX_BINDINGS];
    for (int i = 0; i < VKX_BINDINGS; i++) {
        const vkx_buffer *b = (i < n && bufs[i]) ? bufs[i] : &c->dummy;
        VkDeviceSize off = (i < n && bufs[i] && offs) ? offs[i] : 0, size = b->size - off;
        VkDeviceSize range = size < c->max_range ? size : c->max_range;
        bi[i] = (VkDescriptorBufferInfo){.buffer = b->buf, .offset = off, .range = range};
        w[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
                                      .dstSet = *out,
                                      .dstBinding = (uint32_t)i,
                                      .descriptorCount = 1,
                                      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                      .pBufferInfo = &bi[i]};
    }
    vkUpdateDescriptorSets(c->dev, VKX_BINDINGS, w, 0, NULL);
cleanup:
    return st;
}

void vkx_sets_reset(vkx_ctx *c) {
    for (int i = 0; i < c->n_pools; i++) vkResetDescriptorPool(c->dev, c->pools[i], 0);
}

static void compute_barrier(vkx_ctx *c) {
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
    vkCmdPipelineBarrier(c->cmd, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0,
                         1, &mb, 0, NULL, 0, NULL);
}

void vkx_barrier_all(vkx_ctx *c) {
    vkx_trace(c, "barrier");
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_MEMORY_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_MEMORY_READ_BIT | VK_ACCESS_MEMORY_WRITE_BIT};
    vkCmdPipelineBarrier(c->cmd, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, VK_PIPELINE_STAGE_ALL_COMMANDS_BIT, 0, 1,
                         &mb, 0, NULL, 0, NULL);
}

void vkx_dispatch(vkx_ctx *c, VkPipeline p, VkDescriptorSet s, const void *pc, uint32_t pc_bytes,
                  uint32_t gx, uint32_t gy) {
    if (gx == 0 || gy == 0) return;
    vkx_trace_dispatch(c, p, s, pc, pc_bytes, gx, gy);
    vkCmdBindPipeline(c->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, p);
    vkCmdBindDescriptorSets(c->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, c->layout, 0, 1, &s, 0, NULL);
    if (pc_bytes) vkCmdPushConstants(c->cmd, c->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, pc_bytes, pc);
    vkCmdDispatch(c->cmd, gx, gy, 1);
    compute_barrier(c);
    if (c->prof_pool) vkx_prof_dispatched(c, p);
}

void vkx_dispatch_linear(vkx_ctx *c, VkPipeline p, VkDescriptorSet s, const void *pc,
                         uint32_t pc_bytes, uint64_t n) {
    if (n == 0) return;
    uint64_t gx = n, gy = 1;
    if (n > c->max_groups_x) {
        gx = c->max_groups_x;
        gy = (n + gx - 1) / gx;
    }
    vkx_dispatch(c, p, s, pc, pc_bytes, (uint32_t)gx, (uint32_t)gy);
}
