"""Every loss of include/diffpo_loss.h with its gradients, and the step-wise
selection functions.  Arrays: float32 or float64 NumPy arrays or CPU torch
tensors, all of one dtype and shape; the loss sums over every element (one
pair per call: flatten a pair's tensors, or call once per pair).

Each pair loss returns a PairLoss (DDPO's, of one sample, a DdpoLoss): the
scalars of dpo_pair_result (float) and
`grads`, a dict of gradient arrays of the inputs' kind, dtype and shape
(float32 gradients are the double gradients rounded once).  docs/losses.md
gives each function's paper, equation and reduction; docs/python.md maps
the names."""
import ctypes as C

import numpy as np

from . import _capi
from ._core import arr, check, choice, empty_like, integer, is_torch, mode, real, same, to_kind

_RESULT_FIELDS = ("loss", "z", "sig_neg", "lr_w", "lr_l", "dl_dlr_w", "dl_dlr_l")


class PairLoss:
    """loss, z (the sigmoid's argument), sig_neg = sigma(-z), lr_w / lr_l
    (log-ratios, or for the epsilon forms the error differences D_w / D_l),
    dl_dlr_w / dl_dlr_l, and grads {name: array}."""
    __slots__ = _RESULT_FIELDS + ("grads",)

    def __init__(self, res, grads):
        for f in _RESULT_FIELDS:
            setattr(self, f, getattr(res, f))
        self.grads = grads

    def __repr__(self):
        return "PairLoss(loss=%r, z=%r, lr_w=%r, lr_l=%r, grads=[%s])" % (
            self.loss, self.z, self.lr_w, self.lr_l, ", ".join(self.grads))


def _call(cname, table, args, names, grad_names, params, extra=(), want_grads=True):
    """Checks args, allocates the gradients, calls table[prec] as
    fn(res, *grads, *args, n, *extra, params)."""
    a = same(args, names, on=True)
    n = a[0].size
    if n == 0:
        raise ValueError("%s: empty" % names[0])
    if a[0].dev is not None:  # CUDA tensors: include/diffpo_cuda.h (_cuda.py)
        from . import _cuda
        return _cuda.loss(cname, a, grad_names, params, extra, want_grads)
    grads, ptrs = {}, []
    for g in grad_names:
        if want_grads:
            v, p = empty_like(a[0])
            grads[g] = v
            ptrs.append(p)
        else:
            ptrs.append(None)
    res = _capi.PairResult()
    fn = table[a[0].prec]
    check(fn(C.byref(res), *ptrs, *[x.ptr for x in a], n, *extra, params), "%s_%s" % (cname, a[0].prec))
    return PairLoss(res, grads)


def logratio(x, mu, mu_ref, sigma, logprob="sum"):
    """log N(x; mu, sigma^2 I) - log N(x; mu_ref, sigma^2 I) (direct form)."""
    a = same((x, mu, mu_ref), ("x", "mu", "mu_ref"))
    out = C.c_double()
    fn = _capi.logratio[a[0].prec]
    check(fn(C.byref(out), a[0].ptr, a[1].ptr, a[2].ptr, a[0].size, real(sigma, "sigma"), mode(logprob)),
          "dpo_logratio_" + a[0].prec)
    return out.value


def gauss_logprob(x, mean, sigma, logprob="sum"):
    """log N(x; mean, sigma^2 I) per sample (batch-first: row b of a (B, ...)
    array; a 1-D array is one sample), float64 (B,): the step log-density
    (dpo_step_logprob) of a given x.  float32 inputs use sigma rounded to
    float32, as the library's float32 step coefficients hold it."""
    a = same((x, mean), ("x", "mean"), on=True)
    batch = a[0].shape[0] if len(a[0].shape) >= 2 else 1
    if a[0].size == 0:
        raise ValueError("x: empty")
    if a[0].dev is not None:  # CUDA tensors: dpo_cuda_step_logprob_f32
        from . import _cuda
        c = _capi.StepCoefF32()
        c.sigma = real(sigma, "sigma")
        return _cuda.gauss_logprob(a[0], a[1], c, mode(logprob))
    if a[0].prec == "f32":
        c = _capi.StepCoefF32()
        fn = _capi.step_logprob_f32
    else:
        c = _capi.StepCoefF64()
        fn = _capi.step_logprob_f64
    c.sigma = real(sigma, "sigma")
    out = np.empty(batch, dtype=np.float64)
    check(fn(out.ctypes.data, a[0].ptr, a[1].ptr, batch, a[0].size // batch, C.byref(c),
             mode(logprob)), "dpo_step_logprob_" + a[0].prec)
    return to_kind(out, a[0])


def stepdpo(x_w, mu_w, mu_ref_w, x_l, mu_l, mu_ref_l, beta, sigma, logprob="sum", grads=True):
    """Step DPO / D3PO (TailorPO eq. 5, 8, 19): winner and loser from
    different parents.  grads: 'mu_w', 'mu_l'."""
    p = _capi.PairParams(real(beta, "beta"), real(sigma, "sigma"), mode(logprob))
    return _call("dpo_stepdpo", _capi.stepdpo, (x_w, mu_w, mu_ref_w, x_l, mu_l, mu_ref_l),
                 ("x_w", "mu_w", "mu_ref_w", "x_l", "mu_l", "mu_ref_l"), ("mu_w", "mu_l"), p, want_grads=grads)


def d3po_label(r0, r1):
    """+1 if r0 > r1, -1 if r0 < r1, 0 if equal."""
    v = C.c_int()
    check(_capi.d3po_label(C.byref(v), real(r0, "r0"), real(r1, "r1")), "dpo_d3po_label")
    return v.value


def d3po_code(x_0, mu_0, mu_ref_0, x_1, mu_1, mu_ref_1, label, sigma, beta=0.1, clip_eps=0.1, logprob="mean",
              grads=True):
    """The D3PO public code's clamped-ratio loss (label +1: sample 0 wins,
    -1: sample 1 wins, 0: tie).  grads: 'mu_0', 'mu_1'."""
    if label not in (-1, 0, 1):
        raise ValueError("label: need -1, 0 or 1, got %r" % (label,))
    p = _capi.ClipParams(real(beta, "beta"), real(clip_eps, "clip_eps"), real(sigma, "sigma"), mode(logprob))
    return _call("dpo_d3po_code", _capi.d3po_code, (x_0, mu_0, mu_ref_0, x_1, mu_1, mu_ref_1),
                 ("x_0", "mu_0", "mu_ref_0", "x_1", "mu_1", "mu_ref_1"), ("mu_0", "mu_1"), p, extra=(int(label),),
                 want_grads=grads)


def spo(x_w, x_l, mu, mu_ref, sigma, beta=10.0, clip_eps=0.1, logprob="mean", grads=True):
    """SPO's loss (the D3PO public-code form with both candidates from one
    parent, label +1): grads 'mu' = grad of the winner's side + the
    loser's, summed in double (as `diffpo loss` does) and rounded once to
    the input dtype, and the two sides 'mu_w', 'mu_l'."""
    r = d3po_code(x_w, mu, mu_ref, x_l, mu, mu_ref, 1, sigma, beta=beta, clip_eps=clip_eps, logprob=logprob,
                  grads=grads)
    if grads:
        g0, g1 = r.grads.pop("mu_0"), r.grads.pop("mu_1")
        if is_torch(g0):
            s = (g0.double() + g1.double()).to(g0.dtype)
        else:
            s = (g0.astype(np.float64) + g1.astype(np.float64)).astype(g0.dtype)
        r.grads.update(mu=s, mu_w=g0, mu_l=g1)
    return r


def tailorpo(x_w, x_l, mu, mu_ref, beta, sigma, logprob="sum", grads=True):
    """TailorPO (eq. 10, 11, 21): both candidates from one parent x_t.
    grads: 'mu'."""
    p = _capi.PairParams(real(beta, "beta"), real(sigma, "sigma"), mode(logprob))
    return _call("dpo_tailorpo", _capi.tailorpo, (x_w, x_l, mu, mu_ref), ("x_w", "x_l", "mu", "mu_ref"), ("mu",),
                 p, want_grads=grads)


def rdpo(x_w, x_l, mu, mu_ref, beta, lambda_, sigma, logprob="sum", variant="printed", grads=True):
    """RDPO (eq. 9, 10): variant 'printed' (z = delta - lambda Psi, eq. 9 as
    printed) or 'intended' (z = delta + lambda Psi).  grads: 'mu'."""
    p = _capi.RdpoParams(real(beta, "beta"), real(lambda_, "lambda_"), real(sigma, "sigma"), mode(logprob),
                         choice(_capi.RDPO_VARIANT, variant, "variant"))
    return _call("dpo_rdpo", _capi.rdpo, (x_w, x_l, mu, mu_ref), ("x_w", "x_l", "mu", "mu_ref"), ("mu",), p,
                 want_grads=grads)


def diffusion_dpo(eps_w, eps_l, eth_w, eref_w, eth_l, eref_l, beta, logprob="mean", grads=True):
    """Diffusion-DPO's epsilon-error loss (DSPO eq. 7).  grads: 'eth_w',
    'eth_l' (with respect to the model's epsilon predictions)."""
    p = _capi.EpsParams(real(beta, "beta"), mode(logprob))
    return _call("dpo_diffdpo", _capi.diffdpo, (eps_w, eps_l, eth_w, eref_w, eth_l, eref_l),
                 ("eps_w", "eps_l", "eth_w", "eref_w", "eth_l", "eref_l"), ("eth_w", "eth_l"), p, want_grads=grads)


def dspo(eps_w, eps_l, eth_w, eref_w, eth_l, eref_l, variant="code", beta=0.001, lambda_=None, c_t=None,
         stopgrad=False, grads=True):
    """DSPO (eq. 11, 13, 14).  variant 'code' (the public code: weight =
    beta_u = beta, mean) or 'paper' (lambda_ and c_t: weight lambda,
    beta_u = lambda c_t, sum).  stopgrad: sigma(u) held constant (the
    'dspo-sg' variant).  grads: 'eth_w', 'eth_l'."""
    if variant == "code":
        p = _capi.dspo_params_code(real(beta, "beta"), int(bool(stopgrad)))
    elif variant == "paper":
        if lambda_ is None or c_t is None:
            raise ValueError("lambda_: variant='paper' needs lambda_ and c_t")
        p = _capi.dspo_params_paper(real(lambda_, "lambda_"), real(c_t, "c_t"), int(bool(stopgrad)))
    else:
        raise ValueError("variant: need 'code' or 'paper', got %r" % (variant,))
    return _call("dpo_dspo", _capi.dspo, (eps_w, eps_l, eth_w, eref_w, eth_l, eref_l),
                 ("eps_w", "eps_l", "eth_w", "eref_w", "eth_l", "eref_l"), ("eth_w", "eth_l"), p, want_grads=grads)


# ---------------------------------------------------------------- DDPO
_DDPO_FIELDS = ("loss", "lr", "ratio", "adv", "dl_dlr", "clipped")


class DdpoLoss:
    """DDPO's loss of one sample: loss, lr = log pi_theta(x) - log pi_old(x),
    ratio = exp(lr), adv (after the clamp), dl_dlr, clipped (True when the
    ratio lies outside [1 - clip_eps, 1 + clip_eps]) and grads {'mu': array}
    (empty for ddpo_from_logratio or grads=False)."""
    __slots__ = _DDPO_FIELDS + ("grads",)

    def __init__(self, res, grads):
        for f in _DDPO_FIELDS:
            setattr(self, f, getattr(res, f))
        self.clipped = bool(res.clipped)
        self.grads = grads

    def __repr__(self):
        return "DdpoLoss(loss=%r, lr=%r, ratio=%r, adv=%r, clipped=%r, grads=[%s])" % (
            self.loss, self.lr, self.ratio, self.adv, self.clipped, ", ".join(self.grads))


def _ddpo_params(clip_eps, adv_clip, sigma, logprob):
    return _capi.DdpoParams(real(clip_eps, "clip_eps"), real(adv_clip, "adv_clip"), real(sigma, "sigma"),
                            mode(logprob))


def ddpo(x, mu, mu_old, adv, sigma, clip_eps=1e-4, adv_clip=5.0, logprob="mean", grads=True):
    """DDPO's clipped-ratio policy-gradient loss (Black et al.; ddpo-pytorch)
    of one sample's step x ~ N(mu_old, sigma^2 I): lr = log N(x; mu) -
    log N(x; mu_old) (logprob 'mean': divided by the element count, the
    public code's mean log-probability), ratio = exp(lr), A = clamp(adv,
    -adv_clip, adv_clip) (adv_clip 0: none), L = max(-A ratio, -A
    clamp(ratio, 1 - clip_eps, 1 + clip_eps)).  Defaults are the public
    code's.  grads: 'mu' = dL/dmu.  The public code averages L over the
    batch: scale each sample's gradient by 1/B.  Returns DdpoLoss."""
    a = same((x, mu, mu_old), ("x", "mu", "mu_old"))
    n = a[0].size
    if n == 0:
        raise ValueError("x: empty")
    p = _ddpo_params(clip_eps, adv_clip, sigma, logprob)
    g = {}
    pg = None
    if grads:
        g["mu"], pg = empty_like(a[0])
    res = _capi.DdpoResult()
    prec = a[0].prec
    check(_capi.ddpo[prec](C.byref(res), pg, a[0].ptr, a[1].ptr, a[2].ptr, n, real(adv, "adv"), p),
          "dpo_ddpo_" + prec)
    return DdpoLoss(res, g)


def ddpo_from_logratio(lr, adv, clip_eps=1e-4, adv_clip=5.0):
    """DDPO's loss from a log-ratio your code computed (log_prob -
    old_log_prob of one sample).  Returns DdpoLoss (no grads: dl_dlr is
    the derivative with respect to lr)."""
    p = _capi.DdpoParams(real(clip_eps, "clip_eps"), real(adv_clip, "adv_clip"), 1.0, 0)
    res = _capi.DdpoResult()
    check(_capi.ddpo_from_logratio(C.byref(res), real(lr, "lr"), real(adv, "adv"), p), "dpo_ddpo_from_logratio")
    return DdpoLoss(res, {})


def ddpo_advantages(reward, group, min_count, std_eps=1e-6):
    """DDPO's per-prompt advantages (ddpo-pytorch's per-prompt stat tracker,
    one batch, no history): adv[i] = (reward[i] - mean) / (std + std_eps)
    over the samples of prompt group[i] when there are at least min_count
    of them, else over all rewards; std is the population standard
    deviation.  reward: float64 (n,); group: n non-negative integer prompt
    ids (< 2^32).  Returns float64 (n,)."""
    a = _rewards(reward, "reward")
    if a.size == 0:
        raise ValueError("reward: empty")
    gr = np.asarray(group.detach().cpu().numpy() if is_torch(group) else group)
    if gr.shape != (a.size,):
        raise ValueError("group: shape %s, expected (%d,) (one prompt id per reward)" % (gr.shape, a.size))
    if gr.dtype.kind not in "iu" and not (gr.dtype.kind == "f" and np.all(gr == np.floor(gr))):
        raise TypeError("group: need integer prompt ids, got dtype %s" % gr.dtype)
    if gr.size and (np.any(gr < 0) or np.any(gr > 2 ** 32 - 1)):
        raise ValueError("group: prompt ids must lie in [0, 2^32 - 1]")
    g32 = np.ascontiguousarray(gr, dtype=np.uint32)
    mc = integer(min_count, "min_count", 0)
    out = np.empty(a.size, dtype=np.float64)
    check(_capi.ddpo_advantages(out.ctypes.data, a.ptr, g32.ctypes.data, a.size, mc, real(std_eps, "std_eps")),
          "dpo_ddpo_advantages")
    return to_kind(out, a)


# ---------------------------------------------------------------- TailorPO-G
def tailorpo_g_update(x, g, vjp=None, eta=0.1, delta=0.5, alpha=None, sign=1):
    """x+ = x - sign eta grad_x (r_high - r_t(x))^2 (TailorPO eq. 13, 14)
    from the reward gradient g = grad r at x0_hat and, when given, the
    model's vector-Jacobian product vjp = J_eps^T g (else the d eps/d x = 0
    approximation).  alpha: alphas_cumprod of the step's timestep."""
    if alpha is None:
        raise ValueError("alpha: the alphas_cumprod of the timestep is required")
    names, args = ["x", "g"], [x, g]
    if vjp is not None:
        names.append("vjp")
        args.append(vjp)
    a = same(args, names, on=True)
    if sign not in (1, -1):
        raise ValueError("sign: need +1 or -1, got %r" % (sign,))
    p = _capi.GuideParams(real(eta, "eta"), real(delta, "delta"), real(alpha, "alpha"), int(sign),
                          _capi.GUIDE_JAC["vjp" if vjp is not None else "no_eps"])
    if a[0].dev is not None:  # CUDA tensors: dpo_cuda_tailorpo_g_update_f32
        from . import _cuda
        return _cuda.tailorpo_g_update(a, p)
    out, po = empty_like(a[0])
    fn = _capi.tailorpo_g_update[a[0].prec]
    check(fn(po, a[0].ptr, a[1].ptr, a[2].ptr if vjp is not None else None, a[0].size, p),
          "dpo_tailorpo_g_update_" + a[0].prec)
    return out


def tailorpo_g_eta(i, T, eta_min=0.1, eta_max=0.2):
    """eta_t on the cosine schedule over [eta_min, eta_max]: eta(0) = eta_max."""
    v = C.c_double()
    check(_capi.tailorpo_g_eta(C.byref(v), real(i, "i"), real(T, "T"), real(eta_min, "eta_min"),
                               real(eta_max, "eta_max")), "dpo_tailorpo_g_eta")
    return v.value


# ---------------------------------------------------------------- selection
def _rewards(r, name):
    a = arr(r, name)
    if a.prec != "f64":
        raise TypeError("%s: float64 rewards/scores (pass .astype(np.float64) / .double())" % name)
    if len(a.shape) != 1:
        raise ValueError("%s: need a 1-D array of k values, got shape %s" % (name, a.shape))
    return a


def rank_desc(reward):
    """Candidate indices by descending reward (ties: lower index first),
    TailorPO eq. 12: winner order[0], loser order[-1]."""
    a = _rewards(reward, "reward")
    k = a.size
    out = (C.c_int * max(k, 1))()
    check(_capi.rank_desc(out, a.ptr, k), "dpo_rank_desc")
    return np.array(out[:k], dtype=np.int64)


def rdpo_delta_q(r_after, r_before, variant="printed"):
    """RDPO's step reward Delta Q (eq. 6) of k candidates: 'printed'
    r_before - r_after, 'gain' r_after - r_before.  float64 (k,)."""
    a = _rewards(r_after, "r_after")
    out = np.empty(a.size, dtype=np.float64)
    check(_capi.rdpo_delta_q(out.ctypes.data, a.ptr, real(r_before, "r_before"), a.size,
                             choice(_capi.DQ_VARIANT, variant, "variant")), "dpo_rdpo_delta_q")
    return out


def spo_select(score, t, thr=0.3, kappa=750):
    """SPO's pair (eq. 3-5): (best, worst, valid) of k candidate scores at
    timestep t; valid is False for t > kappa or when the softmax gap is not
    above thr (ties: no loss)."""
    a = _rewards(score, "score")
    b, w, v = C.c_int(), C.c_int(), C.c_int()
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)):
        raise TypeError("t: need an integer timestep, got %r" % (t,))
    check(_capi.spo_select(C.byref(b), C.byref(w), C.byref(v), a.ptr, a.size, int(t),
                           _capi.SpoParams(real(thr, "thr"), int(kappa))), "dpo_spo_select")
    return b.value, w.value, bool(v.value)


def spo_resample_index(seed, sample, step, k):
    """Which of k candidates continues the rollout (a pure function of
    seed, sample, step)."""
    v = C.c_uint32()
    check(_capi.spo_resample_index(C.byref(v), int(seed), int(sample), int(step), int(k)),
          "dpo_spo_resample_index")
    return v.value
