"""One trainer iteration of every method on a tiny configuration (`train_iter.<method>`,
docs/vectors.md section 8).

Typed from docs/trainers.md (the iterations), docs/model.md (the network, AdamW),
docs/rewards.md (AESTHETIC, step-wise scoring), docs/reproducibility.md (Philox coordinates,
Box-Muller normals), docs/schedules.md (leading timesteps, the previous timestep) and
docs/vectors.md section 5 (every loss).  Never calls the library.  Places where a document was
silent and src/model/train.c was read are marked "C-only" below and listed in docs/vectors.md.

The gradient is the central difference, at 60 digits, of the iteration's surrogate objective:
the sampled trajectory, candidates, rankings, guidance and labels are those of the current
parameters and held fixed, and only the model outputs that enter the losses (mu_theta(x_t), or
eps_theta(x_t) for the epsilon-methods) depend on the LoRA parameters.  That is the gradient
the papers' algorithms take (sampling is not differentiated).
"""
import math

import mpmath
from mpmath import mp, mpf

from common import Case, dec, f32, hexf, splitmix64_next

mp.dps = 60

MASK = 0xFFFFFFFF

# ------------------------------------------------------------------ Philox4x32-10 (Salmon et al.)


def philox(ctr, key):
    c = list(ctr)
    k = list(key)
    for r in range(10):
        p0 = 0xD2511F53 * c[0]
        p1 = 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & MASK, (p0 >> 32) ^ c[3] ^ k[1], p0 & MASK]
        if r < 9:
            k = [(k[0] + 0x9E3779B9) & MASK, (k[1] + 0xBB67AE85) & MASK]
    return c


def words(seed, stream, sample, step, cand, block):
    """docs/reproducibility.md section 3: counter (block, sample, step, stream << 16 | cand)."""
    return philox([block, sample, step, (stream << 16) | cand], [seed & MASK, seed >> 32])


INIT, STEP, RESAMPLE, TIMESTEP, TRAIN = 0, 1, 2, 3, 4
TWO32 = mpf(2) ** 32


def normals(seed, stream, sample, step, cand, n):
    """Box-Muller in 60 digits, then rounded once to binary32 (the library's float normals are
    the double value rounded once)."""
    out = []
    for b in range((n + 3) // 4):
        w = words(seed, stream, sample, step, cand, b)
        for p in range(2):
            u1 = (mpf(w[2 * p]) + mpf(1) / 2) / TWO32
            u2 = (mpf(w[2 * p + 1]) + mpf(1) / 2) / TWO32
            r = mpmath.sqrt(-2 * mpmath.log(u1))
            out.append(f32(float(r * mpmath.cos(2 * mpmath.pi * u2))))
            out.append(f32(float(r * mpmath.sin(2 * mpmath.pi * u2))))
    return [mpf(v) for v in out[:n]]


def uniform_index(w, n):
    return (w * n) >> 32


# ------------------------------------------------------------------ tiny configuration

D = 64          # 8 x 8 images (the built-in rewards are defined on 8 x 8)
H = 4           # hidden width
TE = 4          # timestep-embedding width
NC = 4          # classes
E = 2           # class-embedding width
R = 1           # LoRA rank
ALPHA = 1.0     # LoRA alpha
S_LORA = mpf(ALPHA) / R
NTRAIN = 8      # num_train_steps of the schedule (a caller-given alphas_cumprod table)
T = 4           # DDIM steps: leading spacing, offset 1 -> timesteps 7, 5, 3, 1
IN0 = D + TE + E
# alphas_cumprod (stored as binary32): sigma_t of every step well away from 0
AC = [f32(v) for v in (0.98, 0.9, 0.8, 0.65, 0.5, 0.35, 0.2, 0.1)]

N_BASE = H * IN0 + H + H * H + H + D * H + D + NC * E
N_LORA = R * IN0 + H * R + R * H + H * R + R * H + D * R


def timesteps():
    r = NTRAIN // T
    return [(T - 1 - k) * r + 1 for k in range(T)]


def alpha_prev(t):
    """diffusers' rule: prev = t - N // S; final_alpha_cumprod = ac[0] (set_alpha_to_one 0)."""
    p = t - NTRAIN // T
    return mpf(AC[p]) if p >= 0 else mpf(AC[0])


def step_coef(t, eta):
    at, ap = mpf(AC[t]), alpha_prev(t)
    sigma = eta * mpmath.sqrt((1 - ap) / (1 - at)) * mpmath.sqrt(1 - at / ap)
    return at, ap, sigma


# ------------------------------------------------------------------ network (docs/model.md sec. 3)


def split_base(base):
    o = 0
    W0 = [base[o + h * IN0:o + (h + 1) * IN0] for h in range(H)]
    o += H * IN0
    b0 = base[o:o + H]
    o += H
    W1 = [base[o + h * H:o + (h + 1) * H] for h in range(H)]
    o += H * H
    b1 = base[o:o + H]
    o += H
    W2 = [base[o + d * H:o + (d + 1) * H] for d in range(D)]
    o += D * H
    b2 = base[o:o + D]
    o += D
    C = [base[o + c * E:o + (c + 1) * E] for c in range(NC)]
    return W0, b0, W1, b1, W2, b2, C


def split_lora(lo):
    o = 0
    parts = []
    for (rows, cols) in ((R, IN0), (H, R), (R, H), (H, R), (R, H), (D, R)):
        parts.append([lo[o + i * cols:o + (i + 1) * cols] for i in range(rows)])
        o += rows * cols
    return parts  # A0, B0, A1, B1, A2, B2


def temb(t):
    half = TE // 2
    e = [mpf(0)] * TE
    for k in range(half):
        f = mpmath.exp(-mpmath.log(10000) * k / half)
        e[k] = mpmath.sin(t * f)
        e[half + k] = mpmath.cos(t * f)
    return e


def silu(z):
    return z / (1 + mpmath.exp(-z))


def linear(W, b, x, A=None, B=None):
    out = [b[i] + mpmath.fsum(wi * xi for wi, xi in zip(W[i], x)) for i in range(len(W))]
    if A is not None:
        u = [S_LORA * mpmath.fsum(ai * xi for ai, xi in zip(A[r], x)) for r in range(R)]
        for i in range(len(W)):
            out[i] += mpmath.fsum(B[i][r] * u[r] for r in range(R))
    return out


class Net:
    def __init__(self, base):
        self.P = split_base([mpf(v) for v in base])

    def eps(self, x, t, c, lora):
        W0, b0, W1, b1, W2, b2, C = self.P
        L = split_lora(lora) if lora is not None else [None] * 6
        in0 = list(x) + temb(t) + list(C[c])
        a0 = [silu(z) for z in linear(W0, b0, in0, L[0], L[1])]
        a1 = [silu(z) for z in linear(W1, b1, a0, L[2], L[3])]
        return linear(W2, b2, a1, L[4], L[5])


# ------------------------------------------------------------------ AESTHETIC (docs/rewards.md)

_SIDE = 8
_CEN = mpf(_SIDE - 1) / 2
_S = mpf("0.1875") * _SIDE
_Q = mpf(1) / 4
AW = []
for _i in range(_SIDE):
    for _j in range(_SIDE):
        _w = mpmath.exp(-((_i - _CEN) ** 2 + (_j - _CEN) ** 2) / (2 * _S ** 2))
        if _i in (0, _SIDE - 1) or _j in (0, _SIDE - 1):
            _w -= mpf(1) / 2
        AW.append(_w)


def reward(x):
    return mpmath.fsum(w * v for w, v in zip(AW, x)) - _Q / 2 * mpmath.fsum(v * v for v in x)


def reward_grad(x):
    return [w - _Q * v for w, v in zip(AW, x)]


def reward_compress(x, cls=None):
    """COMPRESS: -(1/S) sum sqrt(dx^2 + dy^2 + 0.01), forward differences, 0 past the edge."""
    tot = 0
    for i in range(_SIDE):
        for j in range(_SIDE):
            v = x[_SIDE * i + j]
            dx = x[_SIDE * i + j + 1] - v if j < _SIDE - 1 else 0
            dy = x[_SIDE * (i + 1) + j] - v if i < _SIDE - 1 else 0
            tot += mpmath.sqrt(dx * dx + dy * dy + mpf("0.01"))
    return -tot / _SIDE


def _template(c):
    b = []
    for i in range(_SIDE):
        for j in range(_SIDE):
            di, dj = i - _CEN, j - _CEN
            on = (abs(di) <= mpf(_SIDE) / 8, abs(dj) <= mpf(_SIDE) / 8, abs(i - j) <= mpf(_SIDE) / 8,
                  di * di + dj * dj <= (mpf("0.32") * _SIDE) ** 2)[c]
            b.append(mpf(1) if on else mpf(-1))
    m = mpmath.fsum(b) / len(b)
    nrm = mpmath.sqrt(mpmath.fsum((v - m) ** 2 for v in b))
    return [(v - m) / nrm for v in b]


TEMPLATES = [_template(c) for c in range(4)]


def reward_classmatch(x, cls):
    """CLASSMATCH: log-softmax of 0.5 <T_c, x> over the four classes, at class cls."""
    lg = [mpf("0.5") * mpmath.fsum(t * v for t, v in zip(tc, x)) for tc in TEMPLATES]
    return lg[cls] - mpmath.log(mpmath.fsum(mpmath.exp(v) for v in lg))


REWARDS = {0: lambda x, cls: reward(x), 1: reward_compress, 2: reward_classmatch}


# ------------------------------------------------------------------ losses (docs/vectors.md sec. 4, 5)


def sigm(z):
    return 1 / (1 + mpmath.exp(-z))


def softplus(x):
    return mpmath.log1p(mpmath.exp(x)) if x < 0 else x + mpmath.log1p(mpmath.exp(-x))


def lr(x, mu, mref, sigma, N):
    return mpmath.fsum((a - c) ** 2 - (a - b) ** 2 for a, b, c in zip(x, mu, mref)) / (2 * sigma ** 2 * N)


# ------------------------------------------------------------------ DDIM pieces


def ddim_mean(x, e, at, ap, sigma):
    x0 = [(xi - mpmath.sqrt(1 - at) * ei) / mpmath.sqrt(at) for xi, ei in zip(x, e)]
    mu = [mpmath.sqrt(ap) * a + mpmath.sqrt(1 - ap - sigma ** 2) * ei for a, ei in zip(x0, e)]
    return mu, x0


class Margins:
    def __init__(self):
        self.items = []

    def add(self, what, gap, scale):
        rel = abs(gap) / max(abs(scale), mpf(1))
        self.items.append((rel, what))
        assert rel > mpf("1e-3"), "decision too close to its threshold: %s (%s)" % (what, mpmath.nstr(rel, 5))

    def smallest(self):
        return min(self.items) if self.items else None


# ------------------------------------------------------------------ the iterations


class Iter:
    """One trainer iteration (docs/trainers.md).  terms: per prompt, a list of functions
    lora -> loss term (with everything sampled held fixed)."""

    def __init__(self, cfg, base, lora, pairs=None, pair_cls=None):
        self.c = cfg
        self.net = Net(base)
        self.lora = [mpf(v) for v in lora]
        self.pairs = pairs
        self.pair_cls = pair_cls
        self.ts = timesteps()
        self.marg = Margins()
        self.log = []

    def eps(self, x, t, cls, lora):
        return self.net.eps(x, t, cls, lora)

    def reward(self, x, cls):
        return REWARDS[self.c["reward"]](x, cls)

    def reward_grad(self, x, cls):
        if self.c["reward"] == 0:
            return reward_grad(x)
        # the other rewards: central difference at 60 digits (h = 2^-90)
        h = mpf(2) ** -90
        gr = []
        for q in range(D):
            xp, xm = list(x), list(x)
            xp[q] += h
            xm[q] -= h
            gr.append((self.reward(xp, cls) - self.reward(xm, cls)) / (2 * h))
        return gr

    def stepwise_reward(self, xc, j, cls):
        if j + 1 >= T:
            return self.reward(xc, cls), list(xc), mpf(1)
        at = mpf(AC[self.ts[j + 1]])
        e = self.eps(xc, self.ts[j + 1], cls, self.lora)
        x0 = [(a - mpmath.sqrt(1 - at) * b) / mpmath.sqrt(at) for a, b in zip(xc, e)]
        return self.reward(x0, cls), x0, at

    # ---- d3po
    def prompt_d3po(self, g, cls):
        c = self.c
        xT = normals(c["seed"], INIT, g, 0, 0, D)
        traj = [[xT], [list(xT)]]
        for j in range(T):
            at, ap, sigma = step_coef(self.ts[j], c["eta"])
            for i in range(2):
                x = traj[i][j]
                mu, _ = ddim_mean(x, self.eps(x, self.ts[j], cls, self.lora), at, ap, sigma)
                z = normals(c["seed"], STEP, g, j, i, D)
                traj[i].append([m + sigma * zz for m, zz in zip(mu, z)])
        r0, r1 = self.reward(traj[0][T], cls), self.reward(traj[1][T], cls)
        self.marg.add("d3po g=%d final rewards" % g, r0 - r1, r0)
        label = 1 if r0 > r1 else -1
        self.log.append("g=%d d3po: r0 = %s, r1 = %s, label %+d" % (g, mpmath.nstr(r0, 8), mpmath.nstr(r1, 8), label))
        terms = []
        N = D if c["lp_mode"] == 1 else 1
        lo, hi = mpf(1 - c["clip_eps"]), mpf(1 + c["clip_eps"])  # binary64 roundings, as section 5.4
        clamps = []
        for j in range(c["train_from"], T):
            at, ap, sigma = step_coef(self.ts[j], c["eta"])
            data = []
            for i in range(2):
                x = traj[i][j]
                mref, _ = ddim_mean(x, self.eps(x, self.ts[j], cls, None), at, ap, sigma)
                mu, _ = ddim_mean(x, self.eps(x, self.ts[j], cls, self.lora), at, ap, sigma)
                l0 = lr(traj[i][j + 1], mu, mref, sigma, N)
                rho = mpmath.exp(l0)
                side = 0 if lo <= rho <= hi else (-1 if rho < lo else 1)
                self.marg.add("d3po g=%d j=%d k=%d clamp" % (g, j, i), min(abs(rho - lo), abs(rho - hi)) / rho, 0)
                clamps.append(side)
                data.append((x, traj[i][j + 1], mref, side))
            h = (1, -1) if label > 0 else (-1, 1)

            def term(lora, data=data, h=h, at=at, ap=ap, sigma=sigma, t=self.ts[j]):
                zz = 0
                for (x, xn, mref, side), hk in zip(data, h):
                    if side == 0:
                        mu, _ = ddim_mean(x, self.eps(x, t, cls, lora), at, ap, sigma)
                        ell = lr(xn, mu, mref, sigma, N)
                    else:
                        ell = mpmath.log(lo if side < 0 else hi)
                    zz += hk * ell
                return softplus(-c["beta"] * zz)
            terms.append(term)
        self.log.append("g=%d d3po clamp sides per (step, sample): %s" % (g, clamps))
        return terms, (r0 + r1) / 2

    # ---- TailorPO, TailorPO-G, RDPO (both), SPO
    def prompt_stepwise(self, g, cls):
        c = self.c
        M = c["method"]
        K = c["k"] if M == "spo" else 2
        N = D if c["lp_mode"] == 1 else 1
        x = normals(c["seed"], INIT, g, 0, 0, D)
        terms = []
        for j in range(T):
            t = self.ts[j]
            at, ap, sigma = step_coef(t, c["eta"])
            e = self.eps(x, t, cls, self.lora)
            mu, x0 = ddim_mean(x, e, at, ap, sigma)
            train = j >= c["train_from"] and (j - c["train_from"]) % c["train_every"] == 0
            if not train:
                z = normals(c["seed"], STEP, g, j, 0, D)
                x = [m + sigma * zz for m, zz in zip(mu, z)]
                continue
            mref, _ = ddim_mean(x, self.eps(x, t, cls, None), at, ap, sigma)
            xt = x
            cand, r = [], []
            for i in range(K):
                z = normals(c["seed"], STEP, g, j, i, D)
                cand.append([m + sigma * zz for m, zz in zip(mu, z)])
                r.append(self.stepwise_reward(cand[i], j, cls)[0])
            if M == "spo":
                best = max(range(K), key=lambda i: (r[i], -i))
                worst = min(range(K), key=lambda i: (r[i], i))
                gap = r[best] - r[worst]
                valid = t <= c["kappa"] and best != worst and mpmath.tanh(gap / 2) > c["spo_thr"]
                if t <= c["kappa"]:
                    self.marg.add("spo g=%d j=%d threshold" % (g, j), mpmath.tanh(gap / 2) - c["spo_thr"], 0)
                srt = sorted(r)  # best and worst unique (the order in between is not used)
                self.marg.add("spo g=%d j=%d best" % (g, j), srt[-1] - srt[-2], srt[-1])
                self.marg.add("spo g=%d j=%d worst" % (g, j), srt[1] - srt[0], srt[0])
                if valid:
                    terms.append(self.spo_term(xt, cand[best], cand[worst], mref, t, at, ap, sigma, cls, N, g, j))
                if c["resampler"] == 1:      # winner
                    nxt = best
                elif c["resampler"] == 2:    # loser
                    nxt = worst
                elif c["resampler"] == 3:    # none: a fresh candidate (noise candidate index K)
                    nxt = K
                    z = normals(c["seed"], STEP, g, j, K, D)
                    cand.append([m + sigma * zz for m, zz in zip(mu, z)])
                else:                        # random: Philox stream RESAMPLE, step j
                    nxt = uniform_index(words(c["seed"], RESAMPLE, g, j, 0, 0)[0], K)
                self.log.append("g=%d j=%d t=%d spo: scores %s best %d worst %d valid %d next %d" % (
                    g, j, t, [mpmath.nstr(v, 6) for v in r], best, worst, int(valid), nxt))
                x = cand[nxt]
                continue
            if M in ("rdpo", "rdpo-fixed"):
                rb = self.reward(x0, cls)
                key = [ri - rb for ri in r]  # Delta Q, the gain form (docs/trainers.md)
            else:
                key = r
            self.marg.add("g=%d j=%d ranking" % (g, j), key[0] - key[1], max(abs(key[0]), abs(key[1])))
            w, l = (0, 1) if key[0] >= key[1] else (1, 0)
            xw, xl = cand[w], cand[l]
            if M == "tailorpo-g":
                # C-only: eta_t from the raw timestep over num_train_steps - 1 (docs/trainers.md says
                # "eta_t cosine in [0.1, 0.2] over the timestep"); alpha = that of the next timestep.
                rw, x0w, anext = self.stepwise_reward(xw, j, cls)
                gr = self.reward_grad(x0w, cls)
                if j + 1 < T:
                    # J_eps^T gr of the model at the next timestep: central difference of <gr, eps(x)>
                    h = mpf(2) ** -90
                    vjp = []
                    for q in range(D):
                        xp, xm = list(xw), list(xw)
                        xp[q] += h
                        xm[q] -= h
                        ep = self.eps(xp, self.ts[j + 1], cls, self.lora)
                        em = self.eps(xm, self.ts[j + 1], cls, self.lora)
                        vjp.append(mpmath.fsum(gg * (a - b) for gg, a, b in zip(gr, ep, em)) / (2 * h))
                else:
                    vjp = [mpf(0)] * D
                eta_t = c["g_eta_min"] + (c["g_eta_max"] - c["g_eta_min"]) * (1 + mpmath.cos(mpmath.pi * t / (NTRAIN - 1))) / 2
                xw = [a + 2 * eta_t * c["g_delta"] * (gg - mpmath.sqrt(1 - anext) * v) / mpmath.sqrt(anext)
                      for a, gg, v in zip(xw, gr, vjp)]
                self.log.append("g=%d j=%d tailorpo-g: eta_t %s, r(x0(x_w)) %s -> %s" % (
                    g, j, mpmath.nstr(eta_t, 8), mpmath.nstr(rw, 8), mpmath.nstr(self.stepwise_reward(xw, j, cls)[0], 8)))
            self.log.append("g=%d j=%d t=%d %s: keys %s winner %d" % (g, j, t, M, [mpmath.nstr(v, 8) for v in key], w))
            terms.append(self.pair_term(xt, xw, xl, mref, t, at, ap, sigma, cls, N, g, j))
            x = xw
        return terms, self.reward(x, cls)

    def mu_theta(self, xt, t, cls, lora, at, ap, sigma):
        return ddim_mean(xt, self.eps(xt, t, cls, lora), at, ap, sigma)[0]

    def pair_term(self, xt, xw, xl, mref, t, at, ap, sigma, cls, N, g, j):
        c = self.c
        M = c["method"]
        beta = c["beta"]
        if M in ("rdpo", "rdpo-fixed"):
            mu0 = self.mu_theta(xt, t, cls, self.lora, at, ap, sigma)
            l0 = lr(xl, mu0, mref, sigma, N)
            self.marg.add("rdpo g=%d j=%d sign of lr_l" % (g, j), l0, 0)
            active = l0 > 0
            self.log.append("g=%d j=%d %s: lr_l = %s, psi %s" % (g, j, M, mpmath.nstr(l0, 8),
                                                               "active" if active else "inactive"))
            sgn = -1 if M == "rdpo" else 1  # printed z = delta - lambda psi; intended + lambda psi

            def term(lora):
                mu = self.mu_theta(xt, t, cls, lora, at, ap, sigma)
                lw, ll = lr(xw, mu, mref, sigma, N), lr(xl, mu, mref, sigma, N)
                psi = -ll if active else mpf(0)
                return softplus(-(beta * (lw - ll) + sgn * c["lambda"] * psi))
            return term

        def term(lora):
            mu = self.mu_theta(xt, t, cls, lora, at, ap, sigma)
            return softplus(-beta * (lr(xw, mu, mref, sigma, N) - lr(xl, mu, mref, sigma, N)))
        return term

    def spo_term(self, xt, xw, xl, mref, t, at, ap, sigma, cls, N, g, j):
        c = self.c
        lo, hi = mpf(1 - c["clip_eps"]), mpf(1 + c["clip_eps"])
        mu0 = self.mu_theta(xt, t, cls, self.lora, at, ap, sigma)
        sides = []
        for xs in (xw, xl):
            rho = mpmath.exp(lr(xs, mu0, mref, sigma, N))
            sides.append(0 if lo <= rho <= hi else (-1 if rho < lo else 1))
            self.marg.add("spo g=%d j=%d clamp" % (g, j), min(abs(rho - lo), abs(rho - hi)) / rho, 0)
        self.log.append("g=%d j=%d spo clamp sides %s" % (g, j, sides))

        def term(lora):
            mu = self.mu_theta(xt, t, cls, lora, at, ap, sigma)
            ells = []
            for xs, sd in zip((xw, xl), sides):
                ells.append(lr(xs, mu, mref, sigma, N) if sd == 0 else mpmath.log(lo if sd < 0 else hi))
            return softplus(-c["beta"] * (ells[0] - ells[1]))
        return term

    # ---- Diffusion-DPO, DSPO
    def prompt_eps(self, g):
        c = self.c
        p = g % len(self.pair_cls)
        cls = self.pair_cls[p]
        xw = [mpf(v) for v in self.pairs[p][0]]
        xl = [mpf(v) for v in self.pairs[p][1]]
        t = uniform_index(words(c["seed"], TIMESTEP, g, 0, 0, 0)[0], NTRAIN)
        ep = normals(c["seed"], TRAIN, g, 0, 0, D)
        sa, sb = mpmath.sqrt(mpf(AC[t])), mpmath.sqrt(1 - mpf(AC[t]))
        xtw = [sa * a + sb * e for a, e in zip(xw, ep)]
        xtl = [sa * a + sb * e for a, e in zip(xl, ep)]
        erw = self.eps(xtw, t, cls, None)
        erl = self.eps(xtl, t, cls, None)
        self.log.append("g=%d %s: pair %d, class %d, t = %d" % (g, c["method"], p, cls, t))
        beta = c["beta"]
        N = D  # mean reduction: the public-code form of both (docs/trainers.md)

        def Dred(a, b):
            return mpmath.fsum((ai - ei) ** 2 - (bi - ei) ** 2 for ai, bi, ei in zip(a, b, ep)) / N

        def term(lora):
            ew = self.eps(xtw, t, cls, lora)
            el = self.eps(xtl, t, cls, lora)
            u = -beta / 2 * (Dred(ew, erw) - Dred(el, erl))
            if c["method"] == "diffusion-dpo":
                return softplus(-u)
            s = sigm(-u)  # DSPO public-code form: w = b = beta, gradient through s
            return mpmath.fsum((a - e - beta * s * (a - b)) ** 2 for a, b, e in zip(ew, erw, ep)) / N
        return [term], None

    def run(self):
        c = self.c
        prompts = []
        for b in range(c["batch"]):
            g = c["it"] * c["batch"] + b
            cls = g % NC
            if c["method"] == "d3po":
                terms, rw = self.prompt_d3po(g, cls)
            elif c["method"] in ("diffusion-dpo", "dspo"):
                terms, rw = self.prompt_eps(g)
            else:
                terms, rw = self.prompt_stepwise(g, cls)
            prompts.append((terms, rw))
        self.prompts = prompts

        def objective(lora):
            tot = 0
            for terms, _ in prompts:
                if terms:
                    tot += mpmath.fsum(f(lora) for f in terms) / len(terms)
            return tot / len(prompts)
        self.objective = objective
        losses = []
        for terms, _ in prompts:
            losses.append(mpmath.fsum(f(self.lora) for f in terms) / len(terms) if terms else mpf(0))
        self.losses = losses
        # gradient: central difference at 60 digits (step 2^-70; truncation ~ h^2 |f'''| << 1e-30)
        h = mpf(2) ** -70
        grad = []
        for q in range(N_LORA):
            lp, lm = list(self.lora), list(self.lora)
            lp[q] += h
            lm[q] -= h
            grad.append((objective(lp) - objective(lm)) / (2 * h))
        self.grad = grad
        # cross-check with a second step: the two differences must agree far below the tolerance
        h2 = mpf(2) ** -60
        for q in (0, N_LORA - 1, N_LORA // 2):
            lp, lm = list(self.lora), list(self.lora)
            lp[q] += h2
            lm[q] -= h2
            g2 = (objective(lp) - objective(lm)) / (2 * h2)
            assert abs(g2 - grad[q]) <= mpf("1e-25") * (1 + abs(grad[q])), (q, g2, grad[q])
        return self



# ------------------------------------------------------------------ inputs


def uniforms(seed, n, lo, hi):
    st = seed
    out = []
    for _ in range(n):
        st, z = splitmix64_next(st)
        u = (z >> 11) * 2.0 ** -53
        out.append(f32(lo + (hi - lo) * u))
    return out


def base_params(seed):
    b = []
    b += uniforms(seed + 1, H * IN0, -1.7 / math.sqrt(IN0), 1.7 / math.sqrt(IN0))
    b += uniforms(seed + 2, H, -0.2, 0.2)
    b += uniforms(seed + 3, H * H, -1.7 / math.sqrt(H), 1.7 / math.sqrt(H))
    b += uniforms(seed + 4, H, -0.2, 0.2)
    b += uniforms(seed + 5, D * H, -0.8, 0.8)
    b += uniforms(seed + 6, D, -0.1, 0.1)
    b += uniforms(seed + 7, NC * E, -1.0, 1.0)
    assert len(b) == N_BASE
    return b


def lora_params(seed, scale):
    lo = []
    for k, (n, fan) in enumerate(((R * IN0, IN0), (H * R, R), (R * H, H), (H * R, R), (R * H, H), (D * R, R))):
        a = scale / math.sqrt(fan)
        lo += uniforms(seed + 11 + k, n, -a, a)
    assert len(lo) == N_LORA
    return lo


def pairs_input(seed, n):
    """Offline pairs (winner first): two uniform random images per pair, the winner with the larger
    AESTHETIC reward (as dpo_make_pairs orders them)."""
    prs, cls = [], []
    for i in range(n):
        a = uniforms(seed + 31 + 2 * i, D, -1.0, 1.0)
        b = uniforms(seed + 32 + 2 * i, D, -1.0, 1.0)
        ra, rb = reward([mpf(v) for v in a]), reward([mpf(v) for v in b])
        assert abs(ra - rb) > 0.1
        prs.append((a, b) if ra > rb else (b, a))
        cls.append(i % NC)
    return prs, cls


METHOD_DEFAULTS = {
    # docs/trainers.md defaults, with the trained steps adjusted for T = 4 and N = 8
    "d3po": dict(beta=0.1, lp_mode=1, train_from=0, train_every=1),
    "diffusion-dpo": dict(beta=500.0, lp_mode=1),
    "tailorpo": dict(beta=0.1, train_every=2),
    "tailorpo-g": dict(beta=0.1, train_every=2),
    "rdpo": dict(beta=0.1, lam=0.5, train_every=2),
    "rdpo-fixed": dict(beta=0.1, lam=0.5, train_every=2),
    "spo": dict(beta=10.0, lp_mode=1, train_from=0, k=4, kappa=6),
    "dspo": dict(beta=0.05, lp_mode=1),
}
METHOD_ID = {"d3po": 0, "diffusion-dpo": 1, "tailorpo": 2, "tailorpo-g": 3, "rdpo": 4, "rdpo-fixed": 5,
             "spo": 6, "dspo": 7}
REF = {
    "d3po": "D3PO (Yang et al.) as restated in TailorPO eq. 5, 8; public-code clamp (docs/vectors.md 5.4)",
    "diffusion-dpo": "DSPO eq. 7 (Wallace et al.), docs/vectors.md 5.14",
    "tailorpo": "TailorPO eq. 10-12, 21",
    "tailorpo-g": "TailorPO eq. 10-14, 21",
    "rdpo": "RDPO eq. 6, 9, 10 (as printed)",
    "rdpo-fixed": "RDPO eq. 6, 9, 10 (intended penalty sign)",
    "spo": "SPO eq. 3-5 (public code)",
    "dspo": "DSPO eq. 11, 13, 14, app. B (public code)",
}

# per method: (case seed, LoRA scale, batch, iteration); chosen so that every decision is far
# from its threshold (asserted) and the LoRA moves the model noticeably
CASES = [
    ("d3po", 11, 0.5, 2, 3, {}),
    ("diffusion-dpo", 12, 0.5, 2, 3, {}),
    ("tailorpo", 13, 0.5, 2, 3, {}),
    ("tailorpo-g", 14, 0.5, 2, 3, {}),
    ("rdpo", 15, 0.5, 2, 3, {}),
    ("rdpo-fixed", 15, 0.5, 2, 3, {}),
    ("spo", 31, 0.5, 2, 3, {}),
    ("dspo", 18, 0.5, 2, 3, {}),
    # the other rewards (reward 1 COMPRESS, 2 CLASSMATCH: the prompt's class reaches the reward)
    # and a non-random SPO resampler (1 winner)
    ("tailorpo-g", 41, 0.5, 2, 1, {"reward": 2}),
    ("spo", 55, 0.5, 2, 2, {"reward": 1, "resampler": 1}),
]

GRAD_REL = 1e-4   # normwise relative tolerance of the gradient and of the loss (docs/vectors.md 8)


def adamw(p, m, v, g, step, lr_, b1, b2, eps, wd):
    m2 = b1 * m + (1 - b1) * g
    v2 = b2 * v + (1 - b2) * g * g
    bc1, bc2 = 1 - b1 ** step, 1 - b2 ** step
    ratio = (m2 / bc1) / (mpmath.sqrt(v2 / bc2) + eps)
    return p - lr_ * (ratio + wd * p), m2, v2, ratio


def f32r(x):
    return f32(float(x))


def build_case(spec, idx, verbose=False):
    method, seed, scale, batch, it, extra = spec
    md = METHOD_DEFAULTS[method]
    cfg = dict(method=method, seed=1000 + seed, it=it, batch=batch, eta=1.0, lp_mode=md.get("lp_mode", 0),
               beta=md["beta"], **{"lambda": md.get("lam", 0.0)})
    cfg.update(clip_eps=0.1, train_from=md.get("train_from", 0), train_every=md.get("train_every", 1),
               k=md.get("k", 2), spo_thr=0.3, kappa=md.get("kappa", 750), g_eta_min=0.1, g_eta_max=0.2,
               g_delta=0.5, reward=0, resampler=0)
    cfg.update(extra)
    base = base_params(100 * seed)
    lora = lora_params(100 * seed, scale)
    pairs = pair_cls = None
    if method in ("diffusion-dpo", "dspo"):
        pairs, pair_cls = pairs_input(100 * seed, 3)
    itr = Iter(cfg, base, lora, pairs, pair_cls).run()
    grad = itr.grad
    gmax = max(abs(v) for v in grad)
    assert gmax > 0
    # AdamW state: step it + 1 with m, v of the scale of the gradient (inputs)
    ms = uniforms(100 * seed + 51, N_LORA, -1.0, 1.0)
    vs = uniforms(100 * seed + 52, N_LORA, 0.5, 2.0)
    m_in = [f32(float(a * gmax)) for a in ms]
    v_in = [f32(float(a * gmax * gmax)) for a in vs]
    lr_, b1, b2, eps, wd = f32(0.01), f32(0.9), f32(0.999), f32(1e-8), f32(0.01)
    step = it + 1
    new_p, new_m, new_v, sens = [], [], [], 0
    for q in range(N_LORA):
        p2, m2, v2, _ = adamw(mpf(lora[q]), mpf(m_in[q]), mpf(v_in[q]), grad[q], step, mpf(lr_), mpf(b1), mpf(b2),
                              mpf(eps), mpf(wd))
        new_p.append(p2)
        new_m.append(m2)
        new_v.append(v2)
        # sensitivity of p2 to the gradient (central difference), for the tolerance
        dg = gmax * mpf("1e-20")
        pa = adamw(mpf(lora[q]), mpf(m_in[q]), mpf(v_in[q]), grad[q] + dg, step, mpf(lr_), mpf(b1), mpf(b2), mpf(eps), mpf(wd))[0]
        pb = adamw(mpf(lora[q]), mpf(m_in[q]), mpf(v_in[q]), grad[q] - dg, step, mpf(lr_), mpf(b1), mpf(b2), mpf(eps), mpf(wd))[0]
        sens = max(sens, abs((pa - pb) / (2 * dg)))
    gtol = GRAD_REL * gmax  # the gradient's absolute tolerance
    cs = Case("train-f32-%04d" % idx, "train_iter." + method, [REF[method], "docs/trainers.md"], "f32")
    cs.note("One iteration of `%s` on the tiny configuration of docs/vectors.md section 8; reward %s%s." % (
        method, ("AESTHETIC", "COMPRESS", "CLASSMATCH")[cfg["reward"]],
        ", resampler %s" % ("random", "winner", "loser", "none")[cfg["resampler"]] if method == "spo" else ""))
    for line in itr.log:
        cs.note(line)
    sm = itr.marg.smallest()
    if sm:
        cs.note("smallest decision margin (relative): %s  (%s)" % (mpmath.nstr(sm[0], 3), sm[1]))
    cs.note("gradient: central difference (h = 2^-70) of the surrogate objective; max |grad| = %s" % mpmath.nstr(gmax, 6))
    for name, v in (("seed", cfg["seed"]), ("it", it), ("batch", batch), ("num_steps", T),
                    ("num_train_steps", NTRAIN), ("dim", D), ("hidden", H), ("temb", TE), ("n_classes", NC),
                    ("cemb", E), ("lora_rank", R), ("lp_mode", cfg["lp_mode"]), ("train_from", cfg["train_from"]),
                    ("train_every", cfg["train_every"]), ("k", cfg["k"]), ("kappa", cfg["kappa"]),
                    ("reward", cfg["reward"]), ("resampler", cfg["resampler"]), ("guide_jac", 0)):
        cs.param(name, v, integer=True)
    for name, v in (("lora_alpha", ALPHA), ("eta", cfg["eta"]), ("beta", cfg["beta"]), ("lambda", cfg["lambda"]),
                    ("clip_eps", cfg["clip_eps"]), ("spo_thr", cfg["spo_thr"]), ("guide_eta_min", cfg["g_eta_min"]),
                    ("guide_eta_max", cfg["g_eta_max"]), ("guide_delta", cfg["g_delta"]), ("lr", lr_),
                    ("beta1", b1), ("beta2", b2), ("adam_eps", eps), ("weight_decay", wd)):
        cs.param(name, v)
    cs.inp("alphas_cumprod", AC)
    cs.inp("base", base)
    cs.inp("lora", lora)
    cs.inp("adam_m", m_in)
    cs.inp("adam_v", v_in)
    if pairs is not None:
        flat = []
        for a, b in pairs:
            flat += a + b
        cs.inp("pairs", flat)
        cs.inp("pair_cls", [float(v) for v in pair_cls])
    # outputs
    lmax = max(abs(v) for v in itr.losses)
    cs.out("loss", [f32r(v) for v in itr.losses], "rel %s" % hexf(GRAD_REL))
    cs.out("terms", [len(p[0]) for p in itr.prompts], integer=True)
    if method not in ("diffusion-dpo", "dspo"):
        rws = [p[1] for p in itr.prompts]
        cs.out("reward", [f32r(v) for v in rws], "rel %s" % hexf(GRAD_REL))
    cs.out("grad", [f32r(v) for v in grad], "rel %s" % hexf(GRAD_REL))
    u32 = 2.0 ** -24
    pmax = max(abs(v) for v in new_p)
    cs.out("lora_new", [f32r(v) for v in new_p],
           "abs %s" % hexf(float(2 * sens * gtol + 4 * u32 * pmax)))
    mmax = max(abs(v) for v in new_m)
    cs.out("adam_m_new", [f32r(v) for v in new_m], "abs %s" % hexf(float(2 * (1 - mpf(b1)) * gtol + 4 * u32 * mmax)))
    vmax = max(abs(v) for v in new_v)
    cs.out("adam_v_new", [f32r(v) for v in new_v],
           "abs %s" % hexf(float(2 * (1 - mpf(b2)) * 2 * (gmax + gtol) * gtol + 4 * u32 * vmax)))
    if verbose:
        print("\n".join(itr.log))
        print("losses", [mpmath.nstr(v, 8) for v in itr.losses], "gmax", mpmath.nstr(gmax, 5),
              "smallest margin", sm and (mpmath.nstr(sm[0], 3), sm[1]), "lmax", lmax)
    return cs


def build(verbose=False):
    return [build_case(spec, i + 1, verbose) for i, spec in enumerate(CASES)]


if __name__ == "__main__":
    # development aid: python3 fam_train.py [case numbers, 1-based] prints each case's decisions
    import sys
    import time
    for k in ([int(a) for a in sys.argv[1:]] or range(1, len(CASES) + 1)):
        t0 = time.time()
        build_case(CASES[k - 1], k, True)
        print(CASES[k - 1][0], "%.1f s" % (time.time() - t0))
