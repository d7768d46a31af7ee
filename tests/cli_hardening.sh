#!/bin/sh
# Hostile and careless use of the CLI (docs/cli.md, "Output files" and
# "Inputs and numbers"): a failed later output leaves earlier files as they
# were; devices and FIFOs are written, never replaced; planted links at
# temporary names are never followed; input reads are bounded; unwritable
# --save-state / --results paths are refused before any work; numbers are
# decimal or 0x hex (never octal); a write error on standard output is exit
# status 1 with a message; and the smaller cases (two names of one output,
# --method given twice, sigma_t = 0 blamed on the right cause, overflowing
# outputs refused).
# Usage: sh tests/cli_hardening.sh path/to/diffpo
set -u
BIN=${1:-build/diffpo}
. tests/lib_cli.sh

# one line on stderr, the given exit status, nothing on stdout
refused() { # what, expected status, pattern; then the command
    what=$1 want=$2 pat=$3
    shift 3
    "$@" >"$T/out.txt" 2>"$T/err.txt"
    st=$?
    if [ $st -eq "$want" ] && [ "$(wc -l <"$T/err.txt")" -eq 1 ] && grep -q -- "$pat" "$T/err.txt"; then
        ok "$what"
    else
        bad "$what: exit $st, stderr '$(cat "$T/err.txt")'"
    fi
}

# ---- 1. a failed later output leaves an existing earlier one as it was
echo OLD >"$T/a.npy"
"$BIN" schedule --out "$T/a.npy" --out64 "$T/nonexistent/b.npy" 2>/dev/null
[ "$(cat "$T/a.npy" 2>/dev/null)" = OLD ] && ok "schedule: failed --out64 keeps the old --out" ||
    bad "schedule: failed --out64 lost the old --out"
"$BIN" schedule --out "$T/x.npy" >/dev/null || bad "schedule --out failed"
mkdir "$T/keep"
echo OLDP >"$T/keep/p.npy"
"$BIN" ddim-step --sample "$T/x.npy" --model-output "$T/x.npy" --timestep 500 --steps 50 \
    --out "$T/keep/p.npy" --mean-out "$T/nonexistent/mu.npy" 2>/dev/null
[ "$(cat "$T/keep/p.npy" 2>/dev/null)" = OLDP ] && ok "ddim-step: failed --mean-out keeps the old --out" ||
    bad "ddim-step: failed --mean-out lost the old --out"
# a later rename that fails (the target became a directory after the check
# is not reachable from the shell; a directory target is refused up front)
mkdir "$T/adir"
echo OLDQ >"$T/keep/q.npy"
refused "ddim-step: a directory as --x0-out is refused up front" 2 "is a directory" \
    "$BIN" ddim-step --sample "$T/x.npy" --model-output "$T/x.npy" --timestep 500 --steps 50 \
    --out "$T/keep/q.npy" --x0-out "$T/adir"
[ "$(cat "$T/keep/q.npy")" = OLDQ ] && ok "ddim-step: and --out is untouched" || bad "ddim-step: --out changed"
ls "$T/keep" | grep -q tmp && bad "a temporary file was left behind" || ok "no temporary left behind"

# ---- 2. devices and FIFOs are written directly, never replaced
mkfifo "$T/fifo"
cat "$T/fifo" >"$T/fifo_got" &
reader=$!
"$BIN" schedule --out "$T/fifo" 2>"$T/err.txt" &
writer=$!
waited=0 # (slow under valgrind: up to 60 s)
while kill -0 $writer 2>/dev/null && [ $waited -lt 60 ]; do
    sleep 1
    waited=$((waited + 1))
done
if kill -0 $writer 2>/dev/null; then
    kill $writer $reader 2>/dev/null
    bad "schedule --out FIFO: still running after 60 s"
else
    wait $writer
    st=$?
    # an old binary renames a regular file over the FIFO and the reader waits
    kill $reader 2>/dev/null
    wait $reader 2>/dev/null
    if [ $st -eq 0 ] && [ -p "$T/fifo" ] && cmp -s "$T/fifo_got" "$T/x.npy"; then ok "FIFO written through, still a FIFO"; else
        bad "schedule --out FIFO: exit $st, FIFO kept: $([ -p "$T/fifo" ] && echo yes || echo no)"
    fi
fi
if mknod "$T/null" c 1 3 2>/dev/null; then
    "$BIN" schedule --out "$T/null" --out64 "$T/null64.npy" >/dev/null 2>&1
    [ -c "$T/null" ] && ok "a character device stays a device" || bad "the device node was replaced"
else
    [ -c /dev/null ] && "$BIN" schedule --out /dev/null >/dev/null 2>&1 && [ -c /dev/null ] &&
        ok "/dev/null stays a device" || bad "/dev/null was replaced"
fi

# ---- 3. a link planted at a temporary's old fixed name is never followed
C="--batch 3 --pretrain-iters 120 --eval-per-class 2 --pairs 8 --out-dir $T/o --quiet --method spo --iters 2"
echo VICTIM >"$T/victim"
ln -s "$T/victim" "$T/s.st.tmp"
"$BIN" align $C --save-state "$T/s.st" >/dev/null 2>&1 || bad "align --save-state failed"
[ "$(cat "$T/victim")" = VICTIM ] && ok "state: planted link not followed" || bad "state: wrote through a planted link"
[ -f "$T/s.st" ] && [ ! -L "$T/s.st" ] && ok "state file is a regular file" || bad "state file is a link"
cache=$(ls "$T/o"/base-*.bin 2>/dev/null | head -n 1)
if [ -n "$cache" ]; then
    rm -f "$cache"
    ln -s "$T/victim" "$cache.tmp"
    "$BIN" align $C >/dev/null 2>&1 || bad "align (cache rewrite) failed"
    [ "$(cat "$T/victim")" = VICTIM ] && [ -f "$cache" ] && [ ! -L "$cache" ] && ok "base-model cache: link not followed" ||
        bad "base-model cache: wrote through a planted link"
else
    bad "no base-model cache written"
fi

# ---- 4. bounded input reads: /dev/zero is refused at once
# (a 400 MB address-space limit where the binary runs under one: an ASan
# build cannot, and there ASan itself reports an oversized allocation)
LIM=400000
(ulimit -v $LIM 2>/dev/null && exec "$BIN" --version) >/dev/null 2>&1 || LIM=unlimited
(ulimit -v $LIM 2>/dev/null; exec "$BIN" ddim-step --sample /dev/zero --model-output "$T/x.npy" --timestep 500 \
    --steps 50 --out "$T/z.npy") >/dev/null 2>"$T/err.txt"
st=$?
[ $st -eq 2 ] && grep -q "not a .npy file" "$T/err.txt" && ok "--sample /dev/zero refused from its first bytes" ||
    bad "--sample /dev/zero: exit $st, '$(cat "$T/err.txt")'"
# a valid file followed by an endless stream: only the announced bytes are read
(cat "$T/x.npy"; cat /dev/zero) | (ulimit -v $LIM 2>/dev/null; exec "$BIN" ddim-step --sample /dev/stdin \
    --model-output "$T/x.npy" --timestep 500 --steps 50 --out "$T/z.npy") >/dev/null 2>"$T/err.txt" &&
    ok "a pipe is read up to the header's size" || bad "pipe input: '$(cat "$T/err.txt")'"

# a forged header on a short pipe: refused without allocating what it claims
d="{'descr': '<f4', 'fortran_order': False, 'shape': (1000000000000,), }"
{ printf '\223NUMPY\001\000\166\000%s' "$d"; printf '%*s\n' $((117 - ${#d})) ''; printf 'abcd'; } >"$T/forged.npy"
[ "$(wc -c <"$T/forged.npy")" -eq 132 ] || bad "forged header: wrong length $(wc -c <"$T/forged.npy")"
cat "$T/forged.npy" | (ulimit -v $LIM 2>/dev/null; exec "$BIN" ddim-step --sample /dev/stdin \
    --model-output "$T/x.npy" --timestep 500 --steps 50 --out "$T/z.npy") >/dev/null 2>"$T/err.txt"
grep -q "shorter than the shape says" "$T/err.txt" && ok "forged header on a pipe: truncated, no huge allocation" ||
    bad "forged header on a pipe: '$(cat "$T/err.txt")'"

# ---- 5. unwritable outputs refused before any work
rm -rf "$T/o5"
refused "align: --save-state in a missing folder refused first" 2 "save-state" \
    "$BIN" align $C --out-dir "$T/o5" --save-state "$T/nonexistent/s.st"
ls "$T/o5"/base-*.bin >/dev/null 2>&1 && bad "align pretrained before refusing --save-state" || ok "nothing pretrained"
refused "experiments: a directory as --results refused first" 2 "is a directory" \
    timeout 20 "$BIN" experiments --quick --out-dir "$T/o6" --results "$T/adir"
refused "rollout: --out in a missing folder refused first" 2 "cannot create" \
    "$BIN" rollout --steps 2 --out "$T/nonexistent/r.npy"

# ---- 6. numbers: decimal or 0x hex, a leading zero is decimal
f010=$("$BIN" rollout --seed 010 --steps 3 | tail -n 1)
f10=$("$BIN" rollout --seed 10 --steps 3 | tail -n 1)
f8=$("$BIN" rollout --seed 8 --steps 3 | tail -n 1)
fx=$("$BIN" rollout --seed 0xa --steps 3 | tail -n 1)
[ "$f010" = "$f10" ] && [ "$f010" != "$f8" ] && [ "$fx" = "$f10" ] && ok "--seed 010 = 10 = 0xa, not 8" ||
    bad "--seed 010: '$f010', 10: '$f10', 8: '$f8', 0xa: '$fx'"
"$BIN" philox --key 010,0 --counter 0,0,0,0 >"$T/p1.txt" && "$BIN" philox --key 10,0 --counter 0,0,0,0 >"$T/p2.txt" &&
    cmp -s "$T/p1.txt" "$T/p2.txt" && ok "philox --key 010 = 10" || bad "philox --key 010 differs from 10"
# the bounded integer options follow the same rule: 0x hex accepted, signs refused
s3=$("$BIN" rollout --seed 10 --steps 3 | tail -n 1)
sx=$("$BIN" rollout --seed 10 --steps 0x3 | tail -n 1)
s03=$("$BIN" rollout --seed 10 --steps 03 | tail -n 1)
[ -n "$s3" ] && [ "$sx" = "$s3" ] && [ "$s03" = "$s3" ] && ok "--steps 0x3 = 03 = 3" ||
    bad "--steps 0x3: '$sx', 03: '$s03', 3: '$s3'"
for v in +3 -3 " 3" 3e0; do
    if "$BIN" rollout --seed 10 --steps "$v" >/dev/null 2>"$T/e.txt"; then
        bad "--steps '$v' accepted"
    else
        grep -q "steps" "$T/e.txt" && ok "--steps '$v' refused, naming the option" || bad "--steps '$v': $(cat "$T/e.txt")"
    fi
done
for v in 0x "" " 5" 1e3 08x 0x1g -1 18446744073709551616; do
    "$BIN" rollout --seed "$v" --steps 2 >/dev/null 2>&1 && bad "--seed '$v' accepted" || ok
done

# ---- 7. a write error on standard output is exit status 1 and a message
if [ -w /dev/full ]; then
    refused "rollout >/dev/full" 1 "standard output" sh -c "exec '$BIN' rollout --steps 2 >/dev/full"
    refused "philox >/dev/full" 1 "standard output" sh -c "exec '$BIN' philox --key 1,2 --counter 0,0,0,0 >/dev/full"
    refused "verify >/dev/full" 1 "standard output" sh -c "exec '$BIN' verify vectors >/dev/full"
    refused "align >/dev/full" 1 "standard output" sh -c "exec '$BIN' align $C >/dev/full"
    refused "--version >/dev/full" 1 "standard output" sh -c "exec '$BIN' --version >/dev/full"
else
    ok "no /dev/full here: skipped"
fi

# ---- 8. the smaller cases
refused "ddim-step: --out and --mean-out as two names of one file" 2 "name the same file" \
    "$BIN" ddim-step --sample "$T/x.npy" --model-output "$T/x.npy" --timestep 500 --steps 50 \
    --out "$T/keep/r.npy" --mean-out "$T/keep/./r.npy"
refused "schedule: --out and --out64 through a link of one file" 2 "name the same file" \
    "$BIN" schedule --out "$T/keep/p.npy" --out64 "$T/keep/../keep/p.npy"
refused "align: --method given twice" 2 "twice" "$BIN" align $C --method all
refused "rollout: trailing 1000 steps names the real cause" 2 "alphas_cumprod equals" \
    "$BIN" rollout --steps 1000 --spacing trailing
# a 2-element float32 file from the CLI itself, its data replaced
"$BIN" schedule --out "$T/two.npy" --train-steps 2 --beta-schedule linear --beta-start 0.1 --beta-end 0.2 >/dev/null
head -c 128 "$T/two.npy" >"$T/big.npy"
printf '\377\377\177\177\377\377\177\177' >>"$T/big.npy" # 3.4e38 twice: finite, the largest float32
head -c 128 "$T/two.npy" >"$T/zero.npy"
printf '\000\000\000\000\000\000\000\000' >>"$T/zero.npy"
refused "ddim-step: finite 3.4e38 inputs that overflow are refused" 2 "overflows" \
    "$BIN" ddim-step --sample "$T/big.npy" --model-output "$T/zero.npy" --timestep 500 --steps 50 --out "$T/ov.npy"
[ -e "$T/ov.npy" ] && bad "an overflowing output was written" || ok "no output written"

# ---- 10. the linked xxHash is checked against XXH3-64's published vectors
"$BIN" --version >"$T/v.txt" 2>&1 && grep -q "XXH3-64 sanity vectors ok" "$T/v.txt" &&
    ok "--version checks the linked xxHash" || bad "--version: '$(cat "$T/v.txt")'"
# a different XXH3 (a stand-in library preloaded) is caught: exit 1, FAIL
CCX=${CC:-cc}
if ldd "$BIN" 2>/dev/null | grep -q xxhash &&
    printf '#include <stddef.h>\nunsigned long long XXH3_64bits_withSeed(const void *p, size_t n, unsigned long long s)\n{ (void)p; return n ^ s; }\n' >"$T/fake.c" &&
    "$CCX" -shared -fPIC -o "$T/libfake.so" "$T/fake.c" 2>/dev/null; then
    ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD="$T/libfake.so" "$BIN" --version >"$T/v.txt" 2>"$T/e.txt"
    st=$?
    [ $st -eq 1 ] && grep -q FAIL "$T/v.txt" && grep -q "not XXH3-64" "$T/e.txt" && ok "a different xxHash is refused" ||
        bad "preloaded stand-in xxHash: exit $st, '$(cat "$T/v.txt" "$T/e.txt")'"
else
    ok "xxHash linked statically or no compiler: stand-in check skipped"
fi

finish
