#!/usr/bin/env python3
"""Cross-check of the long-double reference used by tests/pmath_accuracy.c and
tests/test_pmath.c, with mpmath at 50 significant digits.

It builds the measurement program (tests/pmath_accuracy.c) into
BUILD/accuracy/, runs its `dump` mode (for every measured domain: x, the
long-double reference (%La, exact) and the library's value, all as C99 hex
floats), and checks for every function that
  1. the long-double reference is within 1/256 ulp (of double) of mpmath, so
     the ulp errors measured against it are trustworthy to that resolution;
  2. the library's own error against mpmath stays within the documented bound
     (docs/portable-math.md), an independent confirmation of the C test.
Usage: py_pmath_mpmath.py BUILD_DIR.  Skips (0 failed) where long double is
no wider than double.
"""
import os
import platform
import subprocess
import sys

import mpmath
from mpmath import mp, mpf

mp.dps = 50
REF_TOL_ULP = 1.0 / 256
BOUND = {"exp": 1.0, "log": 1.0, "log1p": 1.5, "sin2pi": 1.0, "cos2pi": 1.0,
         "cospi": 1.0, "sigmoid": 2.0, "softplus": 2.0}
PER_DOMAIN = 200  # x 24 domains = 4800 points

passed = failed = 0


def report(ok, msg):
    global passed, failed
    if ok:
        passed += 1
        print("ok   " + msg)
    else:
        failed += 1
        print("FAIL " + msg)


def exact(name, x):
    x = mpf(x)
    if name == "exp":
        return mp.exp(x)
    if name == "log":
        return mp.log(x)
    if name == "log1p":
        return mp.log1p(x)
    if name == "sin2pi":
        return mp.sinpi(2 * x)
    if name == "cos2pi":
        return mp.cospi(2 * x)
    if name == "cospi":
        return mp.cospi(x)
    if name == "sigmoid":
        return 1 / (1 + mp.exp(-x))
    if name == "softplus":
        return mp.log1p(mp.exp(x)) if x < 0 else x + mp.log1p(mp.exp(-x))
    raise ValueError(name)


def from_hex(s):
    """Exact value of a C99 hex float (any precision, e.g. printf %La)."""
    s = s.strip().lower()
    if s in ("inf", "+inf"):
        return mpf("inf")
    if s == "-inf":
        return mpf("-inf")
    if "nan" in s:
        return mpf("nan")
    sign = -1 if s.startswith("-") else 1
    s = s.lstrip("+-")
    assert s.startswith("0x"), s
    mant, _, exp = s[2:].partition("p")
    ip, _, fp = mant.partition(".")
    digits = int((ip or "0") + fp, 16)
    return sign * mp.ldexp(mpf(digits), int(exp or "0") - 4 * len(fp))


def ulp_of(v):
    """ulp (in double) of the double nearest v; 2^-1074 below DBL_MIN."""
    a = abs(v)
    if a < mpf(2) ** -1022:
        return mpf(2) ** -1074
    m, e = mp.frexp(a)  # a = m 2^e, m in [0.5, 1)
    return mpf(2) ** (e - 53)


def build(build_dir):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out_dir = os.path.join(build_dir, "accuracy")
    os.makedirs(out_dir, exist_ok=True)
    exe = os.path.join(out_dir, "pmath_accuracy")
    cc = os.environ.get("CC", "cc")
    flags = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic", "-ffp-contract=off",
             "-fno-fast-math", "-O2", "-D_POSIX_C_SOURCE=200809L",
             "-I" + os.path.join(root, "include"), "-I" + os.path.join(root, "src")]
    if platform.machine() in ("x86_64", "AMD64"):
        flags += ["-msse2", "-mfpmath=sse"]
    cmd = [cc] + flags + [os.path.join(root, "tests", "pmath_accuracy.c"), "-o", exe, "-lm"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout + r.stderr)
        return None
    return exe


def main():
    build_dir = sys.argv[1] if len(sys.argv) > 1 else "build"
    exe = build(build_dir)
    report(exe is not None, "build the measurement program (tests/pmath_accuracy.c)")
    if exe is None:
        print("%d passed, %d failed" % (passed, failed))
        return 1
    r = subprocess.run([exe, "dump", str(PER_DOMAIN), "0x5eed"], capture_output=True, text=True)
    report(r.returncode == 0, "dump mode runs")
    if r.stdout.startswith("SKIP"):
        print("SKIP: " + r.stdout.strip() + " (no long-double reference to check on this machine)")
        print("%d passed, %d failed" % (passed, failed))
        return 0 if failed == 0 else 1
    ref_err = {}
    lib_err = {}
    count = {}
    worst = {}
    for line in r.stdout.splitlines():
        name, xs, refs, gots = line.split()
        x = float.fromhex(xs)
        assert from_hex(xs) == mpf(x)
        ref = from_hex(refs)
        got = float.fromhex(gots)
        ex = exact(name, x)
        u = ulp_of(ex)
        e_ref = float(abs(ref - ex) / u)
        e_lib = float(abs(mpf(got) - ex) / u) if mpmath.isfinite(got) else float("inf")
        count[name] = count.get(name, 0) + 1
        if e_ref > ref_err.get(name, -1.0):
            ref_err[name] = e_ref
            worst[name] = xs
        lib_err[name] = max(lib_err.get(name, 0.0), e_lib)
    for name in BOUND:
        n = count.get(name, 0)
        report(n >= 200, "%s: %d points" % (name, n))
        if n == 0:
            continue
        report(ref_err[name] <= REF_TOL_ULP,
               "%s: long-double reference vs mpmath max %.2e ulp (at %s), tolerance %.2e"
               % (name, ref_err[name], worst[name], REF_TOL_ULP))
        report(lib_err[name] <= BOUND[name],
               "%s: library vs mpmath max %.4f ulp, documented bound %.1f" % (name, lib_err[name], BOUND[name]))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
