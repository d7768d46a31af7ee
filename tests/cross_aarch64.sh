#!/bin/sh
# Same bits on a second architecture.  Cross-builds the library, the CLI and
# the unit tests for aarch64 (make CC=aarch64-linux-gnu-gcc BUILD=build/aarch64)
# and runs them under qemu-aarch64 (user-mode emulation):
#   - every unit test program (each must end "N passed, 0 failed");
#   - diffpo verify vectors, and `diffpo loss` on every vectors/*.vec (the
#     library's values printed as they are computed), text equal to x86-64's;
#   - rollouts (several seeds, eta, spacings, log-prob modes, odd shapes), all
#     per-step hashes and the trajectory .npy equal to x86-64's;
#   - schedule tables and ddim-step outputs (.npy) equal byte for byte;
#   - `diffpo align` with every method on a small budget (pretraining 120
#     iterations): the table (rewards, LoRA fingerprints), the cached base
#     model, the plots and a saved trainer state equal byte for byte;
#   - --threads 1 creates no thread (qemu -strace shows no clone), so the
#     emulated runs take the serial path.
# The x86-64 reference is the native CLI (argument 1, default $BUILD/diffpo),
# run here in the same script with 2 threads; nothing is compared with a
# value copied from the code.  Each side has its own output folder, so their
# pretraining caches never meet.
# Skips (with a message, not a failure) where the cross compiler, the arm64
# xxHash library or qemu-aarch64 is missing (tests/deps.sh installs them) or
# the host is not x86-64.  SKIP_AARCH64=1 skips it in tests/run_tests.sh.
# Environment: CROSS_CC, QEMU, XBUILD (default build/aarch64), AARCH64_TIMEOUT
# (seconds per emulated program, default 600), AARCH64_UNIT=0 (no unit tests).
# Usage: sh tests/cross_aarch64.sh [path/to/native/diffpo]
set -u
NATIVE=${1:-${BUILD:-build}/diffpo}
CROSS_CC=${CROSS_CC:-aarch64-linux-gnu-gcc}
QEMU=${QEMU:-qemu-aarch64}
XBUILD=${XBUILD:-build/aarch64}
TLIMIT=${AARCH64_TIMEOUT:-600}     # seconds, per emulated program
. tests/lib_cli.sh

t_start=$(date +%s)
# cpu: seconds of CPU (user + system) used so far by this script's children
# (times runs in this shell, not in a subshell, which would see none of them)
cpu() { times >"$T/times"; }
cpu_s() { awk 'NR == 2 { n = split($0, f, " "); s = 0
    for (i = 1; i <= n; i++) { split(f[i], p, "m"); s += p[1] * 60 + p[2] } printf "%d", s }' "$T/times"; }
skip() {
    echo "SKIP aarch64: $*"
    echo "0 passed, 0 failed"
    exit 0
}
case "$(uname -m)" in
    x86_64 | amd64) ;;
    *) skip "the reference is an x86-64 run and this host is $(uname -m)" ;;
esac
command -v "$CROSS_CC" >/dev/null 2>&1 || skip "no $CROSS_CC (sh tests/deps.sh installs gcc-aarch64-linux-gnu)"
command -v "$QEMU" >/dev/null 2>&1 || skip "no $QEMU (sh tests/deps.sh installs qemu-user)"
command -v timeout >/dev/null 2>&1 || skip "no timeout(1)"
printf '#include <xxhash.h>\n#include <stdio.h>\nint main(void) { printf("%%016llx\\n", (unsigned long long)XXH3_64bits("diffpo", 6)); return 0; }\n' >"$T/hello.c"
"$CROSS_CC" -o "$T/hello" "$T/hello.c" -lxxhash >"$T/hello.log" 2>&1 ||
    skip "$CROSS_CC cannot build against xxHash (sh tests/deps.sh installs libc6-dev-arm64-cross and libxxhash-dev:arm64): $(head -n 1 "$T/hello.log")"
cc -o "$T/hello_native" "$T/hello.c" -lxxhash 2>/dev/null

# From here on the packages are present: anything that goes wrong is a failure.
emu() { timeout "$TLIMIT" "$QEMU" "$@"; }
h_a=$(emu "$T/hello" 2>&1)
h_n=$("$T/hello_native" 2>&1)
if [ -n "$h_a" ] && [ "$h_a" = "$h_n" ]; then
    ok "qemu-aarch64 runs an aarch64 program; XXH3 agrees ($h_a)"
else
    bad "qemu-aarch64 hello: aarch64 '$h_a', x86-64 '$h_n'"
    finish
    exit 1
fi
if [ ! -x "$NATIVE" ]; then
    bad "no native CLI $NATIVE (make first)"
    finish
    exit 1
fi

# The cross build: only CC and BUILD are set (the architecture comes from
# $(CC) -dumpmachine); flags the caller's make passed down are dropped.
echo "== cross build ($CROSS_CC, $XBUILD)"
if env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CFLAGS -u EXTRA_CFLAGS -u LDFLAGS -u CPPFLAGS \
       ${MAKE:-make} -s -j2 CC="$CROSS_CC" BUILD="$XBUILD" CUDA=0 all tests-bin >"$T/build.log" 2>&1; then
    ok "cross build of the library, CLI and unit tests"
else
    bad "cross build failed:"
    tail -n 20 "$T/build.log"
    finish
    exit 1
fi
X=$XBUILD/diffpo
case "$(file -b "$X" 2>/dev/null)" in
    *aarch64*) ok "$X is an aarch64 executable" ;;
    "") ;; # no file(1): the qemu runs below prove it
    *) bad "$X is not an aarch64 executable: $(file -b "$X")" ;;
esac
t_build=$(date +%s)
cpu
c_build=$(cpu_s)

# --threads 1 must create no thread (the serial path): qemu's -strace lists
# every clone; with 2 threads it must list some (the check can see them).
nclone() { "$QEMU" -strace "$@" 2>&1 >/dev/null | grep -c 'clone'; }
c1=$(nclone "$X" rollout --steps 3 --batch 7 --dim 8 --threads 1 --splits 7 --quiet)
c2=$(nclone "$X" rollout --steps 3 --batch 7 --dim 8 --threads 2 --splits 7 --quiet)
c3=$(nclone "$X" align --method dspo --iters 2 --batch 4 --pretrain-iters 2 --eval-per-class 1 --pairs 4 \
         --threads 1 --out-dir "$T/strace1" --quiet)
c4=$(nclone "$X" align --method dspo --iters 2 --batch 4 --pretrain-iters 2 --eval-per-class 1 --pairs 4 \
         --threads 2 --out-dir "$T/strace2" --quiet)
if [ "$c1" = 0 ] && [ "$c3" = 0 ] && [ "$c2" -gt 0 ] && [ "$c4" -gt 0 ]; then
    ok "--threads 1 creates no thread (clones: rollout $c1, align $c3; with 2 threads $c2, $c4)"
else
    bad "thread creation: --threads 1 gave $c1 (rollout) and $c3 (align) clones, --threads 2 gave $c2 and $c4"
fi

# Unit tests: two lanes (CI has 2 cores), each program under a time limit.
# AARCH64_UNIT=0 leaves them out (they take most of the time).
echo "== unit tests under $QEMU"
i=0
[ "${AARCH64_UNIT:-1}" = 0 ] && echo "(unit tests left out: AARCH64_UNIT=0)"
for t in "$XBUILD"/tests/test_*; do
    [ "${AARCH64_UNIT:-1}" = 0 ] && break
    [ -x "$t" ] || continue
    echo "$t" >>"$T/lane$((i % 2))"
    i=$((i + 1))
done
for lane in 0 1; do
    [ -f "$T/lane$lane" ] || continue
    (while read -r t; do
        n=$(basename "$t")
        emu "$t" >"$T/u_$n.log" 2>&1
        echo $? >"$T/u_$n.rc"
    done <"$T/lane$lane") &
done
wait
[ "$i" -gt 0 ] || [ "${AARCH64_UNIT:-1}" = 0 ] || bad "no unit test programs in $XBUILD/tests"
for t in "$XBUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    [ "${AARCH64_UNIT:-1}" = 0 ] && break
    n=$(basename "$t")
    rc=$(cat "$T/u_$n.rc" 2>/dev/null || echo missing)
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$T/u_$n.log" | tail -n 1)
    if [ "$rc" = 0 ] && echo "$line" | grep -q ', 0 failed'; then
        ok "$n (aarch64): $line"
    else
        bad "$n (aarch64): exit $rc${line:+, $line}"
        grep -E '^ *FAIL' "$T/u_$n.log" | head -n 5
        [ "$rc" = 124 ] && echo "     (killed after ${TLIMIT}s: a hang?)"
    fi
done
t_unit=$(date +%s)
cpu
c_unit=$(cpu_s)

# same NAME A B: the two outputs are equal and not empty
same() {
    if [ -n "$2" ] && [ "$2" = "$3" ]; then
        ok "$1"
    else
        bad "$1: x86-64 and aarch64 differ"
        printf '%s\n' "$2" >"$T/diff_n"
        printf '%s\n' "$3" >"$T/diff_a"
        diff "$T/diff_n" "$T/diff_a" | head -n 8
    fi
}
# samefile NAME FILE_NATIVE FILE_AARCH64: both exist, byte for byte equal
samefile() {
    if [ -s "$2" ] && [ -s "$3" ] && cmp -s "$2" "$3"; then
        ok "$1"
    else
        bad "$1: files differ or are missing ($2, $3)"
    fi
}

echo "== vectors"
v_n=$("$NATIVE" verify vectors 2>&1)
v_a=$(emu "$X" verify vectors 2>&1)
case "$v_a" in
    *" 0 failed"*) ok "verify vectors (aarch64): $(echo "$v_a" | tail -n 1)" ;;
    *) bad "verify vectors (aarch64): $(echo "$v_a" | grep -E 'FAIL|failed' | head -n 5)" ;;
esac
same "verify vectors output" "$v_n" "$v_a"
for f in vectors/*.vec; do
    same "loss $(basename "$f"): every computed value" "$("$NATIVE" loss "$f" 2>&1)" "$(emu "$X" loss "$f" 2>&1)"
done

echo "== rollouts"
k=0
for args in "--seed 11 --steps 20 --eta 1 --batch 8 --dim 64" \
            "--seed 11 --steps 20 --eta 1 --batch 7 --dim 45" \
            "--seed 18446744073709551615 --steps 7 --eta 0.5 --batch 7 --dim 5 --spacing trailing --logprob mean" \
            "--seed 3 --steps 50 --eta 0 --batch 3 --dim 33 --spacing linspace --model-seed 9" \
            "--seed 12345 --steps 10 --eta 0.25 --batch 5 --dim 130 --model-seed 4"; do
    k=$((k + 1))
    r_n=$("$NATIVE" rollout $args --threads 2 --splits 3 --out "$T/roll_n$k.npy" 2>&1)
    r_a=$(emu "$X" rollout $args --threads 1 --out "$T/roll_a$k.npy" 2>&1)
    case "$r_n" in *"fingerprint "*) ;; *) r_n="" ;; esac
    same "rollout [$args]: x_T, every step hash, fingerprint $(echo "$r_n" | sed -n 's/^fingerprint //p')" "$r_n" "$r_a"
    samefile "rollout [$args]: trajectory .npy" "$T/roll_n$k.npy" "$T/roll_a$k.npy"
done

echo "== schedule and ddim-step"
for bs in "scaled_linear --beta-start 0.00085 --beta-end 0.012" "linear" "squaredcos_cap_v2"; do
    s_n=$("$NATIVE" schedule --beta-schedule $bs --out "$T/ac_n.npy" --out64 "$T/ac64_n.npy" --steps 37 --spacing trailing 2>&1)
    s_a=$(emu "$X" schedule --beta-schedule $bs --out "$T/ac_a.npy" --out64 "$T/ac64_a.npy" --steps 37 --spacing trailing 2>&1)
    same "schedule $bs: timesteps" "$s_n" "$s_a"
    samefile "schedule $bs: float32 table" "$T/ac_n.npy" "$T/ac_a.npy"
    samefile "schedule $bs: float64 table" "$T/ac64_n.npy" "$T/ac64_a.npy"
done
# inputs: trajectories of two native rollouts (x: sample, e: model output, z: noise)
"$NATIVE" rollout --seed 5 --steps 3 --batch 4 --dim 24 --out "$T/x.npy" --quiet >/dev/null
"$NATIVE" rollout --seed 6 --steps 3 --batch 4 --dim 24 --out "$T/e.npy" --quiet >/dev/null
"$NATIVE" rollout --seed 7 --steps 3 --batch 4 --dim 24 --out "$T/z.npy" --quiet >/dev/null
for opts in "--timestep 981 --steps 20 --eta 1" \
            "--step-index 7 --steps 50 --eta 0.7 --logprob mean --spacing trailing" \
            "--timestep 1 --steps 1000 --eta 1 --prediction v_prediction" \
            "--step-index 3 --steps 10 --eta 1 --prediction sample --clip-sample 1.5" \
            "--timestep 501 --steps 20 --eta 1 --dtype f64 --beta-schedule squaredcos_cap_v2"; do
    for side in n a; do
        if [ $side = n ]; then run=$NATIVE; else run="emu $X"; fi
        $run ddim-step --sample "$T/x.npy" --model-output "$T/e.npy" --noise "$T/z.npy" $opts \
            --out "$T/p_$side.npy" --mean-out "$T/m_$side.npy" --logprob-out "$T/l_$side.npy" \
            --x0-out "$T/x0_$side.npy" >"$T/ds_$side.txt" 2>&1
    done
    same "ddim-step [$opts]: messages" "$(cat "$T/ds_n.txt"; echo .)" "$(cat "$T/ds_a.txt"; echo .)"
    for o in p m l x0; do
        samefile "ddim-step [$opts]: $o" "$T/${o}_n.npy" "$T/${o}_a.npy"
    done
    rm -f "$T"/p_?.npy "$T"/m_?.npy "$T"/l_?.npy "$T"/x0_?.npy
done
t_small=$(date +%s)
cpu
c_small=$(cpu_s)

echo "== align, every method"
ALIGN="--iters 4 --batch 4 --pretrain-iters 120 --eval-per-class 2 --pairs 16 --seed 3"
# the table without its wall-time column
a_n=$("$NATIVE" align $ALIGN --threads 2 --out-dir "$T/al_n" --quiet 2>&1 | awk 'NR > 2 { $5 = ""; print }')
a_a=$(emu "$X" align $ALIGN --threads 1 --out-dir "$T/al_a" --quiet 2>&1 | awk 'NR > 2 { $5 = ""; print }')
rows=$(echo "$a_n" | grep -c '[0-9a-f]\{16\}$')
[ "$rows" -eq 9 ] || { bad "native align table has $rows method rows, want 9"; a_n=""; }
for m in d3po diffusion-dpo tailorpo tailorpo-g rdpo rdpo-fixed spo dspo ddpo; do
    same "align $m: rewards before and after, LoRA fingerprint $(echo "$a_n" | awk -v m=$m '$1 == m { print $NF }')" \
        "$(echo "$a_n" | awk -v m=$m '$1 == m')" "$(echo "$a_a" | awk -v m=$m '$1 == m')"
done
same "align: whole table" "$a_n" "$a_a"
for f in reward_curves.svg samples.png; do
    samefile "align: $f" "$T/al_n/$f" "$T/al_a/$f"
done
bn=$(ls "$T"/al_n/base-*.bin 2>/dev/null | head -n 1)
samefile "align: pretrained base model (cache $(basename "${bn:-none}"))" "$bn" "$T/al_a/$(basename "${bn:-none}")"
# a saved trainer state (LoRA, AdamW moments), from the cached base model
"$NATIVE" align $ALIGN --method spo --threads 2 --out-dir "$T/al_n" --save-state "$T/st_n.bin" --quiet >/dev/null 2>&1
emu "$X" align $ALIGN --method spo --threads 1 --out-dir "$T/al_a" --save-state "$T/st_a.bin" --quiet >/dev/null 2>&1
samefile "align spo: saved trainer state" "$T/st_n.bin" "$T/st_a.bin"
t_end=$(date +%s)
cpu
c_end=$(cpu_s)

echo "time: cross build $((t_build - t_start)) s, unit tests $((t_unit - t_build)) s," \
     "vectors/rollouts/ddim $((t_small - t_unit)) s, align $((t_end - t_small)) s, total $((t_end - t_start)) s"
echo "cpu:  cross build $c_build s, unit tests $((c_unit - c_build)) s (2 lanes)," \
     "vectors/rollouts/ddim $((c_small - c_unit)) s, align $((c_end - c_small)) s, total $c_end s"
finish
