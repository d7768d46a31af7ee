#!/bin/sh
# diffpo philox --normals: the same bits for every --threads and dispatch
# level, pieces that join into the whole, and errors that write nothing.
# $1: the diffpo binary.
D=${1:-build/diffpo}
. tests/lib_cli.sh

fp() { "$D" philox "$@" 2>"$T/err"; }

# the fingerprint of one tensor for every thread count and level
for args in "--normals 4097 --seed 11 --sample 3 --offset 3" "--normals 33 --seed 0x1234 --stream 1 --step 7 --dtype f64" \
    "--normals 1 --seed 5 --offset 17179869183" "--normals 20001 --seed 9 --candidate 65535 --dtype f64"; do
    # shellcheck disable=SC2086
    ref=$(DPO_SIMD=scalar fp $args --threads 1)
    case $ref in fingerprint\ ????????????????) ;; *) no "$args: no fingerprint: '$ref' $(cat "$T/err")"; continue ;; esac
    same=1
    for lvl in scalar sse2 avx2 auto; do
        for th in 1 2 3 4 7 64; do
            # shellcheck disable=SC2086
            got=$(DPO_SIMD=$lvl fp $args --threads $th)
            if [ "$got" != "$ref" ]; then
                same=0
                no "$args, DPO_SIMD=$lvl --threads $th: '$got', want '$ref'"
            fi
        done
    done
    [ $same -eq 1 ] && ok "$args: one fingerprint for threads 1-7, 64 and every level"
done

# pieces [0, 400) and [400, 1001) computed on different thread counts join into [0, 1001)
if python3 -c 'import numpy' 2>/dev/null; then
    fp --normals 1001 --seed 3 --sample 8 --threads 3 --out "$T/all.npy" >/dev/null &&
        fp --normals 400 --seed 3 --sample 8 --threads 2 --out "$T/a.npy" >/dev/null &&
        fp --normals 601 --offset 400 --seed 3 --sample 8 --threads 7 --out "$T/b.npy" >/dev/null
    if python3 -c '
import sys, numpy as np
a, b, w = (np.load(sys.argv[i]) for i in (1, 2, 3))
sys.exit(0 if w.dtype == np.float32 and w.shape == (1001,) and
         np.concatenate([a, b]).tobytes() == w.tobytes() else 1)' "$T/a.npy" "$T/b.npy" "$T/all.npy"; then
        ok "pieces on 2 and 7 threads join into the whole on 3"
    else
        no "pieces differ from the whole: $(cat "$T/err")"
    fi
    rm -f "$T/all.npy" "$T/a.npy" "$T/b.npy"
else
    ok "(numpy missing: the pieces check is skipped)"
fi

# expect_error NAME ARGS...: exit 2, one line on stderr, nothing on stdout, no file
expect_error() {
    name=$1
    shift
    out=$("$D" philox "$@" 2>"$T/err"); st=$?
    lines=$(wc -l <"$T/err")
    if [ $st -eq 2 ] && [ -z "$out" ] && [ "$lines" -eq 1 ] && grep -q '^diffpo philox: ' "$T/err" &&
        [ ! -e "$T/z.npy" ]; then
        ok "$name ($(cat "$T/err"))"
    else
        no "$name: exit $st, stdout '$out', stderr '$(cat "$T/err")'"
    fi
    rm -f "$T/z.npy"
}
expect_error "threads 0" --normals 8 --seed 1 --threads 0 --out "$T/z.npy"
expect_error "threads 257" --normals 8 --seed 1 --threads 257 --out "$T/z.npy"
expect_error "threads not a number" --normals 8 --seed 1 --threads two --out "$T/z.npy"
expect_error "no normals" --normals 0 --seed 1 --out "$T/z.npy"
expect_error "past 2^34" --normals 8 --offset 17179869180 --seed 1 --out "$T/z.npy"
expect_error "stream too large" --normals 8 --seed 1 --stream 65536 --out "$T/z.npy"
expect_error "no seed" --normals 8 --out "$T/z.npy"
expect_error "bad dtype" --normals 8 --seed 1 --dtype f16 --out "$T/z.npy"
expect_error "block options mixed in" --normals 8 --seed 1 --key 1,2 --out "$T/z.npy"
expect_error "missing value" --normals 8 --seed
expect_error "unwritable output" --normals 8 --seed 1 --out "$T/no/such/dir/z.npy"

finish
