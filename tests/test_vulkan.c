/* test_vulkan.c — what the golden cases do not reach in the Vulkan backend:
 *  - per-sequence adapters: a batch mixing "adapter" and "none" sequences equals
 *    each sequence run alone (the row mask of the unmerged LoRA path);
 *  - chunking: max_tokens smaller than the batch (several submissions) and
 *    smaller than one sequence (activations made again) give the same numbers;
 *  - the pipeline cache file appears in cache_dir and a second engine starts from it;
 *  - the attention masks (full, sliding windows) on every attention kernel the device
 *    offers, against the CPU reference;
 *  - --expect-no-device: with no Vulkan driver (ctest points the loader at a
 *    missing manifest) engine creation fails with XF_ERR_NO_DEVICE and a message.
 *   test_vulkan GOLDEN_DIR [--expect-no-device]
 * Exit 0 pass, 1 fail, 77 skipped (no device when one is expected). */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static int failures, checks; /* counted by XT_EXPECT */

static xf_status make_engine(const xf_model *m, int max_tokens, const xf_adapter *const *ads, int n,
                             const char *cache_dir, xf_engine **e) {
    xf_engine_options o;
    xf_engine_options_init(&o);
    o.backend = XF_BACKEND_VULKAN;
    o.dtype = XF_DTYPE_F32;
    o.max_tokens = max_tokens;
    o.adapters = ads;
    o.n_adapters = n;
    o.cache_dir = cache_dir;
    return xf_engine_create(m, &o, e);
}

/* Number of vulkan-*.bin files in dir. */
static int cache_files(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    if (!d) return 0;
    for (struct dirent *en; (en = readdir(d));) n += !strncmp(en->d_name, "vulkan-", 7);
    closedir(d);
    return n;
}

static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    char path[4096];
    if (d) {
        for (struct dirent *en; (en = readdir(d));)
            if (en->d_name[0] != '.') {
                snprintf(path, sizeof path, "%s/%s", dir, en->d_name);
                remove(path);
            }
        closedir(d);
    }
    rmdir(dir);
}

/* The attention masks end to end: xt_mask_case's model and batch, Vulkan vs the CPU
 * reference in every mode and, in the 16-bit modes, on every attention kernel (XFWD_VK_ATT;
 * one the device cannot run is reported skipped). */
static void test_masks(const char *dir) {
    static const char *const kernels[] = {NULL, "scalar", "khr", "cm2", "cm2-smem"};
    for (int k = 0; k < XT_N_MASKS; k++) {
        xt_mask_case mc;
        XT_EXPECT(!xt_mask_case_open(dir, k, &mc), "mask case %s", xt_masks[k]);
        if (!mc.model) return;
        const xf_dtype modes[3] = {XF_DTYPE_F32, XF_DTYPE_F16, XF_DTYPE_BF16};
        for (int d = 0; d < 3; d++)
            for (int v = 0; v < (modes[d] == XF_DTYPE_F32 ? 1 : 5); v++) {
                char what[128];
                xf_status st;
                snprintf(what, sizeof what, "%s %s, attention %s vs cpu_ref", mc.mask, xt_dtype_name(modes[d]),
                         kernels[v] ? kernels[v] : "default");
                if (kernels[v]) setenv("XFWD_VK_ATT", kernels[v], 1);
                else unsetenv("XFWD_VK_ATT");
                float *out = xt_engine_hidden(mc.model, XF_BACKEND_VULKAN, modes[d], mc.tokens, mc.seq_lens,
                                              mc.n_seqs, &st);
                if (!out && st == XF_ERR_UNSUPPORTED && kernels[v]) {
                    printf("  %-64s skipped (not on this device)\n", what);
                    continue;
                }
                XT_EXPECT(out != NULL, "%s: %s", what, xf_last_error());
                if (!out) continue;
                const int64_t T = mc.n_tokens, H = mc.hidden;
                double err = xt_rel_err(out, mc.ref, T * H), cos = xt_min_row_cos(out, mc.ref, T, H);
                printf("  %-64s rel err %.3e, min row cosine %.6f\n", what, err, cos);
                XT_EXPECT(err <= xt_tolerance(modes[d]) && (modes[d] == XF_DTYPE_F32 || cos >= 0.999),
                          "%s: rel err %.3e, min row cosine %.6f", what, err, cos);
                free(out);
            }
        unsetenv("XFWD_VK_ATT");
        xt_mask_case_close(&mc);
    }
}

int main(int argc, char **argv) {
    if (argc < 2) return fprintf(stderr, "usage: test_vulkan GOLDEN_DIR [--expect-no-device]\n"), 2;
    char path[4096];
    xf_model *m = NULL;
    xf_adapter *ad = NULL;
    xf_engine *e = NULL, *e2 = NULL;
    float *all = NULL, *one = NULL;
    char cache[] = "/tmp/xfwd-vk-test-XXXXXX";
    int have_cache = mkdtemp(cache) != NULL;

    snprintf(path, sizeof path, "%s/qwen3-tiny-lora-qv", argv[1]);
    if (xf_model_open(path, &m) != XF_OK) return printf("FAIL: %s\n", xf_last_error()), 1;

    if (argc > 2 && !strcmp(argv[2], "--expect-no-device")) {
        xf_status st = make_engine(m, 0, NULL, 0, have_cache ? cache : NULL, &e);
        XT_EXPECT(st == XF_ERR_NO_DEVICE, "no driver: status %s, want XF_ERR_NO_DEVICE", xf_status_name(st));
        XT_EXPECT(strstr(xf_last_error(), "vulkan") != NULL, "no driver: message '%s'", xf_last_error());
        XT_EXPECT(e == NULL, "no driver: an engine was returned");
        printf("no device: %s\n", xf_last_error());
        goto done;
    }

    snprintf(path, sizeof path, "%s/qwen3-tiny-lora-qv/adapter", argv[1]);
    if (xf_adapter_open(m, path, &ad) != XF_OK) {
        printf("FAIL: %s\n", xf_last_error());
        failures++;
        goto done;
    }
    xf_model_info info;
    xf_model_get_info(m, &info);
    const int H = info.hidden_size;
    /* 4 sequences, 87 tokens; adapters 0, none, 0, none */
    const int32_t lens[4] = {7, 20, 40, 20}, ids[4] = {0, -1, 0, -1};
    int32_t tokens[87];
    for (int i = 0; i < 87; i++) tokens[i] = (i * 37 + 11) % info.vocab_size;
    all = calloc((size_t)87 * H, sizeof(float));
    one = calloc((size_t)87 * H, sizeof(float));
    if (!all || !one) {
        failures++;
        goto done;
    }
    const xf_adapter *ads[1] = {ad};
    xf_status st = make_engine(m, 0, ads, 1, have_cache ? cache : NULL, &e);
    if (st == XF_ERR_NO_DEVICE) {
        printf("skipped: %s\n", xf_last_error());
        xf_engine_free(e), xf_adapter_free(ad), xf_model_free(m);
        if (have_cache) remove_dir(cache);
        return XT_SKIP;
    }
    XT_EXPECT(st == XF_OK, "engine: %s", xf_last_error());
    if (st != XF_OK) goto done;
    XT_EXPECT(!have_cache || cache_files(cache) == 1, "pipeline cache: %d files in %s", cache_files(cache), cache);

    /* mixed batch vs each sequence alone */
    xf_batch b = {.tokens = tokens, .seq_lens = lens, .n_seqs = 4, .adapter_ids = ids};
    XT_EXPECT(xf_engine_hidden(e, &b, all) == XF_OK, "mixed batch: %s", xf_last_error());
    for (int s = 0, t0 = 0; s < 4; t0 += lens[s], s++) {
        xf_batch bs = {.tokens = tokens + t0, .seq_lens = &lens[s], .n_seqs = 1, .adapter_ids = &ids[s]};
        XT_EXPECT(xf_engine_hidden(e, &bs, one + (size_t)t0 * H) == XF_OK, "sequence %d: %s", s, xf_last_error());
    }
    double err = xt_rel_err(all, one, (int64_t)87 * H);
    printf("  mixed adapters vs one by one: rel err %.3e\n", err);
    XT_EXPECT(err <= 1e-6, "mixed adapters differ from one-by-one runs: %.3e", err);
    /* the adapter changes what it is applied to */
    int32_t none[4] = {-1, -1, -1, -1};
    xf_batch bn = {.tokens = tokens, .seq_lens = lens, .n_seqs = 4, .adapter_ids = none};
    XT_EXPECT(xf_engine_hidden(e, &bn, one) == XF_OK, "no adapters: %s", xf_last_error());
    double d0 = xt_rel_err(one, all, 7 * H), d1 = xt_rel_err(one + 7 * H, all + 7 * H, 20 * H);
    XT_EXPECT(d0 > 1e-3 && d1 <= 1e-6, "adapter 0 on sequence 0 only: diffs %.3e, %.3e", d0, d1);

    /* chunking: 16 tokens per submission (the 40-token sequence needs bigger buffers) */
    XT_EXPECT(make_engine(m, 16, ads, 1, have_cache ? cache : NULL, &e2) == XF_OK, "small engine: %s",
           xf_last_error());
    if (e2) {
        memset(one, 0, (size_t)87 * H * sizeof(float));
        XT_EXPECT(xf_engine_hidden(e2, &b, one) == XF_OK, "chunked: %s", xf_last_error());
        err = xt_rel_err(one, all, (int64_t)87 * H);
        printf("  max_tokens 16 vs one submission: rel err %.3e\n", err);
        XT_EXPECT(err <= 1e-6, "chunked forward differs: %.3e", err);
    }
    XT_EXPECT(!have_cache || cache_files(cache) == 1, "pipeline cache: %d files after a second engine",
           cache_files(cache));
    test_masks(argv[1]);

done:
    xf_engine_free(e);
    xf_engine_free(e2);
    xf_adapter_free(ad);
    xf_model_free(m);
    free(all);
    free(one);
    if (have_cache) remove_dir(cache);
    printf("%s: %d checks, %d failed\n", failures ? "FAIL" : "PASS", checks, failures);
    return failures ? 1 : 0;
}
