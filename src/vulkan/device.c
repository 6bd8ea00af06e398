/* device.c — the Vulkan context: instance, the chosen physical device and its
 * limits and features (16-bit storage, fp16 arithmetic, subgroup shuffles and
 * sizes, cooperative matrices: KHR, NV and NV2, bf16), one compute queue, one
 * command buffer and fence, the shared descriptor-set and pipeline layouts, and
 * the pipeline cache. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"
#include "vk_timing.h"

static char g_summary[1024];

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

/* The device: XFWD_VK_DEVICE=i (the loader's i-th, for benchmarks) when set; else the
 * index-th of the Vulkan 1.2 devices ranked discrete GPU, integrated, virtual, CPU (the
 * loader's order within a rank): index 0 is the best device, as before engines had one. */
static xf_status pick_device(vkx_ctx *c, int index) {
    xf_status st = XF_OK;
    uint32_t n = 0, m = 0;
    VkPhysicalDevice *devs = NULL;
    uint32_t *order = NULL;
    VK_CHECK(vkEnumeratePhysicalDevices(c->instance, &n, NULL));
    XF_CHECK(n > 0, XF_ERR_NO_DEVICE, "vulkan: no Vulkan device found");
    XF_ALLOC(devs, n);
    XF_ALLOC(order, n);
    VK_CHECK(vkEnumeratePhysicalDevices(c->instance, &n, devs));
    long long want = c->ov.device;
    if (want >= 0)
        XF_CHECK(want >= 0 && want < (long long)n, XF_ERR_INVALID_ARG,
                 "vulkan: XFWD_VK_DEVICE=%lld but only %u devices", want, n);
    for (int rank = 0; rank <= 4; rank++)
        for (uint32_t i = 0; i < n; i++) {
            VkPhysicalDeviceProperties p;
            vkGetPhysicalDeviceProperties(devs[i], &p);
            if (p.apiVersion < VK_API_VERSION_1_2 || type_rank(p.deviceType) != rank) continue;
            if (want >= 0 && (long long)i != want) continue;
            order[m++] = i;
        }
    XF_CHECK(m > 0, XF_ERR_NO_DEVICE, "vulkan: no Vulkan 1.2 device found (%u devices)", n);
    if (want < 0)
        XF_CHECK(index >= 0 && (uint32_t)index < m, XF_ERR_NO_DEVICE,
                 "vulkan: device %d: this machine has %u Vulkan 1.2 device%s (0 to %u)", index, m, m == 1 ? "" : "s",
                 m - 1);
    c->phys = devs[order[want < 0 ? index : 0]];
cleanup:
    free(devs);
    free(order);
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

/* Appends printf-style text to the context's capability report. */
static void report(vkx_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(vkx_ctx *c, const char *fmt, ...) {
    size_t n = strlen(c->cm_report);
    if (n + 1 >= sizeof(c->cm_report)) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->cm_report + n, sizeof(c->cm_report) - n, fmt, ap);
    va_end(ap);
}

static const char *ctype_name(VkComponentTypeKHR t) {
    switch (t) {
    case VK_COMPONENT_TYPE_FLOAT16_KHR: return "f16";
    case VK_COMPONENT_TYPE_FLOAT32_KHR: return "f32";
    case VK_COMPONENT_TYPE_BFLOAT16_KHR: return "bf16";
    case VK_COMPONENT_TYPE_SINT8_KHR: return "s8";
    case VK_COMPONENT_TYPE_UINT8_KHR: return "u8";
    case VK_COMPONENT_TYPE_SINT32_KHR: return "s32";
    case VK_COMPONENT_TYPE_UINT32_KHR: return "u32";
    default: return "other";
    }
}

/* VK_KHR_cooperative_matrix: the subgroup fragment for a×a→f32 (a = f16 or bf16)
 * with the largest M·N·K that the KHR kernel's tiles can use. */
static void query_khr(vkx_ctx *c, int bf16_ok) {
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR get =
        (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR)vkGetInstanceProcAddr(
            c->instance, "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
    uint32_t n = 0;
    if (!get || get(c->phys, &n, NULL) != VK_SUCCESS || n == 0) return;
    VkCooperativeMatrixPropertiesKHR *p = calloc(n, sizeof(*p));
    if (!p) return;
    for (uint32_t i = 0; i < n; i++) p[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_KHR;
    if (get(c->phys, &n, p) == VK_SUCCESS) {
        uint32_t best[2] = {0, 0};
        report(c, "; KHR fragments:");
        for (uint32_t i = 0; i < n; i++) {
            const VkCooperativeMatrixPropertiesKHR *q = &p[i];
            report(c, " %ux%ux%u %s,%s->%s%s", q->MSize, q->NSize, q->KSize, ctype_name(q->AType),
                   ctype_name(q->BType), ctype_name(q->ResultType), q->scope == VK_SCOPE_SUBGROUP_KHR ? "" : "(non-subgroup)");
            int t = q->AType == VK_COMPONENT_TYPE_FLOAT16_KHR ? 0 : q->AType == VK_COMPONENT_TYPE_BFLOAT16_KHR ? 1 : -1;
            if (t < 0 || (t == 1 && !bf16_ok) || q->BType != q->AType || q->CType != VK_COMPONENT_TYPE_FLOAT32_KHR ||
                q->ResultType != VK_COMPONENT_TYPE_FLOAT32_KHR || q->scope != VK_SCOPE_SUBGROUP_KHR)
                continue;
            /* The kernel's tiles need fragments dividing 64 (M, N) and 32 (K), K ≥ 8. */
            if (q->MSize == 0 || 64 % q->MSize || q->NSize == 0 || 64 % q->NSize || q->KSize < 8 || 32 % q->KSize)
                continue;
            uint32_t v = q->MSize * q->NSize * q->KSize;
            if (v > best[t]) {
                best[t] = v;
                c->khr_m[t] = q->MSize, c->khr_n[t] = q->NSize, c->khr_k[t] = q->KSize;
            }
        }
        c->khr[0] = best[0] > 0;
        c->khr[1] = best[1] > 0;
    }
    free(p);
}

uint32_t vkx_cm2_wg(const vkx_ctx *c, int t, uint32_t M, uint32_t N, uint32_t K, uint32_t max_wg) {
    uint32_t best = 0;
    for (int i = 0; i < c->cm2_nshape[t]; i++) {
        const uint32_t *e = c->cm2_shape[t][i];
        if (e[0] <= max_wg && e[0] > best && M % e[1] == 0 && N % e[2] == 0 && K % e[3] == 0) best = e[0];
    }
    return best;
}

/* VK_NV_cooperative_matrix2: workgroup-scope a×a→f32 with flexible dimensions
 * (a = f16 or bf16), and the workgroup sizes the driver accepts for it. */
static void query_cm2(vkx_ctx *c, int bf16_ok) {
    PFN_vkGetPhysicalDeviceCooperativeMatrixFlexibleDimensionsPropertiesNV get =
        (PFN_vkGetPhysicalDeviceCooperativeMatrixFlexibleDimensionsPropertiesNV)vkGetInstanceProcAddr(
            c->instance, "vkGetPhysicalDeviceCooperativeMatrixFlexibleDimensionsPropertiesNV");
    uint32_t n = 0;
    if (!get || get(c->phys, &n, NULL) != VK_SUCCESS || n == 0) return;
    VkCooperativeMatrixFlexibleDimensionsPropertiesNV *p = calloc(n, sizeof(*p));
    if (!p) return;
    for (uint32_t i = 0; i < n; i++) p[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_FLEXIBLE_DIMENSIONS_PROPERTIES_NV;
    VkPhysicalDeviceCooperativeMatrix2PropertiesNV cp = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_2_PROPERTIES_NV};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &cp};
    vkGetPhysicalDeviceProperties2(c->phys, &p2);
    report(c, "; NV2 max workgroup %u, max dimension %u, reserved shared %u of %u bytes",
           cp.cooperativeMatrixWorkgroupScopeMaxWorkgroupSize, cp.cooperativeMatrixFlexibleDimensionsMaxDimension,
           cp.cooperativeMatrixWorkgroupScopeReservedSharedMemory, p2.properties.limits.maxComputeSharedMemorySize);
    if (get(c->phys, &n, p) == VK_SUCCESS) {
        report(c, "; NV2 flexible:");
        for (uint32_t i = 0; i < n; i++) {
            const VkCooperativeMatrixFlexibleDimensionsPropertiesNV *q = &p[i];
            report(c, " %ux%ux%u %s,%s->%s %s/%u", q->MGranularity, q->NGranularity, q->KGranularity,
                   ctype_name(q->AType), ctype_name(q->BType), ctype_name(q->ResultType),
                   q->scope == VK_SCOPE_WORKGROUP_KHR ? "wg" : q->scope == VK_SCOPE_SUBGROUP_KHR ? "sg" : "?",
                   q->workgroupInvocations);
            int t = q->AType == VK_COMPONENT_TYPE_FLOAT16_KHR ? 0 : q->AType == VK_COMPONENT_TYPE_BFLOAT16_KHR ? 1 : -1;
            if (t < 0 || (t == 1 && !bf16_ok) || q->BType != q->AType || q->CType != VK_COMPONENT_TYPE_FLOAT32_KHR ||
                q->ResultType != VK_COMPONENT_TYPE_FLOAT32_KHR || q->scope != VK_SCOPE_WORKGROUP_KHR)
                continue;
            if (q->MGranularity == 0 || q->NGranularity == 0 || q->KGranularity == 0 || q->workgroupInvocations == 0 ||
                c->cm2_nshape[t] == 8)
                continue;
            uint32_t *e = c->cm2_shape[t][c->cm2_nshape[t]++];
            e[0] = q->workgroupInvocations, e[1] = q->MGranularity, e[2] = q->NGranularity, e[3] = q->KGranularity;
            c->cm2[t] = 1;
        }
    }
    free(p);
}

static xf_status create_instance(vkx_ctx *c) {
    xf_status st = XF_OK;
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
                             .pApplicationName = "xfwd",
                             .pEngineName = "xfwd",
                             .apiVersion = VK_API_VERSION_1_3};
    const char *layers[1] = {"VK_LAYER_KHRONOS_validation"};
    int validate = c->ov.validate;
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

    VkPhysicalDeviceVulkan13Properties p13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties sgp = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
                                              .pNext = c->props.apiVersion >= VK_API_VERSION_1_3 ? &p13 : NULL};
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
    uint64_t v = c->ov.max_buffer_range;
    if (v >= 4096 && (VkDeviceSize)v < c->max_range) c->max_range = (VkDeviceSize)v;
    c->max_piece = c->max_range < c->max_alloc ? c->max_range : c->max_alloc;
    v = c->ov.weight_piece;
    if (v >= 256 && (VkDeviceSize)v < c->max_piece) c->max_piece = (VkDeviceSize)v;
    if (c->ov.max_groups >= 1 && c->ov.max_groups < c->max_groups_x) c->max_groups_x = c->ov.max_groups;

    VK_CHECK(vkEnumerateDeviceExtensionProperties(c->phys, NULL, &n_ext, NULL));
    XF_ALLOC(ext, n_ext);
    VK_CHECK(vkEnumerateDeviceExtensionProperties(c->phys, NULL, &n_ext, ext));
    int has_nv_cm = has_extension(ext, n_ext, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME);
    int has_khr_cm = has_extension(ext, n_ext, VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME);
    int has_cm2 = has_khr_cm && has_extension(ext, n_ext, VK_NV_COOPERATIVE_MATRIX_2_EXTENSION_NAME);
    int has_bf16 = has_extension(ext, n_ext, VK_KHR_SHADER_BFLOAT16_EXTENSION_NAME);
    report(c, "extensions: NV_cooperative_matrix %d, KHR_cooperative_matrix %d, NV_cooperative_matrix2 %d, "
              "KHR_shader_bfloat16 %d", has_nv_cm, has_khr_cm, has_cm2, has_bf16);
    c->pipe_stats = c->ov.pipe_stats && has_extension(ext, n_ext, VK_KHR_PIPELINE_EXECUTABLE_PROPERTIES_EXTENSION_NAME);

    /* Feature structures of the extensions present, chained for one query. */
    void *qchain = NULL;
    VkPhysicalDeviceCooperativeMatrixFeaturesNV cmf = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    VkPhysicalDeviceCooperativeMatrixFeaturesKHR kmf = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR};
    VkPhysicalDeviceCooperativeMatrix2FeaturesNV cm2f = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_2_FEATURES_NV};
    VkPhysicalDeviceShaderBfloat16FeaturesKHR bff = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_BFLOAT16_FEATURES_KHR};
    VkPhysicalDeviceVulkan13Features f13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES};
    int v13 = c->props.apiVersion >= VK_API_VERSION_1_3;
    if (has_nv_cm) cmf.pNext = qchain, qchain = &cmf;
    if (has_khr_cm) kmf.pNext = qchain, qchain = &kmf;
    if (has_cm2) cm2f.pNext = qchain, qchain = &cm2f;
    if (has_bf16) bff.pNext = qchain, qchain = &bff;
    if (v13) f13.pNext = qchain, qchain = &f13;
    VkPhysicalDeviceVulkan12Features f12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                            .pNext = qchain};
    VkPhysicalDeviceVulkan11Features f11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                            .pNext = &f12};
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &f11};
    vkGetPhysicalDeviceFeatures2(c->phys, &f2);
    c->storage16 = f11.storageBuffer16BitAccess;
    c->float16 = f12.shaderFloat16;
    c->memory_model = f12.vulkanMemoryModel;
    /* XFWD_VK_COOPMAT=none|nv|khr caps the matrix-unit path at that kind (tests, comparisons) */
    int cap_kind = (int)c->ov.coopmat;
    int base = c->storage16 && c->float16 && c->memory_model && cap_kind > VKX_CM_CAP_NONE;
    int bf16_ok = has_bf16 && bff.shaderBFloat16Type && bff.shaderBFloat16CooperativeMatrix;
    if (has_bf16)
        report(c, "; bf16 type %u dot %u coopmat %u", bff.shaderBFloat16Type, bff.shaderBFloat16DotProduct,
               bff.shaderBFloat16CooperativeMatrix);
    if (has_cm2)
        report(c, "; NV2 features wg %u flex %u reduce %u conv %u perelem %u tensor %u block %u",
               cm2f.cooperativeMatrixWorkgroupScope, cm2f.cooperativeMatrixFlexibleDimensions,
               cm2f.cooperativeMatrixReductions, cm2f.cooperativeMatrixConversions,
               cm2f.cooperativeMatrixPerElementOperations, cm2f.cooperativeMatrixTensorAddressing,
               cm2f.cooperativeMatrixBlockLoads);
    if (base && has_khr_cm && kmf.cooperativeMatrix && cap_kind >= 2) query_khr(c, bf16_ok);
    if (base && (c->khr[0] || c->khr[1]) && has_cm2 && cap_kind >= 3 && v13 && f13.maintenance4 &&
        cm2f.cooperativeMatrixWorkgroupScope && cm2f.cooperativeMatrixFlexibleDimensions &&
        cm2f.cooperativeMatrixTensorAddressing && cm2f.cooperativeMatrixPerElementOperations)
        query_cm2(c, bf16_ok);
    c->cm2_att = cm2f.cooperativeMatrixReductions && cm2f.cooperativeMatrixConversions;
    /* Pipelines run with full subgroups of exactly subgroup_size invocations where the
     * device can promise that (the shuffles and subgroup tiles assume it). */
    c->pin_subgroup = v13 && f13.subgroupSizeControl && f13.computeFullSubgroups &&
                      (p13.requiredSubgroupSizeStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                      c->subgroup_size >= p13.minSubgroupSize && c->subgroup_size <= p13.maxSubgroupSize;
    c->cm2[0] = c->cm2[0] && c->khr[0];
    c->cm2[1] = c->cm2[1] && c->khr[1];
    if (base && has_nv_cm && cmf.cooperativeMatrix && cap_kind >= 1 && !c->khr[0]) query_coopmat(c);
    c->use_bf16 = c->khr[1];

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
    VkPhysicalDeviceCooperativeMatrixFeaturesKHR en_kcm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_KHR, .cooperativeMatrix = VK_TRUE};
    VkPhysicalDeviceCooperativeMatrix2FeaturesNV en_cm2 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_2_FEATURES_NV,
        .cooperativeMatrixWorkgroupScope = VK_TRUE,
        .cooperativeMatrixFlexibleDimensions = VK_TRUE,
        .cooperativeMatrixReductions = cm2f.cooperativeMatrixReductions,
        .cooperativeMatrixConversions = cm2f.cooperativeMatrixConversions,
        .cooperativeMatrixPerElementOperations = VK_TRUE,
        .cooperativeMatrixTensorAddressing = VK_TRUE,
        .cooperativeMatrixBlockLoads = cm2f.cooperativeMatrixBlockLoads};
    VkPhysicalDeviceShaderBfloat16FeaturesKHR en_bf = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_BFLOAT16_FEATURES_KHR,
        .shaderBFloat16Type = VK_TRUE, .shaderBFloat16CooperativeMatrix = VK_TRUE};
    VkPhysicalDeviceVulkan13Features en13 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_3_FEATURES,
                                             .maintenance4 = c->cm2[0] || c->cm2[1] ? VK_TRUE : VK_FALSE,
                                             .subgroupSizeControl = c->pin_subgroup ? VK_TRUE : VK_FALSE,
                                             .computeFullSubgroups = c->pin_subgroup ? VK_TRUE : VK_FALSE};
    int any_khr = c->khr[0] || c->khr[1], any_cm2 = c->cm2[0] || c->cm2[1];
    void *chain = c->pipe_stats ? (void *)&en_pe : NULL;
    if (c->coopmat) en_cm.pNext = chain, chain = &en_cm;
    if (any_khr) en_kcm.pNext = chain, chain = &en_kcm;
    if (any_cm2) en_cm2.pNext = chain, chain = &en_cm2;
    if (any_cm2 || c->pin_subgroup) en13.pNext = chain, chain = &en13;
    if (c->use_bf16) en_bf.pNext = chain, chain = &en_bf;
    int any_cm = c->coopmat || any_khr;
    VkPhysicalDeviceVulkan12Features en12 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                             .pNext = chain,
                                             .shaderFloat16 = any_cm ? VK_TRUE : VK_FALSE,
                                             .vulkanMemoryModel = any_cm ? VK_TRUE : VK_FALSE};
    VkPhysicalDeviceVulkan11Features en11 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_1_FEATURES,
                                             .pNext = &en12,
                                             .storageBuffer16BitAccess = c->storage16 ? VK_TRUE : VK_FALSE};
    VkPhysicalDeviceFeatures2 en2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = &en11};
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                   .queueFamilyIndex = c->qfam,
                                   .queueCount = 1,
                                   .pQueuePriorities = &prio};
    const char *exts[5];
    uint32_t n_en = 0;
    if (c->coopmat) exts[n_en++] = VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME;
    if (any_khr) exts[n_en++] = VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME;
    if (any_cm2) exts[n_en++] = VK_NV_COOPERATIVE_MATRIX_2_EXTENSION_NAME;
    if (c->use_bf16) exts[n_en++] = VK_KHR_SHADER_BFLOAT16_EXTENSION_NAME;
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
    vkx_trace(c, "timestamp begin");
    if (!c->timestamps) return;
    vkCmdResetQueryPool(c->cmd, c->timestamps, 0, 2);
    vkCmdWriteTimestamp(c->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, c->timestamps, 0);
}

void vkx_ts_end(vkx_ctx *c) {
    vkx_trace(c, "timestamp end");
    if (c->timestamps) vkCmdWriteTimestamp(c->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, c->timestamps, 1);
}

void vkx_ts_read(vkx_ctx *c) {
    uint64_t t[2];
    c->last_forward_ms = 0;
    if (c->timestamps && vkGetQueryPoolResults(c->dev, c->timestamps, 0, 2, sizeof(t), t, sizeof(uint64_t),
                                               VK_QUERY_RESULT_64_BIT) == VK_SUCCESS && t[1] > t[0])
        c->last_forward_ms = (double)(t[1] - t[0]) * c->ts_period_ns * 1e-6;
}

xf_status vkx_ctx_create(const char *cache_dir, int device, vkx_ctx **out) {
    xf_status st = XF_OK;
    vkx_ctx *c = NULL;
    *out = NULL;
    XF_ALLOC(c, 1);
    vkx_overrides_read(&c->ov);
    XF_TRY(create_instance(c));
    XF_TRY(pick_device(c, device));
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
    if (c->ov.profile && c->timestamps) {
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
             "%s (Vulkan %u.%u.%u, driver 0x%x): subgroup %u, matrix units: %s (f16) %s (bf16), f16 storage %d, "
             "max binding %llu MiB, max alloc %llu MiB, shared %u KiB, pipeline cache %s (%zu bytes loaded)",
             c->device_name, VK_API_VERSION_MAJOR(c->props.apiVersion), VK_API_VERSION_MINOR(c->props.apiVersion),
             VK_API_VERSION_PATCH(c->props.apiVersion), c->props.driverVersion, c->subgroup_size,
             c->cm2[0] ? "NV2 workgroup" : c->khr[0] ? "KHR subgroup" : c->coopmat ? "NV subgroup" : "none",
             c->cm2[1] ? "NV2 workgroup" : c->khr[1] ? "KHR subgroup" : "none", c->storage16,
             (unsigned long long)(c->max_range >> 20), (unsigned long long)(c->max_alloc >> 20), c->max_shared >> 10,
             c->cache_path ? c->cache_path : "(none)", c->cache_loaded);
    if (c->ov.probe) fprintf(stderr, "vulkan probe: %s: %s\n", c->device_name, c->cm_report);
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
    vkx_trace(c, "begin");
cleanup:
    return st;
}

xf_status vkx_submit_wait(vkx_ctx *c) {
    xf_status st = XF_OK;
    c->recording = 0;
    vkx_trace(c, "submit");
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
