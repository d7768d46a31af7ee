"""Case recipes: d3po_code, rdpo.*, spo.*, diffusion_dpo, dspo.*, gauss.logprob,
tailorpo.rank, tailorpo_g.*, gen.check."""
from fractions import Fraction
import math

import mpmath
from mpmath import mpf

import fam_step as fs
import fam_eps as fe
from build_step import (Ids, emit, deriv_note, step_arrays, shared_arrays, shared_gen, step_gen,
                        beta_for, SQ3, REF_D3PO, REF_RDPO, REF_SPO, REF_GAUSS)
from common import (Case, F, Rng, U53, gen_array, out_real, rn, store, to_mpf, hexf, dec, red_err,
                    tol_for, ulp, sigmoid, softplus, rel_gap, numdiff)

u = float(U53)
U32 = 2.0 ** -24


# ================================================================== d3po_code

D3PO_OUTS = ["lr_0", "lr_1", "z", "loss", "grad_mu_0", "grad_mu_1"]


def clip_ok(info, labels_matter=True):
    """Every ratio at least max(2^-40, 16 E) (relative) away from both bounds."""
    for mg, E in zip(info["margin"], info["E"]):
        if mg < max(mpf(2) ** -40, 16 * mpf(E) + mpf(2) ** -45):
            return False
    return True


def d3po_case(ids, prec, reduce, I, P, notes, gen_writer=None, at_bound=False):
    c = Case(ids.next(prec), "d3po_code", [REF_D3PO], prec, reduce)
    for n_ in notes:
        c.note(n_)
    for nm in ("beta", "clip_eps", "sigma"):
        c.param(nm, P[nm])
    c.param("label", P["label"], integer=True)
    if gen_writer:
        gen_writer(c)
    else:
        for nm in ["x_0", "mu_0", "mu_ref_0", "x_1", "mu_1", "mu_ref_1"]:
            c.inp(nm, I[nm])
    O, B, info = fs.d3po_code(I, P, reduce)
    if not at_bound and not clip_ok(info):
        raise AssertionError(c.cid + ": ratio too close to a clamp bound")
    for wrt in ["mu_0", "mu_1"]:
        gap, ok = fs.check_grad(fs.d3po_code_loss, I, P, reduce, wrt, O["grad_" + wrt])
        deriv_note(c, "grad_" + wrt + " (clamped: zero outside [1-eps, 1+eps])", gap, ok)
    c.note("ratios exp(lr): %s (%s), %s (%s); bounds RN(1-eps) = %s, RN(1+eps) = %s" % (
        mpmath.nstr(info["rho"][0], 17), info["side"][0], mpmath.nstr(info["rho"][1], 17), info["side"][1],
        dec(info["lo"]), dec(info["hi"])))
    emit(c, O, B, D3PO_OUTS)
    return c


def at_bound_sample(side, eps):
    """d = 1 inputs (x, mu, mu_ref) with sigma = 1 whose log-ratio is exact in binary64 along
    (mu - mu_ref)((x - mu) + (x - mu_ref)) / (2 sigma^2) and whose exact ratio lies inside the
    closed clamp interval within a small fraction of an ulp of the bound."""
    lo = rn(1 - F(eps), "f64")
    hi = rn(1 + F(eps), "f64")
    mu = 0.125
    bnd = hi if side == "hi" else lo
    target = mpmath.log(to_mpf(F(bnd))) * mpf(2) ** 56
    j = int(mpmath.floor(target)) if side == "hi" else int(mpmath.ceil(target))
    lr = Fraction(j, 1 << 56)
    x = 8 * lr + Fraction(1, 16)
    xf = float(x)
    assert Fraction(xf) == x
    # the double evaluation is exact at every step
    a = F(xf) - F(mu)
    assert Fraction(float(a)) == a
    b = a + F(xf)
    assert Fraction(float(b)) == b
    p = F(mu) * b
    assert Fraction(float(p)) == p and p / 2 == lr
    rho = mpmath.exp(to_mpf(lr))
    gap_ulps = (rho - to_mpf(F(bnd))) / ulp(bnd, "f64")
    assert (side == "hi" and -0.2 < gap_ulps < 0) or (side == "lo" and 0 < gap_ulps < 0.2)
    assert rn(rho, "f64") == bnd
    return xf, mu, 0.0, gap_ulps


def build_d3po(seed=3003):
    ids = Ids("d3po_code")
    rng = Rng(seed)
    cases = []
    for prec in ("f64", "f32"):
        i = 0
        made = 0
        while made < 13:
            i += 1
            d = rng.int(1, 64)
            reduce = "mean" if i % 3 else "sum"
            sigma = store(rng.logu(-6, 1), "f64")
            r = rng.choice([0.02, 0.1, 0.3, 1.0, 2.0]) if reduce == "mean" else rng.choice([0.002, 0.02, 0.1])
            x0, m0, r0 = step_arrays(rng, d, sigma, r * sigma, prec)
            x1, m1, r1 = step_arrays(rng, d, sigma, r * sigma, prec)
            label = [1, -1, 0, 1, -1][i % 5]
            eps = rng.choice([0.1, 0.1, 0.05, 0.2])
            beta = rng.choice([0.1, 0.1, 1.0, 10.0])
            I = dict(x_0=x0, mu_0=m0, mu_ref_0=r0, x_1=x1, mu_1=m1, mu_ref_1=r1)
            P = dict(beta=beta, clip_eps=eps, sigma=sigma, label=label)
            _, _, info = fs.d3po_code(I, P, reduce)
            if not clip_ok(info):
                continue
            made += 1
            cases.append(d3po_case(ids, prec, reduce, I, P, ["random: d = %d, label %+d, ratios %s / %s"
                                                              % (d, label, info["side"][0], info["side"][1])]))
        # both ratios far outside, opposite sides; one inside one outside, all labels
        for label, rs in ((1, (3.0, 3.0)), (-1, (0.05, 3.0)), (1, (3.0, 0.05)), (0, (3.0, 3.0))):
            for _ in range(200):
                d = rng.int(4, 40)
                sigma = 0.5
                x0, m0, r0 = step_arrays(rng, d, sigma, rs[0] * sigma, prec)
                x1, m1, r1 = step_arrays(rng, d, sigma, rs[1] * sigma, prec)
                I = dict(x_0=x0, mu_0=m0, mu_ref_0=r0, x_1=x1, mu_1=m1, mu_ref_1=r1)
                P = dict(beta=0.1, clip_eps=0.1, sigma=sigma, label=label)
                _, _, info = fs.d3po_code(I, P, "mean")
                if clip_ok(info):
                    break
            cases.append(d3po_case(ids, prec, "mean", I, P, ["clamp: ratios %s / %s, label %+d"
                                                            % (info["side"][0], info["side"][1], label)]))
        # SD-sized
        for j, reduce in enumerate(("mean", "sum")):
            n = 16384
            sigma = 0.7
            dsc = 0.05 if reduce == "mean" else 0.0005
            base = 9000 + 100 * j + (0 if prec == "f64" else 50)
            holder = {}

            def writer(c, base=base, sigma=sigma, dsc=dsc):
                x0, m0, r0 = step_gen(c, ("x_0", "mu_0", "mu_ref_0"), n, (base + 1, base + 2, base + 3), sigma, dsc, prec)
                x1, m1, r1 = step_gen(c, ("x_1", "mu_1", "mu_ref_1"), n, (base + 4, base + 5, base + 6), sigma, dsc, prec)
                holder.update(x_0=x0, mu_0=m0, mu_ref_0=r0, x_1=x1, mu_1=m1, mu_ref_1=r1)
            writer(Case("tmp", "x", [], prec))
            cases.append(d3po_case(ids, prec, reduce, dict(holder),
                                   dict(beta=0.1, clip_eps=0.1, sigma=sigma, label=1 if j == 0 else -1),
                                   ["SD-sized: d = 16384, gen arrays"], gen_writer=writer))
    # at-bound cases (f64): exp(lr) rounds to the bound itself
    for side0, side1, label in (("hi", None, 1), ("lo", None, -1), ("hi", "lo", 1), ("lo", "hi", -1)):
        x0, m0, r0, g0 = at_bound_sample(side0, 0.1)
        if side1:
            x1, m1, r1, g1 = at_bound_sample(side1, 0.1)
        else:
            x1, m1, r1, g1 = 0.3125, 0.25, 0.0, None
        I = dict(x_0=[x0], mu_0=[m0], mu_ref_0=[r0], x_1=[x1], mu_1=[m1], mu_ref_1=[r1])
        P = dict(beta=0.1, clip_eps=0.1, sigma=1.0, label=label)
        notes = ["at-bound: d = 1, sigma = 1, every step of the log-ratio exact in binary64;",
                 "sample 0: exact exp(lr_0) inside, %s ulp from RN(1%s eps); RN(exp(lr_0)) equals the bound:"
                 % (mpmath.nstr(g0, 3), "+" if side0 == "hi" else "-"),
                 "the inclusive clamp keeps the gradient (an exclusive comparison would zero it)"]
        if side1:
            notes.append("sample 1 likewise at RN(1%s eps), %s ulp" % ("+" if side1 == "hi" else "-", mpmath.nstr(g1, 3)))
        cases.append(d3po_case(ids, "f64", "mean", I, P, notes, at_bound=True))
    return cases


# ================================================================== rdpo

RDPO_OUTS = ["lr_w", "lr_l", "psi", "z", "loss", "grad_mu"]


def rdpo_case(ids, prec, reduce, I, P, variant, notes, gen_writer=None):
    c = Case(ids.next(prec), "rdpo." + variant, [REF_RDPO + (" as printed" if variant == "printed" else
                                                             "; penalty sign as the text describes")], prec, reduce)
    for n_ in notes:
        c.note(n_)
    for nm in ("beta", "lambda", "sigma"):
        c.param(nm, P[nm])
    if gen_writer:
        gen_writer(c)
    else:
        for nm in ["x_w", "x_l", "mu", "mu_ref"]:
            c.inp(nm, I[nm])
    O, B, info = fs.rdpo(I, P, reduce, variant)
    lr_l = O["lr_l"][0]
    d = len(I["x_w"])
    if lr_l != 0 and abs(float(lr_l)) < 16 * B["lr_l"]:
        raise AssertionError(c.cid + ": lr_l too close to the kink of Psi")
    if lr_l == 0:
        # at the kink of Psi the loss is not differentiable; the defined gradient (penalty
        # inactive) is the one-sided derivative from the side lr_l < 0, i.e. that of lambda = 0
        P0 = dict(P)
        P0["lambda"] = 0.0
        gap, ok = fs.check_grad(lambda J, Q, r: fs.rdpo_loss(J, Q, r, variant), I, P0, reduce, "mu", O["grad_mu"])
        deriv_note(c, "grad_mu (kink: vs the derivative of the lambda = 0 loss, the inactive side)", gap, ok)
    else:
        gap, ok = fs.check_grad(lambda J, Q, r: fs.rdpo_loss(J, Q, r, variant), I, P, reduce, "mu", O["grad_mu"])
        deriv_note(c, "grad_mu", gap, ok)
    # effect of one gradient-descent step on the loser's log-ratio (first order)
    N = fs.nred(reduce, d)
    den = to_mpf(F(P["sigma"]) ** 2 * N)
    dl = sum(-g * to_mpf(F(xl) - F(m)) / den for g, xl, m in zip(O["grad_mu"], I["x_l"], I["mu"]))
    c.note("lr_l = %s (%s); psi = %s; d lr_l along -grad_mu = %s (%s)" % (
        mpmath.nstr(to_mpf(lr_l), 10), "penalty active" if lr_l > 0 else "penalty inactive",
        mpmath.nstr(to_mpf(O["psi"][0]), 10), mpmath.nstr(dl, 6),
        "a descent step RAISES the loser's likelihood ratio" if dl > 0 else "a descent step lowers it"))
    emit(c, O, B, RDPO_OUTS)
    return c, dl


def rdpo_inputs_pos(rng, d, sigma, dscale, prec):
    """Shared-parent inputs whose loser is close to mu: lr_l > 0 (model prefers the loser more
    than the reference does)."""
    mu = [store(rng.normal(), prec) for _ in range(d)]
    mr = [store(m + dscale * rng.normal(), prec) for m in mu]
    xw = [store(m + sigma * rng.normal(), prec) for m in mu]
    xl = [store(m + 0.5 * (m - r) + 0.05 * dscale * rng.normal(), prec) for m, r in zip(mu, mr)]
    return dict(x_w=xw, x_l=xl, mu=mu, mu_ref=mr)


def build_rdpo(seed=4004):
    ids = Ids("rdpo")
    rng = Rng(seed)
    cases = []
    demo = {}
    for prec in ("f64", "f32"):
        made = 0
        while made < 7:
            d = rng.int(1, 64)
            reduce = "sum" if made % 2 == 0 else "mean"
            sigma = store(rng.logu(-5, 1), "f64")
            r = rng.choice([0.05, 0.3, 1.0])
            if made % 3 == 0:
                I = rdpo_inputs_pos(rng, d, sigma, r * sigma, prec)
            else:
                xw, xl, mu, mr = shared_arrays(rng, d, sigma, r * sigma, prec)
                I = dict(x_w=xw, x_l=xl, mu=mu, mu_ref=mr)
            P = dict(beta=rng.choice([0.1, 1.0, 2.0]), sigma=sigma, **{"lambda": rng.choice([0.5, 1.0, 10.0, 100.0])})
            O, B, _ = fs.rdpo(I, P, reduce, "printed")
            if O["lr_l"][0] != 0 and abs(float(O["lr_l"][0])) < 16 * B["lr_l"]:
                continue
            made += 1
            note = "random: d = %d, lambda = %g, beta = %g" % (d, P["lambda"], P["beta"])
            for v in ("printed", "intended"):
                cases.append(rdpo_case(ids, prec, reduce, I, P, v, [note])[0])
        # demonstration: lr_l > 0 and lambda > beta (the printed penalty raises lr_l)
        d = 16
        P = dict(beta=0.1, sigma=0.5, **{"lambda": 1.0})
        P0 = dict(P)
        P0["lambda"] = 0.0

        def step_effect(I, Q, v):
            O = fs.rdpo(I, Q, "sum", v)[0]
            return sum(-g * to_mpf(F(xl) - F(m)) for g, xl, m in zip(O["grad_mu"], I["x_l"], I["mu"]))
        for _ in range(50):
            I = rdpo_inputs_pos(rng, d, 0.5, 0.2, prec)
            if (fs.rdpo(I, P, "sum", "printed")[0]["lr_l"][0] > 0 and step_effect(I, P, "printed") > 0
                    and step_effect(I, P0, "printed") < 0 and step_effect(I, P, "intended") < step_effect(I, P0, "printed")):
                break
        else:
            raise AssertionError("no demonstration input found")
        for v in ("printed", "intended"):
            c, dl = rdpo_case(ids, prec, "sum", I, P, v, ["erratum demonstration (docs/derivations.md): lr_l > 0, lambda = 1 > beta = 0.1"])
            cases.append(c)
            demo[(prec, v)] = (c.cid, dl)
        # the same inputs under TailorPO (lambda = 0) for comparison
        c, dl = rdpo_case(ids, prec, "sum", I, P0, "printed", ["same inputs with lambda = 0 (TailorPO): the reference behaviour"])
        cases.append(c)
        demo[(prec, "lambda0")] = (c.cid, dl)
        # lr_l == 0 exactly: x_l = (mu + mu_ref)/2 elementwise, exact in binary64
        d = 12
        mu = [store(rng.int(-2 ** 20, 2 ** 20) * 2.0 ** -20, prec) for _ in range(d)]
        jj = [rng.int(-2 ** 10, 2 ** 10) for _ in range(d)]
        mr = [m + 2 * j * 2.0 ** -20 for m, j in zip(mu, jj)]
        xl = [m + j * 2.0 ** -20 for m, j in zip(mu, jj)]
        xw = [store(m + 0.4 * rng.normal(), prec) for m in mu]
        I = dict(x_w=xw, x_l=xl, mu=mu, mu_ref=mr)
        P = dict(beta=1.0, sigma=0.4, **{"lambda": 10.0})
        for v in ("printed", "intended"):
            cases.append(rdpo_case(ids, prec, "mean", I, P, v, ["kink: lr_l = 0 exactly (x_l midway between mu and mu_ref): Psi inactive, zero derivative"])[0])
        # SD-sized
        for j, v in enumerate(("printed", "intended")):
            n = 16384
            sigma = 0.5
            base = 9500 + 10 * j + (0 if prec == "f64" else 50)
            holder = {}

            def writer(c, base=base, sigma=sigma):
                holder.update(shared_gen(c, n, (base + 1, base + 2, base + 3, base + 4), sigma, 0.02, prec))
            writer(Case("tmp", "x", [], prec))
            cases.append(rdpo_case(ids, prec, "mean", dict(holder), dict(beta=1.0, sigma=sigma, **{"lambda": 5.0}), v,
                                   ["SD-sized: d = 16384, gen arrays"], gen_writer=writer)[0])
    return cases, demo


# ================================================================== spo

SPO_OUTS = ["lr_w", "lr_l", "z", "loss", "grad_mu"]


def spo_loss_case(ids, prec, reduce, I, P, notes, gen_writer=None, at_bound=False):
    c = Case(ids.next(prec), "spo.loss", [REF_SPO], prec, reduce)
    for n_ in notes:
        c.note(n_)
    for nm in ("beta", "clip_eps", "sigma"):
        c.param(nm, P[nm])
    if gen_writer:
        gen_writer(c)
    else:
        for nm in ["x_w", "x_l", "mu", "mu_ref"]:
            c.inp(nm, I[nm])
    O, B, info = fs.spo_loss(I, P, reduce)
    if prec == "f32":
        # the float path returns the two per-sample gradients rounded to binary32 before their sum
        B["grad_mu"] += 2.0 ** -23 * float(info["Msum"])
    if not at_bound and not clip_ok(info):
        raise AssertionError(c.cid + ": ratio too close to a clamp bound")
    gap, ok = fs.check_grad(fs.spo_loss_fn, I, P, reduce, "mu", O["grad_mu"])
    deriv_note(c, "grad_mu (shared mean, clamped ratios)", gap, ok)
    c.note("ratios exp(lr): w %s (%s), l %s (%s)" % (mpmath.nstr(info["rho"][0], 17), info["side"][0],
                                                    mpmath.nstr(info["rho"][1], 17), info["side"][1]))
    emit(c, O, B, SPO_OUTS)
    return c


def spo_select_case(ids, score, t, kappa, thr, notes):
    c = Case(ids.next("f64"), "spo.select", ["SPO sec. 4.2-4.4, eq. 3, 4 (best/worst of k); public code (threshold, kappa)"], "f64")
    for n_ in notes:
        c.note(n_)
    c.param("t", t, integer=True)
    c.param("kappa", kappa, integer=True)
    c.param("thr", thr)
    c.inp("score", score)
    k = len(score)
    best = min(i for i in range(k) if score[i] == max(score))
    worst = min(i for i in range(k) if score[i] == min(score))
    g = to_mpf(F(score[best]) - F(score[worst]))
    gapv = sigmoid(g) - sigmoid(-g)
    valid = int(t <= kappa and best != worst and gapv > to_mpf(F(thr)))
    if best != worst and t <= kappa:
        margin = abs(gapv - to_mpf(F(thr)))
        assert margin > mpf(2) ** -40, "threshold decision too close"
    c.note("gap g = %s, sigma(g) - sigma(-g) = %s (thr %s), 2 atanh(thr) = %s" % (
        mpmath.nstr(g, 12), mpmath.nstr(gapv, 12), dec(thr), mpmath.nstr(2 * mpmath.atanh(to_mpf(F(thr))), 12)))
    c.out("best", [best], integer=True)
    c.out("worst", [worst], integer=True)
    c.out("valid", [valid], integer=True)
    return c


def build_spo(seed=5005):
    ids = Ids("spo")
    rng = Rng(seed)
    cases = []
    # ---- spo.loss
    for prec in ("f64", "f32"):
        made = 0
        while made < 12:
            d = rng.int(1, 64)
            reduce = "mean" if made % 4 else "sum"
            sigma = store(rng.logu(-6, 0), "f64")
            r = rng.choice([0.01, 0.05, 0.3, 1.0]) if reduce == "mean" else rng.choice([0.002, 0.01, 0.03])
            xw, xl, mu, mr = shared_arrays(rng, d, sigma, r * sigma, prec)
            I = dict(x_w=xw, x_l=xl, mu=mu, mu_ref=mr)
            P = dict(beta=10.0, clip_eps=0.1, sigma=sigma)
            _, _, info = fs.spo_loss(I, P, reduce)
            if not clip_ok(info):
                continue
            made += 1
            cases.append(spo_loss_case(ids, prec, reduce, I, P, ["random: d = %d, ratios %s / %s" % (d, info["side"][0], info["side"][1])]))
        for j, reduce in enumerate(("mean", "sum")):
            n = 16384
            sigma = 0.6
            base = 9700 + 10 * j + (0 if prec == "f64" else 50)
            holder = {}

            def writer(c, base=base, sigma=sigma, reduce=reduce):
                holder.update(shared_gen(c, n, (base + 1, base + 2, base + 3, base + 4), sigma,
                                         0.05 if reduce == "mean" else 0.0004, prec))
            writer(Case("tmp", "x", [], prec))
            cases.append(spo_loss_case(ids, prec, reduce, dict(holder), dict(beta=10.0, clip_eps=0.1, sigma=sigma),
                                       ["SD-sized: d = 16384, gen arrays"], gen_writer=writer))
    # at-bound (f64): loser at RN(1 + eps) from inside (shared d = 1 parent)
    xw, m, r, g = at_bound_sample("hi", 0.1)
    xl, _, _, g2 = at_bound_sample("lo", 0.1)
    cases.append(spo_loss_case(ids, "f64", "mean", dict(x_w=[xl], x_l=[xw], mu=[m], mu_ref=[r]),
                               dict(beta=10.0, clip_eps=0.1, sigma=1.0),
                               ["at-bound: winner ratio %s ulp above RN(1-eps), loser %s ulp below RN(1+eps):"
                                % (mpmath.nstr(g2, 3), mpmath.nstr(-g, 3)),
                                "both round to the bounds; the inclusive clamp keeps both gradient terms"], at_bound=True))
    # ---- spo.select
    thr = 0.3
    g0 = float(2 * mpmath.atanh(mpf(3) / 10))
    for i in range(18):
        k = rng.int(2, 8)
        sc = [rng.normal() * rng.choice([0.2, 1.0, 3.0]) for _ in range(k)]
        t = rng.choice([1, 21, 400, 749, 750, 751, 999])
        cases.append(spo_select_case(ids, sc, t, 750, thr, ["random: k = %d, t = %d" % (k, t)]))
    cases.append(spo_select_case(ids, [0.5, 0.5, 0.5, 0.5], 100, 750, thr, ["all tied: best = worst = 0, invalid"]))
    cases.append(spo_select_case(ids, [0.1, 2.0, -1.0, 2.0, -1.0], 100, 750, thr,
                                 ["two maxima and two minima: lowest indices (1 and 2)"]))
    cases.append(spo_select_case(ids, [-0.0, 0.0, 1.0], 100, 750, thr,
                                 ["-0 and +0 are equal: worst = index 0"]))
    cases.append(spo_select_case(ids, [0.0, g0 * (1 + 1e-9), 0.1], 100, 750, thr,
                                 ["gap just above 2 atanh(0.3) (relative 1e-9): valid"]))
    cases.append(spo_select_case(ids, [0.0, g0 * (1 - 1e-9), 0.1], 100, 750, thr,
                                 ["gap just below 2 atanh(0.3): invalid"]))
    cases.append(spo_select_case(ids, [0.0, 5.0], 750, 750, thr, ["t = kappa: still valid"]))
    cases.append(spo_select_case(ids, [0.0, 5.0], 751, 750, thr, ["t = kappa + 1: tie region, invalid"]))
    cases.append(spo_select_case(ids, [3.0, 1.0, 2.0], 0, 750, 0.0, ["thr = 0: any positive gap is valid"]))
    cases.append(spo_select_case(ids, [1.0, 1.0 + 2.0 ** -20], 5, 750, 0.0, ["thr = 0, tiny gap 2^-20: valid"]))
    cases.append(spo_select_case(ids, [40.0, -40.0, 0.0], 5, 750, 0.999999, ["huge gap, thr 0.999999: valid"]))
    return cases


# ================================================================== diffusion_dpo / dspo

EPS_OUTS = ["d_w", "d_l", "u", "loss", "grad_eth_w", "grad_eth_l"]
EPS_IN = ["eps", "eth_w", "eref_w", "eth_l", "eref_l"]
REF_DDPO = "DSPO eq. 7 (Diffusion-DPO, Wallace et al.); public code: u = -0.5 beta ((L_th,w - L_th,l) - (L_ref,w - L_ref,l))"
REF_DSPO = {"paper": "DSPO eq. 11, 13, 14, appendix B (A(t) dropped, gamma = 1)",
            "code": "DSPO public code (docs/references.md): mean((e_w - beta (1 - sigma(u)) p)^2), sigma(u) not detached"}


def eps_arrays(rng, d, a, b, prec, la=None, lb=None):
    la = a if la is None else la
    lb = b if lb is None else lb
    eps = [store(rng.normal(), prec) for _ in range(d)]
    I = dict(eps=eps)
    I["eth_w"] = [store(e + a * rng.normal(), prec) for e in eps]
    I["eref_w"] = [store(e + b * rng.normal(), prec) for e in eps]
    I["eth_l"] = [store(e + la * rng.normal(), prec) for e in eps]
    I["eref_l"] = [store(e + lb * rng.normal(), prec) for e in eps]
    return I


def eps_gen(c, n, base, a, b, prec):
    eps = gen_array(n, base, -SQ3, SQ3, prec)
    I = {"eps": eps}
    c.gen("eps", n, base, -SQ3, SQ3)
    for j, (nm, s) in enumerate((("eth_w", a), ("eref_w", b), ("eth_l", a), ("eref_l", b))):
        h = s * SQ3
        I[nm] = gen_array(n, base + 1 + j, -h, h, prec, base=eps)
        c.gen(nm, n, base + 1 + j, -h, h, "eps")
    return I


def ddpo_case(ids, prec, reduce, I, P, notes, gen_writer=None):
    c = Case(ids.next(prec), "diffusion_dpo", [REF_DDPO], prec, reduce)
    for n_ in notes:
        c.note(n_)
    c.param("beta", P["beta"])
    if gen_writer:
        gen_writer(c)
    else:
        for nm in EPS_IN:
            c.inp(nm, I[nm])
    O, B, info = fe.diffusion_dpo(I, P, reduce)
    for nm in ("eth_w", "eth_l"):
        gap, ok = fs.check_grad(fe.diffusion_dpo_loss, I, P, reduce, nm, O["grad_" + nm])
        deriv_note(c, "grad_" + nm, gap, ok)
    c.note("u = %s, sigma(-u) = %s" % (mpmath.nstr(to_mpf(O["u"][0]), 12), mpmath.nstr(info["s"], 12)))
    emit(c, O, B, EPS_OUTS)
    return c


def build_ddpo(seed=6006):
    ids = Ids("diffusion_dpo")
    rng = Rng(seed)
    cases = []
    for prec in ("f64", "f32"):
        for i in range(10):
            d = rng.int(1, 64)
            reduce = "mean" if i % 3 else "sum"
            a, b = rng.choice([(0.1, 0.1), (0.05, 0.2), (0.3, 0.3), (0.01, 0.02)])
            I = eps_arrays(rng, d, a, b, prec)
            beta = rng.choice([5000.0, 1.0, 100.0, 2500.0]) if reduce == "mean" else rng.choice([0.5, 10.0, 1.0])
            cases.append(ddpo_case(ids, prec, reduce, I, dict(beta=beta), ["random: d = %d, beta = %g" % (d, beta)]))
        for target, reduce in ((40.0, "mean"), (-40.0, "mean"), (40.0, "sum"), (-3.0, "sum")):
            d = rng.int(4, 48)
            I = eps_arrays(rng, d, 0.1, 0.1, prec)
            N = fe.nred(reduce, d)
            dw, _ = fe.dred(I["eth_w"], I["eref_w"], I["eps"], N)
            dl, _ = fe.dred(I["eth_l"], I["eref_l"], I["eps"], N)
            beta, swap = beta_for(target, -(dw - dl) / 2)
            if swap:
                I["eth_w"], I["eth_l"] = I["eth_l"], I["eth_w"]
                I["eref_w"], I["eref_l"] = I["eref_l"], I["eref_w"]
            cases.append(ddpo_case(ids, prec, reduce, I, dict(beta=beta), ["extreme margin: u ~ %g (beta chosen)" % target]))
        d = 9
        I = eps_arrays(rng, d, 0.1, 0.1, prec)
        I["eth_l"], I["eref_l"] = list(I["eth_w"]), list(I["eref_w"])
        cases.append(ddpo_case(ids, prec, "mean", I, dict(beta=5000.0), ["tie: loser identical to winner, u = 0, gradients cancel in sum"]))
        I = eps_arrays(rng, 7, 0.1, 0.0, prec)
        I["eref_w"], I["eref_l"] = list(I["eth_w"]), list(I["eth_l"])
        cases.append(ddpo_case(ids, prec, "mean", I, dict(beta=5000.0), ["theta = ref: u = 0, loss = log 2, nonzero gradients"]))
        for j, reduce in enumerate(("mean", "sum")):
            n = 16384
            base = 9800 + 10 * j + (0 if prec == "f64" else 50)
            holder = {}

            def writer(c, base=base):
                holder.update(eps_gen(c, n, base, 0.1, 0.1, prec))
            writer(Case("tmp", "x", [], prec))
            cases.append(ddpo_case(ids, prec, reduce, dict(holder), dict(beta=5000.0 if reduce == "mean" else 0.5),
                                   ["SD-sized: d = 16384, gen arrays"], gen_writer=writer))
    return cases


def dspo_case(ids, prec, variant, I, P, notes, gen_writer=None):
    kind = variant.split("_")[0]
    c = Case(ids.next(prec), "dspo." + variant, [REF_DSPO[kind]] + (
        ["stop-gradient variant: sigma(u) treated as a constant"] if variant.endswith("_sg") else []), prec,
        "sum" if kind == "paper" else "mean")
    for n_ in notes:
        c.note(n_)
    if kind == "paper":
        c.param("lambda", P["lambda"])
        c.param("c_t", P["c_t"])
    else:
        c.param("beta", P["beta"])
    if gen_writer:
        gen_writer(c)
    else:
        for nm in EPS_IN:
            c.inp(nm, I[nm])
    O, B, info = fe.dspo(I, P, variant)
    lf = lambda J, Q, r: fe.dspo_loss(J, Q, variant)
    sg = variant.endswith("_sg")
    for nm, full in (("eth_w", info["full_w"]), ("eth_l", info["full_l"])):
        gap, ok = fs.check_grad(lf, I, P, None, nm, full)
        deriv_note(c, "full derivative wrt " + nm + " (through sigma(u))", gap, ok)
        if sg and gap >= 0:
            g2 = rel_gap(O["grad_" + nm], full) if len(full) <= 64 else mpf(-1)
            c.note("stop-gradient grad_%s vs the derivative of the loss: relative gap %s (differs by design)"
                   % (nm, mpmath.nstr(g2, 3)))
    c.note("u = %s, sigma(-u) = %s" % (mpmath.nstr(to_mpf(O["u"][0]), 12), mpmath.nstr(info["s"], 12)))
    emit(c, O, B, EPS_OUTS[:4])
    emit(c, O, B, ["grad_eth_w"])
    if sg and len(I["eps"]) <= 64:
        c.alt("grad_eth_w", [rn(v, prec) for v in info["full_w"]],
              "alt: the derivative of the loss including d sigma(u)/d eth_w (what dspo.%s returns)" % kind)
    emit(c, O, B, ["grad_eth_l"])
    if sg and len(I["eps"]) <= 64:
        c.alt("grad_eth_l", [rn(v, prec) for v in info["full_l"]],
              "alt: the derivative of the loss wrt eth_l (through sigma(u) only; zero under stop-gradient)")
    return c


def build_dspo(seed=7007):
    ids = Ids("dspo")
    rng = Rng(seed)
    cases = []
    for prec in ("f64", "f32"):
        for variant in ("paper", "paper_sg", "code", "code_sg"):
            kind = variant.split("_")[0]
            for i in range(4):
                d = rng.int(1, 64)
                a, b = rng.choice([(0.1, 0.1), (0.05, 0.2), (0.3, 0.3), (0.2, 0.05)])
                I = eps_arrays(rng, d, a, b, prec)
                if kind == "paper":
                    P = {"lambda": rng.choice([1.0, 0.5, 2.0, 5.0]), "c_t": store(rng.logu(-8, -2), "f64")}
                else:
                    P = {"beta": rng.choice([0.001, 0.1, 1.0, 500.0])}
                cases.append(dspo_case(ids, prec, variant, I, P, ["random: d = %d, %s" % (
                    d, ", ".join("%s = %g" % kv for kv in sorted(P.items())))]))
            # theta = ref: p = 0, u = 0 -> loss = Diffusion-loss of the winner
            I = eps_arrays(rng, 5, 0.2, 0.0, prec)
            I["eref_w"], I["eref_l"] = list(I["eth_w"]), list(I["eth_l"])
            P = {"lambda": 1.0, "c_t": 0.01} if kind == "paper" else {"beta": 0.001}
            cases.append(dspo_case(ids, prec, variant, I, P, ["theta = ref: p = 0, u = 0, loss = N^-1 ||e_w||^2"]))
            n = 16384
            base = 9900 + 10 * ("paper", "paper_sg", "code", "code_sg").index(variant) + (0 if prec == "f64" else 5)
            holder = {}

            def writer(c, base=base):
                holder.update(eps_gen(c, n, base, 0.1, 0.12, prec))
            writer(Case("tmp", "x", [], prec))
            P = {"lambda": 1.0, "c_t": 0.001} if kind == "paper" else {"beta": 0.001}
            cases.append(dspo_case(ids, prec, variant, dict(holder), P, ["SD-sized: d = 16384, gen arrays"], gen_writer=writer))
    return cases


# ================================================================== gauss.logprob

def build_gauss(seed=8008):
    ids = Ids("gauss")
    rng = Rng(seed)
    cases = []
    for prec in ("f64", "f32"):
        for i in range(10):
            d = rng.int(1, 64) if i < 9 else 16384
            reduce = "sum" if i % 2 == 0 else "mean"
            sigma = store(rng.logu(-20, 2) if i % 4 == 3 else rng.logu(-6, 1), prec)
            c = Case(ids.next(prec), "gauss.logprob", [REF_GAUSS], prec, reduce)
            c.param("sigma", sigma)
            if d > 64:
                base = 9990 + (0 if prec == "f64" else 3)
                mu = gen_array(d, base, -1.0, 1.0, prec)
                h = sigma * SQ3
                x = gen_array(d, base + 1, -h, h, prec, base=mu)
                c.gen("mu", d, base, -1.0, 1.0)
                c.gen("x", d, base + 1, -h, h, "mu")
                c.note("SD-sized: d = 16384, gen arrays")
            else:
                mu = [store(rng.normal(), prec) for _ in range(d)]
                x = [store(m + sigma * rng.normal(), prec) for m in mu]
                c.inp("x", x)
                c.inp("mu", mu)
                c.note("random: d = %d, sigma = %s" % (d, dec(sigma)))
            N = 1 if reduce == "sum" else d
            lp, q = fs.logprob(x, mu, sigma, N)
            sg = to_mpf(F(sigma))
            mag = float(to_mpf(q / (2 * F(sigma) ** 2))) + d * abs(float(mpmath.log(sg))) + d * 0.92
            bound = red_err(d, mag / N) + 4 * u * abs(float(lp))
            c.note("components: -||x-mu||^2/(2 sigma^2) = %s, -d log sigma = %s, -(d/2) log 2 pi = %s (before /N)"
                   % (mpmath.nstr(-to_mpf(q / (2 * F(sigma) ** 2)), 10), mpmath.nstr(-d * mpmath.log(sg), 10),
                      mpmath.nstr(-mpf(d) / 2 * mpmath.log(2 * mpmath.pi), 10)))
            out_real(c, "lp", [lp], bound)
            cases.append(c)
    return cases


# ================================================================== tailorpo.rank, rdpo.delta_q

def rank_desc(vals):
    return sorted(range(len(vals)), key=lambda i: (-Fraction(vals[i]), i))


def build_rank(seed=9009):
    ids = Ids("tailorpo_rank")
    rng = Rng(seed)
    cases = []
    lists = []
    for i in range(16):
        k = rng.int(2, 16)
        lists.append(([rng.normal() for _ in range(k)], "random: k = %d" % k))
    lists += [([1.0, 1.0], "tie of two: lower index wins"),
              ([0.5, 2.0, 2.0, -1.0, 2.0], "three-way tie at the top: indices 1, 2, 4 in order"),
              ([-0.0, 0.0], "-0 == +0: tie, index order"),
              ([3.0, 2.0, 1.0, 0.0], "already sorted"),
              ([0.0, 1.0, 2.0, 3.0], "reverse sorted"),
              ([1.0, 1.0 + 2.0 ** -52, 1.0 - 2.0 ** -53], "one-ulp differences"),
              ([5e-324, 0.0, -5e-324], "subnormal extremes"),
              ([7.0] * 9, "all tied: identity order"),
              ([1e300, -1e300, 1e-300], "huge magnitudes")]
    for vals, note in lists:
        c = Case(ids.next("f64"), "tailorpo.rank", ["TailorPO eq. 12 (step-wise reward r_t = r(x0_hat)) and sec. 3.3 ranking; tie rule docs/vectors.md sec. 4"], "f64")
        c.note(note)
        c.inp("reward", vals)
        o = rank_desc(vals)
        c.out("order", o, integer=True)
        c.out("winner", [o[0]], integer=True)
        c.out("loser", [o[-1]], integer=True)
        cases.append(c)
    return cases


def build_delta_q(seed=10010):
    ids = Ids("rdpo_dq")
    rng = Rng(seed)
    cases = []
    demo = []
    sets = []
    for i in range(14):
        k = rng.int(2, 8)
        rb = rng.normal()
        sets.append((rb, [rb + 0.5 * rng.normal() for _ in range(k)], "random: k = %d" % k))
    sets.append((2.0 ** 60, [1.0, 1.5, 0.5], "rounding tie: r_after differ but RN(r_after - r_before) are equal"))
    sets.append((0.25, [0.25, 0.25], "all equal to r_before: dq = 0, tie"))
    sets.append((0.3, [0.9, 0.1], "reversal: r_after ranks candidate 0 first, printed eq. 6 ranks candidate 1 first"))
    for rb, ra, note in sets:
        for v in ("printed", "gain"):
            c = Case(ids.next("f64"), "rdpo.delta_q_" + v, ["RDPO eq. 6" + (" as printed: r(x0_hat(x_t)) - r(x0_hat(x_{t-1}))" if v == "printed"
                                                                           else ": change after minus before, as the text describes")], "f64")
            c.note(note)
            c.param("r_before", rb)
            c.inp("r_after", ra)
            dq = [rn(F(rb) - F(a), "f64") if v == "printed" else rn(F(a) - F(rb), "f64") for a in ra]
            c.out("dq", dq, "exact")
            o = rank_desc(dq)
            o_r = rank_desc(ra)
            c.note("ranking by r_after alone (TailorPO eq. 12): %s; by dq: %s" % (o_r, o))
            c.out("order", o, integer=True)
            c.out("winner", [o[0]], integer=True)
            c.out("loser", [o[-1]], integer=True)
            cases.append(c)
            demo.append((c.cid, v, o_r, o, note))
    return cases, demo


# ================================================================== tailorpo_g

REF_G = "TailorPO eq. 13, 14 (r_high = r_t(x) + delta held constant), sec. 3.4"


def eta_val(t, T, lo, hi):
    return to_mpf(F(lo)) + (to_mpf(F(hi)) - to_mpf(F(lo))) * (1 + mpmath.cos(mpmath.pi * to_mpf(F(t)) / to_mpf(F(T)))) / 2


def build_tailorpo_g(seed=11011):
    ids = Ids("tailorpo_g")
    rng = Rng(seed)
    cases = []
    # ---- eta schedule: every step of T = 20, and a few other settings
    for t in list(range(0, 21, 2)) + [1, 19]:
        c = Case(ids.next("f64"), "tailorpo_g.eta", ["TailorPO sec. 4 (cosine schedule over [0.1, 0.2], larger for smaller t)"], "f64")
        c.param("t", float(t))
        c.param("T", 20.0)
        c.param("eta_min", 0.1)
        c.param("eta_max", 0.2)
        e = eta_val(t, 20, 0.1, 0.2)
        out_real(c, "eta", [e], 8 * u * 0.2)
        cases.append(c)
    for t, T, lo, hi in ((7.5, 20.0, 0.1, 0.2), (0.0, 1000.0, 0.05, 0.5), (999.0, 1000.0, 0.05, 0.5), (3.0, 5.0, 0.2, 0.2)):
        c = Case(ids.next("f64"), "tailorpo_g.eta", ["TailorPO sec. 4 (cosine schedule)"], "f64")
        for nm, v in (("t", t), ("T", T), ("eta_min", lo), ("eta_max", hi)):
            c.param(nm, v)
        out_real(c, "eta", [eta_val(t, T, lo, hi)], 8 * u * hi)
        cases.append(c)
    # ---- update from given g / vjp
    for prec in ("f64", "f32"):
        for i in range(10):
            d = rng.int(1, 64) if i < 9 else 16384
            noeps = i % 3 == 2
            alpha = store(rng.uniform(0.05, 0.999), prec)
            eta = store(rng.uniform(0.1, 0.2), "f64")
            delta = 0.5
            sign = 1 if i % 2 == 0 else -1
            c = Case(ids.next(prec), "tailorpo_g.update_noeps" if noeps else "tailorpo_g.update", [REF_G], prec)
            c.note("d = %d, sign %+d (%s reward)" % (d, sign, "increase" if sign > 0 else "decrease"))
            c.param("eta", eta)
            c.param("delta", delta)
            c.param("alpha", alpha)
            c.param("sign", sign, integer=True)
            if d > 64:
                base = 9995 + (0 if prec == "f64" else 2)
                x = gen_array(d, base, -2.0, 2.0, prec)
                g = gen_array(d, base + 1, -1.0, 1.0, prec)
                c.gen("x", d, base, -2.0, 2.0)
                c.gen("g", d, base + 1, -1.0, 1.0)
                vjp = [store(0.3 * a, prec) for a in g]
                if not noeps:
                    vjp = gen_array(d, base + 7, -0.5, 0.5, prec)
                    c.gen("vjp", d, base + 7, -0.5, 0.5)
            else:
                x = [store(rng.normal(), prec) for _ in range(d)]
                g = [store(rng.normal() * rng.choice([0.01, 1.0, 10.0]), prec) for _ in range(d)]
                vjp = [store(rng.normal(), prec) for _ in range(d)]
                c.inp("x", x)
                c.inp("g", g)
                if not noeps:
                    c.inp("vjp", vjp)
            sa = mpmath.sqrt(to_mpf(F(alpha)))
            s1a = mpmath.sqrt(1 - to_mpf(F(alpha)))
            coef = sign * 2 * to_mpf(F(eta)) * to_mpf(F(delta)) / sa
            xp = []
            bnd = 0.0
            for xi, gi, vi in zip(x, g, vjp):
                vv = 0 if noeps else to_mpf(F(vi))
                dlt = coef * (to_mpf(F(gi)) - s1a * vv)
                xp.append(to_mpf(F(xi)) + dlt)
                mag = abs(float(coef)) * (abs(gi) + float(s1a) * abs(float(vv)))
                bnd = max(bnd, 8 * u * mag + 2 * u * abs(float(xi) + float(dlt)))
            out_real(c, "x_plus", xp, bnd)
            if d <= 64:
                c.alt("x_plus", [store(v, prec) for v in x],
                      "alt: eq. 14 read literally (r_high = r_t(x) + delta differentiated with x): the bracket is -delta, the gradient 0, x_plus = x")
            cases.append(c)
    # ---- self-contained guidance with the closed-form test reward and linear eps-model
    for prec in ("f64", "f32"):
        for i in range(8):
            d = rng.int(1, 48) if i < 7 else 16384
            alpha = store(rng.uniform(0.05, 0.99), prec)
            eta = store(rng.uniform(0.1, 0.2), "f64")
            sign = 1 if i % 2 == 0 else -1
            c = Case(ids.next(prec), "tailorpo_g.guide", [REF_G, "test model eps(x) = e_a x + e_b, test reward r(y) = sum(q_a y + q_b y^2 / 2) (docs/vectors.md 5.9)"], prec)
            c.param("eta", eta)
            c.param("delta", 0.5)
            c.param("alpha", alpha)
            c.param("sign", sign, integer=True)
            if d > 64:
                base = 9970 + (0 if prec == "f64" else 10)
                arrs = {}
                for j, (nm, lo, hi) in enumerate((("x", -2.0, 2.0), ("e_a", -0.5, 0.5), ("e_b", -0.2, 0.2),
                                                  ("q_a", -0.01, 0.01), ("q_b", -0.01, 0.0))):
                    arrs[nm] = gen_array(d, base + j, lo, hi, prec)
                    c.gen(nm, d, base + j, lo, hi)
            else:
                arrs = {"x": [store(rng.normal(), prec) for _ in range(d)],
                        "e_a": [store(0.3 * rng.normal(), prec) for _ in range(d)],
                        "e_b": [store(0.1 * rng.normal(), prec) for _ in range(d)],
                        "q_a": [store(0.5 * rng.normal(), prec) for _ in range(d)],
                        "q_b": [store(-abs(0.5 * rng.normal()), prec) for _ in range(d)]}
                for nm in ("x", "e_a", "e_b", "q_a", "q_b"):
                    c.inp(nm, arrs[nm])
            res = guide_exact(arrs, alpha, eta, 0.5, sign, prec)
            c.note("d = %d, sign %+d: r_before = %s, r_after = r(x0_hat(x_plus)) = %s (%s)" % (
                d, sign, mpmath.nstr(res["r_before"], 12), mpmath.nstr(res["r_after"], 12),
                "raised" if res["r_after"] > res["r_before"] else "lowered"))
            assert (res["r_after"] > res["r_before"]) == (sign > 0)
            if d <= 64:
                c.note("numeric check: grad_r vs central difference of r(x0_hat(x)): relative gap %s" % mpmath.nstr(res["gap"], 3))
                assert res["gap"] < mpf(10) ** -28
                c.note("literal eq. 13/14 (r_high differentiated): numeric gradient of (r_high(x) - r_t(x))^2 = %s"
                       % mpmath.nstr(res["lit"], 3))
            out_real(c, "r_before", [res["r_before"]], res["b_r"])
            out_real(c, "x_plus", res["x_plus"], res["b_x"])
            if d <= 64:
                c.alt("x_plus", [store(v, prec) for v in arrs["x"]], "alt: literal reading of eq. 14 (r_high differentiated): x_plus = x")
            cases.append(c)
    return cases


def guide_exact(A, alpha, eta, delta, sign, prec):
    al = to_mpf(F(alpha))
    sa, s1a = mpmath.sqrt(al), mpmath.sqrt(1 - al)
    X = [to_mpf(F(v)) for v in A["x"]]
    ea = [to_mpf(F(v)) for v in A["e_a"]]
    eb = [to_mpf(F(v)) for v in A["e_b"]]
    qa = [to_mpf(F(v)) for v in A["q_a"]]
    qb = [to_mpf(F(v)) for v in A["q_b"]]

    def x0(xs):
        return [(xi - s1a * (a * xi + b)) / sa for xi, a, b in zip(xs, ea, eb)]

    def r(ys):
        return sum(a * y + b * y * y / 2 for a, b, y in zip(qa, qb, ys))

    y = x0(X)
    rb = r(y)
    g = [a + b * yi for a, b, yi in zip(qa, qb, y)]
    grad = [(1 - s1a * a) * gi / sa for a, gi in zip(ea, g)]
    coef = sign * 2 * to_mpf(F(eta)) * to_mpf(F(delta))
    xp = [xi + coef * gr for xi, gr in zip(X, grad)]
    ra = r(x0(xp))
    out = {"r_before": rb, "x_plus": xp, "r_after": ra}
    # error bounds: intermediates (eps_hat, x0_hat, g, vjp) rounded in the path's precision
    ui = U32 if prec == "f32" else u
    fx = [float(v) for v in X]
    bx = 0.0
    br = 0.0
    for xi, a, b, q1, q2, yi, gi, gr, xpi in zip(fx, ea, eb, qa, qb, y, g, grad, xp):
        a, b, q1, q2 = float(a), float(b), float(q1), float(q2)
        ymag = (abs(xi) + float(s1a) * (abs(a * xi) + abs(b))) / float(sa)
        dy = 6 * ui * ymag
        dg = abs(q2) * dy + 4 * ui * (abs(q1) + abs(q2 * float(yi)))
        dgr = (abs(1 - float(s1a) * a) * dg + 6 * ui * (1 + float(s1a) * abs(a)) * abs(float(gi))) / float(sa)
        bx = max(bx, abs(float(coef)) * (dgr + 4 * u * abs(float(gr))) + 2 * u * abs(float(xpi)))
        br += abs(float(gi)) * dy + 4 * ui * (abs(q1 * float(yi)) + abs(q2) * float(yi) ** 2)
    n = len(fx)
    out["b_x"] = bx
    out["b_r"] = br + red_err(n, sum(abs(float(a) * float(yy)) + abs(float(b)) * float(yy) ** 2 for a, b, yy in zip(qa, qb, y))) + 4 * u * abs(float(rb))
    if n <= 64:
        # numeric gradient of r_t(x) = r(x0_hat(x)) and of the literal (r_high(x) - r_t(x))^2
        h = mpf(2) ** -70
        num, lit = [], mpf(0)
        for i in range(n):
            def rt(v, i=i):
                xs = list(X)
                xs[i] = v
                return r(x0(xs))
            num.append((rt(X[i] + h) - rt(X[i] - h)) / (2 * h))

            def litf(v, i=i):
                rr = rt(v)
                return ((rr + to_mpf(F(delta))) - rr) ** 2
            lit = max(lit, abs((litf(X[i] + h) - litf(X[i] - h)) / (2 * h)))
        out["gap"] = rel_gap(num, grad)
        out["lit"] = lit
    return out


# ================================================================== gen.check

def build_gen_check():
    ids = Ids("gen_known")
    cases = []
    specs = [("f64", 8, 0, -1.0, 1.0, None, "seed 0 on [-1, 1): the known answers of docs/vectors.md sec. 3"),
             ("f32", 8, 0, -1.0, 1.0, None, "the same, rounded to binary32"),
             ("f64", 12, 2 ** 64 - 1, 0.0, 1.0, None, "largest seed (the state wraps at once), [0, 1)"),
             ("f64", 6, 12345, 3.0, -5.0, None, "lo > hi: a negative width is allowed"),
             ("f32", 10, 777, -0.1, 0.1, "base", "with a base array (given explicitly)"),
             ("f64", 64, 9001, -1.7320508075688772, 1.7320508075688772, None, "64 values"),
             ("f64", 5, 42, 1e-300, 2e-300, None, "tiny range")]
    for prec, n, seed, lo, hi, base, note in specs:
        c = Case(ids.next(prec), "gen.check", ["docs/vectors.md sec. 3 (splitmix64 array generator)"], prec)
        c.note(note)
        if base:
            b = [store(0.25 * k - 1.0, prec) for k in range(n)]
            c.inp("b", b)
            v = gen_array(n, seed, lo, hi, prec, base=b)
            c.gen("v", n, seed, lo, hi, "b")
        else:
            v = gen_array(n, seed, lo, hi, prec)
            c.gen("v", n, seed, lo, hi)
        c.out("v", v, "exact")
        cases.append(c)
    return cases
