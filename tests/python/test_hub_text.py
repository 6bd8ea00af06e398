"""test_hub_text.py — text in, numbers out, against sentence-transformers /
transformers float64 references (tests/data/hub-text, made by
tests/make_hub_text_cases.py): each run of a folder's runs.json (written as `xfwd`
command-line arguments) done through xfwd.Model — embeddings with the folder's
prompts, lower-casing and truncation, cross-encoder scores of text pairs, reranking."""
import json
import os

import numpy as np
import pytest

import xfwd
from conftest import DATA, assert_close, needs

HUB_TEXT = os.path.join(DATA, "hub-text")


def _runs():
    out = []
    if os.path.isdir(HUB_TEXT):
        for name in sorted(os.listdir(HUB_TEXT)):
            path = os.path.join(HUB_TEXT, name, "runs.json")
            if os.path.exists(path):
                for i, r in enumerate(json.load(open(path))["runs"]):
                    kind = r["args"][0] if r["args"] and not r["args"][0].startswith("-") else "embed"
                    out.append(pytest.param(os.path.join(HUB_TEXT, name), r, id=f"{name}-{i}-{kind}"))
    return out


def _jsonl(path):
    return [json.loads(line) for line in open(path, encoding="utf-8") if line.strip()]


def _option(args, flag, default=None):
    return args[args.index(flag) + 1] if flag in args else default


@needs("xf_tokenize_texts", "xf_engine_encode", "xf_engine_rerank", "xf_model_prompt")
@pytest.mark.parametrize("case,run", _runs())
def test_hub_text(case, run):
    args = run["args"]
    want = np.asarray(run["expected"], np.float64).reshape(run["shape"])
    with xfwd.Model(case, backend="cpu") as m:
        if args and args[0] == "rerank":
            docs = [r["text"] if isinstance(r, dict) else r  # {"text": ...} or a JSON string
                    for r in _jsonl(os.path.join(case, _option(args, "--documents")))]
            got = m.rerank(_option(args, "--query"), docs)
        elif args and args[0] == "classify":
            rows = _jsonl(os.path.join(case, run["input"]))
            pairs = [r["text_pair"] for r in rows] if "text_pair" in rows[0] else None
            got, labels = m.classify([r["text"] for r in rows], pairs=pairs)
        else:
            texts = [r["text"] for r in _jsonl(os.path.join(case, run["input"]))]
            got = m.embed(texts, prompt_name=_option(args, "--prompt-name"),
                          truncate=_option(args, "--truncate", "right"))
    assert got.shape == want.shape
    tol = run.get("tol", 1e-5)
    assert tol <= 1e-5  # f32 references
    assert_close(got, want, what=f"{os.path.basename(case)} {' '.join(args)}")
