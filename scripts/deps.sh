#!/usr/bin/env bash
# deps.sh — installs the Debian packages xfwd builds and tests with, if missing:
# compiler and build tools, jansson (JSON), OpenBLAS, oneDNN (the CPU's bf16 mode), PCRE2 and utf8proc
# (tokenizer), the Vulkan loader, glslc and Mesa's lavapipe (Vulkan on the CPU),
# libmicrohttpd (xfwd serve), curl and wrk (its tests and load benchmark),
# python3 (test helpers; numpy, pytest, pip and setuptools for the Python package's
# tests, which use Debian's /usr/bin/python3) and npm (fetches the reference
# tokenizers), clang with its libFuzzer and sanitizer runtimes (the fuzz stage of
# scripts/test.sh); then the
# shader toolchain of scripts/fetch-shader-tools.sh where the system's is too old.
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config file python3 npm
      libjansson-dev libopenblas-dev libdnnl-dev libpcre2-dev libutf8proc-dev libmicrohttpd-dev curl wrk
      libvulkan-dev glslc mesa-vulkan-drivers
      python3-numpy python3-pytest python3-pip python3-setuptools python3-wheel python3-venv
      clang libclang-rt-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come from elsewhere than Debian (e.g. a Node.js install): only need the command
if command -v npm >/dev/null 2>&1; then
  keep=()
  for p in ${missing[@]+"${missing[@]}"}; do [ "$p" = npm ] || keep+=("$p"); done
  missing=(${keep[@]+"${keep[@]}"})
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# the Vulkan backend's matrix-unit shaders need a newer glslc and Vulkan headers than
# Debian 12 ships: fetched into .cache/shader-tools when the system's are too old
bash "$(dirname "$0")/fetch-shader-tools.sh" | head -n 1
# and a newer lavapipe with cooperative matrices, so that the tests run the matrix-unit
# kernels on the CPU too (optional: without it those tests are not registered)
bash "$(dirname "$0")/fetch-vulkan-testing.sh" ||
  echo "deps: no cooperative-matrix lavapipe (scripts/fetch-vulkan-testing.sh failed): its tests are left out" >&2
echo "deps: all present"
