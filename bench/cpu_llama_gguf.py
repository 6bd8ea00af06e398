#!/usr/bin/env python3
"""cpu_llama_gguf.py — writes a GGUF of the Qwen3-0.6B shape with random O(1)-scaled
weights (as xfwd's `--shape qwen3-0.6b`), for llama.cpp's llama-bench to be timed on
the same shape as `xfwd bench` (bench/cpu_llama_cpp.sh).

    cpu_llama_gguf.py OUT.gguf [--dtype bf16|f32]

Needs the `gguf` Python package (Debian's python3-gguf) and numpy. Linear weights are
uniform with variance 1/in, norm weights in [0.5, 1.5]; the vocabulary is 151,936
placeholder tokens (llama-bench feeds random token ids; it never tokenizes text).
"""
import argparse

import numpy as np
import gguf

# Qwen3-0.6B (the shape xfwd's random_model.c names qwen3-0.6b)
H, I, LAYERS, HEADS, KV_HEADS, HEAD_DIM, VOCAB = 1024, 3072, 28, 16, 8, 128, 151936


def to_bf16_bits(a):
    """float32 array -> uint16 bf16 bits, round to nearest even."""
    u = a.astype(np.float32).view(np.uint32)
    u = u + np.uint32(0x7FFF) + ((u >> 16) & np.uint32(1))
    return (u >> 16).astype(np.uint16)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--dtype", choices=["bf16", "f32"], default="bf16")
    args = ap.parse_args()
    rng = np.random.default_rng(1)

    w = gguf.GGUFWriter(args.out, "qwen3")
    w.add_name("qwen3-0.6b-shape-random")
    w.add_context_length(40960)
    w.add_embedding_length(H)
    w.add_block_count(LAYERS)
    w.add_feed_forward_length(I)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_key_length(HEAD_DIM)
    w.add_value_length(HEAD_DIM)
    w.add_layer_norm_rms_eps(1e-6)
    w.add_rope_freq_base(1e6)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_BF16 if args.dtype == "bf16" else gguf.LlamaFileType.ALL_F32)
    # a placeholder SentencePiece-style vocabulary of the real size
    w.add_tokenizer_model("llama")
    w.add_token_list([f"<t{i}>".encode() for i in range(VOCAB)])
    w.add_token_scores([0.0] * VOCAB)
    w.add_token_types([gguf.TokenType.NORMAL] * VOCAB)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(False)

    def mat(name, out_f, in_f):
        a = rng.uniform(-1, 1, size=(out_f, in_f)).astype(np.float32) * np.float32(np.sqrt(3.0 / in_f))
        if args.dtype == "bf16":
            w.add_tensor(name, to_bf16_bits(a), raw_shape=a.shape, raw_dtype=gguf.GGMLQuantizationType.BF16)
        else:
            w.add_tensor(name, a)

    def norm(name, n):
        w.add_tensor(name, rng.uniform(0.5, 1.5, size=n).astype(np.float32))

    mat("token_embd.weight", VOCAB, H)  # tied: no output.weight
    for l in range(LAYERS):
        p = f"blk.{l}."
        norm(p + "attn_norm.weight", H)
        mat(p + "attn_q.weight", HEADS * HEAD_DIM, H)
        mat(p + "attn_k.weight", KV_HEADS * HEAD_DIM, H)
        mat(p + "attn_v.weight", KV_HEADS * HEAD_DIM, H)
        norm(p + "attn_q_norm.weight", HEAD_DIM)
        norm(p + "attn_k_norm.weight", HEAD_DIM)
        mat(p + "attn_output.weight", H, HEADS * HEAD_DIM)
        norm(p + "ffn_norm.weight", H)
        mat(p + "ffn_gate.weight", I, H)
        mat(p + "ffn_up.weight", I, H)
        mat(p + "ffn_down.weight", H, I)
    norm("output_norm.weight", H)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
