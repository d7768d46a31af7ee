"""epsilon-error losses: diffusion_dpo and dspo.* (docs/vectors.md §5.14, 5.15)."""
from fractions import Fraction

import mpmath
from mpmath import mpf

from common import F, U53, fixed, to_mpf, sigmoid, softplus, red_err

u = float(U53)


def dred(a, b, eps, N):
    """Exact D(a, b) = N^-1 sum((a-eps)^2 - (b-eps)^2) and the error scale
    N^-1 sum((a-eps)^2 + (b-eps)^2)."""
    (A, B, E), k = fixed([a, b, eps])
    s = 0
    for ai, bi, ei in zip(A, B, E):
        s += (ai - ei) ** 2 - (bi - ei) ** 2
    m = 0.0
    for ai, bi, ei in zip(a, b, eps):
        ai, bi, ei = float(ai), float(bi), float(ei)
        m += (ai - ei) ** 2 + (bi - ei) ** 2
    return Fraction(s, (1 << (2 * k)) * N), m / N


def nred(reduce, d):
    return 1 if reduce == "sum" else d


def diffusion_dpo(I, P, reduce):
    d = len(I["eps"])
    N = nred(reduce, d)
    beta = F(P["beta"])
    dw, Aw = dred(I["eth_w"], I["eref_w"], I["eps"], N)
    dl, Al = dred(I["eth_l"], I["eref_l"], I["eps"], N)
    Ew, El = red_err(d, Aw), red_err(d, Al)
    uu = -beta / 2 * (dw - dl)
    um = to_mpf(uu)
    s = sigmoid(-um)
    loss = softplus(-um)
    c = to_mpf(beta / N) * s
    gw = [c * to_mpf(F(a) - F(e)) for a, e in zip(I["eth_w"], I["eps"])]
    gl = [-c * to_mpf(F(a) - F(e)) for a, e in zip(I["eth_l"], I["eps"])]
    err_u = float(beta) / 2 * (Ew + El) + 4 * u * abs(float(uu))
    Mw = max(abs(v) for v in gw)
    Ml = max(abs(v) for v in gl)
    O = {"d_w": [dw], "d_l": [dl], "u": [uu], "loss": [loss], "grad_eth_w": gw, "grad_eth_l": gl}
    B = {"d_w": Ew + 4 * u * abs(float(dw)), "d_l": El + 4 * u * abs(float(dl)), "u": err_u,
         "loss": float(s) * err_u + 8 * u * float(loss),
         "grad_eth_w": float(Mw) * (float(1 - s) * err_u + 8 * u),
         "grad_eth_l": float(Ml) * (float(1 - s) * err_u + 8 * u)}
    return O, B, {"s": s}


def diffusion_dpo_loss(I, P, reduce):
    d = len(I["eps"])
    N = nred(reduce, d)
    dw, _ = dred(I["eth_w"], I["eref_w"], I["eps"], N)
    dl, _ = dred(I["eth_l"], I["eref_l"], I["eps"], N)
    return softplus(-to_mpf(-F(P["beta"]) / 2 * (dw - dl)))


def dspo_wb(variant, P):
    """(w, b, reduction) of the paper / code forms."""
    if variant.startswith("paper"):
        return F(P["lambda"]), F(P["lambda"]) * F(P["c_t"]), "sum"
    return F(P["beta"]), F(P["beta"]), "mean"


def dspo(I, P, variant):
    """variant in paper, paper_sg, code, code_sg."""
    d = len(I["eps"])
    w, b, reduce = dspo_wb(variant, P)
    N = nred(reduce, d)
    dw, Aw = dred(I["eth_w"], I["eref_w"], I["eps"], N)
    dl, Al = dred(I["eth_l"], I["eref_l"], I["eps"], N)
    Ew, El = red_err(d, Aw), red_err(d, Al)
    uu = -b / 2 * (dw - dl)
    um = to_mpf(uu)
    s = sigmoid(-um)
    wm = to_mpf(w)
    bm = to_mpf(b)
    e = [to_mpf(F(a) - F(x)) for a, x in zip(I["eth_w"], I["eps"])]
    p = [to_mpf(F(a) - F(x)) for a, x in zip(I["eth_w"], I["eref_w"])]
    el = [to_mpf(F(a) - F(x)) for a, x in zip(I["eth_l"], I["eps"])]
    v = [ei - wm * s * pi for ei, pi in zip(e, p)]
    loss = sum(vi * vi for vi in v) / N
    G = -2 * wm / N * sum(vi * pi for vi, pi in zip(v, p))
    ds = s * (1 - s)  # = -ds/du
    direct = [2 / mpf(N) * (1 - wm * s) * vi for vi in v]
    through_w = [G * ds * bm * ei / N for ei in e]
    through_l = [-G * ds * bm * ei / N for ei in el]
    full_w = [a + c for a, c in zip(direct, through_w)]
    sg = variant.endswith("_sg")
    gw = direct if sg else full_w
    gl = [mpf(0)] * d if sg else through_l
    # ---- error bounds (binary64 path), docs/vectors.md §6
    err_u = float(b) / 2 * (Ew + El) + 4 * u * abs(float(uu))
    fs_, fw, fds = float(s), float(w), float(ds)
    err_s = fds * err_u + 4 * u * fs_
    fe = [float(x) for x in e]
    fp = [float(x) for x in p]
    fv = [float(x) for x in v]
    fel = [float(x) for x in el]
    dv = [fw * abs(pi) * err_s + 4 * u * (abs(ei) + fw * fs_ * abs(pi)) for ei, pi in zip(fe, fp)]
    sv2 = sum(x * x for x in fv)
    err_loss = (sum(2 * abs(a) * b_ for a, b_ in zip(fv, dv)) + red_err(d, sv2)) / N + 4 * u * float(loss)
    fG = float(G)
    err_G = 2 * fw / N * (sum(abs(pi) * dvi for pi, dvi in zip(fp, dv)) + red_err(d, sum(abs(a * c) for a, c in zip(fv, fp))))
    err_gds = err_G * fds + abs(fG) * abs(1 - 2 * fs_) * err_s + 6 * u * abs(fG) * fds
    bw_direct = max(2.0 / N * (abs(1 - fw * fs_) * dvi + abs(vi) * fw * err_s + 6 * u * abs((1 - fw * fs_) * vi))
                    for vi, dvi in zip(fv, dv))
    bw_through = max(float(b) / N * (err_gds * abs(ei) + 4 * u * abs(fG) * fds * abs(ei)) for ei in fe)
    bl_through = max(float(b) / N * (err_gds * abs(ei) + 4 * u * abs(fG) * fds * abs(ei)) for ei in fel)
    O = {"d_w": [dw], "d_l": [dl], "u": [uu], "loss": [loss], "grad_eth_w": gw, "grad_eth_l": gl}
    B = {"d_w": Ew + 4 * u * abs(float(dw)), "d_l": El + 4 * u * abs(float(dl)), "u": err_u,
         "loss": err_loss, "grad_eth_w": bw_direct + (0.0 if sg else bw_through),
         "grad_eth_l": 0.0 if sg else bl_through}
    info = {"s": s, "full_w": full_w, "full_l": through_l, "G": G}
    return O, B, info


def dspo_loss(I, P, variant):
    d = len(I["eps"])
    w, b, reduce = dspo_wb(variant, P)
    N = nred(reduce, d)
    dw, _ = dred(I["eth_w"], I["eref_w"], I["eps"], N)
    dl, _ = dred(I["eth_l"], I["eref_l"], I["eps"], N)
    s = sigmoid(to_mpf(b / 2 * (dw - dl)))  # sigma(-u)
    wm = to_mpf(w)
    tot = mpf(0)
    for a, x, r in zip(I["eth_w"], I["eps"], I["eref_w"]):
        ei = to_mpf(F(a) - F(x))
        pi = to_mpf(F(a) - F(r))
        vi = ei - wm * s * pi
        tot += vi * vi
    return tot / N
