"""test_api.py — xfwd.Model's contract beyond the numbers: info, errors (xfwd.Error
with the library's message and status), input forms, closing, text in and out."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import xfwd
from conftest import GOLDEN, TOKENIZERS, assert_close, golden, needs, sequences

TINY = os.path.join(GOLDEN, "qwen3-tiny")
QWEN3_TOKENIZER = os.path.join(TOKENIZERS, "qwen3", "tokenizer.json")
REFERENCE_IDS = os.path.join(os.path.dirname(GOLDEN), "tokenizer", "qwen3.jsonl")


def test_describe():
    """describe(): the recipe with each op's kernel, as the CLI's info --verbose prints it."""
    lora = os.path.join(GOLDEN, "qwen3-tiny-lora-qv")
    with xfwd.Model(lora, backend="cpu", dtype="f32", adapters={"qv": os.path.join(lora, "adapter")}) as m:
        text = m.describe()
    assert "on backend cpu" in text, text
    assert any(l.strip().startswith("L*   attention") and "causal" in l for l in text.splitlines()), text
    assert "lora{q,v}" in text and "kernel table not filled" not in text, text
    with pytest.raises(xfwd.Error):
        m.describe()  # closed


def test_device():
    """device=: the engine's device; the CPU has device 0 only, so device=1 is refused by name."""
    with xfwd.Model(TINY, backend="cpu", device=0) as m:
        assert m.backend == "cpu"
    with pytest.raises(xfwd.Error, match="device 1"):
        xfwd.Model(TINY, backend="cpu", device=1)


def test_info():
    with xfwd.Model(TINY, backend="cpu", dtype="auto") as m:
        info = m.info
        assert (info["arch"], info["model_type"], info["architecture"]) == ("qwen3", "qwen3", "Qwen3ForCausalLM")
        assert (info["hidden_size"], info["vocab_size"], info["n_layers"], info["head_dim"]) == (64, 256, 2, 32)
        assert info["tied_embeddings"] is True and info["has_lm_head"] is True
        assert info["weight_dtype"] == "F32" and info["backend"] == "cpu" and info["dtype"] == "f32"
        assert info["embed_dim"] == 64 and info["labels"] == []
        json.dumps(info)  # plain values only
        assert "cpu" in repr(m)


def test_input_forms():
    g = golden(TINY)
    seqs = sequences(g)
    with xfwd.Model(TINY, backend="cpu") as m:
        ref = m.hidden(seqs)
        one = m.hidden(seqs[1])                             # one list of ints
        arrays = m.hidden([np.array(s, np.int64) for s in seqs])
        assert m.hidden([]) == []
    assert len(one) == 1
    assert_close(one[0], ref[1], what="one sequence alone")  # (BLAS blocking depends on the batch)
    for a, b in zip(arrays, ref):
        assert np.array_equal(a, b)


def test_errors():
    with pytest.raises(xfwd.Error) as e:
        xfwd.Model(os.path.join(GOLDEN, "no-such-model"))
    assert e.value.status_name == "XF_ERR_IO" and e.value.status == 2
    assert "no-such-model" in str(e.value)

    with pytest.raises(ValueError):
        xfwd.Model(TINY, backend="tpu")
    with pytest.raises(ValueError):
        xfwd.Model(TINY, dtype="f64")

    m = xfwd.Model(TINY, backend="cpu")
    with pytest.raises(xfwd.Error) as e:
        m.hidden([[1, 2, 256]])                              # vocab is 256
    assert e.value.status_name == "XF_ERR_INVALID_ARG" and "256" in str(e.value)
    with pytest.raises(xfwd.Error):
        m.hidden([[1, -1]])
    with pytest.raises(xfwd.Error):
        m.logits([[1, 2], []])                               # an empty sequence
    with pytest.raises(xfwd.Error):
        m.hidden([[1, 2**32 + 1]])                           # would wrap to a valid id in int32
    with pytest.raises(xfwd.Error) as e:
        m.classify([[1, 2]])                                 # no score head
    with pytest.raises(xfwd.Error) as e:
        xfwd.Model(TINY, backend="cpu", adapters={"x": os.path.join(GOLDEN, "qwen3-tiny-lora-qv")})
    m.close()
    m.close()                                                # idempotent
    with pytest.raises(xfwd.Error):
        m.hidden([[1, 2]])


def test_unknown_tokenizer():
    with xfwd.Model(TINY, backend="cpu") as m:                # the golden folders have no tokenizer.json
        with pytest.raises(xfwd.Error) as e:
            m.detokenize([1, 2, 3])
        assert "tokenizer.json" in str(e.value)


def _reference_rows(n=40):
    if not os.path.exists(QWEN3_TOKENIZER):
        pytest.skip(f"{QWEN3_TOKENIZER} not fetched (scripts/fetch-tokenizers.sh)")
    rows = [json.loads(line) for line in open(REFERENCE_IDS, encoding="utf-8")][:n]
    return [r for r in rows if r["ids_special"]]


@needs("xf_tokenize_texts")
def test_tokenize_matches_reference():
    rows = _reference_rows()
    with xfwd.Model(TINY, backend="cpu", tokenizer=QWEN3_TOKENIZER) as m:
        got = m.tokenize([r["text"] for r in rows])
        assert m.tokenize(rows[0]["text"]) == got[0]
    bad = [i for i, (g, r) in enumerate(zip(got, rows)) if g != r["ids_special"]]
    assert not bad, f"{len(bad)} of {len(rows)} texts tokenized differently, first: {rows[bad[0]]['text']!r}"


def test_detokenize():
    rows = _reference_rows()
    with xfwd.Model(TINY, backend="cpu", tokenizer=QWEN3_TOKENIZER) as m:
        texts = m.detokenize([r["ids"] for r in rows])
        assert m.detokenize(np.array(rows[0]["ids"])) == rows[0]["decoded"]
    bad = [i for i, (t, r) in enumerate(zip(texts, rows)) if t != r["decoded"]]
    assert not bad, f"{len(bad)} of {len(rows)} decoded differently, first: {rows[bad[0]]['decoded']!r}"


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    """A small random Qwen3 folder with the real Qwen3 tokenizer.json beside it."""
    if not os.path.exists(QWEN3_TOKENIZER):
        pytest.skip(f"{QWEN3_TOKENIZER} not fetched (scripts/fetch-tokenizers.sh)")
    out = tmp_path_factory.mktemp("text-model")
    script = os.path.join(os.path.dirname(GOLDEN), "..", "make_text_model.py")
    subprocess.run([sys.executable, script, str(out), QWEN3_TOKENIZER], check=True)
    return str(out)


@needs("xf_tokenize_texts", "xf_engine_encode")
def test_text_equals_tokens(text_model):
    texts = [r["text"] for r in _reference_rows(12)]
    with xfwd.Model(text_model, backend="cpu") as m:
        ids = m.tokenize(texts)
        assert np.array_equal(m.embed(texts, prompt=""), m.embed(ids))
        # a prompt is text put before each input (pooled over: the folder includes prompts)
        with_prompt = m.tokenize(["query: " + t for t in texts])
        assert np.array_equal(m.embed(texts, prompt="query: "), m.embed(with_prompt))
        for a, b in zip(m.hidden(texts), m.hidden(ids)):
            assert np.array_equal(a, b)


@needs("xf_engine_rerank")
def test_rerank(text_model):
    docs = ["Paris is the capital of France.", "Bananas are yellow.", "The Eiffel tower is in Paris."]
    with xfwd.Model(text_model, backend="cpu") as m:
        p = m.rerank("Where is the Eiffel tower?", docs)
        raw = m.rerank("Where is the Eiffel tower?", docs, raw_scores=True)
        assert m.rerank("q", []).shape == (0,)
    assert p.shape == (3,) and np.all((p >= 0) & (p <= 1))
    # P(yes) = softmax(yes, no)[yes] = sigmoid(logit(yes) - logit(no))
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-raw.astype(np.float64))), rtol=1e-4, atol=1e-6)


@needs("xf_model_prompt")
def test_sentence_transformers_folder():
    case = os.path.join(os.path.dirname(GOLDEN), "hub", "st-mean-dense")
    if not os.path.isdir(case):
        pytest.skip(f"{case} not present")
    with xfwd.Model(case, backend="cpu") as m:
        info = m.info
        assert (info["embed_dim"], info["n_dense"], info["default_pooling"]) == (32, 1, "mean")
        assert info["default_normalize"] is True and info["default_prompt_name"] is None
        assert m.prompt("query") == "query: "
        with pytest.raises(xfwd.Error) as e:
            m.prompt("nope")
        assert e.value.status_name == "XF_ERR_INVALID_ARG" and "nope" in str(e.value)
        assert m.embed([[1, 2, 3]]).shape == (1, 32)
        with pytest.raises(ValueError):
            m.embed([[1, 2, 3]], prompt_name="query")  # prompts are for texts


def test_headless_has_no_logits():
    case = os.path.join(os.path.dirname(GOLDEN), "hub", "headless-untied")
    if not os.path.isdir(case):
        pytest.skip(f"{case} not present")
    with xfwd.Model(case, backend="cpu") as m:
        assert m.info["has_lm_head"] is False
        assert m.hidden([[1, 2, 3]])[0].shape == (3, m.info["hidden_size"])
        with pytest.raises(xfwd.Error) as e:
            m.logits([[1, 2, 3]])
        assert e.value.status_name == "XF_ERR_UNSUPPORTED"
