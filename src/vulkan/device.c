/* device.c — the Vulkan context: instance, the chosen physical device and its
 * limits and features (16-bit storage, fp16 arithmetic, subgroup shuffles,
 * NV cooperative matrices), one compute queue, one command buffer and fence,
 * the shared descriptor-set and pipeline layouts, and the pipeline cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"
#include "vk_timing.h"

static char g_summary[512];

const char *xf_vk_device_summary(void) {
    return g_summary;
}

const char *vkx_result_name(VkResult r) {
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    case VK_ERROR_FRAGMENTED_POOL: return "VK_ERROR_FRAGMENTED_POOL";
    case VK_ERROR_INVALID_SHADER_NV: return "VK_ERROR_INVALID_SHADER_NV";
    default: return "VkResult(other)";
    }
}

xf_status vkx_status(VkResult r) {
    if (r == VK_ERROR_OUT_OF_HOST_MEMORY || r == VK_ERROR_OUT_OF_DEVICE_MEMORY) return XF_ERR_NO_MEMORY;
    return XF_ERR_DEVICE;
}

static int env_int(const char *name, long long *v) {
    const char *s = getenv(name);
    if (!s || !*s) return 0;
    char *end = NULL;
    long long x = strtoll(s, &end, 0);
    if (end == s || *end) return 0;
    *v = x;
    return 1;
}

static int has_extension(const VkExtensionProperties *e, uint32_t n, const char *name) {
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(e[i].extensionName, name) == 0) return 1;
    return 0;
}

static int validation_available(void) {
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0) return 0;
    VkLayerProperties *l = calloc(n, sizeof(*l));
    int found = 0;
    if (l && vkEnumerateInstanceLayerProperties(&n, l) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(l[i].layerName, "VK_LAYER_KHRONOS_validation") == 0) found = 1;
    free(l);
    return found;
}

/* Device preference: discrete GPU, integrated, virtual, CPU (lavapipe), other. */
static int type_rank(VkPhysicalDeviceType t) {
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
    }
}

static xf_status pick_device(vkx_ctx *c) {
    xf_status st = XF_OK;
    uint32_t n = 0;
    VkPhysicalDevice *devs = NULL;
    VK_CHECK(vkEnumeratePhysicalDevices(c->instance, &n, NULL));
    XF_CHECK(n > 0, XF_ERR_NO_DEVICE, "vulkan: no Vulkan device found");
    XF_ALLOC(devs, n);
    VK_CHECK(vkEnumeratePhysicalDevices(c->instance, &n, devs));
    long long want = -1;
    if (env_int("XFWD_VK_DEVICE", &want))
        XF_CHECK(want >= 0 && want < (long long)n, XF_ERR_INVALID_ARG,
                 "vulkan: XFWD_VK_DEVICE=%lld but only %u devices", want, n);
    int best = -1, best_rank = 99;
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(devs[i], &p);
        if (p.apiVersion < VK_API_VERSION_1_2) continue;
        if (want >= 0 && (long long)i != want) continue;
        if (type_rank(p.deviceType) < best_rank) {
            best = (int)i;
            best_rank = type_rank(p.deviceType);
        }
    }
    XF_CHECK(best >= 0, XF_ERR_NO_DEVICE, "vulkan: no Vulkan 1.2 device found (%u devices)", n);
    c->phys = devs[best];
cleanup:
    free(devs);
    return st;
}

/* Picks the f16×f16→f32 subgroup fragment with the largest M·N·K. */
static void query_coopmat(vkx_ctx *c) {
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV get =
        (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)vkGetInstanceProcAddr(
            c->instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV");
    if (!get) return;
    uint32_t n = 0;
    if (get(c->phys, &n, NULL) != VK_SUCCESS || n == 0) return;
    VkCooperativeMatrixPropertiesNV *p = calloc(n, sizeof(*p));
    if (!p) return;
    for (uint32_t i = 0; i < n; i++) p[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV;
    if (get(c->phys, &n, p) == VK_SUCCESS) {
        uint32_t best = 0;
        for (uint32_t i = 0; i < n; i++) {
            const VkCooperativeMatrixPropertiesNV *q = &p[i];
            if (q->AType != VK_COMPONENT_TYPE_FLOAT16_NV || q->BType != VK_COMPONENT_TYPE_FLOAT16_NV ||
                q->CType != VK_COMPONENT_TYPE_FLOAT32_NV || q->DType != VK_COMPONENT_TYPE_FLOAT32_NV ||
                q->scope != VK_SCOPE_SUBGROUP_NV)
                continue;
            /* The shader's tiles need fragments dividing 64 (M, N) and 32 (K), K ≥ 8. */
            if (q->MSize == 0 || 64 % q->MSize || q->NSize == 0 || 64 % q->NSize || q->KSize < 8 ||
                32 % q->KSize)
                continue;
            uint32_t v = q->MSize * q->NSize * q->KSize;
            if (v > best) {
                best = v;
                c->cm_m = q->MSize;
                c->cm_n = q->NSize;
                c->cm_k = q->KSize;
            }
        }
        c->coopmat = best > 0;
    }
    free(p);
}

static xf_status create_instance(vkx_ctx *c) {
    xf_status st = XF_OK;
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "xfwd",
                             .pEngineName = "xfwd",
                             .apiVersion = VK_API_VERSION_1_2};
    const char *layers[1] = {"VK_LAYER_KHRONOS_validation"};
    long long validate = 0;
    env_int("XFWD_VK_VALIDATE", &validate);
    VkInstanceCreateInfo ici = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
                                .pApplicationInfo = &app};
    if (validate && validation_available()) {
        ici.enabledLayerCount = 1;
        ici.ppEnabledLayerNames = layers;
    }
    VkResult r = vkCreateInstance(&ici, NULL, &c->instance);
    if (r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_INITIALIZATION_FAILED)
        return xf_error(XF_ERR_NO_DEVICE, "vulkan: no Vulkan driver available (%s)",
                        vkx_result_name(r));
    VK_CHECK(r);
cleanup:
    return st;
}

static xf_status create_device(vkx_ctx *c) {
    xf_status st = XF_OK;
    VkExtensionProperties *ext = NULL;
    VkQueueFamilyProperties *qf = NULL;
    uint32_t n_ext = 0, n_qf = 0;

    vkGetPhysicalDeviceProperties(c->phys, &c->props);
    vkGetPhysicalDeviceMemoryProperties(c->phys, &c->memprops);
    snprintf(c->device_name, sizeof(c->device_name), "%s", c->props.deviceName);

    VkPhysicalDeviceSubgroupProperties sgp = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceVulkan11Properties p11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_PROPERTIES,
                                              .pNext = &sgp};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &p11};
    vkGetPhysicalDeviceProperties2(c->phys, &p2);
    c->subgroup_size = sgp.subgroupSize;
    c->subgroup_shuffle = (sgp.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                          (sgp.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT);
    c->max_alloc = p11.maxMemoryAllocationSize ? p11.maxMemoryAllocationSize : ((VkDeviceSize)1 << 30);
    c->max_range = c->props.limits.maxStorageBufferRange;
    c->max_groups_x = c->props.limits.maxComputeWorkGroupCount[0];
    c->max_groups_y = c->props.limits.maxComputeWorkGroupCount[1];
    c->max_shared = c->props.limits.maxComputeSharedMemorySize;
    if (c->max_shared > 48 * 1024) c->max_shared = 48 * 1024;
    long long v;
    if (env_int("XFWD_VK_MAX_BUFFER_RANGE", &v) && v >= 4096 && (VkDeviceSize)v < c->max_range)
        c->max_range = (VkDeviceSize)v;
    c->max_piece = c->max_range < c->max_alloc ? c->max_range : c->max_alloc;
    if (env_int("XFWD_VK_WEIGHT_PIECE", &v) && v >= 256 && (VkDeviceSize)v < c->max_piece)
        c->max_piece = (VkDeviceSize)v;
    if (env_int("XFWD_VK_MAX_GROUPS", &v) && v >= 1 && (uint32_t)v < c->max_groups_x)
        c->max_groups_x = (uint32_t)v;

    VK_CHECK(vkEnumerateDeviceExtensionProperties(c->phys, NULL, &n_ext, NULL));
    XF_ALLOC(ext, n_ext);
    VK_CHECK(vkEnumerateDeviceExtensionProperties(c->phys, NULL, &n_ext, ext));
    int has_nv_cm = has_extension(ext, n_ext, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
    long long want_stats = 0;
    env_int("XFWD_VK_PIPE_STATS", &want_stats);
    c->pipe_stats = want_stats && has_extension(ext, n_ext, VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);

    VkPhysicalDeviceCooperativeMatrixFeaturesNV cmf = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                            .pNext = has_nv_cm ? &cmf : NULL};
    VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                            .pNext = &f12};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f11};
    vkGetPhysicalDeviceFeatures2(c->phys, &f2);
    c->storage16 = f11.storageBuffer16BitAccess;
    c->float16 = f12.shaderFloat16;
    c->memory_model = f12.vulkanMemoryModel;
    long long no_cm = 0;
    env_int("XFWD_VK_NO_COOPMAT", &no_cm);
    if (has_nv_cm && cmf.cooperativeMatrix && c->storage16 && c->float16 && c->memory_model && !no_cm)
        query_coopmat(c);

    vkGetPhysicalDeviceQueueFamilyProperties(c->phys, &n_qf, NULL);
    XF_ALLOC(qf, n_qf);
    vkGetPhysicalDeviceQueueFamilyProperties(c->phys, &n_qf, qf);
    c->qfam = UINT32_MAX;
    for (uint32_t i = 0; i < n_qf && c->qfam == UINT32_MAX; i++)
        if (qf[i].queueFlags & VK_QUEUE_COMPUTE_BIT) c->qfam = i;
    XF_CHECK(c->qfam != UINT32_MAX, XF_ERR_NO_DEVICE, "vulkan: %s has no compute queue", c->device_name);

    /* Enable only what is used. */
    VkPhysicalDeviceCooperativeMatrixFeaturesNV en_cm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV,
        .cooperativeMatrix = VK_TRUE};
    VkPhysicalDevicePipelineExecutablePropertiesFeaturesKHR en_pe = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PIPELINE_EXECUTABLE_PROPERTIES_FEATURES_KHR,
        .pipelineExecutableInfo = VK_TRUE};
    en_cm.pNext = c->pipe_stats ? &en_pe : NULL;
    void *chain = c->coopmat ? (void *)&en_cm : c->pipe_stats ? (void *)&en_pe : NULL;
    VkPhysicalDeviceVulkan12Features en12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                             .pNext = chain,
                                             .shaderFloat16 = c->coopmat ? VK_TRUE : VK_FALSE,
                                             .vulkanMemoryModel = c->coopmat ? VK_TRUE : VK_FALSE};
    VkPhysicalDeviceVulkan11Features en11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                             .pNext = &en12,
                                             .storageBuffer16BitAccess = c->storage16 ? VK_TRUE : VK_FALSE};
    VkPhysicalDeviceFeatures2 en2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &en11};
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = c->qfam,
                                   .queueCount = 1,
                                   .pQueuePriorities = &prio};
    const char *exts[2];
    uint32_t n_en = 0;
    if (c->coopmat) exts[n_en++] = VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME;
    if (c->pipe_stats) exts[n_en++] = VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME;
    VkDeviceCreateInfo dci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
                              .pNext = &en2,
                              .queueCreateInfoCount = 1,
                              .pQueueCreateInfos = &qci,
                              .enabledExtensionCount = n_en,
                              .ppEnabledExtensionNames = exts};
    VK_CHECK(vkCreateDevice(c->phys, &dci, NULL, &c->dev));
    vkGetDeviceQueue(c->dev, c->qfam, 0, &c->queue);
cleanup:
    free(ext);
    free(qf);
    return st;
}

static xf_status create_layouts(vkx_ctx *c) {
    xf_status st = XF_OK;
    VkDescriptorSetLayoutBinding b[VKX_BINDINGS];
    for (uint32_t i = 0; i < VKX_BINDINGS; i++)
        b[i] = (VkDescriptorSetLayoutBinding){.binding = i,
                                              .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                              .descriptorCount = 1,
                                              .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    VkDescriptorSetLayoutCreateInfo dli = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                           .bindingCount = VKX_BINDINGS,
                                           .pBindings = b};
    VK_CHECK(vkCreateDescriptorSetLayout(c->dev, &dli, NULL, &c->dsl));
    VkPushConstantRange pcr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = VKX_PC_BYTES};
    VkPipelineLayoutCreateInfo pli = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                      .setLayoutCount = 1,
                                      .pSetLayouts = &c->dsl,
                                      .pushConstantRangeCount = 1,
                                      .pPushConstantRanges = &pcr};
    VK_CHECK(vkCreatePipelineLayout(c->dev, &pli, NULL, &c->layout));
cleanup:
    return st;
}

static uint32_t qf_timestamp_bits(const vkx_ctx *c) {
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(c->phys, &n, NULL);
    VkQueueFamilyProperties *qf = calloc(n ? n : 1, sizeof(*qf));
    uint32_t bits = 0;
    if (qf) {
        vkGetPhysicalDeviceQueueFamilyProperties(c->phys, &n, qf);
        if (c->qfam < n) bits = qf[c->qfam].timestampValidBits;
        free(qf);
    }
    return bits;
}

void vkx_ts_begin(vkx_ctx *c) {
    if (!c->timestamps) return;
    vkCmdResetQueryPool(c->cmd, c->timestamps, 0, 2);
    vkCmdWriteTimestamp(c->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, c->timestamps, 0);
}

void vkx_ts_end(vkx_ctx *c) {
    if (c->timestamps) vkCmdWriteTimestamp(c->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, c->timestamps, 1);
}

void vkx_ts_read(vkx_ctx *c) {
    uint64_t t[2];
    c->last_forward_ms = 0;
    if (c->timestamps && vkGetQueryPoolResults(c->dev, c->timestamps, 0, 2, sizeof(t), t, sizeof(uint64_t),
                                               VK_QUERY_RESULT_64_BIT) == VK_SUCCESS && t[1] > t[0])
        c->last_forward_ms = (double)(t[1] - t[0]) * c->ts_period_ns * 1e-6;
}

xf_status vkx_ctx_create(const char *cache_dir, vkx_ctx **out) {
    xf_status st = XF_OK;
    vkx_ctx *c = NULL;
    *out = NULL;
    XF_ALLOC(c, 1);
    XF_TRY(create_instance(c));
    XF_TRY(pick_device(c));
    XF_TRY(create_device(c));
    XF_CHECK(c->props.limits.maxPushConstantsSize >= VKX_PC_BYTES, XF_ERR_UNSUPPORTED,
             "vulkan: %s has %u bytes of push constants, %d needed", c->device_name,
             c->props.limits.maxPushConstantsSize, VKX_PC_BYTES);
    XF_CHECK(c->max_shared >= 16 * 1024, XF_ERR_UNSUPPORTED,
             "vulkan: %s has %u bytes of shared memory, 16 KiB needed", c->device_name, c->max_shared);
    XF_TRY(create_layouts(c));

    VkCommandPoolCreateInfo cpi = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                   .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                   .queueFamilyIndex = c->qfam};
    VK_CHECK(vkCreateCommandPool(c->dev, &cpi, NULL, &c->cmd_pool));
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = c->cmd_pool,
                                       .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1};
    VK_CHECK(vkAllocateCommandBuffers(c->dev, &cai, &c->cmd));
    VkFenceCreateInfo fci = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    VK_CHECK(vkCreateFence(c->dev, &fci, NULL, &c->fence));

    if (c->props.limits.timestampComputeAndGraphics || (qf_timestamp_bits(c) > 0)) {
        VkQueryPoolCreateInfo qpi = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                     .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                     .queryCount = 2};
        if (vkCreateQueryPool(c->dev, &qpi, NULL, &c->timestamps) != VK_SUCCESS) c->timestamps = VK_NULL_HANDLE;
        c->ts_period_ns = c->props.limits.timestampPeriod;
    }
    long long prof = 0;
    env_int("XFWD_VK_PROFILE", &prof);
    if (prof && c->timestamps) {
        VkQueryPoolCreateInfo qpi = {.sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
                                     .queryType = VK_QUERY_TYPE_TIMESTAMP,
                                     .queryCount = VKX_PROF_MAX};
        XF_ALLOC(c->prof_sh, VKX_PROF_MAX);
        if (vkCreateQueryPool(c->dev, &qpi, NULL, &c->prof_pool) != VK_SUCCESS) c->prof_pool = VK_NULL_HANDLE;
    }
    XF_TRY(vkx_buffer_create(c, 256, 0, &c->dummy));
    XF_TRY(vkx_buffer_create(c, (VkDeviceSize)32 << 20, 1, &c->staging));
    vkx_cache_load(c, cache_dir);
    snprintf(g_summary, sizeof(g_summary),
             "%s (Vulkan %u.%u.%u, driver 0x%x): subgroup %u, coopmat %s %ux%ux%u, f16 storage %d, "
             "max binding %llu MiB, max alloc %llu MiB, shared %u KiB, pipeline cache %s (%zu bytes loaded)",
             c->device_name, VK_API_VERSION_MAJOR(c->props.apiVersion), VK_API_VERSION_MINOR(c->props.apiVersion),
             VK_API_VERSION_PATCH(c->props.apiVersion), c->props.driverVersion, c->subgroup_size,
             c->coopmat ? "NV" : "none", c->cm_m, c->cm_n, c->cm_k, c->storage16,
             (unsigned long long)(c->max_range >> 20), (unsigned long long)(c->max_alloc >> 20), c->max_shared >> 10,
             c->cache_path ? c->cache_path : "(none)", c->cache_loaded);
    *out = c;
    return XF_OK;
cleanup:
    vkx_ctx_destroy(c);
    return st;
}

void vkx_ctx_destroy(vkx_ctx *c) {
    if (!c) return;
    if (c->dev) {
        vkDeviceWaitIdle(c->dev);
        vkx_cache_save(c);
        for (int i = 0; i < c->n_pipes; i++) vkDestroyPipeline(c->dev, c->pipes[i].pipe, NULL);
        if (c->pcache) vkDestroyPipelineCache(c->dev, c->pcache, NULL);
        for (int i = 0; i < c->n_pools; i++) vkDestroyDescriptorPool(c->dev, c->pools[i], NULL);
        vkx_buffer_destroy(c, &c->staging);
        vkx_buffer_destroy(c, &c->dummy);
        if (c->timestamps) vkDestroyQueryPool(c->dev, c->timestamps, NULL);
        if (c->prof_pool) vkDestroyQueryPool(c->dev, c->prof_pool, NULL);
        if (c->fence) vkDestroyFence(c->dev, c->fence, NULL);
        if (c->cmd_pool) vkDestroyCommandPool(c->dev, c->cmd_pool, NULL);
        if (c->layout) vkDestroyPipelineLayout(c->dev, c->layout, NULL);
        if (c->dsl) vkDestroyDescriptorSetLayout(c->dev, c->dsl, NULL);
        vkDestroyDevice(c->dev, NULL);
    }
    if (c->instance) vkDestroyInstance(c->instance, NULL);
    free(c->pipes);
    free(c->prof_sh);
    free(c->pools);
    free(c->cache_path);
    free(c);
}

xf_status vkx_begin(vkx_ctx *c) {
    xf_status st = XF_OK;
    VK_CHECK(vkResetCommandBuffer(c->cmd, 0));
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VK_CHECK(vkBeginCommandBuffer(c->cmd, &bi));
    c->recording = 1;
cleanup:
    return st;
}

xf_status vkx_submit_wait(vkx_ctx *c) {
    xf_status st = XF_OK;
    c->recording = 0;
    VK_CHECK(vkEndCommandBuffer(c->cmd));
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                       .pCommandBuffers = &c->cmd};
    VK_CHECK(vkQueueSubmit(c->queue, 1, &si, c->fence));
    /* One wait per submission; ten minutes is far beyond any forward here. */
    VkResult r = vkWaitForFences(c->dev, 1, &c->fence, VK_TRUE, 600ull * 1000000000ull);
    XF_CHECK(r != VK_TIMEOUT, XF_ERR_DEVICE, "vulkan: a submission did not finish within 10 minutes");
    VK_CHECK(r);
    VK_CHECK(vkResetFences(c->dev, 1, &c->fence));
    vkx_prof_collect(c);
cleanup:
    return st;
}
