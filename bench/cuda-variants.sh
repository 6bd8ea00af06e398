#!/usr/bin/env bash
# cuda-variants.sh — side-by-side timings of the attention kernel variants
# (XFWD_ATTN_VARIANT, see src/cuda/attention.cu) on the shapes where attention
# matters, with per-family profiles, and an Nsight Compute summary of one attention
# launch per variant. Run on the GPU machine from the repository root:
#   bash bench/cuda-variants.sh [BUILD_DIR] [VARIANTS...]      (logs under $OUT)
set -uo pipefail
build=${1:-build-cuda}
shift || true
variants=${*:-0 1 2}
out=${OUT:-/tmp/xfwd-gpu}
mkdir -p "$out"
for v in $variants; do
  for s in qwen3-4b:16:512 qwen3-4b:4:2048; do
    IFS=: read -r shape batch seq <<<"$s"
    echo "== variant $v $shape ${batch}x$seq"
    XFWD_ATTN_VARIANT=$v timeout 200 "$build/xfwd_cuda_bench" --shape "$shape" --dtype bf16 --batch "$batch" \
      --seq "$seq" --iters 10 --profile | grep -E "RESULT|attention|qknorm"
  done
done 2>&1 | tee "$out/variants.log"
if command -v ncu >/dev/null && [ "${XF_NCU:-1}" = 1 ]; then
  for v in $variants; do
    echo "== ncu variant $v (4B, 16x512, one attention launch of the eager warm-up pass)"
    XFWD_ATTN_VARIANT=$v timeout 200 ncu --kernel-name regex:attn_mma --launch-skip 5 --launch-count 1 \
      --section SpeedOfLight --section Occupancy --section WarpStateStats --section LaunchStats \
      "$build/xfwd_cuda_bench" --shape qwen3-4b --dtype bf16 --batch 16 --seq 512 --iters 1 --warmup 0 2>&1 |
      grep -E "Duration|Throughput|Registers|Achieved Occupancy|Theoretical Occupancy|Stall|Warp Cycles|Block Limit|Issue Slots|Shared Memory Configuration Size|Dynamic Shared|One or More|Executed Ipc"
  done 2>&1 | tee "$out/ncu.log"
fi
