#!/usr/bin/env bash
# cli.sh XFWD GOLDEN_DIR — the command-line contract end to end: info, hidden,
# logits, embed, classify (with labels), adapters applied and merged, each
# output .npy compared with the golden tensor (in f32: --dtype auto may run a BF16
# checkpoint in bf16 on a CPU with bf16 instructions).
set -u
xfwd=$1
golden=$2
here=$(cd "$(dirname "$0")" && pwd)
tool="python3 $here/golden_tool.py"
work=$(mktemp -d /tmp/xfwd-cli-XXXXXX)
trap 'rm -rf "$work"' EXIT
. "$here/check_lib.sh"  # ok, bad, check NAME COMMAND..., check_summary

for c in qwen3-tiny llama-tiny qwen2-tiny-sharded qwen3-hd128-bf16; do
  $tool jsonl "$golden/$c" "$work/$c.jsonl"
  check "$c hidden" bash -c "'$xfwd' hidden --model '$golden/$c' --input '$work/$c.jsonl' --output '$work/h.npy' --backend cpu --dtype f32 && $tool compare '$work/h.npy' '$golden/$c' hidden 1e-5"
  check "$c logits" bash -c "'$xfwd' logits --model '$golden/$c' --input '$work/$c.jsonl' --output '$work/l.npy' --backend cpu --dtype f32 && $tool compare '$work/l.npy' '$golden/$c' logits 1e-5"
  check "$c embed mean" bash -c "'$xfwd' embed --model '$golden/$c' --input '$work/$c.jsonl' --output '$work/e.npy' --pooling mean --normalize --dtype f32 && $tool compare '$work/e.npy' '$golden/$c' pooled_mean 1e-5"
  check "$c embed last" bash -c "'$xfwd' embed --model '$golden/$c' --input '$work/$c.jsonl' --output '$work/e.npy' --normalize --dtype f32 && $tool compare '$work/e.npy' '$golden/$c' pooled_last 1e-5"
done

c=qwen3-tiny-cls
$tool jsonl "$golden/$c" "$work/$c.jsonl"
check "$c classify" bash -c "'$xfwd' classify --model '$golden/$c' --input '$work/$c.jsonl' --output '$work/s.npy' --jsonl '$work/s.jsonl' && $tool compare '$work/s.npy' '$golden/$c' cls_logits 1e-5"
check "$c labels jsonl" python3 -c "
import json, sys
rows = [json.loads(l) for l in open('$work/s.jsonl')]
assert len(rows) == 4, rows
for r in rows:
    assert set(r['scores']) == {'LABEL_0', 'LABEL_1', 'LABEL_2'}, r
    assert r['label'] == max(r['scores'], key=r['scores'].get), r
print(len(rows), 'rows with labels')"

c=qwen3-tiny-lora-qv
$tool jsonl "$golden/$c" "$work/$c.jsonl"
for merge in "" --merge-adapter; do
  check "$c hidden $merge" bash -c "'$xfwd' hidden --model '$golden/$c' --adapter '$golden/$c/adapter' $merge --input '$work/$c.jsonl' --output '$work/h.npy' && $tool compare '$work/h.npy' '$golden/$c' hidden 1e-5"
  check "$c logits $merge" bash -c "'$xfwd' logits --model '$golden/$c' --adapter '$golden/$c/adapter' $merge --input '$work/$c.jsonl' --output '$work/l.npy' && $tool compare '$work/l.npy' '$golden/$c' logits 1e-5"
done

check "info" bash -c "'$xfwd' info --model '$golden/qwen3-hd128-bf16' | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d[\"model_type\"] == \"qwen3\" and d[\"head_dim\"] == 128 and d[\"weight_dtype\"] == \"BF16\", d
print(d[\"architecture\"], d[\"parameters\"], \"parameters\")'"
check "info labels" bash -c "'$xfwd' info --model '$golden/qwen3-tiny-cls' | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d[\"labels\"] == [\"LABEL_0\", \"LABEL_1\", \"LABEL_2\"] and not d[\"has_lm_head\"], d
print(d[\"num_labels\"], \"labels\")'"
# info --verbose: the forward recipe on stderr, one line per op with its kernel; stdout stays one JSON object
lq="$golden/qwen3-tiny-lora-qv"
check "info verbose recipe" bash -c "'$xfwd' info --model '$lq' --verbose --backend cpu --dtype f32 --adapter '$lq/adapter' 2>'$work/r.txt' | python3 -c 'import json, sys; json.load(sys.stdin)' &&
  grep -q '^layers 0-1, x 2 (every layer alike):' '$work/r.txt' &&
  grep -q '^  L\*   attention QKV.* causal *| .*attention' '$work/r.txt' &&
  grep -q '^  L\*   linear .*-> QKV.* lora{q,v} *| .*\\(matmul\\|sgemm\\) x3 (q,k,v) + LoRA' '$work/r.txt' &&
  grep -q '^head (logits: the folder' '$work/r.txt' && ! grep -q 'kernel table not filled' '$work/r.txt' &&
  echo \$(grep -c '^  ' '$work/r.txt') lines || { cat '$work/r.txt'; false; }"
check "info verbose cpu_ref merged" bash -c "'$xfwd' info --model '$lq' --verbose --backend cpu_ref --adapter '$lq/adapter' --merge-adapter 2>&1 >/dev/null |
  grep -q '^  L\*   linear .*-> QKV\[T,256\] qkv *| ref loops'"
check "info verbose classify head" bash -c "'$xfwd' info --model '$golden/qwen3-tiny-cls' --verbose --backend cpu 2>&1 >/dev/null |
  grep -A3 '^head (classify' | grep -q 'linear    POOLED\[B,64\] -> SCORES\[B,3\] score'"
check "bench tiny" bash -c "'$xfwd' bench --shape qwen3-tiny --backend cpu --batch 2 --seq 16 --iters 3 | grep -q 'tokens/s'"
check "help" bash -c "'$xfwd' --help | grep -q 'xfwd hidden\|hidden'"

check_summary "cli"
