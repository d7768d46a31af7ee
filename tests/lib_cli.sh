# Sourced by the tests/cli_*.sh scripts (run from the repository root): a
# temporary folder $T removed at exit, the pass/fail counters, ok / bad
# (no = bad) and finish, which prints the closing "N passed, M failed" line
# and returns non-zero when anything failed.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() {
    pass=$((pass + 1))
    if [ $# -gt 0 ]; then echo "ok   $*"; fi
    return 0
}
bad() {
    fail=$((fail + 1))
    echo "FAIL $*"
}
no() { bad "$@"; }
finish() {
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}
