#!/bin/sh
# with-vulkan-testing.sh CMD ARGS... — runs a test through the cooperative-matrix
# lavapipe of scripts/fetch-vulkan-testing.sh; exits 77 (skipped) where that runtime
# is absent (a build that travelled to another machine without it).
run="$(cd "$(dirname "$0")/.." && pwd)/.cache/vulkan-testing/run"
[ -x "$run" ] || exit 77
exec "$run" "$@"
