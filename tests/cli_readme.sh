#!/bin/sh
# The README's table is what `diffpo run` (the main job, make run) prints:
# every column but wall_s, row for row, and the SVG and PNG it promises.
# Runs the full default job (about 25 s on 2 cores).
set -u
BIN=${1:-build/diffpo}
. tests/lib_cli.sh

"$BIN" run --out-dir "$T/out" --quiet >"$T/run.txt" 2>"$T/err.txt" && ok || bad "diffpo run exited non-zero: $(cat "$T/err.txt")"
awk '/^method +reward_before/ { on = 1; next } on && NF == 6 { $5 = ""; print } on && NF != 6 { on = 0 }' \
    "$T/run.txt" >"$T/got.txt"
awk '/^```/ { if (inb) inb = 0; else inb = 1; next }
     inb && /^method +reward_before/ { on = 1; next }
     on && inb && NF == 6 { $5 = ""; print }
     !inb { on = 0 }' README.md >"$T/want.txt"
n=$(wc -l <"$T/want.txt")
[ "$n" -eq 9 ] && ok || bad "README.md: want 9 table rows after the header, found $n"
if cmp -s "$T/got.txt" "$T/want.txt"; then ok; else
    bad "README.md's table differs from diffpo run's (wall_s aside):"
    diff "$T/want.txt" "$T/got.txt"
fi
[ -s "$T/out/reward_curves.svg" ] && grep -q '</svg>' "$T/out/reward_curves.svg" && ok || bad "no reward_curves.svg"
[ -s "$T/out/samples.png" ] && [ "$(head -c 8 "$T/out/samples.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] &&
    ok || bad "no samples.png (PNG signature)"
finish
