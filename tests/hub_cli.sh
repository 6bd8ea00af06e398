#!/usr/bin/env bash
# hub_cli.sh XFWD HUB_DIR — the command line on Hub folders: `xfwd embed` with no
# flags gives the sentence-transformers pipeline's output, flags override it;
# classify reads the last non-pad token; a headless folder gives hidden states;
# `xfwd rerank --token-ids` gives P(yes) [B]; `xfwd info` reports the pipeline;
# text in with --prompt-name equals the same tokens given as ids.
set -u
xfwd=$1
hub=$2
here=$(cd "$(dirname "$0")" && pwd)
tool="python3 $here/golden_tool.py"
tok=$here/data/hub-tok/tokenizer.json
work=$(mktemp -d /tmp/xfwd-hubcli-XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$here/check_lib.sh"  # ok, bad, check NAME COMMAND..., check_summary
run_cmp() { # run_cmp CASE KEY TOL xfwd-args...: run, then compare OUT.npy with the golden KEY
  local c=$1 key=$2 tol=$3
  shift 3
  "$xfwd" "$@" --model "$hub/$c" --input "$work/$c.jsonl" --output "$work/o.npy" && $tool compare "$work/o.npy" "$hub/$c" "$key" "$tol"
}
for c in st-mean-dense st-last cls-pad headless-untied rerank-yesno; do $tool jsonl "$hub/$c" "$work/$c.jsonl"; done

check "st-mean-dense embed (folder defaults)" run_cmp st-mean-dense st_embed_tokens 1e-5 embed
check "st-last embed (folder defaults)" run_cmp st-last st_embed_tokens 1e-5 embed
check "st-last embed --pooling lasttoken --normalize" run_cmp st-last st_embed_tokens 1e-5 embed --pooling lasttoken --normalize
check "st-mean-dense embed --no-normalize differs" bash -c "'$xfwd' embed --model '$hub/st-mean-dense' --input '$work/st-mean-dense.jsonl' --output '$work/o.npy' --no-normalize && ! $tool compare '$work/o.npy' '$hub/st-mean-dense' st_embed_tokens 1e-3 >/dev/null"
check "st-mean-dense embed --dimensions 8" bash -c "'$xfwd' embed --model '$hub/st-mean-dense' --input '$work/st-mean-dense.jsonl' --output '$work/o.npy' --dimensions 8 && $tool npyshape '$work/o.npy' | grep -q '(5, 8)'"
check "cls-pad classify (last non-pad token)" run_cmp cls-pad cls_logits 1e-5 classify
check "headless-untied hidden" run_cmp headless-untied hidden 1e-5 hidden
check "rerank --token-ids P(yes) [B]" bash -c "'$xfwd' rerank --model '$hub/rerank-yesno' --input '$work/rerank-yesno.jsonl' --token-ids 7,11 --output '$work/r.npy' && $tool npyshape '$work/r.npy' | grep -q '(4,)' && $tool compare '$work/r.npy' '$hub/rerank-yesno' rerank_score 1e-5"
check "rerank --token-ids JSONL" bash -c "'$xfwd' rerank --model '$hub/rerank-yesno' --input '$work/rerank-yesno.jsonl' --token-ids 7,11 --output '$work/r.jsonl' && [ \$(wc -l < '$work/r.jsonl') -eq 4 ] && head -1 '$work/r.jsonl' | grep -q '\"score\"'"
check "info st-mean-dense" bash -c "'$xfwd' info --model '$hub/st-mean-dense' | python3 -c '
import json, sys
d = json.load(sys.stdin); e = d[\"embedding\"]
assert e[\"pooling\"] == \"mean\" and e[\"dense_modules\"] == 1 and e[\"dimensions\"] == 32 and e[\"normalize\"], d
assert e[\"max_seq_length\"] == 512 and d[\"causal\"] and d[\"pad_token_id\"] is None, d
print(\"mean, 1 Dense -> 32, normalize\")'"
check "info cls-pad / headless" bash -c "'$xfwd' info --model '$hub/cls-pad' | grep -q '\"pad_token_id\": 0' && '$xfwd' info --model '$hub/headless-untied' | grep -q '\"has_lm_head\": false'"

# text in, with the tiny tokenizer: --prompt-name = the prompt's text prepended = those ids given directly
m=$work/st-text
python3 "$here/hub_edit.py" copy "$hub/st-mean-dense" "$m" && cp "$tok" "$m/tokenizer.json"
printf '{"text": "yes or no"}\n{"text": "hello"}\n' > "$work/texts.jsonl"
printf '{"text": "query: yes or no"}\n{"text": "query: hello"}\n' > "$work/prompted.jsonl"
check "embed --prompt-name = prompt text prepended" bash -c "
'$xfwd' embed --model '$m' --input '$work/texts.jsonl' --output '$work/p.npy' --prompt-name query --verbose 2>'$work/verbose' &&
'$xfwd' tokenize --model '$m' --input '$work/prompted.jsonl' --output '$work/ids.jsonl' &&
python3 -c 'import json,sys; [print(json.dumps(json.loads(l)[\"ids\"])) for l in open(sys.argv[1])]' '$work/ids.jsonl' > '$work/ids2.jsonl' &&
'$xfwd' embed --model '$m' --input '$work/ids2.jsonl' --output '$work/q.npy' && cmp '$work/p.npy' '$work/q.npy' &&
grep -q 'prompt query = \"query: \"' '$work/verbose' && cat '$work/verbose'"
printf '{"text": "yes", "text_pair": "no"}\n' > "$work/pair.jsonl"
check "text_pair through the pair template" bash -c "'$xfwd' hidden --model '$m' --input '$work/pair.jsonl' --output '$work/h.npy' && $tool npyshape '$work/h.npy' | grep -q '(4, 64)'"
printf '{"text": "a text of more than twelve tokens, surely"}\n' > "$work/long.jsonl"
python3 "$here/hub_edit.py" json "$m/sentence_bert_config.json" 'd["max_seq_length"] = 12'
check "--truncate right to max_seq_length" bash -c "'$xfwd' hidden --model '$m' --input '$work/long.jsonl' --output '$work/h.npy' --truncate right && $tool npyshape '$work/h.npy' | grep -q '(12, 64)'"
r=$work/rr
python3 "$here/hub_edit.py" copy "$hub/rerank-yesno" "$r" && cp "$tok" "$r/tokenizer.json"
printf '{"text": "yes it is"}\n"no, hello"\n' > "$work/docs.jsonl"
check "rerank --query --documents" bash -c "'$xfwd' rerank --model '$r' --query 'what?' --documents '$work/docs.jsonl' --output '$work/s.jsonl' && python3 -c '
import json, sys
s = [json.loads(l)[\"score\"] for l in open(sys.argv[1])]
assert len(s) == 2 and all(0 < x < 1 for x in s), s
print(s)' '$work/s.jsonl'"

check_summary "hub cli"
