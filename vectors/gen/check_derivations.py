#!/usr/bin/env python3
"""Numeric checks (mpmath, 60 digits) of every claim in docs/derivations.md that is not
already checked case by case by generate.py.  Run from the repository root:
    python3 vectors/gen/check_derivations.py
Prints one line per check and exits non-zero if a check fails.  Independent of the library."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mpmath  # noqa: E402
from mpmath import mp, mpf  # noqa: E402

mp.dps = 60
FAIL = []


def report(tag, ok, text):
    print("%-4s %-6s %s" % (tag, "ok" if ok else "FAIL", text))
    if not ok:
        FAIL.append(tag)


def sig(z):
    return 1 / (1 + mpmath.exp(-z))


def rnd(seed):
    """Small deterministic pseudo-random numbers (no dependence on Python's RNG)."""
    state = [seed]

    def f():
        state[0] = (state[0] * 6364136223846793005 + 1442695040888963407) % 2 ** 64
        return mpf(state[0] >> 11) / 2 ** 53 * 2 - 1
    return f


def lp(x, mu, s, mean=False):
    d = len(x)
    v = -sum((a - b) ** 2 for a, b in zip(x, mu)) / (2 * s ** 2) - d * mpmath.log(s) - mpf(d) / 2 * mpmath.log(2 * mpmath.pi)
    return v / d if mean else v


def grad(f, xs, i, h=mpf(2) ** -80):
    a = list(xs)
    b = list(xs)
    a[i] += h
    b[i] -= h
    return (f(a) - f(b)) / (2 * h)


def main():
    r = rnd(12345)
    d = 5
    s = mpf("0.37")
    beta = mpf("0.8")
    xw = [r() for _ in range(d)]
    xl = [r() for _ in range(d)]
    mw = [r() for _ in range(d)]
    ml = [r() for _ in range(d)]
    rw = [m + r() / 5 for m in mw]
    rl = [m + r() / 5 for m in ml]

    # S1: TailorPO eq. 19 (Step DPO) = derivative of eq. 5, both reductions
    for mean in (False, True):
        def L(mu_w, mu_l=ml):
            h = beta * ((lp(xw, mu_w, s, mean) - lp(xw, rw, s, mean)) - (lp(xl, mu_l, s, mean) - lp(xl, rl, s, mean)))
            return -mpmath.log(sig(h))
        h = beta * ((lp(xw, mw, s, mean) - lp(xw, rw, s, mean)) - (lp(xl, ml, s, mean) - lp(xl, rl, s, mean)))
        f = beta * (1 - sig(h))
        N = d if mean else 1
        gap = max(abs(grad(lambda m: L(m), mw, i) - (-(f / s ** 2) * (xw[i] - mw[i]) / N)) for i in range(d))
        gap2 = max(abs(grad(lambda m: L(mw, m), ml, i) - ((f / s ** 2) * (xl[i] - ml[i]) / N)) for i in range(d))
        report("S1", max(gap, gap2) < mpf(10) ** -30,
               "TailorPO eq. 19: dL/dmu_w = -(f/s^2)(x_w - mu_w)%s, dL/dmu_l = +(f/s^2)(x_l - mu_l)%s; max gap %s"
               % ((("/d",) * 2 if mean else ("", "")) + (mpmath.nstr(max(gap, gap2), 3),)))

    # S2: eq. 9 / 20 regrouping: (x_w - mu_w) - (x_l - mu_l) = (x_w - x_l) + (mu_l - mu_w)
    gap = max(abs(((a - b) - (c - e)) - ((a - c) + (e - b))) for a, b, c, e in zip(xw, mw, xl, ml))
    report("S2", gap == 0, "TailorPO eq. 9/20: the regrouping is exact (the approximation is only J_w ~ J_l)")

    # S3: TailorPO eq. 21 (shared parent) = derivative of eq. 10
    mu = mw
    mr = rw

    def L10(m):
        h = beta * ((lp(xw, m, s) - lp(xw, mr, s)) - (lp(xl, m, s) - lp(xl, mr, s)))
        return -mpmath.log(sig(h))
    h = beta * ((lp(xw, mu, s) - lp(xw, mr, s)) - (lp(xl, mu, s) - lp(xl, mr, s)))
    f = beta * (1 - sig(h))
    gap = max(abs(grad(L10, mu, i) - (-(f / s ** 2) * (xw[i] - xl[i]))) for i in range(d))
    report("S3", gap < mpf(10) ** -30, "TailorPO eq. 21: dL/dmu = -(f/s^2)(x_w - x_l); gap %s" % mpmath.nstr(gap, 3))

    # S4: TailorPO-G eq. 13/14 with r_high = r_t(x) + delta differentiated: zero gradient;
    #     held constant: -2 delta grad r_t, and the + update raises r_t
    qa = [r() for _ in range(d)]
    qb = [-abs(r()) for _ in range(d)]
    x = [r() for _ in range(d)]
    delta = mpf("0.5")

    def rt(xs):
        return sum(a * y + b * y * y / 2 for a, b, y in zip(qa, qb, xs))
    lit = max(abs(grad(lambda xs: ((rt(xs) + delta) - rt(xs)) ** 2, x, i)) for i in range(d))
    rh = rt(x) + delta
    sg = [grad(lambda xs: (rh - rt(xs)) ** 2, x, i) for i in range(d)]
    gr = [grad(rt, x, i) for i in range(d)]
    gap = max(abs(a + 2 * delta * b) for a, b in zip(sg, gr))
    eta = mpf("0.15")
    xp = [a - eta * b for a, b in zip(x, sg)]
    xm = [a + eta * b for a, b in zip(x, sg)]
    report("S4", lit < mpf(10) ** -40 and gap < mpf(10) ** -30 and rt(xp) > rt(x) > rt(xm),
           "TailorPO-G: literal gradient %s; stop-gradient = -2 delta grad r_t (gap %s); r(x+) %s > r(x) %s > r(x-) %s"
           % (mpmath.nstr(lit, 3), mpmath.nstr(gap, 3), mpmath.nstr(rt(xp), 8), mpmath.nstr(rt(x), 8), mpmath.nstr(rt(xm), 8)))

    # S5: eta schedule endpoints
    def etaf(t, T=20, lo=mpf("0.1"), hi=mpf("0.2")):
        return lo + (hi - lo) * (1 + mpmath.cos(mpmath.pi * t / T)) / 2
    report("S5", etaf(0) == mpf("0.2") and abs(etaf(20) - mpf("0.1")) < mpf(10) ** -50 and etaf(4) > etaf(16),
           "eta_t cosine: eta(0) = 0.2, eta(20) = 0.1, decreasing in t (eta(4) = %s > eta(16) = %s)"
           % (mpmath.nstr(etaf(4), 10), mpmath.nstr(etaf(16), 10)))

    # S6: RDPO eq. 9: with lr_l > 0 the printed z = delta + lambda lr_l, so the penalty's own part
    #     of a descent step on mu changes lr_l at rate +s lambda |grad lr_l|^2 (raises it), the
    #     intended sign at -s lambda |grad lr_l|^2.  Full step: with the winner's term orthogonal
    #     to grad lr_l (d = 2 example) the printed loss raises lr_l whenever lambda > beta.
    lam = mpf(1)
    b2 = mpf("0.1")
    mu2 = [mpf("0.2"), mpf("-0.1")]
    mr2 = [mpf("0.0"), mpf("-0.1")]           # Delta = mu - mu_ref = (0.2, 0)
    xw2 = [mpf("0.2"), mpf("0.5")]            # x_w - mu = (0, 0.6): orthogonal to Delta
    xl2 = [mpf("0.3"), mpf("-0.1")]           # x_l - mu = Delta/2: lr_l > 0

    def lrat(xs, m):
        return lp(xs, m, s) - lp(xs, mr2, s)

    def zf(m, variant, lam_=lam):
        dl = b2 * (lrat(xw2, m) - lrat(xl2, m))
        psi = min(mpf(0), -lrat(xl2, m))
        return dl - lam_ * psi if variant == "printed" else dl + lam_ * psi
    lrl = lrat(xl2, mu2)
    glr = [grad(lambda m: lrat(xl2, m), mu2, i) for i in range(2)]
    eff = {}
    for variant, lam_ in (("printed", lam), ("intended", lam), ("printed", mpf(0))):
        g = [grad(lambda m: -mpmath.log(sig(zf(m, variant, lam_))), mu2, i) for i in range(2)]
        eff[(variant, lam_)] = sum(-a * b for a, b in zip(g, glr))
        if lam_ != 0:
            ss = 1 - sig(zf(mu2, variant, lam_))
            pen = [grad(lambda m: -ss * (lam_ * min(mpf(0), -lrat(xl2, m)) * (-1 if variant == "printed" else 1)), mu2, i)
                   for i in range(2)]
            part = sum(-a * b for a, b in zip(pen, glr))
            want = ss * lam_ * sum(v * v for v in glr) * (1 if variant == "printed" else -1)
            eff[(variant, "part")] = (part, want)
    ok = (lrl > 0 and eff[("printed", lam)] > 0 and eff[("printed", 0)] < 0 and eff[("intended", lam)] < eff[("printed", 0)]
          and abs(eff[("printed", "part")][0] - eff[("printed", "part")][1]) < mpf(10) ** -30
          and abs(eff[("intended", "part")][0] - eff[("intended", "part")][1]) < mpf(10) ** -30)
    report("S6", ok, "RDPO eq. 9 (lr_l = %s > 0, beta 0.1, lambda 1): penalty part of d lr_l/d tau = %s (printed), %s "
           "(intended) = +-s lambda |grad lr_l|^2; full step: printed %s, lambda = 0 %s, intended %s"
           % (mpmath.nstr(lrl, 6), mpmath.nstr(eff[("printed", "part")][0], 6), mpmath.nstr(eff[("intended", "part")][0], 6),
              mpmath.nstr(eff[("printed", lam)], 6), mpmath.nstr(eff[("printed", 0)], 6), mpmath.nstr(eff[("intended", lam)], 6)))

    # S7: RDPO text: Psi = min(0, log pi_ref/pi_theta) as a function of ratio = pi_theta/pi_ref
    def psi(ratio):
        return min(mpf(0), -mpmath.log(ratio))
    report("S7", psi(mpf("0.5")) == 0 and psi(mpf("0.9")) == 0 and psi(mpf(2)) < psi(mpf("1.5")) < 0,
           "RDPO Psi: 0 for ratio <= 1 (psi(0.5) = psi(0.9) = 0), decreasing for ratio > 1 (psi(1.5) = %s, psi(2) = %s)"
           % (mpmath.nstr(psi(mpf("1.5")), 6), mpmath.nstr(psi(mpf(2)), 6)))

    # S8: RDPO eq. 6 with a shared x_t: printed ranks in reverse of r(x0_hat(x_{t-1}))
    rb = mpf("0.3")
    ra = [mpf("0.9"), mpf("0.1"), mpf("0.5")]
    pr = sorted(range(3), key=lambda i: -(rb - ra[i]))
    gn = sorted(range(3), key=lambda i: -(ra[i] - rb))
    rr = sorted(range(3), key=lambda i: -ra[i])
    report("S8", pr == rr[::-1] and gn == rr, "RDPO eq. 6: ranking by printed dq %s, by gain %s, by r_after %s" % (pr, gn, rr))

    # S9: SPO threshold: sigma(g) - sigma(-g) = tanh(g/2); > 0.3 iff g > 2 atanh 0.3
    g0 = 2 * mpmath.atanh(mpf(3) / 10)
    gap = abs(sig(g0) - sig(-g0) - mpf(3) / 10)
    report("S9", gap < mpf(10) ** -50, "SPO: 2 atanh(0.3) = %s, softmax gap there = 0.3 (gap %s)" % (mpmath.nstr(g0, 16), mpmath.nstr(gap, 3)))

    # S10: DSPO eq. 23 / 11 from the Gaussian of eq. 21 at the posterior mean, and eq. 26 vs the true gradient
    ab_t, ab_t1 = mpf("0.6"), mpf("0.55")  # cumulative products (alpha_t, alpha_{t+1} of DSPO's notation)
    beta1 = 1 - ab_t1 / ab_t
    s2 = (1 - ab_t) / (1 - ab_t1) * beta1
    lam_ = mpf("0.7")
    xt1 = mpf("0.3")
    eps = mpf("-0.2")
    eth = mpf("0.45")
    eref = mpf("0.1")

    def mean(e):
        return mpmath.sqrt(ab_t / ab_t1) * (xt1 - beta1 / mpmath.sqrt(1 - ab_t1) * e)

    def logp(xt, e):
        return -(xt - mean(e)) ** 2 / (2 * s2)
    xt_post = mean(eps)
    r_direct = lam_ * (logp(xt_post, eth) - logp(xt_post, eref))
    r_eq11 = -lam_ * beta1 / (2 * (1 - ab_t)) * (ab_t / ab_t1) * ((eth - eps) ** 2 - (eref - eps) ** 2)
    report("S10", abs(r_direct - r_eq11) < mpf(10) ** -50,
           "DSPO eq. 11/23 = lambda (log p_theta - log p_ref) of eq. 21 at the posterior mean (gap %s)"
           % mpmath.nstr(abs(r_direct - r_eq11), 3))
    g_true = mpmath.diff(lambda xt: lam_ * (logp(xt, eth) - logp(xt, eref)), xt_post)
    g_eq26 = -lam_ / (2 * s2) * mpmath.sqrt(ab_t / ab_t1) * beta1 / mpmath.sqrt(1 - ab_t1) * (eth - eref)
    report("S11", abs(g_true - 2 * g_eq26) < mpf(10) ** -40 and abs(g_true - g_eq26) > mpf(10) ** -3,
           "DSPO eq. 26: true gradient %s = 2 x printed %s (printed has lambda/(2 sigma^2), the derivative lambda/sigma^2)"
           % (mpmath.nstr(g_true, 12), mpmath.nstr(g_eq26, 12)))

    # S12: DSPO eq. 12 constants: omega ||grad log p_theta/p_data - gamma (1-sig) grad r||^2 with
    #      eq. 27 and (printed) eq. 26 equals A(t) ||B e - lambda gamma (1-sig) p||^2 with
    #      A = omega/(4 s^4) (a_t/a_t1) beta^2/(1-ab_t1) (eq. 12) and B = 2 sqrt(1-ab_t)/(sqrt(a_t/a_t1) sqrt(1-ab_t1))
    omega, gam, sgm = mpf("1.3"), mpf("0.9"), mpf("0.35")
    e_ = eth - eps
    p_ = eth - eref
    lhs = omega * (-(e_) / mpmath.sqrt(1 - ab_t) - gam * sgm * g_eq26 / (eth - eref) * p_) ** 2
    A12 = omega / (4 * s2 ** 2) * (ab_t / ab_t1) * beta1 ** 2 / (1 - ab_t1)
    B_ok = 2 * mpmath.sqrt(1 - ab_t) / (mpmath.sqrt(ab_t / ab_t1) * mpmath.sqrt(1 - ab_t1))
    rhs = A12 * (B_ok * e_ - lam_ * gam * sgm * p_) ** 2
    B28 = omega / (2 * s2) * mpmath.sqrt(ab_t / ab_t1) * beta1 ** 4 * mpmath.sqrt(1 - ab_t) / mpmath.sqrt(1 - ab_t1)
    rhs28 = A12 * (B28 * e_ - lam_ * gam * sgm * p_) ** 2
    AC = omega / (2 * s2) * (ab_t / ab_t1) * beta1 ** 2 / (1 - ab_t1)
    lhs_true = omega * (-(e_) / mpmath.sqrt(1 - ab_t) - gam * sgm * g_true / (eth - eref) * p_) ** 2
    rhs_true = 4 * A12 * (B_ok / 2 * e_ - lam_ * gam * sgm * p_) ** 2
    report("S12b", abs(lhs_true - rhs_true) < mpf(10) ** -40,
           "DSPO eq. 12 with the correct eq. 26 (S11): A(t) becomes 4x and B(t) half of the values above (gap %s)"
           % mpmath.nstr(abs(lhs_true - rhs_true), 3))
    report("S12", abs(lhs - rhs) < mpf(10) ** -40 and abs(lhs - rhs28) > mpf(10) ** -3 and abs(AC - A12) > mpf(10) ** -3,
           "DSPO eq. 12: A(t) of eq. 12 matches the derivation with B = %s; printed B(t) (eq. 28) = %s does not "
           "(value %s vs %s); appendix C's A(t) = omega/(2 sigma^2)... = %s differs from eq. 12's %s"
           % (mpmath.nstr(B_ok, 8), mpmath.nstr(B28, 8), mpmath.nstr(rhs28, 8), mpmath.nstr(lhs, 8), mpmath.nstr(AC, 8), mpmath.nstr(A12, 8)))

    # S13: Diffusion-DPO: eq. 7's log-ratio form with the eq. 21 Gaussian = the eps form with beta = lambda c_t
    c_t = beta1 / (1 - ab_t) * ab_t / ab_t1
    lr = lambda e_th, e_rf: logp(xt_post, e_th) - logp(xt_post, e_rf)
    ethl, erefl = mpf("-0.33"), mpf("0.05")
    z7 = lam_ * (lr(eth, eref) - lr(ethl, erefl))
    D = lambda a, b: (a - eps) ** 2 - (b - eps) ** 2
    u = -(lam_ * c_t) / 2 * (D(eth, eref) - D(ethl, erefl))
    report("S13", abs(z7 - u) < mpf(10) ** -50,
           "Diffusion-DPO (DSPO eq. 7): lambda(lr_w - lr_l) = -(beta/2)(D_w - D_l) with beta = lambda c_t (gap %s)"
           % mpmath.nstr(abs(z7 - u), 3))

    # S14: DDIM chain rule
    at, ap, sg_ = mpf("0.3"), mpf("0.45"), mpf("0.2")
    xt = mpf("0.7")
    dirc = mpmath.sqrt(1 - ap - sg_ ** 2)
    ke = dirc - mpmath.sqrt(ap) * mpmath.sqrt(1 - at) / mpmath.sqrt(at)
    kv = dirc * mpmath.sqrt(at) - mpmath.sqrt(ap) * mpmath.sqrt(1 - at)
    me = lambda e: mpmath.sqrt(ap) * (xt - mpmath.sqrt(1 - at) * e) / mpmath.sqrt(at) + dirc * e
    mv = lambda v: mpmath.sqrt(ap) * (mpmath.sqrt(at) * xt - mpmath.sqrt(1 - at) * v) + dirc * (mpmath.sqrt(at) * v + mpmath.sqrt(1 - at) * xt)
    gap = max(abs(mpmath.diff(me, mpf("0.1")) - ke), abs(mpmath.diff(mv, mpf("-0.3")) - kv))
    report("S14", gap < mpf(10) ** -40, "DDIM: d mu/d eps = %s, d mu/d v = %s (gap %s)" % (mpmath.nstr(ke, 10), mpmath.nstr(kv, 10), mpmath.nstr(gap, 3)))

    # S15: DSPO appendix C.  (a) the KL of two Gaussians with the same covariance s^2 I is
    #      |m1 - m2|^2/(2 s^2): eq. 38 prints it without the 1/2, eq. 39 has it.  (b) eq. 40 is
    #      eq. 12 with B(t) = 1 (eq. 27 would give B of S12).  (c) with Theorem 1's omega = 2 s^2/lambda,
    #      gamma = 1/(2 lambda) and p_data as the reference (eps_ref -> eps), eq. 40 = eq. 39 / lambda,
    #      so eq. 34's -lambda KL is -lambda^2 L_DSPO, not eq. 41's -L_DSPO.
    m1, m2, sd = mpf("0.4"), mpf("-0.25"), mpf("0.6")
    gpdf = lambda x, m: mpmath.exp(-(x - m) ** 2 / (2 * sd ** 2)) / mpmath.sqrt(2 * mpmath.pi * sd ** 2)
    kl_num = mpmath.quad(lambda x: gpdf(x, m1) * (mpmath.log(gpdf(x, m1)) - mpmath.log(gpdf(x, m2))), [-mpmath.inf, m1, mpmath.inf])
    kl_half = (m1 - m2) ** 2 / (2 * sd ** 2)
    kl_38 = (m1 - m2) ** 2 / sd ** 2
    K = mpmath.sqrt(ab_t / ab_t1) * beta1 / mpmath.sqrt(1 - ab_t1)
    grad_r = g_eq26  # eq. 26 as printed: -(lambda/(2 s^2)) K (eps_theta - eps_ref)
    eq40 = omega / (4 * s2 ** 2) * (K * (eps - eth) - 2 * s2 * gam * sgm * grad_r) ** 2
    eq12_b1 = A12 * (1 * e_ - lam_ * gam * sgm * p_) ** 2
    om_t, ga_t = 2 * s2 / lam_, 1 / (2 * lam_)
    gg = mpf("0.83")  # any reward gradient, the same in both
    l40 = om_t / (4 * s2 ** 2) * (K * (eps - eth) - 2 * s2 * ga_t * gg) ** 2
    kl39 = 1 / (2 * s2) * (K * (eps - eth) - s2 / lam_ * gg) ** 2
    ok = (abs(kl_num - kl_half) < mpf(10) ** -40 and abs(eq40 - eq12_b1) < mpf(10) ** -40
          and abs(l40 * lam_ - kl39) < mpf(10) ** -40 and abs(lam_ - 1) > mpf(10) ** -3)
    report("S15", ok, "DSPO app. C: Gaussian KL %s (quadrature) = |dm|^2/(2s^2) %s, eq. 38 form %s; eq. 40 = eq. 12 "
           "with B = 1 (gap %s); Theorem 1 constants: eq. 39 KL %s = lambda x eq. 40 %s (lambda = %s), "
           "so -lambda KL = -lambda^2 L_DSPO"
           % (mpmath.nstr(kl_num, 10), mpmath.nstr(kl_half, 10), mpmath.nstr(kl_38, 10), mpmath.nstr(abs(eq40 - eq12_b1), 3),
              mpmath.nstr(kl39, 10), mpmath.nstr(l40, 10), mpmath.nstr(lam_, 3)))

    # S16: DSPO eq. 45 (the DSPO-E variant): expanding eq. 44's second line with eq. 26 (as printed)
    #      gives omega K^2/(4 s^4) ||e - lambda gamma p||^2: the weight of p is lambda gamma (eq. 45
    #      prints gamma beta) and the factor is eq. 12's A(t), not eq. 45's omega K^2/(2 s^2).
    eq44 = omega / (4 * s2 ** 2) * (K * (eps - eth) - 2 * s2 * gam * grad_r) ** 2
    want = A12 * (e_ - lam_ * gam * p_) ** 2
    A45 = omega / (2 * s2) * K ** 2
    report("S16", abs(eq44 - want) < mpf(10) ** -40 and abs(A45 - A12) > mpf(10) ** -3,
           "DSPO eq. 44 -> 45: = A(t) ||e - lambda gamma p||^2 with eq. 12's A(t) = %s (gap %s); eq. 45's A(t) = %s"
           % (mpmath.nstr(A12, 8), mpmath.nstr(abs(eq44 - want), 3), mpmath.nstr(A45, 8)))

    # S17: RDPO eq. 9 as printed stops raising the loser by itself: for lr_l > 0,
    #      z = beta lr_w + (lambda - beta) lr_l, and a descent step on the log-ratios (unit step,
    #      d lr = -dL/d lr) moves lr_l by s (lambda - beta) with s = sigma(-z) ~ e^{-z}: the rise slows
    #      like log(steps)/(lambda - beta) and the loss goes to 0 while lr_l keeps growing.
    bq, lq = mpf("0.1"), mpf(1)
    lw_, ll_ = mpf(0), mpf("0.292184")
    snap = {}
    for k in range(1, 10001):
        z = bq * (lw_ - ll_) + lq * max(ll_, mpf(0))
        s_ = sig(-z)
        lw_ += s_ * bq
        ll_ += s_ * ((lq - bq) if ll_ > 0 else -bq)
        if k in (10, 100, 1000, 10000):
            snap[k] = (ll_, s_, -mpmath.log(sig(bq * (lw_ - ll_) + lq * max(ll_, mpf(0)))))
    rise = snap[10000][0] - snap[1000][0]
    ok = all(snap[a][0] < snap[b][0] and snap[a][2] > snap[b][2] for a, b in ((10, 100), (100, 1000), (1000, 10000)))
    ok = ok and snap[10000][1] < mpf("2e-4") and rise < 3
    report("S17", ok, "RDPO eq. 9 printed (beta 0.1, lambda 1, lr_l from 0.292, unit descent steps on the log-ratios): "
           + ", ".join("after %d steps lr_l %s, s %s, loss %s" % (k, mpmath.nstr(v[0], 4), mpmath.nstr(v[1], 3), mpmath.nstr(v[2], 3))
                       for k, v in sorted(snap.items())))

    print("%d checks failed" % len(FAIL))
    return 1 if FAIL else 0


if __name__ == "__main__":
    sys.exit(main())
