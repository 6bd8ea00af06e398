#!/usr/bin/env python3
"""cpu_llama_gguf.py — writes a GGUF of a Qwen3 shape with random O(1)-scaled weights (as
xfwd's `--shape`), for llama.cpp to be timed on the same shape as xfwd: llama-bench on the CPU
(bench/cpu_vs_llama_cpp.sh), llama-batched-bench on Vulkan (bench/vulkan-peer.sh).

    cpu_llama_gguf.py OUT.gguf [--shape qwen3-0.6b|qwen3-4b|qwen3-8b|qwen3-tiny] [--dtype bf16|f16|f32]

Needs numpy only: the GGUF (version 3) is written here, tensor by tensor, so a model of 8 GB
never sits in memory and no `gguf` package is needed. Norm weights are uniform in [0.5, 1.5]
(fp32, as llama.cpp's converter stores them). Linear and embedding weights: with f32, uniform
with variance 1/in; with bf16 / f16, random 16-bit patterns with a random sign and mantissa and
one fixed exponent, i.e. |w| uniform in [a, 2a) with a = 2^round(log2(sqrt(3 / (7 in)))), the
power of two that puts the variance nearest 1/in (fast enough for the 4B shape at run time).
The vocabulary has the real size, as placeholder tokens (llama.cpp's benchmarks feed random or
fixed token ids; they never tokenize text); embeddings are tied except for qwen3-8b.
"""
import argparse
import struct

import numpy as np

# name: hidden, intermediate, layers, heads, kv heads, head_dim, vocab, tied (src/random_model.c)
SHAPES = {
    "qwen3-0.6b": (1024, 3072, 28, 16, 8, 128, 151936, True),
    "qwen3-4b": (2560, 9728, 36, 32, 8, 128, 151936, True),
    "qwen3-8b": (4096, 12288, 36, 32, 8, 128, 151936, False),
    "qwen3-tiny": (64, 136, 2, 4, 2, 32, 256, True),
}

# GGUF value types and ggml tensor types (ggml/include/gguf.h, ggml.h)
T_UINT32, T_INT32, T_FLOAT32, T_BOOL, T_STRING, T_ARRAY = 4, 5, 6, 7, 8, 9
GGML_F32, GGML_F16, GGML_BF16 = 0, 1, 30
FILE_TYPE = {"f32": 0, "f16": 1, "bf16": 32}  # llama_ftype: ALL_F32, MOSTLY_F16, MOSTLY_BF16
ALIGN = 32  # general.alignment's default


def gguf_str(s):
    b = s if isinstance(s, bytes) else s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_kv(key, vtype, value):
    """One metadata pair; value is a Python scalar, or (elem_type, list) for an array."""
    out = gguf_str(key) + struct.pack("<I", vtype)
    scalar = {T_UINT32: "<I", T_INT32: "<i", T_FLOAT32: "<f", T_BOOL: "<?"}
    if vtype == T_STRING:
        return out + gguf_str(value)
    if vtype == T_ARRAY:
        etype, items = value
        out += struct.pack("<IQ", etype, len(items))
        if etype == T_STRING:
            return out + b"".join(gguf_str(s) for s in items)
        return out + np.asarray(items, dtype={T_FLOAT32: "<f4", T_INT32: "<i4"}[etype]).tobytes()
    return out + struct.pack(scalar[vtype], value)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--shape", choices=sorted(SHAPES), default="qwen3-0.6b")
    ap.add_argument("--dtype", choices=["bf16", "f16", "f32"], default="bf16")
    args = ap.parse_args()
    H, I, LAYERS, HEADS, KV_HEADS, HEAD_DIM, VOCAB, tied = SHAPES[args.shape]
    rng = np.random.default_rng(1)
    wtype = {"f32": GGML_F32, "f16": GGML_F16, "bf16": GGML_BF16}[args.dtype]

    arch = "qwen3"
    kv = [
        gguf_kv("general.architecture", T_STRING, arch),
        gguf_kv("general.name", T_STRING, f"{args.shape}-shape-random"),
        gguf_kv(f"{arch}.context_length", T_UINT32, 40960),
        gguf_kv(f"{arch}.embedding_length", T_UINT32, H),
        gguf_kv(f"{arch}.block_count", T_UINT32, LAYERS),
        gguf_kv(f"{arch}.feed_forward_length", T_UINT32, I),
        gguf_kv(f"{arch}.attention.head_count", T_UINT32, HEADS),
        gguf_kv(f"{arch}.attention.head_count_kv", T_UINT32, KV_HEADS),
        gguf_kv(f"{arch}.attention.key_length", T_UINT32, HEAD_DIM),
        gguf_kv(f"{arch}.attention.value_length", T_UINT32, HEAD_DIM),
        gguf_kv(f"{arch}.attention.layer_norm_rms_epsilon", T_FLOAT32, 1e-6),
        gguf_kv(f"{arch}.rope.freq_base", T_FLOAT32, 1e6),
        gguf_kv("general.file_type", T_UINT32, FILE_TYPE[args.dtype]),
        # a placeholder SentencePiece-style vocabulary of the real size
        gguf_kv("tokenizer.ggml.model", T_STRING, "llama"),
        gguf_kv("tokenizer.ggml.tokens", T_ARRAY, (T_STRING, [f"<t{i}>" for i in range(VOCAB)])),
        gguf_kv("tokenizer.ggml.scores", T_ARRAY, (T_FLOAT32, [0.0] * VOCAB)),
        gguf_kv("tokenizer.ggml.token_type", T_ARRAY, (T_INT32, [1] * VOCAB)),  # 1 = NORMAL
        gguf_kv("tokenizer.ggml.bos_token_id", T_UINT32, 1),
        gguf_kv("tokenizer.ggml.eos_token_id", T_UINT32, 2),
        gguf_kv("tokenizer.ggml.add_bos_token", T_BOOL, False),
    ]

    # (name, kind, rows, cols): "mat" [rows = out, cols = in] in the weight dtype, "norm" [cols] fp32
    tensors = [("token_embd.weight", "mat", VOCAB, H)]
    for l in range(LAYERS):
        p = f"blk.{l}."
        tensors += [(p + "attn_norm.weight", "norm", 1, H),
                    (p + "attn_q.weight", "mat", HEADS * HEAD_DIM, H),
                    (p + "attn_k.weight", "mat", KV_HEADS * HEAD_DIM, H),
                    (p + "attn_v.weight", "mat", KV_HEADS * HEAD_DIM, H),
                    (p + "attn_q_norm.weight", "norm", 1, HEAD_DIM),
                    (p + "attn_k_norm.weight", "norm", 1, HEAD_DIM),
                    (p + "attn_output.weight", "mat", H, HEADS * HEAD_DIM),
                    (p + "ffn_norm.weight", "norm", 1, H),
                    (p + "ffn_gate.weight", "mat", I, H),
                    (p + "ffn_up.weight", "mat", I, H),
                    (p + "ffn_down.weight", "mat", H, I)]
    tensors.append(("output_norm.weight", "norm", 1, H))
    if not tied:
        tensors.append(("output.weight", "mat", VOCAB, H))

    def nbytes(kind, rows, cols):
        return rows * cols * (4 if kind == "norm" or wtype == GGML_F32 else 2)

    def pad(n):
        return (ALIGN - n % ALIGN) % ALIGN

    infos, offset = [], 0
    for name, kind, rows, cols in tensors:
        # dims innermost first (ggml's ne): [in, out] for a matrix, [n] for a norm
        dims = [cols] if kind == "norm" else [cols, rows]
        infos.append(gguf_str(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims) +
                     struct.pack("<IQ", GGML_F32 if kind == "norm" else wtype, offset))
        offset += nbytes(kind, rows, cols)
        offset += pad(offset)

    def data(kind, rows, cols):
        if kind == "norm":
            return rng.uniform(0.5, 1.5, size=cols).astype(np.float32)
        if wtype == GGML_F32:
            return rng.uniform(-1, 1, size=(rows, cols)).astype(np.float32) * np.float32(np.sqrt(3.0 / cols))
        # 16 random bits per weight, then the exponent field set to one value: sign and
        # mantissa random, |w| in [2^e, 2^(e+1)), E[w^2] = 7/3 · 4^e ≈ 1/cols
        e = int(round(0.5 * np.log2(3.0 / (7.0 * cols))))
        n = rows * cols
        bits = rng.bit_generator.random_raw((n + 3) // 4).view(np.uint16)[:n]
        if wtype == GGML_F16:  # 1 sign, 5 exponent (bias 15), 10 mantissa bits
            bits &= np.uint16(0x83FF)
            bits |= np.uint16((e + 15) << 10)
        else:  # bf16: 1 sign, 8 exponent (bias 127), 7 mantissa bits
            bits &= np.uint16(0x807F)
            bits |= np.uint16((e + 127) << 7)
        return bits

    with open(args.out, "wb") as f:
        head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv)) + b"".join(kv) + b"".join(infos)
        f.write(head + b"\0" * pad(len(head)))
        for name, kind, rows, cols in tensors:
            a = data(kind, rows, cols)
            a.tofile(f)
            f.write(b"\0" * pad(a.nbytes))


if __name__ == "__main__":
    main()
