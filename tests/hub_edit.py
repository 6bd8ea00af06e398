#!/usr/bin/env python3
"""hub_edit.py — rewrites files of a copied hub case for the hub shell tests
(standard library only):
  json FILE EXPR    runs EXPR with d = the parsed JSON, writes d back
  st FILE CODE      runs CODE with h = the safetensors header (dict), writes it back
  copy SRC DST      a writable copy of a case folder (symlinks followed)"""
import json, shutil, struct, sys, os


def main():
    cmd, path, arg = sys.argv[1], sys.argv[2], sys.argv[3]
    if cmd == "json":
        d = json.load(open(path))
        exec(arg)
        json.dump(d, open(path, "w"), indent=1)
    elif cmd == "st":
        raw = open(path, "rb").read()
        n = struct.unpack("<Q", raw[:8])[0]
        h = json.loads(raw[8:8 + n])
        exec(arg)
        hb = json.dumps(h).encode()
        hb += b" " * (-len(hb) % 8)
        open(path, "wb").write(struct.pack("<Q", len(hb)) + hb + raw[8 + n:])
    elif cmd == "copy":
        shutil.rmtree(arg, ignore_errors=True)
        shutil.copytree(path, arg)
        for root, dirs, files in os.walk(arg):
            for name in dirs + files:
                os.chmod(os.path.join(root, name), 0o755 if name in dirs else 0o644)
    else:
        sys.exit("unknown command " + cmd)


main()
