#!/usr/bin/env bash
# vulkan-h100.sh — one visit to the GPU machine for the Vulkan backend, in one
# command: the Vulkan op tests and golden cases in every mode, the benchmarks of
# bench/vulkan-h100.md (tile variants of the f16 matrix-unit path included), the
# start-up time with a cold and a warm pipeline cache, the CUDA backend's
# numbers from the same run when a CUDA build is carried, and a table last.
# Builds nothing: run in the repository root with the build folders carried and
# the Vulkan loader unpacked (.gl, see the device notes).
#   bash bench/vulkan-h100.sh [BUILD_DIR] [CUDA_BUILD_DIR]   (default build-vk, build-cuda)
# Environment: OUT (logs; default /tmp/xfwd-vk); VK_TESTS=0 / VK_BENCH=0 / VK_CUDA=0
# skip a part (VK_TESTS=quick: a few); VK_PROFILE=1 adds per-shader profiles;
# VK_CM_TILES "BM,BN,BK,WM,WN ..." the f16 tile variants to time; VK_GEMM=1 times the
# multiply kernels alone (xfwd_vulkan_bench --gemm, VK_GEMM_VARIANTS "NAME=VALUE[;...] ...").
set -uo pipefail
build=${1:-build-vk}
cuda_build=${2:-build-cuda}
out=${OUT:-/tmp/xfwd-vk}
mkdir -p "$out"
golden=$PWD/tests/data/golden
table=$out/table.txt
: >"$table"

# the NVIDIA ICD manifest: the loader's default folders, else wherever it is
icd=""
for f in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json \
         /etc/vulkan/icd.d/nvidia_icd.json $(find /usr /etc /opt -maxdepth 6 -name 'nvidia_icd*.json' 2>/dev/null); do
  [ -f "$f" ] && { icd=$f; break; }
done
echo "vulkan loader: $(ldconfig -p | grep -c 'libvulkan.so') entries; ICD manifest: ${icd:-none found}"
[ -n "$icd" ] && export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd
[ -n "$icd" ] && sed 's/^/  /' "$icd" | head -n 8
if ! VK_LOADER_DEBUG=error,warn XFWD_VK_PROBE=1 "$build/xfwd_vulkan_bench" --shape qwen3-tiny --dtype f32 --batch 1 --seq 8 \
  --iters 1 >"$out/probe.log" 2>&1; then
  head -n 20 "$out/probe.log"
  echo "no working Vulkan device: stopping"
  exit 1
fi
grep '^device ' "$out/probe.log" | head -n 1
grep '^vulkan probe' "$out/probe.log" | head -n 1 | fold -w 200
export XDG_CACHE_HOME=$out/cache
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'
echo "cpu: $(nproc) cores"

# ---------------------------------------------------------------- tests
pass=0 fail=0 skip=0
run_test() {  # name, command...
  local name=$1; shift
  "$@" >"$out/t_$name.log" 2>&1
  local rc=$?
  if [ $rc = 0 ]; then pass=$((pass + 1)); elif [ $rc = 77 ]; then skip=$((skip + 1)); echo "SKIP $name"
  else fail=$((fail + 1)); echo "FAIL $name (rc $rc)"; grep -v " ok$" "$out/t_$name.log" | tail -n 8; fi
}
if [ "${VK_TESTS:-1}" = quick ]; then
  for mode in f16 bf16; do
    run_test "ops_$mode" "$build/tests/test_ops" --backend vulkan --dtype "$mode"
    run_test "ops_${mode}_khr" env XFWD_VK_COOPMAT=khr "$build/tests/test_ops" --backend vulkan --dtype "$mode"
    for c in qwen3-hd128-bf16 qwen3-tiny-lora-qv qwen3-tiny llama-tiny; do
      run_test "golden_${mode}_$c" "$build/tests/test_golden" --backend vulkan --dtype "$mode" --case "$golden/$c"
    done
    run_test "golden_${mode}_khr" env XFWD_VK_COOPMAT=khr "$build/tests/test_golden" --backend vulkan \
      --dtype "$mode" --case "$golden/qwen3-hd128-bf16"
  done
  run_test golden_f16_att_smem env XFWD_VK_ATT=cm2-smem "$build/tests/test_golden" --backend vulkan \
    --dtype f16 --case "$golden/qwen3-hd128-bf16"
  echo "tests (quick): $pass passed, $fail failed, $skip skipped" | tee -a "$table"
fi
if [ "${VK_TESTS:-1}" = 1 ]; then
  for mode in f32 f16 bf16; do
    run_test "ops_$mode" "$build/tests/test_ops" --backend vulkan --dtype "$mode"
    for c in "$golden"/*/; do
      c=$(basename "$c")
      run_test "golden_${mode}_$c" "$build/tests/test_golden" --backend vulkan --dtype "$mode" --case "$golden/$c"
    done
  done
  run_test golden_f32_lora_merged "$build/tests/test_golden" --backend vulkan --dtype f32 --merge \
    --case "$golden/qwen3-tiny-lora-qv"
  run_test ops_f16_plain env XFWD_VK_COOPMAT=none "$build/tests/test_ops" --backend vulkan --dtype f16
  # the other matrix-unit kernels this device offers, each on the op tests and one golden case:
  # NV subgroup (fp32 activations), NV2 workgroup-scope multiplies, NV2 gate|up+SwiGLU,
  # gate|up and SwiGLU as two passes,
  # the KHR attention, the NV2 one's shared-memory variant, the scalar attention,
  # the KHR kernel with global loads one slice ahead (MM=db; the default is two, pf2), the
  # blocked-layout chain stopped early (LAYOUT=rows: row-major weights; wblock: activations
  # row-major; xblock: attention output row-major with the fp32 copy; oblock: fp32 q, k, v),
  # with the plain workgroup order (the H100's KHR tile with GM = 0)
  hd=$golden/qwen3-hd128-bf16
  for v in XFWD_VK_COOPMAT=nv XFWD_VK_MM=cm2 XFWD_VK_GLU=cm2 XFWD_VK_GLU=0 XFWD_VK_ATT=khr \
           XFWD_VK_ATT=cm2-smem XFWD_VK_ATT=scalar XFWD_VK_MM=db XFWD_VK_LAYOUT=rows XFWD_VK_LAYOUT=wblock \
           XFWD_VK_CM_TILE=128,128,16,64,64,0 XFWD_VK_LAYOUT=oblock XFWD_VK_LAYOUT=xblock; do
    for mode in f16 bf16; do
      case "$v" in XFWD_VK_COOPMAT=nv|XFWD_VK_MM=db|*smem) [ "$mode" = bf16 ] && continue ;; esac
      IFS=+ read -r -a envs <<<"$v"  # NAME=VALUE[+NAME=VALUE]
      run_test "ops_${mode}_$v" env "${envs[@]}" "$build/tests/test_ops" --backend vulkan --dtype "$mode"
      run_test "golden_${mode}_$v" env "${envs[@]}" "$build/tests/test_golden" --backend vulkan --dtype "$mode" \
        --case "$hd"
    done
  done
  run_test golden_f16_glu_llama env XFWD_VK_GLU=cm2 "$build/tests/test_golden" --backend vulkan --dtype f16 \
    --case "$golden/llama-tiny"
  grep -h "worst rel err" "$out"/t_ops_f16.log | sed 's/.*worst rel err \([^ ]*\).*/\1 &/' | sort -g |
    tail -n 2 | cut -d' ' -f2- | sed 's/^/ops f16 worst:/'
  echo "tests: $pass passed, $fail failed, $skip skipped" | tee -a "$table"
fi

# ---------------------------------------------------------------- benchmarks
bench() {  # label, env..., -- args...
  local label=$1; shift
  local envs=()
  while [ "$1" != -- ]; do envs+=("$1"); shift; done
  shift
  env "${envs[@]}" "$build/xfwd_vulkan_bench" "$@" >"$out/b_$label.log" 2>&1
  local rc=$?
  if [ "${VK_QUIET:-0}" = 1 ]; then grep -E '^  [a-z_0-9]+ +[0-9]+ calls' "$out/b_$label.log"  # profile lines only
  else cat "$out/b_$label.log"; fi
  if grep -q '^RESULT' "$out/b_$label.log"; then grep '^RESULT' "$out/b_$label.log" | sed "s/^/$label /" >>"$table"
  else echo "$label FAILED (rc $rc): $(tail -n 1 "$out/b_$label.log")" >>"$table"; fi
}
if [ "${VK_GEMM:-0}" = 1 ]; then  # the multiply kernels alone, VK_GEMM_VARIANTS each (f16)
  "$build/xfwd_vulkan_bench" --dtype f16 --gemm --iters 10 --variants "${VK_GEMM_VARIANTS:-}" >"$out/gemm.log" 2>&1
  grep '^GEMM' "$out/gemm.log" | tee -a "$table"
fi
if [ "${VK_PROFILE:-0}" = 1 ]; then  # per-shader device time and compiler statistics
  p="XFWD_VK_PROFILE=1 XFWD_VK_PIPE_STATS=1"
  bench prof_f16 $p -- --shape qwen3-4b --dtype f16 --batch 16 --seq 512 --iters 3 --warmup 1
  bench prof_bf16 XFWD_VK_PROFILE=1 -- --shape qwen3-4b --dtype bf16 --batch 16 --seq 512 --iters 3 --warmup 1
fi
if [ "${VK_BENCH:-1}" = 1 ]; then
  # VK_VARIANTS: "NAME=VALUE ..." environment settings each timed on the same model
  bench f16 -- --shape qwen3-4b --dtype f16 --batch 16 --seq 512 --iters 5 --warmup 1 \
    --variants "${VK_VARIANTS:-}"
  bench bf16 -- --shape qwen3-4b --dtype bf16 --batch 16 --seq 512 --iters 5 --warmup 1 \
    --variants "${VK_VARIANTS_BF16:-}"
  if [ "${VK_F32:-1}" = 1 ]; then  # VK_F32=0: the 16-bit modes only
    bench f32_4x512 -- --shape qwen3-4b --dtype f32 --batch 4 --seq 512 --iters 5 --warmup 1
    bench f32_16x512 -- --shape qwen3-4b --dtype f32 --batch 16 --seq 512 --iters 3 --warmup 1
  fi
  # start-up: driver shader caches off, so only the VkPipelineCache file differs
  for d in ${VK_STARTUP-f16 f32}; do
    bench "startup_$d" __GL_SHADER_DISK_CACHE=0 -- --shape qwen3-0.6b --dtype "$d" --startup "$out/startup-cache-$d"
  done
fi

# ---------------------------------------------------------------- CUDA, same run
if [ "${VK_CUDA:-1}" = 1 ] && [ -x "$cuda_build/xfwd_cuda_bench" ]; then
  if ldd "$cuda_build/xfwd_cuda_bench" 2>/dev/null | grep -q 'libcublasLt.*not found'; then
    lt=$(find / -name 'libcublasLt.so.13*' -not -path '/proc/*' 2>/dev/null | head -n 1)
    [ -n "$lt" ] && export LD_LIBRARY_PATH=$(dirname "$lt")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  fi
  for spec in ${VK_CUDA_SPECS:-f16:16:512 bf16:16:512 f32:4:512}; do
    IFS=: read -r d b s <<<"$spec"
    "$cuda_build/xfwd_cuda_bench" --shape qwen3-4b --dtype "$d" --batch "$b" --seq "$s" >"$out/c_$d.log" 2>&1
    r=$(grep '^RESULT' "$out/c_$d.log" | tail -n 1)
    echo "cuda_$d ${r:-FAILED: $(tail -n 1 "$out/c_$d.log")}" >>"$table"
  done
fi

echo "================ table"
cat "$table"
