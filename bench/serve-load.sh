#!/usr/bin/env bash
# serve-load.sh XFWD (--model DIR | --shape NAME) [serve options...] — load test of
# `xfwd serve`: wrk (bench/serve-load.lua) POSTs /embed, one sequence of $SEQ random
# token ids per request, at 1, 16 and 64 connections ($CLIENTS) for $DURATION s
# each (bench/serve_client.py where wrk is missing, or with PY_CLIENT=1); prints tokens/s, requests/s, p50/p99 latency per row, beside the same
# tokens through the CLI in one process: for --model, `xfwd embed` on N and 2N
# sequences (the difference of the two wall times, so loading is left out); for
# --shape, `xfwd bench` (forward only, batch of $BATCH x $SEQ).
#   CPU here:  bash bench/serve-load.sh build/xfwd --model /tmp/bench-model --backend cpu
#   GPU:       bash bench/serve-load.sh build/xfwd --shape qwen3-0.6b --dtype bf16 --backend cuda
set -euo pipefail
xfwd=$1
shift
SEQ=${SEQ:-128}
CLIENTS=${CLIENTS:-"1 16 64"}
DURATION=${DURATION:-10}
BATCH=${BATCH:-64}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/xfwd-serve-load-XXXXXX)
log=$work/serve.log
"$xfwd" serve --port 0 "$@" 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 600); do grep -q "listening on" "$log" && break; sleep 0.2; done
port=$(sed -n 's/.*listening on http:\/\/[^ ]*:\([0-9]*\) .*/\1/p' "$log")
[ -n "$port" ] || { cat "$log"; exit 1; }
vocab=$(curl -s "http://127.0.0.1:$port/info" | python3 -c 'import json,sys; print(json.load(sys.stdin).get("vocab_size", 0))' 2>/dev/null || echo 0)
[ "$vocab" -gt 0 ] 2>/dev/null || vocab=${VOCAB:-8192}
echo "server: $(grep 'listening on' "$log" | sed 's/.*(//; s/)$//'), $(nproc) CPU threads here, seq $SEQ"
printf "%-8s %12s %10s %9s %9s\n" clients tokens/s req/s p50_ms p99_ms
for c in $CLIENTS; do
  t=$(( c < 2 ? 1 : 2 ))
  if command -v wrk >/dev/null && [ -z "${PY_CLIENT:-}" ]; then
    out=$(SEQ=$SEQ VOCAB=$vocab wrk -t$t -c$c -d${DURATION}s --timeout 60s -s "$here/serve-load.lua" "http://127.0.0.1:$port" 2>&1 | grep '^RESULT')
  else   # no wrk (the GPU machine): the standard-library client
    out=$(python3 "$here/serve_client.py" "$port" "$c" "$DURATION" "$SEQ" "$vocab" | grep '^RESULT')
  fi
  read -r _ _ n _ errs _ secs _ p50 _ p99 <<<"$out"
  awk -v c=$c -v n=$n -v s=$secs -v q=$SEQ -v p50=$p50 -v p99=$p99 -v e=$errs \
    'BEGIN { printf "%-8s %12.0f %10.1f %9.2f %9.2f%s\n", c, n * q / s, n / s, p50, p99, (e > 0 ? "  (" e " errors)" : "") }'
done
kill $pid; wait $pid 2>/dev/null || true
# the same tokens in one process
model="" shape="" rest=()
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=$2; shift 2 ;;
    --shape) shape=$2; shift 2 ;;
    --backend|--dtype|--threads|--cache-dir) rest+=("$1" "$2"); shift 2 ;;
    *) shift ;;
  esac
done
if [ -n "$model" ]; then
  N=${N_CLI:-512}
  python3 - "$work" "$N" "$SEQ" "$vocab" <<'PY'
import random, sys
w, n, s, v = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = random.Random(7)
for name, k in (("a", n), ("b", 2 * n)):
    with open(f"{w}/{name}.jsonl", "w") as f:
        for _ in range(k):
            f.write("[" + ",".join(str(rng.randrange(1, v)) for _ in range(s)) + "]\n")
PY
  ta=$( { /usr/bin/time -f %e "$xfwd" embed --model "$model" --input "$work/a.jsonl" --output "$work/a.npy" "${rest[@]}" >/dev/null; } 2>&1 | tail -1)
  tb=$( { /usr/bin/time -f %e "$xfwd" embed --model "$model" --input "$work/b.jsonl" --output "$work/b.npy" "${rest[@]}" >/dev/null; } 2>&1 | tail -1)
  awk -v n=$N -v q=$SEQ -v a=$ta -v b=$tb 'BEGIN { printf "xfwd embed, one process: %.0f tokens/s (%d x %d tokens in %.2f s, %d in %.2f s)\n", n * q / (b - a), n, q, a, 2 * n, b }'
else
  "$xfwd" bench --shape "$shape" --batch "$BATCH" --seq "$SEQ" "${rest[@]}" | grep -E "^(throughput|backend)"
fi
