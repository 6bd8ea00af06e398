#!/usr/bin/env bash
# cuda-forward-trace.sh — does a change to the CUDA host code change the captured graphs?
# Traces the forward's calls (bench/cuda_forward_trace.c: every launcher, matmul and CUDA
# call stubbed to print its arguments) for the working tree and for REV over 1,728 model,
# dtype, adapter, output, head_dim, device and profiling combinations, and diffs them.
# No GPU needed (the CUDA headers only):   bash bench/cuda-forward-trace.sh [REV]
# REV defaults to 6299a44, the last tree before the recipe executor and the kernel table.
set -uo pipefail
rev=${1:-6299a44}
cuda_inc=${CUDA_INC:-/usr/local/cuda/include}
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
mkdir -p "$w/old" "$w/new"
git archive "$rev" src include | tar -x -C "$w/old"
cp -r src include "$w/new/"
cp src/recipe.h src/recipe.c src/backend.h "$w/old/src/"  # the recipe the plan carries now
for v in old new; do
  def=() extra=()
  if [ -f "$w/$v/src/cuda/cuda_kernels.c" ]; then def=(-DNEW); extra=("$w/$v/src/cuda/cuda_kernels.c"); fi
  gcc -std=c11 -D_GNU_SOURCE -O1 -w "${def[@]}" -I"$w/$v/src" -I"$w/$v/src/cuda" -I"$w/$v/include" -I"$cuda_inc" \
    -o "$w/trace_$v" bench/cuda_forward_trace.c "$w/$v/src/recipe.c" "$w/$v/src/error.c" "${extra[@]}" -lm || exit 1
done
n=0 bad=0
for arch in 0 1 2; do for dt in 0 1 2 3; do for na in 0 1 2; do for out in 0 1 2 3; do for d in 64 128 96; do
  for cc in 1 0; do for pr in 0 1; do
    a="$arch $dt $na $out $d $cc $pr"
    "$w/trace_old" $a >"$w/o.log" 2>/dev/null; r1=$?
    "$w/trace_new" $a >"$w/n.log" 2>/dev/null; r2=$?
    n=$((n + 1))
    if [ $r1 != 0 ] || [ $r2 != 0 ] || ! cmp -s "$w/o.log" "$w/n.log"; then
      bad=$((bad + 1))
      [ $bad -le 3 ] && { echo "differs: $a (exit $r1/$r2)"; diff "$w/o.log" "$w/n.log" | head -n 8; }
    fi
  done; done
done; done; done; done; done
echo "$n traces, $bad differing ($rev vs the working tree)"
[ $bad = 0 ]
