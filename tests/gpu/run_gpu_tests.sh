#!/bin/sh
# make test-gpu: runs every GPU test binary ($BUILD/gpu/test_*), then each
# again under compute-sanitizer memcheck and racecheck when it is installed,
# and sums the closing "N passed, M failed" lines.  Needs a GPU.
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
