/* safetensors.h — a validated, memory-mapped safetensors file. Every entry's
 * offsets are checked against the file and against its dtype and shape. */
#ifndef XF_SAFETENSORS_H
#define XF_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "xfwd.h"

/* The float types match xf_wtype (model.h); the rest are carried for inputs like I32 tokens. */
typedef enum xf_st_dtype {
    XF_ST_F32 = 0, XF_ST_BF16 = 1, XF_ST_F16 = 2,
    XF_ST_F64, XF_ST_I64, XF_ST_I32, XF_ST_I16, XF_ST_I8, XF_ST_U8, XF_ST_BOOL, XF_ST_F8
} xf_st_dtype;

typedef struct xf_st_entry {
    char *name;
    xf_st_dtype dtype;
    int32_t ndim;
    int64_t shape[8];
    int64_t numel;
    const void *data;   /* aligned to the element size (copied if the file's was not) */
    size_t nbytes;
} xf_st_entry;

typedef struct xf_st_file xf_st_file;

xf_status xf_st_open(const char *path, xf_st_file **out);
void xf_st_close(xf_st_file *f);
const xf_st_entry *xf_st_find(const xf_st_file *f, const char *name);
int xf_st_count(const xf_st_file *f);
const xf_st_entry *xf_st_entry_at(const xf_st_file *f, int i);
const char *xf_st_path(const xf_st_file *f);
const char *xf_st_dtype_name(xf_st_dtype d);
/* XF_ERR_IO naming the file when it is now shorter than the mapping (reading
 * the lost pages would raise SIGBUS); XF_OK otherwise. Cheap: one fstat. */
xf_status xf_st_check(const xf_st_file *f);
/* Bytes the file maps (for memory accounting). */
size_t xf_st_mapped_bytes(const xf_st_file *f);

#endif /* XF_SAFETENSORS_H */
