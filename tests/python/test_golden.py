"""test_golden.py — xfwd.Model against the golden references (tests/data/golden and
tests/data/hub): hidden states, logits, embeddings, classification scores, LoRA."""
import os
import re
import subprocess
import tempfile

import numpy as np
import pytest

import xfwd
from conftest import GOLDEN, HUB, assert_close, case_id, cases, golden, needs, sequences


def open_case(case):
    """(Model on the CPU in f32, the adapter name to pass): the case's LoRA adapter
    applied when it has one, since its references are computed with it. f32, not
    "auto": a bf16 checkpoint would run in bf16 on a CPU with bf16 instructions."""
    adapter_dir = os.path.join(case, "adapter")
    if os.path.isdir(adapter_dir):
        return xfwd.Model(case, backend="cpu", dtype="f32", adapters={"lora": adapter_dir}), "lora"
    return xfwd.Model(case, backend="cpu", dtype="f32"), None


@pytest.mark.parametrize("case", cases(GOLDEN, "hidden") + cases(HUB, "hidden"), ids=case_id)
def test_hidden(case):
    g = golden(case)
    m, adapter = open_case(case)
    with m:
        assert m.dtype == "f32"
        out = m.hidden(sequences(g), adapter=adapter)
    assert [len(h) for h in out] == g["seq_lens"].tolist()
    assert_close(np.concatenate(out), g["hidden"], what="hidden")


@pytest.mark.parametrize("case", cases(GOLDEN, "logits") + cases(HUB, "logits"), ids=case_id)
def test_logits(case):
    g = golden(case)
    m, adapter = open_case(case)
    with m:
        out = m.logits(sequences(g), adapter=adapter)
    assert_close(np.concatenate(out), g["logits"], what="logits")


@needs("xf_engine_encode")
@pytest.mark.parametrize("case", cases(GOLDEN, "pooled_last"), ids=case_id)
@pytest.mark.parametrize("pooling", ["last", "mean"])
def test_embed_pooling(case, pooling):
    g = golden(case)
    m, adapter = open_case(case)
    with m:
        out = m.embed(sequences(g), pooling=pooling, normalize=True, adapter=adapter)
    assert out.shape == g["pooled_" + pooling].shape
    assert_close(out, g["pooled_" + pooling], what=f"embed {pooling}")


@needs("xf_engine_encode")
@pytest.mark.parametrize("case", cases(HUB, "st_embed_tokens") + cases(HUB, "pooled_mean"), ids=case_id)
def test_embed_pipeline(case):
    """The folder's own pipeline (sentence-transformers modules), no overrides."""
    g = golden(case)
    with xfwd.Model(case, backend="cpu") as m:
        if "st_embed_tokens" in g:
            out, want = m.embed(sequences(g)), g["st_embed_tokens"]
            assert out.shape[1] == m.info["embed_dim"]
        else:
            out, want = m.embed(sequences(g), pooling="mean", normalize=True), g["pooled_mean"]
    assert_close(out, want, what="embed")


@needs("xf_engine_encode")
def test_embed_dimensions():
    case = os.path.join(GOLDEN, "qwen3-tiny")
    g = golden(case)
    with xfwd.Model(case, backend="cpu") as m:
        full = m.embed(sequences(g), pooling="mean", normalize=False)
        cut = m.embed(sequences(g), pooling="mean", normalize=True, dimensions=16)
    want = full[:, :16] / np.linalg.norm(full[:, :16], axis=1, keepdims=True)
    assert cut.shape == (len(g["seq_lens"]), 16)
    assert_close(cut, want, what="embed dimensions=16")


@pytest.mark.parametrize("case", cases(GOLDEN, "cls_logits") + cases(HUB, "cls_logits"), ids=case_id)
def test_classify(case):
    g = golden(case)
    with xfwd.Model(case, backend="cpu") as m:
        scores, labels = m.classify(sequences(g))
        assert labels == m.info["labels"] and len(labels) == m.info["num_labels"]
    assert_close(scores, g["cls_logits"], what="classify")


@needs("xf_engine_last_logits")
@pytest.mark.parametrize("case", cases(HUB, "rerank_logits"), ids=case_id)
def test_last_logits(case):
    g = golden(case)
    with xfwd.Model(case, backend="cpu") as m:
        out = m.last_logits(sequences(g), g["rerank_ids"])
    assert_close(out, g["rerank_logits"], what="last_logits")
    p = np.exp(out - out.max(1, keepdims=True))
    assert_close(p[:, 0] / p.sum(1), g["rerank_score"], what="P(yes)")


def test_lora_is_per_call():
    case = os.path.join(GOLDEN, "qwen3-tiny-lora-qv")
    g = golden(case)
    seqs = sequences(g)
    with xfwd.Model(case, backend="cpu", adapters={"qv": os.path.join(case, "adapter")}) as m:
        assert m.info["adapters"] == ["qv"]
        with_lora = np.concatenate(m.hidden(seqs, adapter="qv"))
        base = np.concatenate(m.hidden(seqs))
        mixed = m.hidden(seqs, adapter=["qv", None] * (len(seqs) // 2) + ["qv"] * (len(seqs) % 2))
        with pytest.raises(ValueError):
            m.hidden(seqs, adapter="nope")
    assert_close(with_lora, g["hidden"], what="hidden with LoRA")
    assert np.linalg.norm(base - g["hidden"]) / np.linalg.norm(g["hidden"]) > 1e-2, "the adapter changed nothing"
    split = np.split(with_lora, np.cumsum(g["seq_lens"])[:-1])
    split_base = np.split(base, np.cumsum(g["seq_lens"])[:-1])
    for i, h in enumerate(mixed):
        assert_close(h, split[i] if i % 2 == 0 else split_base[i], what=f"mixed batch, sequence {i}")


def cli_auto_choice(case, backend):
    """(backend, dtype) the command line picks with --dtype auto, read from --verbose;
    None when the xfwd program is not beside the library."""
    exe = os.path.join(os.environ.get("XFWD_LIBRARY_DIR", ""), "xfwd")
    if not os.access(exe, os.X_OK):
        return None
    with tempfile.TemporaryDirectory() as tmp:
        ids = os.path.join(tmp, "ids.jsonl")
        with open(ids, "w") as f:
            f.write("[1, 2, 3]\n")
        r = subprocess.run([exe, "hidden", "--model", case, "--input", ids, "--output", os.path.join(tmp, "h.npy"),
                            "--backend", backend, "--verbose"], capture_output=True, text=True, check=True)
    m = re.search(r"backend (\w+).*?, dtype (\w+)", r.stderr)
    return m.group(1), m.group(2)


@pytest.mark.parametrize("backend", ["vulkan", "cuda", "cpu", "auto"])
def test_dtype_auto(backend):
    """dtype "auto" is what the command line's --dtype auto picks: the checkpoint's
    dtype (bf16 here) on a GPU backend; on the CPU f32, or bf16 where the CPU has
    bf16 instructions and the library has oneDNN. Vulkan runs on lavapipe where
    there is no GPU; CUDA is skipped there."""
    case = os.path.join(GOLDEN, "qwen3-hd128-bf16")
    g = golden(case)
    try:
        m = xfwd.Model(case, backend=backend)
    except xfwd.Error as e:
        if e.status_name in ("XF_ERR_NO_DEVICE", "XF_ERR_DEVICE"):
            pytest.skip(f"no {backend} device: {e}")
        raise
    with m:
        assert m.info["weight_dtype"] == "BF16"
        assert m.dtype in (("f32", "bf16") if m.backend == "cpu" else ("bf16",)), (m.backend, m.dtype)
        if backend != "auto":  # the CLI's auto backend may also pick a Vulkan GPU; the library's never does
            cli = cli_auto_choice(case, backend)
            if cli is not None:
                assert (m.backend, m.dtype) == cli, f"python picks {m.backend} {m.dtype}, the CLI {cli}"
        out = m.hidden(sequences(g))
    assert_close(np.concatenate(out), g["hidden"], dtype=m.dtype, what=f"{m.backend} {m.dtype} hidden")
