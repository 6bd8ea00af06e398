#!/usr/bin/env python3
"""sdpa_attention.py — the peer of xfwd_cuda_attention_bench: PyTorch's
scaled_dot_product_attention on the same shapes (B sequences of L tokens, NH query
heads, NKV kv heads, head_dim D), timed per backend torch offers for them (flash,
cuDNN, memory-efficient), with the FLOP count the xfwd bench uses (two matmuls of
2·D FLOPs per query, key seen and head). Run on the GPU machine:
    python3 bench/sdpa_attention.py --seqs 1 --len 8192 --heads 32 --kv 8
"""
import argparse
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seqs", type=int, default=1)
    ap.add_argument("--len", type=int, default=8192)
    ap.add_argument("--heads", type=int, default=32)
    ap.add_argument("--kv", type=int, default=8)
    ap.add_argument("--D", type=int, default=128)
    ap.add_argument("--dtype", choices=["bf16", "f16"], default="bf16")
    ap.add_argument("--full", action="store_true", help="no causal mask")
    ap.add_argument("--iters", type=int, default=20)
    a = ap.parse_args()
    dt = torch.bfloat16 if a.dtype == "bf16" else torch.float16
    g = torch.Generator(device="cuda").manual_seed(0)
    q = torch.randn(a.seqs, a.heads, a.len, a.D, device="cuda", dtype=dt, generator=g)
    k = torch.randn(a.seqs, a.kv, a.len, a.D, device="cuda", dtype=dt, generator=g)
    v = torch.randn(a.seqs, a.kv, a.len, a.D, device="cuda", dtype=dt, generator=g)
    keys = a.len * a.len if a.full else a.len * (a.len + 1) // 2
    flops = 4.0 * a.D * keys * a.heads * a.seqs
    print(f"sdpa {a.dtype}, D={a.D}, {a.seqs} x {a.len} tokens, {a.heads}/{a.kv} heads, "
          f"{'full' if a.full else 'causal'}, torch {torch.__version__}, {torch.cuda.get_device_name()}")
    backends = [("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION),
                ("efficient", SDPBackend.EFFICIENT_ATTENTION)]
    for name, be in backends:
        # GQA as the kernels take it: enable_gqa where the backend supports it, else K/V
        # repeated per query head beforehand (not timed)
        for gqa in (True, False):
            kk, vv = (k, v) if gqa else (k.repeat_interleave(a.heads // a.kv, 1), v.repeat_interleave(a.heads // a.kv, 1))
            try:
                with sdpa_kernel(be):
                    fn = lambda: F.scaled_dot_product_attention(q, kk, vv, is_causal=not a.full, enable_gqa=gqa)
                    fn()
                    torch.cuda.synchronize()
                    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    e0.record()
                    for _ in range(a.iters):
                        fn()
                    e1.record()
                    torch.cuda.synchronize()
                    ms = e0.elapsed_time(e1) / a.iters
                print(f"  {name:<10} {'enable_gqa' if gqa else 'kv repeated':<12} {ms:8.3f} ms  "
                      f"{flops / (ms * 1e-3) / 1e12:6.1f} TFLOP/s")
                break
            except Exception as e:  # a backend that cannot run the shape
                if not gqa:
                    print(f"  {name:<10} unavailable: {str(e).splitlines()[0][:100]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
