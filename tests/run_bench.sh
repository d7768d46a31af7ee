#!/bin/sh
# make bench: the CPU benchmark (tests/bench_cpu.c) at the default dispatch
# level and at the scalar level, NumPy (tests/bench_numpy.py) and PyTorch
# (tests/bench_torch.py) in one run, one thread each, reported as ratios
# and written into docs/performance.md (the "CPU performance" section).
#
# Python: a virtual environment in $BUILD/bench-venv that sees the system's
# packages; numpy and torch are installed into it from PyPI only when
# missing.  torch comes without its CUDA dependencies (pip --no-deps and the
# few small pure-Python packages it imports), so no multi-GB download.
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-python3}
DOC=${BENCH_DOC:-docs/performance.md}
VENV=$BUILD/bench-venv

load=$(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null) # the threads rows depend on it
out=$("$BUILD/tests/bench_cpu") || { echo "bench_cpu failed"; exit 1; }
sc=$(DPO_SIMD=scalar "$BUILD/tests/bench_cpu") || { echo "bench_cpu (scalar) failed"; exit 1; }
echo "diffpo (one thread, $(uname -m)):"
echo "$out" | sed 's/^/  /'

PY=""
if [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv --system-site-packages "$VENV" >/dev/null 2>&1; then
    PY=$VENV/bin/python
    "$PY" -c 'import numpy' 2>/dev/null || "$PY" -m pip install -q numpy >/dev/null 2>&1
    if ! "$PY" -c 'import torch' 2>/dev/null; then
        "$PY" -m pip install -q --no-deps torch >/dev/null 2>&1 &&
            "$PY" -m pip install -q filelock typing-extensions sympy networkx jinja2 fsspec >/dev/null 2>&1
    fi
else
    echo "no virtual environment (python3 -m venv failed): using $PYTHON as it is"
    PY=$PYTHON
fi
np=""
if "$PY" -c 'import numpy' 2>/dev/null; then
    np=$(OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$PY" tests/bench_numpy.py) || exit 1
    echo "NumPy:"
    echo "$np" | sed 's/^/  /'
else
    echo "NumPy not available: no NumPy ratio"
fi
th=""
if "$PY" -c 'import torch' 2>/dev/null; then
    th=$(OMP_NUM_THREADS=1 "$PY" tests/bench_torch.py) || exit 1
    echo "PyTorch:"
    echo "$th" | sed 's/^/  /'
else
    echo "PyTorch not available: no PyTorch ratio"
fi

get() { echo "$1" | awk -v k="$2" '$1 == k {print $2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print "n/a"; else printf "%.2f", a / b }'; }
cpu=$(awk -F: '/^model name/ {sub(/^ +/, "", $2); print $2; exit}' /proc/cpuinfo 2>/dev/null)
lvl=$(get "$out" simd_level)
npv=$(echo "$np" | awk '$1 == "numpy" {print $2}')
thv=$(echo "$th" | awk '$1 == "torch" {print $2}')
copy=$(get "$out" copy_bytes_per_s)
fused=$(get "$out" fused_elems_per_s)
fused_bw=$(awk -v f="$fused" 'BEGIN {printf "%.4g", 20 * f}')
large=$(get "$out" fused_large_elems_per_s)
large_bw=$(awk -v f="$large" 'BEGIN {printf "%.4g", 20 * f}')

table=$(
    echo "CPU: ${cpu:-unknown} ($(uname -m)), one thread, dispatch level $lvl;"
    echo "NumPy ${npv:-absent}, PyTorch ${thv:-absent}.  Rates in elements (or FLOP, bytes) per second."
    echo
    echo "| measure | diffpo ($lvl) | diffpo (scalar) | reference | ratio ($lvl / reference) |"
    echo "| --- | --- | --- | --- | --- |"
    for k in normals_per_s; do
        echo "| float32 normals, d = 16384, batch 8 | $(get "$out" $k) | $(get "$sc" $k) | torch.randn $(get "$th" $k) | $(ratio "$(get "$out" $k)" "$(get "$th" $k)") |"
        echo "| (same) | | | NumPy standard_normal $(get "$np" $k) | $(ratio "$(get "$out" $k)" "$(get "$np" $k)") |"
    done
    echo "| step + log-prob, two passes, d = 16384, batch 8 | $(get "$out" step_logprob_elems_per_s) | $(get "$sc" step_logprob_elems_per_s) | NumPy $(get "$np" step_logprob_elems_per_s) | $(ratio "$(get "$out" step_logprob_elems_per_s)" "$(get "$np" step_logprob_elems_per_s)") |"
    echo "| fused step + log-prob, given noise, d = 16384, batch 64 | $fused | $(get "$sc" fused_elems_per_s) | eager PyTorch step $(get "$th" fused_elems_per_s) | $(ratio "$fused" "$(get "$th" fused_elems_per_s)") |"
    echo "| (same, as bytes: 20 per element; 20 MiB, may sit in L3) | $fused_bw | | memcpy 64 MiB $copy | $(ratio "$fused_bw" "$copy") |"
    echo "| fused step + log-prob, given noise, batch 256 (80 MiB, out of cache), as bytes | $large_bw | | memcpy 64 MiB $copy | $(ratio "$large_bw" "$copy") |"
    echo "| fused step, noise generated in the pass, batch 64 | $(get "$out" fused_gen_elems_per_s) | $(get "$sc" fused_gen_elems_per_s) | | |"
    for k in matmul_fwd_8x88x128_flops matmul_fwd_8x128x128_flops matmul_dx_8x128x128_flops matmul_dw_128x8x128_flops \
        matmul_fwd_1x128x128_flops matmul_dx_1x128x128_flops; do
        echo "| $k | $(get "$out" $k) | $(get "$sc" $k) | torch.mm $(get "$th" $k) | $(ratio "$(get "$out" $k)" "$(get "$th" $k)") |"
    done
    echo "| AdamW (dpo_adamw_step), 2^18 parameters, elements/s | $(get "$out" adamw_elems_per_s) | $(get "$sc" adamw_elems_per_s) | | |"
    echo "| network SiLU, 2^16 elements | $(get "$out" silu_elems_per_s) | $(get "$sc" silu_elems_per_s) | | |"
    echo "| network SiLU vector-Jacobian product, 2^16 elements | $(get "$out" silu_vjp_elems_per_s) | $(get "$sc" silu_vjp_elems_per_s) | | |"
    echo "| log-ratio (dpo_logratio_f32: terms + canonical sum), d = 16384, batch 8 | $(get "$out" logratio_elems_per_s) | $(get "$sc" logratio_elems_per_s) | | |"
    echo "| canonical-tree leaf sums, 2^16 double terms | $(get "$out" leaves_terms_per_s) | $(get "$sc" leaves_terms_per_s) | | |"
    echo
    echo "Multi-threaded forms (\`dpo_*_mt\`), dispatch level $lvl, $(nproc 2>/dev/null || echo '?') CPUs,"
    echo "load average ${load:-unknown} (1, 5, 15 min) when the run began; rates per second of wall"
    echo "time (best of 5), CPU seconds of the whole process per call (mean of 5)."
    echo
    echo "| measure | 1 thread | 2 threads | 2 threads / 1 | CPU s per call, 1 thread | CPU s per call, 2 threads |"
    echo "| --- | --- | --- | --- | --- | --- |"
    mt_row() { echo "| $1 | $(get "$out" mt1_$2) | $(get "$out" mt2_$2) | $(ratio "$(get "$out" mt2_$2)" "$(get "$out" mt1_$2)") | $(get "$out" mt1_$2_cpu_s) | $(get "$out" mt2_$2_cpu_s) |"; }
    mt_row "float32 normals, one call of 131072" normals_per_s
    mt_row "float32 normals, 8 calls of 16384 (a call per row)" normals_row_per_s
    mt_row "Philox step (dpo_step_philox_f32_mt), 131072 elements" step_philox_elems_per_s
    mt_row "fused step + log-prob, given noise, d = 16384, batch 64" fused_elems_per_s
    mt_row "fused step + log-prob, noise generated in the pass, batch 64" fused_gen_elems_per_s
    mt_row "seconds per call of 8 normals (thread start and join)" call8_s
)
echo
echo "$table"
if [ -f "$DOC" ] && grep -q '^<!-- cpu-bench:begin -->$' "$DOC"; then
    tmp=$DOC.tmp.$$
    awk -v t="$table" '
        /^<!-- cpu-bench:begin -->$/ {print; print t; skip = 1; next}
        /^<!-- cpu-bench:end -->$/ {skip = 0}
        !skip {print}' "$DOC" >"$tmp" && mv "$tmp" "$DOC" && echo "wrote the table into $DOC"
fi
