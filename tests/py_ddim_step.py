#!/usr/bin/env python3
"""Cross-check of `diffpo ddim-step` against an independent NumPy model of
diffusers' DDIMScheduler.step.

Usage: python3 tests/py_ddim_step.py BUILD_DIR   (runs BUILD_DIR/diffpo)

The reference is written here from the published algorithm (DESIGN.md sec. 6,
docs/references.md §2), never from the library:
  * alphas_cumprod in float32 as PyTorch 2.x builds it on the CPU: linspace
    in float32 (step = (end - start)/(N - 1); element i from start for
    i < N/2, from end otherwise), squared in float32 for scaled_linear,
    alphas = 1 - betas, cumprod accumulated in float64 and rounded to float32
    per element.  Each linspace element is computed two ways, with the
    product and sum rounded once (fused, PyTorch's AVX2/AVX-512 kernels) and
    rounded separately; the tests report how many table entries the two
    differ in and use the fused one (see src/schedule.c, docs/schedules.md).
  * the step in float32 with every scalar a float32 0-d value, in diffusers'
    order of operations:
      x0  = (x - sqrt(1-a_t) * e) / sqrt(a_t)            (epsilon)
      var = ((1-a_prev)/(1-a_t)) * (1 - a_t/a_prev)
      std = eta * sqrt(var)
      dir = sqrt(1 - a_prev - std**2) * eps
      prev = sqrt(a_prev) * x0 + dir  (+ std * z when eta > 0)
    and the v / sample prediction types.
  * the log-probability in float64 with an exactly rounded sum (math.fsum).

The step is driven through a caller-given alphas_cumprod table
(--beta-schedule table) so that it is checked independently of the schedule
code; the built-in schedules are then checked to equal that table's
results bit for bit.  Expectation: the float32 path equals the reference
bit for bit (max ulp difference reported otherwise); the float64 path within
2 ulp; log-probabilities within 1e-12 relative (stated in docs/cli.md).
"""
import math
import os
import shutil
import subprocess
import sys
import tempfile
from fractions import Fraction

import numpy as np

F32 = np.float32
PASSED = 0
FAILED = 0


def check(cond, name, msg=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print("ok   " + name)
    else:
        FAILED += 1
        print("FAIL " + name + (": " + msg if msg else ""))


# ------------------------------------------------------------------ tables
def round_f32(fr):
    """Fraction -> nearest float32 (ties to even), exactly."""
    d = float(fr)  # correctly rounded to double
    f = F32(d)
    if not np.isfinite(f):
        return f
    # double rounding can only go wrong at a float32 midpoint: settle exactly
    lo = np.nextafter(f, F32(-np.inf))
    hi = np.nextafter(f, F32(np.inf))
    best = f
    for c in (lo, hi):
        if abs(Fraction(float(c)) - fr) < abs(Fraction(float(best)) - fr):
            best = c
        elif abs(Fraction(float(c)) - fr) == abs(Fraction(float(best)) - fr) and c != best:
            # tie: the even significand wins
            if (int(np.array(c).view(np.uint32)) & 1) == 0:
                best = c
    return F32(best)


def linspace_f32(start, end, n, fused):
    s = F32(start)
    e = F32(end)
    step = (e - s) / F32(n - 1)
    out = np.empty(n, dtype=F32)
    for i in range(n):
        if i < n // 2:
            if fused:
                out[i] = round_f32(Fraction(float(step)) * i + Fraction(float(s)))
            else:
                out[i] = s + step * F32(i)
        else:
            k = n - 1 - i
            if fused:
                out[i] = round_f32(Fraction(float(e)) - Fraction(float(step)) * k)
            else:
                out[i] = e - step * F32(k)
    return out


def table_f32(kind, b0, b1, n, fused=True):
    if kind == "scaled_linear":
        r = linspace_f32(math.sqrt(b0), math.sqrt(b1), n, fused)
        betas = r * r
    else:
        betas = linspace_f32(b0, b1, n, fused)
    alphas = F32(1.0) - betas
    return np.cumprod(alphas.astype(np.float64)).astype(F32)


def timesteps(S, N, spacing, offset):
    if spacing == "leading":
        r = N // S
        return (np.arange(0, S) * r)[::-1] + offset
    if spacing == "trailing":
        return np.round(np.arange(N, 0, -N / S)).astype(np.int64) - 1
    return np.round(np.linspace(0, N - 1, S))[::-1].astype(np.int64)


# --------------------------------------------------------------- reference
def ref_threshold(x0, ratio, maxv):
    """diffusers' _threshold_sample in float32: per batch row, s = torch.quantile(|x0|, ratio)
    as PyTorch 2.x computes it on an AVX2 CPU (rank = float32(ratio) * (d - 1) exactly,
    weight = float32(rank - floor(rank)), PyTorch's lerp with the multiply-add fused:
    fma(w, b - a, a) for w < 0.5, else fma(w - 1, b - a, b); the fma here in double, a product
    of two floats being exact), s = clamp(s, 1, max), x0 = clamp(x0, -s, s)/s."""
    B = x0.shape[0]
    flat = x0.reshape(B, -1)
    out = np.empty_like(flat)
    ss = []
    for b in range(B):
        v = np.sort(np.abs(flat[b]))
        d = v.size
        rank = float(F32(ratio)) * (d - 1)
        lo = int(np.floor(rank))
        w = F32(rank - lo)
        hi = min(lo + 1 if rank > lo else lo, d - 1)
        a, c = v[lo], v[hi]
        cma = float(c - a)
        sv = F32(float(a) + float(w) * cma) if w < F32(0.5) else F32(float(c) + float(w - F32(1)) * cma)
        sv = min(max(sv, F32(1)), F32(maxv))
        ss.append(sv)
        out[b] = np.clip(flat[b], -sv, sv) / sv
    return out.reshape(x0.shape).astype(F32), ss


def ref_step(x, e, z, ac, t, S, eta, pred="epsilon", set_one=0, prev_rule="diffusers", clip=None,
             use_clipped=0, dt=F32, thr=None):
    N = len(ac)
    prev = t - N // S
    if prev_rule == "clamped":
        prev = min(max(prev, 0), N - 1)
    one = dt(1.0)
    at = dt(ac[t])
    ap = dt(ac[prev]) if prev >= 0 else (one if set_one else dt(ac[0]))
    bt = one - at
    bp = one - ap
    sat, sbt = np.sqrt(at), np.sqrt(bt)
    if pred == "epsilon":
        x0 = (x - sbt * e) / sat
        eps = e
    elif pred == "sample":
        x0 = e
        eps = (x - sat * x0) / sbt
    else:
        x0 = sat * x - sbt * e
        eps = sat * e + sbt * x
    if thr is not None:  # diffusers: thresholding takes precedence over clip_sample
        x0, _ = ref_threshold(x0, thr[0], thr[1])
    elif clip is not None:
        x0 = np.clip(x0, dt(-clip), dt(clip))
    if use_clipped:  # diffusers: also without clip_sample (eps re-derived from the unclipped x0)
        eps = (x - sat * x0) / sbt
    variance = (bp / bt) * (one - at / ap)
    std = dt(eta) * np.sqrt(variance)
    direction = np.sqrt(one - ap - std * std) * eps
    mu = np.sqrt(ap) * x0 + direction
    out = mu + std * z if eta > 0 else mu
    assert out.dtype == dt and x0.dtype == dt
    return out, mu, x0, std


def ref_logprob(xp, mu, std, mode):
    """float64, exactly rounded sums; per batch row."""
    B = xp.shape[0]
    d = xp.size // B
    s = float(std)
    res = []
    for b in range(B):
        dev = (xp[b].astype(np.float64) - mu[b].astype(np.float64)).ravel()
        S = math.fsum((dev * dev).tolist())
        if mode == "mean":
            res.append(-S / (2 * s * s) / d - math.log(s) - 0.5 * math.log(2 * math.pi))
        else:
            res.append(-S / (2 * s * s) - d * math.log(s) - d * 0.5 * math.log(2 * math.pi))
    return np.array(res)


def max_ulp(a, b):
    """Largest distance in units in the last place between a and b."""
    a = np.ascontiguousarray(a)
    b = np.ascontiguousarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return 1 << 62
    if a.size == 0:
        return 0
    it, nbits = (np.int32, 32) if a.dtype == F32 else (np.int64, 64)

    def line(arr):  # sign-magnitude bits -> a monotone integer line
        out = []
        for u in arr.view(it).ravel().tolist():
            out.append(-(u & ((1 << (nbits - 1)) - 1)) if u < 0 else u)
        return out

    return max(abs(p - q) for p, q in zip(line(a), line(b)))


# ---------------------------------------------------------------- the CLI
class Runner:
    def __init__(self, exe, tmp):
        self.exe = exe
        self.tmp = tmp
        self.n = 0

    def path(self, name):
        return os.path.join(self.tmp, name)

    def save(self, name, arr):
        p = self.path(name)
        np.save(p, arr)
        return p

    def step(self, args, outs=("out",)):
        self.n += 1
        paths = {o: self.path("o%d_%s.npy" % (self.n, o)) for o in outs}
        cmd = [self.exe, "ddim-step"] + [str(a) for a in args]
        for o, p in paths.items():
            cmd += ["--" + o, p]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return None, r.stderr.strip()
        return {o: np.load(p) for o, p in paths.items()}, ""


def bits_equal(a, b):
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def main():
    if len(sys.argv) < 2:
        print("usage: py_ddim_step.py BUILD_DIR")
        print("0 passed, 1 failed")
        return 1
    exe = os.path.join(sys.argv[1], "diffpo")
    if not os.access(exe, os.X_OK):
        print("FAIL no executable " + exe)
        print("0 passed, 1 failed")
        return 1
    tmp = tempfile.mkdtemp(prefix="diffpo_py_step_")
    try:
        run_all(Runner(exe, tmp))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed" % (PASSED, FAILED))
    return 1 if FAILED else 0


def run_all(R):
    N = 1000
    ac = table_f32("scaled_linear", 0.00085, 0.012, N, fused=True)
    ac_sep = table_f32("scaled_linear", 0.00085, 0.012, N, fused=False)
    ndiff = int(np.sum(ac != ac_sep))
    print("# scaled_linear table: fused and separately rounded linspace differ in %d of %d entries" % (ndiff, N))
    ac_lin = table_f32("linear", 0.0001, 0.02, N, fused=True)
    tab = R.save("ac.npy", ac)
    tab_lin = R.save("ac_lin.npy", ac_lin)

    rng = np.random.default_rng(20240601)
    shape = (3, 4, 5, 6)
    x = rng.standard_normal(shape).astype(F32)
    e = rng.standard_normal(shape).astype(F32)
    v = (rng.standard_normal(shape) * 0.7).astype(F32)
    x0s = np.clip(rng.standard_normal(shape) * 0.8, -1.5, 1.5).astype(F32)
    z = rng.standard_normal(shape).astype(F32)
    px, pe, pv, px0, pz = (R.save(n, a) for n, a in
                           (("x.npy", x), ("e.npy", e), ("v.npy", v), ("x0s.npy", x0s), ("z.npy", z)))
    model = {"epsilon": (pe, e), "v_prediction": (pv, v), "sample": (px0, x0s)}
    S = 20
    worst = 0

    # 1. float32 path vs the float32 reference, bit for bit
    cases = []
    for pred in ("epsilon", "v_prediction", "sample"):
        for t in (951, 501, 41, 1):
            for eta in (0.0, 1.0, 0.5):
                cases.append(dict(pred=pred, t=t, eta=eta))
    cases += [dict(pred="epsilon", t=1, eta=1.0, set_one=1),
              dict(pred="epsilon", t=1, eta=0.0, set_one=1),
              dict(pred="epsilon", t=1, eta=1.0, prev_rule="clamped"),
              dict(pred="epsilon", t=1, eta=1.0, prev_rule="clamped", set_one=1),
              dict(pred="epsilon", t=951, eta=1.0, clip=1.0),
              dict(pred="epsilon", t=951, eta=1.0, clip=1.0, use_clipped=1),
              dict(pred="v_prediction", t=501, eta=1.0, clip=0.5, use_clipped=1),
              dict(pred="epsilon", t=951, eta=1.0, use_clipped=1),
              dict(pred="epsilon", t=41, eta=0.5, use_clipped=1),
              dict(pred="v_prediction", t=501, eta=1.0, use_clipped=1),
              dict(pred="sample", t=501, eta=0.0, use_clipped=1),
              dict(pred="epsilon", t=999, eta=1.0, S=50),
              dict(pred="epsilon", t=7, eta=1.0, S=1000)]
    for cs in cases:
        pred, t, eta = cs["pred"], cs["t"], cs["eta"]
        s = cs.get("S", S)
        set_one = cs.get("set_one", 0)
        rule = cs.get("prev_rule", "diffusers")
        clip = cs.get("clip")
        uc = cs.get("use_clipped", 0)
        pm, m = model[pred]
        args = ["--beta-schedule", "table", "--alphas-cumprod", tab, "--sample", px, "--model-output", pm,
                "--timestep", t, "--steps", s, "--eta", repr(eta), "--prediction", pred,
                "--set-alpha-to-one", set_one, "--prev-rule", rule]
        if clip is not None:
            args += ["--clip-sample", clip]
        if clip is not None or uc:
            args += ["--use-clipped-model-output", uc]
        outs = ["out", "mean-out", "x0-out"]
        ref, mu, rx0, std = ref_step(x, m, z, ac, t, s, eta, pred, set_one, rule, clip, uc)
        if eta > 0:
            args += ["--noise", pz]
        if std > 0:  # sigma_t = 0 (eta 0, or the last step with set_alpha_to_one) has no log-prob
            outs.append("logprob-out")
        got, err = R.step(args, outs)
        name = "f32 %s t=%d S=%d eta=%g set_one=%d %s%s" % (pred, t, s, eta, set_one, rule,
                                                             " clip=%s/%d" % (clip, uc) if clip is not None or uc else "")
        if got is None:
            check(False, name, "CLI failed: " + err)
            continue
        ok = bits_equal(got["out"], ref) and bits_equal(got["mean-out"], mu) and bits_equal(got["x0-out"], rx0)
        u = max(max_ulp(got["out"], ref), max_ulp(got["mean-out"], mu), max_ulp(got["x0-out"], rx0))
        worst = max(worst, u)
        check(ok, name + " bitwise", "max ulp difference %d" % u)
        if std > 0:
            lp = got["logprob-out"]
            rl = ref_logprob(ref, mu, std, "sum")
            rel = float(np.max(np.abs(lp - rl) / np.maximum(1.0, np.abs(rl))))
            check(lp.dtype == np.float64 and lp.shape == (shape[0],) and rel <= 1e-12,
                  name + " log-prob (sum)", "dtype %s shape %s rel err %.3g" % (lp.dtype, lp.shape, rel))
    print("# float32 path: max ulp difference over all cases = %d" % worst)

    # 1a. dynamic thresholding (--thresholding 1): bit for bit against the float32 model, whose
    #     quantile is checked against torch.quantile itself where PyTorch is installed
    try:
        import torch
    except Exception:
        torch = None
    for pred, t, eta, ratio, mx, uc in (("epsilon", 951, 1.0, 0.995, 1.0, 0), ("epsilon", 951, 1.0, 0.995, 3.0, 0),
                                        ("epsilon", 951, 0.5, 0.999, 2.5, 1), ("v_prediction", 501, 1.0, 0.9, 1.5, 0),
                                        ("sample", 41, 1.0, 1.0, 1.2, 1), ("epsilon", 501, 1.0, 0.5, 10.0, 0)):
        pm, m = model[pred]
        args = ["--sample", px, "--model-output", pm, "--timestep", t, "--steps", S, "--eta", repr(eta),
                "--prediction", pred, "--noise", pz, "--thresholding", 1, "--dynamic-thresholding-ratio", repr(ratio),
                "--sample-max-value", repr(mx), "--use-clipped-model-output", uc]
        ref, mu, rx0, std = ref_step(x, m, z, ac, t, S, eta, pred, use_clipped=uc, thr=(ratio, mx))
        got, err = R.step(args, ["out", "mean-out", "x0-out"])
        name = "threshold f32 %s t=%d eta=%g ratio=%g max=%g use_clipped=%d" % (pred, t, eta, ratio, mx, uc)
        if got is None:
            check(False, name, "CLI failed: " + err)
            continue
        ok = bits_equal(got["out"], ref) and bits_equal(got["mean-out"], mu) and bits_equal(got["x0-out"], rx0)
        check(ok, name + " bitwise", "max ulp difference %d" % max(max_ulp(got["out"], ref), max_ulp(got["x0-out"], rx0)))
        if torch is not None:
            # the raw x0 of the step, as diffusers forms it, then torch's own quantile and clamp
            at = F32(ac[t])
            sa, sb = np.sqrt(at), np.sqrt(F32(1) - at)
            raw = {"epsilon": (x - sb * m) / sa, "sample": m, "v_prediction": sa * x - sb * m}[pred].astype(F32)
            tq = torch.quantile(torch.from_numpy(np.abs(raw).reshape(raw.shape[0], -1)), ratio, dim=1)
            tq = torch.clamp(tq, min=1, max=mx).numpy()
            _, mine = ref_threshold(raw, ratio, mx)
            check(np.array_equal(np.array(mine, dtype=F32).view(np.uint32), tq.view(np.uint32)),
                  name + ": the model's s = torch.quantile + clamp (torch %s) bit for bit" % torch.__version__,
                  "%s vs %s" % (mine, tq))
    # many rows (sample prediction: x0 is the model output): the quantile's fused lerp matters in a
    # few rows in a thousand; eta 0, so the step is x0's
    rq = np.random.default_rng(7)
    xs = rq.standard_normal((2048, 31)).astype(F32)
    o0 = (rq.standard_normal((2048, 31)) * 3).astype(F32)
    pxs, pos = R.save("xs.npy", xs), R.save("os.npy", o0)
    for ratio in (0.9, 0.995, 0.6180339):
        ref, mu, rx0, std = ref_step(xs, o0, None, ac, 501, S, 0.0, "sample", thr=(ratio, 100.0))
        got, err = R.step(["--sample", pxs, "--model-output", pos, "--timestep", 501, "--steps", S, "--eta", "0",
                           "--prediction", "sample", "--thresholding", 1, "--dynamic-thresholding-ratio", repr(ratio),
                           "--sample-max-value", "100"], ["out", "x0-out"])
        check(got is not None and bits_equal(got["x0-out"], rx0), "threshold 2048 rows x 31, ratio %g: x0 bitwise" % ratio,
              err)
        if torch is not None:
            _, mine = ref_threshold(o0, ratio, 100.0)
            tq = torch.clamp(torch.quantile(torch.from_numpy(np.abs(o0)), ratio, dim=1), min=1, max=100.0).numpy()
            nd = int(np.sum(np.array(mine, dtype=F32).view(np.uint32) != tq.view(np.uint32)))
            check(nd == 0, "threshold 2048 rows, ratio %g: the model's s = torch.quantile's in every row (%d differ)"
                  % (ratio, nd))
    got, err = R.step(["--sample", px, "--model-output", pe, "--timestep", 951, "--steps", S, "--eta", "1",
                       "--noise", pz, "--thresholding", 1, "--dtype", "f64"], ["out"])
    check(got is None and "float32 only" in err, "--thresholding with --dtype f64 refused", err)

    # 1b. zero terminal SNR (--rescale-betas-zero-snr 1): the table rescaled in float32 as
    #     diffusers' rescale_zero_terminal_snr does (correctly rounded sqrt), then the step;
    #     t = 999 (ac = 0) with v and sample prediction, t = 1 (prev < 0: final_alpha_cumprod is
    #     the rescaled ac[0]), and epsilon at t = 999 refused
    r = np.sqrt(ac)
    r = (r - r[-1]) * F32(r[0] / F32(r[0] - r[-1]))
    a2 = r * r
    al = np.concatenate([a2[:1], a2[1:] / a2[:-1]]).astype(F32)
    acz = np.cumprod((F32(1) - (F32(1) - al)).astype(np.float64)).astype(F32)
    for pred, t, eta, s in (("v_prediction", 999, 0.0, 20), ("sample", 999, 0.5, 20), ("v_prediction", 1, 1.0, 20),
                            ("v_prediction", 500, 1.0, 50)):
        pm, m = model[pred]
        args = ["--rescale-betas-zero-snr", 1, "--sample", px, "--model-output", pm, "--timestep", t, "--steps", s,
                "--eta", repr(eta), "--prediction", pred, "--noise", pz]
        ref, mu, rx0, std = ref_step(x, m, z, acz, t, s, eta, pred)
        got, err = R.step(args, ["out", "mean-out", "x0-out"])
        name = "zero SNR f32 %s t=%d S=%d eta=%g" % (pred, t, s, eta)
        if got is None:
            check(False, name, "CLI failed: " + err)
            continue
        ok = bits_equal(got["out"], ref) and bits_equal(got["mean-out"], mu) and bits_equal(got["x0-out"], rx0)
        check(ok, name + " bitwise", "max ulp difference %d" % max(max_ulp(got["out"], ref), max_ulp(got["mean-out"], mu)))
    got, err = R.step(["--rescale-betas-zero-snr", 1, "--sample", px, "--model-output", pe, "--timestep", 999,
                       "--steps", 20, "--eta", "1", "--noise", pz], ["out"])
    check(got is None and "zero terminal SNR" in err, "zero SNR: epsilon prediction at ac = 0 refused", err)
    # eta = 1 at ac_t = 0: sigma^2 = 1 - ac_prev, and 1 - ac_prev - sigma^2 rounds below 0 in float32
    # here, where diffusers' (..)**0.5 gives NaN; diffpo refuses the step instead
    ap = acz[999 - N // 20]
    std = F32(1.0) * np.sqrt((F32(1) - ap) / (F32(1) - acz[999]) * (F32(1) - acz[999] / ap))
    dcoef = F32(1) - ap - std * std
    got, err = R.step(["--rescale-betas-zero-snr", 1, "--sample", px, "--model-output", pv, "--timestep", 999,
                       "--steps", 20, "--eta", "1", "--noise", pz, "--prediction", "v_prediction"], ["out"])
    check(dcoef < 0 and got is None and "out of range" in err,
          "zero SNR: eta 1 at ac = 0, 1 - ac_prev - sigma^2 = %g < 0 in float32 (diffusers: NaN) is refused" % dcoef, err)

    # 2. log-prob mean form
    args = ["--beta-schedule", "table", "--alphas-cumprod", tab, "--sample", px, "--model-output", pe,
            "--noise", pz, "--timestep", 501, "--steps", S, "--eta", "1", "--logprob", "mean"]
    got, err = R.step(args, ["out", "logprob-out"])
    if got is None:
        check(False, "log-prob mean", err)
    else:
        ref, mu, _, std = ref_step(x, e, z, ac, 501, S, 1.0)
        rl = ref_logprob(ref, mu, std, "mean")
        rel = float(np.max(np.abs(got["logprob-out"] - rl) / np.maximum(1.0, np.abs(rl))))
        check(rel <= 1e-12, "log-prob mean form", "rel err %.3g" % rel)
        # the mean form is the sum form / d (exactly as formulas, approximately in floats)
        d = x.size // x.shape[0]
        got2, _ = R.step(args[:-2] + ["--logprob", "sum"], ["logprob-out"])
        if got2 is not None:
            check(np.allclose(got2["logprob-out"] / d, got["logprob-out"], rtol=1e-12, atol=0),
                  "log-prob sum / d == mean")

    # 3. built-in schedules equal the independent tables' results bit for bit
    base = ["--sample", px, "--model-output", pe, "--noise", pz, "--steps", S, "--eta", "1"]
    for t in (951, 1):
        a, err1 = R.step(base + ["--timestep", t], ["out"])  # all defaults (SD 1.5)
        b, err2 = R.step(base + ["--timestep", t, "--beta-schedule", "table", "--alphas-cumprod", tab], ["out"])
        check(a is not None and b is not None and bits_equal(a["out"], b["out"]),
              "default schedule == independent scaled_linear table (t=%d)" % t, err1 + err2)
    for t in (951, 501):
        a, err1 = R.step(base + ["--timestep", t, "--beta-schedule", "linear", "--beta-start", "0.0001",
                                 "--beta-end", "0.02"], ["out"])
        b, err2 = R.step(base + ["--timestep", t, "--beta-schedule", "table", "--alphas-cumprod", tab_lin],
                         ["out"])
        check(a is not None and b is not None and bits_equal(a["out"], b["out"]),
              "linear schedule == independent linear table (t=%d)" % t, err1 + err2)
    a, err = R.step(base + ["--timestep", 951], ["out"])
    if a is not None:
        ref, _, _, _ = ref_step(x, e, z, ac, 951, S, 1.0)
        check(bits_equal(a["out"], ref), "defaults == reference (SD 1.5, t=951)",
              "max ulp %d" % max_ulp(a["out"], ref))

    # 4. --step-index picks the spacing's timestep
    for spacing, off in (("leading", 1), ("trailing", 0), ("linspace", 0), ("leading", 0)):
        ts = timesteps(S, N, spacing, off)
        for k in (0, 7, S - 1):
            a, err1 = R.step(base + ["--step-index", k, "--spacing", spacing, "--steps-offset", off], ["out"])
            b, err2 = R.step(base + ["--timestep", int(ts[k])], ["out"])
            check(a is not None and b is not None and bits_equal(a["out"], b["out"]),
                  "step-index %d %s offset %d == timestep %d" % (k, spacing, off, int(ts[k])), err1 + err2)

    # 5. float64 path: float64 table and inputs vs a float64 reference
    ac64 = np.cumprod(1.0 - np.linspace(math.sqrt(0.00085), math.sqrt(0.012), N) ** 2)
    tab64 = R.save("ac64.npy", ac64)
    xd, ed, zd = (a.astype(np.float64) * 1.1 for a in (x, e, z))
    pxd, ped, pzd = (R.save(n, a) for n, a in (("xd.npy", xd), ("ed.npy", ed), ("zd.npy", zd)))
    worst64 = 0
    for pred, t, eta in (("epsilon", 951, 1.0), ("v_prediction", 501, 0.5), ("sample", 41, 1.0),
                         ("epsilon", 1, 1.0)):
        args = ["--beta-schedule", "table", "--alphas-cumprod", tab64, "--sample", pxd, "--model-output", ped,
                "--noise", pzd, "--timestep", t, "--steps", S, "--eta", repr(eta), "--prediction", pred]
        got, err = R.step(args, ["out", "mean-out", "logprob-out"])
        name = "f64 %s t=%d eta=%g" % (pred, t, eta)
        if got is None:
            check(False, name, err)
            continue
        ref, mu, _, std = ref_step(xd, ed, zd, ac64, t, S, eta, pred, dt=np.float64)
        u = max(max_ulp(got["out"], ref), max_ulp(got["mean-out"], mu))
        worst64 = max(worst64, u)
        check(got["out"].dtype == np.float64 and u <= 2, name + " within 2 ulp", "max ulp %d" % u)
        rl = ref_logprob(ref, mu, std, "sum")
        rel = float(np.max(np.abs(got["logprob-out"] - rl) / np.maximum(1.0, np.abs(rl))))
        check(rel <= 1e-12, name + " log-prob", "rel err %.3g" % rel)
    print("# float64 path: max ulp difference = %d" % worst64)

    # 6. dtype rules: f32 inputs with --dtype f64 compute in double; f64 inputs with --dtype f32 round first
    got, err = R.step(["--sample", px, "--model-output", pe, "--noise", pz, "--timestep", 501, "--steps", S,
                       "--eta", "1", "--dtype", "f64", "--beta-schedule", "table", "--alphas-cumprod", tab64],
                      ["out"])
    if got is None:
        check(False, "--dtype f64 on float32 inputs", err)
    else:
        ref, _, _, _ = ref_step(x.astype(np.float64), e.astype(np.float64), z.astype(np.float64), ac64, 501, S,
                                1.0, dt=np.float64)
        check(got["out"].dtype == np.float64 and max_ulp(got["out"], ref) <= 2, "--dtype f64 on float32 inputs")
    got, err = R.step(["--sample", pxd, "--model-output", ped, "--noise", pzd, "--timestep", 501, "--steps", S,
                       "--eta", "1", "--dtype", "f32", "--beta-schedule", "table", "--alphas-cumprod", tab],
                      ["out"])
    if got is None:
        check(False, "--dtype f32 on float64 inputs", err)
    else:
        ref, _, _, _ = ref_step(xd.astype(F32), ed.astype(F32), zd.astype(F32), ac, 501, S, 1.0)
        check(bits_equal(got["out"], ref), "--dtype f32 on float64 inputs (bitwise)",
              "max ulp %d" % max_ulp(got["out"], ref))

    # 7. 1-d input (B,) is B samples of one element; 2-d (B, d)
    for shp in ((5,), (2, 7)):
        xs = rng.standard_normal(shp).astype(F32)
        es = rng.standard_normal(shp).astype(F32)
        zs = rng.standard_normal(shp).astype(F32)
        a1, a2, a3 = R.save("xs.npy", xs), R.save("es.npy", es), R.save("zs.npy", zs)
        got, err = R.step(["--sample", a1, "--model-output", a2, "--noise", a3, "--timestep", 501, "--steps", S,
                           "--eta", "1", "--beta-schedule", "table", "--alphas-cumprod", tab],
                          ["out", "mean-out", "logprob-out"])
        if got is None:
            check(False, "shape %s" % (shp,), err)
            continue
        ref, mu, _, std = ref_step(xs, es, zs, ac, 501, S, 1.0)
        rl = ref_logprob(ref, mu, std, "sum")
        check(bits_equal(got["out"], ref) and got["logprob-out"].shape == (shp[0],) and
              float(np.max(np.abs(got["logprob-out"] - rl) / np.maximum(1, np.abs(rl)))) <= 1e-12,
              "shape %s: step bitwise, log-prob (B,)" % (shp,))


if __name__ == "__main__":
    sys.exit(main())
