#!/bin/sh
# Fails when the host code of the CUDA build contracts a * b + c into a fused
# multiply-add (issue 17 item 1).  Usage: host_fp_probe.sh OBJ, where OBJ is
# tests/gpu/host_fp_probe.cu compiled by nvcc with the build's NVFLAGS and an
# FMA-capable host target (the Makefile's rule $(BUILD)/cuda/host_fp_probe.ok).
obj=$1
if [ ! -f "$obj" ]; then
    echo "host_fp_probe: FAIL: $obj not built"
    exit 1
fi
dis=$(objdump -d "$obj") || {
    echo "host_fp_probe: FAIL: objdump -d $obj failed"
    exit 1
}
# The probe's functions must be there with their multiplications, or the
# check below would pass on an empty disassembly.
for f in dpo_probe_fma_f64 dpo_probe_fma_f32 dpo_probe_adamw dpo_probe_batch_row; do
    if ! printf '%s\n' "$dis" | grep -q "<$f>:"; then
        echo "host_fp_probe: FAIL: $f not found in $obj"
        exit 1
    fi
done
if ! printf '%s\n' "$dis" | grep -Eqi '[[:space:]](v?mul[sp][sd]|fmul)[[:space:]]'; then
    if ! printf '%s\n' "$dis" | grep -Eqi '[[:space:]]v?fn?m(add|sub)'; then
        echo "host_fp_probe: FAIL: no multiplication at all in $obj (unknown instruction set?)"
        exit 1
    fi
fi
# x86-64 FMA3/FMA4: vfmadd*, vfmsub*, vfnmadd*, vfnmsub*, vfmaddsub*;
# aarch64: fmadd, fmsub, fnmadd, fnmsub, fmla, fmls.
hits=$(printf '%s\n' "$dis" | grep -Ei '[[:space:]](v?fn?m(add|sub)[0-9a-z.]*|fml[as][0-9a-z.]*)[[:space:]]')
if [ -n "$hits" ]; then
    echo "host_fp_probe: FAIL: host code compiled with the CUDA build's flags contains fused multiply-adds:"
    printf '%s\n' "$hits" | head -5
    echo "host_fp_probe: pass -Xcompiler -ffp-contract=off in NVFLAGS (docs/cuda.md, section 1)"
    exit 1
fi
echo "host_fp_probe: OK (no fused multiply-add in the host code of $obj)"
