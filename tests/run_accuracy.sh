#!/bin/sh
# Builds tests/pmath_accuracy.c (the portable-math error measurement, not a
# unit test) and prints max/mean ulp error per function and domain against
# the x87 long-double reference, with the machine it ran on.
#   sh tests/run_accuracy.sh [N]      N arguments per domain (default 10^6)
# Environment: CC (default cc), BUILD (default build).  The numbers are
# recorded in docs/portable-math.md; tests/py_pmath_mpmath.py checks the
# reference itself against mpmath.
set -e
N=${1:-1000000}
CC=${CC:-cc}
BUILD=${BUILD:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$BUILD/accuracy"
exe="$BUILD/accuracy/pmath_accuracy"
arch=$(uname -m)
fp="-ffp-contract=off -fno-fast-math"
[ "$arch" = x86_64 ] && fp="$fp -msse2 -mfpmath=sse"
# shellcheck disable=SC2086
$CC -std=c99 -Wall -Wextra -Werror -pedantic $fp -O2 -D_POSIX_C_SOURCE=200809L \
    -I"$root/include" -I"$root/src" "$root/tests/pmath_accuracy.c" -o "$exe" -lm
echo "# date     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# machine  $arch, $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || echo unknown cpu)"
echo "# compiler $($CC --version | head -n 1)"
echo "# commit   $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
"$exe" "$N"
