#!/usr/bin/env python3
"""peer_hf.py — the Hugging Face peer figures for bench/cuda-h100.md: Qwen3 models
of the GPU.md shapes built from a config with random initialisation on the GPU,
final hidden states of the bare Qwen3Model (no lm_head, use_cache=False), PyTorch eager SDPA and
torch.compile, timed with CUDA events after a warm-up (median). FLOPs counted as
xfwd bench counts them (bench/traffic.py, forward_flops): 2 x linear parameters
(embedding and lm_head excluded) per real token plus causal attention
4 * S(S+1)/2 * heads * head_dim per sequence of S real tokens and layer; padding
is never counted as work. Prints one "PEER key=value ..." line per workload.

Workloads (--workloads takes several, one model for all; a failure, e.g. out of
memory, prints "PEER-FAILED ..." and the next one runs):
  BxS        B sequences of S tokens, one forward, no attention mask (as before)
  mixed:N    N sequences of bench/traffic.py's mixed lengths (the same as xfwd's --mixed N)
  lengths:F  the lengths of file F (one per line)
The last two are batched as sentence-transformers' encode() batches: sorted by
length descending, batches of --st-batch (32), each padded to its longest
sequence with an attention_mask (left padding, as Qwen3-Embedding's tokenizer
pads); a timed run is one pass over every batch; tokens/s count REAL tokens,
padded_tokens is what the model computed. Inputs are made on the GPU before
timing (no tokenizer). torch.compile for these uses dynamic=True (one graph for
the varying batch and padded lengths instead of a recompile per shape).

  python3 bench/peer_hf.py --shape qwen3-4b --dtype bf16 --batch 16 --seq 512 [--compile] [--iters 10]
  python3 bench/peer_hf.py --shape qwen3-4b --workloads mixed:2000 1x8192 1x32768 [--compile] [--max-seconds 60]
"""
import argparse
import statistics
import sys
import time

import torch

import traffic

SHAPES = {  # hidden, intermediate, layers, heads, kv heads, head_dim (GPU.md)
    "qwen3-0.6b": (1024, 3072, 28, 16, 8, 128),
    "qwen3-4b": (2560, 9728, 36, 32, 8, 128),
    "qwen3-8b": (4096, 12288, 36, 32, 8, 128),
}
CEILING = 798.0
VOCAB = 151936
PAD_ID = 151643  # Qwen's <|endoftext|>, its tokenizer's pad token
MAX_POS = 40960


def build(shape, dtype):
    from transformers import Qwen3Config, Qwen3Model
    H, I, L, NH, NKV, D = SHAPES[shape]
    cfg = Qwen3Config(hidden_size=H, intermediate_size=I, num_hidden_layers=L, num_attention_heads=NH,
                      num_key_value_heads=NKV, head_dim=D, vocab_size=VOCAB, max_position_embeddings=MAX_POS,
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
    return traffic.forward_flops(SHAPES[shape], [seq] * batch)


def parse_workload(spec):
    """'BxS' | 'mixed:N' | 'lengths:FILE' -> (name, lengths, padded batching?)."""
    if spec.startswith("mixed:"):
        name, lens = traffic.workload(mixed=int(spec[6:]))
        return name, lens, True
    if spec.startswith("lengths:"):
        name, lens = traffic.workload(lengths=spec[8:], max_len=MAX_POS)
        return name, lens, True
    b, s = spec.lower().split("x")
    return f"{int(b)}x{int(s)}", [int(s)] * int(b), False


def make_inputs(lens, padded, st_batch, g):
    """[(input_ids, attention_mask or None)] on the GPU; the padded token count."""
    if not padded:  # one rectangular batch, every sequence full: no mask
        return [(torch.randint(0, VOCAB, (len(lens), lens[0]), device="cuda", generator=g), None)], sum(lens)
    batches, n_padded = [], 0
    for idx, pl in traffic.st_batches(lens, st_batch):
        real = torch.tensor([lens[i] for i in idx], device="cuda")
        mask = (torch.arange(pl, device="cuda")[None, :] >= (pl - real)[:, None]).long()  # left padding
        ids = torch.randint(0, VOCAB, (len(idx), pl), device="cuda", generator=g)
        ids = torch.where(mask.bool(), ids, torch.full_like(ids, PAD_ID))
        batches.append((ids, mask))
        n_padded += len(idx) * pl
    return batches, n_padded


def run_pass(fwd, batches):
    """Every batch once; final hidden states only (no KV cache kept: use_cache=False).
    Returns the last batch's hidden states and mask."""
    out = None
    for ids, mask in batches:
        if mask is None:
            out = fwd(input_ids=ids, use_cache=False).last_hidden_state
        else:
            out = fwd(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state
    return out, mask


def bench(a, model, fwd, impl, spec):
    name, lens, padded = parse_workload(spec)
    if max(lens) > MAX_POS:
        raise ValueError(f"a sequence of {max(lens)} tokens exceeds max_position_embeddings {MAX_POS}")
    g = torch.Generator(device="cuda").manual_seed(1)
    batches, n_padded = make_inputs(lens, padded, a.st_batch, g)
    iters = a.iters if a.iters else (3 if padded else 10)
    warmup = a.warmup if a.warmup >= 0 else (1 if padded else 3)
    with torch.inference_mode():
        t_warm = time.time()
        out = None
        for _ in range(warmup):
            out = run_pass(fwd, batches)
        torch.cuda.synchronize()
        t_warm = time.time() - t_warm
        torch.cuda.reset_peak_memory_stats()
        times, t_start = [], time.time()
        for _ in range(iters):
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
            out = run_pass(fwd, batches)
            e1.record()
            torch.cuda.synchronize()
            times.append(e0.elapsed_time(e1) / 1e3)
            if len(times) >= 2 and time.time() - t_start > a.max_seconds:
                break
        out, mask = out
        real = out if mask is None else out[mask.bool()]  # pad rows may be anything
        finite = bool(torch.isfinite(real.float()).all())
    t = statistics.median(times)
    T = sum(lens)
    f = traffic.forward_flops(SHAPES[a.shape], lens)
    keys = f"traffic={name} shape={a.shape} dtype={a.dtype}"
    if not padded:
        keys += f" batch={len(lens)} seq={lens[0]}"
    else:
        keys += f" st_batch={a.st_batch} batches={len(batches)}"
    print(f"PEER {keys} impl={impl} seqs={len(lens)} tokens={T} padded_tokens={n_padded} runs={len(times)} "
          f"ms={t * 1e3:.3f} tok_s={T / t:.0f} padded_tok_s={n_padded / t:.0f} tflops={f / t / 1e12:.1f} "
          f"pct={100 * f / t / 1e12 / CEILING:.1f} peak_mib={torch.cuda.max_memory_allocated() / 2**20:.0f} "
          f"warmup_s={t_warm:.1f}" + ("" if finite else " nonfinite=1"), flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shape", default="qwen3-4b", choices=sorted(SHAPES))
    ap.add_argument("--dtype", default="bf16", choices=["bf16", "f32"])
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=512)
    ap.add_argument("--mixed", type=int, default=0, help="N sequences of the mixed distribution (= mixed:N)")
    ap.add_argument("--lengths", help="a lengths file (= lengths:FILE)")
    ap.add_argument("--workloads", nargs="+", help="BxS | mixed:N | lengths:FILE, run in turn on one model")
    ap.add_argument("--st-batch", type=int, default=32, help="sentence-transformers batch size (mixed, lengths)")
    ap.add_argument("--iters", type=int, default=0, help="timed runs (default 10; 3 passes for mixed/lengths)")
    ap.add_argument("--warmup", type=int, default=-1, help="untimed runs (default 3; 1 pass for mixed/lengths)")
    ap.add_argument("--max-seconds", type=float, default=1e9, help="stop timing a workload after this (>= 2 runs)")
    ap.add_argument("--compile", action="store_true")
    a = ap.parse_args()
    specs = a.workloads or ([f"mixed:{a.mixed}"] if a.mixed else [f"lengths:{a.lengths}"] if a.lengths
                            else [f"{a.batch}x{a.seq}"])
    torch.backends.cuda.matmul.allow_tf32 = False  # the f32 peer is plain fp32, like xfwd's f32 mode
    torch.backends.cudnn.allow_tf32 = False
    dtype = torch.bfloat16 if a.dtype == "bf16" else torch.float32
    model, cfg = build(a.shape, dtype)
    impl_eager = "eager-" + str(model.config._attn_implementation)
    failed = 0
    for spec in specs:
        padded = spec.startswith(("mixed:", "lengths:"))
        fwd, impl = model, impl_eager
        if a.compile:
            # varying padded shapes: one dynamic graph, not a recompile (and a cache entry) per shape
            torch._dynamo.reset()
            torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
            fwd = torch.compile(model, dynamic=True) if padded else torch.compile(model)
            impl = "compile-dynamic" if padded else "compile"
        try:
            bench(a, model, fwd, impl, spec)
        except Exception as e:  # out of memory and the like: say so, go on with the next workload
            failed += 1
            print(f"PEER-FAILED {spec} {a.shape} {a.dtype} {impl}: {type(e).__name__}: {str(e).splitlines()[0][:200]}",
                  flush=True)
        finally:
            torch.cuda.empty_cache()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
