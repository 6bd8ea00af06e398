#!/usr/bin/env python3
"""golden_tool.py — the CLI tests' helper, standard library only (no numpy):
  jsonl CASE OUT.jsonl            write the case's sequences as JSONL token arrays
  compare OUT.npy CASE NAME TOL   relative Frobenius error of an .npy against a golden tensor
  npyshape OUT.npy                print the shape of an .npy file"""
import array, ast, json, math, struct, sys


def read_safetensors(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        code = {"F32": "f", "I32": "i"}[e["dtype"]]
        a = array.array(code)
        a.frombytes(data[b:end])
        out[name] = (e["shape"], a)
    return out


def read_npy(path):
    raw = open(path, "rb").read()
    assert raw[:6] == b"\x93NUMPY", "not an npy file"
    hlen = struct.unpack("<H", raw[8:10])[0]
    header = ast.literal_eval(raw[10:10 + hlen].decode("latin1"))
    assert header["descr"] == "<f4" and not header["fortran_order"], header
    a = array.array("f")
    a.frombytes(raw[10 + hlen:])
    return header["shape"], a


def main():
    cmd = sys.argv[1]
    if cmd == "jsonl":
        g = read_safetensors(sys.argv[2] + "/golden.safetensors")
        toks, lens = g["tokens"][1], g["seq_lens"][1]
        with open(sys.argv[3], "w") as f:
            off = 0
            for i, n in enumerate(lens):
                seq = list(toks[off:off + n])
                f.write(json.dumps(seq if i % 2 == 0 else {"tokens": seq}) + "\n")
                off += n
    elif cmd == "compare":
        shape, out = read_npy(sys.argv[2])
        g = read_safetensors(sys.argv[3] + "/golden.safetensors")
        ref_shape, ref = g[sys.argv[4]]
        if list(shape) != list(ref_shape):
            sys.exit(f"shape {shape} != golden {ref_shape}")
        num = sum((a - b) ** 2 for a, b in zip(out, ref))
        den = sum(b * b for b in ref)
        err = math.sqrt(num / den)
        tol = float(sys.argv[5])
        print(f"{sys.argv[4]}: rel err {err:.3e} (tol {tol:g})")
        sys.exit(0 if err <= tol else 1)
    elif cmd == "npyshape":
        print(tuple(read_npy(sys.argv[2])[0]))


if __name__ == "__main__":
    main()
