#!/usr/bin/env bash
# fetch-cudnn-frontend.sh [DEST] — NVIDIA's cuDNN frontend (MIT, header-only C++), for the
# attention benchmark's cuDNN variant (bench/cuda_attention_cudnn.cuh). Not part of the tree
# (a third-party library); the build finds it through XFWD_CUDNN_FRONTEND:
#   bash bench/fetch-cudnn-frontend.sh .cache/cudnn-frontend
#   cmake -S . -B build-gpu -DXFWD_CUDNN_FRONTEND=$PWD/.cache/cudnn-frontend/include ...
# cuDNN itself (9.x, with cudnn.h beside the CUDA toolkit's headers) comes from the toolkit
# install or NVIDIA's packages; the GPU machine has cuDNN 9.14 installed.
set -euo pipefail
dest=${1:-.cache/cudnn-frontend}
version=${CUDNN_FRONTEND_VERSION:-v1.23.0}
if [ -f "$dest/include/cudnn_frontend.h" ]; then
  echo "$dest: already there"
  exit 0
fi
git clone --quiet --depth 1 --branch "$version" https://github.com/NVIDIA/cudnn-frontend.git "$dest"
echo "$dest/include: cuDNN frontend $version"
