#!/bin/sh
# diffpo align --save-state / --resume: a run stopped after k iterations and
# resumed gives the bits of the uninterrupted run (LoRA fingerprint and the
# evaluated rewards), for online and offline methods and other thread
# counts; a state from another configuration, a truncated or corrupted
# state, a state beyond --iters and several methods are refused with one
# line on stderr, a non-zero exit and no table.
set -u
BIN=${1:-build/diffpo}
. tests/lib_cli.sh
row() { awk 'NR > 2 { $5 = ""; print }' "$1"; } # table row without wall time

C="--batch 3 --pretrain-iters 120 --eval-per-class 2 --pairs 8 --out-dir $T/o --quiet"
for m in tailorpo-g spo diffusion-dpo d3po; do
    "$BIN" align $C --method $m --iters 5 --threads 1 >"$T/full.txt" 2>&1 || bad "$m: straight run failed"
    "$BIN" align $C --method $m --iters 2 --threads 2 --save-state "$T/$m.st" >"$T/a.txt" 2>&1 || bad "$m: first part failed"
    "$BIN" align $C --method $m --iters 5 --threads 2 --resume "$T/$m.st" >"$T/b.txt" 2>&1 || bad "$m: resume failed"
    if [ -n "$(row "$T/full.txt")" ] && [ "$(row "$T/full.txt")" = "$(row "$T/b.txt")" ]; then ok; else
        bad "$m: resumed run differs from the straight run: '$(row "$T/b.txt")' vs '$(row "$T/full.txt")'"
    fi
    # the stopped run's own fingerprint is another one (the check can fail)
    [ "$(row "$T/a.txt")" != "$(row "$T/full.txt")" ] && ok || bad "$m: 2 and 5 iterations give the same row"
done

# resuming a resumed state (2 -> 4 -> 5) is the same as well
"$BIN" align $C --method spo --iters 4 --resume "$T/spo.st" --save-state "$T/spo4.st" >/dev/null 2>&1 &&
    "$BIN" align $C --method spo --iters 5 --resume "$T/spo4.st" >"$T/c.txt" 2>&1 || bad "chained resume failed"
"$BIN" align $C --method spo --iters 5 >"$T/full.txt" 2>&1
[ "$(row "$T/c.txt")" = "$(row "$T/full.txt")" ] && ok || bad "chained resume differs"

refuse() { # description, then the align arguments
    what=$1
    shift
    "$BIN" align "$@" >"$T/out.txt" 2>"$T/err.txt"
    st=$?
    if [ $st -ne 0 ] && [ "$(wc -l <"$T/err.txt")" -eq 1 ] && [ ! -s "$T/out.txt" ]; then ok; else
        bad "$what: exit $st, stderr '$(cat "$T/err.txt")', stdout '$(head -c 200 "$T/out.txt")'"
    fi
}
refuse "other seed" $C --method spo --iters 5 --seed 9 --resume "$T/spo.st"
refuse "other method" $C --method tailorpo --iters 5 --resume "$T/spo.st"
refuse "other lr" $C --method spo --iters 5 --lr 0.01 --resume "$T/spo.st"
refuse "other batch" $C --method spo --iters 5 --batch 2 --resume "$T/spo.st"
refuse "beyond --iters" $C --method spo --iters 1 --resume "$T/spo.st"
refuse "missing file" $C --method spo --iters 5 --resume "$T/nope.st"
head -c 40 "$T/spo.st" >"$T/trunc.st"
refuse "truncated" $C --method spo --iters 5 --resume "$T/trunc.st"
cp "$T/spo.st" "$T/flip.st"
printf '\377' | dd of="$T/flip.st" bs=1 seek=100 conv=notrunc 2>/dev/null
refuse "corrupted" $C --method spo --iters 5 --resume "$T/flip.st"
printf 'x' >>"$T/spo.st.extra" && cat "$T/spo.st" "$T/spo.st.extra" >"$T/long.st"
refuse "trailing bytes" $C --method spo --iters 5 --resume "$T/long.st"
refuse "several methods" $C --iters 5 --resume "$T/spo.st"
refuse "unwritable state" $C --method spo --iters 1 --save-state "$T/no/such/dir/s.st"
finish
