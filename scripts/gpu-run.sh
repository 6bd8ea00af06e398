#!/usr/bin/env bash
# gpu-run.sh — one visit to the GPU machine, everything in one command: the whole
# test suite (ctest of the carried build; the CUDA tests run for real there), the
# CUDA tests under compute-sanitizer memcheck, the CUDA benchmarks of
# bench/cuda-h100.md with the Hugging Face peers measured in the same run, and a
# short table last. Builds nothing: run it in the repository root with the build
# folder carried (built with -DXFWD_BLAS_VENDOR=Generic, then scripts/gpu-stage.sh).
#   bash scripts/gpu-run.sh [BUILD_DIR]            (default build-cuda-carry)
# Environment: OUT (logs; default /tmp/xfwd-gpu); XF_TESTS, XF_SANITIZE, XF_BENCH,
# XF_PEERS, XF_COMPILE, XF_KERNELS = 0 skip a part; XF_BENCH_ARGS extra xfwd_cuda_bench arguments;
# XF_SHAPES "shape:dtype:batch:seq ..." overrides the benchmark list.
# Real traffic (off by default): XF_TRAFFIC = 1 (all), or a comma list of xfwd (xfwd_cuda_bench
# and the CLI), peers (HF eager SDPA), compile (HF torch.compile, dynamic shapes) runs the
# mixed-length and long-sequence workloads of bench/cuda-h100.md ("Real traffic") and prints
# their table last; XF_TRAFFIC_LIST "shape:workload ..." (workload mixed:N, lengths:FILE or BxS)
# overrides its list, XF_TRAFFIC_BUDGET (16384) xfwd's tokens per forward; compile runs the mixed
# workloads only (XF_TRAFFIC_COMPILE_LONG=1 adds 1 x 8192).
set -uo pipefail
build=${1:-build-cuda-carry}
out=${OUT:-/tmp/xfwd-gpu}
mkdir -p "$out"
here=$PWD
golden=$here/tests/data/golden
summary=$out/summary.txt
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }

# cuBLASLt comes from the machine's CUDA toolkit (not bundled: too big to travel)
if ldd "$build/tests/test_ops" 2>/dev/null | grep -q 'libcublasLt.*not found'; then
  lt=$(find / -name 'libcublasLt.so.13*' -not -path '*/proc/*' 2>/dev/null | head -n 1)
  [ -n "$lt" ] && export LD_LIBRARY_PATH=$(dirname "$lt")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
# the attention benchmark built with cuDNN's variant (XFWD_CUDNN_FRONTEND) needs cuDNN and NVRTC:
# found wherever the machine has them installed
for lib in libcudnn.so.9 libnvrtc.so.13; do
  if ldd "$build/xfwd_cuda_attention_bench" 2>/dev/null | grep -q "$lib => not found"; then
    f=$(find / -name "$lib" -not -path '*/proc/*' 2>/dev/null | head -n 1)
    [ -n "$f" ] && export LD_LIBRARY_PATH=$LD_LIBRARY_PATH:$(dirname "$f")
  fi
done

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv,noheader |
  sed 's/^/gpu: /' | tee -a "$summary"
echo "cpu: $(nproc) cores; build: $build" | tee -a "$summary"

# ---------------------------------------------------------------- tests
if [ "${XF_TESTS:-1}" = 1 ]; then
  # the build was configured elsewhere (and staged by gpu-stage.sh): point its ctest
  # files at this checkout and this build folder
  origin=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$build/CMakeCache.txt")
  bdir=$(sed -n 's/^CMAKE_CACHEFILE_DIR:INTERNAL=//p' "$build/CMakeCache.txt")
  babs=$(cd "$build" && pwd)
  if [ -n "$bdir" ] && [ "$bdir" != "$babs" ]; then
    find "$build" -name CTestTestfile.cmake -exec sed -i "s#$bdir/#$babs/#g; s#$bdir\"#$babs\"#g" {} +
  fi
  if [ -n "$origin" ] && [ "$origin" != "$here" ]; then
    find "$build" -name CTestTestfile.cmake -exec sed -i "s#$origin/#$here/#g" {} +
  fi
  # interpreters found at configure time that this machine lacks: this machine's python3
  py=$(command -v python3 || true)
  sed -n 's/^[A-Za-z0-9_]*PYTHON[A-Za-z0-9_]*:FILEPATH=\(\/.*python3\)$/\1/ip' "$build/CMakeCache.txt" | sort -u |
    while read -r p; do
      [ -x "$p" ] || [ -z "$py" ] || find "$build" -name CTestTestfile.cmake -exec sed -i "s#$p\([\"']\)#$py\1#g" {} +
    done
  (cd "$build" && ctest --output-on-failure -j 8 --timeout 300) >"$out/ctest.log" 2>&1
  grep -E "tests passed|tests failed|Total Test time" "$out/ctest.log" | tee -a "$summary"
  grep -E "\*\*\*Failed|\*\*\*Timeout|Not Run|\*\*\*Exception" "$out/ctest.log" | sed 's/^/  /' | tee -a "$summary"
  grep -E "Skipped" "$out/ctest.log" | grep -c . | sed 's/^/  skipped tests: /' | tee -a "$summary"
fi

# ---------------------------------------------------------------- sanitizer
if [ "${XF_SANITIZE:-1}" = 1 ]; then
  san() {
    local name=$1
    shift
    echo "== memcheck $name: $*" >>"$out/sanitizer.log"
    timeout 300 compute-sanitizer --tool memcheck --error-exitcode 99 --print-limit 20 "$@" >"$out/san.tmp" 2>&1
    local rc=$?
    cat "$out/san.tmp" >>"$out/sanitizer.log"
    note "memcheck $name: rc=$rc ($(grep -E 'ERROR SUMMARY' "$out/san.tmp" | tail -1))"
    rm -f "$out/san.tmp"
  }
  san ops_bf16 "$build/tests/test_ops" --backend cuda --dtype bf16
  san ops_f32 "$build/tests/test_ops" --backend cuda --dtype f32
  san golden_f32_lora "$build/tests/test_golden" --backend cuda --dtype f32 --case "$golden/qwen3-tiny-lora-qv"
  san golden_bf16_hd128 "$build/tests/test_golden" --backend cuda --dtype bf16 --case "$golden/qwen3-hd128-bf16"
  san golden_f16_cls "$build/tests/test_golden" --backend cuda --dtype f16 --case "$golden/qwen3-tiny-cls"
  san engine "$build/tests/test_cuda" "$golden"
fi

# ---------------------------------------------------------------- benchmarks
shapes=${XF_SHAPES:-"qwen3-4b:bf16:16:512 qwen3-0.6b:bf16:64:128 qwen3-8b:bf16:16:512 qwen3-4b:bf16:4:2048 qwen3-4b:f32:4:512"}
if [ "${XF_BENCH:-1}" = 1 ]; then
  for s in $shapes; do
    IFS=: read -r shape dtype batch seq <<<"$s"
    echo "== xfwd_cuda_bench $shape $dtype ${batch}x$seq" >>"$out/bench.log"
    timeout 300 "$build/xfwd_cuda_bench" --shape "$shape" --dtype "$dtype" --batch "$batch" --seq "$seq" ${XF_BENCH_ARGS:-} \
      >>"$out/bench.log" 2>&1 || echo "FAILED rc=$?" >>"$out/bench.log"
    if [ -x "$build/xfwd" ]; then  # the CLI's end-to-end figure (wall clock, result copied to the host)
      echo "== xfwd bench $shape $dtype ${batch}x$seq" >>"$out/bench.log"
      timeout 300 "$build/xfwd" bench --backend cuda --dtype "$dtype" --shape "$shape" --batch "$batch" --seq "$seq" \
        >>"$out/bench.log" 2>&1 || echo "FAILED rc=$?" >>"$out/bench.log"
    fi
  done
fi
if [ "${XF_PEERS:-1}" = 1 ]; then
  for s in $shapes; do
    IFS=: read -r shape dtype batch seq <<<"$s"
    PYTHONUNBUFFERED=1 timeout 300 python3 bench/peer_hf.py --shape "$shape" --dtype "$dtype" --batch "$batch" --seq "$seq" \
      >>"$out/peer.log" 2>&1 || echo "PEER-FAILED $shape $dtype $batch $seq" >>"$out/peer.log"
  done
  if [ "${XF_COMPILE:-1}" = 1 ]; then
    for s in qwen3-4b:bf16:16:512 qwen3-0.6b:bf16:64:128; do
      IFS=: read -r shape dtype batch seq <<<"$s"
      PYTHONUNBUFFERED=1 timeout 400 python3 bench/peer_hf.py --compile --shape "$shape" --dtype "$dtype" --batch "$batch" \
        --seq "$seq" >>"$out/peer.log" 2>&1 || echo "PEER-FAILED compile $shape" >>"$out/peer.log"
    done
  fi
fi

# ---------------------------------------------------------------- kernels
# The standalone kernel benchmarks (bench/cuda-notes.md, "Fourth session"): the attention
# kernels the library keeps beside the warp-specialised ones and PyTorch's SDPA on the same
# shapes, and the gate|up + SwiGLU step as the library runs it beside the fused kernels; each
# checks its outputs against the CPU first. XF_KERNELS = 0 skips them (about a minute).
if [ "${XF_KERNELS:-1}" = 1 ] && [ -x "$build/xfwd_cuda_attention_bench" ]; then
  klog=$out/kernels.log
  {
    timeout 60 "$build/xfwd_cuda_attention_bench" --seqs 4 --len 512
    timeout 60 "$build/xfwd_cuda_attention_bench" --seqs 3 --len 700 --window 100
    for w in "1 8192" "4 2048" "16 512"; do
      for v in 8 12 13; do  # 13: cuDNN, where the build has it
        timeout 30 "$build/xfwd_cuda_attention_bench" --seqs "${w% *}" --len "${w#* }" --nocheck --only $v
      done
      timeout 60 python3 bench/sdpa_attention.py --seqs "${w% *}" --len "${w#* }" 2>/dev/null
    done
    for v in 8 13; do timeout 60 "$build/xfwd_cuda_attention_bench" --mixed 52 --only $v; done  # one packed forward
    timeout 60 "$build/xfwd_cuda_ffn_bench"
    timeout 60 "$build/xfwd_cuda_ffn_bench" --tokens 1000 --in 1024 --inter 3072
  } >"$klog" 2>&1
  grep -cE "^FAIL|rel.err .* FAIL" "$klog" | sed 's/^/kernel benchmarks failing checks: /' | tee -a "$summary"
fi

# ---------------------------------------------------------------- real traffic
# Mixed-length traffic and long single sequences (bench/cuda-h100.md, "Real traffic"):
# xfwd packs sequences in input order into forwards of <= XF_TRAFFIC_BUDGET tokens with no
# padding; the peers batch them as sentence-transformers does (sorted by length, batches
# of 32 padded to their longest). One python process per shape runs its workloads in turn.
traffic=${XF_TRAFFIC:-0}
want() { [ "$traffic" = 1 ] || [[ ",$traffic," == *",$1,"* ]]; }
tlist=${XF_TRAFFIC_LIST:-"qwen3-4b:mixed:2000 qwen3-0.6b:mixed:2000 qwen3-4b:1x8192 qwen3-4b:1x32768 qwen3-4b:4x2048"}
budget=${XF_TRAFFIC_BUDGET:-16384}
tlog=$out/traffic.log
if [ "$traffic" != 0 ]; then
  if want xfwd; then
    for t in $tlist; do
      shape=${t%%:*} w=${t#*:}
      case $w in  # the workload as flags, and enough runs for a stable median inside ~1 minute
        mixed:*) flags="--mixed ${w#mixed:} --max-batch-tokens $budget" runs="--iters 3 --warmup 1" cli=1 ;;
        lengths:*) flags="--lengths ${w#lengths:} --max-batch-tokens $budget" runs="--iters 3 --warmup 1" cli=1 ;;
        *x*) flags="--batch ${w%%x*} --seq ${w#*x}" cli=0
             if [ "${w#*x}" -gt 8192 ]; then runs="--iters 5 --warmup 1"; else runs="--iters 10 --warmup 2"; fi ;;
        *) echo "FAILED rc=bad-workload $t" >>"$tlog"; continue ;;
      esac
      echo "== xfwd_cuda_bench $shape bf16 $w" >>"$tlog"
      timeout 300 "$build/xfwd_cuda_bench" --shape "$shape" --dtype bf16 $flags $runs >>"$tlog" 2>&1 ||
        echo "FAILED rc=$? xfwd_cuda_bench $shape $w" >>"$tlog"
      if [ "$cli" = 1 ] && [ -x "$build/xfwd" ] && [ "${XF_TRAFFIC_CLI:-1}" = 1 ]; then
        echo "== xfwd bench $shape bf16 $w" >>"$tlog"  # the CLI: wall clock, every result copied to the host
        timeout 300 "$build/xfwd" bench --backend cuda --dtype bf16 --shape "$shape" $flags --iters 2 --warmup 1 \
          >>"$tlog" 2>&1 || echo "FAILED rc=$? xfwd bench $shape $w" >>"$tlog"
      fi
    done
  fi
  for impl in peers compile; do
    want $impl || continue
    for shape in $(for t in $tlist; do echo "${t%%:*}"; done | awk '!seen[$0]++'); do
      ws=$(for t in $tlist; do [ "${t%%:*}" = "$shape" ] && echo "${t#*:}"; done)
      limit=420
      if [ $impl = compile ]; then  # mixed traffic; a long sequence too (1 x S, S <= 8192) with XF_TRAFFIC_COMPILE_LONG=1
        ws=$(for w in $ws; do case $w in mixed:* | lengths:*) echo "$w" ;;
          *x*) [ "${XF_TRAFFIC_COMPILE_LONG:-0}" = 1 ] && [ "${w#*x}" -le 8192 ] && [ "${w%%x*}" = 1 ] && echo "$w" ;;
          esac; done)
        [ -n "$ws" ] || continue
        limit=300  # two shapes' compiles inside one 10-minute call
      fi
      echo "== peer_hf.py $impl $shape: $(echo $ws)" >>"$tlog"
      PYTHONUNBUFFERED=1 timeout $limit python3 bench/peer_hf.py --shape "$shape" --dtype bf16 \
        $([ $impl = compile ] && echo --compile) --workloads $ws --max-seconds 30 >>"$tlog" 2>&1 ||
        echo "PEER-FAILED rc=$? $impl $shape" >>"$tlog"
    done
  done
fi

# ---------------------------------------------------------------- table
{
  if [ -f "$out/kernels.log" ]; then  # kernel benchmarks: ms and TFLOP/s per variant and peer
    echo
    grep -E "^(bf16|f16|sdpa)|TFLOP/s" "$out/kernels.log" | grep -v skipped | sed 's/^  */  /'
  fi
  echo
  printf '%-11s %-5s %-9s %-13s %10s %8s %6s %10s %11s\n' shape dtype BxS impl tok/s TFLOP/s %peak peak_MiB over_weights
  for f in "$out/bench.log" "$out/peer.log"; do
    [ -f "$f" ] || continue
    grep -hE '^(RESULT|PEER) ' "$f" | while read -r kind rest; do
      declare -A kv=()
      for p in $rest; do kv[${p%%=*}]=${p#*=}; done
      impl=${kv[impl]:-xfwd-graph}
      printf '%-11s %-5s %-9s %-13s %10s %8s %6s %10s %11s\n' "${kv[shape]}" "${kv[dtype]}" \
        "${kv[batch]}x${kv[seq]}" "$impl" "${kv[tok_s]}" "${kv[tflops]}" "${kv[pct]}" "${kv[peak_mib]}" \
        "${kv[extra_mib]:--}"
      unset kv
    done
  done
  grep -hE "PEER-FAILED|FAILED rc" "$out/bench.log" "$out/peer.log" 2>/dev/null || true
  if [ -f "$tlog" ]; then  # real traffic: tokens/s of REAL tokens; padded = rows computed
    echo
    printf '%-13s %-10s %-15s %5s %9s %10s %6s %10s %10s %8s %6s %9s\n' workload shape impl seqs real_tok padded_tok \
      pad% tok/s e2e_tok/s TFLOP/s %peak peak_MiB
    grep -hE '^(RESULT|PEER) ' "$tlog" | while read -r kind rest; do
      declare -A kv=()
      for p in $rest; do kv[${p%%=*}]=${p#*=}; done
      impl=${kv[impl]:-xfwd-graph}
      pad=-
      [ -n "${kv[padded_tokens]:-}" ] && pad=$(awk -v p="${kv[padded_tokens]}" -v t="${kv[tokens]}" 'BEGIN{printf "%.1f", 100*(p/t-1)}')
      printf '%-13s %-10s %-15s %5s %9s %10s %6s %10s %10s %8s %6s %9s\n' "${kv[traffic]:-?}" "${kv[shape]}" "$impl" \
        "${kv[seqs]:-}" "${kv[tokens]:-}" "${kv[padded_tokens]:--}" "$pad" "${kv[tok_s]}" "${kv[e2e_tok_s]:--}" \
        "${kv[tflops]}" "${kv[pct]:--}" "${kv[peak_mib]:--}"
      unset kv
    done
    grep -hE "PEER-FAILED|FAILED rc" "$tlog" || true  # none: not a failure of the run
  fi
} | tee -a "$summary"
