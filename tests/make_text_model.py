#!/usr/bin/env python3
"""make_text_model.py DIR TOKENIZER_JSON — writes a small random Qwen3 checkpoint
whose vocabulary fits a real tokenizer (151,936 ids), with that tokenizer.json
beside it, so text input can be tested end to end. Standard library only."""
import array, json, random, shutil, struct, sys

out, tok = sys.argv[1], sys.argv[2]
H, I, L, NH, NKV, D, V = 32, 48, 1, 2, 1, 16, 151936
config = {
    "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": H,
    "intermediate_size": I, "num_hidden_layers": L, "num_attention_heads": NH,
    "num_key_value_heads": NKV, "head_dim": D, "vocab_size": V, "max_position_embeddings": 4096,
    "rms_norm_eps": 1e-6, "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"},
    "tie_word_embeddings": True, "hidden_act": "silu", "dtype": "float32",
}
rng = random.Random(7)
shapes = {"model.embed_tokens.weight": [V, H], "model.norm.weight": [H]}
for l in range(L):
    p = f"model.layers.{l}."
    shapes.update({
        p + "input_layernorm.weight": [H], p + "post_attention_layernorm.weight": [H],
        p + "self_attn.q_proj.weight": [NH * D, H], p + "self_attn.k_proj.weight": [NKV * D, H],
        p + "self_attn.v_proj.weight": [NKV * D, H], p + "self_attn.o_proj.weight": [H, NH * D],
        p + "self_attn.q_norm.weight": [D], p + "self_attn.k_norm.weight": [D],
        p + "mlp.gate_proj.weight": [I, H], p + "mlp.up_proj.weight": [I, H], p + "mlp.down_proj.weight": [H, I],
    })
header, blobs, off = {}, [], 0
for name, shape in shapes.items():
    n = 1
    for s in shape:
        n *= s
    lo, hi = (0.5, 1.5) if len(shape) == 1 else (-0.5, 0.5)
    a = array.array("f", (rng.uniform(lo, hi) for _ in range(n)))
    b = a.tobytes()
    header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + len(b)]}
    blobs.append(b)
    off += len(b)
hb = json.dumps(header).encode()
hb += b" " * (-len(hb) % 8)
with open(f"{out}/model.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(hb)) + hb)
    for b in blobs:
        f.write(b)
json.dump(config, open(f"{out}/config.json", "w"))
shutil.copy(tok, f"{out}/tokenizer.json")
