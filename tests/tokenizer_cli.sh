#!/usr/bin/env bash
# tokenizer_cli.sh XFWD TOKENIZERS_DIR TOKENIZER_DATA — `xfwd tokenize` and
# `xfwd detokenize` on the reference lines of the three real tokenizers: ids with and
# without --no-special and the decoded text must match exactly; bad input must fail
# with one line naming the file and line. Skipped (77) when the tokenizers are absent.
set -u
xfwd=$1
toks=$2
data=$3
if [ ! -s "$toks/qwen3/tokenizer.json" ]; then
  echo "skipped: $toks/qwen3/tokenizer.json not fetched (scripts/fetch-tokenizers.sh)"
  exit 77
fi
work=$(mktemp -d /tmp/xfwd-tokcli-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail=0
for name in qwen3 llama3 llama2; do
  if [ ! -s "$toks/$name/tokenizer.json" ]; then echo "FAIL: $toks/$name/tokenizer.json missing"; fail=1; continue; fi
  python3 - "$data/$name.jsonl" "$work" <<'PY' || { fail=1; continue; }
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
w = sys.argv[2]
with open(w + "/text.jsonl", "w", encoding="utf-8") as f:
    for r in rows: f.write(json.dumps({"text": r["text"]}, ensure_ascii=False) + "\n")
with open(w + "/ids.jsonl", "w") as f:
    for i, r in enumerate(rows):  # both accepted forms
        f.write(json.dumps(r["ids"] if i % 2 else {"ids": r["ids"]}) + "\n")
PY
  "$xfwd" tokenize --tokenizer "$toks/$name/tokenizer.json" --input "$work/text.jsonl" --output "$work/special.jsonl" || fail=1
  "$xfwd" tokenize --model "$toks/$name" --input "$work/text.jsonl" --output "$work/plain.jsonl" --no-special || fail=1
  "$xfwd" detokenize --model "$toks/$name" --input "$work/ids.jsonl" --output "$work/decoded.jsonl" || fail=1
  python3 - "$data/$name.jsonl" "$work" "$name" <<'PY' || fail=1
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
w, name = sys.argv[2], sys.argv[3]
def load(p): return [json.loads(l) for l in open(w + "/" + p, encoding="utf-8")]
special, plain, decoded = load("special.jsonl"), load("plain.jsonl"), load("decoded.jsonl")
bad = 0
for key, got, field in (("ids_special", special, "ids"), ("ids", plain, "ids"), ("decoded", decoded, "text")):
    n = sum(g.get(field) != r[key] for g, r in zip(got, rows)) + abs(len(got) - len(rows))
    print(f"{name} {key}: {len(rows)} lines, {n} differ")
    bad += n
sys.exit(1 if bad else 0)
PY
done
# bad input: one line on stderr naming the file and line, non-zero status
expect_error() {  # expect_error PATTERN CMD...
  local pattern=$1; shift
  "$@" 2> "$work/err.txt" > /dev/null
  local rc=$?
  if [ $rc -eq 0 ] || [ "$(wc -l < "$work/err.txt")" -ne 1 ] || ! grep -q -- "$pattern" "$work/err.txt"; then
    echo "FAIL (rc $rc): $* -> $(cat "$work/err.txt")"; fail=1
  else
    echo "ok   rc $rc: $(cat "$work/err.txt")"
  fi
}
tj=$toks/qwen3/tokenizer.json
printf '{"text": "fine"}\n{"text": 3}\n' > "$work/badtext.jsonl"
printf '{"text": "fine"}\n\n{"text": broken\n' > "$work/badjson.jsonl"
printf '[1, 2]\n{"ids": [1, 99999999]}\n' > "$work/badid.jsonl"
printf '[1, -2]\n' > "$work/negid.jsonl"
printf '{"text": "x"}\n' > "$work/ok.jsonl"
expect_error "badtext.jsonl:2" "$xfwd" tokenize --tokenizer "$tj" --input "$work/badtext.jsonl" --output "$work/o.jsonl"
expect_error "badjson.jsonl:3" "$xfwd" tokenize --tokenizer "$tj" --input "$work/badjson.jsonl" --output "$work/o.jsonl"
expect_error "badid.jsonl:2" "$xfwd" detokenize --tokenizer "$tj" --input "$work/badid.jsonl" --output "$work/o.jsonl"
expect_error "negid.jsonl:1" "$xfwd" detokenize --tokenizer "$tj" --input "$work/negid.jsonl" --output "$work/o.jsonl"
expect_error "absent.jsonl" "$xfwd" tokenize --tokenizer "$tj" --input "$work/absent.jsonl" --output "$work/o.jsonl"
expect_error "nowhere/tokenizer.json" "$xfwd" tokenize --model "$work/nowhere" --input "$work/ok.jsonl" --output "$work/o.jsonl"
expect_error "exactly one of" "$xfwd" tokenize --input "$work/ok.jsonl" --output "$work/o.jsonl"
expect_error "unknown option" "$xfwd" detokenize --tokenizer "$tj" --input "$work/ok.jsonl" --output "$work/o.jsonl" --no-special
if [ -e "$work/o.jsonl" ]; then echo "FAIL: a failed run left its output behind"; fail=1; fi
echo "tokenizer cli: $([ $fail -eq 0 ] && echo '1 passed, 0 failed' || echo '0 passed, 1 failed')"
exit $fail
