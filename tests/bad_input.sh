#!/usr/bin/env bash
# bad_input.sh XFWD GOLDEN_DIR — the bad-input suite: every malformed or
# inconsistent input of DESIGN.md's list must give exit status 1 or 2 (never a
# signal, never 0), exactly one line on stderr naming what is wrong, no
# sanitizer report, and no hang.
set -u
xfwd=$1
golden=$2
work=$(mktemp -d /tmp/xfwd-bad-XXXXXX)
trap 'rm -rf "$work"' EXIT
pass=0
fail=0
good=$golden/qwen3-tiny
echo '[1, 2, 3]' > "$work/ok.jsonl"

# expect NAME PATTERN -- command...: the command must fail cleanly with PATTERN in its one line.
expect() {
  local name=$1 pattern=$2
  shift 3
  local err=$work/stderr out=$work/stdout status
  timeout 120 bash -c '"$@"' _ "$@" >"$out" 2>"$err"
  status=$?
  local lines
  lines=$(wc -l <"$err")
  if [ "$status" -eq 0 ] || [ "$status" -ge 124 ]; then
    echo "FAIL $name: exit status $status"; fail=$((fail + 1))
  elif grep -qE 'Sanitizer|runtime error|Segmentation|Aborted' "$err"; then
    echo "FAIL $name: crash or sanitizer report:"; head -5 "$err"; fail=$((fail + 1))
  elif [ "$lines" -ne 1 ]; then
    echo "FAIL $name: $lines lines on stderr:"; head -5 "$err"; fail=$((fail + 1))
  elif ! grep -qiE -e "$pattern" "$err"; then
    echo "FAIL $name: message lacks /$pattern/: $(cat "$err")"; fail=$((fail + 1))
  else
    echo "ok   $name: $(cat "$err")"; pass=$((pass + 1))
  fi
}

# model_copy NAME: a writable copy of the good model
model_copy() { rm -rf "$work/$1"; cp -r "$good" "$work/$1"; chmod -R u+w "$work/$1"; echo "$work/$1"; }
# edit_json FILE PYTHON-EXPR-ON-d: rewrites a JSON file
edit_json() { python3 - "$1" "$2" <<'PY'
import json, sys
path, expr = sys.argv[1], sys.argv[2]
d = json.load(open(path))
exec(expr)
json.dump(d, open(path, "w"))
PY
}
# edit_st FILE PYTHON: rewrites a safetensors header (h: dict) and/or raw bytes (data)
edit_st() { python3 - "$1" "$2" <<'PY'
import json, struct, sys
path, code = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n]); data = raw[8 + n:]
prefix = None
exec(code)
if prefix is None:
    hb = json.dumps(h).encode(); hb += b" " * (-len(hb) % 8)
    prefix = struct.pack("<Q", len(hb)) + hb
open(path, "wb").write(prefix + data)
PY
}
run_hidden() { "$xfwd" hidden --model "$1" --input "${2:-$work/ok.jsonl}" --output "$work/out.npy" "${@:3}"; }
export -f run_hidden
export xfwd work

# --- model folders and config.json
expect missing-folder "nonexistent" -- run_hidden "$work/nonexistent"
m=$(model_copy noconfig); rm "$m/config.json"
expect missing-config "config.json" -- run_hidden "$m"
m=$(model_copy brokenjson); echo '{"model_type": "qwen3",' > "$m/config.json"
expect broken-config-json "invalid JSON" -- run_hidden "$m"
m=$(model_copy gpt2); edit_json "$m/config.json" 'd["model_type"] = "gpt2"'
expect unknown-architecture "not supported" -- run_hidden "$m"
m=$(model_copy yarn); edit_json "$m/config.json" 'd["rope_parameters"] = {"rope_type": "yarn", "factor": 4.0, "rope_theta": 1e6}'
expect unsupported-rope-scaling "yarn" -- run_hidden "$m"
m=$(model_copy sliding); edit_json "$m/config.json" 'd["is_causal"] = False; d["use_sliding_window"] = True; d["sliding_window"] = 8; d["layer_types"] = ["sliding_attention"] * d["num_hidden_layers"]'
expect bidirectional-sliding-window "sliding window" -- run_hidden "$m"
m=$(model_copy layertype); edit_json "$m/config.json" 'd["layer_types"][0] = "chunked_attention"'
expect unknown-layer-type "layer_types" -- run_hidden "$m"
m=$(model_copy nohidden); edit_json "$m/config.json" 'del d["hidden_size"]'
expect missing-config-field "hidden_size" -- run_hidden "$m"
m=$(model_copy badheads); edit_json "$m/config.json" 'd["num_key_value_heads"] = 3'
expect inconsistent-heads "num_key_value_heads" -- run_hidden "$m"
m=$(model_copy wrongsize); edit_json "$m/config.json" 'd["hidden_size"] = 80'
expect config-disagrees-with-tensors "shape" -- run_hidden "$m"

# --- safetensors files
m=$(model_copy truncated); f=$m/model.safetensors; head -c $(( $(stat -c %s "$f") / 2 )) "$f" > "$f.t"; mv "$f.t" "$f"
expect truncated-file "outside the data block|truncated" -- run_hidden "$m"
m=$(model_copy tiny); head -c 5 "$good/model.safetensors" > "$m/model.safetensors"
expect file-shorter-than-header "truncated" -- run_hidden "$m"
m=$(model_copy hugeheader); edit_st "$m/model.safetensors" 'prefix = struct.pack("<Q", 1 << 60) + raw[8:8 + n]'
expect lying-header-length "header length" -- run_hidden "$m"
m=$(model_copy notjson); edit_st "$m/model.safetensors" 'prefix = struct.pack("<Q", 8) + b"nonsense"; data = b""'
expect header-not-json "not valid JSON" -- run_hidden "$m"
m=$(model_copy offsets); edit_st "$m/model.safetensors" 'k = "model.norm.weight"; h[k]["data_offsets"] = [len(data), len(data) + 256]'
expect offsets-outside-file "outside the data block" -- run_hidden "$m"
m=$(model_copy dtype); edit_st "$m/model.safetensors" 'h["model.norm.weight"]["dtype"] = "F7"'
expect unknown-dtype "unknown dtype" -- run_hidden "$m"
m=$(model_copy intdtype); edit_st "$m/model.safetensors" 'h["model.norm.weight"]["dtype"] = "I32"'
expect integer-weights "dtype I32" -- run_hidden "$m"
m=$(model_copy missingtensor); edit_st "$m/model.safetensors" 'del h["model.layers.1.mlp.up_proj.weight"]'
expect missing-tensor "missing tensor" -- run_hidden "$m"
m=$(model_copy misshaped); edit_st "$m/model.safetensors" 'e = h["model.layers.0.self_attn.o_proj.weight"]; e["shape"] = [e["shape"][1], e["shape"][0]]'
expect misshaped-tensor "has shape" -- run_hidden "$m"
m=$(model_copy sizelie); edit_st "$m/model.safetensors" 'e = h["model.norm.weight"]; e["shape"] = [e["shape"][0] * 4]'
expect shape-vs-bytes "need" -- run_hidden "$m"
m=$(model_copy noweights); rm "$m/model.safetensors"
expect no-weights-file "model.safetensors" -- run_hidden "$m"

# --- sharded checkpoints
s=$work/shard-missing; cp -r "$golden/qwen2-tiny-sharded" "$s"; chmod -R u+w "$s"; rm "$s/model-00003-of-00004.safetensors"
expect missing-shard "missing" -- run_hidden "$s"
s=$work/shard-index; cp -r "$golden/qwen2-tiny-sharded" "$s"; chmod -R u+w "$s"; echo '{"weight_map": ' > "$s/model.safetensors.index.json"
expect broken-index "invalid JSON" -- run_hidden "$s"
s=$work/shard-escape; cp -r "$golden/qwen2-tiny-sharded" "$s"; chmod -R u+w "$s"
edit_json "$s/model.safetensors.index.json" 'd["weight_map"]["model.norm.weight"] = "../../etc/passwd"'
expect shard-path-escape "plain file name" -- run_hidden "$s"

# --- token input
echo '[1, 2, 256]' > "$work/vocab.jsonl"
expect token-id-at-vocab "vocabulary" -- run_hidden "$good" "$work/vocab.jsonl"
echo '[1, -2]' > "$work/neg.jsonl"
expect negative-token-id "non-negative" -- run_hidden "$good" "$work/neg.jsonl"
printf '[1, 2]\n[]\n' > "$work/empty.jsonl"
expect empty-sequence "empty sequence" -- run_hidden "$good" "$work/empty.jsonl"
python3 -c 'print(list(range(20)))' > "$work/long.jsonl"
m=$(model_copy short); edit_json "$m/config.json" 'd["max_position_embeddings"] = 16'
expect sequence-too-long "at most 16" -- run_hidden "$m" "$work/long.jsonl"
printf '[1, 2]\n[3, 4\n' > "$work/badline.jsonl"
expect input-broken-json "badline.jsonl:2" -- run_hidden "$good" "$work/badline.jsonl"
echo '["a", "b"]' > "$work/strings.jsonl"
expect input-not-ids "not a non-negative integer" -- run_hidden "$good" "$work/strings.jsonl"
echo '{"input_ids": [1]}' > "$work/noseq.jsonl"
expect input-wrong-object "expected a JSON array" -- run_hidden "$good" "$work/noseq.jsonl"
: > "$work/nothing.jsonl"
expect input-empty-file "no sequences" -- run_hidden "$good" "$work/nothing.jsonl"
expect input-missing "cannot open" -- run_hidden "$good" "$work/absent.jsonl"
echo '[4294967296]' > "$work/big.jsonl"
expect token-id-overflow "non-negative integer" -- run_hidden "$good" "$work/big.jsonl"

# --- command line and outputs
expect output-unwritable "cannot write" -- "$xfwd" hidden --model "$good" --input "$work/ok.jsonl" --output "$work/no/such/dir/out.npy"
expect bad-dtype "--dtype" -- "$xfwd" hidden --model "$good" --input "$work/ok.jsonl" --output "$work/o.npy" --dtype f8
expect bad-backend "--backend" -- "$xfwd" hidden --model "$good" --input "$work/ok.jsonl" --output "$work/o.npy" --backend tpu
expect unknown-option "unknown option" -- "$xfwd" hidden --model "$good" --frobnicate 1
expect missing-required "required" -- "$xfwd" logits --model "$good"
expect cpu-f16 "f32" -- "$xfwd" hidden --model "$good" --input "$work/ok.jsonl" --output "$work/o.npy" --backend cpu --dtype f16
expect logits-without-lm-head "no lm_head" -- "$xfwd" logits --model "$golden/qwen3-tiny-cls" --input "$work/ok.jsonl" --output "$work/o.npy"
expect classify-causal-lm "classification" -- "$xfwd" classify --model "$good" --input "$work/ok.jsonl" --output "$work/o.npy"
expect adapter-missing "adapter" -- "$xfwd" hidden --model "$good" --input "$work/ok.jsonl" --output "$work/o.npy" --adapter "$work/noadapter"
expect adapter-other-model "shape|architecture|model" -- "$xfwd" hidden --model "$golden/llama-tiny" --input "$work/ok.jsonl" --output "$work/o.npy" --adapter "$golden/qwen3-tiny-lora-qv/adapter"
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  expect cuda-without-gpu "cuda|gpu|device" -- "$xfwd" hidden --model "$good" --input "$work/ok.jsonl" --output "$work/o.npy" --backend cuda
else
  echo "skip cuda-without-gpu: a GPU is present"
fi
expect vulkan-without-device "vulkan" -- env VK_ICD_FILENAMES=/nonexistent.json VK_DRIVER_FILES=/nonexistent.json "$xfwd" hidden --model "$good" --input "$work/ok.jsonl" --output "$work/o.npy" --backend vulkan
expect bench-unknown-shape "unknown shape" -- "$xfwd" bench --shape qwen3-99b --backend cpu

echo "bad input: $pass passed, $fail failed"
[ "$fail" -eq 0 ] && [ "$pass" -ge 20 ]
