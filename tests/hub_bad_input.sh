#!/usr/bin/env bash
# hub_bad_input.sh XFWD HUB_DIR — metadata of Hub folders that xfwd cannot honour
# exactly is refused, never guessed: exit status 1 or 2 (no signal, no hang), one
# line on stderr that names the module, mode, head, tensor or flag at fault.
set -u
xfwd=$1
hub=$2
here=$(cd "$(dirname "$0")" && pwd)
edit="python3 $here/hub_edit.py"
tok=$here/data/hub-tok/tokenizer.json
work=$(mktemp -d /tmp/xfwd-hubbad-XXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0
fail=0
echo '[1, 2, 3]' > "$work/ids.jsonl"

# refuse NAME PATTERN CMD...: CMD must fail with one stderr line matching PATTERN.
refuse() {
  local name=$1 pattern=$2 status lines
  shift 2
  timeout 120 bash -c '"$@"' _ "$@" >"$work/out" 2>"$work/err"
  status=$?
  lines=$(wc -l <"$work/err")
  if [ "$status" -ne 1 ] && [ "$status" -ne 2 ]; then
    echo "FAIL $name: exit status $status: $(head -3 "$work/err")"; fail=$((fail + 1))
  elif [ "$lines" -ne 1 ] || ! grep -qE -e "$pattern" "$work/err"; then
    echo "FAIL $name: want one line matching /$pattern/, got: $(head -3 "$work/err")"; fail=$((fail + 1))
  else
    echo "ok   $name: $(cat "$work/err")"; pass=$((pass + 1))
  fi
}
# case NAME SRC: a writable copy of hub case SRC, path printed
case_copy() { $edit copy "$hub/$2" "$work/$1" && echo "$work/$1"; }
embed() { "$xfwd" embed --model "$1" --input "${2:-$work/ids.jsonl}" --output "$work/o.npy" "${@:3}"; }
export -f embed
export xfwd work

# --- sentence-transformers modules
m=$(case_copy unknown-module st-mean-dense)
$edit json "$m/modules.json" 'd.insert(2, {"idx": 9, "name": "9", "path": "9_LayerNorm", "type": "sentence_transformers.models.LayerNorm"})'
refuse unknown-module 'sentence_transformers.models.LayerNorm' embed "$m"
m=$(case_copy foreign-module st-mean-dense)
$edit json "$m/modules.json" 'd[2]["type"] = "my_package.CustomHead"'
refuse foreign-module 'my_package.CustomHead' embed "$m"
m=$(case_copy dense-shape st-mean-dense)
$edit json "$m/2_Dense/config.json" 'd["out_features"] = 16'
refuse dense-wrong-shape 'linear.weight.*shape' embed "$m"
m=$(case_copy dense-in st-mean-dense)
$edit json "$m/2_Dense/config.json" 'd["in_features"] = 32'
refuse dense-wrong-input 'in_features' embed "$m"
m=$(case_copy dense-act st-mean-dense)
$edit json "$m/2_Dense/config.json" 'd["activation_function"] = "torch.nn.modules.activation.GELU"'
refuse dense-activation 'GELU' embed "$m"
m=$(case_copy dense-pickle st-mean-dense)
rm "$m/2_Dense/model.safetensors"; : > "$m/2_Dense/pytorch_model.bin"
refuse dense-pickled 'pytorch_model.bin' embed "$m"
m=$(case_copy pool-unknown st-mean-dense)
$edit json "$m/1_Pooling/config.json" 'd["pooling_mode_mean_tokens"] = False; d["pooling_mode_median_tokens"] = True'
refuse unknown-pooling-mode 'pooling_mode_median_tokens' embed "$m"
m=$(case_copy pool-weighted st-mean-dense)
$edit json "$m/1_Pooling/config.json" 'd["pooling_mode_mean_tokens"] = False; d["pooling_mode_weightedmean_tokens"] = True'
refuse weightedmean-pooling 'weightedmean' embed "$m"
m=$(case_copy pool-two st-mean-dense)
$edit json "$m/1_Pooling/config.json" 'd["pooling_mode_max_tokens"] = True'
refuse two-pooling-modes 'together' embed "$m"
m=$(case_copy pool-none st-mean-dense)
$edit json "$m/1_Pooling/config.json" 'd["pooling_mode_mean_tokens"] = False'
refuse no-pooling-mode 'no pooling_mode' embed "$m"
m=$(case_copy prompt-default st-mean-dense)
$edit json "$m/config_sentence_transformers.json" 'd["default_prompt_name"] = "classification"'
refuse default-prompt-unknown 'default_prompt_name' embed "$m"
refuse prompt-name-unknown 'nope' embed "$hub/st-mean-dense" "$work/ids.jsonl" --prompt-name nope
refuse dimensions-too-many 'dimensions' embed "$hub/st-mean-dense" "$work/ids.jsonl" --dimensions 33

# --- heads xfwd does not implement, headless checkpoints
m=$(case_copy token-cls cls-pad)
$edit json "$m/config.json" 'd["architectures"] = ["LlamaForTokenClassification"]'
refuse token-classification-head 'TokenClassification' "$xfwd" info --model "$m"
m=$(case_copy reward headless-untied)
$edit json "$m/config.json" 'd["architectures"] = ["Qwen3ForRewardModel"]'
refuse reward-model-architecture 'RewardModel' "$xfwd" info --model "$m"
m=$(case_copy reward-tensors mistral-window)
$edit st "$m/model.safetensors" 'h["score.0.weight"] = h.pop("lm_head.weight")'
refuse unknown-head-tensor "score.0.weight" "$xfwd" hidden --model "$m" --input "$work/ids.jsonl" --output "$work/o.npy"
refuse headless-logits 'lm_head' "$xfwd" logits --model "$hub/headless-untied" --input "$work/ids.jsonl" --output "$work/o.npy"
refuse headless-rerank 'lm_head' "$xfwd" rerank --model "$hub/headless-untied" --input "$work/ids.jsonl" --token-ids 7,11 --output "$work/o.npy"

# --- rerank and text input
refuse rerank-token-ids '--token-ids' "$xfwd" rerank --model "$hub/rerank-yesno" --input "$work/ids.jsonl" --token-ids 7 --output "$work/o.npy"
refuse rerank-token-id-range 'vocabulary' "$xfwd" rerank --model "$hub/rerank-yesno" --input "$work/ids.jsonl" --token-ids 7,300 --output "$work/o.npy"
m=$(case_copy rr-tok rerank-yesno); cp "$tok" "$m/tokenizer.json"
echo '{"text": "a document"}' > "$work/docs.jsonl"
$edit json "$m/config.json" 'd["max_position_embeddings"] = 200'
echo '"a long document that goes on and on and on with many words in it"' > "$work/long-doc.jsonl"
refuse rerank-too-long 'document 0.*truncation' "$xfwd" rerank --model "$m" --query q --documents "$work/long-doc.jsonl" --output "$work/o.jsonl"
refuse rerank-unknown-yes-token 'zzz' "$xfwd" rerank --model "$m" --query q --documents "$work/docs.jsonl" --yes-token zzz --output "$work/o.jsonl"
m=$(case_copy short st-mean-dense); cp "$tok" "$m/tokenizer.json"
$edit json "$m/sentence_bert_config.json" 'd["max_seq_length"] = 4'
echo '{"text": "a text longer than four tokens"}' > "$work/long.jsonl"
refuse text-too-long 'at most 4' embed "$m" "$work/long.jsonl"
refuse bad-truncate '--truncate' embed "$m" "$work/long.jsonl" --truncate middle
echo '{"text": "a", "text_pair": 3}' > "$work/pair.jsonl"
refuse bad-text-pair 'text_pair' embed "$m" "$work/pair.jsonl"

echo "hub bad input: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
