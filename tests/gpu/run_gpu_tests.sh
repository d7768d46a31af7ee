#!/bin/sh
# make test-gpu: runs every GPU test binary ($BUILD/gpu/test_*) and the
# Python package's CUDA route (tests/gpu/py_cuda_bits.py; needs torch with
# CUDA, else one failure), then each binary again under compute-sanitizer
# memcheck and racecheck when it is installed, and sums the closing
# "N passed, M failed" lines.  Needs a GPU.
BUILD=${BUILD:-build/cuda}
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
total_p=0
total_f=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

. tests/lib_tally.sh

nvidia-smi -L 2>/dev/null || echo "(nvidia-smi not available)"
for t in "$BUILD"/gpu/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    echo "== $name"
    "$t" >"$log" 2>&1
    st=$?
    grep -E '^(FAIL|  FAIL)' "$log"
    tally "$name" $st
done

# The Python package's CUDA route: real torch CUDA tensors through this
# build's libdiffpo.so, bit for bit against the package's CPU route
# (tests/gpu/py_cuda_bits.py; tests/py_cuda_route.py runs the same cases on
# the CPU emulation in make test).
PYTHON=${PYTHON:-python3}
if "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' >/dev/null 2>&1; then
    echo "== py_cuda_bits.py"
    DIFFPO_LIB="$BUILD/libdiffpo.so" PYTHONPATH=python "$PYTHON" tests/gpu/py_cuda_bits.py >"$log" 2>&1
    st=$?
    grep -E '^(FAIL|device: )' "$log"
    tally py_cuda_bits.py $st
else
    echo "FAIL py_cuda_bits.py: torch with CUDA is not importable by $PYTHON (make deps installs torch)"
    total_f=$((total_f + 1))
fi

CS=$(command -v compute-sanitizer || echo "$CUDA_HOME/bin/compute-sanitizer")
if [ -x "$CS" ] && [ "${SKIP_SANITIZER:-0}" != 1 ]; then
    for tool in memcheck racecheck; do
        for t in "$BUILD"/gpu/test_*; do
            [ -x "$t" ] || continue
            name="$(basename "$t") under $tool"
            echo "== $name"
            # DPO_GPU_QUICK=1 asks the test for its small sizes (the sanitizer is slow).
            DPO_GPU_QUICK=1 "$CS" --tool "$tool" --error-exitcode 97 "$t" >"$log" 2>&1
            st=$?
            if [ "$st" -eq 97 ]; then
                echo "FAIL $name: compute-sanitizer reported errors"
                grep -E '^=========' "$log" | head -n 20
                total_f=$((total_f + 1))
            else
                tally "$name" $st
            fi
        done
    done
else
    echo "compute-sanitizer not found: sanitizer runs skipped"
fi

echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
