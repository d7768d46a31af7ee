#!/bin/sh
# make test-emu: runs the emulator's self-test, then every GPU test program
# built by emu.mk under the CPU emulation with DPO_GPU_QUICK=1, once with
# the GPU threads of a CTA (and the CTAs) in index order and once in
# reverse order (DPO_EMU_ORDER=reverse); then test_gpu_core once more at
# full sizes (EMU_QUICK_ONLY=1 leaves that out), and diffpo align --device
# (tests/cli_device.sh) with the CLI built for the emulation.  Any "emu: " diagnostic from a GPU
# test (a launch the runtime would reject, barrier divergence, a copy
# outside an allocation, a refused cuBLASLt call) counts as a failure.
# Ends with "N passed, M failed".
BUILD=${BUILD:-build}
EMU=$BUILD/emu
total_p=0
total_f=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

. tests/lib_tally.sh

echo "== emu_selftest"
"$EMU/emu_selftest" >"$log" 2>&1
st=$?
grep -E '^(FAIL|  FAIL)' "$log"
tally emu_selftest $st

for order in index reverse; do
    for t in "$EMU"/test_*; do
        [ -x "$t" ] || continue
        name="$(basename "$t") (emulated, $order order)"
        echo "== $name"
        DPO_GPU_QUICK=1 DPO_EMU_ORDER=$order "$t" >"$log" 2>&1
        st=$?
        grep -E '^(FAIL|  FAIL|emu: )' "$log"
        tally "$name" $st
        nd=$(grep -c '^emu: ' "$log")
        if [ "$nd" -gt 0 ]; then
            echo "FAIL $name: $nd emulator diagnostics"
            total_f=$((total_f + 1))
        fi
    done
done

# The quick sizes never give a row more than 1024 block partials, so the
# level passes of the combine (dpo_k_level) run only at full sizes.
if [ "${EMU_QUICK_ONLY:-0}" != 1 ] && [ -x "$EMU/test_gpu_core" ]; then
    name="test_gpu_core (emulated, full sizes)"
    echo "== $name"
    DPO_EMU_ORDER=index "$EMU/test_gpu_core" >"$log" 2>&1
    st=$?
    grep -E '^(FAIL|  FAIL|emu: )' "$log"
    tally "$name" $st
    nd=$(grep -c '^emu: ' "$log")
    if [ "$nd" -gt 0 ]; then
        echo "FAIL $name: $nd emulator diagnostics"
        total_f=$((total_f + 1))
    fi
fi

# diffpo align --device on the emulation: gpu-strict rows = the CPU's.
if [ ! -x "$EMU/diffpo" ] || [ ! -x "$BUILD/diffpo" ]; then
    echo "FAIL cli_device.sh (emulated): $EMU/diffpo or $BUILD/diffpo not built (run make test-emu)"
    total_f=$((total_f + 1))
else
    name="cli_device.sh (emulated)"
    echo "== $name"
    sh tests/cli_device.sh "$BUILD/diffpo" "$EMU/diffpo" emu >"$log" 2>&1
    st=$?
    grep -E '^(FAIL|emu: )' "$log"
    tally "$name" $st
    nd=$(grep -c '^emu: ' "$log")
    if [ "$nd" -gt 0 ]; then
        echo "FAIL $name: $nd emulator diagnostics"
        total_f=$((total_f + 1))
    fi
fi

echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
