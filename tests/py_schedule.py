#!/usr/bin/env python3
"""Cross-check of `diffpo schedule` against an independent emulation.

usage: python3 tests/py_schedule.py BUILD_DIR

The float32 alphas_cumprod of linear and scaled_linear is emulated here with
NumPy and exact rational arithmetic (fractions), never calling the library:
  linspace   step = float32((end - start) / (N - 1)); element i is the
             correctly rounded float32 of step*i + start (i < N//2) or of
             end - step*(N-1-i), one rounding each (PyTorch 2.x's AVX2 /
             AVX-512 CPU kernels, which use fused multiply-add);
  ** 2       float32 square; 1 - betas in float32;
  cumprod    running product in float64, each output rounded to float32.
The emulation of the non-fused rule (PyTorch's non-SIMD kernel) is kept to
show that the test tells the two apart.  Timesteps are compared with
NumPy's own arange / linspace / round.
"""
import os
import random
import subprocess
import sys
import tempfile
from fractions import Fraction

import numpy as np

passed = 0
failed = 0


def check(cond, msg):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + msg)
    else:
        failed += 1
        print("FAIL " + msg)


f32 = np.float32


def round_f32(x):
    """Correctly rounded float32 of the exact rational x (ties to even)."""
    c = f32(float(x))  # within an ulp of x (double rounding may be off by one)
    best = None
    for y in (np.nextafter(c, f32(-np.inf)), c, np.nextafter(c, f32(np.inf))):
        d = abs(Fraction(float(y)) - x)
        key = (d, int(np.array(y, dtype=np.float32).view(np.uint32)) & 1)
        if best is None or key < best[0]:
            best = (key, y)
    return f32(best[1])


def linspace_fused(start, end, n):
    s, e = f32(start), f32(end)
    step = f32((e - s) / f32(n - 1))
    fs, fe, fst = Fraction(float(s)), Fraction(float(e)), Fraction(float(step))
    out = np.empty(n, dtype=np.float32)
    for i in range(n):
        if i < n // 2:
            out[i] = round_f32(fst * i + fs)
        else:
            out[i] = round_f32(fe - fst * (n - 1 - i))
    return out


def linspace_plain(start, end, n):
    s, e = f32(start), f32(end)
    step = f32((e - s) / f32(n - 1))
    out = np.empty(n, dtype=np.float32)
    for i in range(n):
        if i < n // 2:
            out[i] = f32(s + f32(step * f32(i)))
        else:
            out[i] = f32(e - f32(step * f32(n - 1 - i)))
    return out


def table32(kind, b0, b1, n, linspace=linspace_fused):
    if kind == "linear":
        betas = linspace(b0, b1, n)
    else:
        r = linspace(b0 ** 0.5, b1 ** 0.5, n)
        betas = (r * r).astype(np.float32)
    alphas = (f32(1.0) - betas).astype(np.float32)
    acc = np.cumprod(alphas.astype(np.float64))  # sequential double products
    return acc.astype(np.float32)


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def main():
    if len(sys.argv) < 2:
        print("usage: py_schedule.py BUILD_DIR")
        print("0 passed, 1 failed")
        return 1
    exe = os.path.join(sys.argv[1], "diffpo")
    tmp = tempfile.mkdtemp(prefix="py_schedule.")
    rng = random.Random(20240611)

    # ---- float32 tables, bit for bit
    cases = [("scaled_linear", 0.00085, 0.012, 1000), ("linear", 0.0001, 0.02, 1000),
             ("scaled_linear", 0.0001, 0.02, 1000), ("linear", 0.00085, 0.012, 4096),
             ("scaled_linear", 0.0003, 0.05, 2), ("linear", 0.02, 0.02, 3)]
    for _ in range(6):
        b0 = 10 ** rng.uniform(-5, -2)
        cases.append((rng.choice(["linear", "scaled_linear"]), b0, b0 + 10 ** rng.uniform(-5, -1.5),
                      rng.randint(2, 4096)))
    sd_plain_diff = None
    for kind, b0, b1, n in cases:
        out = os.path.join(tmp, "ac.npy")
        if os.path.exists(out):
            os.remove(out)
        r = run([exe, "schedule", "--beta-schedule", kind, "--beta-start", repr(b0), "--beta-end", repr(b1),
                 "--train-steps", str(n), "--out", out])
        name = "%s %r %r N=%d" % (kind, b0, b1, n)
        if r.returncode != 0 or not os.path.exists(out):
            check(False, "%s: diffpo schedule failed (rc %d): %s" % (name, r.returncode, r.stderr.strip()))
            continue
        got = np.load(out)
        want = table32(kind, b0, b1, n)
        ok = got.dtype == np.float32 and got.shape == (n,) and np.array_equal(got.view(np.uint32),
                                                                           want.view(np.uint32))
        nd = -1 if got.shape != (n,) else int((got.view(np.uint32) != want.view(np.uint32)).sum())
        check(ok, "%s: float32 table bit for bit (%d entries differ)" % (name, nd))
        if (kind, b0, b1, n) == ("scaled_linear", 0.00085, 0.012, 1000):
            plain = table32(kind, b0, b1, n, linspace_plain)
            sd_plain_diff = int((plain.view(np.uint32) != got.view(np.uint32)).sum())
            # published facts (docs/schedules.md): alphas_cumprod[0] = 1 - 0.00085;
            # init_noise_sigma = sqrt((1 - ac[-1]) / ac[-1]) = 14.6146
            check(got[0] == f32(0.99915), "SD-1.5 alphas_cumprod[0] = 0.99915 (%r)" % float(got[0]))
            sig = ((1 - float(got[-1])) / float(got[-1])) ** 0.5
            check(abs(sig - 14.6146) < 5e-5 and abs(float(got[-1]) - 0.0047) < 5e-5,
                  "SD-1.5 alphas_cumprod[-1] = %.7f, init_noise_sigma %.5f (published 14.6146)"
                  % (float(got[-1]), sig))
    check(sd_plain_diff is not None and sd_plain_diff > 50,
          "the non-fused linspace rule gives a different SD-1.5 table (%s entries): the test discriminates"
          % sd_plain_diff)

    # ---- float64 table and squaredcos: against formulas in double
    out64 = os.path.join(tmp, "ac64.npy")
    r = run([exe, "schedule", "--beta-schedule", "squaredcos_cap_v2", "--train-steps", "1000", "--out64", out64])
    if r.returncode == 0 and os.path.exists(out64):
        g = np.load(out64)
        t = np.arange(1001) / 1000.0
        abar = np.cos((t + 0.008) / 1.008 * np.pi / 2) ** 2
        betas = np.minimum(1 - abar[1:] / abar[:-1], 0.999)
        want = np.cumprod(1 - betas)
        rel = np.max(np.abs(g - want) / want)
        check(g.dtype == np.float64 and rel < 1e-12, "squaredcos_cap_v2 float64 vs NumPy formula: rel %.3g" % rel)
    else:
        check(False, "squaredcos --out64 failed: %s" % r.stderr.strip())

    # ---- caller-given table round trip
    tab = np.cumprod(1 - np.linspace(0.001, 0.03, 500))
    tin = os.path.join(tmp, "tab.npy")
    np.save(tin, tab)
    o32, o64 = os.path.join(tmp, "t32.npy"), os.path.join(tmp, "t64.npy")
    r = run([exe, "schedule", "--table", tin, "--out", o32, "--out64", o64, "--steps", "10"])
    if r.returncode == 0:
        a, b = np.load(o32), np.load(o64)
        check(np.array_equal(b, tab) and np.array_equal(a, tab.astype(np.float32)),
              "--table float64: --out64 is the table, --out its float32 rounding")
        check(r.stdout.split() == [str(v) for v in (np.arange(10) * 50)[::-1] + 1],
              "--table: 500 train steps, leading 10 -> %s" % r.stdout.strip())
    else:
        check(False, "--table failed: %s" % r.stderr.strip())

    # ---- timesteps against NumPy's arange / linspace / round
    def numpy_ts(n, s, sp, off):
        if sp == "leading":
            return list((np.arange(0, s) * (n // s)).round()[::-1].astype(np.int64) + off)
        if sp == "trailing":
            return list(np.round(np.arange(n, 0, -n / s)).astype(np.int64) - 1)
        return list(np.linspace(0, n - 1, s).round()[::-1].astype(np.int64))

    pairs = [(1000, 61), (1000, 103), (26, 23), (30, 15), (4, 3), (1000, 1), (7, 7)]
    for _ in range(120):
        n = rng.randint(2, 4096)
        pairs.append((n, rng.randint(1, min(n, 300) if rng.random() < 0.7 else n)))
    bad = []
    nerr = 0
    for n, s in pairs:
        for sp in ("leading", "trailing", "linspace"):
            off = rng.choice([0, 1]) if sp == "leading" else 0
            want = numpy_ts(n, s, sp, off)
            valid = len(want) == s and min(want) >= 0 and max(want) < n
            r = run([exe, "schedule", "--train-steps", str(n), "--steps", str(s), "--spacing", sp,
                     "--steps-offset", str(off)])
            if r.returncode != 0:
                nerr += 1
                if valid:
                    bad.append((n, s, sp, off, "error: " + r.stderr.strip()))
                elif r.stdout or len(r.stderr.strip().splitlines()) != 1:
                    bad.append((n, s, sp, off, "error without one-line message"))
                continue
            got = [int(v) for v in r.stdout.split()]
            if not valid or got != want:
                bad.append((n, s, sp, off, "got %s..., numpy %s..." % (got[:4], want[:4])))
    check(not bad, "timesteps: %d (N, S, spacing) cases vs NumPy, %d rejected as NumPy-invalid; mismatches %s"
          % (3 * len(pairs), nerr, bad[:3]))
    check(nerr >= 2, "trailing 61 and 103 of 1000 (NumPy gives S + 1 values, the last -1) are rejected")

    # zero terminal SNR (diffusers' rescale_betas_zero_snr), float32 in diffusers' order of
    # operations, typed here from the formulas: r = sqrt(ac); r = (r - r[-1]) * (r[0]/(r[0] - r[-1]));
    # a = r**2; alphas = [a[0], a[i]/a[i-1]]; betas = 1 - alphas; then the scheduler's
    # alphas = 1 - betas and cumprod (float64 running product, each output rounded to float32)
    def zsnr32(ac):
        r = np.sqrt(ac.astype(np.float32))
        r0, rT = r[0], r[-1]
        r = (r - rT) * f32(r0 / f32(r0 - rT))
        a = r * r
        al = np.concatenate([a[:1], a[1:] / a[:-1]]).astype(np.float32)
        betas = (f32(1) - al).astype(np.float32)
        return np.cumprod((f32(1) - betas).astype(np.float64)).astype(np.float32)

    for name, args, ref in (("SD-1.5", [], table32("scaled_linear", 0.00085, 0.012, 1000)),
                            ("linear 1e-4..0.02, N 1000", ["--beta-schedule", "linear", "--beta-start", "0.0001",
                                                           "--beta-end", "0.02"], table32("linear", 0.0001, 0.02, 1000))):
        with tempfile.TemporaryDirectory() as td:
            o32, o64 = os.path.join(td, "a.npy"), os.path.join(td, "b.npy")
            r = run([exe, "schedule"] + args + ["--rescale-betas-zero-snr", "1", "--out", o32, "--out64", o64])
            if r.returncode != 0:
                check(False, "zero SNR %s: diffpo schedule failed: %s" % (name, r.stderr.strip()))
                continue
            got, got64 = np.load(o32), np.load(o64)
        want = zsnr32(ref)
        nd = int(np.sum(got.view(np.uint32) != want.view(np.uint32)))
        check(nd == 0 and got[-1] == 0, "zero SNR %s: float32 table bit for bit (%d entries differ), last = %r"
              % (name, nd, float(got[-1])))
        check(got64[-1] == 0 and np.max(np.abs(got64 - got.astype(np.float64))) < 1e-6,
              "zero SNR %s: float64 table ends at 0 and agrees with float32 to 1e-6" % name)
        try:
            import torch  # optional: diffusers' formulas on real torch float32 tensors
        except Exception:
            torch = None
        if torch is not None:
            # PyTorch's vectorised float32 sqrt (SLEEF, 0.5001 ulp on AVX2) is not correctly
            # rounded, so its rescaled table differs from the IEEE one in the last bits; with
            # torch's sqrt substituted the float32 emulation gives torch's table exactly (every
            # other operation is IEEE), and that table passed back with --table is kept bit for bit
            t = torch.from_numpy(ref.copy())
            rt = t.sqrt()
            r0, rT = rt[0].clone(), rt[-1].clone()
            rt = (rt - rT) * (r0 / (r0 - rT))
            at = rt ** 2
            al = torch.cat([at[0:1], at[1:] / at[:-1]])
            tb = 1 - al
            tac = torch.cumprod(1.0 - tb, dim=0).numpy()
            nd = int(np.sum(got.view(np.uint32) != tac.view(np.uint32)))
            r = t.sqrt().numpy()
            r = (r - r[-1]) * f32(r[0] / f32(r[0] - r[-1]))
            a = r * r
            al2 = np.concatenate([a[:1], a[1:] / a[:-1]]).astype(np.float32)
            emu = np.cumprod((f32(1) - (f32(1) - al2)).astype(np.float64)).astype(np.float32)
            ne = int(np.sum(emu.view(np.uint32) != tac.view(np.uint32)))
            check(ne == 0, "zero SNR %s: torch %s's table = the emulation with torch's sqrt (%d differ; %d entries "
                  "differ from diffpo's correctly rounded sqrt)" % (name, torch.__version__, ne, nd))
            with tempfile.TemporaryDirectory() as td:
                pin, pout = os.path.join(td, "t.npy"), os.path.join(td, "o.npy")
                np.save(pin, tac)
                r = run([exe, "schedule", "--table", pin, "--out", pout])
                ok = r.returncode == 0 and np.array_equal(np.load(pout).view(np.uint32), tac.view(np.uint32))
            check(ok, "zero SNR %s: torch's table (last entry 0) through --table bit for bit %s"
                  % (name, r.stderr.strip()))
    r = run([exe, "schedule", "--rescale-betas-zero-snr", "2", "--out", "/nonexistent/x.npy"])
    check(r.returncode != 0 and "rescale-betas-zero-snr" in r.stderr, "--rescale-betas-zero-snr 2 is refused")

    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
