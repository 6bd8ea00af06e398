/* vk_internal.h — what the Vulkan backend's files share: the device context
 * (instance, device, queue, one command buffer, limits and features), buffers,
 * the embedded SPIR-V shaders, pipelines (with an on-disk VkPipelineCache),
 * descriptor sets, and the recorders of each op (push constants + dispatch).
 *
 * Files: overrides.c (every environment switch, read once per context), device.c
 * (context), buffers.c (memory, upload/download), pipelines.c (pipeline cache, pipelines,
 * descriptor sets), ops.c (the kernels of a mode and the op recorders), table.c (the
 * engine's kernel table: which variant runs each recipe op), shaders.c (SPIR-V arrays),
 * weights.c (model upload), forward.c (the recipe recorded into one command buffer),
 * backend.c (the xf_backend_vulkan table), ops_test.c (the op table, kernel variants and
 * device-side guards of the op-by-op tests), trace.c (XFWD_VK_TRACE), profile.c. */
#ifndef XF_VK_INTERNAL_H
#define XF_VK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <vulkan/vulkan.h>

#include "../backend.h"
#include "../error.h"

/* Records a failing Vulkan call (expression, result, file, line) and jumps to cleanup. */
#define VK_CHECK(call)                                                                             \
    do {                                                                                           \
        VkResult vkr_ = (call);                                                                    \
        if (vkr_ != VK_SUCCESS) {                                                                  \
            st = xf_error(vkx_status(vkr_), "vulkan: %s failed: %s (%s:%d)", #call,                \
                          vkx_result_name(vkr_), __FILE__, __LINE__);                              \
            goto cleanup;                                                                          \
        }                                                                                          \
    } while (0)

const char *vkx_result_name(VkResult r);
xf_status vkx_status(VkResult r); /* OUT_OF_*_MEMORY → XF_ERR_NO_MEMORY, else XF_ERR_DEVICE */

/* ------------------------------------------------------------------ shaders */

typedef enum vkx_shader {
    VKX_SH_EMBED_F32 = 0,
    VKX_SH_EMBED_F16,
    VKX_SH_EMBED_BF16,
    VKX_SH_RMSNORM,
    VKX_SH_LINEAR_F32,
    VKX_SH_LINEAR_F16,
    VKX_SH_LINEAR_BF16,
    VKX_SH_LINEAR_CM_F16D,
    VKX_SH_LINEAR_CMK_F16,
    VKX_SH_LINEAR_CMK_BF16,
    VKX_SH_LINEAR_CMK_F16P,
    VKX_SH_LINEAR_CMK_BF16P,
    VKX_SH_LINEAR_CMKG_F16,
    VKX_SH_LINEAR_CMKG_BF16,
    VKX_SH_LINEAR_CM2_F16,
    VKX_SH_LINEAR_CM2_BF16,
    VKX_SH_LINEAR_CM2G_F16,
    VKX_SH_LINEAR_CM2G_BF16,
    VKX_SH_ATTENTION_CMK_F16,
    VKX_SH_ATTENTION_CMK_BF16,
    VKX_SH_ATTENTION_CM2_F16,
    VKX_SH_ATTENTION_CM2_BF16,
    VKX_SH_ATTENTION_CM2R_F16,
    VKX_SH_QKNORM_ROPE,
    VKX_SH_ATTENTION,
    VKX_SH_SWIGLU,
    VKX_SH_POOL,
    VKX_SH_COUNT
} vkx_shader;

typedef struct vkx_spirv {
    const char *name;
    const uint32_t *code;
    size_t bytes;
} vkx_spirv;

extern const vkx_spirv vkx_shaders[VKX_SH_COUNT]; /* shaders.c */

/* ------------------------------------------------------------------ overrides */

/* The environment, read once per context (overrides.c documents each variable). */
typedef enum vkx_cm_cap { VKX_CM_CAP_NONE = 0, VKX_CM_CAP_NV, VKX_CM_CAP_KHR, VKX_CM_CAP_ALL } vkx_cm_cap;
typedef enum vkx_mm_pick { VKX_MM_DEFAULT = 0, VKX_MM_DB, VKX_MM_CM2 } vkx_mm_pick;
typedef enum vkx_glu_pick { VKX_GLU_DEFAULT = 0, VKX_GLU_OFF, VKX_GLU_CM2 } vkx_glu_pick;
typedef enum vkx_att_pick {
    VKX_ATT_PICK_DEFAULT = 0,
    VKX_ATT_PICK_SCALAR,
    VKX_ATT_PICK_KHR,
    VKX_ATT_PICK_CM2,
    VKX_ATT_PICK_CM2_SMEM
} vkx_att_pick;
/* How far the blocked-layout chain goes (each step needs the ones before it). */
typedef enum vkx_layout_cap {
    VKX_LAYOUT_ROWS = 0, /* row-major weights and activations */
    VKX_LAYOUT_WBLOCK,   /* the layers' weights blocked */
    VKX_LAYOUT_XBLOCK,   /* and the norms' 16-bit output (and act16 between gate|up and down) */
    VKX_LAYOUT_OBLOCK,   /* and attention's 16-bit output */
    VKX_LAYOUT_QKV16     /* and q|k|v in 16 bits from their multiply to attention (default) */
} vkx_layout_cap;

typedef struct vkx_overrides {
    vkx_cm_cap coopmat;     /* XFWD_VK_COOPMAT */
    vkx_mm_pick mm;         /* XFWD_VK_MM */
    int cm_tile_set;        /* XFWD_VK_CM_TILE given: cm_tile = BM, BN, BK, WM, WN */
    uint32_t cm_tile[5];
    int cm_group;           /* its GM (-1: the default) */
    vkx_glu_pick glu;       /* XFWD_VK_GLU */
    vkx_att_pick att;       /* XFWD_VK_ATT */
    vkx_layout_cap layout;  /* XFWD_VK_LAYOUT */
    int require_coopmat;    /* XFWD_VK_REQUIRE_COOPMAT=1 */
    int device;             /* XFWD_VK_DEVICE (-1: the first suitable) */
    int validate, probe, profile, pipe_stats;
    uint64_t max_buffer_range, weight_piece; /* 0: the device's */
    uint32_t max_groups;
} vkx_overrides;

void vkx_overrides_read(vkx_overrides *o);
const char *vkx_trace_path(void);                /* XFWD_VK_TRACE or NULL */
int vkx_default_cache_dir(char *dir, size_t n);  /* $XDG_CACHE_HOME/xfwd or ~/.cache/xfwd; 0: neither */

/* ------------------------------------------------------------------ context */

typedef struct vkx_buffer {
    VkBuffer buf;
    VkDeviceMemory mem;
    VkDeviceSize size;
    VkDeviceSize alloc;  /* bytes of device memory behind it */
    void *map;       /* host-visible buffers stay mapped */
    int host;        /* 1: host-visible (staging, plan inputs, readback) */
} vkx_buffer;

#define VKX_MAX_SPEC 17
#define VKX_PROF_MAX 8192
#define VKX_BINDINGS 6 /* every pipeline: storage buffers 0..5, 128 bytes of push constants */
#define VKX_PC_BYTES 128

typedef struct vkx_pipe_entry {
    vkx_shader sh;
    uint32_t nspec;
    uint32_t spec[VKX_MAX_SPEC];
    VkPipeline pipe;
} vkx_pipe_entry;

typedef struct vkx_ctx {
    VkInstance instance;
    VkPhysicalDevice phys;
    VkDevice dev;
    VkQueue queue;
    uint32_t qfam;
    VkCommandPool cmd_pool;
    VkCommandBuffer cmd;
    VkFence fence;
    int recording;

    vkx_overrides ov;           /* the environment, read at creation */
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties memprops;
    char device_name[256];
    uint32_t subgroup_size;
    int subgroup_shuffle;       /* GL_KHR_shader_subgroup_shuffle in compute */
    int storage16;              /* storageBuffer16BitAccess */
    int float16;                /* shaderFloat16 */
    int memory_model;           /* vulkanMemoryModel */
    int coopmat;                /* VK_NV_cooperative_matrix usable: f16×f16 → f32, subgroup (only
                                   where VK_KHR_cooperative_matrix is not) */
    uint32_t cm_m, cm_n, cm_k;  /* the fragment shape chosen */
    int khr[2];                 /* VK_KHR_cooperative_matrix usable for [0] f16, [1] bf16 (subgroup) */
    uint32_t khr_m[2], khr_n[2], khr_k[2]; /* the fragment chosen for each */
    int cm2[2];                 /* VK_NV_cooperative_matrix2 workgroup scope usable for f16, bf16 */
    /* the driver's workgroup-scope shapes: per type, up to 8 (invocations, M, N, K granularity) */
    uint32_t cm2_shape[2][8][4];
    int cm2_nshape[2];
    int cm2_att;                /* NV2 reductions and conversions too (the NV2 attention kernel) */
    int pin_subgroup;           /* pipelines require full subgroups of subgroup_size (Vulkan 1.3) */
    int use_bf16;               /* VK_KHR_shader_bfloat16 enabled (bf16 matrix units) */
    char cm_report[2048];       /* what the device offers (XFWD_VK_PROBE=1 prints it) */
    VkDeviceSize max_range;     /* largest storage-buffer binding (maxStorageBufferRange) */
    VkDeviceSize max_alloc;     /* maxMemoryAllocationSize */
    VkDeviceSize max_piece;     /* largest weight piece: min(range, alloc) */
    uint32_t max_groups_x;      /* maxComputeWorkGroupCount[0] */
    uint32_t max_groups_y;
    uint32_t max_shared;        /* maxComputeSharedMemorySize, at most 48 KiB used */

    VkDescriptorSetLayout dsl;
    VkPipelineLayout layout;
    VkDescriptorPool *pools;
    int n_pools;

    VkPipelineCache pcache;
    char *cache_path;           /* NULL: no file */
    size_t cache_loaded;        /* bytes of cache data read at start (0: cold) */
    vkx_pipe_entry *pipes;
    int n_pipes, cap_pipes;
    int pipes_new;              /* created since the cache was last saved */
    double pipeline_seconds;    /* time spent creating pipelines */

    vkx_buffer dummy;           /* bound to unused bindings */
    vkx_buffer staging;         /* host-visible, for uploads and downloads */

    size_t bytes_now, bytes_peak;

    int pipe_stats;             /* XFWD_VK_PIPE_STATS=1: capture compiler statistics */
    int profile;                /* XFWD_VK_PROFILE=1: a timestamp after every dispatch */
    VkQueryPool prof_pool;      /* VKX_PROF_MAX queries */
    uint32_t prof_n;
    vkx_shader *prof_sh;        /* [VKX_PROF_MAX] shader of each timed dispatch */
    double prof_ms[VKX_SH_COUNT];
    uint32_t prof_calls[VKX_SH_COUNT];

    VkQueryPool timestamps;     /* 2 queries around a forward's work, or NULL */
    double ts_period_ns;
    double last_forward_ms;     /* device time of the last forward (0: unknown) */
} vkx_ctx;

/* Creates the context on the chosen device. cache_dir: where the pipeline cache
 * file lives (NULL: $XDG_CACHE_HOME/xfwd or ~/.cache/xfwd). XF_ERR_NO_DEVICE when
 * no Vulkan 1.2 device exists. The environment is read here, once, into c->ov
 * (overrides.c: device choice, validation, lowered limits for the tests). */
xf_status vkx_ctx_create(const char *cache_dir, int device, vkx_ctx **out);
/* Saves the pipeline cache (failures ignored) and releases everything. */
void vkx_ctx_destroy(vkx_ctx *c);

/* The context's one command buffer: begin, then end + submit + wait for the fence. */
xf_status vkx_begin(vkx_ctx *c);
xf_status vkx_submit_wait(vkx_ctx *c);

/* Timestamps around a forward's work (no-ops without timestamp support):
 * begin resets the pool and writes the first, end writes the second, read
 * stores the difference in last_forward_ms after the submission has finished. */
void vkx_ts_begin(vkx_ctx *c);
void vkx_ts_end(vkx_ctx *c);
void vkx_ts_read(vkx_ctx *c);

/* Profiling (XFWD_VK_PROFILE=1): per-shader device time summed over the
 * submissions since the last report; the report is one line per shader. */
void vkx_prof_dispatched(vkx_ctx *c, VkPipeline p);
void vkx_prof_collect(vkx_ctx *c);
/* Appends compiler statistics of a new pipeline to the process's report. */
void vkx_pipe_stats(vkx_ctx *c, VkPipeline p, const char *name);

/* ------------------------------------------------------------------ buffers */

/* A storage buffer of `size` bytes; host != 0 makes it host-visible and mapped. */
xf_status vkx_buffer_create(vkx_ctx *c, VkDeviceSize size, int host, vkx_buffer *b);
void vkx_buffer_destroy(vkx_ctx *c, vkx_buffer *b);
/* Writes `bytes` at dst+off by calling fill(user, staging, byte_offset, n) for
 * consecutive pieces, each copied on the device (submits and waits itself). */
typedef void (*vkx_fill_fn)(void *user, void *dst, size_t byte_off, size_t n);
xf_status vkx_upload_fill(vkx_ctx *c, vkx_buffer *dst, VkDeviceSize off, size_t bytes,
                          vkx_fill_fn fill, void *user);
xf_status vkx_upload(vkx_ctx *c, vkx_buffer *dst, VkDeviceSize off, const void *src, size_t bytes);
xf_status vkx_download(vkx_ctx *c, vkx_buffer *src, VkDeviceSize off, void *dst, size_t bytes);

/* ------------------------------------------------------------------ pipelines */

/* The pipeline of a shader with these specialization constants (constant_id i
 * = spec[i]), created on first use and kept by the context. */
xf_status vkx_pipeline(vkx_ctx *c, vkx_shader sh, const uint32_t *spec, uint32_t nspec,
                       VkPipeline *out);
/* Loads / saves the pipeline cache file (device.c calls these). */
void vkx_cache_load(vkx_ctx *c, const char *cache_dir);
void vkx_cache_save(vkx_ctx *c);

/* A descriptor set binding bufs[i] to binding i (NULL → the dummy buffer). */
xf_status vkx_set(vkx_ctx *c, vkx_buffer *const *bufs, int n, VkDescriptorSet *out);
/* The same binding bufs[i] from byte offs[i] (a multiple of minStorageBufferOffsetAlignment;
 * offs NULL: 0) to its end: the op tests' guard regions before an output. */
xf_status vkx_set_at(vkx_ctx *c, vkx_buffer *const *bufs, const VkDeviceSize *offs, int n, VkDescriptorSet *out);
/* Returns every descriptor set to the pools (op tests, between calls). */
void vkx_sets_reset(vkx_ctx *c);

/* Records bind + push constants + dispatch of gx × gy groups + a full
 * compute→compute memory barrier. */
void vkx_dispatch(vkx_ctx *c, VkPipeline p, VkDescriptorSet s, const void *pc, uint32_t pc_bytes,
                  uint32_t gx, uint32_t gy);
/* Same for n workgroups addressed linearly (group_linear() in common.glsl):
 * split into a 2-D grid when n exceeds maxComputeWorkGroupCount[0]. */
void vkx_dispatch_linear(vkx_ctx *c, VkPipeline p, VkDescriptorSet s, const void *pc,
                         uint32_t pc_bytes, uint64_t n);
/* Barrier that makes transfer writes visible to shaders and shader writes to
 * transfers and the host. */
void vkx_barrier_all(vkx_ctx *c);

/* Command trace (trace.c; XFWD_VK_TRACE=FILE): one line per recorded command. */
void vkx_trace(vkx_ctx *c, const char *what);
void vkx_trace_copy(vkx_ctx *c, VkDeviceSize src_off, VkDeviceSize dst_off, VkDeviceSize bytes);
void vkx_trace_dispatch(vkx_ctx *c, VkPipeline p, VkDescriptorSet s, const void *pc, uint32_t pc_bytes, uint32_t gx,
                        uint32_t gy);

/* ------------------------------------------------------------------ op recorders */

/* Push constants of linear.comp / linear_cm.comp (see the shaders). */
typedef struct vkx_linear_pc {
    uint32_t M, N, K;
    uint32_t x_off, ldx;
    uint32_t w_off, ldw;
    uint32_t y_off, ldy;
    uint32_t b_off;
    uint32_t flags; /* VKX_LIN_* */
    float alpha;
    int32_t mask_adapter;
} vkx_linear_pc;
#define VKX_LIN_BIAS 1u
#define VKX_LIN_ACC 2u
#define VKX_LIN_MASK 4u

/* Weight storage type of a mode's matrix multiplies. */
typedef enum vkx_wt { VKX_WT_F32 = 0, VKX_WT_F16, VKX_WT_BF16 } vkx_wt;
size_t vkx_wt_size(vkx_wt t);

/* The kernels of one precision mode, created once (pipelines with their tile sizes). */
typedef struct vkx_kernels {
    vkx_wt wt;                 /* weight type of matrix multiplies */
    VkPipeline embed;          /* embedding gather for wt */
    VkPipeline rmsnorm, qkrope, swiglu, pool;
    VkPipeline linear;         /* plain path, weights wt */
    VkPipeline linear_f32;     /* plain path, fp32 weights (LoRA factors) */
    uint32_t lin_bm, lin_bn;
    VkPipeline cm_vec, cm_scalar; /* subgroup matrix-unit path: KHR (a16, f16 or bf16) or NV (f16, fp32 x), or NULL */
    uint32_t cm_bm, cm_bn;
    /* the KHR kernel (and its gate|up variant) on blocked weights (vkx_weight_upload_blocked
     * with bn = cm_bn, bk = blk_k), or NULL */
    VkPipeline cmb_vec, cmb_scalar, glub_vec, glub_scalar;
    uint32_t blk_k;
    /* the same reading x in the blocked layout too (rows in groups of cm_bm), which
     * rmsnorm16b writes, or NULL */
    VkPipeline cmbx, glubx, rmsnorm16b;
    VkPipeline glubxy; /* glubx writing act blocked (for the down multiply's cmbx), or NULL */
    VkPipeline cmbx16; /* cmbx writing y in the 16-bit type (never accumulating), or NULL */
    /* a16 != 0 (1 f16, 2 bf16): the matrix multiplies of wt weights read 16-bit
     * activations, which rmsnorm16 / attention16 / swiglu16 write beside their
     * fp32 outputs (binding 3, binding 5 for attention) */
    uint32_t a16;
    VkPipeline mm_vec, mm_scalar;   /* NV2 workgroup-scope multiply (a16) */
    uint32_t mm_bm, mm_bn;
    VkPipeline glu_vec, glu_scalar; /* gate|up multiply fused with SwiGLU, 16-bit output, or NULL */
    uint32_t glu_bm, glu_bn;
    uint32_t glu_block;        /* KHR kernel: gate|up rows interleaved in blocks of this many
                                  (0: the NV2 kernel, gate rows then up rows) */
    VkPipeline rmsnorm16, swiglu16, attention16;
    /* attention16 (NV2) writing only its 16-bit output, in the blocked layout of k->cmbx
     * (o_off 0, o_ld nh·D), or NULL */
    VkPipeline attention16b;
    VkPipeline attention16bi; /* attention16b reading 16-bit q, k, v, or NULL */
    VkPipeline qkrope16;      /* qkrope on 16-bit x (a16), or NULL */
    const char *att16_name;    /* which kernel attention16 is (for printing) */
    uint32_t att16_br;         /* attention16 is a matrix-unit kernel (KHR or NV2): Br tokens × one
                                  head per workgroup (0: the scalar kernel) */
    VkPipeline attention;
    uint32_t att_bt, att_qpt, att_d; /* tokens per workgroup, heads per thread, head_dim */
} vkx_kernels;

/* The largest NV2 workgroup size (≤ max_wg) whose granularity divides an M×N×K
 * product of type t (0 f16, 1 bf16); 0 when none. */
uint32_t vkx_cm2_wg(const vkx_ctx *c, int t, uint32_t M, uint32_t N, uint32_t K, uint32_t max_wg);

/* Creates the pipelines of `mode`, attention for head_dim D and G = n_heads /
 * n_kv_heads (D = 0: no attention). XF_ERR_UNSUPPORTED when the device lacks
 * what the mode needs. */
xf_status vkx_kernels_init(vkx_ctx *c, xf_dtype mode, int D, int G, vkx_kernels *k);

/* Recorders: the set binds the op's buffers in the shader's binding order. */
/* wkind: how the weights are stored. With k->a16, a multiply of wt weights reads 16-bit x. */
enum { VKX_W_ROWS = 0, /* wt, row-major */
       VKX_W_F32 = 1,  /* fp32, row-major (LoRA factors, the classifier) */
       VKX_W_BLOCKED = 2, /* wt in the blocked layout of k->cmb_vec */
       VKX_W_BLOCKED_X = 3, /* the same, and x in the blocked layout of rmsnorm16b (k->cmbx) */
       VKX_W_BLOCKED_X16 = 4 /* the same writing y in the 16-bit type (k->cmbx16) */ };
void vkx_rec_linear(vkx_ctx *c, const vkx_kernels *k, int wkind, VkDescriptorSet s, const vkx_linear_pc *pc);
/* act[M, I] (16-bit, row stride I) = silu(x·Wgᵀ) · (x·Wuᵀ) with k->glu_vec; x [M, K]
 * 16-bit; W the gate|up weight as k->glu_block says (blocked: as k->glub_vec reads). */
void vkx_rec_glu(vkx_ctx *c, const vkx_kernels *k, VkDescriptorSet s, uint32_t M, uint32_t I, uint32_t K,
                 int blocked, int x_blocked, int y_blocked);
void vkx_rec_embed(vkx_ctx *c, const vkx_kernels *k, VkDescriptorSet s, uint32_t T, uint32_t H,
                   uint32_t row0, uint32_t nrows);
/* What a norm writes: fp32 y (k->rmsnorm); that and the 16-bit copy (k->rmsnorm16; the set
 * binds it at 3); that copy in the blocked layout (k->rmsnorm16b); the blocked copy alone. */
typedef enum vkx_norm_out {
    VKX_NORM_F32 = 0,
    VKX_NORM_F32_16 = 1,
    VKX_NORM_F32_16BLK = 2,
    VKX_NORM_16BLK = 3
} vkx_norm_out;
/* What attention reads and writes: fp32 q, k, v always except the last; fp32 out (k->attention);
 * that and the 16-bit copy (k->attention16, binding 5); the 16-bit copy alone, blocked
 * (k->attention16b); the same reading 16-bit q, k, v (k->attention16bi). */
typedef enum vkx_att_io {
    VKX_ATT_F32 = 0,
    VKX_ATT_F32_16 = 1,
    VKX_ATT_16BLK = 2,
    VKX_ATT_16IN_16BLK = 3
} vkx_att_io;
/* How a layer's multiply reads x and writes y (on blocked weights): x row-major; x blocked
 * (k->cmbx); x blocked and y in the 16-bit type (k->cmbx16). */
typedef enum vkx_xio { VKX_X_ROWS = 0, VKX_X_BLOCKED = 1, VKX_X_BLOCKED_Y16 = 2 } vkx_xio;

void vkx_rec_rmsnorm(vkx_ctx *c, const vkx_kernels *k, VkDescriptorSet s, uint32_t rows, uint32_t n,
                     uint32_t x_off, uint32_t x_ld, uint32_t y_off, uint32_t y_ld, float eps,
                     int has_w, vkx_norm_out out);
/* x16: x holds the 16-bit type (k->qkrope16) instead of fp32. */
void vkx_rec_qkrope(vkx_ctx *c, const vkx_kernels *k, VkDescriptorSet s, uint32_t T, uint32_t nh,
                    uint32_t D, uint32_t x_off, uint32_t ld, int has_norm, float eps, int x16);
/* Attention over the sequences of the span buffer (binding 4: [T] (start, end) of each
 * token's sequence), each query seeing the keys of its sequence `mask` allows. */
void vkx_rec_attention(vkx_ctx *c, const vkx_kernels *k, VkDescriptorSet s, uint32_t T,
                       uint32_t nh, uint32_t nkv, const uint32_t offs_lds[8], vkx_att_io io, xf_attn_mask mask);
void vkx_rec_swiglu(vkx_ctx *c, const vkx_kernels *k, VkDescriptorSet s, uint32_t rows, uint32_t n,
                    const uint32_t offs_lds[6], int out16);
void vkx_rec_pool(vkx_ctx *c, const vkx_kernels *k, VkDescriptorSet s, uint32_t B, uint32_t H,
                  uint32_t h_ld, uint32_t kind, uint32_t normalize);

/* ------------------------------------------------------------------ weights */

/* A [rows, cols] matrix in device memory, split by rows into pieces that each
 * fit one storage-buffer binding (maxStorageBufferRange) and one allocation. */
typedef struct vkx_weight {
    vkx_wt wt;
    uint32_t rows, cols;
    uint32_t blk_rows, blk_k; /* > 0: stored in blocks (vkx_weight_upload_blocked), one piece */
    int n;               /* pieces */
    vkx_buffer *pieces;  /* [n] */
    uint32_t *row0;      /* [n+1]: first row of each piece; row0[n] = rows */
} vkx_weight;

/* Writes rows [row0, row0+nrows) of the matrix, in type wt, to dst. */
typedef void (*vkx_rows_fn)(void *user, uint32_t row0, uint32_t nrows, void *dst);
xf_status vkx_weight_upload(vkx_ctx *c, vkx_wt wt, uint32_t rows, uint32_t cols, vkx_rows_fn fill,
                            void *user, vkx_weight *w);
/* The same in the layout of the matrix-unit kernel's blocked weights: rows in groups
 * of bn (the last padded with zero rows), each group stored as cols/bk consecutive
 * bn×bk row-major blocks, so that each K slice of a tile is contiguous. Falls back
 * to vkx_weight_upload (blk_rows = 0) when bn is 0, cols is not a multiple of bk or
 * the padded matrix does not fit one piece. */
xf_status vkx_weight_upload_blocked(vkx_ctx *c, vkx_wt wt, uint32_t rows, uint32_t cols, vkx_rows_fn fill,
                                    void *user, uint32_t bn, uint32_t bk, vkx_weight *w);
/* Whether vkx_weight_upload_blocked stores such a matrix blocked (else row-major). */
int vkx_blocked_fits(const vkx_ctx *c, vkx_wt wt, uint32_t rows, uint32_t cols, uint32_t bn, uint32_t bk);
void vkx_weight_free(vkx_ctx *c, vkx_weight *w);
/* The wkind (VKX_W_*) of a weight, for vkx_rec_linear. */
int vkx_weight_kind(const vkx_weight *w);
/* fp32 host data to a new device buffer. */
xf_status vkx_buffer_from(vkx_ctx *c, const void *src, size_t bytes, vkx_buffer *b);

/* One LoRA pair on the device (fp32): A [r, in], B [out, r]. */
typedef struct vkx_lora {
    vkx_buffer A, B;
    int32_t r, in, out;
    float scale;
} vkx_lora;

typedef struct vkx_layer {
    vkx_buffer attn_norm, mlp_norm;  /* [H] fp32 */
    vkx_buffer q_norm, k_norm;       /* [D] fp32 (Qwen3) or empty */
    vkx_buffer bqkv;                 /* [(NH+2·NKV)·D] fp32 or empty */
    vkx_weight qkv;                  /* [(NH+2·NKV)·D, H]: q, k, v rows fused */
    vkx_weight o;                    /* [H, NH·D] */
    vkx_weight gu;                   /* [2·I, H]: gate rows then up rows */
    vkx_weight down;                 /* [H, I] */
} vkx_layer;

/* Everything of a model on the device, uploaded once. */
typedef struct vkx_model {
    vkx_weight embed;       /* [V, H] in the mode's weight type */
    vkx_weight lm_head;     /* [V, H]; shares embed's pieces when tied (owns none) */
    int lm_tied;
    vkx_weight score;       /* [L, H] fp32 or empty */
    vkx_buffer final_norm;  /* [H] */
    vkx_buffer rope_cos, rope_sin; /* [min(max_pos, tcap), D/2] (vkx_rope_upload) */
    vkx_layer *layers;      /* [n_layers] */
    int n_layers;
    vkx_lora *lora;         /* [n_adapters][n_layers][XF_MOD_COUNT] when not merged, else NULL */
    int n_adapters;
    int r_max;              /* largest LoRA rank (0: none) */
} vkx_model;

/* How the layers' matrices are laid out for the kernels that read them. */
typedef struct vkx_layout {
    uint32_t glu_block;   /* > 0: gate|up rows interleaved in blocks of this many (k->glu_block) */
    uint32_t blk_rows;    /* > 0: q|k|v, o and down in the blocked layout, groups of this many rows */
    uint32_t gu_blk_rows; /* the same for gate|up (its kernel may differ) */
    uint32_t blk_k;       /* columns per block */
} vkx_layout;

/* Uploads the model in the weight type of k (merging adapter 0 when cfg->merge),
 * the layers' matrices laid out as lay says. */
xf_status vkx_model_upload(vkx_ctx *c, const xf_backend_config *cfg, vkx_wt wt, const vkx_layout *lay,
                           vkx_model *vm);
void vkx_model_free(vkx_ctx *c, vkx_model *vm);
/* (Re)makes vm's RoPE table for positions [0, min(rows, max_pos)); the engine calls
 * it with its token capacity, which bounds every position of a chunk. */
xf_status vkx_rope_upload(vkx_ctx *c, const xf_model *m, uint32_t rows, vkx_model *vm);

/* ------------------------------------------------------------------ engine */

/* The engine's kernel table: the layouts of the activations between ops and, for each op
 * of the layer recipe, which recorder variant runs it — decided once (vkx_table_fill). */
typedef struct vkx_table {
    vkx_layout lay;          /* the layers' weights as uploaded */
    int a16;                 /* the multiplies read 16-bit activations (k.a16 != 0) */
    int glu;                 /* gate|up multiply fused with SwiGLU (the recipe's fuse_next rewrite;
                                k.glu_vec, no unmerged LoRA) */
    int xblk;                /* the layers' norms write xn16 blocked, q|k|v and gate|up read it so */
    int ablk;                /* the fused gate|up writes act16 blocked, down reads it so */
    int oblk;                /* attention writes att16 (alone) blocked, the o multiply reads it so */
    int qkv16;               /* q|k|v written to qkv16 (16-bit), q/k norm + RoPE and attention on it */
    int xn16_only;           /* the layers' norms write only xn16 (xblk, no unmerged LoRA reads xn) */
    vkx_norm_out layer_norm; /* the layers' two norms */
    vkx_norm_out final_norm;
    vkx_xio qkv_x, o_x, gu_x, down_x; /* the layers' multiplies (on blocked weights) */
    vkx_att_io att;
} vkx_table;

typedef struct vkx_layer_sets {
    VkDescriptorSet attn_norm, mlp_norm, qrope, krope, attn, swiglu, glu;
    VkDescriptorSet *qkv, *o, *gu, *down; /* one per weight piece */
} vkx_layer_sets;

typedef struct vkx_lora_sets {
    VkDescriptorSet a, b; /* u = x·Aᵀ ; y += s·u·Bᵀ (masked by adapter) */
} vkx_lora_sets;

/* The Vulkan backend's state: device, kernels, weights, activations sized for
 * tcap tokens, and every descriptor set a forward binds, all made at creation. */
typedef struct vkx_engine {
    vkx_ctx *c;
    xf_backend_config cfg;
    vkx_kernels k;
    vkx_model w;
    uint32_t H, I, D, NH, NKV, V, L;
    uint32_t qkv_ld;        /* (NH + 2·NKV)·D */
    uint32_t tcap;          /* tokens per submission (≤ max_tokens, ≤ buffer limits) */
    /* activations, fp32, rows of tcap tokens */
    vkx_buffer x;           /* [T, H] residual stream */
    vkx_buffer xn;          /* [T, H] normed */
    vkx_buffer qkv;         /* [T, qkv_ld] */
    vkx_buffer att;         /* [T, NH·D] */
    vkx_buffer gu;          /* [T, 2·I] (empty when glu) */
    vkx_buffer act;         /* [T, I] (empty when glu) */
    /* 16-bit copies read by the matrix multiplies when k.a16 (else empty) */
    vkx_buffer xn16, att16, act16;
    vkx_buffer qkv16;       /* t.qkv16: [T, qkv_ld] 16-bit q|k|v, in place of qkv */
    vkx_table t;            /* how each op of the recipe runs here (vkx_table_fill) */
    vkx_buffer u;           /* [T, r_max] LoRA intermediate */
    vkx_buffer pooled;      /* [B, H] */
    vkx_buffer cls;         /* [B, L] */
    /* per-forward inputs: written to the host-visible `inputs` (tokens, pos [T], span
     * [T, 2], tok_adapter [T], seq_start [B+1]) and copied to these device buffers at
     * the start of each forward; span[t] = (start, end) of t's sequence (attention) */
    vkx_buffer tokens, pos, span, tok_adapter, seq_start;
    vkx_buffer inputs;
    vkx_buffer readback;    /* host-visible [T, H] */
    /* descriptor sets */
    VkDescriptorSet *embed_sets;   /* [embed pieces] */
    vkx_layer_sets *ls;            /* [n_layers] */
    vkx_lora_sets *lora_sets;      /* indexed like w.lora */
    VkDescriptorSet final_norm, pool, *score_sets;
    /* logits: host-visible row chunks [lrows, V], made at the first request */
    int n_lchunks;
    uint32_t lrows;
    vkx_buffer *logits;
    VkDescriptorSet *logit_sets;   /* [chunk][lm_head piece] */
} vkx_engine;

/* Fills e->t once at creation, before the weights are uploaded (their layout is part of
 * it): from the device's kernels (e->k), the model's shapes and the adapters (table.c). */
void vkx_table_fill(vkx_engine *e);
/* The table's entry for one recipe op, for printing (the backend's `kernel`). */
void vkx_table_describe(const vkx_engine *e, const xf_op *op, xf_kernel_choice *out);

/* Descriptor sets and scratch (backend.c); one forward of a plan with T ≤ tcap
 * recorded into one command buffer, submitted once (forward.c). */
xf_status vkx_engine_logits_init(vkx_engine *e);
xf_status vkx_forward_chunk(vkx_engine *e, const xf_plan *p);

#endif /* XF_VK_INTERNAL_H */
