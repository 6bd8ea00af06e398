"""test_layout.py — the ctypes mirrors of xfwd.h's structs (python/xfwd/_capi.py)
have the C layout: every field's offset and each struct's size, as a C compiler
sees the header, so a change to xfwd.h that the package missed fails here."""
import ctypes
import os
import shutil
import subprocess

import pytest

from xfwd import _capi

INCLUDE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "include")
STRUCTS = {
    "xf_model_info": _capi.ModelInfo,
    "xf_engine_options": _capi.EngineOptions,
    "xf_batch": _capi.Batch,
    "xf_encode_options": _capi.EncodeOptions,
    "xf_text_options": _capi.TextOptions,
    "xf_tokens": _capi.Tokens,
    "xf_rerank_options": _capi.RerankOptions,
}


def test_struct_layouts(tmp_path):
    cc = shutil.which(os.environ.get("CC", "cc"))
    if not cc:
        pytest.skip("no C compiler")
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <xfwd.h>", "int main(void) {"]
    want = []
    for c_name, py in STRUCTS.items():
        lines.append(f'    printf("{c_name} %zu\\n", sizeof({c_name}));')
        want.append(f"{c_name} {ctypes.sizeof(py)}")
        for field, _ in py._fields_:
            lines.append(f'    printf("{c_name}.{field} %zu\\n", offsetof({c_name}, {field}));')
            want.append(f"{c_name}.{field} {getattr(py, field).offset}")
    lines += ["    return 0;", "}"]
    src = tmp_path / "layout.c"
    src.write_text("\n".join(lines) + "\n")
    subprocess.run([cc, "-std=c11", "-I", INCLUDE, "-o", str(tmp_path / "layout"), str(src)], check=True)
    got = subprocess.run([str(tmp_path / "layout")], check=True, capture_output=True, text=True).stdout.split("\n")
    diff = [f"C: {g}  ctypes: {w}" for g, w in zip(got, want) if g != w]
    assert not diff, "layouts differ:\n" + "\n".join(diff)
