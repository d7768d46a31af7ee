#!/bin/sh
# diffpo verify / diffpo loss.  $1: the diffpo binary.  Run from the repo root.
# Expected values in the hand-written case are exact by hand: with
# theta = ref every log-ratio is 0, so L = log 2, z = 0 and the TailorPO
# gradient (eq. 21) is -(beta/2)(x_w - x_l)/sigma^2.
D=${1:-build/diffpo}
P=0
F=0
ok() { echo "ok   $1"; P=$((P + 1)); }
no() { echo "FAIL $1"; F=$((F + 1)); }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

mkdir -p "$T/v"
cat > "$T/v/hand.vec" <<'V'
# hand-computed case
case tailorpo-equal-ref
fn tailorpo
dtype f64
mode sum
beta 2
sigma 1
x_w 1 0.5
x_l 0 0
mu 0.25 0.25
mu_ref 0.25 0.25
expect.loss 0x1.62e42fefa39efp-1 (0.693147180559945309)
expect.z 0
expect.grad_mu -1 -0.5
end
V

# 1. the committed vectors pass and the summary line closes the output
if ls vectors/*.vec >/dev/null 2>&1; then
    out=$("$D" verify vectors 2>&1); st=$?
    last=$(echo "$out" | tail -n 1)
    if [ $st -eq 0 ] && echo "$last" | grep -Eq '^[0-9]+ passed, 0 failed$'; then ok "verify vectors ($last)"; else
        echo "$out" | grep FAIL | head -20; no "verify vectors ($last)"; fi
else
    no "verify vectors: no vectors/*.vec committed yet"
fi

# 2. a hand-computed case passes
out=$("$D" verify "$T/v" 2>&1); st=$?
if [ $st -eq 0 ] && [ "$(echo "$out" | tail -n 1)" = "1 passed, 0 failed" ]; then ok "verify hand case"; else
    echo "$out"; no "verify hand case"; fi

# 3. a wrong expectation fails with a non-zero exit and 'N passed, M failed'
sed 's/^expect.z 0$/expect.z 0x1p-40/' "$T/v/hand.vec" > "$T/v/wrong.vec"
out=$("$D" verify "$T/v" 2>&1); st=$?
if [ $st -ne 0 ] && [ "$(echo "$out" | tail -n 1)" = "1 passed, 1 failed" ]; then ok "wrong value detected"; else
    echo "$out"; no "wrong value detected"; fi
rm -f "$T/v/wrong.vec"

# 4. diffpo loss round-trips: its output verifies, and is a fixed point
mkdir -p "$T/r"
if "$D" loss "$T/v/hand.vec" > "$T/r/a.vec" && "$D" verify "$T/r" >/dev/null 2>&1; then ok "loss output verifies"; else
    no "loss output verifies"; fi
if "$D" loss "$T/r/a.vec" > "$T/b.vec" && cmp -s "$T/r/a.vec" "$T/b.vec"; then ok "loss is a fixed point"; else
    no "loss is a fixed point"; fi
if ls vectors/*.vec >/dev/null 2>&1; then
    f=$(ls vectors/*.vec | head -n 1)
    mkdir -p "$T/rt"
    if "$D" loss "$f" > "$T/rt/x.vec" && "$D" verify "$T/rt" >/dev/null 2>&1; then ok "loss round-trip of $f"; else
        no "loss round-trip of $f"; fi
fi

# 5. malformed files: one line on stderr naming file:line, non-zero exit
check_bad() { # name, file content, expected line
    printf "$2" > "$T/bad.vec"
    err=$("$D" loss "$T/bad.vec" 2>&1 >/dev/null); st=$?
    n=$(printf '%s\n' "$err" | wc -l)
    if [ $st -ne 0 ] && [ "$n" -eq 1 ] && echo "$err" | grep -q "bad.vec:$3:"; then ok "malformed: $1"; else
        echo "  got (exit $st): $err"; no "malformed: $1"; fi
}
check_bad "missing end" 'case a\nfn tailorpo\n' 1
check_bad "field outside case" '# c\nfn tailorpo\n' 2
check_bad "nested case" 'case a\ncase b\nend\n' 2
check_bad "bad number" 'case a\nfn rank\nreward 1 2x 3\nexpect.order 0 1 2\nend\n' 3
check_bad "unknown fn" 'case a\n\nfn nosuch\nend\n' 3
check_bad "bad key" 'case a\nfn@ x\nend\n' 2
err=$("$D" verify "$T/none" 2>&1); st=$?
if [ $st -ne 0 ]; then ok "missing dir fails"; else no "missing dir fails"; fi

echo "$P passed, $F failed"
[ $F -eq 0 ]
