#!/usr/bin/env bash
# test.sh — the whole test suite: a Release build with every backend the
# machine's toolkits allow (CUDA tests skip without a GPU; Vulkan tests run on
# lavapipe), then the same suite built with AddressSanitizer + UBSan, then the
# thread tests under ThreadSanitizer, then each libFuzzer harness for a short while.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
bash scripts/fetch-tokenizers.sh || echo "test: could not fetch the reference tokenizers; their tests will report skipped"
jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")
# Sanitizers: the host code and the CPU and Vulkan paths (CUDA adds nothing testable without a GPU).
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DXFWD_SANITIZE=ON -DXFWD_CUDA=OFF >/dev/null
cmake --build build-asan -j "$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp
(cd build-asan && ctest --output-on-failure -j "$jobs")
# ThreadSanitizer: the thread tests only (one engine, model and tokenizer shared by threads).
cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXFWD_TSAN=ON -DXFWD_CUDA=OFF -DXFWD_VULKAN=OFF >/dev/null
cmake --build build-tsan -j "$jobs" --target test_threads
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -R '^threads$')
