#!/bin/sh
# `diffpo ddim-step`: argument validation (every error: non-zero exit, one
# line on stderr, no output file), and properties of successful runs
# (determinism, output shapes and dtypes, eta = 0 gives prev = mean, x0 of
# the epsilon prediction).  The numerical cross-check against an independent
# model of diffusers is tests/py_ddim_step.py.
# Usage: sh tests/cli_ddim_step.sh path/to/diffpo
EXE=${1:-build/diffpo}
PY=${PYTHON:-python3}
. tests/lib_cli.sh

if [ ! -x "$EXE" ]; then
    echo "FAIL no executable $EXE"
    echo "0 passed, 1 failed"
    exit 1
fi
if ! "$PY" - "$T" <<'EOF'
import sys, os
import numpy as np
d = sys.argv[1]
r = np.random.default_rng(11)
for n in ("x", "e", "z"):
    np.save(os.path.join(d, n + ".npy"), r.standard_normal((2, 3, 8)).astype(np.float32))
np.save(os.path.join(d, "ac.npy"), np.linspace(0.999, 0.01, 100).astype(np.float32))
np.save(os.path.join(d, "ac_bad.npy"), np.linspace(0.5, 1.5, 100).astype(np.float32))
np.save(os.path.join(d, "ac_2d.npy"), np.ones((10, 10), np.float32) * 0.5)
EOF
then
    echo "FAIL python3 with numpy is needed to write the inputs"
    echo "0 passed, 1 failed"
    exit 1
fi

# expect_err NAME PATTERN args...
expect_err() {
    name=$1
    pat=$2
    shift 2
    rm -f "$T"/out*.npy
    "$EXE" ddim-step "$@" >"$T/stdout" 2>"$T/stderr"
    rc=$?
    nl=$(wc -l <"$T/stderr" | tr -d ' ')
    left=$(ls "$T" | grep -c -e '^out' -e '\.tmp\.')
    if [ "$rc" -ne 0 ] && [ "$nl" -eq 1 ] && [ "$left" -eq 0 ] && grep -q -- "$pat" "$T/stderr"; then
        ok "$name"
    else
        bad "$name: exit $rc, $nl stderr lines, $left output files, stderr: $(head -c 300 "$T/stderr")"
    fi
}

IN="--sample $T/x.npy --model-output $T/e.npy --noise $T/z.npy"
OUT="--out $T/out.npy --mean-out $T/out_mu.npy --logprob-out $T/out_lp.npy --x0-out $T/out_x0.npy"
BASE="$IN --timestep 501 --steps 20 --eta 1"

# required options and malformed arguments
expect_err "no arguments" "required"
expect_err "no --sample" "sample" --model-output "$T/e.npy" --timestep 1 --steps 20 --out "$T/out.npy"
expect_err "no --model-output" "model-output" --sample "$T/x.npy" --timestep 1 --steps 20 --out "$T/out.npy"
expect_err "no --out" "out" $IN --timestep 501 --steps 20
expect_err "no --steps" "steps" $IN --timestep 501 $OUT
expect_err "no timestep" "timestep" $IN --steps 20 $OUT
expect_err "both --timestep and --step-index" "exactly one" $IN --timestep 501 --step-index 3 --steps 20 $OUT
expect_err "unknown option" "unknown option" $BASE $OUT --frobnicate 1
expect_err "stray argument" "unexpected" $BASE $OUT stray
expect_err "option without value" "needs a value" $BASE $OUT --eta
expect_err "--eta negative" "eta" $IN --timestep 501 --steps 20 --eta -1 $OUT
expect_err "--eta nan" "eta" $IN --timestep 501 --steps 20 --eta nan $OUT
expect_err "--eta inf" "eta" $IN --timestep 501 --steps 20 --eta inf $OUT
expect_err "--eta junk" "eta" $IN --timestep 501 --steps 20 --eta 1x $OUT
expect_err "--eta too large for the step" "step coefficients" $IN --timestep 501 --steps 20 --eta 5 $OUT
expect_err "--timestep N" "out of range" $BASE $OUT --timestep 1000
expect_err "--timestep -1" "timestep" $IN --timestep -1 --steps 20 --eta 1 $OUT
expect_err "--timestep 12x" "timestep" $IN --timestep 12x --steps 20 --eta 1 $OUT
expect_err "--steps 0" "steps" $IN --timestep 501 --steps 0 --eta 1 $OUT
expect_err "--steps > train steps" "exceeds" $IN --timestep 5 --steps 1001 --eta 1 $OUT
expect_err "--step-index >= steps" "step-index" $IN --step-index 20 --steps 20 --eta 1 $OUT
expect_err "--steps-offset beyond N" "timesteps" $IN --step-index 0 --steps 20 --steps-offset 100 --eta 1 $OUT
expect_err "--prediction foo" "prediction" $BASE $OUT --prediction foo
expect_err "--logprob foo" "logprob" $BASE $OUT --logprob foo
expect_err "--prev-rule foo" "prev-rule" $BASE $OUT --prev-rule foo
expect_err "--spacing foo" "spacing" $BASE $OUT --spacing foo
expect_err "--dtype f16" "dtype" $BASE $OUT --dtype f16
expect_err "--set-alpha-to-one 2" "set-alpha-to-one" $BASE $OUT --set-alpha-to-one 2
expect_err "--clip-sample 0" "clip-sample" $BASE $OUT --clip-sample 0
expect_err "--use-clipped-model-output 2" "use-clipped-model-output" $BASE $OUT --use-clipped-model-output 2
expect_err "--beta-schedule foo" "beta-schedule" $BASE $OUT --beta-schedule foo
expect_err "--beta-start > --beta-end" "schedule" $BASE $OUT --beta-start 0.02 --beta-end 0.01
expect_err "--beta-end 1" "schedule" $BASE $OUT --beta-end 1
expect_err "--train-steps 1" "train-steps" $BASE $OUT --train-steps 1
expect_err "--train-steps 5000" "train-steps" $BASE $OUT --train-steps 5000
expect_err "timestep beyond --train-steps" "out of range" $BASE $OUT --train-steps 500
expect_err "table without file" "alphas-cumprod" $BASE $OUT --beta-schedule table
expect_err "file without table" "beta-schedule table" $BASE $OUT --alphas-cumprod "$T/ac.npy"
expect_err "table not decreasing into (0,1]" "ac_bad.npy" $IN --timestep 50 --steps 10 --eta 1 $OUT \
    --beta-schedule table --alphas-cumprod "$T/ac_bad.npy"
expect_err "table not 1-d" "ac_2d.npy" $IN --timestep 50 --steps 10 --eta 1 $OUT \
    --beta-schedule table --alphas-cumprod "$T/ac_2d.npy"
expect_err "same output twice" "same file" $BASE --out "$T/out.npy" --mean-out "$T/out.npy"
# sigma_t = 0: no log-probability; noise needed only when sigma_t > 0
expect_err "--logprob-out with eta 0" "sigma_t = 0" $IN --timestep 501 --steps 20 --eta 0 $OUT
expect_err "--logprob-out with default eta (0)" "sigma_t = 0" $IN --timestep 501 --steps 20 $OUT
expect_err "--logprob-out at sigma_t = 0 (last step, set_alpha_to_one)" "sigma_t = 0" $BASE $OUT \
    --timestep 1 --set-alpha-to-one 1
expect_err "no --noise with eta > 0" "noise" --sample "$T/x.npy" --model-output "$T/e.npy" --timestep 501 \
    --steps 20 --eta 1 --out "$T/out.npy"

# help
if "$EXE" ddim-step --help >"$T/help" 2>&1 && grep -q "eta 0.0" "$T/help" && grep -q "scaled_linear" "$T/help"; then
    ok "--help states the defaults"
else
    bad "--help"
fi

# successful runs
run() { "$EXE" ddim-step "$@" >/dev/null 2>"$T/stderr"; }
if run $BASE $OUT && cp "$T/out.npy" "$T/r1.npy" && cp "$T/out_lp.npy" "$T/r1lp.npy" &&
    run $BASE $OUT && cmp -s "$T/out.npy" "$T/r1.npy" && cmp -s "$T/out_lp.npy" "$T/r1lp.npy"; then
    ok "two runs give identical bytes"
else
    bad "determinism: $(cat "$T/stderr")"
fi
if "$PY" - "$T" <<'EOF'
import sys, os
import numpy as np
d = sys.argv[1]
L = lambda n: np.load(os.path.join(d, n))
out, mu, lp, x0 = L("out.npy"), L("out_mu.npy"), L("out_lp.npy"), L("out_x0.npy")
assert out.shape == mu.shape == x0.shape == (2, 3, 8) and out.dtype == mu.dtype == x0.dtype == np.float32
assert lp.shape == (2,) and lp.dtype == np.float64 and np.all(np.isfinite(lp))
assert not np.array_equal(out, mu)  # eta 1 adds noise
EOF
then ok "output shapes and dtypes"; else bad "output shapes and dtypes"; fi

# eta 0 (the default): deterministic step, no noise needed, prev == mean
if run --sample "$T/x.npy" --model-output "$T/e.npy" --timestep 501 --steps 20 --out "$T/out.npy" \
    --mean-out "$T/out_mu.npy" && cmp -s "$T/out.npy" "$T/out_mu.npy"; then
    ok "eta 0 without noise: prev == mean"
else
    bad "eta 0: $(cat "$T/stderr")"
fi
if run $IN --timestep 501 --steps 20 --eta 0 --out "$T/out_b.npy" && cmp -s "$T/out.npy" "$T/out_b.npy"; then
    ok "eta 0: noise has no effect"
else
    bad "eta 0 with noise: $(cat "$T/stderr")"
fi
# --dtype f64 writes float64; the log-prob mean form is the sum form / d
if run $BASE --dtype f64 --out "$T/out_d.npy" --logprob-out "$T/out_dlp.npy" &&
    run $BASE --logprob mean --out "$T/out_m.npy" --logprob-out "$T/out_mlp.npy" &&
    run $BASE --out "$T/out_s.npy" --logprob-out "$T/out_slp.npy" &&
    "$PY" - "$T" <<'EOF'
import sys, os
import numpy as np
d = sys.argv[1]
L = lambda n: np.load(os.path.join(d, n))
o32, o64 = L("out_s.npy"), L("out_d.npy")
assert o64.dtype == np.float64 and o64.shape == (2, 3, 8)
assert np.max(np.abs(o64 - o32)) < 1e-5, np.max(np.abs(o64 - o32))
assert np.allclose(L("out_slp.npy") / 24.0, L("out_mlp.npy"), rtol=1e-12, atol=0)
EOF
then
    ok "--dtype f64 close to f32; mean log-prob = sum / d"
else
    bad "--dtype f64 / --logprob mean: $(cat "$T/stderr")"
fi
# x0 of the epsilon prediction satisfies x = sqrt(a) x0 + sqrt(1-a) e for the table's a_t
if run $BASE --beta-schedule table --alphas-cumprod "$T/ac.npy" --timestep 50 --steps 10 --dtype f64 \
    --out "$T/out.npy" --x0-out "$T/out_x0.npy" &&
    "$PY" - "$T" <<'EOF'
import sys, os
import numpy as np
d = sys.argv[1]
L = lambda n: np.load(os.path.join(d, n))
a = float(L("ac.npy")[50])
x, e, x0 = (L(n).astype(np.float64) for n in ("x.npy", "e.npy", "out_x0.npy"))
assert np.max(np.abs(np.sqrt(a) * x0 + np.sqrt(1 - a) * e - x)) < 1e-12
EOF
then
    ok "x0 inverts the forward process (caller table)"
else
    bad "x0 with a caller table: $(cat "$T/stderr")"
fi

finish
