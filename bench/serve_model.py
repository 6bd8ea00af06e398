#!/usr/bin/env python3
"""serve_model.py OUT [H I LAYERS HEADS KV_HEADS HEAD_DIM VOCAB] — writes a Qwen3 model
folder with random O(1)-scaled float32 weights (tied embeddings, no tokenizer) for
benchmarking `xfwd serve` against `xfwd embed` on the same folder. Standard library
only, so keep it small (the default has 5.2 M parameters); for the real shapes use
`xfwd serve --shape NAME`, which builds the weights in memory."""
import array, json, os, random, struct, sys

out = sys.argv[1]
H, I, L, NH, NKV, D, V = (int(x) for x in (sys.argv[2:9] if len(sys.argv) >= 9 else (256, 768, 4, 4, 2, 64, 8192)))
os.makedirs(out, exist_ok=True)
config = {
    "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": H, "intermediate_size": I,
    "num_hidden_layers": L, "num_attention_heads": NH, "num_key_value_heads": NKV, "head_dim": D,
    "vocab_size": V, "max_position_embeddings": 8192, "rms_norm_eps": 1e-6,
    "rope_parameters": {"rope_theta": 1000000.0, "rope_type": "default"}, "tie_word_embeddings": True,
    "hidden_act": "silu", "dtype": "float32",
}
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
rng = random.Random(1)
header, off = {}, 0
for name, shape in shapes.items():
    n = 1
    for s in shape:
        n *= s
    header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [off, off + 4 * n]}
    off += 4 * n
hb = json.dumps(header).encode()
hb += b" " * (-len(hb) % 8)
with open(os.path.join(out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(hb)) + hb)
    for name, shape in shapes.items():
        n = header[name]["data_offsets"][1] // 4 - header[name]["data_offsets"][0] // 4
        if len(shape) == 1:
            a = array.array("f", (0.5 + rng.random() for _ in range(n)))
        else:
            scale = 1.0 if name.endswith("embed_tokens.weight") else 1.7 / shape[1] ** 0.5
            a = array.array("f", ((rng.random() - 0.5) * scale for _ in range(n)))
        f.write(a.tobytes())
json.dump(config, open(os.path.join(out, "config.json"), "w"))
print(f"{out}: qwen3 H={H} I={I} layers={L} heads={NH}/{NKV}x{D} vocab={V}")
