#!/usr/bin/env python3
"""traffic.py — the real-traffic workloads of the benchmarks, in Python for the
peers (bench/peer_hf.py): the built-in mixed length distribution (the same
lengths as bench/bench_util.h's xb_mixed_lengths, bit for bit: splitmix64,
Box-Muller, log-normal mu 5.23 sigma 1.0, rounded, clipped to [8, 2048]), the
lengths-file reader, the FLOP count, and sentence-transformers' batching (sort by
length descending, fixed-size batches, each padded to its longest sequence).
No third-party imports: it runs where torch is absent.

  python3 bench/traffic.py --mixed 2000            one length per line (a lengths file)
  python3 bench/traffic.py --mixed 2000 --summary  count, tokens, percentiles, padding at batch 32
"""
import argparse
import math

MIXED_MU, MIXED_SIGMA, MIXED_MIN, MIXED_MAX, MIXED_SEED = 5.23, 1.0, 8, 2048, 1
MASK64 = (1 << 64) - 1


def _splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def mixed_lengths(n):
    """The first n lengths of the mixed distribution (xb_mixed_lengths)."""
    state, out = MIXED_SEED, []
    for _ in range(n):
        state, a = _splitmix64(state)
        state, b = _splitmix64(state)
        u1 = (float(a >> 11) + 0.5) * (1.0 / 9007199254740992.0)
        u2 = (float(b >> 11) + 0.5) * (1.0 / 9007199254740992.0)
        z = math.sqrt(-2.0 * math.log(u1)) * math.cos(6.283185307179586 * u2)
        x = math.floor(math.exp(MIXED_MU + MIXED_SIGMA * z) + 0.5)
        out.append(int(min(max(x, MIXED_MIN), MIXED_MAX)))
    return out


def read_lengths(path, max_len):
    """One positive integer per line; blank lines and '#' lines skipped (xb_read_lengths)."""
    lens = []
    with open(path) as f:
        for no, line in enumerate(f, 1):
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            try:
                v = int(s)
            except ValueError:
                v = 0
            if not 1 <= v <= max_len:
                raise SystemExit(f"{path}:{no}: '{s}' is not a sequence length in 1..{max_len}")
            lens.append(v)
    if not lens:
        raise SystemExit(f"{path}: no lengths in the file")
    return lens


def workload(mixed=0, lengths=None, batch=0, seq=0, max_len=40960):
    """(name, lengths in input order) as the C drivers name them."""
    if lengths:
        name = "file:" + "".join(c if c.isalnum() or c in "._-" else "_" for c in lengths.rsplit("/", 1)[-1])
        return name, read_lengths(lengths, max_len)
    if mixed:
        return f"mixed{mixed}", mixed_lengths(mixed)
    return f"{batch}x{seq}", [seq] * batch


def attn_pairs(s, causal=True):
    """Query-key pairs of one head in a sequence of s tokens (xb_attn_pairs, no window)."""
    return s * (s + 1) / 2 if causal else float(s * s)


def forward_flops(dims, lens, causal=True):
    """2 * linear params * real tokens + layers * 4 * heads * head_dim * sum of pairs (xb_forward_flops).
    dims = (hidden, intermediate, layers, heads, kv heads, head_dim)."""
    H, I, L, NH, NKV, D = dims
    linear = L * (2 * H * NH * D + 2 * H * NKV * D + 3 * H * I)
    return 2.0 * linear * sum(lens) + L * 4.0 * NH * D * sum(attn_pairs(s, causal) for s in lens)


def st_batches(lens, batch_size=32):
    """sentence-transformers' encode(): indices sorted by length descending (a stable
    sort, ties in input order), cut into batches of batch_size, each padded to its
    longest. Returns [(indices, padded_len)]."""
    order = sorted(range(len(lens)), key=lambda i: -lens[i])
    out = []
    for k in range(0, len(order), batch_size):
        idx = order[k:k + batch_size]
        out.append((idx, max(lens[i] for i in idx)))
    return out


def summary(name, lens, batch_size=32):
    s = sorted(lens)
    n = len(s)
    padded = sum(len(idx) * pl for idx, pl in st_batches(lens, batch_size))
    return (f"{name}: {n} sequences, {sum(s)} tokens; length min {s[0]}, median {s[n // 2]}, mean "
            f"{sum(s) / n:.1f}, p90 {s[n * 9 // 10]}, p99 {s[n * 99 // 100]}, max {s[-1]}; sorted batches of "
            f"{batch_size} padded to their longest: {padded} tokens ({100 * (padded / sum(s) - 1):.1f} % padding)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mixed", type=int, default=0, help="N sequences of the mixed distribution")
    ap.add_argument("--lengths", help="a lengths file (to summarise)")
    ap.add_argument("--summary", action="store_true", help="one line of statistics instead of the lengths")
    ap.add_argument("--st-batch", type=int, default=32, help="batch size for the padding figure of --summary")
    a = ap.parse_args()
    if not a.mixed and not a.lengths:
        ap.error("give --mixed N or --lengths FILE")
    name, lens = workload(mixed=a.mixed, lengths=a.lengths)
    if a.summary:
        print(summary(name, lens, a.st_batch))
    else:
        print("\n".join(map(str, lens)))


if __name__ == "__main__":
    main()
