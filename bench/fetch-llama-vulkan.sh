#!/usr/bin/env bash
# fetch-llama-vulkan.sh DEST [TARBALL] — llama.cpp with its Vulkan backend, packed to travel
# to the GPU machine beside an xfwd build, for bench/vulkan-peer.sh.
#
# Takes llama.cpp-tools (llama-bench), llama.cpp-tools-extra (llama-batched-bench), libllama0,
# libggml0 (with its CPU backend: llama.cpp needs one), libggml0-backend-vulkan, the Vulkan
# loader libvulkan1 and the C/C++ runtime they were built against (glibc, libstdc++, libgcc,
# libgomp, OpenSSL, zlib, zstd) from Debian's testing suite (unstable as a fallback), as
# scripts/fetch-shader-tools.sh does for glslc, and lays out only what the two benchmarks need:
#   DEST/bin/   llama-bench, llama-batched-bench (small programs; the code is in lib/*-impl.so)
#   DEST/lib/   every shared library, flat, the dynamic loader ld-linux-x86-64.so.2 among them,
#               and ggml's backends libggml-vulkan.so, libggml-cpu-{x64,haswell}.so
#   DEST/run    DEST/run PROGRAM ARGS... runs DEST/bin/PROGRAM through that loader
#   DEST/VERSIONS  the Debian packages and versions it came from
# The programs run through the downloaded glibc's own loader, so they need nothing of the
# machine's libraries but the Vulkan driver. ggml looks for its backends beside the running
# executable, which is the loader itself here: hence one flat lib/. testing's libvulkan1 is
# carried too (built against the same glibc); the driver comes from the machine's ICD
# manifest (VK_DRIVER_FILES), whose library is found through the machine's ld.so.cache.
#
# Then checks that the programs start, and, where this machine has lavapipe, that llama.cpp
# lists it as a Vulkan device (GGML_VK_VISIBLE_DEVICES=0: ggml skips CPU devices otherwise).
# Last, packs DEST into TARBALL (default DEST.tar.xz; xz: the Vulkan backend is 42 MB of
# mostly SPIR-V, 13 MB with gzip, 4 MB with xz). DEST itself is ~70 MB: keep it out of the carry.
#   bash bench/fetch-llama-vulkan.sh .cache/llama-vk .carry/llama-vk.tar.xz
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest=${1:?usage: fetch-llama-vulkan.sh DEST [TARBALL]}
mkdir -p "$dest"
dest="$(cd "$dest" && pwd)"
tarball=${2:-$dest.tar.xz}
mkdir -p "$(dirname "$tarball")"
tarball="$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")"
work="$dest.dl"

. "$root/scripts/debian-testing.sh"
rm -rf "$work" "$dest"
mkdir -p "$work/root" "$dest/bin" "$dest/lib"
pkgs=(llama.cpp-tools llama.cpp-tools-extra libllama0 libggml0 libggml0-backend-vulkan libvulkan1
      libssl3t64 zlib1g libzstd1 libgomp1 libc6 libstdc++6 libgcc-s1)
suite="$(debian_fetch "$work/apt" "$work/debs" download "${pkgs[@]}")" ||
  { echo "llama-vk: could not download ${pkgs[*]} from Debian testing or unstable" >&2; exit 1; }
for f in "$work"/debs/*.deb; do
  dpkg-deb -x "$f" "$work/root"
  dpkg-deb --show --showformat='${Package} ${Version}\n' "$f" >>"$dest/VERSIONS"
done

lib="$work/root/usr/lib/x86_64-linux-gnu"
cp -a "$work/root/usr/bin/llama-bench" "$work/root/usr/bin/llama-batched-bench" "$dest/bin/"
# glibc without its debugging and profiling helpers; the other runtimes; llama.cpp's libraries
# (libmtmd, the multimodal one, is used by neither benchmark)
(cd "$lib" && cp -a ld-linux-x86-64.so.2 libc.so.6 libm.so.6 libmvec.so.1 libpthread.so.0 libdl.so.2 \
  librt.so.1 libresolv.so.2 libanl.so.1 libutil.so.1 libnsl.so.1 libnss_*.so.2 \
  libstdc++.so.6* libgcc_s.so.1 libgomp.so.1* libssl.so.3 libcrypto.so.3 libz.so.1* libzstd.so.1* \
  libvulkan.so.1* libllama.so.0* libllama-common.so.0* libggml.so.0* libggml-base.so.0* "$dest/lib/")
cp -a "$lib/llama/libllama-bench-impl.so" "$lib/llama/libllama-batched-bench-impl.so" "$dest/lib/"
# the Vulkan backend, and CPU backends for any x86-64 (x64) and for AVX2 machines (haswell):
# with -ngl 99 the CPU does no more than look up the token embeddings
cp -a "$lib/ggml/backends0/libggml-vulkan.so" "$lib/ggml/backends0/libggml-cpu-x64.so" \
  "$lib/ggml/backends0/libggml-cpu-haswell.so" "$dest/lib/"
cat >"$dest/run" <<EOF
#!/bin/sh
# run PROGRAM ARGS... — llama.cpp's PROGRAM (bin/) from Debian $suite through its own C runtime
# and loader (see bench/fetch-llama-vulkan.sh); LD_LIBRARY_PATH is kept after lib/ (the
# --library-path option replaces it) in case the Vulkan driver is found through it.
d="\$(cd "\$(dirname "\$0")" && pwd)"
p=\$1
shift
exec "\$d/lib/ld-linux-x86-64.so.2" --library-path "\$d/lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}" "\$d/bin/\$p" "\$@"
EOF
chmod +x "$dest/run"
rm -rf "$work"

# every library a program or backend needs resolves inside DEST/lib
missing=$(for f in "$dest"/bin/* "$dest"/lib/*.so*; do
  "$dest/lib/ld-linux-x86-64.so.2" --library-path "$dest/lib" --list "$f" 2>&1 | grep -E 'not found' || true
done | sort -u)
[ -z "$missing" ] || { echo "llama-vk: unresolved libraries:"; echo "$missing"; exit 1; } >&2
for p in llama-bench llama-batched-bench; do
  "$dest/run" "$p" --help >"$dest.log" 2>&1 || { cat "$dest.log"; echo "llama-vk: $p --help failed" >&2; exit 1; }
done
"$dest/run" llama-bench --list-devices >"$dest.log" 2>&1 || true
grep -q "loaded Vulkan backend" "$dest.log" || { cat "$dest.log"; echo "llama-vk: no Vulkan backend loaded" >&2; exit 1; }
lvp=$(ls /usr/share/vulkan/icd.d/lvp_icd*.json 2>/dev/null | head -n 1 || true)
if [ -n "$lvp" ]; then
  VK_DRIVER_FILES=$lvp VK_ICD_FILENAMES=$lvp GGML_VK_VISIBLE_DEVICES=0 "$dest/run" llama-bench --list-devices \
    >"$dest.log" 2>&1 || true
  grep -q "Vulkan0:" "$dest.log" || { cat "$dest.log"; echo "llama-vk: lavapipe not listed as a Vulkan device" >&2; exit 1; }
  echo "llama-vk: lavapipe listed: $(grep 'Vulkan0:' "$dest.log" | sed 's/^ *//')"
else
  echo "llama-vk: no lavapipe here; the Vulkan device listing was not checked"
fi
rm -f "$dest.log"

tar -cf - -C "$(dirname "$dest")" "$(basename "$dest")" | xz -9 -T0 >"$tarball"
echo "llama-vk: $(grep -E '^(llama.cpp-tools|libggml0-backend-vulkan|libc6) ' "$dest/VERSIONS" | paste -sd, -) (Debian $suite)"
echo "llama-vk: $(du -sh "$dest" | cut -f1) in $dest, packed into $tarball ($(du -h "$tarball" | cut -f1))"
