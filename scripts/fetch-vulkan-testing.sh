#!/usr/bin/env bash
# fetch-vulkan-testing.sh — a Vulkan runtime for the tests whose software driver
# has cooperative matrices: the Vulkan loader and Mesa's lavapipe from Debian's
# testing suite (unstable as a fallback), which offer VK_KHR_cooperative_matrix
# on the CPU, where Debian 12's lavapipe offers none. With it the matrix-unit
# kernels of the Vulkan backend (16-bit activations, the KHR multiply and its
# fused SwiGLU) run in CI without a GPU.
#
# The packages and everything they depend on (their C runtime included) are
# unpacked into .cache/vulkan-testing without touching the system; the wrapper
# .cache/vulkan-testing/run CMD ARGS... runs a program through that runtime's
# dynamic loader with lavapipe as the only Vulkan driver. tests/vulkan.cmake
# registers the tests that use it when the wrapper exists. Does nothing when it
# is already there. The mirror is the one the system's apt sources name.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/vulkan-testing"
if [ -x "$dest/run" ] && [ -f "$dest/lvp_icd.json" ]; then
  echo "vulkan-testing: present in .cache/vulkan-testing"
  exit 0
fi

. "$(dirname "$0")/debian-testing.sh"
work="$root/.cache/vulkan-testing-dl"
rm -rf "$work" "$dest"
mkdir -p "$dest/root"
# an install into an empty package database: apt fetches the whole dependency closure
fetched="$(debian_fetch "$work" "$work/archives" --download-only install mesa-vulkan-drivers libvulkan1)" ||
  { echo "vulkan-testing: could not download Mesa from Debian testing or unstable" >&2; exit 1; }
for f in "$work"/archives/*.deb; do dpkg-deb -x "$f" "$dest/root"; done
rm -rf "$work"

multiarch="$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
lib="usr/lib/$multiarch"
loader="$(cd "$dest/root/$lib" && ls ld-linux*.so.* 2>/dev/null | head -n1)"
icd="$dest/root/usr/share/vulkan/icd.d/lvp_icd.json"
[ -n "$loader" ] && [ -f "$icd" ] || { echo "vulkan-testing: the download lacks the loader or lavapipe" >&2; exit 1; }
# the driver manifest with an absolute library path (the runtime is not on the default search path)
sed "s#\"library_path\": *\"\\([^/\"]*\\)\"#\"library_path\": \"$dest/root/$lib/\\1\"#" "$icd" >"$dest/lvp_icd.json"
cat >"$dest/run" <<EOF
#!/bin/sh
# Runs "\$@" with Debian $fetched's Vulkan loader and lavapipe (see scripts/fetch-vulkan-testing.sh).
d="\$(cd "\$(dirname "\$0")" && pwd)"
export VK_DRIVER_FILES="\$d/lvp_icd.json"
unset VK_ICD_FILENAMES VK_ADD_DRIVER_FILES
exec "\$d/root/$lib/$loader" --library-path "\$d/root/$lib:/usr/lib/$multiarch:/lib/$multiarch" "\$@"
EOF
chmod +x "$dest/run"
echo "vulkan-testing: lavapipe and its runtime ($(ls "$dest/root/usr/share/doc" | grep -c .) packages) from Debian $fetched in .cache/vulkan-testing"
