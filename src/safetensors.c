/* safetensors.c — reads a safetensors file: 8-byte little-endian header length,
 * a JSON header {name: {dtype, shape, data_offsets}}, then the data block.
 * The file is memory-mapped read-only; nothing is copied except tensors whose
 * offsets are not aligned to their element size. Every lie a header can tell
 * (lengths, offsets, shapes, dtypes) is refused with a message.
 *
 * A file that shrinks while mapped (rewritten in place during a run) would make
 * reads of the lost pages raise SIGBUS. The descriptor stays open and
 * xf_st_check compares the file's size with the mapping's: at open, and before
 * every use (engine creation, which copies the weights, and every forward; see
 * engine.c), so a shrunk file is an error naming it. A shrink in the middle of a
 * forward that reads the mapping directly is not caught: write new checkpoints
 * beside the old and rename them into place. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"
#include "safetensors.h"

struct xf_st_file {
    char *path;
    void *map;
    size_t map_size;
    int fd;                 /* kept open for xf_st_check */
    xf_st_entry *entries;   /* [n] sorted by name */
    int n;
    void **copies;          /* realigned tensors */
    int n_copies;
};

static const struct {
    const char *name;
    xf_st_dtype dtype;
    int size;
} dtype_table[] = {
    {"F32", XF_ST_F32, 4},   {"BF16", XF_ST_BF16, 2}, {"F16", XF_ST_F16, 2},
    {"F64", XF_ST_F64, 8},   {"I64", XF_ST_I64, 8},   {"I32", XF_ST_I32, 4},
    {"I16", XF_ST_I16, 2},   {"I8", XF_ST_I8, 1},     {"U8", XF_ST_U8, 1},
    {"BOOL", XF_ST_BOOL, 1}, {"F8_E4M3", XF_ST_F8, 1}, {"F8_E5M2", XF_ST_F8, 1},
    {"U16", XF_ST_I16, 2},   {"U32", XF_ST_I32, 4},   {"U64", XF_ST_I64, 8},
};

const char *xf_st_dtype_name(xf_st_dtype d) {
    for (size_t i = 0; i < sizeof dtype_table / sizeof dtype_table[0]; i++)
        if (dtype_table[i].dtype == d) return dtype_table[i].name;
    return "?";
}

static int entry_cmp(const void *a, const void *b) {
    return strcmp(((const xf_st_entry *)a)->name, ((const xf_st_entry *)b)->name);
}

void xf_st_close(xf_st_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n; i++) free(f->entries[i].name);
    free(f->entries);
    for (int i = 0; i < f->n_copies; i++) free(f->copies[i]);
    free(f->copies);
    if (f->map && f->map != MAP_FAILED) munmap(f->map, f->map_size);
    if (f->fd >= 0) close(f->fd);
    free(f->path);
    free(f);
}

/* Parses one header entry into e. */
static xf_status parse_entry(xf_st_file *f, const char *name, json_t *v, const uint8_t *data,
                             uint64_t data_size, xf_st_entry *e) {
    xf_status st = XF_OK;
    json_t *jd = json_object_get(v, "dtype");
    json_t *js = json_object_get(v, "shape");
    json_t *jo = json_object_get(v, "data_offsets");
    XF_CHECK(json_is_object(v) && json_is_string(jd) && json_is_array(js) && json_is_array(jo) &&
                 json_array_size(jo) == 2,
             XF_ERR_FORMAT, "%s: header entry '%s' lacks dtype, shape or data_offsets", f->path, name);
    const char *ds = json_string_value(jd);
    int esize = 0;
    for (size_t i = 0; i < sizeof dtype_table / sizeof dtype_table[0]; i++)
        if (!strcmp(ds, dtype_table[i].name)) e->dtype = dtype_table[i].dtype, esize = dtype_table[i].size;
    XF_CHECK(esize > 0, XF_ERR_FORMAT, "%s: tensor '%s' has unknown dtype '%s'", f->path, name, ds);
    size_t nd = json_array_size(js);
    XF_CHECK(nd <= 8, XF_ERR_FORMAT, "%s: tensor '%s' has %zu dimensions (at most 8)", f->path, name, nd);
    e->ndim = (int32_t)nd;
    int64_t numel = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        XF_CHECK(json_is_integer(d) && json_integer_value(d) >= 0 && json_integer_value(d) < ((int64_t)1 << 40),
                 XF_ERR_FORMAT, "%s: tensor '%s' has an invalid shape", f->path, name);
        e->shape[i] = json_integer_value(d);
        XF_CHECK(e->shape[i] == 0 || numel <= ((int64_t)1 << 50) / e->shape[i], XF_ERR_FORMAT,
                 "%s: tensor '%s' is impossibly large", f->path, name);
        numel *= e->shape[i];
    }
    e->numel = numel;
    json_t *b = json_array_get(jo, 0), *en = json_array_get(jo, 1);
    XF_CHECK(json_is_integer(b) && json_is_integer(en), XF_ERR_FORMAT,
             "%s: tensor '%s' has non-integer data_offsets", f->path, name);
    json_int_t begin = json_integer_value(b), end = json_integer_value(en);
    XF_CHECK(begin >= 0 && end >= begin && (uint64_t)end <= data_size, XF_ERR_FORMAT,
             "%s: tensor '%s' has data_offsets [%lld, %lld] outside the data block of %llu bytes", f->path,
             name, (long long)begin, (long long)end, (unsigned long long)data_size);
    XF_CHECK((uint64_t)(end - begin) == (uint64_t)numel * (uint64_t)esize, XF_ERR_FORMAT,
             "%s: tensor '%s' has %lld bytes but its shape and dtype %s need %lld", f->path, name,
             (long long)(end - begin), ds, (long long)(numel * esize));
    e->nbytes = (size_t)(end - begin);
    e->data = data + begin;
    if (((uintptr_t)e->data % (uintptr_t)esize) != 0) {
        void *copy = malloc(e->nbytes ? e->nbytes : 1);
        void **grown = realloc(f->copies, sizeof(void *) * (size_t)(f->n_copies + 1));
        if (!copy || !grown) {
            free(copy);
            if (grown) f->copies = grown;
            return xf_error(XF_ERR_NO_MEMORY, "%s: out of memory", f->path);
        }
        f->copies = grown;
        memcpy(copy, e->data, e->nbytes);
        f->copies[f->n_copies++] = copy;
        e->data = copy;
    }
cleanup:
    return st;
}

xf_status xf_st_open(const char *path, xf_st_file **out) {
    xf_status st = XF_OK;
    xf_st_file *f = NULL;
    json_t *root = NULL;
    int fd = -1;
    *out = NULL;
    XF_ALLOC(f, 1);
    f->fd = -1;
    f->path = strdup(path);
    XF_CHECK(f->path, XF_ERR_NO_MEMORY, "out of memory");
    fd = open(path, O_RDONLY | O_CLOEXEC);
    XF_CHECK(fd >= 0, XF_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    XF_CHECK(fstat(fd, &sb) == 0, XF_ERR_IO, "%s: cannot stat: %s", path, strerror(errno));
    XF_CHECK(S_ISREG(sb.st_mode), XF_ERR_IO, "%s: not a regular file", path);
    XF_CHECK(sb.st_size >= 8, XF_ERR_FORMAT, "%s: truncated safetensors file (%lld bytes, no header)",
             path, (long long)sb.st_size);
    f->map_size = (size_t)sb.st_size;
    f->map = mmap(NULL, f->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    XF_CHECK(f->map != MAP_FAILED, XF_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    const uint8_t *bytes = f->map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | bytes[i];
    XF_CHECK(hlen >= 2 && hlen <= (uint64_t)sb.st_size - 8 && hlen <= 100u * 1024 * 1024, XF_ERR_FORMAT,
             "%s: safetensors header length %llu does not fit a file of %lld bytes", path,
             (unsigned long long)hlen, (long long)sb.st_size);
    json_error_t jerr;
    root = json_loadb((const char *)bytes + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    XF_CHECK(root, XF_ERR_FORMAT, "%s: safetensors header is not valid JSON: %s", path, jerr.text);
    XF_CHECK(json_is_object(root), XF_ERR_FORMAT, "%s: safetensors header is not a JSON object", path);
    const uint8_t *data = bytes + 8 + hlen;
    uint64_t data_size = (uint64_t)sb.st_size - 8 - hlen;
    XF_ALLOC(f->entries, json_object_size(root));
    const char *name;
    json_t *v;
    json_object_foreach(root, name, v) {
        if (!strcmp(name, "__metadata__")) continue;
        xf_st_entry *e = &f->entries[f->n];
        e->name = strdup(name);
        XF_CHECK(e->name, XF_ERR_NO_MEMORY, "out of memory");
        f->n++;
        XF_TRY(parse_entry(f, name, v, data, data_size, e));
    }
    qsort(f->entries, (size_t)f->n, sizeof *f->entries, entry_cmp);
    f->fd = fd;
    fd = -1;
    XF_TRY(xf_st_check(f));  /* the header was read from the mapping: still all there? */
    *out = f;
    f = NULL;
cleanup:
    if (fd >= 0) close(fd);
    json_decref(root);
    xf_st_close(f);
    return st;
}

const xf_st_entry *xf_st_find(const xf_st_file *f, const char *name) {
    xf_st_entry key = {.name = (char *)name};
    return bsearch(&key, f->entries, (size_t)f->n, sizeof *f->entries, entry_cmp);
}

int xf_st_count(const xf_st_file *f) { return f->n; }
const xf_st_entry *xf_st_entry_at(const xf_st_file *f, int i) { return &f->entries[i]; }
const char *xf_st_path(const xf_st_file *f) { return f->path; }
size_t xf_st_mapped_bytes(const xf_st_file *f) { return f->map_size; }

xf_status xf_st_check(const xf_st_file *f) {
    struct stat sb;
    if (!f || f->fd < 0) return XF_OK;
    if (fstat(f->fd, &sb) != 0)
        return xf_error(XF_ERR_IO, "%s: cannot stat: %s", f->path, strerror(errno));
    if ((uint64_t)sb.st_size < (uint64_t)f->map_size)
        return xf_error(XF_ERR_IO,
                        "%s: the file shrank from %zu to %lld bytes while mapped (rewritten during the run?); "
                        "its tensors can no longer be read",
                        f->path, f->map_size, (long long)sb.st_size);
    return XF_OK;
}
