"""Case recipes of the Gaussian-step families (stepdpo, d3po_code, tailorpo, rdpo, spo.loss,
gauss.logprob).  Every case: inputs rounded to the storage precision first, then exact
expected values, tolerances from docs/vectors.md §6, a numeric-derivative check."""
from fractions import Fraction
import math

import mpmath
from mpmath import mpf

import fam_step as fs
from common import (Case, F, Rng, U53, gen_array, out_real, rn, store, to_mpf, hexf, dec, red_err,
                    tol_for, ulp)

SQ3 = 1.7320508075688772
REF_STEP = "TailorPO eq. 5, 8, 19 (D3PO step loss, gradient wrt mu, appendix A); SPO eq. 2"
REF_TAILOR = "TailorPO eq. 10, 11, 21 (shared parent x_t)"
REF_CHAIN = "DDIM mean, TailorPO eq. 2 / Song et al. 2021: d mu/d eps_hat and d mu/d v"
REF_D3PO = "D3PO public code (docs/references.md: clamp(exp(lp_theta - lp_ref), 1-eps, 1+eps), beta 0.1, eps 0.1)"
REF_RDPO = "RDPO eq. 9, 10 (penalty Psi = min(0, log pi_ref(x_l)/pi_theta(x_l)))"
REF_SPO = "SPO eq. 4, 5; public code (D3PO-code loss with h = (+1, -1), beta 10, eps 0.1)"
REF_GAUSS = "TailorPO eq. 17 (Gaussian step density); DDPO/D3PO code (mean over elements)"


class Ids:
    def __init__(self, stem):
        self.stem = stem
        self.n = {"f64": 0, "f32": 0}

    def next(self, prec):
        self.n[prec] += 1
        return "%s-%s-%04d" % (self.stem, prec, self.n[prec])


def emit(case, O, B, names):
    for nm in names:
        out_real(case, nm, O[nm], B[nm])


def deriv_note(case, label, gap, ok):
    if gap < 0:
        case.note("numeric check of %s: skipped for d > 64 (done on every small case of this function)" % label)
        return
    case.note("numeric check: central difference of the loss (60 digits) vs %s: relative gap %s%s"
              % (label, mpmath.nstr(gap, 3), "" if ok else "  <-- DIFFERS"))
    if not ok:
        raise AssertionError("%s: %s disagrees with the derivative of the loss (%s)" % (case.cid, label, gap))


# ------------------------------------------------------------------ input makers

def step_arrays(rng, d, sigma, dscale, prec, xscale=None):
    """mu ~ N(0,1)-ish, mu_ref = mu + dscale * noise, x = mu + sigma * noise, all stored."""
    xs = sigma if xscale is None else xscale
    mu = [store(rng.normal(), prec) for _ in range(d)]
    mr = [store(m + dscale * rng.normal(), prec) for m in mu]
    x = [store(m + xs * rng.normal(), prec) for m in mu]
    return x, mu, mr


def step_gen(case, names, n, seeds, sigma, dscale, prec):
    """Writes gen records for (x, mu, mu_ref) and returns the arrays."""
    xn, mn, rn_ = names
    s0, s1, s2 = seeds
    mu = gen_array(n, s0, -1.0, 1.0, prec)
    hx = sigma * SQ3
    hd = dscale * SQ3
    mr = gen_array(n, s1, -hd, hd, prec, base=mu)
    x = gen_array(n, s2, -hx, hx, prec, base=mu)
    case.gen(mn, n, s0, -1.0, 1.0)
    case.gen(rn_, n, s1, -hd, hd, mn)
    case.gen(xn, n, s2, -hx, hx, mn)
    return x, mu, mr


def beta_for(target, diff):
    """beta > 0 with beta*diff close to target; returns (beta, swap) where swap means the
    roles of winner and loser must be exchanged to get the sign."""
    if diff == 0:
        return None, False
    b = abs(to_mpf(F(target)) / to_mpf(diff))
    return rn(b, "f64"), (diff > 0) != (target > 0)


# ------------------------------------------------------------------ stepdpo

STEP_OUTS = ["lr_w", "lr_l", "z", "loss", "grad_mu_w", "grad_mu_l"]


def stepdpo_case(ids, prec, reduce, I, P, notes, chain=None, gen_writer=None):
    fn = "stepdpo.chain" if chain else "stepdpo"
    c = Case(ids.next(prec), fn, [REF_STEP] + ([REF_CHAIN] if chain else []), prec, reduce)
    for n_ in notes:
        c.note(n_)
    c.param("beta", P["beta"])
    c.param("sigma", P["sigma"])
    if chain:
        c.param("a_t", chain[0])
        c.param("a_prev", chain[1])
    if gen_writer:
        gen_writer(c)
    else:
        for nm in ["x_w", "mu_w", "mu_ref_w", "x_l", "mu_l", "mu_ref_l"]:
            c.inp(nm, I[nm])
    O, B, info = fs.stepdpo(I, P, reduce)
    for wrt in ["mu_w", "mu_l"]:
        gap, ok = fs.check_grad(fs.stepdpo_loss, I, P, reduce, wrt, O["grad_" + wrt])
        deriv_note(c, "grad_" + wrt + " (eq. 19)", gap, ok)
    c.note("z = %s, sigma(-z) = %s" % (mpmath.nstr(to_mpf(O["z"][0]), 12), mpmath.nstr(info["s"], 12)))
    emit(c, O, B, STEP_OUTS)
    if chain:
        emit_chain(c, chain, P["sigma"], prec, O, B, [("grad_mu_w", "w"), ("grad_mu_l", "l")])
    return c


def emit_chain(c, chain, sigma, prec, O, B, pairs):
    k_eps, k_v, e_eps, e_v = fs.chain_coefs(chain[0], chain[1], sigma, prec)
    extra = 1.0 if prec == "f32" else 0.0
    out_real(c, "k_eps", [k_eps], e_eps)
    out_real(c, "k_v", [k_v], e_v)
    for gname, suf in pairs:
        g = O[gname]
        M = max(abs(v) for v in g)
        for kname, k, ek in (("eps", k_eps, e_eps), ("v", k_v, e_v)):
            vals = [k * v for v in g]
            bound = float(abs(k)) * B[gname] + ek * float(M) + 2 * float(U53) * float(abs(k) * M)
            if prec == "f32":
                bound += float(abs(k) * M) * 2.0 ** -24 * 1.0  # g_mu rounded to float before the product
            nm = "grad_%s_%s" % (kname, suf) if suf else "grad_" + kname
            out_real(c, nm, vals, bound)
    # numeric check of k_eps / k_v: derivative of the DDIM mean wrt eps_hat / v at an x_t
    at, ap, sg = to_mpf(F(chain[0])), to_mpf(F(chain[1])), to_mpf(F(sigma))
    xt = mpf("0.37")

    def mu_eps(e):
        x0 = (xt - mpmath.sqrt(1 - at) * e) / mpmath.sqrt(at)
        return mpmath.sqrt(ap) * x0 + mpmath.sqrt(1 - ap - sg ** 2) * e

    def mu_v(v):
        x0 = mpmath.sqrt(at) * xt - mpmath.sqrt(1 - at) * v
        e = mpmath.sqrt(at) * v + mpmath.sqrt(1 - at) * xt
        return mpmath.sqrt(ap) * x0 + mpmath.sqrt(1 - ap - sg ** 2) * e

    g1 = abs(mpmath.diff(mu_eps, mpf("0.2")) - k_eps)
    g2 = abs(mpmath.diff(mu_v, mpf("-0.4")) - k_v)
    c.note("numeric check: d mu/d eps_hat and d mu/d v by mpmath.diff vs k_eps, k_v: gaps %s, %s"
           % (mpmath.nstr(g1, 3), mpmath.nstr(g2, 3)))
    assert g1 < mpf(10) ** -40 and g2 < mpf(10) ** -40


def chain_params(rng, prec):
    """(a_t, a_prev, sigma) of a DDIM step with eta in [0, 1] (sigma > 0)."""
    while True:
        at = rng.uniform(0.02, 0.98)
        ap = rng.uniform(at, 0.999)
        if rng.uniform() < 0.2:
            ap = rng.uniform(0.9, 0.9999)
        eta = rng.choice([1.0, 0.5, 1.0, 0.25])
        at, ap = store(at, prec), store(ap, prec)
        if not (0 < at < ap < 1):
            continue
        s2 = (1 - ap) / (1 - at) * (1 - at / ap)
        sigma = store(eta * math.sqrt(s2), prec)
        if sigma > 0 and ap + sigma * sigma < 1:
            return at, ap, sigma


def build_stepdpo(seed=1001):
    ids = Ids("stepdpo")
    rng = Rng(seed)
    cases = []
    for prec in ("f64", "f32"):
        # random small cases
        for i in range(14):
            d = rng.int(1, 64)
            reduce = "sum" if i % 2 == 0 else "mean"
            sigma = store(rng.logu(-7, 1), "f64")
            r = rng.choice([0.01, 0.1, 0.5, 1.0, 3.0])
            xw, mw, rw = step_arrays(rng, d, sigma, r * sigma, prec)
            xl, ml, rl = step_arrays(rng, d, sigma, r * sigma, prec)
            beta = rng.choice([0.1, 1.0, 5.0, 0.01])
            I = dict(x_w=xw, mu_w=mw, mu_ref_w=rw, x_l=xl, mu_l=ml, mu_ref_l=rl)
            P = dict(beta=beta, sigma=sigma)
            cases.append(stepdpo_case(ids, prec, reduce, I, P,
                                      ["random: d = %d, mu_ref - mu ~ %g sigma" % (d, r)]))
        # extreme margins z = +-40, +-3, tiny sigma
        for target, reduce, sig_exp in ((40.0, "sum", -3), (-40.0, "sum", -3), (40.0, "mean", 0),
                                        (-40.0, "mean", -20), (3.0, "sum", -10), (-0.5, "mean", -9)):
            d = rng.int(2, 48)
            sigma = store(math.ldexp(1.0 + rng.uniform(), sig_exp), "f64")
            for _ in range(20):
                xw, mw, rw = step_arrays(rng, d, sigma, 0.3 * sigma, prec)
                xl, ml, rl = step_arrays(rng, d, sigma, 0.3 * sigma, prec)
                N = fs.nred(reduce, d)
                lw, _ = fs.logratio(xw, mw, rw, sigma, N)
                ll, _ = fs.logratio(xl, ml, rl, sigma, N)
                beta, swap = beta_for(target, lw - ll)
                if beta is not None and abs(float(lw - ll)) > 1e-6 * (abs(float(lw)) + abs(float(ll))):
                    break
            if swap:
                xw, mw, rw, xl, ml, rl = xl, ml, rl, xw, mw, rw
            I = dict(x_w=xw, mu_w=mw, mu_ref_w=rw, x_l=xl, mu_l=ml, mu_ref_l=rl)
            cases.append(stepdpo_case(ids, prec, reduce, I, dict(beta=beta, sigma=sigma),
                                      ["extreme margin: z ~ %g (beta chosen), sigma = 2^%d-ish, d = %d"
                                       % (target, sig_exp, d)]))
        # tie: winner and loser identical -> z = 0, loss = log 2
        d = rng.int(3, 20)
        xw, mw, rw = step_arrays(rng, d, 0.5, 0.2, prec)
        I = dict(x_w=xw, mu_w=mw, mu_ref_w=rw, x_l=list(xw), mu_l=list(mw), mu_ref_l=list(rw))
        cases.append(stepdpo_case(ids, prec, "sum", I, dict(beta=0.1, sigma=0.5),
                                  ["tie: loser identical to winner, z = 0 exactly, loss = log 2, f = beta/2"]))
        # mu == mu_ref (reference equals model): lr = 0, z = 0, gradient nonzero
        d = rng.int(3, 20)
        xw, mw, _ = step_arrays(rng, d, 0.25, 0.0, prec)
        xl, ml, _ = step_arrays(rng, d, 0.25, 0.0, prec)
        I = dict(x_w=xw, mu_w=mw, mu_ref_w=list(mw), x_l=xl, mu_l=ml, mu_ref_l=list(ml))
        cases.append(stepdpo_case(ids, prec, "mean", I, dict(beta=0.1, sigma=0.25),
                                  ["theta = ref (first step of training): lr = 0, z = 0, nonzero gradient"]))
        # SD-sized cases, d = 16384, gen arrays
        for j, reduce in enumerate(("sum", "mean")):
            n = 16384
            sigma = 0.15 if reduce == "sum" else 0.6
            dsc = 0.002 if reduce == "sum" else 0.05
            base = 7000 + 100 * j + (0 if prec == "f64" else 50)
            holder = {}

            def writer(c, base=base, sigma=sigma, dsc=dsc):
                xw, mw, rw = step_gen(c, ("x_w", "mu_w", "mu_ref_w"), n, (base + 1, base + 2, base + 3), sigma, dsc, prec)
                xl, ml, rl = step_gen(c, ("x_l", "mu_l", "mu_ref_l"), n, (base + 4, base + 5, base + 6), sigma, dsc, prec)
                holder.update(x_w=xw, mu_w=mw, mu_ref_w=rw, x_l=xl, mu_l=ml, mu_ref_l=rl)
            # generate arrays first (the case needs them to compute)
            tmp = Case("tmp", "x", [], prec)
            writer(tmp)
            I = dict(holder)
            cases.append(stepdpo_case(ids, prec, reduce, I, dict(beta=0.1 if reduce == "mean" else 0.002, sigma=sigma),
                                      ["SD-sized: d = 16384 (4x64x64 latent), gen arrays"], gen_writer=writer))
        # chain rule through the DDIM mean
        for i in range(4):
            d = rng.int(1, 32)
            at, ap, sigma = chain_params(rng, prec)
            xw, mw, rw = step_arrays(rng, d, sigma, 0.3 * sigma, prec)
            xl, ml, rl = step_arrays(rng, d, sigma, 0.3 * sigma, prec)
            I = dict(x_w=xw, mu_w=mw, mu_ref_w=rw, x_l=xl, mu_l=ml, mu_ref_l=rl)
            cases.append(stepdpo_case(ids, prec, "sum" if i % 2 else "mean", I, dict(beta=1.0, sigma=sigma),
                                      ["chain rule: a_t = %s, a_prev = %s, sigma = %s" % (dec(at), dec(ap), dec(sigma))],
                                      chain=(at, ap)))
    return cases


# ------------------------------------------------------------------ tailorpo

TAILOR_OUTS = ["lr_w", "lr_l", "z", "loss", "grad_mu"]


def tailorpo_case(ids, prec, reduce, I, P, notes, chain=None, gen_writer=None):
    fn = "tailorpo.chain" if chain else "tailorpo"
    c = Case(ids.next(prec), fn, [REF_TAILOR] + ([REF_CHAIN] if chain else []), prec, reduce)
    for n_ in notes:
        c.note(n_)
    c.param("beta", P["beta"])
    c.param("sigma", P["sigma"])
    if chain:
        c.param("a_t", chain[0])
        c.param("a_prev", chain[1])
    if gen_writer:
        gen_writer(c)
    else:
        for nm in ["x_w", "x_l", "mu", "mu_ref"]:
            c.inp(nm, I[nm])
    O, B, info = fs.tailorpo(I, P, reduce)
    gap, ok = fs.check_grad(fs.tailorpo_loss, I, P, reduce, "mu", O["grad_mu"])
    deriv_note(c, "grad_mu = -(f/sigma^2)(x_w - x_l) (eq. 11, 21)", gap, ok)
    c.note("z = %s, sigma(-z) = %s" % (mpmath.nstr(to_mpf(O["z"][0]), 12), mpmath.nstr(info["s"], 12)))
    emit(c, O, B, TAILOR_OUTS)
    if chain:
        emit_chain(c, chain, P["sigma"], prec, O, B, [("grad_mu", "")])
    return c


def shared_arrays(rng, d, sigma, dscale, prec):
    mu = [store(rng.normal(), prec) for _ in range(d)]
    mr = [store(m + dscale * rng.normal(), prec) for m in mu]
    xw = [store(m + sigma * rng.normal(), prec) for m in mu]
    xl = [store(m + sigma * rng.normal(), prec) for m in mu]
    return xw, xl, mu, mr


def shared_gen(c, n, seeds, sigma, dscale, prec, names=("x_w", "x_l", "mu", "mu_ref")):
    s0, s1, s2, s3 = seeds
    mu = gen_array(n, s0, -1.0, 1.0, prec)
    hd, hx = dscale * SQ3, sigma * SQ3
    mr = gen_array(n, s1, -hd, hd, prec, base=mu)
    xw = gen_array(n, s2, -hx, hx, prec, base=mu)
    xl = gen_array(n, s3, -hx, hx, prec, base=mu)
    xn, ln, mn, rn_ = names
    c.gen(mn, n, s0, -1.0, 1.0)
    c.gen(rn_, n, s1, -hd, hd, mn)
    c.gen(xn, n, s2, -hx, hx, mn)
    c.gen(ln, n, s3, -hx, hx, mn)
    return {xn: xw, ln: xl, mn: mu, rn_: mr}


def targeted_shared(rng, d, sigma, reduce, prec, target, dscale=None):
    dscale = 0.3 * sigma if dscale is None else dscale
    for _ in range(50):
        xw, xl, mu, mr = shared_arrays(rng, d, sigma, dscale, prec)
        N = fs.nred(reduce, d)
        lw, _ = fs.logratio(xw, mu, mr, sigma, N)
        ll, _ = fs.logratio(xl, mu, mr, sigma, N)
        beta, swap = beta_for(target, lw - ll)
        if beta is not None and abs(float(lw - ll)) > 1e-6 * (abs(float(lw)) + abs(float(ll))):
            break
    if swap:
        xw, xl = xl, xw
    return dict(x_w=xw, x_l=xl, mu=mu, mu_ref=mr), beta


def build_tailorpo(seed=2002):
    ids = Ids("tailorpo")
    rng = Rng(seed)
    cases = []
    for prec in ("f64", "f32"):
        for i in range(12):
            d = rng.int(1, 64)
            reduce = "sum" if i % 2 == 0 else "mean"
            sigma = store(rng.logu(-7, 1), "f64")
            r = rng.choice([0.01, 0.1, 0.5, 1.0, 3.0])
            xw, xl, mu, mr = shared_arrays(rng, d, sigma, r * sigma, prec)
            beta = rng.choice([0.1, 1.0, 5.0, 0.01])
            cases.append(tailorpo_case(ids, prec, reduce, dict(x_w=xw, x_l=xl, mu=mu, mu_ref=mr),
                                       dict(beta=beta, sigma=sigma), ["random: d = %d, mu_ref - mu ~ %g sigma" % (d, r)]))
        for target, reduce, sig_exp in ((40.0, "sum", -2), (-40.0, "mean", -1), (40.0, "mean", -20),
                                        (-40.0, "sum", -12), (0.75, "sum", 0)):
            d = rng.int(2, 40)
            sigma = store(math.ldexp(1.0 + rng.uniform(), sig_exp), "f64")
            I, beta = targeted_shared(rng, d, sigma, reduce, prec, target)
            cases.append(tailorpo_case(ids, prec, reduce, I, dict(beta=beta, sigma=sigma),
                                       ["extreme margin: z ~ %g, sigma = 2^%d-ish, d = %d" % (target, sig_exp, d)]))
        # tie: x_w == x_l
        d = rng.int(2, 30)
        xw, xl, mu, mr = shared_arrays(rng, d, 0.3, 0.1, prec)
        cases.append(tailorpo_case(ids, prec, "sum", dict(x_w=xw, x_l=list(xw), mu=mu, mu_ref=mr),
                                   dict(beta=1.0, sigma=0.3), ["tie: x_w == x_l, z = 0, grad_mu = 0"]))
        for j, reduce in enumerate(("sum", "mean")):
            n = 16384
            sigma = 0.2 if reduce == "sum" else 0.8
            dsc = 0.003 if reduce == "sum" else 0.05
            base = 8000 + 100 * j + (0 if prec == "f64" else 50)
            holder = {}

            def writer(c, base=base, sigma=sigma, dsc=dsc):
                holder.update(shared_gen(c, n, (base + 1, base + 2, base + 3, base + 4), sigma, dsc, prec))
            writer(Case("tmp", "x", [], prec))
            cases.append(tailorpo_case(ids, prec, reduce, dict(holder),
                                       dict(beta=0.005 if reduce == "sum" else 0.5, sigma=sigma),
                                       ["SD-sized: d = 16384, gen arrays"], gen_writer=writer))
        for i in range(3):
            d = rng.int(1, 32)
            at, ap, sigma = chain_params(rng, prec)
            xw, xl, mu, mr = shared_arrays(rng, d, sigma, 0.3 * sigma, prec)
            cases.append(tailorpo_case(ids, prec, "sum" if i % 2 else "mean", dict(x_w=xw, x_l=xl, mu=mu, mu_ref=mr),
                                       dict(beta=1.0, sigma=sigma),
                                       ["chain rule: a_t = %s, a_prev = %s, sigma = %s" % (dec(at), dec(ap), dec(sigma))],
                                       chain=(at, ap)))
    return ids, cases
