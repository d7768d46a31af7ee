"""Gaussian-step losses: gauss.logprob, stepdpo(.chain), d3po_code, tailorpo(.chain),
rdpo.printed / rdpo.intended, spo.loss.  Definitions: docs/vectors.md §5.1-5.5, 5.10, 5.13."""
from fractions import Fraction
import math

import mpmath
from mpmath import mpf

from common import (F, U53, fixed, to_mpf, rn, sigmoid, softplus, red_err, out_real, numdiff,
                    rel_gap, ulp)

u = float(U53)
U32 = 2.0 ** -24


# ------------------------------------------------------------------ exact pieces

def nred(reduce, d):
    return 1 if reduce == "sum" else d


def logratio(x, mu, mu_ref, sigma, N):
    """Exact lr = sum((x-mu_ref)^2 - (x-mu)^2)/(2 sigma^2 N) and the error scale
    sum |mu-mu_ref| (|x-mu| + |x-mu_ref|)/(2 sigma^2 N) of the direct-difference form."""
    (X, M, R), k = fixed([x, mu, mu_ref])
    s = 0
    for xi, mi, ri in zip(X, M, R):
        s += (mi - ri) * ((xi - mi) + (xi - ri))
    a = 0.0
    for xi, mi, ri in zip(x, mu, mu_ref):
        xi, mi, ri = float(xi), float(mi), float(ri)
        a += abs(mi - ri) * (abs(xi - mi) + abs(xi - ri))
    den = 2 * F(sigma) ** 2 * N
    return Fraction(s, 1 << (2 * k)) / den, a / float(den)


def logprob(x, mu, sigma, N):
    d = len(x)
    q = sum(((F(a) - F(b)) ** 2 for a, b in zip(x, mu)), Fraction(0))
    sg = to_mpf(F(sigma))
    v = -to_mpf(q / (2 * F(sigma) ** 2)) - d * mpmath.log(sg) - mpf(d) / 2 * mpmath.log(2 * mpmath.pi)
    return v / N, q


def scale_arr(coef, arr):
    """coef (mpf) times the exact elements of arr (Fractions)."""
    return [coef * to_mpf(a) for a in arr]


def diff(a, b):
    return [F(x) - F(y) for x, y in zip(a, b)]


# ------------------------------------------------------------------ chain rule

def chain_coefs(a_t, a_prev, sigma, prec):
    """k_eps, k_v exact, and binary64(/float-coefficient) error bounds."""
    at, ap, sg = to_mpf(F(a_t)), to_mpf(F(a_prev)), to_mpf(F(sigma))
    dirc = mpmath.sqrt(1 - ap - sg ** 2)
    B = mpmath.sqrt(ap) * mpmath.sqrt(1 - at) / mpmath.sqrt(at)
    k_eps = dirc - B
    B2 = mpmath.sqrt(ap) * mpmath.sqrt(1 - at)
    k_v = dirc * mpmath.sqrt(at) - B2
    uu = U32 if prec == "f32" else u
    # coefficient errors: the argument 1 - a_prev - sigma^2 carries ~3 uu absolute error,
    # sqrt divides it by 2 dirc; every other coefficient a few relative roundings.
    e_dir = 3 * uu * (1 + float(ap) + float(sg) ** 2) / (2 * float(dirc)) + 2 * uu * float(dirc)
    e_1mat = 2 * uu / float(1 - at)  # relative error of sqrt(1 - a_t) when 1 - a_t rounds
    e_eps = e_dir + (6 * uu + e_1mat) * float(B) + u * float(abs(k_eps))
    e_v = e_dir * float(mpmath.sqrt(at)) + 3 * uu * float(dirc) + (5 * uu + e_1mat) * float(B2) + u * float(abs(k_v))
    return k_eps, k_v, e_eps, e_v


# ------------------------------------------------------------------ families

def stepdpo(I, P, reduce):
    d = len(I["x_w"])
    N = nred(reduce, d)
    sigma, beta = P["sigma"], F(P["beta"])
    lr_w, A_w = logratio(I["x_w"], I["mu_w"], I["mu_ref_w"], sigma, N)
    lr_l, A_l = logratio(I["x_l"], I["mu_l"], I["mu_ref_l"], sigma, N)
    E_w, E_l = red_err(d, A_w), red_err(d, A_l)
    z = beta * (lr_w - lr_l)
    zm = to_mpf(z)
    s = sigmoid(-zm)
    loss = softplus(-zm)
    c = beta / (F(sigma) ** 2 * N)
    gw = scale_arr(-to_mpf(c) * s, diff(I["x_w"], I["mu_w"]))
    gl = scale_arr(to_mpf(c) * s, diff(I["x_l"], I["mu_l"]))
    err_z = float(beta) * (E_w + E_l) + 4 * u * abs(float(z))
    sz = float(1 - s)
    O = {"lr_w": [lr_w], "lr_l": [lr_l], "z": [z], "loss": [loss], "grad_mu_w": gw, "grad_mu_l": gl}
    Mw = max(abs(v) for v in gw)
    Ml = max(abs(v) for v in gl)
    B = {"lr_w": E_w + 4 * u * abs(float(lr_w)), "lr_l": E_l + 4 * u * abs(float(lr_l)), "z": err_z,
         "loss": float(s) * err_z + 8 * u * float(loss),
         "grad_mu_w": float(Mw) * (sz * err_z + 8 * u), "grad_mu_l": float(Ml) * (sz * err_z + 8 * u)}
    return O, B, {"s": s}


def stepdpo_loss(I, P, reduce):
    d = len(I["x_w"])
    N = nred(reduce, d)
    lr_w, _ = logratio(I["x_w"], I["mu_w"], I["mu_ref_w"], P["sigma"], N)
    lr_l, _ = logratio(I["x_l"], I["mu_l"], I["mu_ref_l"], P["sigma"], N)
    return softplus(-to_mpf(F(P["beta"]) * (lr_w - lr_l)))


def tailorpo(I, P, reduce):
    d = len(I["x_w"])
    N = nred(reduce, d)
    sigma, beta = P["sigma"], F(P["beta"])
    lr_w, A_w = logratio(I["x_w"], I["mu"], I["mu_ref"], sigma, N)
    lr_l, A_l = logratio(I["x_l"], I["mu"], I["mu_ref"], sigma, N)
    E_w, E_l = red_err(d, A_w), red_err(d, A_l)
    z = beta * (lr_w - lr_l)
    zm = to_mpf(z)
    s = sigmoid(-zm)
    loss = softplus(-zm)
    c = beta / (F(sigma) ** 2 * N)
    g = scale_arr(-to_mpf(c) * s, diff(I["x_w"], I["x_l"]))
    err_z = float(beta) * (E_w + E_l) + 4 * u * abs(float(z))
    M = max(abs(v) for v in g)
    O = {"lr_w": [lr_w], "lr_l": [lr_l], "z": [z], "loss": [loss], "grad_mu": g}
    B = {"lr_w": E_w + 4 * u * abs(float(lr_w)), "lr_l": E_l + 4 * u * abs(float(lr_l)), "z": err_z,
         "loss": float(s) * err_z + 8 * u * float(loss), "grad_mu": float(M) * (float(1 - s) * err_z + 8 * u)}
    return O, B, {"s": s}


def tailorpo_loss(I, P, reduce):
    d = len(I["x_w"])
    N = nred(reduce, d)
    lr_w, _ = logratio(I["x_w"], I["mu"], I["mu_ref"], P["sigma"], N)
    lr_l, _ = logratio(I["x_l"], I["mu"], I["mu_ref"], P["sigma"], N)
    return softplus(-to_mpf(F(P["beta"]) * (lr_w - lr_l)))


def rdpo(I, P, reduce, variant):
    d = len(I["x_w"])
    N = nred(reduce, d)
    sigma, beta, lam = P["sigma"], F(P["beta"]), F(P["lambda"])
    lr_w, A_w = logratio(I["x_w"], I["mu"], I["mu_ref"], sigma, N)
    lr_l, A_l = logratio(I["x_l"], I["mu"], I["mu_ref"], sigma, N)
    E_w, E_l = red_err(d, A_w), red_err(d, A_l)
    delta = beta * (lr_w - lr_l)
    psi = min(Fraction(0), -lr_l)
    a = 1 if lr_l > 0 else 0
    if variant == "printed":
        z = delta - lam * psi
        dz_dl = -beta + lam * a
    else:
        z = delta + lam * psi
        dz_dl = -beta - lam * a
    zm = to_mpf(z)
    s = sigmoid(-zm)
    loss = softplus(-zm)
    den = F(sigma) ** 2 * N
    g = []
    for xw, xl, m in zip(I["x_w"], I["x_l"], I["mu"]):
        g.append(-s * to_mpf((beta * (F(xw) - F(m)) + dz_dl * (F(xl) - F(m))) / den))
    err_z = float(beta) * E_w + float(abs(dz_dl)) * E_l + 4 * u * (abs(float(delta)) + float(lam) * abs(float(psi)))
    M = max(abs(v) for v in g)
    # near lr_l = 0 the branch may differ under rounding: cases keep |lr_l| >> E_l or lr_l == 0 exactly
    O = {"lr_w": [lr_w], "lr_l": [lr_l], "psi": [psi], "z": [z], "loss": [loss], "grad_mu": g}
    # gradient: coefficient s and the elementwise combination beta(x_w-mu) + dz_dl (x_l-mu)
    comb = max(float(abs(beta)) * abs(float(F(xw) - F(m))) + float(abs(dz_dl)) * abs(float(F(xl) - F(m)))
               for xw, xl, m in zip(I["x_w"], I["x_l"], I["mu"]))
    B = {"lr_w": E_w + 4 * u * abs(float(lr_w)), "lr_l": E_l + 4 * u * abs(float(lr_l)),
         "psi": E_l + 4 * u * abs(float(psi)), "z": err_z, "loss": float(s) * err_z + 8 * u * float(loss),
         "grad_mu": float(M) * (float(1 - s) * err_z + 8 * u) + float(s) * comb / float(den) * 4 * u}
    return O, B, {"s": s, "dz_dl": dz_dl}


def rdpo_loss(I, P, reduce, variant):
    d = len(I["x_w"])
    N = nred(reduce, d)
    lr_w, _ = logratio(I["x_w"], I["mu"], I["mu_ref"], P["sigma"], N)
    lr_l, _ = logratio(I["x_l"], I["mu"], I["mu_ref"], P["sigma"], N)
    delta = F(P["beta"]) * (lr_w - lr_l)
    psi = min(Fraction(0), -lr_l)
    z = delta - F(P["lambda"]) * psi if variant == "printed" else delta + F(P["lambda"]) * psi
    return softplus(-to_mpf(z))


def clip_state(lr, eps):
    """(c, ell, side) of the d3po-code clamp for an exact log-ratio lr."""
    lo = rn(1 - F(eps), "f64")
    hi = rn(1 + F(eps), "f64")
    rho = mpmath.exp(to_mpf(lr))
    if rho < lo:
        return 0, mpmath.log(to_mpf(F(lo))), "below", rho, lo, hi
    if rho > hi:
        return 0, mpmath.log(to_mpf(F(hi))), "above", rho, lo, hi
    return 1, to_mpf(lr), "inside", rho, lo, hi


def d3po_code(I, P, reduce):
    d = len(I["x_0"])
    N = nred(reduce, d)
    sigma, beta, eps, label = P["sigma"], F(P["beta"]), P["clip_eps"], P["label"]
    lr0, A0 = logratio(I["x_0"], I["mu_0"], I["mu_ref_0"], sigma, N)
    lr1, A1 = logratio(I["x_1"], I["mu_1"], I["mu_ref_1"], sigma, N)
    E0, E1 = red_err(d, A0), red_err(d, A1)
    h = {1: (1, -1), -1: (-1, 1), 0: (0, 0)}[label]
    c0, l0, side0, rho0, lo, hi = clip_state(lr0, eps)
    c1, l1, side1, rho1, _, _ = clip_state(lr1, eps)
    zm = to_mpf(beta) * (h[0] * l0 + h[1] * l1)
    s = sigmoid(-zm)
    loss = softplus(-zm)
    c = to_mpf(beta / (F(sigma) ** 2 * N))
    g0 = scale_arr(-c * s * h[0] * c0, diff(I["x_0"], I["mu_0"]))
    g1 = scale_arr(-c * s * h[1] * c1, diff(I["x_1"], I["mu_1"]))
    err_z = float(beta) * (abs(h[0]) * c0 * E0 + abs(h[1]) * c1 * E1) + 6 * u * abs(float(zm))
    O = {"lr_0": [lr0], "lr_1": [lr1], "z": [zm], "loss": [loss], "grad_mu_0": g0, "grad_mu_1": g1}
    M0 = max(abs(v) for v in g0)
    M1 = max(abs(v) for v in g1)
    B = {"lr_0": E0 + 4 * u * abs(float(lr0)), "lr_1": E1 + 4 * u * abs(float(lr1)), "z": err_z,
         "loss": float(s) * err_z + 8 * u * float(loss),
         "grad_mu_0": float(M0) * (float(1 - s) * err_z + 8 * u),
         "grad_mu_1": float(M1) * (float(1 - s) * err_z + 8 * u)}
    info = {"s": s, "side": (side0, side1), "rho": (rho0, rho1), "lo": lo, "hi": hi,
            "margin": [min(abs(r - lo) / lo, abs(r - hi) / hi) for r in (rho0, rho1)],
            "E": (E0, E1)}
    return O, B, info


def d3po_code_loss(I, P, reduce):
    d = len(I["x_0"])
    N = nred(reduce, d)
    lr0, _ = logratio(I["x_0"], I["mu_0"], I["mu_ref_0"], P["sigma"], N)
    lr1, _ = logratio(I["x_1"], I["mu_1"], I["mu_ref_1"], P["sigma"], N)
    h = {1: (1, -1), -1: (-1, 1), 0: (0, 0)}[P["label"]]
    l0 = clip_state(lr0, P["clip_eps"])[1]
    l1 = clip_state(lr1, P["clip_eps"])[1]
    return softplus(-to_mpf(F(P["beta"])) * (h[0] * l0 + h[1] * l1))


def spo_loss(I, P, reduce):
    """D3PO-code form with h = (+1, -1) on a shared parent (docs/vectors.md §5.13)."""
    J = {"x_0": I["x_w"], "mu_0": I["mu"], "mu_ref_0": I["mu_ref"],
         "x_1": I["x_l"], "mu_1": I["mu"], "mu_ref_1": I["mu_ref"]}
    Q = dict(P)
    Q["label"] = 1
    O, B, info = d3po_code(J, Q, reduce)
    g = [a + b for a, b in zip(O["grad_mu_0"], O["grad_mu_1"])]
    M = max(abs(v) for v in g)
    Msum = max(abs(a) + abs(b) for a, b in zip(O["grad_mu_0"], O["grad_mu_1"]))
    O2 = {"lr_w": O["lr_0"], "lr_l": O["lr_1"], "z": O["z"], "loss": O["loss"], "grad_mu": g}
    sz = float(1 - info["s"])
    B2 = {"lr_w": B["lr_0"], "lr_l": B["lr_1"], "z": B["z"], "loss": B["loss"],
          "grad_mu": float(Msum) * (sz * B["z"] + 8 * u) + 2 * u * float(M)}
    info["Msum"] = Msum
    return O2, B2, info


def spo_loss_fn(I, P, reduce):
    J = {"x_0": I["x_w"], "mu_0": I["mu"], "mu_ref_0": I["mu_ref"],
         "x_1": I["x_l"], "mu_1": I["mu"], "mu_ref_1": I["mu_ref"]}
    Q = dict(P)
    Q["label"] = 1
    return d3po_code_loss(J, Q, reduce)


# ------------------------------------------------------------------ numeric derivative checks

def check_grad(loss_fn, I, P, reduce, wrt, analytic, max_elems=6, tol=mpf(10) ** -28, shared=None):
    h = Fraction(1, 1 << 70)
    if "sigma" in P:
        h = min(h, F(P["sigma"]) / (1 << 66))
    """Compares the analytic gradient of input `wrt` (or of a shared input appearing under
    several names, `shared`) with the central difference of the loss, on up to max_elems
    elements.  Returns the worst relative gap (normwise)."""
    d = len(analytic)
    if d > 64:
        return mpf(-1), True
    idx = list(range(d)) if d <= max_elems else sorted(set([0, d - 1] + [(i * 7919) % d for i in range(max_elems - 2)]))
    num, ana = [], []
    names = shared if shared else [wrt]
    for i in idx:
        def f(v, i=i):
            J = {k: list(a) for k, a in I.items()}
            for nm in names:
                J[nm] = list(J[nm])
                J[nm][i] = v
            return loss_fn(J, P, reduce)
        num.append(numdiff(f, F(I[names[0]][i]), h))
        ana.append(analytic[i])
    gap = rel_gap(num, ana)
    M = max([abs(a) for a in ana] + [mpf(0)])
    if M == 0:
        gap = max([abs(a) for a in num] + [mpf(0)])
    return gap, (gap <= tol)
