/* cli_engine.c — the engine the common flags ask for, with the CLI's two "auto"
 * choices made here (the library's AUTO knows CUDA and the CPU only):
 *   --backend auto: CUDA; else Vulkan when the Vulkan loader lists a real GPU
 *     (discrete, integrated or virtual — never a CPU device such as lavapipe,
 *     where the fast CPU path is quicker); else the fast CPU path.
 *   --dtype auto: xf_model_auto_dtype for the backend tried — on a GPU the
 *     checkpoint's dtype (BF16 or F16 weights run in bf16 / f16, F32 or mixed in
 *     f32); on the CPU f32, or bf16 for a BF16 checkpoint where the CPU has bf16
 *     instructions and the build has oneDNN.
 * What was chosen, and why, goes into cli_opts.chosen for --verbose. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#ifdef XFWD_HAVE_VULKAN
#include <vulkan/vulkan.h>
#endif

#include "cli.h"

/* Name of the first Vulkan device that is a real GPU into name, or 0 when none. */
static int vulkan_gpu(char *name, size_t size) {
#ifdef XFWD_HAVE_VULKAN
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .apiVersion = VK_API_VERSION_1_2};
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app};
    VkInstance inst;
    if (vkCreateInstance(&ci, NULL, &inst) != VK_SUCCESS) return 0;
    VkPhysicalDevice devs[16];
    uint32_t n = 16;
    int found = 0;
    VkResult r = vkEnumeratePhysicalDevices(inst, &n, devs);
    for (uint32_t i = 0; (r == VK_SUCCESS || r == VK_INCOMPLETE) && i < n && !found; i++) {
        VkPhysicalDeviceProperties p;
        vkGetPhysicalDeviceProperties(devs[i], &p);
        if (p.deviceType == VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU ||
            p.deviceType == VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU || p.deviceType == VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU)
            found = 1, snprintf(name, size, "%s", p.deviceName);
    }
    vkDestroyInstance(inst, NULL);
    return found;
#else
    (void)name, (void)size;
    return 0;
#endif
}

/* the dtype given, or --dtype auto as the library defines it for backend b */
static xf_dtype dtype_for(const xf_model *m, const cli_opts *o, xf_backend b) {
    return o->dtype_auto ? xf_model_auto_dtype(m, b) : o->dtype;
}

static xf_status try_engine(const xf_model *m, cli_opts *o, xf_backend b, xf_dtype d, const xf_adapter *const *adapter,
                            xf_engine **e) {
    xf_engine_options eo;
    xf_engine_options_init(&eo);
    eo.backend = b;
    eo.dtype = d;
    if (o->max_tokens) eo.max_tokens = o->max_tokens;
    eo.n_threads = o->threads;
    eo.cache_dir = o->cache_dir;
    eo.device = o->device;
    if (adapter && adapter[0]) eo.adapters = adapter, eo.n_adapters = 1, eo.merge_adapters = o->merge_adapter;
    xf_status st = xf_engine_create(m, &eo, e);
    if (st == XF_OK) o->dtype = d;
    return st;
}

int xf_cli_engine(const xf_model *m, cli_opts *o, const xf_adapter *const *adapter, xf_engine **e) {
    const char *dtype_why = o->dtype_auto ? " (--dtype auto)" : "";
    xf_status st;
    *e = NULL;
    if (o->backend != XF_BACKEND_AUTO) {
        st = try_engine(m, o, o->backend, dtype_for(m, o, o->backend), adapter, e);
        snprintf(o->chosen, sizeof o->chosen, "backend %s, dtype %s%s", xf_cli_backend_name(o->backend),
                 xf_cli_dtype_name(o->dtype), dtype_why);
    } else {
        char gpu[256] = "";
        st = try_engine(m, o, XF_BACKEND_CUDA, dtype_for(m, o, XF_BACKEND_CUDA), adapter, e);
        if (st == XF_OK) {
            snprintf(o->chosen, sizeof o->chosen, "backend cuda (auto: a CUDA GPU), dtype %s%s",
                     xf_cli_dtype_name(o->dtype), dtype_why);
        } else if (st == XF_ERR_NO_DEVICE && vulkan_gpu(gpu, sizeof gpu)) {
            st = try_engine(m, o, XF_BACKEND_VULKAN, dtype_for(m, o, XF_BACKEND_VULKAN), adapter, e);
            snprintf(o->chosen, sizeof o->chosen, "backend vulkan (auto: no CUDA GPU; Vulkan GPU %s), dtype %s%s", gpu,
                     xf_cli_dtype_name(o->dtype), dtype_why);
        } else if (st == XF_ERR_NO_DEVICE) {
            st = try_engine(m, o, XF_BACKEND_CPU, dtype_for(m, o, XF_BACKEND_CPU), adapter, e);
            snprintf(o->chosen, sizeof o->chosen, "backend cpu (auto: no CUDA GPU, no Vulkan GPU), dtype %s%s",
                     xf_cli_dtype_name(o->dtype), dtype_why);
        }
    }
    if (st != XF_OK) return xf_cli_fail("%s", xf_last_error());
    return 0;
}

int xf_cli_parse_devices(const char *flag, const char *v, int *out, int max) {
    int n = 0;
    const char *p = v;
    for (;;) {
        char *end;
        errno = 0;
        long d = strtol(p, &end, 10);
        if (errno || end == p || d < 0 || d > 1023 || (*end && *end != ',')) {
            fprintf(stderr, "xfwd: %s expects device indices like 0,1,2, got '%s'\n", flag, v);
            return -1;
        }
        if (n == max) {
            fprintf(stderr, "xfwd: %s: at most %d devices\n", flag, max);
            return -1;
        }
        out[n++] = (int)d;
        if (!*end) return n;
        p = end + 1;
    }
}
