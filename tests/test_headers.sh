#!/bin/sh
# Every public header compiles on its own, first in the translation unit,
# as C99 (cc -std=c99 -pedantic -Werror) and as C++ (c++ -std=c++11
# -pedantic -Werror), and declares what its layer promises:
#   diffpo.h + diffpo_loss.h   the verified core (each includes the other);
#   diffpo_align.h, diffpo_train.h   the built-in model and trainers;
#   diffpo_cuda*.h             the CUDA drivers' C interface (no CUDA types).
# The core headers must not pull in the model layer.  Also the tools header
# src/tools/diffpo_tools.h (not public, but linked by the CLI, tests, fuzzers).
# Run from the repository root.  CC / CXX pick the compilers.
CC=${CC:-cc}
CXX=${CXX:-c++}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
no() { echo "FAIL $1"; fail=$((fail + 1)); }

# header, a symbol it must declare (used in the test unit)
check() {
    h=$1 sym=$2 inc=$3
    printf '#include "%s"\nvoid dpo_header_probe(void);\nvoid dpo_header_probe(void) { (void)%s; }\n' "$h" "$sym" >"$T/u.c"
    cp "$T/u.c" "$T/u.cpp"
    if "$CC" -std=c99 -pedantic -Wall -Wextra -Werror $inc -c "$T/u.c" -o "$T/u.o" 2>"$T/err"; then
        ok "$h alone, C99"
    else
        head -3 "$T/err"; no "$h alone, C99"
    fi
    if command -v "$CXX" >/dev/null 2>&1; then
        if "$CXX" -std=c++11 -pedantic -Wall -Wextra -Werror $inc -c "$T/u.cpp" -o "$T/u.o" 2>"$T/err"; then
            ok "$h alone, C++"
        else
            head -3 "$T/err"; no "$h alone, C++"
        fi
    fi
}

check diffpo.h dpo_step_f32 -Iinclude
check diffpo_loss.h dpo_tailorpo_f64 -Iinclude
check diffpo_align.h dpo_mlp_forward -Iinclude
check diffpo_train.h dpo_trainer_init -Iinclude
check diffpo_cuda.h dpo_cuda_step_workspace_size -Iinclude
check diffpo_cuda_model.h dpo_cuda_matmul_strict -Iinclude
check diffpo_tools.h dpo_vecrun_verify "-Iinclude -Isrc/tools"

# every header in include/ is listed above (a new one must be added here)
for h in include/*.h; do
    b=$(basename "$h")
    if grep -q "^check $b " "$0"; then :; else no "$b is not checked by tests/test_headers.sh"; fi
done

# layering: the core compiles without the model headers in the search path
mkdir -p "$T/core"
cp include/diffpo.h include/diffpo_loss.h "$T/core/"
printf '#include "diffpo.h"\nint main(void) { return dpo_status_str(DPO_OK) == 0; }\n' >"$T/c.c"
if "$CC" -std=c99 -pedantic -Wall -Wextra -Werror -I"$T/core" -c "$T/c.c" -o "$T/c.o" 2>"$T/err"; then
    ok "the core (diffpo.h + diffpo_loss.h) needs no other header"
else
    head -3 "$T/err"; no "the core (diffpo.h + diffpo_loss.h) needs no other header"
fi
if grep -q 'dpo_mlp_\|dpo_trainer_' include/diffpo.h include/diffpo_loss.h; then
    no "the core headers declare model/trainer functions"
else
    ok "the core headers declare no model/trainer functions"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
