#!/bin/sh
# make test-emu: runs the emulator's self-test, then every GPU test program
# built by emu.mk under the CPU emulation with DPO_GPU_QUICK=1, once with
# the GPU threads of a CTA (and the CTAs) in index order and once in
# reverse order (DPO_EMU_ORDER=reverse); then test_gpu_core once more at
# full sizes (EMU_QUICK_ONLY=1 leaves that out), and diffpo align --device
# (tests/cli_device.sh) with the CLI built for the emulation, and the GPU
# benchmark harness at quick sizes through tests/gpu/run_bench_gpu.sh, and
# compiles each public CUDA header alone as C99 and as C++.  Any
# "emu: " diagnostic from a GPU test (a launch the runtime would reject,
# barrier divergence, a copy outside an allocation, a refused cuBLASLt call)
# counts as a failure.
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

# The GPU benchmark harness end to end: bench_gpu built for the emulation,
# at DPO_BENCH_QUICK=1 sizes, through tests/gpu/run_bench_gpu.sh as
# `make bench-gpu` runs it (BUILD a temporary layout holding gpu/bench_gpu,
# DOC a temporary file, never docs/performance.md).  The appended section
# must be well formed; then one kernel at a time is skipped (DPO_EMU_SKIP):
# bench_gpu must fail the output check of that benchmark, and nothing may be
# appended.  Each check counts as one test.  Its times mean nothing.
bench_ok() { # DESCRIPTION STATUS
    if [ "$2" -eq 0 ]; then
        total_p=$((total_p + 1))
    else
        echo "FAIL bench_gpu (emulated): $1"
        total_f=$((total_f + 1))
    fi
}
if [ ! -x "$EMU/bench_gpu" ]; then
    echo "FAIL bench_gpu (emulated): $EMU/bench_gpu not built (run make test-emu)"
    total_f=$((total_f + 1))
else
    echo "== bench_gpu (emulated, DPO_BENCH_QUICK=1, through run_bench_gpu.sh)"
    bp0=$total_p
    bf0=$total_f
    bdir=$(mktemp -d)
    trap 'rm -f "$log"; rm -rf "$bdir"' EXIT
    mkdir "$bdir/gpu"
    cp "$EMU/bench_gpu" "$bdir/gpu/bench_gpu"
    doc="$bdir/performance.md"
    echo "earlier text" >"$doc"
    perf_sum=$(cksum docs/performance.md 2>/dev/null)
    DPO_BENCH_QUICK=1 BUILD="$bdir" DOC="$doc" sh tests/gpu/run_bench_gpu.sh >"$log" 2>&1
    st=$?
    nd=$(grep -c '^emu: ' "$log")
    grep -q "^appended to $doc\$" "$log"
    ok=$?
    [ "$st" -eq 0 ] && [ "$ok" -eq 0 ] && [ "$nd" -eq 0 ]
    bench_ok "run_bench_gpu.sh exit $st, $nd emulator diagnostics, no 'appended to' line" $?
    if [ "$st" -ne 0 ]; then
        tail -n 5 "$log"
    fi
    [ "$(head -n 1 "$doc")" = "earlier text" ]
    bench_ok "DOC's earlier text not kept (appended, not overwritten)" $?
    [ "$(grep -cE '^### [0-9]{4}-[0-9]{2}-[0-9]{2} on CPU emulation \(tests/gpu/emu\) \(sm_00, 1 SMs, ' "$doc")" -eq 1 ]
    bench_ok "not one '### <date> on <device>' heading" $?
    num='[0-9]+\.[0-9]+'
    grep -qE "^\| cudaMemcpy D2D \| 16 KiB \| $num \| $num GB/s \| - \|\$" "$doc" &&
        grep -qE "^\| float4 copy kernel \| 16 KiB \| $num \| $num GB/s \| - \|\$" "$doc"
    bench_ok "copy rows (cudaMemcpy D2D, float4 copy kernel, 16 KiB) missing or malformed" $?
    grep -qE "^\| diffpo Philox normals \(f32\) \| 4 K \| $num \| $num G/s \| cuRAND not available \|\$" "$doc" &&
        ! grep -q 'curandGenerateNormal' "$doc"
    bench_ok "normals row without cuRAND missing or malformed" $?
    rows=$(grep -E "^\| [0-9]+ \| $num \| $num \| $num \| $num \| $num \| $num \|\$" "$doc" | cut -d '|' -f 2 | tr -d ' ' | tr '\n' ' ')
    grep -q '^Fused step with log-probability (mean form), d = 256; ' "$doc" && [ "$rows" = "1 2 4 " ]
    bench_ok "step rows for batch 1, 2, 4 at d = 256 (got batches: $rows)" $?
    if ${PYTHON:-python3} -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
        grep -q '^| batch | d | torch eager (us) |' "$doc"
        bench_ok "torch is importable with CUDA but no PyTorch table" $?
    else
        [ "$(grep -c '^torch with CUDA not importable: no PyTorch comparison$' "$doc")" -eq 1 ]
        bench_ok "no 'no PyTorch comparison' line" $?
    fi
    # earlier text, heading, command, quick-sizes note, 2 + 3 lines of the
    # first table, the step's title, 2 + 3 of its table, the torch line
    [ "$(grep -vc '^ *$' "$doc")" -eq 16 ]
    bench_ok "DOC has $(grep -vc '^ *$' "$doc") non-empty lines, not 16" $?

    # A kernel that writes nothing (outputs keep their 0xFF NaN fill): the
    # check of the benchmark that launches it fails, nothing is appended.
    for pair in 'k_copy4:float4 copy kernel: element 0 ' \
        'dpo_k_normal<T>:diffpo Philox normals: element 0 ' \
        '(dpo_k_partials<NS, Op>):step (given noise), batch 1: x_prev element 0 ' \
        'dpo_k_lp_finish:step (given noise), batch 1: log-prob element 0 '; do
        kern=${pair%%:*}
        want=${pair#*:}
        before=$(cksum "$doc")
        DPO_EMU_SKIP="$kern" DPO_BENCH_QUICK=1 BUILD="$bdir" DOC="$doc" sh tests/gpu/run_bench_gpu.sh >"$log" 2>&1
        st=$?
        [ "$st" -ne 0 ] && grep -q '^bench_gpu failed$' "$log" &&
            grep -qF "bench_gpu: check failed: $want" "$log" &&
            grep -qF "emu: DPO_EMU_SKIP: launches of $kern are not run" "$log" &&
            [ "$(cksum "$doc")" = "$before" ]
        bench_ok "with $kern skipped: exit $st, expected 'check failed: $want' and DOC unchanged" $?
    done
    [ "$(cksum docs/performance.md 2>/dev/null)" = "$perf_sum" ]
    bench_ok "docs/performance.md changed" $?
    echo "== bench_gpu (emulated): $((total_p - bp0)) passed, $((total_f - bf0)) failed"
fi

# Each public CUDA header compiles on its own, as C99 and as C++ (no CUDA
# types, its own includes and extern "C" guards), one test per header and
# language.
echo "== public CUDA headers, each alone (C99 and C++)"
hdir=$(mktemp -d)
for h in include/diffpo_cuda.h include/diffpo_cuda_model.h; do
    printf '#include "%s"\nint main(void) { return 0; }\n' "$(basename "$h")" >"$hdir/alone.c"
    if ${CC:-cc} -std=c99 -Wall -Wextra -pedantic -Werror -Iinclude -c "$hdir/alone.c" -o "$hdir/alone.o" 2>"$log"; then
        total_p=$((total_p + 1))
    else
        echo "FAIL $h does not compile alone as C99"
        head -n 5 "$log"
        total_f=$((total_f + 1))
    fi
    if ${EMU_CXX:-g++} -std=c++11 -Wall -Wextra -pedantic -Werror -Iinclude -x c++ -c "$hdir/alone.c" \
        -o "$hdir/alone.o" 2>"$log"; then
        total_p=$((total_p + 1))
    else
        echo "FAIL $h does not compile alone as C++"
        head -n 5 "$log"
        total_f=$((total_f + 1))
    fi
done
rm -rf "$hdir"

echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
