#!/usr/bin/env bash
# gpu-stage.sh BUILD_DIR — prepares a build for the GPU machine: copies what a run
# needs (binaries, ctest files, CMakeCache.txt; no objects or static libraries) to
# BUILD_DIR-carry (ignored by git, like every build*) and puts the Debian shared
# libraries the binaries use into BUILD_DIR-carry/lib, where their $ORIGIN rpath
# looks. Then: run scripts/gpu-run.sh BUILD_DIR-carry there, carrying that folder.
set -euo pipefail
build=${1:?usage: gpu-stage.sh BUILD_DIR}
dest=$build-carry
rm -rf "$dest"
mkdir -p "$dest/lib"
(cd "$build" && find . -path '*CMakeFiles*' -prune -o -type f ! -name '*.a' ! -name '*.o' ! -name '*.ninja' \
  ! -name '.ninja*' ! -name compile_commands.json ! -path './lib/*' -print) |
  while read -r f; do
    mkdir -p "$dest/$(dirname "$f")"
    cp -p "$build/$f" "$dest/$f"
  done
# folders the tests write into (made at configure time, empty until a test runs)
(cd "$build" && find . -path '*CMakeFiles*' -prune -o -type d -print) | while read -r d; do mkdir -p "$dest/$d"; done
pattern='libjansson|libmicrohttpd|libopenblas|libblas|libgfortran|libquadmath|libpcre2|libutf8proc|libgomp'
find "$dest" -type f -perm -u+x ! -path "$dest/lib/*" | while read -r b; do
  ldd "$b" 2>/dev/null | awk '/=>/ {print $1, $3}' || true
done | sort -u | { grep -E "$pattern" || true; } | while read -r name path; do
  # a Generic-BLAS build wants netlib's libblas.so.3, not the alternative that may point at
  # OpenBLAS (35 MB); OpenBLAS itself only when a binary needs it directly
  netlib=/usr/lib/x86_64-linux-gnu/blas/libblas.so.3
  if [ "$name" = libblas.so.3 ] && [ -f "$netlib" ]; then
    cp -L "$netlib" "$dest/lib/$name"
  elif [ "$name" = libopenblas.so.0 ] && ! grep -qs '^XFWD_BLAS_VENDOR:STRING=OpenBLAS' "$dest/CMakeCache.txt"; then
    continue
  else
    cp -L "$path" "$dest/lib/$name"
  fi
done
du -sh "$dest"
