#!/bin/sh
# examples/*.c compile against the built library with the flags the
# project promises its users (C99, every warning an error) and run;
# examples/align_tailorpo.c prints the rewards and LoRA fingerprint that
# `diffpo align` prints for the same configuration, bit for bit.
# EXAMPLE_CC / EXAMPLE_FLAGS: compiler and extra flags matching the
# library's build (make asan sets them to its sanitizer build).
set -u
BIN=${1:-build/diffpo}
BUILD=$(dirname "$BIN")
CC=${EXAMPLE_CC:-${CC:-cc}}
XF=${EXAMPLE_FLAGS:-}
. tests/lib_cli.sh

for src in examples/*.c; do
    name=$(basename "$src" .c)
    if $CC -std=c99 -Wall -Wextra -Werror -pedantic $XF -Iinclude "$src" \
        "$BUILD/libdiffpo.a" -lxxhash -lpthread -lm -o "$T/$name" 2>"$T/cc.txt"; then
        ok "$name compiles"
    else
        bad "$name does not compile: $(head -n 5 "$T/cc.txt")"
    fi
done

if [ -x "$T/align_tailorpo" ]; then
    "$T/align_tailorpo" >"$T/ex.txt" 2>&1 || bad "align_tailorpo failed: $(cat "$T/ex.txt")"
    "$BIN" align --method tailorpo --pretrain-iters 300 --iters 10 --batch 4 --eval-per-class 2 --threads 2 \
        --out-dir "$T/o" --quiet >"$T/cli.txt" 2>&1 || bad "diffpo align failed: $(cat "$T/cli.txt")"
    # the example prints: tailorpo reward before B after A change C lora_fingerprint F
    ex=$(awk '{ print $4, $6, $8, $10 }' "$T/ex.txt")
    cli=$(awk 'NR > 2 { print $2, $3, $4, $6 }' "$T/cli.txt")
    if [ -n "$cli" ] && [ "$ex" = "$cli" ]; then ok "align_tailorpo = diffpo align: $ex"; else
        bad "align_tailorpo printed '$ex', diffpo align '$cli'"
    fi
fi
finish
