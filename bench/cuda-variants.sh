#!/usr/bin/env bash
# cuda-variants.sh — the attention kernels side by side, on the GPU machine, from the
# repository root:   bash bench/cuda-variants.sh [BUILD_DIR] [KERNELS...]   (logs under $OUT)
# 1. xfwd_cuda_attention_bench (bench/cuda_attention.cu): every kernel shape ever measured,
#    the library's and the experimental ones, alone, checked against the CPU and timed;
# 2. whole forwards with the library's kernels forced through XFWD_ATTN_KERNEL
#    (wgmma wgmma1 fa2 mma generic; one that cannot run the shape runs the table's
#    choice), with per-family profiles;
# 3. an Nsight Compute summary of one attention launch per forced kernel.
set -uo pipefail
build=${1:-build-cuda}
shift || true
kernels=${*:-wgmma wgmma1 fa2 mma}
out=${OUT:-/tmp/xfwd-gpu}
mkdir -p "$out"
{
  for a in "--D 128 --seqs 16 --len 512" "--D 128 --seqs 4 --len 2048" "--D 64 --seqs 16 --len 512 --heads 16"; do
    echo "== attention kernels alone: $a"
    timeout 300 "$build/xfwd_cuda_attention_bench" --dtype bf16 --kv 8 $a --iters 20
  done
} 2>&1 | tee "$out/attention-kernels.log"
for k in $kernels; do
  for s in qwen3-4b:16:512 qwen3-4b:4:2048; do
    IFS=: read -r shape batch seq <<<"$s"
    echo "== XFWD_ATTN_KERNEL=$k $shape ${batch}x$seq"
    XFWD_ATTN_KERNEL=$k timeout 200 "$build/xfwd_cuda_bench" --shape "$shape" --dtype bf16 --batch "$batch" \
      --seq "$seq" --iters 10 --profile | grep -E "RESULT|attention|qknorm"
  done
done 2>&1 | tee "$out/variants.log"
if command -v ncu >/dev/null && [ "${XF_NCU:-1}" = 1 ]; then
  for k in $kernels; do
    echo "== ncu XFWD_ATTN_KERNEL=$k (4B, 16x512, one attention launch of the eager warm-up pass)"
    XFWD_ATTN_KERNEL=$k timeout 200 ncu --kernel-name regex:attn_ --launch-skip 5 --launch-count 1 \
      --section SpeedOfLight --section Occupancy --section WarpStateStats --section LaunchStats \
      "$build/xfwd_cuda_bench" --shape qwen3-4b --dtype bf16 --batch 16 --seq 512 --iters 1 --warmup 0 2>&1 |
      grep -E "attn_|Duration|Throughput|Registers|Achieved Occupancy|Theoretical Occupancy|Stall|Warp Cycles|Block Limit|Issue Slots|Shared Memory Configuration Size|Dynamic Shared|One or More|Executed Ipc"
  done 2>&1 | tee "$out/ncu.log"
fi
