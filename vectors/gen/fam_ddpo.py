"""DDPO (Black et al., "Training diffusion models with reinforcement learning"; public code
ddpo-pytorch, TRL's former DDPOTrainer): the per-step clipped-ratio loss and the per-prompt
advantages (docs/vectors.md §5.16, 5.17; docs/derivations.md §12).

Typed from the equations, independent of the library:
  lr  = log N(x; mu, s^2 I) - log N(x; mu_old, s^2 I)   (sum, or mean over the d elements)
  rho = exp(lr),  A = clamp(adv, -adv_clip, adv_clip)  (adv_clip 0: no clamp)
  L   = max(-A rho, -A clamp(rho, 1 - eps, 1 + eps))
  dL/dmu = dL/dlr (x - mu)/(s^2 N), dL/dlr = -A rho on the branch that carries the ratio.
"""
import mpmath
from mpmath import mpf

import fam_step as fs
from build_step import Ids, emit, deriv_note, step_arrays, step_gen
from build_more import at_bound_sample
from common import Case, F, Rng, U53, out_real, rn, store, to_mpf, dec, red_err

u = float(U53)

REF_DDPO = ("DDPO (Black et al. 2023) public code: ratio = exp(log pi_theta - log pi_old), "
            "loss = max(-A ratio, -A clip(ratio, 1-eps, 1+eps)), eps 1e-4, A clamped to +-5")
REF_ADV = "DDPO public code: per-prompt stat tracker, (r - mean)/(std + 1e-6), numpy's population std"
OUTS = ["lr", "ratio", "adv", "loss", "dl_dlr", "grad_mu"]


def clamp_adv(adv, adv_clip):
    a = F(adv)
    if adv_clip > 0:
        c = F(adv_clip)
        a = min(max(a, -c), c)
    return a


def ddpo(I, P, reduce):
    """Exact outputs, error bounds and the clip side of one case."""
    d = len(I["x"])
    N = fs.nred(reduce, d)
    lr, Alr = fs.logratio(I["x"], I["mu"], I["mu_old"], P["sigma"], N)
    E = red_err(d, Alr)
    lo = rn(1 - F(P["clip_eps"]), "f64")
    hi = rn(1 + F(P["clip_eps"]), "f64")
    rho = mpmath.exp(to_mpf(lr))
    A = clamp_adv(P["adv"], P["adv_clip"])
    Am = to_mpf(A)
    inside = to_mpf(F(lo)) <= rho <= to_mpf(F(hi))
    side = "inside" if inside else ("below" if rho < lo else "above")
    rc = rho if inside else to_mpf(F(lo if side == "below" else hi))
    unc, clp = -Am * rho, -Am * rc
    loss = max(unc, clp)
    active = inside or (side == "above" and A < 0) or (side == "below" and A > 0)
    dl = -Am * rho if active else mpf(0)
    c = dl / to_mpf(F(P["sigma"]) ** 2 * N)
    g = fs.scale_arr(c, fs.diff(I["x"], I["mu"]))
    # error bounds (binary64 evaluation of the C path): lr from the canonical sum, exp with a
    # few ulps, one rounding per product
    e_lr = E + 4 * u * abs(float(lr))
    e_rho = float(rho) * (e_lr + 8 * u)
    e_loss = abs(float(Am)) * (e_rho if (active or loss == unc) else 0.0) + 4 * u * abs(float(loss))
    e_dl = abs(float(Am)) * e_rho + 4 * u * abs(float(dl)) if active else 0.0
    M = max(abs(v) for v in g)
    e_g = float(M) * ((e_rho / float(rho) if active else 0.0) + 8 * u)
    O = {"lr": [lr], "ratio": [rho], "adv": [to_mpf(A)], "loss": [loss], "dl_dlr": [dl], "grad_mu": g}
    B = {"lr": e_lr, "ratio": e_rho, "adv": 0.0, "loss": e_loss, "dl_dlr": e_dl, "grad_mu": e_g}
    margin = min(abs(rho - lo) / lo, abs(rho - hi) / hi)
    info = {"side": side, "rho": rho, "lo": lo, "hi": hi, "margin": margin, "e_rel": e_rho / float(rho),
            "active": active, "A": A}
    return O, B, info


def ddpo_loss(I, P, reduce):
    return ddpo(I, P, reduce)[0]["loss"][0]


def margin_ok(info):
    return info["margin"] > max(mpf(2) ** -40, 16 * mpf(info["e_rel"]))


def ddpo_case(ids, prec, reduce, I, P, notes, gen_writer=None, at_bound=False):
    c = Case(ids.next(prec), "ddpo", [REF_DDPO], prec, reduce)
    for n_ in notes:
        c.note(n_)
    for nm in ("clip_eps", "adv_clip", "sigma", "adv"):
        c.param(nm, P[nm])
    if gen_writer:
        gen_writer(c)
    else:
        for nm in ("x", "mu", "mu_old"):
            c.inp(nm, I[nm])
    O, B, info = ddpo(I, P, reduce)
    if not at_bound and not margin_ok(info):
        raise AssertionError(c.cid + ": ratio too close to a clip bound")
    gap, ok = fs.check_grad(ddpo_loss, I, P, reduce, "mu", O["grad_mu"])
    deriv_note(c, "grad_mu (zero where the clipped constant is the larger term)", gap, ok)
    c.note("ratio exp(lr) = %s (%s the clip interval), A = %s, %s branch; bounds RN(1-eps) = %s, RN(1+eps) = %s"
           % (mpmath.nstr(info["rho"], 17), info["side"], dec(float(info["A"])),
              "ratio" if info["active"] else "clipped", dec(info["lo"]), dec(info["hi"])))
    emit(c, O, B, ["lr", "ratio", "adv", "loss", "dl_dlr"])
    c.out("clipped", [0 if info["side"] == "inside" else 1], integer=True)
    emit(c, O, B, ["grad_mu"])
    return c


def build_loss(seed=12012):
    ids = Ids("ddpo")
    rng = Rng(seed)
    cases = []
    for prec in ("f64", "f32"):
        # random: d, reduction, eps, advantage (some beyond the clamp), ratio on any side
        made, i = 0, 0
        while made < 12:
            i += 1
            d = rng.int(1, 64)
            reduce = "mean" if i % 3 else "sum"
            sigma = store(rng.logu(-6, 1), "f64")
            eps = rng.choice([1e-4, 0.1, 0.2, 0.05])
            dsc = rng.choice([1e-5, 1e-4, 1e-3, 0.01, 0.1]) * (1.0 if reduce == "mean" else 0.05)
            x, m, mo = step_arrays(rng, d, sigma, dsc * sigma, prec)
            adv = rng.choice([1.0, -1.0, 0.3, -2.5, 7.0, -6.0, 0.0]) * (1.0 + 0.25 * rng.uniform())
            if made == 5:
                adv = 0.0
            P = dict(clip_eps=eps, adv_clip=rng.choice([5.0, 5.0, 0.0]), sigma=sigma, adv=adv)
            I = dict(x=x, mu=m, mu_old=mo)
            _, _, info = ddpo(I, P, reduce)
            if not margin_ok(info):
                continue
            made += 1
            cases.append(ddpo_case(ids, prec, reduce, I, P, ["random: d = %d, eps %s, ratio %s, A %s"
                                                             % (d, eps, info["side"], dec(float(info["A"])))]))
        # targeted: every (side, sign of A) pair, public-code eps 1e-4 and eps 0.1
        for eps in (1e-4, 0.1):
            for side in ("below", "inside", "above"):
                for sgn in (1.0, -1.0):
                    for _ in range(2000):
                        d = rng.int(2, 48)
                        sigma = 0.5
                        scale = {"inside": eps * 0.3, "below": eps * 4, "above": eps * 4}[side]
                        x, m, mo = step_arrays(rng, d, sigma, scale * sigma * rng.uniform(0.2, 1.0), prec)
                        I = dict(x=x, mu=m, mu_old=mo)
                        P = dict(clip_eps=eps, adv_clip=5.0, sigma=sigma, adv=sgn * rng.uniform(0.2, 3.0))
                        _, _, info = ddpo(I, P, "mean")
                        if info["side"] == side and margin_ok(info):
                            break
                    else:
                        raise AssertionError("no %s sample for eps %s" % (side, eps))
                    cases.append(ddpo_case(ids, prec, "mean", I, P, ["targeted: ratio %s, A %s, eps %s"
                                                                     % (side, "> 0" if sgn > 0 else "< 0", eps)]))
        # SD-sized: d = 16384, gen arrays, both reductions
        for j, reduce in enumerate(("mean", "sum")):
            n = 16384
            sigma = 0.7
            dsc = 0.002 if reduce == "mean" else 0.00002
            base = 12100 + 100 * j + (0 if prec == "f64" else 50)
            holder = {}

            def writer(c, base=base, sigma=sigma, dsc=dsc):
                x, m, mo = step_gen(c, ("x", "mu", "mu_old"), n, (base + 1, base + 2, base + 3), sigma, dsc, prec)
                holder.update(x=x, mu=m, mu_old=mo)
            writer(Case("tmp", "x", [], prec))
            P = dict(clip_eps=0.1, adv_clip=5.0, sigma=sigma, adv=1.25 if j == 0 else -0.75)
            cases.append(ddpo_case(ids, prec, reduce, dict(holder), P, ["SD-sized: d = 16384, gen arrays"],
                                   gen_writer=writer))
    # at the bound (f64): exp(lr) rounds to RN(1 +- eps); the closed interval keeps the gradient
    for side, adv in (("hi", 1.5), ("lo", -0.75), ("hi", -1.0), ("lo", 2.0)):
        x, m, mo, gap = at_bound_sample(side, 0.1)
        I = dict(x=[x], mu=[m], mu_old=[mo])
        P = dict(clip_eps=0.1, adv_clip=5.0, sigma=1.0, adv=adv)
        notes = ["at-bound: d = 1, sigma = 1, every step of the log-ratio exact in binary64;",
                 "exact exp(lr) inside, %s ulp from RN(1%s eps); RN(exp(lr)) equals the bound: the gradient is kept"
                 % (mpmath.nstr(gap, 3), "+" if side == "hi" else "-")]
        if (side == "hi") == (adv > 0):
            notes.append("(an exclusive comparison would select the clipped constant and give a zero gradient)")
        cases.append(ddpo_case(ids, "f64", "mean", I, P, notes, at_bound=True))
    return cases


# ------------------------------------------------------------------ advantages

def advantages(reward, group, min_count, std_eps):
    n = len(reward)
    R = [F(r) for r in reward]

    def stats(idx):
        m = len(idx)
        mean = sum((R[i] for i in idx), F(0)) / m
        var = sum(((R[i] - mean) ** 2 for i in idx), F(0)) / m
        return mean, mpmath.sqrt(to_mpf(var)), m
    allst = stats(list(range(n)))
    out, bnd = [], []
    for i in range(n):
        mean, sd, m = stats([j for j in range(n) if group[j] == group[i]])
        if m < min_count:
            mean, sd, m = allst
        den = sd + to_mpf(F(std_eps))
        a = (to_mpf(R[i]) - to_mpf(mean)) / den
        out.append(a)
        mx = max(abs(float(R[j])) for j in range(n))
        bnd.append((4 * m + 16) * u * (mx + abs(float(mean))) / float(den) + (2 * m + 16) * u * abs(float(a)))
    return out, bnd


def adv_case(ids, reward, group, min_count, std_eps, notes):
    c = Case(ids.next("f64"), "ddpo.advantages", [REF_ADV], "f64")
    for n_ in notes:
        c.note(n_)
    c.param("min_count", min_count, integer=True)
    c.param("std_eps", std_eps)
    c.inp("reward", reward)
    c.inp("group", [float(g) for g in group])
    out, bnd = advantages(reward, group, min_count, std_eps)
    out_real(c, "adv", out, max(bnd))
    return c


def build_adv(seed=12013):
    ids = Ids("ddpo_adv")
    rng = Rng(seed)
    cases = []
    for k in range(8):
        n = rng.int(2, 24)
        ng = rng.int(1, 4)
        group = [rng.int(0, ng - 1) for _ in range(n)]
        reward = [rng.uniform(-2.0, 3.0) for _ in range(n)]
        min_count = [0, 2, 4, 100][k % 4]
        cases.append(adv_case(ids, reward, group, min_count, 1e-6,
                              ["random: n = %d, %d prompts, min_count %d" % (n, ng, min_count)]))
    # equal rewards in one prompt: (r - mean)/(0 + std_eps) = 0; a prompt below min_count uses the batch
    cases.append(adv_case(ids, [0.5, 0.5, 0.5, 1.0, -1.0, 2.0], [0, 0, 0, 1, 1, 2], 2, 1e-6,
                          ["prompt 0: equal rewards (std 0, advantage 0); prompt 2: one sample < min_count 2,",
                           "normalised with the whole batch's mean and std"]))
    cases.append(adv_case(ids, [1.0, 2.0, 3.0, 4.0], [7, 7, 7, 7], 0, 0.0,
                          ["one prompt, std_eps 0: (r - 2.5)/sqrt(1.25)"]))
    return cases


def build():
    return build_loss() + build_adv()
