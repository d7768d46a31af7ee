#!/bin/sh
# diffpo align --device cpu|gpu-strict|gpu-fast.
#   tests/cli_device.sh BIN                the CPU build: --device cpu is the
#                                          default's table; gpu-* and unknown
#                                          values are refused (one stderr
#                                          line, exit 2, no table)
#   tests/cli_device.sh BIN CUDA_BIN       also a CUDA build (run_tests.sh's
#                                          "cuda build" section): with a GPU
#                                          (nvidia-smi -L), gpu-strict gives
#                                          the CPU's rows for every method bit
#                                          for bit and gpu-fast repeats its
#                                          own; without one, gpu-* fail cleanly
#   tests/cli_device.sh BIN EMU_BIN emu    the CLI on the CPU emulation of the
#                                          CUDA runtime (make test-emu): the
#                                          GPU checks on two methods (the
#                                          emulation is slow)
set -u
BIN=${1:-build/diffpo}
CUDA_BIN=${2:-}
MODE=${3:-}
. tests/lib_cli.sh
row() { awk 'NR > 2 { $5 = ""; print }' "$1"; } # table rows without wall time

C="--batch 2 --iters 2 --pretrain-iters 60 --eval-per-class 1 --pairs 4 --quiet"
M="--method tailorpo-g"

refuse() { # description, binary, then the align arguments
    what=$1
    b=$2
    shift 2
    "$b" align "$@" >"$T/out.txt" 2>"$T/err.txt"
    st=$?
    if [ $st -eq 2 ] && [ "$(wc -l <"$T/err.txt")" -eq 1 ] && [ ! -s "$T/out.txt" ]; then ok "$what"; else
        bad "$what: exit $st, stderr '$(cat "$T/err.txt")', stdout '$(head -c 200 "$T/out.txt")'"
    fi
}

# --device cpu is the default, bit for bit
"$BIN" align $C $M --out-dir "$T/o" >"$T/def.txt" 2>&1 || bad "default run failed"
"$BIN" align $C $M --out-dir "$T/o" --device cpu >"$T/cpu.txt" 2>&1 || bad "--device cpu failed"
if [ -n "$(row "$T/def.txt")" ] && [ "$(row "$T/def.txt")" = "$(row "$T/cpu.txt")" ] &&
   [ "$(head -n 1 "$T/def.txt")" = "$(head -n 1 "$T/cpu.txt")" ]; then ok "--device cpu = default"; else
    bad "--device cpu differs from the default: '$(cat "$T/cpu.txt")' vs '$(cat "$T/def.txt")'"
fi

refuse "unknown device" "$BIN" $C $M --out-dir "$T/o" --device tpu
refuse "missing device value" "$BIN" $C $M --out-dir "$T/o" --device
"$BIN" align $C $M --out-dir "$T/o" --device tpu 2>"$T/err.txt" >/dev/null
grep -q "need cpu, gpu-strict or gpu-fast, got 'tpu'" "$T/err.txt" && ok "unknown device message" ||
    bad "unknown device message: '$(cat "$T/err.txt")'"
"$BIN" align --help | grep -q -- "--device cpu|gpu-strict|gpu-fast" && ok "--help lists --device" ||
    bad "--help does not list --device"

# The CPU build (no DPO_WITH_CUDA) refuses gpu-* before doing any work.
if [ -z "$CUDA_BIN" ]; then
    for d in gpu-strict gpu-fast; do
        rm -rf "$T/none"
        refuse "CPU build refuses --device $d" "$BIN" $C $M --out-dir "$T/none" --device $d
        grep -q "built without CUDA" "$T/err.txt" && ok || bad "$d: message '$(cat "$T/err.txt")'"
        [ ! -e "$T/none" ] && ok || bad "$d: the refused run created its output folder"
    done
    finish
    exit $?
fi

# The CUDA build.
"$CUDA_BIN" align $C $M --out-dir "$T/o" >"$T/ccpu.txt" 2>&1 || bad "CUDA build, cpu: failed"
[ "$(row "$T/ccpu.txt")" = "$(row "$T/def.txt")" ] && ok "CUDA build on the CPU = CPU build" ||
    bad "CUDA build's cpu table differs: '$(row "$T/ccpu.txt")' vs '$(row "$T/def.txt")'"
if [ "$MODE" = emu ] || nvidia-smi -L >/dev/null 2>&1; then
    if [ "$MODE" = emu ]; then # one online method with guidance, one offline
        C2="--batch 1 --iters 2 --pretrain-iters 60 --eval-per-class 1 --pairs 4 --quiet --threads 2"
        set -- "--method tailorpo-g" "--method dspo"
        n_rows=1
    else
        C2="--batch 2 --iters 3 --pretrain-iters 60 --eval-per-class 1 --pairs 4 --quiet --threads 2"
        set -- ""
        n_rows=8
    fi
    for meth in "$@"; do
        "$BIN" align $C2 $meth --out-dir "$T/o" >"$T/all_cpu.txt" 2>&1 || bad "$meth cpu: failed"
        "$CUDA_BIN" align $(echo "$C2" | sed 's/--quiet//') $meth --out-dir "$T/o" --device gpu-strict \
            >"$T/all_gs.txt" 2>"$T/gs_err.txt" || bad "$meth gpu-strict failed: $(tail -n 1 "$T/gs_err.txt")"
        grep -q "^align: matrix products on .*, strict mode" "$T/gs_err.txt" && ok ||
            bad "gpu-strict: stderr does not name the device: '$(head -n 3 "$T/gs_err.txt")'"
        if [ "$(row "$T/all_cpu.txt" | wc -l)" -eq $n_rows ] && [ "$(row "$T/all_cpu.txt")" = "$(row "$T/all_gs.txt")" ]; then
            ok "gpu-strict ${meth:-(every method)}: the CPU's rows"
        else
            bad "gpu-strict differs from the CPU: '$(row "$T/all_gs.txt")' vs '$(row "$T/all_cpu.txt")'"
        fi
        grep -q "device gpu-strict" "$T/all_gs.txt" && ok || bad "the table's title does not name the device"
        "$CUDA_BIN" align $C2 $meth --out-dir "$T/o" --device gpu-fast >"$T/f1.txt" 2>&1 || bad "$meth gpu-fast failed"
        "$CUDA_BIN" align $C2 $meth --out-dir "$T/o" --device gpu-fast --threads 1 >"$T/f2.txt" 2>&1 ||
            bad "$meth gpu-fast 2 failed"
        if [ "$(row "$T/f1.txt" | wc -l)" -eq $n_rows ] && [ "$(row "$T/f1.txt")" = "$(row "$T/f2.txt")" ]; then
            ok "gpu-fast ${meth:-(every method)}: the same rows run to run, threads 2 and 1"
        else
            bad "gpu-fast differs run to run: '$(row "$T/f1.txt")' vs '$(row "$T/f2.txt")'"
        fi
    done
    # a state saved by gpu-strict and resumed on the CPU: the straight CPU run's bits
    S="$C2 --method tailorpo-g --out-dir $T/o"
    "$CUDA_BIN" align $S --iters 1 --device gpu-strict --save-state "$T/s.st" >/dev/null 2>&1 ||
        bad "gpu-strict --save-state failed"
    "$BIN" align $S --iters 2 --resume "$T/s.st" >"$T/res.txt" 2>&1 || bad "cpu --resume of a gpu-strict state failed"
    "$BIN" align $S --iters 2 >"$T/str.txt" 2>&1 || bad "cpu straight run failed"
    if [ -n "$(row "$T/str.txt")" ] && [ "$(row "$T/res.txt")" = "$(row "$T/str.txt")" ]; then
        ok "gpu-strict state resumed on the CPU = straight CPU run"
    else
        bad "gpu-strict state resumed on the CPU: '$(row "$T/res.txt")' vs '$(row "$T/str.txt")'"
    fi
else
    for d in gpu-strict gpu-fast; do
        refuse "CUDA build without a GPU: --device $d fails cleanly" "$CUDA_BIN" $C $M --out-dir "$T/o" --device $d
    done
fi
finish
