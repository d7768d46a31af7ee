#!/bin/sh
# Builds every fuzz/fuzz_<name>.c libFuzzer harness with clang against the
# library sources (src/*.c compiled with the project flags plus ASan + UBSan +
# libFuzzer instrumentation into an archive) and runs each for FUZZ_SECONDS (default 30) on a copy of its
# seed corpus fuzz/corpus/<name>/ (new inputs go to a scratch folder, the
# checkout is not modified).  A harness passes when it builds and the run
# finds no crash, leak, timeout or sanitizer report.  Ends with
# "N passed, M failed".
# FUZZ_RUNS=N runs each harness for N executions instead (`make fuzz`: 10^7
# each, docs/errors.md "Fuzzing"; `make test`: a smoke run of 2000).
#   FUZZ_SECONDS=60 sh fuzz/run_fuzz.sh          all harnesses, 60 s each
#   sh fuzz/run_fuzz.sh npy                       only fuzz/fuzz_npy.c
#   FUZZ_CC=clang-15 FUZZ_JOBS=1 FUZZ_OUT=dir     compiler, workers, build/log folder
cd "$(dirname "$0")/.." || exit 1
CC=${FUZZ_CC:-clang}
SECS=${FUZZ_SECONDS:-30}
OUT=${FUZZ_OUT:-build/fuzz}
FLAGS="-std=c99 -Wall -Wextra -Werror -pedantic -ffp-contract=off -fno-fast-math -O1 -g \
-fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
-Iinclude -Isrc -D_POSIX_C_SOURCE=200809L"
case "$(uname -m)" in x86_64) FLAGS="$FLAGS -msse2 -mfpmath=sse" ;; esac
mkdir -p "$OUT" || exit 1
pass=0
fail=0
if ! command -v "$CC" >/dev/null 2>&1; then
    echo "FAIL fuzz: $CC not found (libFuzzer needs clang)"
    echo "0 passed, 1 failed"
    exit 1
fi
# The library, instrumented, as an archive: a harness pulls in only the
# objects it needs.
libok=1
rm -rf "$OUT/obj" "$OUT/libdiffpo_fuzz.a"
mkdir -p "$OUT/obj"
echo "== library: compile src/*.c src/model/*.c src/tools/*.c src/cli/*.c"
for src in src/*.c src/model/*.c src/tools/*.c src/cli/*.c; do
    [ "$src" = src/cli/main.c ] && continue # the harnesses are the mains
    # shellcheck disable=SC2086
    if ! $CC $FLAGS -c "$src" -o "$OUT/obj/$(basename "$src" .c).o" >"$OUT/lib.log" 2>&1; then
        tail -n 20 "$OUT/lib.log"
        echo "   $src does not compile"
        libok=0
    fi
done
[ "$libok" = 1 ] && ar rcs "$OUT/libdiffpo_fuzz.a" "$OUT"/obj/*.o || libok=0
for h in fuzz/fuzz_*.c; do
    [ -f "$h" ] || continue
    name=$(basename "$h" .c)
    name=${name#fuzz_}
    if [ $# -gt 0 ]; then
        want=0
        for a in "$@"; do [ "$a" = "$name" ] && want=1; done
        [ "$want" = 1 ] || continue
    fi
    bin="$OUT/fuzz_$name"
    log="$OUT/fuzz_$name.log"
    echo "== fuzz_$name: build"
    # shellcheck disable=SC2086
    if [ "$libok" != 1 ] || ! $CC $FLAGS -o "$bin" "$h" "$OUT/libdiffpo_fuzz.a" -lxxhash -lm -lpthread >"$log" 2>&1; then
        tail -n 20 "$log"
        echo "FAIL fuzz_$name: build failed (log: $log)"
        fail=$((fail + 1))
        continue
    fi
    work="$OUT/corpus_$name"
    rm -rf "$work"
    mkdir -p "$work" "$OUT/crashes_$name"
    seeds=$name
    [ "$name" = npyio ] && seeds=npy # the CLI loader reads the same files
    if [ -d "fuzz/corpus/$seeds" ]; then
        cp fuzz/corpus/"$seeds"/* "$work"/ 2>/dev/null
    else
        echo "   (no seed corpus fuzz/corpus/$seeds/)"
    fi
    if [ -n "${FUZZ_RUNS:-}" ]; then
        limit="-runs=$FUZZ_RUNS"
        echo "== fuzz_$name: run $FUZZ_RUNS executions"
    else
        limit="-max_total_time=$SECS"
        echo "== fuzz_$name: run ${SECS}s"
    fi
    "$bin" $limit -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="$OUT/crashes_$name/" "$work" >"$log" 2>&1
    rc=$?
    grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)' "$log"
    last=$(grep -E '^#[0-9]+' "$log" | tail -n 1)
    [ -n "$last" ] && echo "   last: $last"
    if [ "$rc" -eq 0 ]; then
        echo "ok   fuzz_$name"
        pass=$((pass + 1))
    else
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -n 10
        echo "FAIL fuzz_$name: exit $rc (log: $log, reproducer in $OUT/crashes_$name/)"
        fail=$((fail + 1))
    fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
