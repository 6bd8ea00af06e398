# check_lib.sh — sourced by the shell tests: pass/fail counting and `check NAME COMMAND...`
# (runs it; "ok   NAME[: its output]" when it exits 0, else "FAIL NAME: its output"), and
# `check_summary LABEL` (the counts; exits non-zero when anything failed).
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then ok "$name${out:+: $out}"; else bad "$name: $out"; fi
}
check_summary() {
  echo "$1: $pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
