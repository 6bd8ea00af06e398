"""serve_lib.py — what the `xfwd serve` tests share (Python standard library only):
starting a server on a free loopback port and stopping it, HTTP calls, running the
CLI for the reference answers, reading .npy files, comparing vectors, and writing
small model folders that carry a real tokenizer.json."""
import base64, json, os, signal, struct, subprocess, sys, threading, time
import http.client

FAILS = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        FAILS.append(what)
    return ok


class Server:
    """xfwd serve on 127.0.0.1 and a port the kernel picks; the port is read
    from the "listening on" line. Stopped with SIGTERM, killed if it hangs."""

    def __init__(self, xfwd, model, *args, timeout=60):
        self.cmd = [xfwd, "serve", "--model", model, "--port", "0", "--backend", "cpu", *args]
        self.proc = subprocess.Popen(self.cmd, stderr=subprocess.PIPE, text=True)
        self.log = []
        deadline = time.time() + timeout
        self.port = None
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                break
            self.log.append(line)
            if "listening on http://" in line:
                self.port = int(line.split("listening on http://")[1].split()[0].rsplit(":", 1)[1])
                break
        if self.port is None:
            self.proc.kill()
            raise RuntimeError("server did not start: " + " ".join(self.cmd) + "\n" + "".join(self.log))
        # keep draining stderr so the server never blocks on a full pipe
        self.reader = threading.Thread(target=self._drain, daemon=True)
        self.reader.start()

    def _drain(self):
        for line in self.proc.stderr:
            self.log.append(line)

    def stop(self, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = -999
        self.reader.join(10)
        return rc

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        """Every server must exit 0 and quietly (sanitizer builds report leaks here)."""
        already = self.proc.poll() is not None
        rc = self.stop()
        if not already:
            check(rc == 0, f"server on port {self.port} exits 0 on SIGTERM (got {rc})")
        bad = [l for l in self.log if "Sanitizer" in l or "runtime error" in l]
        if bad:
            check(False, "sanitizer report from the server:\n" + "".join(self.log[-60:]))

    def call(self, method, path, body=None, headers=None, raw=None, timeout=60):
        """-> (status, parsed JSON or text). body: a JSON value; raw: bytes as they are."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        text = r.read().decode("utf-8", "replace")
        c.close()
        try:
            return r.status, json.loads(text) if text else None
        except ValueError:
            return r.status, text

    def post(self, path, body, **kw):
        return self.call("POST", path, body, **kw)


def run_cli(xfwd, *args):
    r = subprocess.run([xfwd, *args], capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        raise RuntimeError(f"xfwd {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def read_npy(path):
    with open(path, "rb") as f:
        data = f.read()
    hlen = struct.unpack("<H", data[8:10])[0]
    header = data[10:10 + hlen].decode()
    shape = tuple(int(x) for x in header.split("'shape': (")[1].split(")")[0].split(",") if x.strip())
    vals = struct.unpack("<%df" % (len(data[10 + hlen:]) // 4), data[10 + hlen:])
    cols = shape[1] if len(shape) > 1 else 1
    return [list(vals[i * cols:(i + 1) * cols]) for i in range(shape[0])]


def cli_rows(xfwd, work, cmd, model, lines, *flags):
    """Runs `xfwd cmd` on JSONL lines (each a JSON value); -> rows of the .npy."""
    inp, out = os.path.join(work, "cli_in.jsonl"), os.path.join(work, "cli_out.npy")
    with open(inp, "w") as f:
        for l in lines:
            f.write(json.dumps(l) + "\n")
    run_cli(xfwd, cmd, "--model", model, "--input", inp, "--output", out, "--backend", "cpu", *flags)
    return read_npy(out)


def worst(a, b):
    """Largest relative error ||a_i - b_i|| / ||b_i|| over rows (inf if shapes differ).
    Per row, not per element: which sequences share a forward changes the BLAS
    blocking and so the last bits, as it does between two CLI runs."""
    if len(a) != len(b):
        return float("inf")
    w = 0.0
    for ra, rb in zip(a, b):
        if len(ra) != len(rb) or any(x is None for x in ra):
            return float("inf")
        d = sum((x - y) ** 2 for x, y in zip(ra, rb)) ** 0.5
        n = sum(y * y for y in rb) ** 0.5
        w = max(w, d / max(n, 1e-30))
    return w


def close(a, b, what, tol=1e-6):
    w = worst(a, b)
    return check(w <= tol, f"{what} (worst {w:.2e})")


def b64_floats(s):
    raw = base64.b64decode(s)
    return list(struct.unpack("<%df" % (len(raw) // 4), raw))


def normalize(rows):
    out = []
    for r in rows:
        n = sum(x * x for x in r) ** 0.5
        out.append([x / max(n, 1e-12) for x in r])
    return out


def write_classifier(src, dst, labels):
    """A copy of the model folder src as a *ForSequenceClassification with a
    random score head [len(labels), H] appended to its safetensors."""
    import random
    os.makedirs(dst, exist_ok=True)
    cfg = json.load(open(os.path.join(src, "config.json")))
    H = cfg["hidden_size"]
    cfg["architectures"] = [cfg["architectures"][0].replace("ForCausalLM", "ForSequenceClassification")]
    cfg["id2label"] = {str(i): l for i, l in enumerate(labels)}
    cfg["label2id"] = {l: i for i, l in enumerate(labels)}
    data = open(os.path.join(src, "model.safetensors"), "rb").read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    rng = random.Random(3)
    score = struct.pack("<%df" % (len(labels) * H), *(rng.uniform(-0.5, 0.5) for _ in range(len(labels) * H)))
    header["score.weight"] = {"dtype": "F32", "shape": [len(labels), H], "data_offsets": [len(body), len(body) + len(score)]}
    hb = json.dumps(header).encode()
    hb += b" " * (-len(hb) % 8)
    with open(os.path.join(dst, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(hb)) + hb + body + score)
    json.dump(cfg, open(os.path.join(dst, "config.json"), "w"))
    for extra in ("tokenizer.json",):
        if os.path.exists(os.path.join(src, extra)):
            with open(os.path.join(src, extra), "rb") as a, open(os.path.join(dst, extra), "wb") as b:
                b.write(a.read())


def finish(name):
    n = len(FAILS)
    print(f"{name}: {'all passed' if n == 0 else f'{n} failed'}")
    sys.exit(1 if n else 0)
