#!/usr/bin/env bash
# cli-bench.sh XFWD WORKDIR [THREADS [ROUNDS]] — `xfwd embed` on a JSONL job of 1×, 4× and 16×
# 65,536 tokens (512, 2,048 and 8,192 lines of 128 random ids; 16× = 1,048,576
# tokens) on the CPU, with wall time and peak RSS from /usr/bin/time -v, bracketed
# by `xfwd bench` on the same forward shape (64 sequences × 128 tokens = the CLI's
# 8,192-token chunk). The model is bench/serve_model.py's random-weight Qwen3 folder
# (H 256, I 768, 4 layers, vocabulary 8192, 5.2 M parameters). --verbose splits the
# wall time into forwards, input (reading, parsing) and output. bench/cli.md has the
# results. Then ROUNDS (default 3) interleaved pairs on the 1× input, where the
# machine's load drifts least between the two: `xfwd bench` on the same 512 × 128
# tokens packed into the same 8,192-token forwards, then `xfwd embed`, each with its
# CPU time (user + sys) per token, which other processes' load disturbs less than
# wall time. SIZES=0 skips the 1×/4×/16× runs.
set -eu
xfwd=$1
work=$2
threads=${3:-1}
rounds=${4:-3}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$work"
[ -s "$work/m256/model.safetensors" ] || python3 "$here/serve_model.py" "$work/m256" > /dev/null
[ -s "$work/in16.jsonl" ] || python3 - "$work" <<'PY'
import random, sys
random.seed(3)
n1 = 512
lines = ['{"id": %d, "tokens": [%s]}\n' % (i, ", ".join(str(random.randrange(8192)) for _ in range(128)))
         for i in range(n1 * 16)]
for mult in (1, 4, 16):
    open(f"{sys.argv[1]}/in{mult}.jsonl", "w").writelines(lines[: n1 * mult])
PY
bench() {
  "$xfwd" bench --model "$work/m256" --backend cpu --threads "$threads" --batch 64 --seq 128 --iters 5 --warmup 1 |
    sed -n 's/.* tok_s=\([0-9]*\).*/bench tokens\/s \1/p'
}
echo "uptime: $(uptime)"
[ "${SIZES:-1}" = 0 ] || bench
for mult in $([ "${SIZES:-1}" = 0 ] || echo 1 4 16); do
  tokens=$((65536 * mult))
  /usr/bin/time -v "$xfwd" embed --model "$work/m256" --input "$work/in$mult.jsonl" --output "$work/out.npy" \
    --backend cpu --threads "$threads" --quiet --verbose 2> "$work/time.txt"
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/time.txt" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/time.txt")
  grep '^xfwd embed: .* forwards' "$work/time.txt"
  echo "embed ${mult}x: $tokens tokens, $(wc -c < "$work/in$mult.jsonl") input bytes, wall $wall s, $(awk -v t=$tokens -v w="$wall" 'BEGIN { printf "%.0f", t / w }') tokens/s, peak RSS $rss KiB"
done
[ "${SIZES:-1}" = 0 ] || bench
echo "uptime: $(uptime)"
cpu_s() { awk -F': ' '/User time|System time/ { s += $2 } END { print s }' "$1"; }
for r in $(seq "$rounds"); do
  /usr/bin/time -v "$xfwd" bench --model "$work/m256" --backend cpu --threads "$threads" --batch 512 --seq 128 \
    --iters 1 --warmup 1 > "$work/bench.txt" 2> "$work/time.txt"
  b=$(sed -n 's/.* tok_s=\([0-9]*\).*/\1/p' "$work/bench.txt")
  bcpu=$(cpu_s "$work/time.txt")  # the warm-up and the timed pass: 2 × 65,536 tokens
  /usr/bin/time -v "$xfwd" embed --model "$work/m256" --input "$work/in1.jsonl" --output "$work/out.npy" \
    --backend cpu --threads "$threads" --quiet --verbose 2> "$work/time.txt"
  e=$(sed -n 's/.* = \([0-9]*\) tokens\/s; forwards.*/\1/p' "$work/time.txt")
  ecpu=$(cpu_s "$work/time.txt")
  echo "round $r: bench $b tokens/s, $(awk -v c="$bcpu" 'BEGIN { printf "%.1f", c / 131072 * 1e6 }') µs CPU/token;" \
       "embed $e tokens/s, $(awk -v c="$ecpu" 'BEGIN { printf "%.1f", c / 65536 * 1e6 }') µs CPU/token; $(uptime | sed 's/.*load/load/')"
done
