#!/usr/bin/env bash
# deps.sh — installs the Debian packages xfwd builds and tests with, if missing:
# compiler and build tools, jansson (JSON), OpenBLAS, PCRE2 and utf8proc
# (tokenizer), the Vulkan loader, glslc and Mesa's lavapipe (Vulkan on the CPU),
# python3 (test helpers) and npm (fetches the reference tokenizers).
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config file python3 npm
      libjansson-dev libopenblas-dev libpcre2-dev libutf8proc-dev
      libvulkan-dev glslc mesa-vulkan-drivers)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# npm may come from elsewhere than Debian (e.g. a Node.js install): only need the command
if command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/npm}")
fi
missing=(${missing[@]+"${missing[@]}"})
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
echo "deps: all present"
