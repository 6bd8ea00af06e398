#!/usr/bin/env bash
# bench_cli.sh XFWD TMPDIR — `xfwd bench` on the real-traffic workloads, CPU backend,
# tiny random shape: --mixed, --lengths, a sequence longer than the token budget,
# the RESULT line's counts, and the flag errors.
set -u
xfwd=$1
tmp=$2
fails=0
pass=0
check() {  # check NAME COMMAND...: the command must succeed
  local name=$1
  shift
  if "$@" >"$tmp/out.txt" 2>&1; then
    pass=$((pass + 1))
  else
    fails=$((fails + 1))
    echo "FAIL $name"
    sed 's/^/  /' "$tmp/out.txt"
  fi
}
result() { grep '^RESULT ' "$tmp/out.txt" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
run=("$xfwd" bench --backend cpu --shape qwen3-tiny --threads 1 --iters 1 --warmup 0)

check mixed "${run[@]}" --mixed 12 --max-batch-tokens 2048
if [ "$(result traffic)" != mixed12 ] || [ "$(result seqs)" != 12 ] || [ -z "$(result tok_s)" ]; then
  echo "FAIL mixed RESULT: $(grep RESULT "$tmp/out.txt")"; fails=$((fails + 1))
fi
mixed_tokens=$(result tokens)
# the same 12 lengths written by bench/traffic.py (the peers' copy): the same tokens
rm -f "$tmp/mixed12.txt"
command -v python3 >/dev/null && python3 "$(dirname "$0")/../bench/traffic.py" --mixed 12 >"$tmp/mixed12.txt"
if [ -s "$tmp/mixed12.txt" ]; then
  check lengths-file "${run[@]}" --lengths "$tmp/mixed12.txt" --max-batch-tokens 2048
  [ "$(result tokens)" = "$mixed_tokens" ] || { echo "FAIL lengths file tokens $(result tokens) != $mixed_tokens"; fails=$((fails + 1)); }
  [ "$(result traffic)" = file:mixed12.txt ] || { echo "FAIL lengths name $(result traffic)"; fails=$((fails + 1)); }
fi
# a sequence longer than the budget runs alone; forwards counted
printf '# a comment\n10\n300\n20\n30\n' >"$tmp/long.txt"
check long-alone "${run[@]}" --lengths "$tmp/long.txt" --max-batch-tokens 64
[ "$(result forwards)" = 3 ] && [ "$(result tokens)" = 360 ] ||
  { echo "FAIL long-alone: $(grep RESULT "$tmp/out.txt")"; fails=$((fails + 1)); }
# B x S keeps its RESULT keys
check fixed "${run[@]}" --batch 2 --seq 16
[ "$(result batch)" = 2 ] && [ "$(result seq)" = 16 ] && [ "$(result traffic)" = 2x16 ] ||
  { echo "FAIL fixed: $(grep RESULT "$tmp/out.txt")"; fails=$((fails + 1)); }

expect_fail() {  # expect_fail NAME MESSAGE COMMAND...: exit non-zero with MESSAGE on stderr
  local name=$1 msg=$2
  shift 2
  if "$@" >"$tmp/out.txt" 2>&1; then
    echo "FAIL $name: succeeded"; fails=$((fails + 1))
  elif ! grep -q -- "$msg" "$tmp/out.txt"; then
    echo "FAIL $name: want '$msg'"; sed 's/^/  /' "$tmp/out.txt"; fails=$((fails + 1))
  else
    pass=$((pass + 1))
  fi
}
expect_fail both "give one of" "${run[@]}" --mixed 5 --batch 2
expect_fail both-files "give one of" "${run[@]}" --mixed 5 --lengths "$tmp/long.txt"
expect_fail zero "integer >= 1" "${run[@]}" --mixed 0
expect_fail no-value "needs a value" "${run[@]}" --lengths
expect_fail missing "cannot open" "${run[@]}" --lengths "$tmp/nonexistent.txt"
printf '12\n50000\n' >"$tmp/too-long.txt"
expect_fail too-long "too-long.txt:2: '50000' is not a sequence length" "${run[@]}" --lengths "$tmp/too-long.txt"
echo "$pass passed, $fails failed"
[ "$fails" = 0 ]
