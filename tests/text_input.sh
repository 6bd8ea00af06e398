#!/usr/bin/env bash
# text_input.sh XFWD TOKENIZERS_DIR TOKENIZER_DATA — text goes straight in: on a
# small random checkpoint that carries the real Qwen3 tokenizer.json,
# {"text": ...} input lines through `xfwd hidden` and `xfwd embed` must give
# exactly the bytes that the reference token ids give, and `xfwd tokenize` must
# reproduce the reference ids. Skipped (77) when the tokenizers were not fetched.
set -u
xfwd=$1
toks=$2
data=$3
here=$(cd "$(dirname "$0")" && pwd)
tokjson=$toks/qwen3/tokenizer.json
if [ ! -s "$tokjson" ]; then
  echo "skipped: $tokjson not fetched (scripts/fetch-tokenizers.sh)"
  exit 77
fi
work=$(mktemp -d /tmp/xfwd-text-XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/model"
python3 "$here/make_text_model.py" "$work/model" "$tokjson" || exit 1
# the first 40 reference lines: text in, ids_special as the expected tokens
python3 - "$data/qwen3.jsonl" "$work" <<'PY' || exit 1
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])][:40]
rows = [r for r in rows if r["ids_special"]]
w = sys.argv[2]
with open(w + "/text.jsonl", "w") as f:
    for r in rows: f.write(json.dumps({"text": r["text"]}) + "\n")
with open(w + "/ids.jsonl", "w") as f:
    for r in rows: f.write(json.dumps(r["ids_special"]) + "\n")
PY
fail=0
run() { if ! "$@"; then echo "FAIL: $*"; fail=1; fi; }
run "$xfwd" tokenize --model "$work/model" --input "$work/text.jsonl" --output "$work/tok.jsonl"
run python3 - "$work/tok.jsonl" "$work/ids.jsonl" <<'PY'
import json, sys
got = [json.loads(l)["ids"] for l in open(sys.argv[1])]
want = [json.loads(l) for l in open(sys.argv[2])]
bad = sum(g != w for g, w in zip(got, want)) + abs(len(got) - len(want))
print(f"tokenize: {len(want)} lines, {bad} differ")
sys.exit(1 if bad else 0)
PY
for cmd in hidden "embed --pooling mean --normalize"; do
  run "$xfwd" $cmd --model "$work/model" --input "$work/text.jsonl" --output "$work/text.npy" --backend cpu
  run "$xfwd" $cmd --model "$work/model" --input "$work/ids.jsonl" --output "$work/ids.npy" --backend cpu
  if cmp -s "$work/text.npy" "$work/ids.npy"; then echo "ok   $cmd: text input = token input ($(python3 "$here/golden_tool.py" npyshape "$work/text.npy"))"
  else echo "FAIL $cmd: text input differs from token input"; fail=1; fi
done
echo "text input: $([ $fail -eq 0 ] && echo '1 passed, 0 failed' || echo '0 passed, 1 failed')"
exit $fail
