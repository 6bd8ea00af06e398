#!/usr/bin/env bash
# gpu-check-cuda.sh — the CUDA backend's checks in one short run (< 3 minutes on an
# H100), for the GPU machine, from the repository root:
#   bash scripts/gpu-check-cuda.sh BUILD      (a build with -DXFWD_CUDA=ON, carried or not)
# Runs test_ops --backend cuda in every dtype (the op-test matrix: every kernel variant
# the CUDA kernel table can choose on this device, device-memory guard regions), test_cuda
# (engine checks, masks, adapters), test_golden --backend cuda on every golden case in
# every dtype (the LoRA case merged too), and the standalone attention kernels
# (xfwd_cuda_attention_bench, a small shape). One line per run: PASS, SKIP or FAIL, the
# tail of the log after a FAIL; logs under $OUT (default /tmp/xfwd-gpu/check-cuda).
# XF_SANITIZE=1 adds compute-sanitizer memcheck on test_ops bf16 (about a minute more).
set -uo pipefail
build=${1:?usage: gpu-check-cuda.sh BUILD}
out=${OUT:-/tmp/xfwd-gpu}/check-cuda
mkdir -p "$out"
golden=$PWD/tests/data/golden
t=$build/tests
fails=0 passes=0 skips=0

# cuBLASLt from the machine's CUDA toolkit where the carried build does not bring it
if ldd "$t/test_ops" 2>/dev/null | grep -q 'libcublasLt.*not found'; then
  lt=$(find / -name 'libcublasLt.so.1*' -not -path '/proc/*' 2>/dev/null | head -n 1)
  [ -n "$lt" ] && export LD_LIBRARY_PATH=$(dirname "$lt")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null | sed 's/^/gpu: /'

# check NAME COMMAND...: runs it (timeout 120 s), prints PASS / SKIP (exit 77) / FAIL
check() {
  local name=$1 log=$out/$1.log rc
  shift
  timeout 120 "$@" >"$log" 2>&1
  rc=$?
  case $rc in
  0) echo "PASS $name"; passes=$((passes + 1)) ;;
  77) echo "SKIP $name ($(tail -n 1 "$log"))"; skips=$((skips + 1)) ;;
  *) echo "FAIL $name (exit $rc; $log)"; grep -E "FAIL|guard|error" "$log" | head -n 8 | sed 's/^/    /'
     tail -n 3 "$log" | sed 's/^/    /'; fails=$((fails + 1)) ;;
  esac
}

for mode in f32 tf32 bf16 f16; do
  check "ops_cuda_$mode" "$t/test_ops" --backend cuda --dtype "$mode"
done
check cuda_engine "$t/test_cuda" "$golden"
# the golden cases, as tests/CMakeLists.txt lists them
cases=$(sed -n 's/^set(XF_GOLDEN_CASES \(.*\))$/\1/p' tests/CMakeLists.txt)
for mode in f32 tf32 bf16 f16; do
  for c in $cases; do
    check "golden_cuda_${mode}_$c" "$t/test_golden" --backend cuda --dtype "$mode" --case "$golden/$c"
  done
  check "golden_cuda_${mode}_qwen3-tiny-lora-qv_merged" "$t/test_golden" --backend cuda --dtype "$mode" --merge \
    --case "$golden/qwen3-tiny-lora-qv"
done
for d in 64 128; do
  check "attention_kernels_bf16_D$d" "$build/xfwd_cuda_attention_bench" --dtype bf16 --D "$d" --seqs 3 --len 300 \
    --heads 16 --kv 4 --iters 3
done
check attention_kernels_f16_D128_full "$build/xfwd_cuda_attention_bench" --dtype f16 --D 128 --seqs 2 --len 200 \
  --heads 8 --kv 8 --iters 3 --full
if [ "${XF_SANITIZE:-0}" = 1 ] && command -v compute-sanitizer >/dev/null; then
  check memcheck_ops_cuda_bf16 compute-sanitizer --tool memcheck --error-exitcode 1 "$t/test_ops" --backend cuda \
    --dtype bf16
fi
if [ "$fails" != 0 ]; then echo "FAIL gpu-check-cuda: $fails failed, $passes passed, $skips skipped"
elif [ "$passes" = 0 ]; then echo "SKIP gpu-check-cuda: nothing ran ($skips skipped: no GPU?)"
else echo "PASS gpu-check-cuda: $passes passed, $skips skipped"; fi
exit $((fails > 0))
