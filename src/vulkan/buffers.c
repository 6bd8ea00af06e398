/* buffers.c — device memory: storage buffers (device-local, or host-visible and
 * persistently mapped), byte accounting for peak memory, and uploads/downloads
 * through the context's staging buffer (each a submission of its own; never
 * used inside a forward's command buffer). */
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

size_t vkx_wt_size(vkx_wt t) {
    return t == VKX_WT_F32 ? 4 : 2;
}

/* A memory type allowed by `bits` with all of `need`, preferring those with `want` too. */
static int find_memory_type(const vkx_ctx *c, uint32_t bits, VkMemoryPropertyFlags need,
                            VkMemoryPropertyFlags want) {
    int fallback = -1;
    for (uint32_t i = 0; i < c->memprops.memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = c->memprops.memoryTypes[i].propertyFlags;
        if (!(bits & (1u << i)) || (f & need) != need) continue;
        if ((f & want) == want) return (int)i;
        if (fallback < 0) fallback = (int)i;
    }
    return fallback;
}

xf_status vkx_buffer_create(vkx_ctx *c, VkDeviceSize size, int host, vkx_buffer *b) {
    xf_status st = XF_OK;
    memset(b, 0, sizeof(*b));
    if (size < 16) size = 16;
    size = (size + 15) & ~(VkDeviceSize)15;
    XF_CHECK(size <= c->max_alloc, XF_ERR_NO_MEMORY,
             "vulkan: a buffer of %llu bytes exceeds the device's allocation limit (%llu)",
             (unsigned long long)size, (unsigned long long)c->max_alloc);
    VkBufferCreateInfo bci = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
                              .size = size,
                              .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                       VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                              .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VK_CHECK(vkCreateBuffer(c->dev, &bci, NULL, &b->buf));
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(c->dev, b->buf, &req);
    int type = host ? find_memory_type(c, req.memoryTypeBits,
                                       VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
                                       VK_MEMORY_PROPERTY_HOST_CACHED_BIT)
                    : find_memory_type(c, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0);
    if (type < 0 && !host) type = find_memory_type(c, req.memoryTypeBits, 0, 0);
    XF_CHECK(type >= 0, XF_ERR_DEVICE, "vulkan: no suitable memory type for a %s buffer",
             host ? "host-visible" : "device");
    VkMemoryAllocateInfo mai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
                                .allocationSize = req.size,
                                .memoryTypeIndex = (uint32_t)type};
    VkResult r = vkAllocateMemory(c->dev, &mai, NULL, &b->mem);
    XF_CHECK(r == VK_SUCCESS, vkx_status(r), "vulkan: cannot allocate %llu bytes of %s memory on %s (%s)",
             (unsigned long long)req.size, host ? "host-visible" : "device", c->device_name,
             vkx_result_name(r));
    VK_CHECK(vkBindBufferMemory(c->dev, b->buf, b->mem, 0));
    if (host) VK_CHECK(vkMapMemory(c->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map));
    b->size = size;
    b->host = host;
    b->alloc = req.size;
    c->bytes_now += (size_t)req.size;
    if (c->bytes_now > c->bytes_peak) c->bytes_peak = c->bytes_now;
    return XF_OK;
cleanup:
    vkx_buffer_destroy(c, b);
    return st;
}

void vkx_buffer_destroy(vkx_ctx *c, vkx_buffer *b) {
    if (!c || !c->dev || !b) return;
    if (b->buf) vkDestroyBuffer(c->dev, b->buf, NULL);
    if (b->mem) {
        vkFreeMemory(c->dev, b->mem, NULL);
        c->bytes_now -= (size_t)b->alloc;
    }
    memset(b, 0, sizeof(*b));
}

static void copy_cmd(vkx_ctx *c, VkBuffer src, VkDeviceSize so, VkBuffer dst, VkDeviceSize dof,
                     VkDeviceSize n) {
    VkBufferCopy region = {.srcOffset = so, .dstOffset = dof, .size = n};
    vkCmdCopyBuffer(c->cmd, src, dst, 1, &region);
}

xf_status vkx_upload_fill(vkx_ctx *c, vkx_buffer *dst, VkDeviceSize off, size_t bytes,
                          vkx_fill_fn fill, void *user) {
    xf_status st = XF_OK;
    XF_CHECK(!c->recording, XF_ERR_INTERNAL, "vulkan: upload while a forward is being recorded");
    XF_CHECK(off + bytes <= dst->size, XF_ERR_INTERNAL, "vulkan: upload past the end of a buffer");
    for (size_t done = 0; done < bytes;) {
        size_t n = bytes - done;
        if (n > c->staging.size) n = (size_t)c->staging.size;
        fill(user, c->staging.map, done, n);
        XF_TRY(vkx_begin(c));
        copy_cmd(c, c->staging.buf, 0, dst->buf, off + done, n);
        XF_TRY(vkx_submit_wait(c));
        done += n;
    }
cleanup:
    return st;
}

static void fill_memcpy(void *user, void *dst, size_t off, size_t n) {
    memcpy(dst, (const char *)user + off, n);
}

xf_status vkx_upload(vkx_ctx *c, vkx_buffer *dst, VkDeviceSize off, const void *src, size_t bytes) {
    if (dst->host) {
        memcpy((char *)dst->map + off, src, bytes);
        return XF_OK;
    }
    return vkx_upload_fill(c, dst, off, bytes, fill_memcpy, (void *)src);
}

xf_status vkx_download(vkx_ctx *c, vkx_buffer *src, VkDeviceSize off, void *dst, size_t bytes) {
    xf_status st = XF_OK;
    XF_CHECK(!c->recording, XF_ERR_INTERNAL, "vulkan: download while a forward is being recorded");
    XF_CHECK(off + bytes <= src->size, XF_ERR_INTERNAL, "vulkan: download past the end of a buffer");
    if (src->host) {
        memcpy(dst, (const char *)src->map + off, bytes);
        return XF_OK;
    }
    for (size_t done = 0; done < bytes;) {
        size_t n = bytes - done;
        if (n > c->staging.size) n = (size_t)c->staging.size;
        XF_TRY(vkx_begin(c));
        copy_cmd(c, src->buf, off + done, c->staging.buf, 0, n);
        vkx_barrier_all(c);
        XF_TRY(vkx_submit_wait(c));
        memcpy((char *)dst + done, c->staging.map, n);
        done += n;
    }
cleanup:
    return st;
}
