#!/bin/sh
# .npy input and output errors of the diffpo CLI (through `diffpo ddim-step`):
# each bad file must give a non-zero exit, exactly one line on stderr naming
# the file, and no output file (nor a leftover temporary file).
# Usage: sh tests/cli_npy_errors.sh path/to/diffpo
EXE=${1:-build/diffpo}
PY=${PYTHON:-python3}
. tests/lib_cli.sh

if [ ! -x "$EXE" ]; then
    echo "FAIL no executable $EXE"
    echo "0 passed, 1 failed"
    exit 1
fi

# Inputs, written by NumPy.
if ! "$PY" - "$T" <<'EOF'
import sys, os
import numpy as np
d = sys.argv[1]
p = lambda n: os.path.join(d, n)
r = np.random.default_rng(7)
x = r.standard_normal((3, 4, 5)).astype(np.float32)
np.save(p("x.npy"), x)
np.save(p("e.npy"), r.standard_normal((3, 4, 5)).astype(np.float32))
np.save(p("z.npy"), r.standard_normal((3, 4, 5)).astype(np.float32))
np.save(p("xd.npy"), x.astype(np.float64))
np.save(p("i4.npy"), np.zeros((3, 4, 5), np.int32))
np.save(p("f2.npy"), np.zeros((3, 4, 5), np.float16))
np.save(p("be.npy"), np.zeros((3, 4, 5), ">f4"))
np.save(p("c8.npy"), np.zeros((3, 4, 5), np.complex64))
np.save(p("fortran.npy"), np.asfortranarray(np.zeros((3, 4, 5), np.float32)))
np.save(p("scalar.npy"), np.float32(1.0))
np.save(p("empty.npy"), np.zeros((0, 4, 5), np.float32))
np.save(p("shape2.npy"), np.zeros((3, 20), np.float32))
np.save(p("shape3.npy"), np.zeros((2, 4, 5), np.float32))
nanx = x.copy(); nanx[1, 2, 3] = np.nan
np.save(p("nan.npy"), nanx)
infx = x.copy(); infx[0, 0, 0] = np.inf
np.save(p("inf.npy"), infx)
huge = x.astype(np.float64); huge[2, 1, 0] = 1e300
np.save(p("huge.npy"), huge)
with open(p("v2.npy"), "wb") as f:
    np.lib.format.write_array(f, x, version=(2, 0))
with open(p("v3.npy"), "wb") as f:
    np.lib.format.write_array(f, x, version=(3, 0))
b = open(p("x.npy"), "rb").read()
open(p("trunc_data.npy"), "wb").write(b[:-1])
open(p("trunc_header.npy"), "wb").write(b[:50])
open(p("magic.npy"), "wb").write(b"\x93NUMPZ" + b[6:])
open(p("version.npy"), "wb").write(b[:6] + b"\x04\x00" + b[8:])
open(p("hlen.npy"), "wb").write(b[:8] + b"\xff\xff" + b[10:])
open(p("zero.npy"), "wb").write(b"")
open(p("text.npy"), "w").write("hello, world\n")
h = b[:128].replace(b"'shape': (3, 4, 5)", b"'shape': (3, 4, 5 ")
open(p("dict.npy"), "wb").write(h + b[128:])
EOF
then
    echo "FAIL python3 with numpy is needed to write the inputs"
    echo "0 passed, 1 failed"
    exit 1
fi
mkdir "$T/adir.npy"
mkdir "$T/ro"

# expect_err NAME PATTERN args...: non-zero exit, one stderr line that
# contains PATTERN, no out*.npy and no temporary file left in $T.
expect_err() {
    name=$1
    pat=$2
    shift 2
    rm -f "$T"/out*.npy
    "$EXE" ddim-step "$@" >"$T/stdout" 2>"$T/stderr"
    rc=$?
    nl=$(wc -l <"$T/stderr" | tr -d ' ')
    left=$(ls "$T" "$T/ro" | grep -c -e '^out' -e '\.tmp\.')
    if [ "$rc" -ne 0 ] && [ "$nl" -eq 1 ] && [ "$left" -eq 0 ] && grep -q -- "$pat" "$T/stderr"; then
        ok "$name"
    else
        bad "$name: exit $rc, $nl stderr lines, $left output files, stderr: $(head -c 300 "$T/stderr")"
    fi
}

S="--model-output $T/e.npy --noise $T/z.npy --timestep 501 --steps 20 --eta 1 --out $T/out.npy --mean-out $T/out_mu.npy --logprob-out $T/out_lp.npy"

# unreadable / malformed files: the message names the file
expect_err "missing file" "$T/nope.npy" --sample "$T/nope.npy" $S
expect_err "directory" "adir.npy" --sample "$T/adir.npy" $S
expect_err "empty file" "zero.npy" --sample "$T/zero.npy" $S
expect_err "text file" "text.npy" --sample "$T/text.npy" $S
expect_err "bad magic" "magic.npy" --sample "$T/magic.npy" $S
expect_err "bad version" "version.npy" --sample "$T/version.npy" $S
expect_err "header length beyond the file" "hlen.npy" --sample "$T/hlen.npy" $S
expect_err "truncated header" "trunc_header.npy" --sample "$T/trunc_header.npy" $S
expect_err "truncated data" "trunc_data.npy" --sample "$T/trunc_data.npy" $S
expect_err "malformed dict" "dict.npy" --sample "$T/dict.npy" $S
expect_err "int32 dtype" "i4.npy" --sample "$T/i4.npy" $S
expect_err "float16 dtype" "f2.npy" --sample "$T/f2.npy" $S
expect_err "big-endian float32" "be.npy" --sample "$T/be.npy" $S
expect_err "complex64" "c8.npy" --sample "$T/c8.npy" $S
expect_err "Fortran order" "fortran.npy" --sample "$T/fortran.npy" $S
expect_err "bad model output file" "i4.npy" --sample "$T/x.npy" --model-output "$T/i4.npy" --noise "$T/z.npy" \
    --timestep 501 --steps 20 --eta 1 --out "$T/out.npy"
expect_err "bad noise file" "trunc_data.npy" --sample "$T/x.npy" --model-output "$T/e.npy" \
    --noise "$T/trunc_data.npy" --timestep 501 --steps 20 --eta 1 --out "$T/out.npy"
# shapes and dtypes
expect_err "0-d array" "scalar.npy" --sample "$T/scalar.npy" $S
expect_err "empty array" "empty.npy" --sample "$T/empty.npy" $S
expect_err "shape mismatch (same count)" "shape2.npy" --sample "$T/shape2.npy" $S
expect_err "shape mismatch (batch)" "shape3.npy" --sample "$T/shape3.npy" $S
expect_err "dtype mismatch" "dtype" --sample "$T/xd.npy" $S
expect_err "NaN input" "nan.npy: element 33 is NaN" --sample "$T/nan.npy" $S
expect_err "inf input" "inf.npy: element 0 is infinite" --sample "$T/inf.npy" $S
expect_err "float64 value overflows float32" "huge.npy" --sample "$T/huge.npy" --dtype f32 $S
# outputs that cannot be written: nothing is left behind
expect_err "output folder missing" "nodir" --sample "$T/x.npy" --model-output "$T/e.npy" --noise "$T/z.npy" \
    --timestep 501 --steps 20 --eta 1 --out "$T/nodir/out.npy"
expect_err "output is a directory" "adir.npy" --sample "$T/x.npy" --model-output "$T/e.npy" --noise "$T/z.npy" \
    --timestep 501 --steps 20 --eta 1 --out "$T/out_a.npy" --mean-out "$T/adir.npy"
if [ "$(id -u)" != 0 ]; then
    chmod 555 "$T/ro"
    expect_err "read-only folder" "ro/out.npy" --sample "$T/x.npy" --model-output "$T/e.npy" --noise "$T/z.npy" \
        --timestep 501 --steps 20 --eta 1 --out "$T/ro/out.npy"
    chmod 755 "$T/ro"
fi

# an existing output file is left as it was when the command fails
echo "precious" >"$T/keep.npy"
"$EXE" ddim-step --sample "$T/trunc_data.npy" $S --x0-out "$T/keep.npy" 2>/dev/null
if [ "$(cat "$T/keep.npy")" = "precious" ]; then ok "existing output untouched on error"; else bad "existing output changed"; fi

# the versions 2.0 and 3.0 and float64 files are read; results equal the v1.0 file's
ok_run() {
    "$EXE" ddim-step "$@" >/dev/null 2>"$T/stderr"
}
if ok_run --sample "$T/x.npy" $S && cp "$T/out.npy" "$T/ref.npy" &&
    ok_run --sample "$T/v2.npy" $S && cmp -s "$T/out.npy" "$T/ref.npy" &&
    ok_run --sample "$T/v3.npy" $S && cmp -s "$T/out.npy" "$T/ref.npy"; then
    ok "format versions 2.0 and 3.0 read like 1.0"
else
    bad "format versions 2.0/3.0: $(cat "$T/stderr")"
fi
if ok_run --sample "$T/xd.npy" $S --dtype f32 && cmp -s "$T/out.npy" "$T/ref.npy"; then
    ok "float64 file exactly representable in float32 with --dtype f32 gives the float32 result"
else
    bad "float64 file with --dtype f32: $(cat "$T/stderr")"
fi
# what is written is a NumPy-readable v1.0 file with a 64-aligned header, and the save left no temporary
if "$PY" - "$T/out.npy" "$T/out_lp.npy" <<'EOF'
import sys
import numpy as np
a = np.load(sys.argv[1]); lp = np.load(sys.argv[2])
b = open(sys.argv[1], "rb").read()
hl = b[8] | b[9] << 8
assert b[6:8] == b"\x01\x00" and (10 + hl) % 64 == 0 and b[9 + hl:10 + hl] == b"\n", "layout"
assert a.dtype == np.float32 and a.shape == (3, 4, 5), (a.dtype, a.shape)
assert lp.dtype == np.float64 and lp.shape == (3,), (lp.dtype, lp.shape)
assert len(b) == 10 + hl + a.size * 4
EOF
then ok "outputs are numpy-readable v1.0, aligned, exact size"; else bad "output file layout"; fi
if [ "$(ls "$T" | grep -c '\.tmp\.')" -eq 0 ]; then ok "no temporary files left"; else bad "temporary files left"; fi

finish
