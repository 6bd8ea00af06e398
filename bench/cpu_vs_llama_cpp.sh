#!/usr/bin/env bash
# cpu_vs_llama_cpp.sh BUILD_DIR [REPEATS] — xfwd's CPU backend against llama.cpp's CPU
# backend on the Qwen3-0.6B shape, one prompt of 128 tokens, 1 and 2 threads, bf16 and
# f32 weights, run back to back (bench/cpu.md records the results).
#
# llama.cpp comes from Debian testing (llama.cpp-tools, libllama0, libggml0 and the C/C++
# runtime they were built against), unpacked into .cache/llama-cpp and run through that
# runtime's own loader, as scripts/fetch-shader-tools.sh does for glslc; its CPU backend
# is the one libggml0 builds for this CPU's family (GGML_BACKEND_PATH). The GGUF files
# are random weights of the same shape, written by bench/cpu_llama_gguf.py (numpy only).
#   xfwd:      xfwd bench --backend cpu --shape qwen3-0.6b --dtype D --batch 1 --seq 128 --threads N
#   llama.cpp: llama-bench -m qwen3-0.6b-D.gguf -p 128 -n 0 -t N
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build=$(cd "${1:?usage: cpu_vs_llama_cpp.sh BUILD_DIR [REPEATS]}" && pwd)
reps=${2:-5}
dest="$root/.cache/llama-cpp"
lib="$dest/root/usr/lib/x86_64-linux-gnu"

if [ ! -x "$dest/root/usr/bin/llama-bench" ]; then
  . "$root/scripts/debian-testing.sh"
  rm -rf "$dest"
  mkdir -p "$dest/root"
  pkgs=(llama.cpp-tools libllama0 libggml0 libssl3t64 libzstd1 zlib1g libgomp1 libc6 libstdc++6 libgcc-s1)
  suite="$(debian_fetch "$dest/dl" "$dest/debs" download "${pkgs[@]}")" ||
    { echo "llama.cpp: could not download ${pkgs[*]} from Debian testing or unstable" >&2; exit 1; }
  for f in "$dest"/debs/*.deb; do dpkg-deb -x "$f" "$dest/root"; done
  rm -rf "$dest/dl" "$dest/debs"
  echo "llama.cpp: unpacked from Debian $suite into .cache/llama-cpp"
fi
# llama-bench through testing's loader and libraries, with the CPU backend built for this CPU
backend="$lib/ggml/backends0/libggml-cpu-x64.so"
for b in zen4 icelake skylakex haswell; do
  [ -f "$lib/ggml/backends0/libggml-cpu-$b.so" ] || continue
  out="$(GGML_BACKEND_PATH="$lib/ggml/backends0/libggml-cpu-$b.so" "$lib/ld-linux-x86-64.so.2" \
    --library-path "$lib:$lib/llama" "$dest/root/usr/bin/llama-bench" --list-devices 2>&1 || true)"
  if grep -q "loaded CPU backend" <<<"$out"; then
    backend="$lib/ggml/backends0/libggml-cpu-$b.so"
    break
  fi
done
llama_bench() {
  GGML_BACKEND_PATH="$backend" "$lib/ld-linux-x86-64.so.2" --library-path "$lib:$lib/llama" \
    "$dest/root/usr/bin/llama-bench" "$@" 2>&1 | grep -v "failed to enumerate"
}
for d in bf16 f32; do
  [ -f "$dest/qwen3-0.6b-$d.gguf" ] ||
    /usr/bin/python3 "$root/bench/cpu_llama_gguf.py" "$dest/qwen3-0.6b-$d.gguf" --shape qwen3-0.6b --dtype "$d"
done

echo "llama.cpp CPU backend: $(basename "$backend"); $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"
for d in bf16 f32; do
  for t in 1 2; do
    echo "== $d, $t thread(s); $(uptime | sed 's/.*load/load/')"
    llama_bench -m "$dest/qwen3-0.6b-$d.gguf" -p 128 -n 0 -t "$t" -r "$reps" | grep -E "pp128|model"
    "$build/xfwd" bench --backend cpu --shape qwen3-0.6b --dtype "$d" --batch 1 --seq 128 --threads "$t" \
      --iters "$reps" --warmup 1 | grep -E "^(time|throughput)"
  done
done
echo "== done; $(uptime | sed 's/.*load/load/')"
