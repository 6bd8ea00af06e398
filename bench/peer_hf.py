#!/usr/bin/env python3
"""peer_hf.py — the Hugging Face peer figures for bench/cuda-h100.md: Qwen3 models
of the GPU.md shapes built from a config with random initialisation on the GPU,
final hidden states of the bare Qwen3Model (no lm_head), PyTorch eager SDPA and
torch.compile, timed with CUDA events after a warm-up (median). FLOPs counted as
xfwd bench counts them: 2 x linear parameters (embedding and lm_head excluded)
per token plus causal attention 4 * S(S+1)/2 * heads * head_dim per sequence and
layer. Prints one "PEER key=value ..." line per run.

  python3 bench/peer_hf.py --shape qwen3-4b --dtype bf16 --batch 16 --seq 512 [--compile] [--iters 10]
"""
import argparse
import statistics

import torch

SHAPES = {  # hidden, intermediate, layers, heads, kv heads, head_dim (GPU.md)
    "qwen3-0.6b": (1024, 3072, 28, 16, 8, 128),
    "qwen3-4b": (2560, 9728, 36, 32, 8, 128),
    "qwen3-8b": (4096, 12288, 36, 32, 8, 128),
}
CEILING = 798.0


def build(shape, dtype):
    from transformers import Qwen3Config, Qwen3Model
    H, I, L, NH, NKV, D = SHAPES[shape]
    cfg = Qwen3Config(hidden_size=H, intermediate_size=I, num_hidden_layers=L, num_attention_heads=NH,
                      num_key_value_heads=NKV, head_dim=D, vocab_size=151936, max_position_embeddings=40960,
                      rms_norm_eps=1e-6, tie_word_embeddings=shape != "qwen3-8b")
    cfg._attn_implementation = "sdpa"  # PyTorch scaled_dot_product_attention (the "eager SDPA" peer)
    torch.manual_seed(0)
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # parameters are created in the benchmark dtype, on the GPU
    with torch.device("cuda"):
        model = Qwen3Model(cfg)
    torch.set_default_dtype(old)
    return model.eval(), cfg


def flops(shape, batch, seq):
    H, I, L, NH, NKV, D = SHAPES[shape]
    linear = L * (H * NH * D * 2 + H * NKV * D * 2 + 3 * H * I)
    return 2.0 * linear * batch * seq + L * 4.0 * NH * D * (seq * (seq + 1) / 2) * batch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="qwen3-4b", choices=sorted(SHAPES))
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f32"])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--compile", action="store_true")
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False  # the f32 peer is plain fp32, like xfwd's f32 mode
    torch.backends.cudnn.allow_tf32 = False
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    model, cfg = build(a.shape, dtype)
    g = torch.Generator(device="cuda").manual_seed(1)
    ids = torch.randint(0, cfg.vocab_size, (a.batch, a.seq), device="cuda", generator=g)
    fwd = torch.compile(model) if a.compile else model
    with torch.inference_mode():
        for _ in range(a.warmup):
            out = fwd(input_ids=ids).last_hidden_state
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(a.iters):
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
            out = fwd(input_ids=ids).last_hidden_state
            e1.record()
            torch.cuda.synchronize()
            times.append(e0.elapsed_time(e1) / 1e3)
    assert torch.isfinite(out.float()).all(), "non-finite hidden states"
    t = statistics.median(times)
    T = a.batch * a.seq
    f = flops(a.shape, a.batch, a.seq)
    impl = "compile" if a.compile else "eager-" + str(model.config._attn_implementation)
    print(f"PEER shape={a.shape} dtype={a.dtype} batch={a.batch} seq={a.seq} impl={impl} "
          f"ms={t * 1e3:.3f} tok_s={T / t:.0f} tflops={f / t / 1e12:.1f} pct={100 * f / t / 1e12 / CEILING:.1f} "
          f"peak_mib={torch.cuda.max_memory_allocated() / 2**20:.0f}", flush=True)


if __name__ == "__main__":
    main()
