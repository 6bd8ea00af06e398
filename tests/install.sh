#!/usr/bin/env bash
# install.sh BUILD_DIR GOLDEN_CASE — `cmake --install` into a temporary prefix, then
# what a user does with the installed tree:
#  - the files are there; libxfwd.so has its SONAME and exports exactly the
#    functions of xfwd.h (those not yet in the library are listed, not failed);
#  - tests/install/app.c built with `cc app.c $(pkg-config --cflags --libs xfwd)`,
#    with `pkg-config --static` against libxfwd.a, and through find_package(xfwd) in a
#    small CMake project (xfwd::xfwd and xfwd::xfwd_static), each computing the
#    golden case's final hidden states within 1e-5;
#  - the installed xfwd command runs.
set -u
build=$(cd "$1" && pwd)
case_dir=$2
here=$(cd "$(dirname "$0")" && pwd)
# a build carried to another machine (scripts/gpu-stage.sh) has no static library,
# and that machine may lack the tools and development packages
if [ ! -e "$build/libxfwd.a" ]; then echo "skipped: $build has no libxfwd.a (a staged build)"; exit 77; fi
for tool in cmake ${CC:-cc} pkg-config readelf nm python3; do
  command -v "$tool" >/dev/null || { echo "skipped: no $tool here"; exit 77; }
done
pkg-config --exists jansson libpcre2-8 || { echo "skipped: no jansson / libpcre2-8 development files"; exit 77; }
work=$(mktemp -d /tmp/xfwd-install-XXXXXX)
trap 'rm -rf "$work"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log" || { cat "$work/install.log"; exit 1; }
libdir=$(dirname "$(find "$prefix" -name libxfwd.a | head -n 1)")
for f in bin/xfwd include/xfwd.h; do [ -e "$prefix/$f" ] || bad "$f not installed"; done
for f in libxfwd.a libxfwd.so pkgconfig/xfwd.pc cmake/xfwd/xfwdConfig.cmake; do
  [ -e "$libdir/$f" ] || bad "${libdir#$prefix/}/$f not installed"
done

# SONAME and exported symbols
soname=$(readelf -d "$libdir/libxfwd.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
case "$soname" in libxfwd.so.[0-9]*) echo "SONAME $soname" ;; *) bad "libxfwd.so has SONAME '$soname'" ;; esac
[ -e "$libdir/$soname" ] || bad "$soname not installed"
nm -D --defined-only "$libdir/libxfwd.so" | awk '{print $3}' | sort >"$work/exported"
sort "$build/xfwd.symbols" >"$work/declared"
extra=$(comm -23 "$work/exported" "$work/declared")
[ -z "$extra" ] || bad "libxfwd.so exports symbols xfwd.h does not declare: $(echo $extra | head -c 400)"
missing=$(comm -13 "$work/exported" "$work/declared")
echo "exported: $(wc -l <"$work/exported") functions of xfwd.h${missing:+; not in the library yet: $(echo $missing)}"

# the golden case's inputs and reference as raw arrays for app.c
python3 - "$here" "$case_dir" "$work/data" <<'PY' || exit 1
import os, sys
sys.path.insert(0, sys.argv[1])
from golden_tool import read_safetensors
g = read_safetensors(sys.argv[2] + "/golden.safetensors")
os.makedirs(sys.argv[3])
for name, ext in (("tokens", "i32"), ("seq_lens", "i32"), ("hidden", "f32")):
    g[name][1].tofile(open(f"{sys.argv[3]}/{name}.{ext}", "wb"))
PY

run_app() {  # run_app LABEL EXE [ENV...]
  local label=$1 exe=$2
  shift 2
  if env "$@" "$exe" "$case_dir" "$work/data"; then echo "ok: $label"; else bad "$label"; fi
}
export PKG_CONFIG_PATH=$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
cc=${CC:-cc}

# pkg-config, shared: the whole link line
flags=$(pkg-config --cflags --libs xfwd) || bad "pkg-config --libs xfwd"
echo "pkg-config --cflags --libs xfwd: $flags"
if $cc -std=c11 -o "$work/app_pc" "$here/install/app.c" $flags -lm; then
  readelf -d "$work/app_pc" | grep -q "NEEDED.*\[$soname\]" || bad "app_pc does not link $soname"
  run_app "pkg-config (shared)" "$work/app_pc" LD_LIBRARY_PATH="$libdir"
else
  bad "cc app.c \$(pkg-config --cflags --libs xfwd)"
fi

# pkg-config --static against libxfwd.a (-l:libxfwd.a: -lxfwd would pick the .so)
sflags=$(pkg-config --static --cflags --libs xfwd) || bad "pkg-config --static --libs xfwd"
echo "pkg-config --static --cflags --libs xfwd: $sflags"
sflags=$(echo " $sflags " | sed "s| -lxfwd | -l:libxfwd.a |")
if $cc -std=c11 -o "$work/app_static" "$here/install/app.c" $sflags -lm; then
  ! readelf -d "$work/app_static" | grep -q "NEEDED.*libxfwd" || bad "app_static links libxfwd.so"
  run_app "pkg-config --static (libxfwd.a)" "$work/app_static"
else
  bad "cc app.c libxfwd.a \$(pkg-config --static --libs xfwd)"
fi

# find_package(xfwd) in a user's CMake project
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
if cmake -S "$here/install" -B "$work/consumer" "${gen[@]}" -DCMAKE_PREFIX_PATH="$prefix" \
     -DCMAKE_BUILD_TYPE=Release >"$work/consumer.log" 2>&1 &&
   cmake --build "$work/consumer" >>"$work/consumer.log" 2>&1; then
  run_app "find_package: xfwd::xfwd" "$work/consumer/app_shared"
  run_app "find_package: xfwd::xfwd_static" "$work/consumer/app_static"
else
  cat "$work/consumer.log"
  bad "find_package(xfwd) project"
fi

# the installed command-line tool
if "$prefix/bin/xfwd" info --model "$case_dir" >"$work/info.json"; then echo "ok: installed xfwd info"
else bad "installed bin/xfwd info"; fi
exit $fail
