#!/usr/bin/env bash
# cli_stream.sh XFWD GOLDEN_DIR HUB_DIR HUB_TOKENIZER — the forward commands on real
# jobs: chunked streaming gives the same rows as one forward; JSONL output with the
# input's ids; f16 output; tokenize's output as input; stdin / stdout; per-command
# --help and --key=value; a bad line mid-file with and without --on-error skip (an
# error report, rows kept aligned); --truncate on token ids; SIGINT mid-stream leaves
# the old output and no temporary file; the progress line on a terminal only; the
# auto backend / dtype said with --verbose; peak RSS flat as the input grows 16×.
set -u
xfwd=$1
golden=$(cd "$2" && pwd)
hub=$(cd "$3" && pwd)
hubtok=$4
here=$(cd "$(dirname "$0")" && pwd)
tool="python3 $here/golden_tool.py"
work=$(mktemp -d /tmp/xfwd-stream-XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$here/check_lib.sh"
no_temporaries() { ! ls -A "$1" | grep -q '\.tmp-'; }
py=
for p in /usr/bin/python3 python3; do
  if "$p" -c 'import numpy' 2> /dev/null; then py=$p; break; fi
done
[ -n "$py" ] || { echo "skip: no python3 with numpy"; exit 77; }
model=$golden/qwen3-tiny
x() { "$xfwd" "$@" --threads 1; }  # one CPU thread: quick on a loaded machine
$tool jsonl "$model" "$work/in.jsonl"

# ---- chunked = whole: every chunk size gives the golden rows
for chunk in "--max-tokens 4" "--max-tokens 16 --chunk-sequences 1" "--chunk-sequences 2"; do
  check "hidden $chunk" bash -c "'$xfwd' hidden --model '$model' --input '$work/in.jsonl' --output '$work/h.npy' $chunk --threads 1 && $tool compare '$work/h.npy' '$model' hidden 1e-5"
  check "embed mean $chunk" bash -c "'$xfwd' embed --model '$model' --input '$work/in.jsonl' --output '$work/e.npy' --pooling mean --normalize $chunk --threads 1 && $tool compare '$work/e.npy' '$model' pooled_mean 1e-5"
done

# ---- JSONL output with ids, equal to the .npy rows
python3 - "$work/in.jsonl" "$work/ids.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
with open(sys.argv[2], "w") as f:
    for i, r in enumerate(rows):
        f.write(json.dumps({"id": f"doc-{i}", "tokens": r if isinstance(r, list) else r["tokens"]}) + "\n")
PY
# the references with the same chunks (batching moves the last bits)
x embed --model "$model" --input "$work/ids.jsonl" --output "$work/e.npy" --normalize --max-tokens 8
x hidden --model "$model" --input "$work/ids.jsonl" --output "$work/h.npy" --max-tokens 8
check "embed JSONL: ids echoed, rows = .npy" bash -c "'$xfwd' embed --model '$model' --input '$work/ids.jsonl' --output '$work/e.jsonl' --normalize --max-tokens 8 --threads 1 && $py -c '
import json, sys, numpy as np
rows = [json.loads(l) for l in open(sys.argv[1])]
ref = np.load(sys.argv[2])
assert [r[\"id\"] for r in rows] == [f\"doc-{i}\" for i in range(len(ref))], rows
got = np.array([r[\"embedding\"] for r in rows], dtype=np.float32)
assert got.shape == ref.shape and np.abs(got - ref).max() <= 1e-7, np.abs(got - ref).max()
print(len(rows), \"rows\")' '$work/e.jsonl' '$work/e.npy'"
check "hidden --output-format jsonl: one [len, H] per line" bash -c "'$xfwd' hidden --model '$model' --input '$work/ids.jsonl' --output '$work/h.out' --output-format jsonl --max-tokens 8 --threads 1 && $py -c '
import json, sys, numpy as np
rows = [json.loads(l) for l in open(sys.argv[1])]
got = np.concatenate([np.array(r[\"hidden\"], dtype=np.float32) for r in rows])
ref = np.load(sys.argv[2])
assert got.shape == ref.shape and np.abs(got - ref).max() <= 1e-7
print(len(rows), \"sequences,\", got.shape[0], \"rows\")' '$work/h.out' '$work/h.npy'"
c=$golden/qwen3-tiny-cls
$tool jsonl "$c" "$work/cls.jsonl"
check "classify JSONL: label and scores by name" bash -c "'$xfwd' classify --model '$c' --input '$work/cls.jsonl' --output '$work/s.jsonl' --threads 1 && python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 4 and all(r[\"label\"] == max(r[\"scores\"], key=r[\"scores\"].get) for r in rows), rows
print(rows[0][\"label\"])' '$work/s.jsonl'"

# ---- f16 output
check "hidden --output-dtype f16: '<f2', within f16 rounding" bash -c "'$xfwd' hidden --model '$model' --input '$work/in.jsonl' --output '$work/h16.npy' --output-dtype f16 --max-tokens 8 --threads 1 && $py -c '
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
assert a.dtype == np.float16 and a.shape == b.shape, (a.dtype, a.shape)
assert np.array_equal(a, b.astype(np.float16)), np.abs(a.astype(np.float32) - b).max()
print(a.dtype, a.shape)' '$work/h16.npy' '$work/h.npy'"

# ---- tokenize's output is every forward command's input
m=$work/st-text
python3 "$here/hub_edit.py" copy "$hub/st-mean-dense" "$m" && cp "$hubtok" "$m/tokenizer.json"
printf '{"text": "yes or no"}\n{"text": "hello"}\n{"text": "no"}\n' > "$work/texts.jsonl"
check "tokenize output as embed input = text input" bash -c "
'$xfwd' tokenize --model '$m' --input '$work/texts.jsonl' --output '$work/tok.jsonl' &&
'$xfwd' embed --model '$m' --input '$work/tok.jsonl' --output '$work/a.npy' --prompt '' --threads 1 &&
'$xfwd' embed --model '$m' --input '$work/texts.jsonl' --output '$work/b.npy' --prompt '' --threads 1 && cmp '$work/a.npy' '$work/b.npy' &&
'$xfwd' hidden --model '$m' --input '$work/tok.jsonl' --output '$work/c.npy' --threads 1 && head -1 '$work/tok.jsonl'"

# ---- standard input and output
check "stdin to stdout (JSONL) = file to file" bash -c "cat '$work/ids.jsonl' | '$xfwd' embed --model '$model' --input - --output - --normalize --max-tokens 8 --threads 1 > '$work/stdout.jsonl' && cmp '$work/stdout.jsonl' '$work/e.jsonl'"
check ".npy to standard output redirected to a file" bash -c "'$xfwd' hidden --model '$model' --input '$work/in.jsonl' --output - --output-format npy --threads 1 > '$work/so.npy' && $tool compare '$work/so.npy' '$model' hidden 1e-5"
check ".npy to a pipe refused, naming the way out" bash -c "! '$xfwd' hidden --model '$model' --input '$work/in.jsonl' --output - --output-format npy 2>'$work/err' | cat > /dev/null; grep -q 'output-format jsonl' '$work/err' && cat '$work/err'"

# ---- --help per command, --key=value
for cmd in hidden logits embed classify rerank tokenize detokenize info bench; do
  "$xfwd" "$cmd" --help > "$work/help.txt" 2>&1 && grep -q "usage: xfwd $cmd" "$work/help.txt" || bad "xfwd $cmd --help"
done
for flag in --on-error --error-report --output-format --output-dtype --truncate --quiet --chunk-sequences --max-tokens --dtype --backend; do
  "$xfwd" embed --help | grep -q -- "$flag" || bad "xfwd embed --help lacks $flag"
done
ok "--help of every command, with every forward flag"
check "--key=value everywhere" bash -c "'$xfwd' embed --model='$model' --input='$work/in.jsonl' --output='$work/kv.npy' --pooling=mean --normalize --max-tokens=8 --backend=cpu --dtype=f32 --threads=1 && $tool compare '$work/kv.npy' '$model' pooled_mean 1e-5"
check "--normalize=x refused" bash -c "! '$xfwd' embed --model='$model' --input='$work/in.jsonl' --output='$work/kv.npy' --normalize=yes 2>'$work/err' && grep -q 'takes no value' '$work/err'"

# ---- a bad line mid-file
python3 - "$work/in.jsonl" "$work/bad.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
rows = [r if isinstance(r, list) else r["tokens"] for r in rows]
lines = [json.dumps({"id": i, "tokens": r}) for i, r in enumerate(rows)]
lines.insert(2, '{"id": "broken", "tokens": [1, 2')          # line 3: invalid JSON
lines.insert(4, json.dumps({"id": "oov", "tokens": [1, 999]}))  # line 5: outside the vocabulary
lines.insert(5, json.dumps({"id": "long", "tokens": [7] * 600}))  # line 6: over --max-line-bytes
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
PY
echo "previous output" > "$work/keep.npy"
if "$xfwd" embed --model "$model" --input "$work/bad.jsonl" --output "$work/keep.npy" --threads 1 --max-line-bytes 1500 2> "$work/err"; then
  bad "a bad line without --on-error skip: status 0"
elif grep -q 'bad.jsonl:3: invalid JSON' "$work/err" && [ "$(cat "$work/keep.npy")" = "previous output" ] && no_temporaries "$work"; then
  ok "a bad line stops the run, naming line 3; the old output kept: $(cat "$work/err")"
else bad "a bad line: $(cat "$work/err")"; fi
check "--on-error skip: report, NaN rows aligned" bash -c "'$xfwd' embed --model '$model' --input '$work/bad.jsonl' --output '$work/skip.npy' --normalize --on-error skip --error-report '$work/report.jsonl' --max-line-bytes 1500 --max-tokens 8 --threads 1 2>'$work/err' && $py -c '
import json, sys, numpy as np
rep = [json.loads(l) for l in open(sys.argv[1])]
assert [r[\"line\"] for r in rep] == [3, 5, 6], rep
assert \"invalid JSON\" in rep[0][\"error\"] and \"vocabulary\" in rep[1][\"error\"] and \"line longer\" in rep[2][\"error\"], rep
assert all(\":%d:\" % r[\"line\"] in r[\"error\"] for r in rep), rep
got, ref = np.load(sys.argv[2]), np.load(sys.argv[3])
assert got.shape[0] == ref.shape[0] + 3
bad = [2, 4, 5]
assert np.isnan(got[bad]).all()
assert np.abs(np.delete(got, bad, axis=0) - ref).max() <= 1e-6
print(open(sys.argv[4]).read().strip())' '$work/report.jsonl' '$work/skip.npy' '$work/e.npy' '$work/err'"
check "--on-error skip, JSONL: an error line in place, ids kept" bash -c "'$xfwd' embed --model '$model' --input '$work/bad.jsonl' --output '$work/skip.jsonl' --on-error skip --max-line-bytes 1500 --threads 1 2>'$work/err' && python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 7, len(rows)
assert [(\"error\" in r) for r in rows] == [False, False, True, False, True, True, False], rows
assert rows[4][\"id\"] == \"oov\" and rows[3][\"id\"] == 2 and \"bad.jsonl:5:\" in rows[4][\"error\"], rows[4]
print(rows[2][\"error\"])' '$work/skip.jsonl' && grep -q 'bad.jsonl:6: line longer' '$work/err'"

# ---- --truncate on token ids
short=$work/short
mkdir -p "$short"
ln -s "$model/model.safetensors" "$short/model.safetensors"
python3 -c '
import json, sys
c = json.load(open(sys.argv[1])); c["max_position_embeddings"] = 16
json.dump(c, open(sys.argv[2], "w"))' "$model/config.json" "$short/config.json"
python3 -c 'print(list(range(20))); print(list(range(4, 20)))' > "$work/long.jsonl"
check "token ids over the limit: an error without --truncate" bash -c "! '$xfwd' hidden --model '$short' --input '$work/long.jsonl' --output '$work/t.npy' 2>'$work/err' && grep -q 'long.jsonl:1: 20 tokens; the model allows at most 16' '$work/err'"
check "--truncate left keeps the last ids, right the first" bash -c "
'$xfwd' hidden --model '$short' --input '$work/long.jsonl' --output '$work/l.npy' --truncate left --threads 1 &&
'$xfwd' hidden --model '$short' --input '$work/long.jsonl' --output '$work/r.npy' --truncate=right --threads 1 && $py -c '
import sys, numpy as np
l, r = np.load(sys.argv[1]), np.load(sys.argv[2])
assert l.shape == r.shape == (32, 64), (l.shape, r.shape)
assert np.allclose(l[:16], l[16:], atol=1e-5) and not np.allclose(r[:16], r[16:], atol=1e-3)
print(l.shape)' '$work/l.npy' '$work/r.npy'"

# ---- SIGINT mid-stream: rows already written, the old output kept, no temporary file
d=$work/int
mkdir -p "$d"
echo "previous good output" > "$d/out.npy"
mkfifo "$d/in.fifo"
set -m  # the background job gets SIGINT as an interactive shell's would
"$xfwd" hidden --model "$model" --input "$d/in.fifo" --output "$d/out.npy" --chunk-sequences 1 --threads 1 2> /dev/null &
pid=$!
exec 3> "$d/in.fifo"
head -3 "$work/in.jsonl" >&3  # three chunks' rows written, the input still open
grown=0
for _ in $(seq 200); do
  tmp=$(ls -A "$d" | grep '\.tmp-' | head -1)
  if [ -n "$tmp" ] && [ "$(stat -c %s "$d/$tmp" 2>/dev/null || echo 0)" -gt 128 ]; then grown=1; break; fi
  sleep 0.05
done
kill -INT "$pid"
wait "$pid"
rc=$?
exec 3>&-
set +m
if [ $grown -eq 1 ] && [ $rc -ne 0 ] && [ "$(cat "$d/out.npy")" = "previous good output" ] && no_temporaries "$d"; then
  ok "SIGINT mid-stream (rows written to the temporary file): status $rc, old output kept, no temporary file"
else bad "SIGINT mid-stream: rows written $grown, status $rc, out.npy: $(head -c 40 "$d/out.npy"), dir: $(ls -A "$d")"; fi

# ---- the progress line: on a terminal, not in a file, not with --quiet
if command -v script > /dev/null; then
  script -qec "'$xfwd' embed --model '$model' --input '$work/in.jsonl' --output '$work/p.npy' --threads 1" /dev/null > "$work/tty.txt" 2>&1
  script -qec "'$xfwd' embed --model '$model' --input '$work/in.jsonl' --output '$work/p.npy' --threads 1 --quiet" /dev/null > "$work/ttyq.txt" 2>&1
  "$xfwd" embed --model "$model" --input "$work/in.jsonl" --output "$work/p.npy" --threads 1 2> "$work/notty.txt"
  if grep -q 'xfwd embed: 4 sequences, [0-9]* tokens, [0-9]* tokens/s' "$work/tty.txt" && ! grep -q tokens/s "$work/ttyq.txt" &&
     [ ! -s "$work/notty.txt" ]; then ok "progress line on a terminal only: $(tr '\r' '\n' < "$work/tty.txt" | grep tokens/s | tail -1)"
  else bad "progress line: tty '$(cat -v "$work/tty.txt")', quiet '$(cat -v "$work/ttyq.txt")', file '$(cat "$work/notty.txt")'"; fi
else
  echo "skip progress line: no script(1) to give a terminal"
fi

# ---- --backend auto / --dtype auto say what they chose
check "--verbose: auto backend and dtype (bf16 checkpoint on the CPU: f32, or bf16 with bf16 instructions)" bash -c "
'$xfwd' hidden --model '$golden/qwen3-hd128-bf16' --input '$work/in.jsonl' --output '$work/v.npy' --verbose --threads 1 2>'$work/err' &&
grep -Eq 'backend (cpu \(auto: no CUDA GPU, no Vulkan GPU\), dtype (f32|bf16)|cuda .*dtype bf16|vulkan .*dtype bf16) \(--dtype auto\)' '$work/err' && cat '$work/err'"
check "--backend cpu --dtype auto: f32" bash -c "'$xfwd' logits --model '$golden/qwen3-hd128-bf16' --input '$work/in.jsonl' --output '$work/v.npy' --backend cpu --verbose --threads 1 2>&1 | grep -Eq 'backend cpu, dtype (f32|bf16) \(--dtype auto\)'"
check "--backend cpu --dtype auto on an f32 checkpoint: f32" bash -c "'$xfwd' hidden --model '$model' --input '$work/in.jsonl' --output '$work/v.npy' --backend cpu --verbose --threads 1 2>&1 | grep -q 'backend cpu, dtype f32 (--dtype auto)'"

# ---- memory bounded by the chunk: peak RSS flat as the input grows 16x
python3 - "$work" <<'PY'
import random, sys
random.seed(7)
line = lambda i: '{"id": %d, "tokens": [%s]}\n' % (i, ", ".join(str(random.randrange(256)) for _ in range(32)))
lines = [line(i) for i in range(1000)]
open(sys.argv[1] + "/m1.jsonl", "w").writelines(lines)
open(sys.argv[1] + "/m16.jsonl", "w").writelines(lines * 16)
PY
rss() { /usr/bin/time -f %M "$xfwd" embed --model "$model" --input "$1" --output "$work/m.npy" --max-tokens 256 --threads 1 2>&1 >/dev/null | tail -1; }
if [ -x /usr/bin/time ]; then
  r1=$(rss "$work/m1.jsonl")
  r16=$(rss "$work/m16.jsonl")
  rows=$($tool npyshape "$work/m.npy")
  if [ "$r16" -le $((r1 + 4096)) ] && [ "$r16" -le 524288 ] && echo "$rows" | grep -q '16000, 64'; then
    ok "peak RSS: 32k tokens $r1 KiB, 512k tokens $r16 KiB (bound: +4 MiB), output $rows"
  else bad "peak RSS: 32k tokens $r1 KiB, 512k tokens $r16 KiB, output $rows"; fi
else
  echo "skip peak RSS: no /usr/bin/time"
fi

check_summary "cli stream"
