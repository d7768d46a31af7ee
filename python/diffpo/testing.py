"""Regression-test your own DDIM step or preference loss against diffpo.

check_ddim_step(step_fn, scheduler, ...)
    your step with log-probability (DDIMScheduler.step-like or DDPO's
    ddim_step_with_logprob) against diffpo's step on the same alphas table.
check_loss(loss_fn, method, ...)
    your loss and gradient against the golden vectors shipped with the
    package (expected values from an independent 60-digit generator).

Both raise AssertionError with a message that names the case, the output,
the size of the difference, the tolerance, and, where one of diffpo's
other conventions reproduces your values, which convention differs (sum vs
mean log-probability, clamped vs diffusers previous timestep, reduction or
sign of a loss).  They return a short report string on success.

Tolerances (stated here and in docs/python.md):

* Step log-probability, float32 inputs: |yours - diffpo| <= atol + rtol |diffpo|
  per sample, with rtol = 1e-5 and atol = 64 eps32 (1 + |log sigma| + log(2 pi)/2)
  times d for logprob='sum' (1 for 'mean').  Why: your step in float32 forms
  mu with a few roundings per element (each within eps32 = 2^-23 relative of
  |x0| ~ |x|), so (x_prev - mu)/sigma carries a relative error of order
  eps32 |x|/(sigma |z|); the per-element term (z^2/2 + log sigma + ...) then
  differs by about eps32 (1 + |log sigma|) and the float32 mean or sum over
  d elements adds about log2(d) eps32 relative.  64 eps32 covers those: an
  eager PyTorch DDPO step differs from diffpo by at most 1.4e-7 on the
  default cases (mean), over 100x inside the bound, while a wrong
  convention moves the value by a factor d (sum vs mean) or by O(1)
  (another alpha_prev at the last step).
  float64 inputs: the same with eps64 = 2^-52 and rtol = 1e-12.
* Losses, float64 cases: normwise |yours - expected| <= rtol max|expected| per
  output with rtol = 1e-9.  Why: the golden values are exact to the last bit
  and a float64 implementation that differs from diffpo only in summation
  order, the form of log sigma(z), or forming the log-ratio as a difference
  of two log-densities stays below about 1e-11 relative on these cases (the
  vectors' own ulp bounds, docs/vectors.md, are at most ~1e-13 relative for
  diffpo itself).  A changed convention (reduction, sign, beta, penalty
  direction) is off by 1e-3 relative or more on every case.
  float32 cases: rtol = 1e-5 (a float32 implementation accumulates about
  log2(d) eps32 relative in its sums).
"""
import numpy as np

from . import losses as _L
from ._core import DiffpoError
from . import vectors as _V
from .noise import normal
from .schedule import DDIMSchedule

EPS32 = 2.0 ** -23
EPS64 = 2.0 ** -52


def _np(v):
    if hasattr(v, "detach"):
        v = v.detach().cpu().numpy()
    return np.asarray(v, dtype=np.float64)


def _fmt_case(name, output, diff, tol_text, extra=""):
    msg = "diffpo.testing: case '%s', output %s: max |diff| %.3g (tolerance %s)" % (name, output, diff, tol_text)
    return msg + ("\n" + extra if extra else "")


# ---------------------------------------------------------------- the step
def _schedule_for(scheduler, prev_rule):
    """A DDIMSchedule on the scheduler's own float32 alphas table."""
    cfg = dict(getattr(scheduler, "config", {}) or {})
    ac = _np(scheduler.alphas_cumprod).astype(np.float32)
    keep = {k: cfg[k] for k in ("num_train_timesteps", "set_alpha_to_one", "steps_offset", "prediction_type",
                                "clip_sample", "clip_sample_range", "timestep_spacing") if k in cfg}
    keep["num_train_timesteps"] = len(ac)
    return DDIMSchedule(alphas_cumprod=ac, prev_rule=prev_rule, **keep)


def _lp_tol(prec, logprob, d, sigma, rtol):
    eps = EPS32 if prec == "f32" else EPS64
    atol = 64 * eps * (1 + abs(np.log(sigma)) + 0.5 * np.log(2 * np.pi)) * (d if logprob == "sum" else 1)
    if rtol is None:
        rtol = 1e-5 if prec == "f32" else 1e-12
    return atol, rtol


def check_ddim_step(step_fn, scheduler, num_inference_steps=20, eta=1.0, logprob="mean", prev_rule="clamped",
                    shape=(2, 4, 8, 8), dtype="float32", seed=0, timesteps=None, rtol=None):
    """Checks step_fn(model_output, timestep, sample, eta=eta,
    prev_sample=prev) -> (prev_sample, log_prob[, mean]) against diffpo.

    scheduler: your diffusers scheduler (its .config and float32
    .alphas_cumprod are used; set_timesteps(num_inference_steps) is
    called on it when it has the method).  logprob / prev_rule: the
    conventions your step is meant to follow ('mean' + 'clamped' is
    DDPO's; 'sum' + 'diffusers' the papers' density with diffusers'
    timesteps).  Inputs are seeded diffpo.normal tensors (torch tensors
    when torch is installed, else NumPy) of `shape`; prev is diffpo's
    x_{t-1} = mu + sigma z, so your log_prob is compared on the same
    point.  Timesteps: the first, a middle and the last of the schedule
    unless given."""
    try:
        import torch
    except Exception:  # pragma: no cover
        torch = None
    prec = "f32" if np.dtype(dtype) == np.float32 else "f64"
    if hasattr(scheduler, "set_timesteps"):
        scheduler.set_timesteps(num_inference_steps)
    sched = _schedule_for(scheduler, prev_rule)
    ts = sched.timesteps(num_inference_steps)
    if timesteps is None:
        idx = sorted({0, len(ts) // 2, len(ts) - 1})
    else:
        idx = [int(np.nonzero(ts == t)[0][0]) for t in timesteps]
    d = int(np.prod(shape[1:])) if len(shape) > 1 else int(np.prod(shape))
    B = shape[0] if len(shape) > 1 else 1
    other_rule = "diffusers" if prev_rule == "clamped" else "clamped"
    other_lp = "sum" if logprob == "mean" else "mean"
    report = []
    for k in idx:
        t = int(ts[k])
        name = "t=%d (step %d of %d)" % (t, k, len(ts))
        x = normal(shape, seed=seed, stream="user", sample=list(range(B)), step=2 * k, dtype=np.dtype(dtype))
        e = normal(shape, seed=seed, stream="user", sample=list(range(B)), step=2 * k + 1, dtype=np.dtype(dtype))
        sigma = float(sched.coefficients(t, num_inference_steps, eta=eta, dtype=dtype)["sigma"])
        if sigma == 0:
            report.append("%s: skipped (sigma = 0 under prev_rule=%r: no log-probability)" % (name, prev_rule))
            continue
        ref = sched.step(e, t, x, eta=eta, noise=dict(seed=seed, step=k), logprob=logprob,
                         num_inference_steps=num_inference_steps)
        if torch is not None:
            args = (torch.from_numpy(e), t, torch.from_numpy(x))
            prev_in = torch.from_numpy(ref.prev_sample)
        else:
            args, prev_in = (e, t, x), ref.prev_sample
        got = step_fn(*args, eta=eta, prev_sample=prev_in)
        if not isinstance(got, (tuple, list)) or len(got) < 2:
            raise AssertionError("diffpo.testing: step_fn must return (prev_sample, log_prob[, mean]), got %r"
                                 % type(got).__name__)
        lp = _np(got[1]).reshape(-1)
        want = _np(ref.log_prob)
        atol, rt = _lp_tol(prec, logprob, d, sigma, rtol)
        tol_text = "%.2g + %.2g*|ref|" % (atol, rt)
        if lp.shape != want.shape:
            raise AssertionError("diffpo.testing: case '%s', output log_prob: shape %s, expected (%d,) (one per sample)"
                                 % (name, lp.shape, B))
        diff = np.abs(lp - want)
        if not np.all(np.isfinite(lp)) or np.any(diff > atol + rt * np.abs(want)):
            hints = []
            for lpm, rule in ((other_lp, prev_rule), (logprob, other_rule), (other_lp, other_rule)):
                try:
                    alt = sched.step(e, t, x, eta=eta, prev_sample=ref.prev_sample, logprob=lpm,
                                     num_inference_steps=num_inference_steps, prev_rule=rule)
                except DiffpoError as err:
                    if err.status == "DPO_ERR_SIGMA_ZERO" and rule != prev_rule and not np.all(np.isfinite(lp)):
                        hints.append("your log_prob is not finite: under prev_rule=%r (%s) sigma = 0 at this "
                                     "step, so your step seems to use that rule; the reference uses prev_rule=%r"
                                     % (rule, _RULES[rule], prev_rule))
                        break
                    continue
                a2, r2 = _lp_tol(prec, lpm, d, sigma, rtol)
                if alt.log_prob is not None and np.all(np.abs(lp - alt.log_prob) <= a2 + r2 * np.abs(alt.log_prob)):
                    hints.append(_convention_text(logprob, lpm, prev_rule, rule))
                    break
            if not hints:
                hints.append("no other diffpo convention (sum/mean log-probability, clamped/diffusers previous "
                             "timestep) reproduces your values: check alpha_prev, sigma and the mean")
            extra = ("yours %s, diffpo %s (prev_rule=%r, logprob=%r, eta=%r)\nconvention: %s"
                     % (np.array2string(lp, precision=8), np.array2string(want, precision=8), prev_rule, logprob,
                        eta, hints[0]))
            raise AssertionError(_fmt_case(name, "log_prob", float(np.max(diff)), tol_text, extra))
        if len(got) > 2 and got[2] is not None:
            mu = _np(got[2])
            md = float(np.max(np.abs(mu - _np(ref.mean))))
            mtol = 8 * (EPS32 if prec == "f32" else EPS64) * max(1.0, float(np.max(np.abs(_np(ref.mean)))))
            if md > mtol:
                raise AssertionError(_fmt_case(name, "mean", md, "%.2g" % mtol))
        report.append("%s: log_prob max |diff| %.3g" % (name, float(np.max(diff))))
    return "\n".join(report)


_RULES = {"clamped": "previous timestep clamped to [0, N-1], DDPO / D3PO / SPO code",
          "diffusers": "diffusers' previous timestep: a negative one uses final_alpha_cumprod"}


def _convention_text(lp_ref, lp_alt, rule_ref, rule_alt):
    parts = []
    if lp_alt != lp_ref:
        what = {"sum": "summed over the elements (the papers' density of the whole tensor)",
                "mean": "averaged over the elements (DDPO / D3PO / SPO code)"}
        parts.append("your values match diffpo with logprob=%r (%s); the reference uses logprob=%r (%s)"
                     % (lp_alt, what[lp_alt], lp_ref, what[lp_ref]))
    if rule_alt != rule_ref:
        parts.append("your values match diffpo with prev_rule=%r (%s); the reference uses prev_rule=%r (%s)"
                     % (rule_alt, _RULES[rule_alt], rule_ref, _RULES[rule_ref]))
    return "; ".join(parts)


# ---------------------------------------------------------------- the losses
# method -> (diffpo function, input names in call order, params, output names)
_METHODS = {
    "stepdpo": ("x_w mu_w mu_ref_w x_l mu_l mu_ref_l", "beta sigma", "lr_w lr_l z loss grad_mu_w grad_mu_l"),
    "tailorpo": ("x_w x_l mu mu_ref", "beta sigma", "lr_w lr_l z loss grad_mu"),
    "d3po_code": ("x_0 mu_0 mu_ref_0 x_1 mu_1 mu_ref_1", "beta clip_eps sigma label",
                  "lr_0 lr_1 z loss grad_mu_0 grad_mu_1"),
    "rdpo.printed": ("x_w x_l mu mu_ref", "beta lambda sigma", "lr_w lr_l z loss grad_mu"),
    "rdpo.intended": ("x_w x_l mu mu_ref", "beta lambda sigma", "lr_w lr_l z loss grad_mu"),
    "spo.loss": ("x_w x_l mu mu_ref", "beta clip_eps sigma", "lr_w lr_l z loss grad_mu"),
    "diffusion_dpo": ("eps eth_w eref_w eth_l eref_l", "beta", "d_w d_l u loss grad_eth_w grad_eth_l"),
    "dspo.code": ("eps eth_w eref_w eth_l eref_l", "beta", "d_w d_l u loss grad_eth_w grad_eth_l"),
    "dspo.code_sg": ("eps eth_w eref_w eth_l eref_l", "beta", "d_w d_l u loss grad_eth_w grad_eth_l"),
    "dspo.paper": ("eps eth_w eref_w eth_l eref_l", "lambda c_t", "d_w d_l u loss grad_eth_w grad_eth_l"),
    "dspo.paper_sg": ("eps eth_w eref_w eth_l eref_l", "lambda c_t", "d_w d_l u loss grad_eth_w grad_eth_l"),
    "ddpo": ("x mu mu_old", "clip_eps adv_clip sigma adv", "lr ratio adv loss dl_dlr clipped grad_mu"),
}

METHODS = sorted(_METHODS)


def diffpo_loss(method, case, logprob=None, as_dtype=None):
    """diffpo's own outputs for a golden-vector case, as a dict named like
    the case's outputs (float64 arrays or floats).  logprob overrides the
    case's reduction (used to diagnose a convention)."""
    fn = case.fn if method is None else method
    dt = as_dtype or (np.float32 if case.prec == "f32" else np.float64)
    i = {k: v.astype(dt) for k, v in case.inputs.items()}
    p = case.params
    red = logprob or case.reduce
    if fn == "stepdpo" or fn == "stepdpo.chain":
        r = _L.stepdpo(i["x_w"], i["mu_w"], i["mu_ref_w"], i["x_l"], i["mu_l"], i["mu_ref_l"], p["beta"], p["sigma"],
                       red)
        g = {"grad_mu_w": r.grads["mu_w"], "grad_mu_l": r.grads["mu_l"]}
        out = dict(lr_w=r.lr_w, lr_l=r.lr_l, z=r.z, loss=r.loss, **g)
        if fn.endswith(".chain"):
            out.update(_chain(case, dt, {"w": r.grads["mu_w"], "l": r.grads["mu_l"]}))
        return out
    if fn in ("tailorpo", "tailorpo.chain"):
        r = _L.tailorpo(i["x_w"], i["x_l"], i["mu"], i["mu_ref"], p["beta"], p["sigma"], red)
        out = dict(lr_w=r.lr_w, lr_l=r.lr_l, z=r.z, loss=r.loss, grad_mu=r.grads["mu"])
        if fn.endswith(".chain"):
            out.update(_chain(case, dt, {"": r.grads["mu"]}))
        return out
    if fn == "d3po_code":
        r = _L.d3po_code(i["x_0"], i["mu_0"], i["mu_ref_0"], i["x_1"], i["mu_1"], i["mu_ref_1"], int(p["label"]),
                         p["sigma"], beta=p["beta"], clip_eps=p["clip_eps"], logprob=red)
        return dict(lr_0=r.lr_w, lr_1=r.lr_l, z=r.z, loss=r.loss, grad_mu_0=r.grads["mu_0"], grad_mu_1=r.grads["mu_1"])
    if fn in ("rdpo.printed", "rdpo.intended"):
        r = _L.rdpo(i["x_w"], i["x_l"], i["mu"], i["mu_ref"], p["beta"], p["lambda"], p["sigma"], red,
                    variant=fn.split(".")[1])
        return dict(lr_w=r.lr_w, lr_l=r.lr_l, z=r.z, loss=r.loss, grad_mu=r.grads["mu"])
    if fn == "spo.loss":
        r = _L.spo(i["x_w"], i["x_l"], i["mu"], i["mu_ref"], p["sigma"], beta=p["beta"], clip_eps=p["clip_eps"],
                   logprob=red)
        gsum = r.grads["mu_w"].astype(np.float64) + r.grads["mu_l"].astype(np.float64)
        return dict(lr_w=r.lr_w, lr_l=r.lr_l, z=r.z, loss=r.loss, grad_mu=gsum)
    if fn == "diffusion_dpo" or fn.startswith("dspo."):
        args = (i["eps"], i["eps"], i["eth_w"], i["eref_w"], i["eth_l"], i["eref_l"])
        if fn == "diffusion_dpo":
            r = _L.diffusion_dpo(*args, beta=p["beta"], logprob=red)
        else:
            variant = fn.split(".")[1]
            sg = variant.endswith("_sg")
            if variant.startswith("code"):
                r = _L.dspo(*args, variant="code", beta=p["beta"], stopgrad=sg)
            else:
                r = _L.dspo(*args, variant="paper", lambda_=p["lambda"], c_t=p["c_t"], stopgrad=sg)
        return dict(d_w=r.lr_w, d_l=r.lr_l, u=r.z, loss=r.loss, grad_eth_w=r.grads["eth_w"],
                    grad_eth_l=r.grads["eth_l"])
    if fn == "ddpo":
        r = _L.ddpo(i["x"], i["mu"], i["mu_old"], p["adv"], p["sigma"], clip_eps=p["clip_eps"],
                    adv_clip=p["adv_clip"], logprob=red)
        return dict(lr=r.lr, ratio=r.ratio, adv=r.adv, loss=r.loss, dl_dlr=r.dl_dlr, clipped=int(r.clipped),
                    grad_mu=r.grads["mu"])
    if fn == "ddpo.advantages":
        return dict(adv=_L.ddpo_advantages(case.inputs["reward"], case.inputs["group"].astype(np.int64),
                                           int(p["min_count"]), std_eps=p["std_eps"]))
    raise ValueError("method: no loss %r (choose from %s)" % (fn, ", ".join(METHODS)))


def _chain(case, dt, grads):
    """The chain-rule outputs of a *.chain case: d mu/d out for epsilon and v
    prediction from the case's (a_t, a_prev, sigma), and the gradients with
    respect to epsilon and v."""
    from .schedule import ddim_coefficients, dmu_dout, grad_mu_to_out
    p = case.params
    ce = ddim_coefficients(p["a_t"], p["a_prev"], p["sigma"], "epsilon", dt)
    cv = ddim_coefficients(p["a_t"], p["a_prev"], p["sigma"], "v_prediction", dt)
    out = {"k_eps": dmu_dout(ce), "k_v": dmu_dout(cv)}
    for side, g in grads.items():
        sfx = "_" + side if side else ""
        out["grad_eps" + sfx] = grad_mu_to_out(g, ce)
        out["grad_v" + sfx] = grad_mu_to_out(g, cv)
    return out


def check_loss(loss_fn, method, prec="f64", rtol=None, cases=None, array="numpy"):
    """Checks loss_fn against the golden vectors of `method` (one of
    diffpo.testing.METHODS: 'tailorpo', 'stepdpo', 'd3po_code',
    'rdpo.printed', 'rdpo.intended', 'spo.loss', 'diffusion_dpo',
    'dspo.code', 'dspo.code_sg', 'dspo.paper', 'dspo.paper_sg', 'ddpo').
    DDPO's cases pass x, mu, mu_old and the scalars clip_eps, adv_clip,
    sigma, adv; its outputs are lr, ratio, adv, loss, dl_dlr, clipped and
    grad_mu.

    loss_fn(**inputs, **params, logprob=reduction) -> dict with 'loss' and
    any of the case's other outputs (e.g. 'grad_mu', 'lr_w', 'z'); only
    the outputs you return are compared.  inputs are the case's arrays
    (float64 or float32 per prec, NumPy or torch per array), params its
    scalars (beta, sigma, lambda, ...; integers for label), logprob 'sum'
    or 'mean' (None for the DSPO variants whose reduction is fixed).  For
    the epsilon methods the shared noise is passed as eps."""
    if method not in _METHODS:
        raise ValueError("method: %r is not one of %s" % (method, ", ".join(METHODS)))
    sel = [c for c in (_V.cases(method) if cases is None else cases) if c.prec == prec]
    if not sel:
        raise ValueError("no %s golden vectors for %s" % (prec, method))
    if rtol is None:
        rtol = 1e-9 if prec == "f64" else 1e-5
    dt = np.float64 if prec == "f64" else np.float32
    if array == "torch":
        import torch
    for c in sel:
        ins = {k: v.astype(dt) for k, v in c.inputs.items()}
        if array == "torch":
            ins = {k: torch.from_numpy(v) for k, v in ins.items()}
        params = {k: (int(v) if k in ("label",) else v) for k, v in c.params.items()}
        got = loss_fn(**ins, **params, logprob=c.reduce)
        if not isinstance(got, dict) or "loss" not in got:
            raise AssertionError("diffpo.testing: loss_fn must return a dict with 'loss' (and gradients), got %r"
                                 % type(got).__name__)
        for name, exp in c.outputs.items():
            mine = _V.pick(got, name)
            if mine is None:
                continue
            if mine.shape != exp.shape:
                raise AssertionError(_fmt_case(c.name, name, float("nan"), "shape",
                                               "shape %s, expected %s" % (mine.shape, exp.shape)))
            M = float(np.max(np.abs(exp))) if exp.size else 0.0
            tol = rtol * max(M, 1e-300) if M > 0 else rtol
            diff = float(np.max(np.abs(mine - exp))) if exp.size else 0.0
            if not np.all(np.isfinite(mine)) or diff > tol:
                hint = _loss_hint(method, c, name, mine, exp, rtol)
                extra = ("yours %s, expected %s (%s, reduce %s, params %s)\nconvention: %s"
                         % (_short(mine), _short(exp), c.prec, c.reduce, _params_text(c.params), hint))
                raise AssertionError(_fmt_case(c.name, name, diff, "%.2g = %.1g*max|expected|" % (tol, rtol),
                                               extra))
    return "%d %s cases of %s within rtol %.1g" % (len(sel), prec, method, rtol)


def _short(v):
    return np.array2string(np.asarray(v)[:4], precision=10) + (" ..." if np.size(v) > 4 else "")


def _params_text(p):
    return ", ".join("%s=%.6g" % (k, v) for k, v in sorted(p.items()))


def _close(a, b, rtol):
    M = float(np.max(np.abs(b))) if np.size(b) else 0.0
    return np.size(a) == np.size(b) and np.all(np.abs(np.reshape(a, -1) - np.reshape(b, -1)) <= rtol * max(M, 1e-300))


def _loss_hint(method, case, name, mine, exp, rtol):
    if _close(mine, -exp, rtol):
        return "your %s is the negative of the expected one (sign convention: diffpo's loss is -log sigma(z) " \
               "and its gradients are those of that loss)" % name
    if case.reduce in ("sum", "mean"):
        other = "mean" if case.reduce == "sum" else "sum"
        try:
            alt = diffpo_loss(method, case, logprob=other, as_dtype=np.float64)
            a = _V.pick(alt, name)
            if a is not None and _close(mine, a, 1e-6):
                return ("your values match the %s reduction (log-probability / error %s over the elements); the "
                        "case uses %s" % (other, "summed" if other == "sum" else "averaged", case.reduce))
        except Exception:
            pass
    if method.startswith("rdpo."):
        other = "rdpo.intended" if method == "rdpo.printed" else "rdpo.printed"
        try:
            alt = diffpo_loss(other, case, as_dtype=np.float64)
            a = _V.pick(alt, name)
            if a is not None and _close(mine, a, 1e-6):
                return "your values match %s (the other sign of RDPO's penalty lambda Psi)" % other
        except Exception:
            pass
    nz = np.abs(exp) > 0
    if np.any(nz):
        ratio = mine[nz] / exp[nz]
        if np.all(np.abs(ratio - ratio[0]) <= 1e-6 * abs(ratio[0])):
            return "your %s is the expected one times %.6g (a scale: beta, sigma^2, a reduction or a factor 2?)" \
                   % (name, ratio[0])
    return "no simple convention change (sign, sum/mean, scale) explains the difference"
