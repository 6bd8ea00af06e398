/* shaders.c — the compute shaders as SPIR-V, compiled by glslc at build time
 * (src/vulkan/CMakeLists.txt writes each variant as a list of 32-bit words,
 * <name>.spv.inc) and embedded here, indexed by vkx_shader. */
#include "vk_internal.h"

static const uint32_t embed_f32[] = {
#include "embed_f32.spv.inc"
};
static const uint32_t embed_f16[] = {
#include "embed_f16.spv.inc"
};
static const uint32_t embed_bf16[] = {
#include "embed_bf16.spv.inc"
};
static const uint32_t rmsnorm[] = {
#include "rmsnorm.spv.inc"
};
static const uint32_t linear_f32[] = {
#include "linear_f32.spv.inc"
};
static const uint32_t linear_f16[] = {
#include "linear_f16.spv.inc"
};
static const uint32_t linear_bf16[] = {
#include "linear_bf16.spv.inc"
};
static const uint32_t linear_cm_f16d[] = {
#include "linear_cm_f16d.spv.inc"
};
static const uint32_t linear_cmk_f16[] = {
#include "linear_cmk_f16.spv.inc"
};
static const uint32_t linear_cmk_bf16[] = {
#include "linear_cmk_bf16.spv.inc"
};
static const uint32_t linear_cmk_f16p[] = {
#include "linear_cmk_f16p.spv.inc"
};
static const uint32_t linear_cmk_bf16p[] = {
#include "linear_cmk_bf16p.spv.inc"
};
static const uint32_t linear_cmkg_f16[] = {
#include "linear_cmkg_f16.spv.inc"
};
static const uint32_t linear_cmkg_bf16[] = {
#include "linear_cmkg_bf16.spv.inc"
};
static const uint32_t linear_cm2_f16[] = {
#include "linear_cm2_f16.spv.inc"
};
static const uint32_t linear_cm2_bf16[] = {
#include "linear_cm2_bf16.spv.inc"
};
static const uint32_t linear_cm2g_f16[] = {
#include "linear_cm2g_f16.spv.inc"
};
static const uint32_t linear_cm2g_bf16[] = {
#include "linear_cm2g_bf16.spv.inc"
};
static const uint32_t attention_cmk_f16[] = {
#include "attention_cmk_f16.spv.inc"
};
static const uint32_t attention_cmk_bf16[] = {
#include "attention_cmk_bf16.spv.inc"
};
static const uint32_t attention_cm2_f16[] = {
#include "attention_cm2_f16.spv.inc"
};
static const uint32_t attention_cm2_bf16[] = {
#include "attention_cm2_bf16.spv.inc"
};
static const uint32_t attention_cm2r_f16[] = {
#include "attention_cm2r_f16.spv.inc"
};
static const uint32_t qknorm_rope[] = {
#include "qknorm_rope.spv.inc"
};
static const uint32_t attention[] = {
#include "attention.spv.inc"
};
static const uint32_t swiglu[] = {
#include "swiglu.spv.inc"
};
static const uint32_t pool[] = {
#include "pool.spv.inc"
};

#define SPV(id, arr) [id] = {#arr, arr, sizeof(arr)}
const vkx_spirv vkx_shaders[VKX_SH_COUNT] = {
    SPV(VKX_SH_EMBED_F32, embed_f32),
    SPV(VKX_SH_EMBED_F16, embed_f16),
    SPV(VKX_SH_EMBED_BF16, embed_bf16),
    SPV(VKX_SH_RMSNORM, rmsnorm),
    SPV(VKX_SH_LINEAR_F32, linear_f32),
    SPV(VKX_SH_LINEAR_F16, linear_f16),
    SPV(VKX_SH_LINEAR_BF16, linear_bf16),
    SPV(VKX_SH_LINEAR_CM_F16D, linear_cm_f16d),
    SPV(VKX_SH_LINEAR_CMK_F16, linear_cmk_f16),
    SPV(VKX_SH_LINEAR_CMK_BF16, linear_cmk_bf16),
    SPV(VKX_SH_LINEAR_CMK_F16P, linear_cmk_f16p),
    SPV(VKX_SH_LINEAR_CMK_BF16P, linear_cmk_bf16p),
    SPV(VKX_SH_LINEAR_CMKG_F16, linear_cmkg_f16),
    SPV(VKX_SH_LINEAR_CMKG_BF16, linear_cmkg_bf16),
    SPV(VKX_SH_LINEAR_CM2_F16, linear_cm2_f16),
    SPV(VKX_SH_LINEAR_CM2_BF16, linear_cm2_bf16),
    SPV(VKX_SH_LINEAR_CM2G_F16, linear_cm2g_f16),
    SPV(VKX_SH_LINEAR_CM2G_BF16, linear_cm2g_bf16),
    SPV(VKX_SH_ATTENTION_CMK_F16, attention_cmk_f16),
    SPV(VKX_SH_ATTENTION_CMK_BF16, attention_cmk_bf16),
    SPV(VKX_SH_ATTENTION_CM2_F16, attention_cm2_f16),
    SPV(VKX_SH_ATTENTION_CM2_BF16, attention_cm2_bf16),
    SPV(VKX_SH_ATTENTION_CM2R_F16, attention_cm2r_f16),
    SPV(VKX_SH_QKNORM_ROPE, qknorm_rope),
    SPV(VKX_SH_ATTENTION, attention),
    SPV(VKX_SH_SWIGLU, swiglu),
    SPV(VKX_SH_POOL, pool),
};
