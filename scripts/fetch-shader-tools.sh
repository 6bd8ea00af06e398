#!/usr/bin/env bash
# fetch-shader-tools.sh — a shader toolchain new enough for the Vulkan backend's
# matrix-unit shaders (GL_KHR_cooperative_matrix, GL_NV_cooperative_matrix2,
# GL_EXT_bfloat16) and the Vulkan headers that describe those extensions.
#
# Debian 12's glslc (shaderc 2023.2, glslang 11) and Vulkan headers (1.3.239)
# predate all three. This script takes glslc and the headers from Debian's
# testing suite (unstable as a fallback), from the same mirror the system's
# apt sources name, without touching the system: the packages are unpacked into
# .cache/shader-tools together with the C and C++ runtime they were built
# against, and bin/glslc runs the compiler through that runtime's own dynamic
# loader. It is a build-time tool only: its output is SPIR-V embedded in the
# library, so nothing of it is needed where xfwd runs.
#
# Does nothing when the system's glslc already compiles the test shader below
# and the system headers know VK_NV_cooperative_matrix2, or when
# .cache/shader-tools is complete. Prints the glslc to use on its last line.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/.cache/shader-tools"
probe="$(mktemp -d)"
trap 'rm -rf "$probe"' EXIT

cat >"$probe/t.comp" <<'EOF'
#version 450
#extension GL_KHR_cooperative_matrix : require
#extension GL_NV_cooperative_matrix2 : require
#extension GL_EXT_bfloat16 : require
#extension GL_KHR_memory_scope_semantics : require
layout(local_size_x = 128) in;
layout(std430, binding = 0) buffer B { bfloat16_t b[]; };
void main() {
    tensorLayoutNV<2> t = createTensorLayoutNV(2);
    t = setTensorLayoutDimensionNV(t, 64, 64);
    coopmat<bfloat16_t, gl_ScopeWorkgroup, 64, 64, gl_MatrixUseA> m;
    coopMatLoadTensorNV(m, b, 0, sliceTensorLayoutNV(t, 0, 64, 0, 64));
    coopMatStoreTensorNV(m, b, 0, sliceTensorLayoutNV(t, 0, 64, 0, 64));
}
EOF
glslc_ok() { "$1" -fshader-stage=compute --target-env=vulkan1.3 -o "$probe/t.spv" "$probe/t.comp" >/dev/null 2>&1; }
headers_ok() { grep -q VK_NV_cooperative_matrix2 "$1/vulkan/vulkan_core.h" 2>/dev/null; }

if command -v glslc >/dev/null && glslc_ok glslc && headers_ok /usr/include; then
  echo "shader-tools: the system's glslc and Vulkan headers suffice"
  command -v glslc
  exit 0
fi
if [ -x "$dest/bin/glslc" ] && glslc_ok "$dest/bin/glslc" && headers_ok "$dest/include"; then
  echo "shader-tools: present in .cache/shader-tools"
  echo "$dest/bin/glslc"
  exit 0
fi

. "$(dirname "$0")/debian-testing.sh"
work="$root/.cache/shader-tools-dl"
rm -rf "$work" "$dest"
mkdir -p "$dest"
pkgs=(glslc libshaderc1 libc6 libstdc++6 libgcc-s1 libvulkan-dev)
fetched="$(debian_fetch "$work" "$work/debs" download "${pkgs[@]}")" ||
  { echo "shader-tools: could not download ${pkgs[*]} from Debian testing or unstable" >&2; exit 1; }

for f in "$work"/debs/*.deb; do dpkg-deb -x "$f" "$dest/root"; done
mkdir -p "$dest/bin" "$dest/include"
cp -r "$dest/root/usr/include/vulkan" "$dest/root/usr/include/vk_video" "$dest/include/"
lib="$dest/root/usr/lib/$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)"
loader="$(ls "$lib"/ld-linux*.so.* 2>/dev/null | head -n1)"
[ -n "$loader" ] || { echo "shader-tools: no dynamic loader in the downloaded libc6" >&2; exit 1; }
cat >"$dest/bin/glslc" <<EOF
#!/bin/sh
# glslc from Debian $fetched, run through its own C runtime (see scripts/fetch-shader-tools.sh)
d="\$(cd "\$(dirname "\$0")/.." && pwd)"
exec "\$d/root/${loader#"$dest/root/"}" --library-path "\$d/root/${lib#"$dest/root/"}" "\$d/root/usr/bin/glslc" "\$@"
EOF
chmod +x "$dest/bin/glslc"
rm -rf "$work"
glslc_ok "$dest/bin/glslc" || { echo "shader-tools: the downloaded glslc does not compile the test shader" >&2; exit 1; }
headers_ok "$dest/include" || { echo "shader-tools: the downloaded Vulkan headers lack VK_NV_cooperative_matrix2" >&2; exit 1; }
echo "shader-tools: $("$dest/bin/glslc" --version | head -n1) (Debian $fetched) in .cache/shader-tools"
echo "$dest/bin/glslc"
