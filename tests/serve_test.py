#!/usr/bin/env python3
"""serve_test.py XFWD GOLDEN_DIR TOKENIZERS_DIR WORK — end to end tests of `xfwd serve`:
every endpoint against the CLI's answer for the same inputs (to 1e-6), the error
cases (malformed JSON, wrong types, empty and oversized input, too many inputs,
oversized bodies, invalid UTF-8, unknown adapters, API keys, wrong methods and
routes), clients that disconnect or stall, and the drain on SIGTERM. Each test
starts and stops its own server on a free loopback port."""
import json, os, random, socket, subprocess, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_lib import (Server, b64_floats, check, cli_rows, close, finish, normalize, run_cli, write_classifier)

xfwd, golden, toks, work = sys.argv[1:5]
os.makedirs(work, exist_ok=True)
tiny = os.path.join(golden, "qwen3-tiny")
lora_case = os.path.join(golden, "qwen3-tiny-lora-qv")
rng = random.Random(11)
seqs = [[rng.randrange(1, 256) for _ in range(n)] for n in (1, 7, 33, 120, 5)]


def openai_error(status, body, code):
    return isinstance(body, dict) and isinstance(body.get("error"), dict) and "message" in body["error"] and \
        "type" in body["error"] and status == code


def tei_error(status, body, code):
    return isinstance(body, dict) and isinstance(body.get("error"), str) and "error_type" in body and status == code


def test_embeddings():
    want = cli_rows(xfwd, work, "embed", tiny, seqs)
    want_norm = cli_rows(xfwd, work, "embed", tiny, seqs, "--normalize")
    with Server(xfwd, tiny, "--max-input-tokens", "200", "--max-inputs", "8") as s:
        st, body = s.post("/embed", {"inputs": seqs})
        close(body if st == 200 else [], want, "/embed token arrays = xfwd embed")
        st, body = s.post("/embed", {"inputs": seqs, "normalize": True})
        close(body if st == 200 else [], want_norm, "/embed normalize = xfwd embed --normalize")
        st, body = s.post("/embed", {"inputs": seqs[1]})
        close(body if st == 200 else [], want[1:2], "/embed one token array")
        st, body = s.post("/embed", {"inputs": seqs, "dimensions": 16, "normalize": True})
        close(body if st == 200 else [], normalize([r[:16] for r in want]), "/embed dimensions 16, normalised after")

        st, body = s.post("/v1/embeddings", {"input": seqs, "model": "qwen3-tiny"})
        ok = st == 200 and body["object"] == "list" and body["model"] == "qwen3-tiny" and \
            [d["index"] for d in body["data"]] == list(range(len(seqs))) and \
            all(d["object"] == "embedding" for d in body["data"]) and \
            body["usage"] == {"prompt_tokens": sum(map(len, seqs)), "total_tokens": sum(map(len, seqs))}
        check(ok, "/v1/embeddings reply shape, indices and usage")
        close([d["embedding"] for d in body["data"]] if st == 200 else [], want, "/v1/embeddings float = xfwd embed")
        st, body = s.post("/v1/embeddings", {"input": seqs, "encoding_format": "base64"})
        close([b64_floats(d["embedding"]) for d in body["data"]] if st == 200 else [], want,
              "/v1/embeddings base64 (little-endian float32) = xfwd embed")
        st, body = s.post("/v1/embeddings", {"input": seqs[2], "dimensions": 8})
        close([body["data"][0]["embedding"]] if st == 200 else [], [want[2][:8]], "/v1/embeddings single token array, dimensions 8")
        # a request larger than one forward is split across forwards
        big = [seqs[3]] * 8
        st, body = s.post("/embed", {"inputs": big})
        close(body if st == 200 else [], [want[3]] * 8, "/embed 8 x 120 tokens over several forwards")

        st, body = s.call("GET", "/info")
        check(st == 200 and body["model_id"] == "qwen3-tiny" and body["max_input_length"] == 200 and
              "embedding" in body["model_type"] and body["backend"] == "cpu", "/info")
        st, body = s.call("GET", "/health")
        check(st == 200, "/health")
        st, text = s.call("GET", "/metrics")
        check(st == 200 and 'xfwd_requests_total{endpoint="/embed",status="200"}' in text and
              "xfwd_batch_tokens_bucket" in text and "xfwd_queue_seconds_count" in text and
              "xfwd_forward_seconds_sum" in text and 'xfwd_tokens_total{endpoint="/v1/embeddings"}' in text,
              "/metrics in Prometheus text format")


def test_errors():
    with Server(xfwd, tiny, "--max-input-tokens", "64", "--max-inputs", "4", "--max-body-bytes", "20000",
                "--api-key", "sekret") as s:
        auth = {"Authorization": "Bearer sekret"}
        st, body = s.post("/embed", {"inputs": [[1, 2]]})
        check(tei_error(st, body, 401), f"/embed without API key -> 401 ({st})")
        st, body = s.post("/v1/embeddings", {"input": [[1, 2]]}, headers={"Authorization": "Bearer nope"})
        check(openai_error(st, body, 401), f"/v1/embeddings wrong API key -> 401 OpenAI shape ({st})")
        st, body = s.post("/embed", {"inputs": [[1, 2]]}, headers=auth)
        check(st == 200, f"/embed with the API key -> 200 ({st})")
        st, _ = s.call("GET", "/health")
        check(st == 200, "/health needs no key")
        cases = [
            ("/v1/embeddings", None, b'{"input": [1, 2', 400, "malformed JSON"),
            ("/embed", None, b'{"inputs": [1, 2', 400, "malformed JSON"),
            ("/v1/embeddings", {"input": 5}, None, 400, "input a number"),
            ("/embed", {"inputs": {"a": 1}}, None, 422, "inputs an object"),
            ("/embed", {"inputs": [[1, 2]], "normalize": "yes"}, None, 422, "normalize a string"),
            ("/v1/embeddings", {"input": [[1, 2]], "dimensions": 0}, None, 400, "dimensions 0"),
            ("/v1/embeddings", {"input": [[1, 2]], "encoding_format": "hex"}, None, 400, "encoding_format hex"),
            ("/v1/embeddings", {"input": []}, None, 400, "empty input list"),
            ("/embed", {"inputs": [[]]}, None, 400, "empty token array"),
            ("/v1/embeddings", {"input": [[1, 2], [3, 999]]}, None, 400, "token id >= vocab"),
            ("/embed", {"inputs": [[1, -2]]}, None, 422, "negative token id"),
            ("/embed", {"inputs": [list(range(1, 66))]}, None, 413, "input over --max-input-tokens"),
            ("/v1/embeddings", {"input": [[1]] * 5}, None, 413, "more inputs than --max-inputs"),
            ("/embed", {"inputs": [[1]] * 5}, None, 413, "more inputs than --max-inputs"),
            ("/embed", None, b'{"inputs": [' + b'1,' * 12000 + b'1]}', 413, "body over --max-body-bytes"),
            ("/v1/embeddings", None, b'{"input": "caf\xe9"}', 400, "invalid UTF-8"),
            ("/v1/embeddings", {"input": [[1, 2]], "model": "nope"}, None, 404, "unknown adapter/model"),
            ("/embed", {"inputs": [[1, 2]], "adapter": "nope"}, None, 404, "unknown adapter"),
            ("/embed", {"inputs": "text"}, None, 422, "text without tokenizer.json"),
            ("/predict", {"inputs": "x"}, None, 424, "predict on an embedding model"),
            ("/nowhere", {"x": 1}, None, 404, "unknown route"),
        ]
        for path, body, raw, code, what in cases:
            st, reply = s.post(path, body, raw=raw, headers=auth)
            shape = openai_error if path.startswith("/v1") else tei_error
            check(shape(st, reply, code), f"{path} {what} -> {code} in the API's error shape (got {st})")
        st, reply = s.call("GET", "/embed", headers=auth)
        check(st == 405 and tei_error(st, reply, 405), f"GET /embed -> 405 ({st})")
        st, reply = s.post("/embed", {"inputs": [list(range(1, 100))], "truncate": True}, headers=auth)
        want = cli_rows(xfwd, work, "embed", tiny, [list(range(1, 65))])
        close(reply if st == 200 else [], want, "truncate: true keeps the first 64 tokens")
        st, reply = s.post("/embed", {"inputs": [list(range(1, 100))], "truncate": True,
                                      "truncation_direction": "Left"}, headers=auth)
        want = cli_rows(xfwd, work, "embed", tiny, [list(range(36, 100))])
        close(reply if st == 200 else [], want, "truncation_direction Left keeps the last 64 tokens")
        st, text = s.call("GET", "/metrics", headers=auth)
        check(st == 200 and 'xfwd_errors_total{kind="auth"} 2' in text and 'status="413"' in text,
              "/metrics counts errors by kind and status")
        check(s.stop() == 0, "server exits 0 on SIGTERM")


def test_adapters():
    ad = os.path.join(lora_case, "adapter")
    base = cli_rows(xfwd, work, "embed", lora_case, seqs)
    lora = cli_rows(xfwd, work, "embed", lora_case, seqs, "--adapter", ad)
    with Server(xfwd, lora_case, "--adapter", f"qv={ad}") as s:
        st, body = s.call("GET", "/v1/models")
        check(st == 200 and [m["id"] for m in body["data"]] == ["qwen3-tiny-lora-qv", "qv"] and
              all(m["object"] == "model" for m in body["data"]), "/v1/models lists the base model and the adapter")
        st, body = s.post("/v1/embeddings", {"input": seqs, "model": "qv"})
        close([d["embedding"] for d in body["data"]] if st == 200 else [], lora, "/v1/embeddings model=qv = xfwd embed --adapter")
        check(st == 200 and body["model"] == "qv", "reply names the adapter as the model")
        st, body = s.post("/v1/embeddings", {"input": seqs, "model": "qwen3-tiny-lora-qv"})
        close([d["embedding"] for d in body["data"]] if st == 200 else [], base, "/v1/embeddings base model name = no adapter")
        st, body = s.post("/embed", {"inputs": seqs}, headers={"X-Adapter": "qv"})
        close(body if st == 200 else [], lora, "/embed X-Adapter: qv")
        st, body = s.post("/embed", {"inputs": seqs, "adapter": "qv"})
        close(body if st == 200 else [], lora, "/embed adapter field")
        st, body = s.post("/embed", {"inputs": seqs})
        close(body if st == 200 else [], base, "/embed without adapter = base model")


def test_disconnects():
    with Server(xfwd, tiny, "--timeout", "2") as s:
        # a client that sends half a body and goes away
        c = socket.create_connection(("127.0.0.1", s.port))
        c.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"inp")
        c.close()
        # a client that asks and leaves before the answer
        c = socket.create_connection(("127.0.0.1", s.port))
        body = json.dumps({"inputs": [seqs[3]] * 40}).encode()
        c.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        c.close()
        # a client that asks for 240,000 tokens and leaves: what no forward has taken yet is dropped
        c = socket.create_connection(("127.0.0.1", s.port))
        body = json.dumps({"inputs": [seqs[3]] * 2000}).encode()
        c.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        time.sleep(0.5)
        c.close()
        time.sleep(2)
        st, text = s.call("GET", "/metrics")
        done = [float(l.split()[1]) for l in text.splitlines() if l.startswith("xfwd_batch_tokens_sum")]
        check(st == 200 and done and done[0] < 2000 * 120, f"a client gone mid-request: its remaining tokens are dropped ({done[0] if done else '?'} of {2000 * 120 + 40 * 120} forwarded)")
        # a slow client: half the headers, then nothing; the server closes it after the timeout
        slow = socket.create_connection(("127.0.0.1", s.port))
        slow.sendall(b"POST /embed HTTP/1.1\r\nHost: x\r\n")
        slow.settimeout(10)
        t0 = time.time()
        try:
            got = slow.recv(100)
        except (socket.timeout, ConnectionResetError):
            got = b"?"
        check(got in (b"",) and time.time() - t0 < 9, f"a stalled client is closed after --timeout ({time.time() - t0:.1f} s)")
        slow.close()
        st, body = s.post("/embed", {"inputs": seqs[:2]})
        check(st == 200 and len(body) == 2, "the server still answers after disconnects and timeouts")
        check(s.stop() == 0, "server exits 0 on SIGTERM")
    check(all("AddressSanitizer" not in l for l in s.log), "no sanitizer report")


def test_drain():
    with Server(xfwd, tiny) as s:
        result = {}

        def long_request():
            result["r"] = s.post("/embed", {"inputs": [seqs[3]] * 300}, timeout=120)

        t = threading.Thread(target=long_request)
        t.start()
        time.sleep(0.3)
        s.proc.send_signal(2)   # SIGINT
        t.join(120)
        st, body = result.get("r", (0, None))
        check(st == 200 and len(body) == 300, f"a request in flight at SIGINT is answered ({st})")
        check(s.proc.wait(60) == 0, "then the server exits 0")
        try:
            socket.create_connection(("127.0.0.1", s.port), timeout=2).close()
            refused = False
        except OSError:
            refused = True
        check(refused, "and no longer accepts connections")


def test_text():
    tokjson = os.path.join(toks, "qwen3", "tokenizer.json")
    if not os.path.exists(tokjson):
        print(f"skip text tests: {tokjson} not fetched (scripts/fetch-tokenizers.sh)")
        return
    here = os.path.dirname(os.path.abspath(__file__))
    model = os.path.join(work, "text-model")
    os.makedirs(model, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(here, "make_text_model.py"), model, tokjson], check=True)
    texts = ["Hello, world!", "xfwd serves embeddings.", "naïve café — ünïcödé ✓", "  spaces   and\ttabs\n", "数字 12345"]
    want = cli_rows(xfwd, work, "embed", model, [{"text": t} for t in texts])
    ids_path = os.path.join(work, "tok.jsonl")
    with open(os.path.join(work, "tok_in.jsonl"), "w") as f:
        for t in texts:
            f.write(json.dumps({"text": t}) + "\n")
    run_cli(xfwd, "tokenize", "--model", model, "--input", os.path.join(work, "tok_in.jsonl"), "--output", ids_path)
    want_ids = [json.loads(l)["ids"] for l in open(ids_path)]
    cls = os.path.join(work, "cls-model")
    labels = ["negative", "neutral", "positive"]
    write_classifier(model, cls, labels)
    want_cls = cli_rows(xfwd, work, "classify", cls, [{"text": t} for t in texts])
    with Server(xfwd, model) as s:
        st, body = s.post("/embed", {"inputs": texts})
        close(body if st == 200 else [], want, "/embed texts = xfwd embed {\"text\"}")
        st, body = s.post("/v1/embeddings", {"input": texts[0]})
        close([body["data"][0]["embedding"]] if st == 200 else [], want[:1], "/v1/embeddings one string")
        check(st == 200 and body["usage"]["prompt_tokens"] == len(want_ids[0]), "usage counts the text's tokens")
        st, body = s.post("/embed", {"inputs": [texts[0], want_ids[1]]})
        close(body if st == 200 else [], want[:2], "/embed a text and a token array together")
        st, body = s.post("/tokenize", {"inputs": texts})
        ok = st == 200 and [[t["id"] for t in row] for row in body] == want_ids
        check(ok, "/tokenize ids = xfwd tokenize")
        if ok:
            spans = all("".join(t["text"] for t in row if not t["special"] and t["start"] is not None) ==
                        texts[i].encode("utf-8")[row[0]["start"]:row[-1]["stop"]].decode("utf-8", "replace")
                        for i, row in enumerate(body) if row and row[0]["start"] is not None)
            offsets = all(t["start"] is None or texts[i].encode()[t["start"]:t["stop"]].decode("utf-8", "replace") == t["text"]
                          for i, row in enumerate(body) for t in row)
            check(spans and offsets, "/tokenize start/stop are byte offsets whose bytes are each token's text")
        st, body = s.post("/tokenize", {"inputs": "Hello", "add_special_tokens": False})
        check(st == 200 and isinstance(body, list) and len(body) == 1, "/tokenize one string -> one list")
        st, body = s.post("/embed", {"inputs": [""]})
        check(tei_error(st, body, 400), f"/embed empty string -> 400 ({st})")
    with Server(xfwd, cls) as s:
        st, body = s.post("/predict", {"inputs": [[t] for t in texts], "raw_scores": True})
        ok = st == 200 and len(body) == len(texts)
        got = [[next(p["score"] for p in row if p["label"] == l) for l in labels] for row in body] if ok else []
        close(got, want_cls, "/predict raw_scores = xfwd classify")
        ok = ok and all(row[k]["score"] >= row[k + 1]["score"] for row in body for k in range(len(row) - 1))
        check(ok, "/predict sorted by score")
        st, body = s.post("/predict", {"inputs": texts[0]})
        ok = st == 200 and abs(sum(p["score"] for p in body) - 1) < 1e-5 and {p["label"] for p in body} == set(labels)
        check(ok, "/predict one text: softmax over the labels, names from id2label")
        st, body = s.call("GET", "/info")
        check(st == 200 and body["model_type"].get("classifier", {}).get("id2label", {}).get("2") == "positive",
              "/info of a classifier lists id2label")


def test_help():
    out = run_cli(xfwd, "serve", "--help")
    check("--max-batch-tokens" in out and "--api-key" in out and "--adapter NAME=DIR" in out, "xfwd serve --help")
    r = subprocess.run([xfwd, "serve", "--model", tiny, "--port", "x"], capture_output=True, text=True, timeout=30)
    check(r.returncode == 2 and "--port" in r.stderr, "a bad flag value: exit 2 naming the flag")
    r = subprocess.run([xfwd, "serve", "--model=" + tiny, "--adapter=x=/nonexistent"], capture_output=True, text=True,
                       timeout=30)
    check(r.returncode == 1 and "--adapter x" in r.stderr, "a missing adapter folder: exit 1 naming it")


for name in ("help", "embeddings", "errors", "adapters", "disconnects", "drain", "text"):
    print(f"--- {name}", flush=True)
    try:
        globals()["test_" + name]()
    except Exception as e:   # a crash of one part is a failure, the others still run
        check(False, f"{name}: {type(e).__name__}: {e}")
finish("serve")
