/* ops.c — the kernels of a precision mode (pipelines and the tile sizes chosen
 * for this device) and the recorders that turn an op's arguments into push
 * constants and a dispatch grid. Used by the forward and by the op tests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"

static uint32_t div_up(uint64_t a, uint64_t b) {
    return (uint32_t)((a + b - 1) / b);
}

/* Threads per token in attention: a power of two dividing D/4 and the
 * subgroup size, as large as leaves each thread ≥ 16 of the D dimensions. */
static uint32_t attention_tpq(const vkx_ctx *c, uint32_t D) {
    uint32_t t = 1, d4 = D / 4;
    while (t * 2 <= c->subgroup_size && d4 % (t * 2) == 0 && d4 / (t * 2) >= 4) t *= 2;
    return t;
}

/* The two pipelines of a multiply kernel: its specialization constant spec[vi] (VEC)
 * 1 for 16-byte loads, 0 for any alignment; vec_pair: VEC is the last one. */
static xf_status vec_pair_at(vkx_ctx *c, vkx_shader sh, uint32_t *spec, uint32_t n, uint32_t vi, VkPipeline *vec,
                             VkPipeline *scalar) {
    xf_status st = XF_OK;
    spec[vi] = 1;
    XF_TRY(vkx_pipeline(c, sh, spec, n, vec));
    spec[vi] = 0;
    XF_TRY(vkx_pipeline(c, sh, spec, n, scalar));
cleanup:
    return st;
}

static xf_status vec_pair(vkx_ctx *c, vkx_shader sh, uint32_t *spec, uint32_t n, VkPipeline *vec,
                          VkPipeline *scalar) {
    return vec_pair_at(c, sh, spec, n, n - 1, vec, scalar);
}

xf_status vkx_kernels_init(vkx_ctx *c, xf_dtype mode, int D, int G, vkx_kernels *k) {
    xf_status st = XF_OK;
    memset(k, 0, sizeof(*k));
    k->wt = mode == XF_DTYPE_F16 ? VKX_WT_F16 : mode == XF_DTYPE_BF16 ? VKX_WT_BF16 : VKX_WT_F32;
    XF_CHECK(k->wt == VKX_WT_F32 || c->storage16, XF_ERR_UNSUPPORTED,
             "vulkan: %s lacks 16-bit storage buffers (storageBuffer16BitAccess), needed for %s mode",
             c->device_name, mode == XF_DTYPE_F16 ? "f16" : "bf16");
    XF_CHECK(c->subgroup_shuffle && c->subgroup_size >= 1, XF_ERR_UNSUPPORTED,
             "vulkan: %s lacks subgroup shuffles in compute shaders (needed by attention)", c->device_name);
    XF_CHECK(D == 0 || (D >= 2 && D % 2 == 0 && D <= 512), XF_ERR_UNSUPPORTED,
             "vulkan: head_dim %d not supported", D);

    static const vkx_shader embed_sh[3] = {VKX_SH_EMBED_F32, VKX_SH_EMBED_F16, VKX_SH_EMBED_BF16};
    static const vkx_shader lin_sh[3] = {VKX_SH_LINEAR_F32, VKX_SH_LINEAR_F16, VKX_SH_LINEAR_BF16};
    XF_TRY(vkx_pipeline(c, embed_sh[k->wt], NULL, 0, &k->embed));
    XF_TRY(vkx_pipeline(c, VKX_SH_RMSNORM, NULL, 0, &k->rmsnorm));
    XF_TRY(vkx_pipeline(c, VKX_SH_QKNORM_ROPE, NULL, 0, &k->qkrope));
    XF_TRY(vkx_pipeline(c, VKX_SH_SWIGLU, NULL, 0, &k->swiglu));
    XF_TRY(vkx_pipeline(c, VKX_SH_POOL, NULL, 0, &k->pool));

    /* Plain tiled multiply: 128×128 tiles of 8×8 per thread (256 threads), or
     * 64×64 where a workgroup may not have 256 invocations. */
    uint32_t t[5] = {128, 128, 16, 8, 8}; /* BM, BN, BK, TM, TN */
    if (c->props.limits.maxComputeWorkGroupInvocations < 256) t[0] = t[1] = 64;
    uint32_t wg = (t[0] / t[3]) * (t[1] / t[4]);
    XF_CHECK(t[3] % 4 == 0 && t[4] % 4 == 0 && t[0] % t[3] == 0 && t[1] % t[4] == 0 && wg >= 1 &&
                 wg <= c->props.limits.maxComputeWorkGroupInvocations && (t[0] * t[2]) % wg == 0 &&
                 (t[1] * t[2]) % wg == 0 && 4 * t[2] * (t[0] + t[1] + 2) <= c->max_shared,
             XF_ERR_INVALID_ARG, "vulkan: bad linear tile %u,%u,%u,%u,%u", t[0], t[1], t[2], t[3], t[4]);
    uint32_t lin[6] = {wg, t[0], t[1], t[2], t[3], t[4]};
    k->lin_bm = t[0];
    k->lin_bn = t[1];
    XF_TRY(vkx_pipeline(c, lin_sh[k->wt], lin, 6, &k->linear));
    XF_TRY(vkx_pipeline(c, VKX_SH_LINEAR_F32, lin, 6, &k->linear_f32));

    /* Matrix units for 16-bit weights: the subgroup kernel on VK_KHR_cooperative_matrix
     * (reading 16-bit activations; else on VK_NV_cooperative_matrix for f16 with fp32
     * activations); with KHR the gate|up product runs with SwiGLU fused into its epilogue
     * (XFWD_VK_GLU=0: separately). Where VK_NV_cooperative_matrix2 exists, XFWD_VK_MM=cm2
     * runs the multiplies on its workgroup-scope kernel instead and XFWD_VK_GLU=cm2 the
     * fused gate|up product: both measured slower than the KHR kernel on the H100
     * (bench/vulkan-h100.md), so they are not the default. */
    const vkx_overrides *ov = &c->ov;
    int t16 = k->wt == VKX_WT_BF16 ? 1 : 0;
    int mm_cm2 = k->wt != VKX_WT_F32 && c->cm2[t16] && (ov->mm == VKX_MM_CM2 || !c->khr[t16]);
    int glu_cm2 = k->wt != VKX_WT_F32 && c->cm2[t16] && ov->glu == VKX_GLU_CM2;
    int khr = k->wt != VKX_WT_F32 && c->khr[t16] && !mm_cm2;
    if ((k->wt == VKX_WT_F16 && c->coopmat) || khr) {
        /* The kernel double-buffers the K slices in shared memory, one barrier per slice,
         * and stores whole fragments ("db"); on KHR by default with the global loads two
         * slices ahead ("pf2", measured 4 % faster; XFWD_VK_MM=db: one slice). The
         * single-buffered kernel and its variants were measured slower and removed
         * (bench/vulkan-h100.md). Tile: BM, BN, BK, WM, WN (XFWD_VK_CM_TILE). */
        int pf2 = khr && ov->mm != VKX_MM_DB;
        /* 128×128 tiles, K slices of 16, subgroups of 64×32 (8 of them). KHR with
         * subgroups of 32 or more: 4 subgroups of 64×64 (128 invocations on the H100:
         * measured 3 % faster there with the blocked layouts); narrower subgroups keep 64×32,
         * where 64×64 would mean many more fragments per subgroup. */
        uint32_t m[5] = {128, 128, 16, 64, khr && c->subgroup_size >= 32 ? 64 : 32};
        if (ov->cm_tile_set) memcpy(m, ov->cm_tile, sizeof(m));
        uint32_t fm = khr ? c->khr_m[t16] : c->cm_m, fn = khr ? c->khr_n[t16] : c->cm_n,
                 fk = khr ? c->khr_k[t16] : c->cm_k;
        uint32_t sg = c->subgroup_size, nsg = (m[1] && m[3] && m[4]) ? (m[0] / m[3]) * (m[1] / m[4]) : 0;
        uint32_t cwg = sg * nsg, units = m[2] / 8;
        uint32_t scratch = 4 * nsg * fm * fn, stage_a = 16 * (units + 1) * m[0];
        uint32_t shared = 2 * 16 * (units + 1) * (m[0] + m[1]);
        int fits = nsg >= 1 && m[0] % m[3] == 0 && m[1] % m[4] == 0 && m[3] % fm == 0 && m[4] % fn == 0 &&
                   m[2] % 8 == 0 && m[2] % fk == 0 && (fm * fn) % sg == 0 &&
                   cwg <= c->props.limits.maxComputeWorkGroupInvocations && shared <= c->max_shared &&
                   fn % 4 == 0 && scratch <= 2 * stage_a;
        /* A tile asked for must fit. The default tile not fitting this device's fragments,
         * subgroups or shared memory leaves the multiplies to the plain kernel. */
        XF_CHECK(fits || !ov->cm_tile_set, XF_ERR_INVALID_ARG,
                 "vulkan: bad cooperative-matrix tile %u,%u,%u,%u,%u", m[0], m[1], m[2], m[3], m[4]);
        khr = khr && fits;
        if (fits) {
            /* GM (the 6th value of XFWD_VK_CM_TILE; KHR default 8, measured 1-2 % faster on the
             * H100; 0 = off): workgroups walk groups of GM tile rows. Constant 11 is the
             * shader's diagnostics switch, always 0 here. */
            uint32_t gm = ov->cm_group >= 0 ? (uint32_t)ov->cm_group : khr ? 8 : 0;
            uint32_t cm[17] = {cwg, m[0], m[1], m[2], m[3], m[4], fm, fn, fk, sg, gm, 0, 0, 0, 0, 1, 0};
            vkx_shader csh = khr ? (t16 ? (pf2 ? VKX_SH_LINEAR_CMK_BF16P : VKX_SH_LINEAR_CMK_BF16)
                                        : (pf2 ? VKX_SH_LINEAR_CMK_F16P : VKX_SH_LINEAR_CMK_F16))
                                 : VKX_SH_LINEAR_CM_F16D;
            XF_TRY(vec_pair_at(c, csh, cm, 17, 15, &k->cm_vec, &k->cm_scalar));
            k->cm_bm = m[0];
            k->cm_bn = m[1];
            if (khr) k->a16 = t16 ? 2 : 1; /* the KHR kernel reads 16-bit activations */
            /* KHR: the same kernel on weights stored in blocks, each K slice of a tile contiguous
             * (measured 10 % faster on the H100; XFWD_VK_WBLOCK=0: row-major weights) */
            int wblk = khr && ov->layout >= VKX_LAYOUT_WBLOCK;
            /* and on x in that layout too, as rmsnorm16b writes it (XFWD_VK_XBLOCK=0: row-major) */
            int xblk = wblk && ov->layout >= VKX_LAYOUT_XBLOCK;
            if (wblk) {
                cm[12] = 1;
                XF_TRY(vec_pair_at(c, csh, cm, 17, 15, &k->cmb_vec, &k->cmb_scalar));
                k->blk_k = m[2];
            }
            if (xblk) {
                cm[13] = 1, cm[15] = 1;
                XF_TRY(vkx_pipeline(c, csh, cm, 17, &k->cmbx));
                cm[16] = 1; /* and writing y in 16 bits (q|k|v for 16-bit q, k, v) */
                XF_TRY(vkx_pipeline(c, csh, cm, 17, &k->cmbx16));
                cm[16] = 0;
                cm[13] = 0;
                uint32_t rs[3] = {t16 ? 2 : 1, m[0], m[2]};
                XF_TRY(vkx_pipeline(c, VKX_SH_RMSNORM, rs, 3, &k->rmsnorm16b));
            }
            if (khr && !glu_cm2 && ov->glu != VKX_GLU_OFF && (m[4] / fn) % 2 == 0) {
                /* the same kernel with SwiGLU in its epilogue, on interleaved gate|up rows */
                vkx_shader gsh = t16 ? VKX_SH_LINEAR_CMKG_BF16 : VKX_SH_LINEAR_CMKG_F16;
                cm[12] = 0;
                XF_TRY(vec_pair_at(c, gsh, cm, 17, 15, &k->glu_vec, &k->glu_scalar));
                if (wblk) {
                    cm[12] = 1;
                    XF_TRY(vec_pair_at(c, gsh, cm, 17, 15, &k->glub_vec, &k->glub_scalar));
                }
                if (xblk) {
                    cm[13] = 1, cm[15] = 1;
                    XF_TRY(vkx_pipeline(c, gsh, cm, 17, &k->glubx));
                    if (m[2] % fn == 0) { /* act written blocked too (blocks of BK columns hold whole fragments) */
                        cm[14] = 1;
                        XF_TRY(vkx_pipeline(c, gsh, cm, 17, &k->glubxy));
                        cm[14] = 0;
                    }
                    cm[13] = 0;
                }
                k->glu_bm = m[0], k->glu_bn = m[1], k->glu_block = m[4] / 2;
            }
        }
    }

    if (mm_cm2 || glu_cm2) {
        /* NV2 workgroup-scope multiplies on 16-bit activations. Tiles BM, BN, BK; the
         * workgroup size is the largest the driver lists for the tile, at most 128
         * (measured faster than 256 on the H100). */
        k->a16 = k->wt == VKX_WT_F16 ? 1 : 2;
        const uint32_t mm[3] = {128, 128, 32}, glu[3] = {128, 64, 32};
        uint32_t max_wg = 128;
        uint32_t mwg = vkx_cm2_wg(c, t16, mm[0], mm[1], mm[2], max_wg);
        uint32_t gwg = vkx_cm2_wg(c, t16, glu[0], glu[1], glu[2], max_wg);
        XF_CHECK((!mm_cm2 || mwg) && (!glu_cm2 || gwg), XF_ERR_INVALID_ARG,
                 "vulkan: no cooperative-matrix workgroup size fits tile %u,%u,%u / %u,%u,%u", mm[0], mm[1], mm[2],
                 glu[0], glu[1], glu[2]);
        if (mm_cm2) {
            uint32_t sp[5] = {mwg, mm[0], mm[1], mm[2], 1};
            vkx_shader sh = t16 ? VKX_SH_LINEAR_CM2_BF16 : VKX_SH_LINEAR_CM2_F16;
            XF_TRY(vec_pair(c, sh, sp, 5, &k->mm_vec, &k->mm_scalar));
            k->mm_bm = mm[0], k->mm_bn = mm[1];
        }
        if (glu_cm2) {
            uint32_t sg[5] = {gwg, glu[0], glu[1], glu[2], 1};
            vkx_shader sh = t16 ? VKX_SH_LINEAR_CM2G_BF16 : VKX_SH_LINEAR_CM2G_F16;
            XF_TRY(vec_pair(c, sh, sg, 5, &k->glu_vec, &k->glu_scalar));
            k->glu_bm = glu[0], k->glu_bn = glu[1];
        }
    }
    /* tests: a 16-bit mode that must run on matrix units (a driver that lost them fails) */
    XF_CHECK(!ov->require_coopmat || k->wt == VKX_WT_F32 || k->cm_vec || k->mm_vec, XF_ERR_UNSUPPORTED,
             "vulkan: XFWD_VK_REQUIRE_COOPMAT=1, but %s offers no usable cooperative matrices for this mode",
             c->device_name);
    if (k->a16) {
        uint32_t o16 = k->a16;
        XF_TRY(vkx_pipeline(c, VKX_SH_RMSNORM, &o16, 1, &k->rmsnorm16));
        XF_TRY(vkx_pipeline(c, VKX_SH_SWIGLU, &o16, 1, &k->swiglu16));
        XF_TRY(vkx_pipeline(c, VKX_SH_QKNORM_ROPE, &o16, 1, &k->qkrope16));
    }

    if (D == 0) goto cleanup; /* no attention wanted (op tests of other ops) */
    XF_CHECK(D % 4 == 0, XF_ERR_UNSUPPORTED, "vulkan: attention needs head_dim a multiple of 4, not %d", D);
    XF_CHECK(G >= 1, XF_ERR_INTERNAL, "vulkan: bad head grouping %d", G);
    /* WG, TPQ (threads per token), QPT (heads per thread), BK (keys per tile), KC */
    uint32_t a[5] = {D >= 128 ? 256 : 128, attention_tpq(c, (uint32_t)D), 1, 32, 8};
    for (uint32_t q = 4; q >= 1; q--)
        if ((uint32_t)G % q == 0) {
            a[2] = q;
            break;
        }
    if (a[0] > c->props.limits.maxComputeWorkGroupInvocations) a[0] = 64;
    while (a[3] > 1 && 2 * a[3] * (uint32_t)D * 4 > c->max_shared) a[3] /= 2;
    if (a[4] > a[3]) a[4] = a[3];
    XF_CHECK(a[1] >= 1 && a[1] <= c->subgroup_size && c->subgroup_size % a[1] == 0 && (D / 4) % a[1] == 0 &&
                 a[0] % a[1] == 0 && a[0] <= c->props.limits.maxComputeWorkGroupInvocations && a[2] >= 1 &&
                 (uint32_t)G % a[2] == 0 && a[4] >= 1 && a[3] % a[4] == 0 && 2 * a[3] * (uint32_t)D * 4 <= c->max_shared,
             XF_ERR_UNSUPPORTED, "vulkan: no attention configuration for head_dim %d on %s (%u,%u,%u,%u,%u)", D,
             c->device_name, a[0], a[1], a[2], a[3], a[4]);
    uint32_t att[7] = {a[0], (uint32_t)D, a[1], a[2], a[3], a[4], 0};
    XF_TRY(vkx_pipeline(c, VKX_SH_ATTENTION, att, 7, &k->attention));
    /* Attention in the 16-bit modes (XFWD_VK_ATT=cm2|khr|scalar picks one; a kernel asked
     * for that the device or tile cannot run is an error, not a silent fallback):
     * - NV2 flash attention (attention_cm2.comp, the default where available): Br = 64 tokens
     *   of one head per workgroup, keys in blocks of Bc = 64 (XFWD_VK_ATT=cm2-smem: row
     *   factors through shared memory). Its matrices are Br×D, D×Bc, Br×Bc and Bc×D;
     * - KHR flash attention (attention_cmk.comp, on request): 16·NSG tokens of one head per
     *   workgroup (NSG = 4), keys in blocks of BC = 32, on 16×16×16 subgroup fragments; on
     *   the H100 slower than both others;
     * - else the scalar kernel with a 16-bit output. */
    int ask_cm2 = ov->att == VKX_ATT_PICK_CM2 || ov->att == VKX_ATT_PICK_CM2_SMEM, ask_khr = ov->att == VKX_ATT_PICK_KHR;
    int smem = ov->att == VKX_ATT_PICK_CM2_SMEM;
    const uint32_t bt[2] = {64, 64};
    uint32_t awg = 0;
    if (k->a16 && c->cm2[t16] && c->cm2_att && (ov->att == VKX_ATT_PICK_DEFAULT || ask_cm2)) {
        /* every matrix's rows must fit the M granularity (Br, D) and its columns and
         * inner dimension the N and K granularities (Bc, D) */
        uint32_t g = bt[1], d = (uint32_t)D, gm = bt[0];
        while (d) { uint32_t r = g % d; g = d; d = r; } /* g = gcd(Bc, D) */
        d = (uint32_t)D;
        while (d) { uint32_t r = gm % d; gm = d; d = r; } /* gm = gcd(Br, D) */
        awg = vkx_cm2_wg(c, t16, gm, g, g, 256);
    }
    XF_CHECK(!ask_cm2 || !k->a16 || awg, XF_ERR_UNSUPPORTED,
             "vulkan: XFWD_VK_ATT=cm2: no NV cooperative-matrix-2 attention for head_dim %d in this mode", D);
    const uint32_t kt[2] = {4, 32};
    uint32_t rs = (uint32_t)D / 8 + 1, kv_rows = 2 * kt[1] > 16 * kt[0] ? 2 * kt[1] : 16 * kt[0];
    uint32_t kshared = 16 * rs * kv_rows + 4 * 16 * kt[0] * kt[1] + 16 * 16 * kt[0] * (kt[1] / 8 + 1) +
                       4 * 16 * kt[0] + 4 * 256;
    int att_khr = ask_khr && k->a16 && c->khr[t16] && c->khr_m[t16] == 16 && c->khr_n[t16] == 16 &&
                  c->khr_k[t16] == 16 && c->subgroup_size == 32 && D % 16 == 0 && kt[0] >= 1 && kt[1] % 32 == 0 &&
                  kt[1] && 32 * kt[0] <= c->props.limits.maxComputeWorkGroupInvocations &&
                  kshared <= c->max_shared;
    XF_CHECK(!ask_khr || !k->a16 || att_khr, XF_ERR_UNSUPPORTED,
             "vulkan: XFWD_VK_ATT=khr: not available for head_dim %d with tile %u,%u (KHR 16x16x16 fragments, "
             "subgroups of 32 and %u bytes of shared memory needed)", D, kt[0], kt[1], kshared);
    if (awg) {
        XF_CHECK(bt[0] % 16 == 0 && bt[1] % 16 == 0 && bt[0] && bt[1] && bt[0] <= 256 && bt[1] <= 256,
                 XF_ERR_INVALID_ARG, "vulkan: bad attention tile %u,%u", bt[0], bt[1]);
        uint32_t sp[5] = {awg, (uint32_t)D, bt[0], bt[1], 1};
        vkx_shader sh = t16 ? VKX_SH_ATTENTION_CM2_BF16
                            : smem ? VKX_SH_ATTENTION_CM2R_F16 : VKX_SH_ATTENTION_CM2_F16;
        XF_TRY(vkx_pipeline(c, sh, sp, 5, &k->attention16));
        k->att16_br = bt[0];
        k->att16_name = smem ? "attention_cm2 (smem rows)" : "attention_cm2";
        /* the same writing its 16-bit output in the blocked layout the o multiply reads (k->cmbx)
         * and no fp32 output, staged through Br×D halves of shared memory */
        uint32_t stage = bt[0] * (uint32_t)D * 2;
        if (k->cmbx && !smem && D % 8 == 0 && k->blk_k % 8 == 0 && stage <= 16384) {
            uint32_t sb[9] = {awg, (uint32_t)D, bt[0], bt[1], 1, k->cm_bm, k->blk_k, 0, 0};
            XF_TRY(vkx_pipeline(c, sh, sb, 9, &k->attention16b));
            /* and reading q, k, v in 16 bits (qkrope16 writes them) */
            sb[8] = 1;
            XF_TRY(vkx_pipeline(c, sh, sb, 9, &k->attention16bi));
        }
    } else if (att_khr) {
        uint32_t sp[4] = {32 * kt[0], (uint32_t)D, kt[0], kt[1]};
        XF_TRY(vkx_pipeline(c, t16 ? VKX_SH_ATTENTION_CMK_BF16 : VKX_SH_ATTENTION_CMK_F16, sp, 4, &k->attention16));
        k->att16_br = 16 * kt[0];
        k->att16_name = "attention_cmk";
    } else if (k->a16) {
        att[6] = k->a16;
        XF_TRY(vkx_pipeline(c, VKX_SH_ATTENTION, att, 7, &k->attention16));
        k->att16_name = "attention (scalar, 16-bit copy)";
    }
    k->att_bt = a[0] / a[1];
    k->att_qpt = a[2];
    k->att_d = (uint32_t)D;
cleanup:
    if (st == XF_OK) vkx_cache_save(c); /* only writes when pipelines were compiled */
    return st;
}

int vkx_weight_kind(const vkx_weight *w) {
    return w->wt == VKX_WT_F32 ? VKX_W_F32 : w->blk_rows ? VKX_W_BLOCKED : VKX_W_ROWS;
}

void vkx_rec_linear(vkx_ctx *c, const vkx_kernels *k, int wkind, VkDescriptorSet s, const vkx_linear_pc *pc) {
    if (pc->M == 0 || pc->N == 0) return;
    int fp32_weights = wkind == VKX_W_F32;
    if (wkind == VKX_W_BLOCKED_X || wkind == VKX_W_BLOCKED_X16) { /* x written so only when k->cmbx exists */
        vkx_dispatch(c, wkind == VKX_W_BLOCKED_X16 ? k->cmbx16 : k->cmbx, s, pc, sizeof(*pc), div_up(pc->N, k->cm_bn),
                     div_up(pc->M, k->cm_bm));
        return;
    }
    if (wkind == VKX_W_BLOCKED) { /* only uploaded so when k->cmb_vec exists */
        int vec = pc->x_off % 8 == 0 && pc->ldx % 8 == 0;
        vkx_dispatch(c, vec ? k->cmb_vec : k->cmb_scalar, s, pc, sizeof(*pc), div_up(pc->N, k->cm_bn),
                     div_up(pc->M, k->cm_bm));
        return;
    }
    if (!fp32_weights && k->mm_vec) {
        int vec = pc->K % 8 == 0 && pc->ldw % 8 == 0 && pc->w_off % 8 == 0 && pc->x_off % 8 == 0 &&
                  pc->ldx % 8 == 0;
        vkx_dispatch(c, vec ? k->mm_vec : k->mm_scalar, s, pc, sizeof(*pc), div_up(pc->N, k->mm_bn),
                     div_up(pc->M, k->mm_bm));
        return;
    }
    if (!fp32_weights && k->cm_vec) {
        int vec = pc->K % 8 == 0 && pc->ldw % 8 == 0 && pc->w_off % 8 == 0 && pc->x_off % 8 == 0 &&
                  pc->ldx % 8 == 0;
        vkx_dispatch(c, vec ? k->cm_vec : k->cm_scalar, s, pc, sizeof(*pc), div_up(pc->N, k->cm_bn),
                     div_up(pc->M, k->cm_bm));
        return;
    }
    vkx_dispatch(c, fp32_weights ? k->linear_f32 : k->linear, s, pc, sizeof(*pc), div_up(pc->N, k->lin_bn),
                 div_up(pc->M, k->lin_bm));
}

void vkx_rec_glu(vkx_ctx *c, const vkx_kernels *k, VkDescriptorSet s, uint32_t M, uint32_t I, uint32_t K,
                 int blocked, int x_blocked, int y_blocked) {
    if (M == 0 || I == 0) return;
    /* KHR kernel: N = the 2·I interleaved rows; NV2 kernel: N = I, up rows from b_off = I */
    vkx_linear_pc pc = {.M = M, .N = k->glu_block ? 2 * I : I, .K = K, .ldx = K, .ldw = K, .ldy = I,
                        .b_off = k->glu_block ? 0 : I, .alpha = 1.0f, .mask_adapter = -1};
    int vec = K % 8 == 0;
    VkPipeline p = y_blocked ? k->glubxy
                   : x_blocked ? k->glubx
                   : blocked ? (vec ? k->glub_vec : k->glub_scalar)
                             : vec ? k->glu_vec : k->glu_scalar;
    vkx_dispatch(c, p, s, &pc, sizeof(pc), div_up(pc.N, k->glu_bn), div_up(M, k->glu_bm));
}

void vkx_rec_embed(vkx_ctx *c, const vkx_kernels *k, VkDescriptorSet s, uint32_t T, uint32_t H,
                   uint32_t row0, uint32_t nrows) {
    uint32_t pc[5] = {T, H, row0, nrows, H};
    vkx_dispatch_linear(c, k->embed, s, pc, sizeof(pc), T);
}

void vkx_rec_rmsnorm(vkx_ctx *c, const vkx_kernels *k, VkDescriptorSet s, uint32_t rows, uint32_t n,
                     uint32_t x_off, uint32_t x_ld, uint32_t y_off, uint32_t y_ld, float eps,
                     int has_w, vkx_norm_out out) {
    uint32_t pc[8] = {rows, n, x_off, x_ld, y_off, y_ld, 0, (has_w ? 1u : 0u) | (out == VKX_NORM_16BLK ? 2u : 0u)};
    memcpy(&pc[6], &eps, 4);
    VkPipeline p = out >= VKX_NORM_F32_16BLK ? k->rmsnorm16b : out == VKX_NORM_F32_16 ? k->rmsnorm16 : k->rmsnorm;
    vkx_dispatch_linear(c, p, s, pc, sizeof(pc), rows);
}

void vkx_rec_qkrope(vkx_ctx *c, const vkx_kernels *k, VkDescriptorSet s, uint32_t T, uint32_t nh,
                    uint32_t D, uint32_t x_off, uint32_t ld, int has_norm, float eps, int x16) {
    uint32_t pc[7] = {T, nh, D, x_off, ld, has_norm ? 1u : 0u, 0};
    memcpy(&pc[6], &eps, 4);
    vkx_dispatch_linear(c, x16 ? k->qkrope16 : k->qkrope, s, pc, sizeof(pc),
                        div_up((uint64_t)T * nh, 8)); /* 8 rows per workgroup */
}

/* offs_lds: q_off, q_ld, k_off, k_ld, v_off, v_ld, o_off, o_ld. */
void vkx_rec_attention(vkx_ctx *c, const vkx_kernels *k, VkDescriptorSet s, uint32_t T,
                       uint32_t nh, uint32_t nkv, const uint32_t offs_lds[8], vkx_att_io io, xf_attn_mask mask) {
    uint32_t pc[14] = {T, nh, nkv};
    memcpy(&pc[3], offs_lds, 8 * sizeof(uint32_t));
    float scale = 1.0f / sqrtf((float)k->att_d);
    memcpy(&pc[11], &scale, 4);
    pc[12] = mask.kind == XF_MASK_FULL ? 1u : 0u; /* the shaders' attn_keys (common.glsl) */
    pc[13] = mask.window > 0 ? (uint32_t)mask.window : 0u;
    if (io != VKX_ATT_F32 && k->att16_br)
        vkx_dispatch(c,
                     io == VKX_ATT_16IN_16BLK ? k->attention16bi
                     : io == VKX_ATT_16BLK    ? k->attention16b
                                              : k->attention16,
                     s, pc, sizeof(pc), div_up(T, k->att16_br), nh);
    else /* the scalar kernel: fp32 out, and the 16-bit copy beside it (io F32_16) */
        vkx_dispatch(c, io != VKX_ATT_F32 ? k->attention16 : k->attention, s, pc, sizeof(pc), div_up(T, k->att_bt),
                     nh / k->att_qpt);
}

/* offs_lds: g_off, g_ld, u_off, u_ld, o_off, o_ld. */
void vkx_rec_swiglu(vkx_ctx *c, const vkx_kernels *k, VkDescriptorSet s, uint32_t rows, uint32_t n,
                    const uint32_t offs_lds[6], int out16) {
    uint32_t pc[8] = {rows, n};
    memcpy(&pc[2], offs_lds, 6 * sizeof(uint32_t));
    vkx_dispatch_linear(c, out16 ? k->swiglu16 : k->swiglu, s, pc, sizeof(pc),
                        div_up((uint64_t)rows * (out16 ? n / 2 : n), 256));
}

void vkx_rec_pool(vkx_ctx *c, const vkx_kernels *k, VkDescriptorSet s, uint32_t B, uint32_t H,
                  uint32_t h_ld, uint32_t kind, uint32_t normalize) {
    uint32_t pc[5] = {B, H, h_ld, kind, normalize};
    vkx_dispatch_linear(c, k->pool, s, pc, sizeof(pc), B);
}
