#!/bin/sh
# diffpo schedule: output format, defaults, and errors that write no file.
# $1: the diffpo binary.  Expected timesteps are diffusers 0.42.1's
# DDIMScheduler.set_timesteps output (see tests/test_schedule.c).
D=${1:-build/diffpo}
. tests/lib_cli.sh

# expect_line NAME EXPECTED ARGS...: exit 0, stdout exactly EXPECTED, no stderr
expect_line() {
    name=$1
    want=$2
    shift 2
    out=$("$D" schedule "$@" 2>"$T/err"); st=$?
    if [ $st -eq 0 ] && [ "$out" = "$want" ] && [ ! -s "$T/err" ]; then ok "$name"; else
        no "$name: exit $st, got '$out', stderr '$(cat "$T/err")'"; fi
}

# expect_error NAME ARGS...: non-zero exit, one line on stderr starting with
# "diffpo schedule: ", nothing on stdout, and neither $T/o.npy nor $T/o64.npy
expect_error() {
    name=$1
    shift
    rm -f "$T/o.npy" "$T/o64.npy"
    out=$("$D" schedule "$@" 2>"$T/err"); st=$?
    lines=$(wc -l <"$T/err")
    if [ $st -ne 0 ] && [ -z "$out" ] && [ "$lines" -eq 1 ] && grep -q '^diffpo schedule: ' "$T/err" &&
        [ ! -e "$T/o.npy" ] && [ ! -e "$T/o64.npy" ] && [ -z "$(ls "$T" | grep -v -e '^err$' -e '^keep')" ]; then
        ok "$name ($(cat "$T/err"))"
    else
        no "$name: exit $st, stdout '$out', stderr '$(cat "$T/err")', files: $(ls "$T" | tr '\n' ' ')"
    fi
}

# ---- successes
expect_line "defaults: SD-1.5 leading, offset 1" \
    "951 901 851 801 751 701 651 601 551 501 451 401 351 301 251 201 151 101 51 1" --steps 20
expect_line "explicit SD-1.5 options" \
    "951 901 851 801 751 701 651 601 551 501 451 401 351 301 251 201 151 101 51 1" \
    --beta-schedule scaled_linear --beta-start 0.00085 --beta-end 0.012 --train-steps 1000 \
    --set-alpha-to-one 0 --steps 20 --spacing leading --steps-offset 1
expect_line "trailing 20" \
    "999 949 899 849 799 749 699 649 599 549 499 449 399 349 299 249 199 149 99 49" --steps 20 --spacing trailing
expect_line "linspace 7" "999 832 666 500 333 166 0" --steps 7 --spacing linspace
expect_line "leading 7 offset 0" "852 710 568 426 284 142 0" --steps 7 --steps-offset 0
expect_line "linspace 3 of 4 (half to even)" "3 2 0" --train-steps 4 --steps 3 --spacing linspace
expect_line "steps 1" "0" --steps 1 --steps-offset 0

# --out writes a float32 .npy of N values: v1.0 header (128 bytes here) + 4N
rm -f "$T"/*.npy
out=$("$D" schedule --out "$T/a.npy" 2>"$T/err"); st=$?
sz=$(wc -c <"$T/a.npy" 2>/dev/null || echo 0)
if [ $st -eq 0 ] && [ -z "$out" ] && [ "$sz" -eq 4128 ] && head -c 6 "$T/a.npy" | grep -q NUMPY &&
    head -c 128 "$T/a.npy" | grep -q "'<f4'" && head -c 128 "$T/a.npy" | grep -q "(1000,)"; then
    ok "--out: float32 (1000,) .npy, $sz bytes, nothing printed"
else
    no "--out: exit $st, size $sz, stdout '$out', stderr '$(cat "$T/err")'"
fi
out=$("$D" schedule --beta-schedule linear --beta-start 0.0001 --beta-end 0.02 --train-steps 10 \
    --out64 "$T/b.npy" --steps 2 --spacing trailing 2>"$T/err"); st=$?
sz=$(wc -c <"$T/b.npy" 2>/dev/null || echo 0)
if [ $st -eq 0 ] && [ "$out" = "9 4" ] && [ "$sz" -eq 208 ] && head -c 128 "$T/b.npy" | grep -q "'<f8'"; then
    ok "--out64: float64 (10,) .npy, $sz bytes, timesteps '$out'"
else
    no "--out64: exit $st, size $sz, stdout '$out', stderr '$(cat "$T/err")'"
fi
# set_alpha_to_one does not change the table
"$D" schedule --out "$T/c.npy" --set-alpha-to-one 1 2>/dev/null
if cmp -s "$T/a.npy" "$T/c.npy"; then ok "--set-alpha-to-one leaves the table alone"; else
    no "--set-alpha-to-one changed the table"; fi
# the table round-trips through --table (float32 in -> same float32 out)
"$D" schedule --table "$T/a.npy" --out "$T/d.npy" 2>"$T/err"
if cmp -s "$T/a.npy" "$T/d.npy"; then ok "--table float32 round trip"; else
    no "--table round trip: $(cat "$T/err")"; fi
# different schedules give different tables
"$D" schedule --beta-schedule squaredcos_cap_v2 --out "$T/e.npy" 2>/dev/null
if [ -s "$T/e.npy" ] && ! cmp -s "$T/a.npy" "$T/e.npy"; then ok "squaredcos_cap_v2 table differs"; else
    no "squaredcos_cap_v2 table"; fi

out=$("$D" schedule --help 2>&1); st=$?
if [ $st -eq 0 ] && echo "$out" | grep -q -- '--beta-schedule' && echo "$out" | grep -q -- '--steps-offset'; then
    ok "--help"; else no "--help: exit $st"; fi

# ---- errors: one line, non-zero exit, no file
rm -f "$T"/*.npy
mv "$T/err" "$T/keep_err" 2>/dev/null
echo junk >"$T/keep_bad.npy"
"$D" schedule --train-steps 1000 --out "$T/keep_t50.npy" >/dev/null 2>&1 # for the length mismatch below
expect_error "unknown beta schedule" --beta-schedule cosine --out "$T/o.npy"
expect_error "beta-start > beta-end" --beta-start 0.02 --beta-end 0.01 --out "$T/o.npy"
expect_error "beta-start 0" --beta-start 0 --out "$T/o.npy"
expect_error "beta-end 1" --beta-end 1 --out "$T/o.npy" --out64 "$T/o64.npy"
expect_error "beta-start not a number" --beta-start 1e-3x --out "$T/o.npy"
expect_error "beta-start nan" --beta-start nan --out "$T/o.npy"
expect_error "train-steps 1" --train-steps 1 --out "$T/o.npy"
expect_error "train-steps 4097" --train-steps 4097 --out "$T/o.npy"
expect_error "train-steps 12abc" --train-steps 12abc --out "$T/o.npy"
expect_error "set-alpha-to-one 2" --set-alpha-to-one 2 --out "$T/o.npy"
expect_error "steps 0" --steps 0 --out "$T/o.npy"
expect_error "steps > train-steps" --train-steps 10 --steps 11 --out "$T/o.npy"
expect_error "bad spacing" --steps 10 --spacing middle --out "$T/o.npy"
expect_error "negative offset" --steps 10 --steps-offset -1 --out "$T/o.npy"
expect_error "leading S = N with offset 1 reaches N" --train-steps 10 --steps 10 --out "$T/o.npy"
expect_error "trailing 61 of 1000 (diffusers would end on -1)" --steps 61 --spacing trailing --out "$T/o.npy"
expect_error "spacing without steps" --spacing trailing --out "$T/o.npy"
expect_error "nothing to do" --beta-schedule linear
expect_error "unknown option" --out "$T/o.npy" --frobnicate 1
expect_error "stray argument" --out "$T/o.npy" extra
expect_error "missing value" --out "$T/o.npy" --steps
expect_error "option as value" --out --steps 20
expect_error "same file for both outputs" --out "$T/o.npy" --out64 "$T/o.npy"
expect_error "underflowing schedule" --beta-schedule linear --beta-start 0.99 --beta-end 0.99 \
    --train-steps 4096 --out "$T/o.npy"
expect_error "table and betas together" --table "$T/keep_t50.npy" --beta-start 0.001 --out "$T/o.npy"
expect_error "missing table" --table "$T/nope.npy" --out "$T/o.npy"
expect_error "malformed table" --table "$T/keep_bad.npy" --out "$T/o.npy"
expect_error "table length vs train-steps" --table "$T/keep_t50.npy" --train-steps 50 --out "$T/o.npy"
expect_error "unwritable --out" --out "$T/no/such/dir/o.npy"
expect_error "unwritable --out64 removes --out" --out "$T/o.npy" --out64 "$T/no/such/dir/o64.npy"

finish
