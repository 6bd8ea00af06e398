/* keep_mapped.c — linked into every executable of the sanitizer build (never into
 * the library or a release build): a dlclose that keeps the library mapped.
 *
 * The Vulkan loader unloads the driver at vkDestroyInstance. A driver block still
 * reached through the driver's own globals then becomes unreachable, and because
 * the driver's code is gone LeakSanitizer reports it from an "unknown module",
 * which no library-name suppression in tests/lsan.supp can match — on some
 * machines and not others. With the driver kept mapped its globals stay roots
 * and its frames stay named, so the run is the same on every machine. The
 * executable's definition comes first in symbol lookup, ahead of libc's and of
 * the sanitizer runtime's interceptor; nothing of xfwd's own is suppressed
 * (tests/leak_canary.c checks that a leak of ours still fails the run). */

int dlclose(void *handle);

int dlclose(void *handle) {
    (void)handle;
    return 0;
}
