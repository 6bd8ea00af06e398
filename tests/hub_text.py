#!/usr/bin/env python3
"""hub_text.py XFWD DIR [--backend B --dtype D] (16-bit modes: tolerance 3e-2) — runs the text-level Hub cases that
tests/make_hub_text_cases.py writes into DIR (default tests/data/hub-text): for each
case folder, every run of its runs.json (`xfwd ARGS --model CASE [--input FILE]
--output OUT.npy`), its output compared with the float64 reference by relative
Frobenius error (standard library only). Exit 77 (skipped) when DIR holds no cases
or the backend asked for has no device."""
import array, ast, json, math, os, re, subprocess, sys, tempfile

# The engine's refusal when the backend asked for has no device (exit 77: skipped, never passed).
NO_DEVICE = re.compile(r"(cuda: no CUDA GPU is available|vulkan: no Vulkan )")


def read_npy(path):
    raw = open(path, "rb").read()
    hlen = int.from_bytes(raw[8:10], "little")
    header = ast.literal_eval(raw[10:10 + hlen].decode("latin1"))
    a = array.array("f")
    a.frombytes(raw[10 + hlen:])
    return list(header["shape"]), a


def main():
    xfwd, root = sys.argv[1], sys.argv[2]
    extra = sys.argv[3:]
    cases = sorted(d for d in (os.listdir(root) if os.path.isdir(root) else [])
                   if os.path.isfile(os.path.join(root, d, "runs.json")))
    if not cases:
        print(f"skipped: no cases in {root} (tests/make_hub_text_cases.py writes them)")
        return 77
    # 16-bit and TF32 modes: the golden README's tolerances instead of the runs' f32 ones
    dtype = extra[extra.index("--dtype") + 1] if "--dtype" in extra[:-1] else "f32"
    floor = {"bf16": 3e-2, "f16": 3e-2, "tf32": 5e-3}.get(dtype, 0.0)
    fail = 0
    with tempfile.TemporaryDirectory() as work:
        out = os.path.join(work, "out.npy")
        for c in cases:
            folder = os.path.join(root, c)
            for r in json.load(open(os.path.join(folder, "runs.json")))["runs"]:
                if not r["args"] or r["args"][0].startswith("-"):
                    print(f"FAIL {c}: a run without an xfwd command: {r['args']}")
                    fail += 1
                    continue
                args = [a if not a.endswith(".jsonl") else os.path.join(folder, a) for a in r["args"]]
                cmd = [xfwd, args[0], "--model", folder] + args[1:] + extra + ["--output", out]
                if r["input"]:
                    cmd += ["--input", os.path.join(folder, r["input"])]
                p = subprocess.run(cmd, capture_output=True, text=True)
                name = f"{c}: {' '.join(r['args'])}"
                if p.returncode != 0 and NO_DEVICE.search(p.stderr):
                    print(f"skipped: {p.stderr.strip()}")  # the backend asked for has no device here
                    return 77
                if p.returncode != 0:
                    print(f"FAIL {name}: {p.stderr.strip()}")
                    fail += 1
                    continue
                shape, got = read_npy(out)
                want = r["expected"]
                if shape != r["shape"] or len(got) != len(want):
                    print(f"FAIL {name}: shape {shape}, want {r['shape']}")
                    fail += 1
                    continue
                num = sum((g - w) ** 2 for g, w in zip(got, want))
                den = sum(w * w for w in want)
                err = math.sqrt(num / den) if den > 0 else math.sqrt(num)
                tol = max(r["tol"], floor)
                bad = not (err <= tol)
                fail += bad
                print(f"{'FAIL' if bad else 'ok  '} {name}: rel err {err:.3e} (tol {tol:.0e})")
    print(f"hub text cases: {fail} failed")
    return 1 if fail else 0


sys.exit(main())
