# Sourced by tests/run_tests.sh, tests/gpu/run_gpu_tests.sh and tests/gpu/emu/run_emu.sh: tally NAME
# STATUS reads the closing "N passed, M failed" line of the program output
# in $log and adds it to total_p / total_f (a missing line, or a non-zero
# status with no failed test, counts as one failure).
tally() {
    name=$1
    st=$2
    line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
    if [ -z "$line" ]; then
        echo "FAIL $name: no summary line (exit $st)"
        tail -n 5 "$log"
        total_f=$((total_f + 1))
        return
    fi
    p=$(echo "$line" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed.*/\1/')
    f=$(echo "$line" | sed -E 's/^([0-9]+) passed, ([0-9]+) failed.*/\2/')
    if [ "$st" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exit status $st with no failed test"
        f=1
    fi
    total_p=$((total_p + p))
    total_f=$((total_f + f))
    echo "== $name: $p passed, $f failed"
}
