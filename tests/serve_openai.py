#!/usr/bin/env python3
"""serve_openai.py XFWD GOLDEN_DIR WORK — a real client: the official OpenAI Node
library (npm install openai into WORK/node, from the npm registry) calls
/v1/embeddings of `xfwd serve` and must get the vectors `xfwd embed` writes for the
same token ids (to 1e-6), by default (base64) and as floats, for the base model
and for a LoRA adapter named as the model. Skipped (77) when npm cannot install."""
import json, os, shutil, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_lib import Server, check, cli_rows, close, finish

xfwd, golden, work = sys.argv[1:4]
here = os.path.dirname(os.path.abspath(__file__))
node_dir = os.path.join(work, "node")
os.makedirs(node_dir, exist_ok=True)
if not os.path.exists(os.path.join(node_dir, "node_modules", "openai")):
    if not shutil.which("npm") or not shutil.which("node"):
        print("skipped: no node/npm")
        sys.exit(77)
    try:
        r = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", "--fetch-retries=1",
                            "--fetch-timeout=30000", "--prefix", node_dir, "openai"],
                           capture_output=True, text=True, timeout=240)
    except subprocess.TimeoutExpired:
        print("skipped: npm install openai took more than 240 s (no registry?)")
        sys.exit(77)
    if r.returncode != 0:
        print("skipped: npm install openai failed: " + r.stderr.strip()[-500:])
        sys.exit(77)
shutil.copy(os.path.join(here, "serve_openai.mjs"), os.path.join(node_dir, "serve_openai.mjs"))

case = os.path.join(golden, "qwen3-tiny-lora-qv")
adapter = os.path.join(case, "adapter")
inputs = [[5, 17, 200, 3], [9], list(range(1, 90)), [250, 1, 1, 1, 7, 42]]
json.dump(inputs, open(os.path.join(work, "openai_inputs.json"), "w"))
want = {"qwen3-tiny-lora-qv": cli_rows(xfwd, work, "embed", case, inputs),
        "qv": cli_rows(xfwd, work, "embed", case, inputs, "--adapter", adapter)}
with Server(xfwd, case, "--adapter", "qv=" + adapter, "--api-key", "node-key") as s:
    for model, rows in want.items():
        r = subprocess.run(["node", os.path.join(node_dir, "serve_openai.mjs"), str(s.port), model,
                            os.path.join(work, "openai_inputs.json")], capture_output=True, text=True, timeout=120)
        if not check(r.returncode == 0, f"node openai client ran (model {model})"):
            print(r.stderr[-2000:])
            continue
        got = json.loads(r.stdout)
        close(got["base64"], rows, f"openai-node embeddings.create (default: base64) model={model} = xfwd embed")
        close(got["float"], rows, f"openai-node embeddings.create encoding_format=float model={model} = xfwd embed")
        check(got["wrong_key"] == 401, f"openai-node with a wrong key gets 401 (got {got['wrong_key']})")
        check(got["model"] == model and got["usage"]["prompt_tokens"] == sum(map(len, inputs)),
              "model and usage as the library reads them")
finish("serve_openai")
