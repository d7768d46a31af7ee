#!/bin/sh
# The rollout fingerprint must be the same bits for gcc and clang, -O0 and
# -O3, 1/2/4 threads and any split of the batch.  Builds four variants of the
# CLI in build/repro-<cc>-<opt>/ and compares every fingerprint they print.
# Then the main job on a shortened budget (pretraining from scratch in each
# variant's own folder, every method): the align table -- rewards before and
# after, and the fingerprint of every method's final LoRA parameters -- must
# be identical for every variant and for 1 and 2 threads (wall time aside).
set -u
pass=0
fail=0
ref=""
variants=""
for cc in gcc clang; do
    command -v $cc >/dev/null 2>&1 || { echo "FAIL compiler $cc not found"; fail=$((fail + 1)); continue; }
    for opt in -O0 -O3; do
        dir=build/repro-$cc$opt
        if ! make -s BUILD=$dir CC=$cc OPT=$opt $dir/diffpo >/dev/null 2>"$dir.log"; then
            echo "FAIL build $cc $opt (see $dir.log)"
            fail=$((fail + 1))
            continue
        fi
        variants="$variants $dir/diffpo"
    done
done
for bin in $variants; do
    # (threads, splits) combinations over a batch of 7 samples of 45 elements
    for ts in "1 1" "2 2" "4 4" "1 7" "2 3" "4 7"; do
        set -- $ts
        for args in "--seed 11 --steps 20 --eta 1 --batch 7 --dim 45" \
                    "--seed 18446744073709551615 --steps 7 --eta 0.5 --batch 7 --dim 5 --spacing trailing --logprob mean"; do
            fp=$($bin rollout $args --threads $1 --splits $2 --quiet 2>&1)
            key=$(echo "$args" | cksum | cut -d' ' -f1)
            eval "prev=\${ref_$key:-}"
            if [ -z "$prev" ]; then
                eval "ref_$key=\"\$fp\""
                pass=$((pass + 1))
            elif [ "$fp" = "$prev" ]; then
                pass=$((pass + 1))
            else
                echo "FAIL $bin threads=$1 splits=$2 [$args]: '$fp' != '$prev'"
                fail=$((fail + 1))
            fi
            case "$fp" in fingerprint\ [0-9a-f]*) ;; *) echo "FAIL no fingerprint from $bin: $fp"; fail=$((fail + 1)) ;; esac
        done
    done
done

align_ref=""
for bin in $variants; do
    for th in 1 2; do
        out=$(dirname "$bin")/align-t$th
        rm -rf "$out"
        tab=$($bin align --iters 4 --batch 4 --pretrain-iters 120 --eval-per-class 2 --pairs 16 \
                  --threads $th --out-dir "$out" --quiet 2>&1 | awk 'NR > 2 { $5 = ""; print }')
        rows=$(echo "$tab" | grep -c '[0-9a-f]\{16\}$')
        if [ "$rows" -ne 9 ]; then
            echo "FAIL align table of $bin (threads $th) has $rows method rows, want 9:"
            echo "$tab"
            fail=$((fail + 1))
        elif [ -z "$align_ref" ]; then
            align_ref=$tab
            pass=$((pass + 1))
        elif [ "$tab" = "$align_ref" ]; then
            pass=$((pass + 1))
        else
            echo "FAIL align table of $bin (threads $th) differs:"
            echo "$tab"
            echo "-- reference:"
            echo "$align_ref"
            fail=$((fail + 1))
        fi
    done
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
