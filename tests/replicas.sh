#!/usr/bin/env bash
# replicas.sh XFWD GOLDEN_DIR [BACKEND] — --devices: one engine per listed device,
# chunks filled one per engine, run side by side, written in input order. Two or
# three replicas on one device (0,0 / 0,0,0: what a machine with one GPU, or the
# CPU, can run) give the same bytes as one engine, for every forward command, with
# chunks of uneven sizes, a bad line under --on-error skip, JSONL ids kept in order;
# bad --devices values are refused with one line. BACKEND: cpu (default) or a GPU
# backend; a GPU with several devices is tested with --devices 0,1 by the GPU script.
set -u
xfwd=$1
golden=$(cd "$2" && pwd)
backend=${3:-cpu}
work=$(mktemp -d /tmp/xfwd-replicas-XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$(cd "$(dirname "$0")" && pwd)/check_lib.sh"
# 300 sequences of 1..40 tokens (a fixed pseudo-random sequence), ids echoed
awk 'BEGIN { s = 7; for (i = 0; i < 300; i++) { s = (s * 1103515245 + 12345) % 2147483648; n = 1 + s % 40;
  printf "{\"id\": %d, \"tokens\": [", i; for (k = 0; k < n; k++) { s = (s * 1103515245 + 12345) % 2147483648;
  printf "%s%d", (k ? ", " : ""), s % 250 } print "]}" } }' > "$work/in.jsonl"
run() { "$xfwd" "$@" --backend "$backend" --quiet; }
if [ "$backend" != cpu ] && ! "$xfwd" hidden --model "$golden/qwen3-tiny" --input <(echo '[1, 2]') --output "$work/probe.npy" \
  --backend "$backend" 2> "$work/probe.err"; then
  if grep -qiE "no (vulkan|cuda)|not built|no .*device" "$work/probe.err"; then
    echo "skipped: $(cat "$work/probe.err")"
    exit 77
  fi
fi
for cmd in hidden logits embed; do
  for dev in 0,0 0,0,0; do
    check "$cmd --devices $dev = one engine (npy, chunks of <= 150 tokens)" bash -c "
      $(declare -f run); xfwd='$xfwd' backend='$backend'
      run $cmd --model '$golden/qwen3-tiny' --input '$work/in.jsonl' --output '$work/one.npy' --max-tokens 150 &&
      run $cmd --model '$golden/qwen3-tiny' --input '$work/in.jsonl' --output '$work/rep.npy' --max-tokens 150 --devices $dev &&
      cmp '$work/one.npy' '$work/rep.npy'"
  done
done
check "classify --devices 0,0 = one engine (JSONL with ids and labels, chunks of 7 sequences)" bash -c "
  $(declare -f run); xfwd='$xfwd' backend='$backend'
  run classify --model '$golden/qwen3-tiny-cls' --input '$work/in.jsonl' --output '$work/one.jsonl' --chunk-sequences 7 &&
  run classify --model '$golden/qwen3-tiny-cls' --input '$work/in.jsonl' --output '$work/rep.jsonl' --chunk-sequences 7 --devices 0,0 &&
  cmp '$work/one.jsonl' '$work/rep.jsonl' && [ \$(wc -l < '$work/rep.jsonl') = 300 ] &&
  head -1 '$work/rep.jsonl' | grep -q '\"id\": 0' && tail -1 '$work/rep.jsonl' | grep -q '\"id\": 299'"
# a token id past the vocabulary on line 123: skipped, rows kept aligned, the same report
sed '123s/.*/{"id": 122, "tokens": [1, 99999]}/' "$work/in.jsonl" > "$work/bad.jsonl"
check "--on-error skip with replicas: the same rows and report as one engine" bash -c "
  $(declare -f run); xfwd='$xfwd' backend='$backend'
  run embed --model '$golden/qwen3-tiny' --input '$work/bad.jsonl' --output '$work/one.jsonl' --max-tokens 100 --on-error skip --error-report '$work/r1.jsonl' &&
  run embed --model '$golden/qwen3-tiny' --input '$work/bad.jsonl' --output '$work/rep.jsonl' --max-tokens 100 --on-error skip --error-report '$work/r2.jsonl' --devices 0,0 &&
  cmp '$work/one.jsonl' '$work/rep.jsonl' && cmp '$work/r1.jsonl' '$work/r2.jsonl' && grep -q '\"line\": 123' '$work/r2.jsonl'"
check "a bad line without --on-error skip fails naming the lines, with replicas" bash -c "
  ! '$xfwd' embed --model '$golden/qwen3-tiny' --input '$work/bad.jsonl' --output '$work/x.npy' --max-tokens 100 --backend '$backend' --devices 0,0 2> '$work/err' &&
  grep -q 'bad.jsonl:1[0-9][0-9]' '$work/err' && [ ! -e '$work/x.npy' ]"
check "--verbose names the replicas" bash -c "
  '$xfwd' hidden --model '$golden/qwen3-tiny' --input '$work/in.jsonl' --output '$work/v.npy' --backend '$backend' --devices 0,0 --verbose 2>&1 |
  grep -q '2 engines (replicas) on devices 0,0'"
for v in "0,x" "-1" "" "0,,1" "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17"; do
  check "--devices '$v' refused with one line" bash -c "
    ! '$xfwd' hidden --model '$golden/qwen3-tiny' --input '$work/in.jsonl' --output '$work/x.npy' --devices '$v' 2> '$work/err' &&
    [ \$(wc -l < '$work/err') = 1 ] && grep -q -- '--devices' '$work/err'"
done
if [ "$backend" = cpu ]; then
  check "--devices 0,1 on the CPU: one device only" bash -c "
    ! '$xfwd' hidden --model '$golden/qwen3-tiny' --input '$work/in.jsonl' --output '$work/x.npy' --backend cpu --devices 0,1 2> '$work/err' &&
    grep -q 'device 1' '$work/err'"
fi
check "--devices on a command without engines' replicas is refused" bash -c "
  ! '$xfwd' tokenize --model '$golden/qwen3-tiny' --input '$work/in.jsonl' --output '$work/t.jsonl' --devices 0 2>/dev/null"
check_summary "replicas ($backend)"
