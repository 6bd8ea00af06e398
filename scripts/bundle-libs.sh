#!/usr/bin/env bash
# bundle-libs.sh BUILD_DIR — copies the Debian shared libraries the binaries in
# BUILD_DIR need (JSON, BLAS and its Fortran runtime, PCRE2, utf8proc, OpenMP)
# into BUILD_DIR/lib, where the binaries' $ORIGIN rpath finds them. This lets a
# build travel to a machine without those packages (the GPU machine).
# A build configured with -DXFWD_BLAS_VENDOR=Generic gets the small netlib BLAS
# instead of whatever libblas.so.3 the alternatives system points at.
set -euo pipefail
build=${1:?usage: bundle-libs.sh BUILD_DIR}
mkdir -p "$build/lib"
pattern='libjansson|libopenblas|libgfortran|libquadmath|libpcre2|libutf8proc|libgomp|libblas'
netlib=/usr/lib/x86_64-linux-gnu/blas/libblas.so.3
libs=$(find "$build" -maxdepth 2 -type f -perm -u+x ! -name '*.so*' ! -path "$build/lib/*" | while read -r b; do
  file "$b" 2>/dev/null | grep -q ELF || continue
  ldd "$b" 2>/dev/null | awk '/=>/ {print $1, $3}' | grep -E "$pattern" || true
done | sort -u)
direct_openblas=$(find "$build" -maxdepth 2 -type f -perm -u+x ! -path "$build/lib/*" -exec sh -c \
  'readelf -d "$1" 2>/dev/null | grep -q "NEEDED.*libopenblas"' _ {} \; -print | head -n 1)
echo "$libs" | while read -r name path; do
  [ -n "$name" ] || continue
  if [ "$name" = libblas.so.3 ] && [ -f "$netlib" ]; then
    cp -L "$netlib" "$build/lib/libblas.so.3"
  elif [ "$name" = libopenblas.so.0 ] && [ -z "$direct_openblas" ]; then
    continue   # only pulled in through the libblas.so.3 alternative
  else
    cp -L "$path" "$build/lib/$name"
  fi
done
ls -la "$build/lib"
