#!/usr/bin/env bash
# faults.sh XFWD GOLDEN_DIR — the command line under faults, as a careful user
# would try it: an interrupted run (SIGINT, SIGTERM) leaves the previous output
# and no temporary file; a full disk (/dev/full, and a small tmpfs where one can
# be mounted) is reported as "no space left on device" and leaves the previous
# output; an input line that cannot be held (over the line limit, a read error)
# is an error naming the line, never a silently shorter output; classify
# --jsonl writes valid JSON whatever the label names hold.
set -u
xfwd=$1
golden=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/xfwd-faults-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fail=1; }
model=$golden/qwen3-tiny
python3 "$here/golden_tool.py" jsonl "$model" "$work/in.jsonl"

# expect_error NAME PATTERN CMD...: non-zero status and one stderr line matching PATTERN
expect_error() {
  local name=$1 pattern=$2; shift 2
  "$@" 2> "$work/err.txt" > /dev/null
  local rc=$?
  if [ $rc -eq 0 ] || [ "$(wc -l < "$work/err.txt")" -ne 1 ] || ! grep -q -- "$pattern" "$work/err.txt"; then
    bad "$name (rc $rc): $(cat "$work/err.txt")"
  else
    ok "$name: rc $rc: $(cat "$work/err.txt")"
  fi
}
# no_temporaries DIR NAME: nothing but the expected files in DIR
no_temporaries() {
  if ls -A "$1" | grep -q '\.tmp-'; then bad "$2: a temporary file was left: $(ls -A "$1")"; fi
}

# ---- interrupted runs: the input is a FIFO nobody writes to, so the run waits
# with its temporary output open; then it gets the signal (SIGBUS: as a truncated
# model file would raise it).
set -m  # background jobs get SIGINT as an interactive shell's would
for sig in INT TERM BUS; do
  d=$work/int-$sig
  mkdir -p "$d"
  echo "previous good output" > "$d/out.npy"
  mkfifo "$d/in.fifo"
  exec 3<> "$d/in.fifo"
  "$xfwd" hidden --model "$model" --input "$d/in.fifo" --output "$d/out.npy" --backend cpu 2> "$d/err.txt" &
  pid=$!
  for _ in $(seq 600); do ls -A "$d" | grep -q '\.tmp-' && break; sleep 0.05; done  # up to 30 s
  ls -A "$d" | grep -q '\.tmp-' || bad "SIG$sig: no temporary output file appeared beside out.npy"
  sleep 0.2
  kill -"$sig" "$pid"
  wait "$pid"
  rc=$?
  exec 3>&-
  if [ $rc -eq 0 ]; then bad "SIG$sig: exit status 0 after the interrupt"; fi
  if [ "$(cat "$d/out.npy")" != "previous good output" ]; then bad "SIG$sig: the previous output was changed"; fi
  no_temporaries "$d" "SIG$sig"
  # SIGBUS is what a model file truncated in the middle of a forward raises: it is named
  if [ "$sig" = BUS ] && ! grep -q "bus error reading a memory-mapped file" "$d/err.txt"; then
    bad "SIGBUS: no message on stderr: $(cat "$d/err.txt")"
  fi
  [ $rc -ne 0 ] && ok "SIG$sig during a run: status $rc, previous output kept, no temporary file"
done
set +m

# ---- a full disk
expect_error "hidden to /dev/full" "no space left on device" \
  "$xfwd" hidden --model "$model" --input "$work/in.jsonl" --output /dev/full --backend cpu
printf '{"text": "hello"}\n' > "$work/text.jsonl"
if [ -s "$here/data/tokenizers/qwen3/tokenizer.json" ]; then
  expect_error "tokenize to /dev/full" "no space left on device" \
    "$xfwd" tokenize --model "$here/data/tokenizers/qwen3" --input "$work/text.jsonl" --output /dev/full
fi
# a small tmpfs (in a private mount namespace) whose one free page the logits overflow
tmpfs_run() {  # the script run with $1 a 8 KiB tmpfs
  if unshare -r -m true 2> /dev/null; then
    unshare -r -m bash -c 'mount -t tmpfs -o size=8k tmpfs "$0" && exec bash -c "$1" "$0"' "$1" "$2"
  else
    return 77
  fi
}
mkdir -p "$work/small"
tmpfs_run "$work/small" "
  printf 'previous good output\n' > \"\$0/out.npy\"
  '$xfwd' logits --model '$model' --input '$work/in.jsonl' --output \"\$0/out.npy\" --backend cpu 2> '$work/err.txt'
  rc=\$?
  [ \$rc -ne 0 ] || { echo 'status 0 on a full tmpfs'; exit 1; }
  grep -q 'no space left on device' '$work/err.txt' || { echo \"message: \$(cat '$work/err.txt')\"; exit 1; }
  [ \"\$(cat \"\$0/out.npy\")\" = 'previous good output' ] || { echo 'previous output changed'; exit 1; }
  ! ls -A \"\$0\" | grep -q '\.tmp-' || { echo 'temporary file left'; exit 1; }
  echo \"\$(cat '$work/err.txt')\""
rc=$?
case $rc in
  0) ok "logits onto a full 8 KiB tmpfs: message named, previous output kept, no temporary file" ;;
  77) echo "skip full tmpfs: no private mount namespace here (unshare -r -m)" ;;
  *) bad "logits onto a full tmpfs" ;;
esac

# capped CMD...: CMD in 1 GB of address space, where the binary can run so (AddressSanitizer
# builds reserve terabytes of shadow memory and cannot: there CMD runs uncapped)
if (ulimit -v 1000000; "$xfwd" --version) > /dev/null 2>&1; then
  capped() { (ulimit -v 1000000; "$@"); }
else
  echo "note: $xfwd cannot run in 1 GB of address space (a sanitizer build?): the memory caps are left out"
  capped() { "$@"; }
fi

# ---- no input line dropped: good lines, a huge line, good lines. The huge line
# (1.5 GB, streamed through a pipe) exceeds the line limit, and memory is capped
# so that holding it whole would fail; either way it must be an error naming line 2.
gen_huge() {
  python3 -c '
import sys
w = sys.stdout.buffer.write
try:
    w(b"[1, 2, 3]\n[" + b"1, " * 4)
    chunk = b"1, " * (1 << 20)
    for _ in range(500): w(chunk)
    w(b"1]\n[4, 5]\n")
except BrokenPipeError:
    pass'
}
out=$(gen_huge | capped "$xfwd" hidden --model "$model" --input /dev/stdin --output "$work/huge.npy" --backend cpu 2>&1 >/dev/null)
rc=$?
if [ $rc -ne 0 ] && echo "$out" | grep -q ':2: ' && [ ! -e "$work/huge.npy" ]; then ok "hidden, huge line 2: rc $rc: $out"
else bad "hidden, huge line 2 (rc $rc): $out"; fi
if [ -s "$here/data/tokenizers/qwen3/tokenizer.json" ]; then
  gen_text() { python3 -c '
import sys
w = sys.stdout.buffer.write
try:
    w(b"{\"text\": \"fine\"}\n{\"text\": \"" + b"a" * (1 << 20))
    for _ in range(1500): w(b"a" * (1 << 20))
    w(b"\"}\n{\"text\": \"also fine\"}\n")
except BrokenPipeError:
    pass'; }
  out=$(gen_text | capped "$xfwd" tokenize --model "$here/data/tokenizers/qwen3" --input /dev/stdin --output "$work/tok.jsonl" 2>&1 >/dev/null)
  rc=$?
  if [ $rc -ne 0 ] && echo "$out" | grep -q ':2: ' && [ ! -e "$work/tok.jsonl" ]; then ok "tokenize, huge line 2: rc $rc: $out"
  else bad "tokenize, huge line 2 (rc $rc): $out"; fi
fi
printf '[1, 2]\n[%s3]\n[4]\n' "$(printf '1, %.0s' $(seq 400))" > "$work/long.jsonl"
expect_error "a line over --max-line-bytes" ":2: line longer than the limit of 1000 bytes" \
  "$xfwd" hidden --model "$model" --input "$work/long.jsonl" --output "$work/long.npy" --max-line-bytes 1000
expect_error "input is a directory (read error)" ":1: read error" \
  "$xfwd" hidden --model "$model" --input "$work" --output "$work/dir.npy"

# ---- classify --jsonl with labels that JSON must escape
cls=$work/cls
mkdir -p "$cls"
ln -s "$golden/qwen3-tiny-cls/model.safetensors" "$cls/model.safetensors"
python3 - "$golden/qwen3-tiny-cls/config.json" "$cls/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
names = ['say "hi"', "two\nlines", "back\\slash \u00e9"]
c["id2label"] = {str(i): n for i, n in enumerate(names)}
c["label2id"] = {n: i for i, n in enumerate(names)}
json.dump(c, open(sys.argv[2], "w"))
PY
python3 "$here/golden_tool.py" jsonl "$golden/qwen3-tiny-cls" "$work/cls.jsonl"
if "$xfwd" classify --model "$cls" --input "$work/cls.jsonl" --output "$work/s.npy" --jsonl "$work/s.jsonl" --backend cpu &&
   python3 - "$work/s.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
names = {'say "hi"', "two\nlines", "back\\slash \u00e9"}
assert len(rows) == 4, rows
for r in rows:
    assert set(r["scores"]) == names, r
    assert r["label"] == max(r["scores"], key=r["scores"].get), r
print(len(rows), "rows, labels round-trip")
PY
then ok "classify --jsonl with quoted and multi-line labels"; else bad "classify --jsonl with quoted and multi-line labels"; fi

# ---- max_position_embeddings of 2^24: no RoPE table for 2^24 positions (2 GiB for this
# model) before any input is seen; the run fits in 1 GB of address space
lc=$work/long-context
mkdir -p "$lc"
ln -s "$model/model.safetensors" "$lc/model.safetensors"
python3 -c '
import json, sys
c = json.load(open(sys.argv[1])); c["max_position_embeddings"] = 1 << 24
json.dump(c, open(sys.argv[2], "w"))' "$model/config.json" "$lc/config.json"
if out=$(capped "$xfwd" hidden --model "$lc" --input "$work/in.jsonl" --output "$work/lc.npy" --backend cpu 2>&1) &&
   cmp=$(python3 "$here/golden_tool.py" compare "$work/lc.npy" "$model" hidden 1e-5 2>&1); then
  ok "max_position_embeddings 2^24 in 1 GB of address space: $cmp"
else bad "max_position_embeddings 2^24 in 1 GB of address space: $out $cmp"; fi

[ $fail -eq 0 ] && echo "faults: all passed"
exit $fail
