"""conftest.py — shared helpers of the Python package's tests (tests/python).

Run through ctest (tests/install.cmake), or by hand with the interpreter that has
Debian's python3-numpy and python3-pytest:
    XFWD_LIBRARY_DIR=build PYTHONPATH=python /usr/bin/python3 -m pytest tests/python"""
import json
import os
import struct

import numpy as np
import pytest

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")
GOLDEN = os.path.join(DATA, "golden")
HUB = os.path.join(DATA, "hub")
TOKENIZERS = os.path.join(DATA, "tokenizers")
# golden/README.md: relative Frobenius error bounds
TOL = {"f32": 1e-5, "tf32": 5e-3, "bf16": 3e-2, "f16": 3e-2}


def read_safetensors(path):
    """{name: numpy array} of a safetensors file (F32 and I32 tensors)."""
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        begin, end = e["data_offsets"]
        dtype = {"F32": "<f4", "I32": "<i4"}[e["dtype"]]
        out[name] = np.frombuffer(raw[8 + n + begin:8 + n + end], dtype=dtype).reshape(e["shape"])
    return out


def golden(case_dir):
    return read_safetensors(os.path.join(case_dir, "golden.safetensors"))


def sequences(g):
    """The golden inputs as a list of token lists."""
    return [s.tolist() for s in np.split(g["tokens"], np.cumsum(g["seq_lens"])[:-1])]


def rel_err(got, want):
    got = np.asarray(got, np.float64)
    want = np.asarray(want, np.float64)
    assert got.shape == want.shape, (got.shape, want.shape)
    assert np.isfinite(got).all(), "NaN or Inf in the output"
    return float(np.linalg.norm(got - want) / np.linalg.norm(want))


def assert_close(got, want, dtype="f32", what=""):
    e = rel_err(got, want)
    print(f"{what}: relative error {e:.3g} ({dtype})")
    assert e <= TOL[dtype], f"{what}: relative error {e:.3g} > {TOL[dtype]} ({dtype})"
    if dtype in ("bf16", "f16"):
        g = np.asarray(got, np.float64).reshape(len(got), -1)
        w = np.asarray(want, np.float64).reshape(len(want), -1)
        cos = (g * w).sum(1) / (np.linalg.norm(g, axis=1) * np.linalg.norm(w, axis=1))
        assert cos.min() >= 0.999, f"{what}: a row's cosine similarity is {cos.min():.5f}"


def needs(*functions):
    """Skips a test whose C functions the library does not have yet."""
    from xfwd import _capi
    missing = [f for f in functions if not _capi.has(f)]
    return pytest.mark.skipif(bool(missing), reason=f"libxfwd lacks {', '.join(missing)} (not implemented yet)")


def cases(root, *keys):
    """Case folders under root whose golden.safetensors has all of keys."""
    if not os.path.isdir(root):
        return []
    found = []
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name, "golden.safetensors")
        if os.path.exists(path):
            with open(path, "rb") as f:
                n = struct.unpack("<Q", f.read(8))[0]
                header = json.loads(f.read(n))
            if all(k in header for k in keys):
                found.append(os.path.join(root, name))
    return found


def case_id(path):
    return os.path.basename(os.path.dirname(path)) + "/" + os.path.basename(path)
