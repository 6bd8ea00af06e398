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
# libFuzzer: each harness of tests/fuzz for a short fixed time (XFWD_FUZZ_SECONDS, default
# 20) under ASan + UBSan, from a copy of its seed corpus; any finding fails the run.
fuzz_seconds=${XFWD_FUZZ_SECONDS:-20}
probe=$(mktemp -d)
if printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }\n' |
   clang -x c -fsanitize=fuzzer,address - -o "$probe/probe" >/dev/null 2>&1; then
  CC=clang cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DXFWD_FUZZ=ON -DXFWD_SANITIZE=ON \
    -DXFWD_CUDA=OFF -DXFWD_VULKAN=OFF -DXFWD_TESTS=OFF >/dev/null
  cmake --build build-fuzz -j "$jobs" --target fuzz_all
  for t in safetensors config tokenizer_json tokenizer_text jsonl adapter; do
    mkdir -p "$probe/$t"
    rc=0
    build-fuzz/tests/fuzz/fuzz_$t -max_total_time="$fuzz_seconds" -rss_limit_mb=2048 -timeout=20 \
      -print_final_stats=1 -artifact_prefix="build-fuzz/$t-" "$probe/$t" "tests/fuzz/corpus/$t" \
      > "$probe/$t.log" 2>&1 || rc=$?
    if [ $rc -eq 77 ]; then
      echo "fuzz $t: skipped ($(tail -n 1 "$probe/$t.log"))"
    elif [ $rc -ne 0 ]; then
      tail -n 60 "$probe/$t.log"
      echo "fuzz $t: FAILED (the input is saved as build-fuzz/$t-*; rerun: build-fuzz/tests/fuzz/fuzz_$t FILE)"
      rm -rf "$probe"
      exit 1
    else
      echo "fuzz $t: $(grep -E '^Done' "$probe/$t.log"), $(grep -E 'DONE' "$probe/$t.log" | grep -oE 'cov: [0-9]+ ft: [0-9]+')"
    fi
  done
else
  echo "fuzz: skipped: clang cannot build libFuzzer harnesses here (scripts/deps.sh installs clang and libclang-rt-dev)"
fi
rm -rf "$probe"
