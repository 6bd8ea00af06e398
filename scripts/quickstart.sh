#!/usr/bin/env bash
# quickstart.sh — on a fresh Debian 12 machine: installs what is missing, builds
# xfwd, and runs it on the bundled tiny Qwen3 model (final hidden states and
# logits of two token sequences).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
model=tests/data/golden/qwen3-tiny
./build/xfwd info --model "$model"
./build/xfwd hidden --model "$model" --input examples/tokens.jsonl --output build/hidden.npy
./build/xfwd logits --model "$model" --input examples/tokens.jsonl --output build/logits.npy
python3 tests/golden_tool.py npyshape build/hidden.npy | sed 's/^/hidden states: build\/hidden.npy, float32 /'
python3 tests/golden_tool.py npyshape build/logits.npy | sed 's/^/logits:        build\/logits.npy, float32 /'
