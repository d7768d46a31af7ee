#!/bin/sh
# make bench: the CPU benchmark, and the same work in NumPy when available,
# reported as ratios from one run.
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-python3}
out=$("$BUILD/tests/bench_cpu") || { echo "bench_cpu failed"; exit 1; }
echo "diffpo (one thread, $(uname -m)):"
echo "$out" | sed 's/^/  /'
if "$PYTHON" -c 'import numpy' 2>/dev/null; then
    np=$("$PYTHON" tests/bench_numpy.py) || exit 1
    echo "NumPy:"
    echo "$np" | sed 's/^/  /'
    for k in normals_per_s step_logprob_elems_per_s; do
        a=$(echo "$out" | awk -v k=$k '$1 == k {print $2}')
        b=$(echo "$np" | awk -v k=$k '$1 == k {print $2}')
        awk -v k=$k -v a="$a" -v b="$b" 'BEGIN {printf "ratio %s diffpo/numpy = %.2f\n", k, a / b}'
    done
else
    echo "NumPy not available: no ratio"
fi
