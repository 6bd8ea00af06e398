#!/usr/bin/env python3
"""serve_concurrency.py XFWD GOLDEN_DIR WORK — many clients at once: 64 client
threads send requests of mixed lengths (1 to 300 tokens, 1 to 6 inputs) for mixed
adapters (the base model and the qwen3-tiny-lora-qv LoRA) to /embed and
/v1/embeddings of one server. Every answer must equal the answer the same request
got alone, before, within 1e-6 (relative error per row), and the requests must
have shared forwards (fewer forwards than requests). Then the same with two
replicas (--devices 0,0: two engines, two forward threads on one queue): the
same answers, and /info lists both devices."""
import os, random, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_lib import Server, check, finish, worst

xfwd, golden, work = sys.argv[1:4]
case = os.path.join(golden, "qwen3-tiny-lora-qv")
CLIENTS, PER_CLIENT = 64, 3
rng = random.Random(5)


def make_request():
    n = rng.randint(1, 6)
    inputs = [[rng.randrange(0, 256) for _ in range(rng.choice([1, 3, 17, 64, 130, 300]))] for _ in range(n)]
    adapter = rng.choice([None, "qv"])
    if rng.random() < 0.5:
        body = {"input": inputs}
        if adapter:
            body["model"] = adapter
        return "/v1/embeddings", body
    body = {"inputs": inputs}
    if adapter:
        body["adapter"] = adapter
    return "/embed", body


def rows(path, status, body):
    if status != 200:
        return None
    return [d["embedding"] for d in body["data"]] if path == "/v1/embeddings" else body


def forwards(s):
    st, text = s.call("GET", "/metrics")
    for line in text.splitlines():
        if line.startswith("xfwd_forwards_total "):
            return int(line.split()[1])
    return -1


requests = [[make_request() for _ in range(PER_CLIENT)] for _ in range(CLIENTS)]


def run(label, *extra):
    """One server (extra: its further flags): every request alone, then all at once."""
    with Server(xfwd, case, "--adapter", "qv=" + os.path.join(case, "adapter"), "--max-batch-tokens", "2048",
                "--max-wait-ms", "5", *extra) as s:
        expected = [[rows(p, *s.post(p, b)) for p, b in reqs] for reqs in requests]
        check(all(e is not None for reqs in expected for e in reqs),
              f"{label}: {CLIENTS * PER_CLIENT} requests answered one at a time")
        f0 = forwards(s)
        got = [[None] * PER_CLIENT for _ in range(CLIENTS)]
        start = threading.Barrier(CLIENTS)

        def client(i):
            start.wait()
            for k, (p, b) in enumerate(requests[i]):
                try:
                    got[i][k] = rows(p, *s.post(p, b, timeout=300))
                except Exception as e:   # recorded as a missing answer
                    got[i][k] = None
                    print(f"client {i} request {k}: {e}")

        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        t0 = time.time()
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        dt = time.time() - t0
        n_req = CLIENTS * PER_CLIENT
        missing = sum(g is None for reqs in got for g in reqs)
        check(missing == 0,
              f"{label}: {n_req} concurrent requests from {CLIENTS} clients all answered ({dt:.1f} s, {missing} missing)")
        w = max((worst(g, e) for gr, er in zip(got, expected) for g, e in zip(gr, er) if g is not None), default=0.0)
        check(w <= 1e-6, f"{label}: every concurrent answer equals its sequential answer (worst {w:.2e})")
        n_fwd = forwards(s) - f0
        check(0 < n_fwd < n_req, f"{label}: requests shared forwards: {n_fwd} forwards for {n_req} requests")
        st, info = s.call("GET", "/info")
        devices = info.get("devices") if st == 200 and isinstance(info, dict) else None
        check(devices == ([0, 0] if extra else [0]), f"{label}: /info lists the engines' devices ({devices})")
        check(s.stop() == 0, f"{label}: server exits 0 on SIGTERM")
    return expected


one = run("one engine")
two = run("two replicas", "--devices", "0,0")
w = max(worst(g, e) for gr, er in zip(two, one) for g, e in zip(gr, er))
check(w <= 1e-6, f"two replicas answer what one engine answers (worst {w:.2e})")
finish("serve_concurrency")
