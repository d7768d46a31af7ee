#!/bin/sh
# Runs every test program and sums their closing "N passed, M failed" lines.
#   unit tests      $BUILD/tests/test_*     (C, tests/test_*.c)
#   unit scripts    tests/test_*.sh         (shell, no CLI: e.g. each header compiles alone)
#   CLI tests       tests/cli_*.sh          (shell, drive $BUILD/diffpo; SKIP_CLI=1 skips)
#   cross-checks    tests/py_*.py           (Python + NumPy/mpmath; SKIP_PY=1 skips)
#   build matrix    tests/repro_builds.sh   (gcc/clang, -O0/-O3; SKIP_REPRO=1 skips)
#   CUDA emulation  make test-emu           (kernels/ as host C++ with g++; SKIP_EMU=1 skips)
#   aarch64         tests/cross_aarch64.sh  (cross build run under qemu-aarch64, bits equal to
#                                            this build's; SKIP_AARCH64=1 skips)
# VALGRIND=1 runs the unit tests and the CLI scripts under valgrind memcheck
# (the scripts drive a wrapper that runs $BUILD/diffpo under valgrind; the
# slow ones in VALGRIND_CLI_SKIP are skipped).  make check runs the unit
# tests and unit scripts only (SKIP_CLI, SKIP_PY, SKIP_EMU, SKIP_AARCH64,
# SKIP_REPRO, SKIP_CUDA, SKIP_FUZZ); make test runs everything.
#   fuzz smoke      fuzz/run_fuzz.sh, 2000 executions per harness (clang;
#                   SKIP_FUZZ=1 or SKIP_SLOW=1 skips; make fuzz runs 10^7)
BUILD=${BUILD:-build}
PYTHON=${PYTHON:-python3}
export BUILD PYTHON
total_p=0
total_f=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

. tests/lib_tally.sh

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    echo "== $name"
    if [ "${VALGRIND:-0}" = 1 ]; then
        DPO_UNDER_VALGRIND=1 valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "$t" >"$log" 2>&1
    else
        "$t" >"$log" 2>&1
    fi
    st=$?
    grep -E '^(FAIL|  FAIL)' "$log"
    tally "$name" $st
done

for t in tests/test_*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t")
    echo "== $name"
    sh "$t" >"$log" 2>&1
    st=$?
    grep -E '^FAIL' "$log"
    tally "$name" $st
done

# CPU emulation of the CUDA drivers (make test-emu, docs/cuda.md): needs a
# C++20 compiler with <ucontext.h> fibers, no GPU and no nvcc.  SKIP_EMU=1
# skips it, and so does SKIP_SLOW=1 (make asan / valgrind: their library
# needs their link flags).
EMU_CXX=${EMU_CXX:-g++}
if [ "${SKIP_EMU:-0}" = 1 ] || [ "${SKIP_SLOW:-0}" = 1 ]; then
    echo "== cuda emulation: skipped (SKIP_EMU or SKIP_SLOW)"
elif printf '#include <ucontext.h>\n#include <functional>\nint main(void) { ucontext_t c; return getcontext(&c); }\n' |
     "$EMU_CXX" -std=c++20 -x c++ -o /dev/null - >/dev/null 2>&1; then
    echo "== cuda emulation (make test-emu)"
    ${MAKE:-make} -s test-emu BUILD="$BUILD" EMU_CXX="$EMU_CXX" >"$log" 2>&1
    st=$?
    grep -E '^(FAIL|  FAIL|emu: )' "$log"
    tally "cuda emulation" $st
else
    echo "== cuda emulation: skipped ($EMU_CXX cannot compile C++20 with <ucontext.h>)"
fi

CLI_BIN="$BUILD/diffpo"
VALGRIND_CLI_SKIP=${VALGRIND_CLI_SKIP:-"cli_readme.sh"} # timings: docs/errors.md "Memory checks"
if [ "${VALGRIND:-0}" = 1 ]; then
    vgdir=$(mktemp -d)
    trap 'rm -f "$log"; rm -rf "$vgdir"' EXIT
    CLI_BIN="$vgdir/diffpo"
    printf '#!/bin/sh\nexec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --log-file=%s/vg.%%p.log %s "$@"\n' \
        "$vgdir" "$(cd "$BUILD" && pwd)/diffpo" >"$CLI_BIN"
    chmod +x "$CLI_BIN"
fi
for t in tests/cli_*.sh; do
    [ -f "$t" ] || continue
    [ "${SKIP_CLI:-0}" = 1 ] && { echo "== CLI tests: skipped (SKIP_CLI)"; break; }
    name=$(basename "$t")
    if [ "${VALGRIND:-0}" = 1 ] && case " $VALGRIND_CLI_SKIP " in *" $name "*) true ;; *) false ;; esac; then
        echo "== $name: skipped under valgrind (VALGRIND_CLI_SKIP)"
        continue
    fi
    echo "== $name"
    sh "$t" "$CLI_BIN" >"$log" 2>&1
    st=$?
    grep -E '^FAIL' "$log"
    tally "$name" $st
    if [ "${VALGRIND:-0}" = 1 ]; then
        # any memcheck report counts as one more failure
        for v in "$vgdir"/vg.*.log; do
            [ -s "$v" ] || continue
            echo "FAIL $name: valgrind report ($v)"
            head -n 20 "$v"
            total_f=$((total_f + 1))
        done
        rm -f "$vgdir"/vg.*.log
    fi
done

if [ "${SKIP_FUZZ:-0}" = 1 ] || [ "${SKIP_SLOW:-0}" = 1 ]; then
    echo "== fuzz smoke: skipped (SKIP_FUZZ or SKIP_SLOW)"
elif command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1; then
    echo "== fuzz smoke (2000 executions per harness)"
    FUZZ_RUNS=2000 FUZZ_OUT="$BUILD/fuzz-smoke" sh fuzz/run_fuzz.sh >"$log" 2>&1
    st=$?
    grep -E '^FAIL' "$log"
    tally "fuzz smoke" $st
else
    echo "== fuzz smoke: skipped (no ${FUZZ_CC:-clang})"
fi

if [ "${SKIP_PY:-0}" != 1 ]; then
    for t in tests/py_*.py; do
        [ -f "$t" ] || continue
        name=$(basename "$t")
        echo "== $name"
        "$PYTHON" "$t" "$BUILD" >"$log" 2>&1
        st=$?
        grep -E '^FAIL' "$log"
        tally "$name" $st
    done
fi

# The same bits on aarch64: a cross build run under qemu-aarch64 against
# this build's CLI (skips, saying why, without the cross packages; SKIP_SLOW
# skips it too: make asan / valgrind pass their flags to every build).
if [ "${SKIP_AARCH64:-0}" = 1 ] || [ "${SKIP_SLOW:-0}" = 1 ]; then
    echo "== cross_aarch64.sh: skipped (SKIP_AARCH64 or SKIP_SLOW)"
elif [ -f tests/cross_aarch64.sh ]; then
    echo "== cross_aarch64.sh"
    sh tests/cross_aarch64.sh "$BUILD/diffpo" >"$log" 2>&1
    st=$?
    grep -E '^(FAIL|SKIP|time: )' "$log"
    tally cross_aarch64.sh $st
fi

if [ "${SKIP_REPRO:-0}" != 1 ] && [ -f tests/repro_builds.sh ]; then
    echo "== repro_builds.sh"
    sh tests/repro_builds.sh >"$log" 2>&1
    st=$?
    grep -E '^FAIL' "$log"
    tally repro_builds.sh $st
fi

# CUDA: wherever nvcc exists (no GPU needed) the kernels, the CUDA build of
# the library and the GPU test and benchmark programs must compile.
NVCC_BIN=$(command -v nvcc || echo "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc")
if [ "${SKIP_CUDA:-0}" != 1 ] && [ -x "$NVCC_BIN" ]; then
    echo "== cuda build (nvcc: $NVCC_BIN)"
    if ${MAKE:-make} -s NVCC="$NVCC_BIN" cuda-check >"$log" 2>&1 &&
       ${MAKE:-make} -s NVCC="$NVCC_BIN" CUDA=1 BUILD=build/cuda all gpu-bin >>"$log" 2>&1; then
        echo "== cuda build: 1 passed, 0 failed"
        total_p=$((total_p + 1))
        # the CUDA build's CLI: --device on the GPU, or a clean refusal without one
        echo "== cli_device.sh (CUDA build)"
        sh tests/cli_device.sh "$BUILD/diffpo" build/cuda/diffpo >"$log" 2>&1
        st=$?
        grep -E '^FAIL' "$log"
        tally "cli_device.sh (CUDA build)" $st
    else
        echo "FAIL cuda build"
        tail -n 30 "$log"
        total_f=$((total_f + 1))
    fi
else
    echo "== cuda build: skipped (no nvcc)"
fi

echo "$total_p passed, $total_f failed"
[ "$total_f" -eq 0 ]
