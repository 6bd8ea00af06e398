#!/usr/bin/env python3
"""serve_hub.py XFWD HUB_DIR HUB_TOKENIZER WORK — `xfwd serve` on Hub-style folders
(tests/data/hub) against the CLI for the same inputs (to 1e-6): the
sentence-transformers pipeline (mean pooling, Dense, Normalize; last-token pooling),
`normalize` and `dimensions`, prompts by name, the Qwen3-Reranker recipe and a
cross-encoder on /rerank, text pairs on /predict. The folders get the tiny
byte-level tokenizer of tests/data/hub-tok for text input."""
import json, os, shutil, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_lib import Server, check, cli_rows, close, finish, read_npy, run_cli, write_classifier

xfwd, hub, hubtok, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
FAILS_BEFORE = 0


def with_tokenizer(case):
    dst = os.path.join(work, case)
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(os.path.join(hub, case), dst)
    shutil.copy(hubtok, os.path.join(dst, "tokenizer.json"))
    return dst


def rerank_cli(model, query, docs, *flags):
    path = os.path.join(work, "docs.jsonl")
    with open(path, "w") as f:
        for d in docs:
            f.write(json.dumps({"text": d}) + "\n")
    out = os.path.join(work, "rerank.npy")
    run_cli(xfwd, "rerank", "--model", model, "--query", query, "--documents", path, "--output", out,
            "--backend", "cpu", *flags)
    return [r[0] for r in read_npy(out)]


def ranked(body):
    """/rerank reply -> scores in input order (and whether it was sorted)."""
    scores = [None] * len(body)
    for r in body:
        scores[r["index"]] = r["score"]
    ok = all(body[k]["score"] >= body[k + 1]["score"] for k in range(len(body) - 1))
    return scores, ok


texts = ["hello world", "a b c", "yes or no?", "x" * 40, "The quick brown fox"]
tokens = [[5, 9, 33, 2], [7], list(range(1, 60)), [250, 3, 3, 3]]

def test_sentence_transformers():
    # the sentence-transformers pipeline: mean -> Dense(64 -> 32, tanh) -> Normalize
    st = with_tokenizer("st-mean-dense")
    with Server(xfwd, st) as s:
        st_, info = s.call("GET", "/info")
        check(st_ == 200 and info["embedding_dimensions"] == 32 and info["model_type"]["embedding"]["pooling"] == "mean"
              and info["normalize"] is True, "/info: the folder's pipeline (mean pooling, Dense to 32, Normalize)")
        want = cli_rows(xfwd, work, "embed", st, tokens)
        st_, body = s.post("/embed", {"inputs": tokens})
        close(body if st_ == 200 else [], want, "st-mean-dense /embed token ids = xfwd embed (Dense + Normalize)")
        want = cli_rows(xfwd, work, "embed", st, tokens, "--no-normalize")
        st_, body = s.post("/embed", {"inputs": tokens, "normalize": False})
        close(body if st_ == 200 else [], want, "normalize false = xfwd embed --no-normalize")
        want = cli_rows(xfwd, work, "embed", st, tokens, "--dimensions", "8")
        st_, body = s.post("/v1/embeddings", {"input": tokens, "dimensions": 8})
        close([d["embedding"] for d in body["data"]] if st_ == 200 else [], want,
              "/v1/embeddings dimensions 8 = xfwd embed --dimensions 8")
        want = cli_rows(xfwd, work, "embed", st, [{"text": t} for t in texts])
        st_, body = s.post("/embed", {"inputs": texts})
        close(body if st_ == 200 else [], want, "texts = xfwd embed {\"text\"}")
        want = cli_rows(xfwd, work, "embed", st, [{"text": t} for t in texts], "--prompt-name", "query")
        st_, body = s.post("/embed", {"inputs": texts, "prompt_name": "query"})
        close(body if st_ == 200 else [], want, "prompt_name query = xfwd embed --prompt-name query")
        st_, body = s.post("/embed", {"inputs": texts, "prompt_name": "nope"})
        check(st_ == 422 and "error_type" in body, f"unknown prompt_name -> 422 ({st_})")
        st_, body = s.post("/tokenize", {"inputs": "hello", "prompt_name": "query"})
        check(st_ == 200 and body[0][-1]["special"] and body[0][-1]["start"] is None and
              "".join(t["text"] for t in body[0][:-1]) == "query: hello", "/tokenize with a prompt; eos is special")

    st = os.path.join(hub, "st-last")
    with Server(xfwd, st) as s:
        want = cli_rows(xfwd, work, "embed", st, tokens)
        st_, body = s.post("/embed", {"inputs": tokens})
        close(body if st_ == 200 else [], want, "st-last /embed = xfwd embed (last token, Normalize)")


def test_rerank():
    # rerankers: the yes/no recipe on a causal LM, and a one-label cross-encoder
    rr = with_tokenizer("rerank-yesno")
    docs = ["yes yes", "no", "a long document " * 5, "maybe"]
    with Server(xfwd, rr) as s:
        want = rerank_cli(rr, "is it?", docs)
        st_, body = s.post("/rerank", {"query": "is it?", "texts": docs, "return_text": True})
        got, ok = ranked(body) if st_ == 200 else ([], False)
        close([got], [want], "/rerank (Qwen3-Reranker recipe) = xfwd rerank")
        check(ok and all(r["text"] == docs[r["index"]] for r in body), "/rerank sorted, with the texts")
        want = rerank_cli(rr, "is it?", docs, "--raw-scores", "--instruction", "Find it")
        st_, body = s.post("/rerank", {"query": "is it?", "texts": docs, "raw_scores": True, "instruction": "Find it"})
        close([ranked(body)[0]] if st_ == 200 else [], [want], "/rerank raw_scores, instruction = xfwd rerank --raw-scores")
        st_, body = s.post("/rerank", {"query": "q", "texts": []})
        check(st_ == 400 and "error_type" in body, f"/rerank without texts -> 400 ({st_})")

    ce = os.path.join(work, "cross-encoder")
    write_classifier(rr, ce, ["relevant"])
    with Server(xfwd, ce) as s:
        want = rerank_cli(ce, "is it?", docs)
        st_, body = s.post("/rerank", {"query": "is it?", "texts": docs})
        close([ranked(body)[0]] if st_ == 200 else [], [want], "/rerank (cross-encoder, sigmoid) = xfwd rerank")
        st_, info = s.call("GET", "/info")
        check(st_ == 200 and "reranker" in info["model_type"], "/info: a one-label head is a reranker")


def test_predict():
    # /predict with pairs through the tokenizer's pair template
    cls = with_tokenizer("cls-pad")
    pairs = [["a premise", "a hypothesis"], ["only one"], ["yes", "no"]]
    lines = [{"text": p[0], "text_pair": p[1]} if len(p) == 2 else {"text": p[0]} for p in pairs]
    want = cli_rows(xfwd, work, "classify", cls, lines)
    with Server(xfwd, cls) as s:
        st_, body = s.post("/predict", {"inputs": pairs, "raw_scores": True})
        labels = sorted(body[0], key=lambda p: p["label"]) if st_ == 200 else []
        names = [p["label"] for p in labels]
        got = [[next(p["score"] for p in row if p["label"] == n) for n in names] for row in body] if st_ == 200 else []
        close(got, want, "/predict pairs and singles = xfwd classify {\"text\", \"text_pair\"}")
        st_, body = s.post("/predict", {"inputs": ["a premise", "a hypothesis"], "raw_scores": True})
        got = [[next(p["score"] for p in body if p["label"] == n) for n in names]] if st_ == 200 else []
        close(got, want[:1], "/predict one pair")

for name in ("sentence_transformers", "rerank", "predict"):
    print(f"--- {name}", flush=True)
    try:
        globals()["test_" + name]()
    except Exception as e:   # one part failing leaves the others to run
        check(False, f"{name}: {type(e).__name__}: {e}")
finish("serve_hub")

