#!/bin/sh
# leak_canary.sh CANARY MODEL_DIR BACKEND — the sanitizer build's leak check,
# checked: the canary leaks 4242 bytes of its own after a forward on BACKEND.
# Passes only if LeakSanitizer fails the run, names the canary's block, and
# reports nothing else (the driver's blocks are matched by tests/lsan.supp, which
# only works while the driver stays mapped: tests/keep_mapped.c).
canary=$1 model=$2 backend=$3
out=$("$canary" "$model" "$backend" 2>&1)
rc=$?
[ $rc -eq 77 ] && { echo "leak_canary: no $backend device: skipped"; exit 77; }
fail() { echo "leak_canary ($backend): $1"; echo "$out" | tail -30; exit 1; }
[ $rc -ne 0 ] || fail "exit status 0: LeakSanitizer did not fail the run"
echo "$out" | grep -q "ERROR: LeakSanitizer: detected memory leaks" || fail "no leak report (status $rc)"
echo "$out" | grep -q "Direct leak of 4242 byte(s) in 1 object(s)" || fail "the canary's block is not reported"
echo "$out" | grep -q "SUMMARY: AddressSanitizer: 4242 byte(s) leaked in 1 allocation(s)" \
    || fail "other leaks reported beside the canary's"
echo "leak_canary ($backend): the deliberate leak was caught, nothing else reported"
