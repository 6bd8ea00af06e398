/* dnnl_matmul.c — bf16 linear layers on the CPU through oneDNN's matmul primitive
 * (dnnl_matmul.h). The weights are described to oneDNN exactly as stored: W [out, in]
 * row-major is the matmul's B [in, out] with strides (1, in), so no copy of them is
 * ever kept; oneDNN packs the panels it needs into its scratchpad per call. One
 * primitive per shape (T, in, out, bias, accumulate) is made on first use and kept:
 * a forward reuses a handful of shapes across all of its layers.
 * Threads: oneDNN here runs on OpenMP, with the calling thread's omp_get_max_threads(). */
#include <stdlib.h>
#include <string.h>

#include "../error.h"
#include "dnnl_matmul.h"

void xf_mm_to_bf16(const float *x, uint16_t *y, int64_t n) {
    /* the rounding of xf_f32_to_bf16, written so that the compiler vectorises it */
#pragma omp parallel for simd schedule(static) if (n >= (1 << 16))
    for (int64_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &x[i], 4);
        const uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
        const uint32_t nan = (u >> 16) | 0x40u;
        y[i] = (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? nan : rounded);
    }
}

#ifndef XFWD_HAVE_DNNL

xf_status xf_mm_create(int bf16, xf_mm **out) {
    (void)bf16;
    *out = NULL;
    return xf_error(XF_ERR_UNSUPPORTED, "bf16 on the CPU needs oneDNN (libdnnl-dev), which this xfwd was built without: "
                                        "use --dtype f32");
}
void xf_mm_free(xf_mm *mm) { (void)mm; }
xf_status xf_mm_linear_bf16(xf_mm *mm, const float *x, const uint16_t *W, const float *bias, float *y, int64_t T,
                            int in, int out, int accumulate) {
    (void)mm, (void)x, (void)W, (void)bias, (void)y, (void)T, (void)in, (void)out, (void)accumulate;
    return xf_error(XF_ERR_INTERNAL, "bf16 linear called without oneDNN");
}
xf_status xf_mm_linear_f32(xf_mm *mm, const float *x, const float *W, const float *bias, float *y, int64_t T, int in,
                           int out, int accumulate) {
    (void)mm, (void)x, (void)W, (void)bias, (void)y, (void)T, (void)in, (void)out, (void)accumulate;
    return xf_error(XF_ERR_INTERNAL, "oneDNN linear called without oneDNN");
}
int xf_mm_bf16_native(void) { return 0; }

#else

#include <oneapi/dnnl/dnnl.h>

/* shapes kept: a forward needs about 6 per token count (T); a new T costs about 3 ms of
 * kernel generation per shape (oneDNN 2.6, brgemm), so many T values are kept */
enum { MM_CACHE = 128 };

typedef struct mm_entry {
    int64_t T;
    int32_t in, out, bias, acc, bf16;
    dnnl_primitive_t prim;      /* NULL: free slot */
    size_t scratch_bytes;
} mm_entry;

struct xf_mm {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    mm_entry cache[MM_CACHE];
    int next_evict;             /* round-robin victim once the cache is full */
    void *xb;                   /* bf16 copy of the current input x, [xb_cap] bytes */
    size_t xb_cap;
    void *scratch;              /* oneDNN's scratchpad (user-managed), [scratch_cap] bytes */
    size_t scratch_cap;
};

static xf_status dnnl_fail(dnnl_status_t s, const char *what) {
    if (s == dnnl_unimplemented)
        return xf_error(XF_ERR_UNSUPPORTED, "oneDNN has no bf16 matmul for this CPU (%s): use --dtype f32", what);
    if (s == dnnl_out_of_memory) return xf_error(XF_ERR_NO_MEMORY, "oneDNN: out of memory (%s)", what);
    return xf_error(XF_ERR_INTERNAL, "oneDNN: %s failed (status %d)", what, (int)s);
}

#define DN_TRY(call, what)                              \
    do {                                                \
        dnnl_status_t s_ = (call);                      \
        if (s_ != dnnl_success) {                       \
            st = dnnl_fail(s_, what);                   \
            goto cleanup;                               \
        }                                               \
    } while (0)

/* Makes the primitive of one shape: src [T, in] and weights [in, out] with strides
 * (1, in) (W as stored) both bf16 or both f32, bias f32 [1, out], dst f32 [T, out]
 * (+ sum post-op). */
static xf_status make_primitive(xf_mm *mm, mm_entry *e) {
    xf_status st = XF_OK;
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_memory_desc_t src, wei, bia, dst;
    dnnl_dims_t sd = {e->T, e->in}, ss = {e->in, 1};
    dnnl_dims_t wd = {e->in, e->out}, ws = {1, e->in};
    dnnl_dims_t bd = {1, e->out}, bs = {e->out, 1};
    dnnl_dims_t dd = {e->T, e->out}, ds = {e->out, 1};
    const dnnl_data_type_t in_type = e->bf16 ? dnnl_bf16 : dnnl_f32;
    DN_TRY(dnnl_memory_desc_init_by_strides(&src, 2, sd, in_type, ss), "source descriptor");
    DN_TRY(dnnl_memory_desc_init_by_strides(&wei, 2, wd, in_type, ws), "weights descriptor");
    DN_TRY(dnnl_memory_desc_init_by_strides(&bia, 2, bd, dnnl_f32, bs), "bias descriptor");
    DN_TRY(dnnl_memory_desc_init_by_strides(&dst, 2, dd, dnnl_f32, ds), "destination descriptor");
    dnnl_matmul_desc_t md;
    DN_TRY(dnnl_matmul_desc_init(&md, &src, &wei, e->bias ? &bia : NULL, &dst), "matmul descriptor");
    DN_TRY(dnnl_primitive_attr_create(&attr), "attributes");
    DN_TRY(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "scratchpad mode");
    if (e->acc) {
        DN_TRY(dnnl_post_ops_create(&po), "post-ops");
        DN_TRY(dnnl_post_ops_append_sum(po, 1.0f), "sum post-op");
        DN_TRY(dnnl_primitive_attr_set_post_ops(attr, po), "post-ops");
    }
    DN_TRY(dnnl_primitive_desc_create(&pd, &md, attr, mm->engine, NULL), e->bf16 ? "bf16 matmul" : "f32 matmul");
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    e->scratch_bytes = sp ? dnnl_memory_desc_get_size(sp) : 0;
    DN_TRY(dnnl_primitive_create(&e->prim, pd), "matmul primitive");
cleanup:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (po) dnnl_post_ops_destroy(po);
    if (attr) dnnl_primitive_attr_destroy(attr);
    return st;
}

/* The cached primitive of this shape, made on first use. */
static xf_status get_primitive(xf_mm *mm, int64_t T, int in, int out, int bias, int acc, int bf16, mm_entry **got) {
    for (int i = 0; i < MM_CACHE; i++) {
        mm_entry *e = &mm->cache[i];
        if (e->prim && e->T == T && e->in == in && e->out == out && e->bias == bias && e->acc == acc &&
            e->bf16 == bf16) {
            *got = e;
            return XF_OK;
        }
    }
    mm_entry *slot = NULL;
    for (int i = 0; i < MM_CACHE && !slot; i++)
        if (!mm->cache[i].prim) slot = &mm->cache[i];
    if (!slot) {
        slot = &mm->cache[mm->next_evict];
        mm->next_evict = (mm->next_evict + 1) % MM_CACHE;
        dnnl_primitive_destroy(slot->prim);
    }
    *slot = (mm_entry){.T = T, .in = in, .out = out, .bias = bias, .acc = acc, .bf16 = bf16};
    xf_status st = make_primitive(mm, slot);
    if (st != XF_OK) {
        slot->prim = NULL;
        return st;
    }
    *got = slot;
    return XF_OK;
}

void xf_mm_free(xf_mm *mm) {
    if (!mm) return;
    for (int i = 0; i < MM_CACHE; i++)
        if (mm->cache[i].prim) dnnl_primitive_destroy(mm->cache[i].prim);
    if (mm->stream) dnnl_stream_destroy(mm->stream);
    if (mm->engine) dnnl_engine_destroy(mm->engine);
    free(mm->xb);
    free(mm->scratch);
    free(mm);
}

xf_status xf_mm_create(int bf16, xf_mm **out) {
    xf_status st = XF_OK;
    xf_mm *mm = NULL;
    *out = NULL;
    XF_ALLOC(mm, 1);
    DN_TRY(dnnl_engine_create(&mm->engine, dnnl_cpu, 0), "CPU engine");
    DN_TRY(dnnl_stream_create(&mm->stream, mm->engine, dnnl_stream_default_flags), "CPU stream");
    /* a small shape now, so that a CPU oneDNN cannot serve is refused at engine creation */
    mm_entry *probe;
    XF_TRY(get_primitive(mm, 4, 64, 64, 1, 1, bf16 != 0, &probe));
    *out = mm;
    mm = NULL;
cleanup:
    xf_mm_free(mm);
    return st;
}

static xf_status grow(void **p, size_t *cap, size_t need) {
    if (need <= *cap) return XF_OK;
    free(*p);
    /* 64-byte aligned: oneDNN reads whole cache lines */
    size_t bytes = (need + 63) / 64 * 64;
    *p = aligned_alloc(64, bytes);
    *cap = *p ? bytes : 0;
    return *p ? XF_OK : xf_error(XF_ERR_NO_MEMORY, "out of host memory for %zu bytes of matmul scratch", need);
}

/* y (+)= x · Wᵀ + bias with W bf16 (x rounded to bf16) or f32 (x as it is). */
static xf_status linear(xf_mm *mm, const float *x, const void *W, int bf16, const float *bias, float *y, int64_t T,
                        int in, int out, int accumulate) {
    xf_status st = XF_OK;
    dnnl_memory_t m_src = NULL, m_wei = NULL, m_bia = NULL, m_dst = NULL, m_scr = NULL;
    if (T <= 0 || out <= 0) return XF_OK;
    mm_entry *e;
    XF_TRY(get_primitive(mm, T, in, out, bias != NULL, accumulate, bf16, &e));
    XF_TRY(grow(&mm->scratch, &mm->scratch_cap, e->scratch_bytes ? e->scratch_bytes : 1));
    void *src = (void *)x;
    if (bf16) {
        XF_TRY(grow(&mm->xb, &mm->xb_cap, sizeof(uint16_t) * (size_t)(T * in)));
        xf_mm_to_bf16(x, mm->xb, T * in);
        src = mm->xb;
    }

    const_dnnl_primitive_desc_t pd;
    DN_TRY(dnnl_primitive_get_primitive_desc(e->prim, &pd), "primitive descriptor");
    const dnnl_memory_desc_t *md_src = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *md_wei = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *md_bia = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
    const dnnl_memory_desc_t *md_dst = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const dnnl_memory_desc_t *md_scr = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    DN_TRY(dnnl_memory_create(&m_src, md_src, mm->engine, src), "source memory");
    DN_TRY(dnnl_memory_create(&m_wei, md_wei, mm->engine, (void *)W), "weights memory");
    DN_TRY(dnnl_memory_create(&m_dst, md_dst, mm->engine, y), "destination memory");
    DN_TRY(dnnl_memory_create(&m_scr, md_scr, mm->engine, mm->scratch), "scratchpad memory");
    dnnl_exec_arg_t args[5] = {
        {DNNL_ARG_SRC, m_src}, {DNNL_ARG_WEIGHTS, m_wei}, {DNNL_ARG_DST, m_dst}, {DNNL_ARG_SCRATCHPAD, m_scr}};
    int n_args = 4;
    if (bias) {
        DN_TRY(dnnl_memory_create(&m_bia, md_bia, mm->engine, (void *)bias), "bias memory");
        args[n_args++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, m_bia};
    }
    DN_TRY(dnnl_primitive_execute(e->prim, mm->stream, n_args, args), "matmul");
    DN_TRY(dnnl_stream_wait(mm->stream), "stream wait");
cleanup:
    if (m_src) dnnl_memory_destroy(m_src);
    if (m_wei) dnnl_memory_destroy(m_wei);
    if (m_bia) dnnl_memory_destroy(m_bia);
    if (m_dst) dnnl_memory_destroy(m_dst);
    if (m_scr) dnnl_memory_destroy(m_scr);
    return st;
}

xf_status xf_mm_linear_bf16(xf_mm *mm, const float *x, const uint16_t *W, const float *bias, float *y, int64_t T,
                            int in, int out, int accumulate) {
    return linear(mm, x, W, 1, bias, y, T, in, out, accumulate);
}

xf_status xf_mm_linear_f32(xf_mm *mm, const float *x, const float *W, const float *bias, float *y, int64_t T, int in,
                           int out, int accumulate) {
    return linear(mm, x, W, 0, bias, y, T, in, out, accumulate);
}

int xf_mm_bf16_native(void) {
    /* oneDNN's view of the CPU (it honours ONEDNN_MAX_CPU_ISA): an ISA that includes
     * avx512_core_bf16 (AMX ones do) */
    const unsigned isa = (unsigned)dnnl_get_effective_cpu_isa(), bf16 = (unsigned)dnnl_cpu_isa_avx512_core_bf16;
    return (isa & bf16) == bf16;
}

#endif /* XFWD_HAVE_DNNL */
