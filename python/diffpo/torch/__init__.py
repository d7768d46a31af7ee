"""diffpo's losses as torch.autograd Functions: the forward pass is the C
library's loss, the backward pass its gradient (not autograd's derivative
of a re-typed formula), so `loss.backward()` reaches a model's parameters
through the step mean mu or the epsilon prediction.

    import diffpo.torch as dt
    mu = dt.step_mean(sched, eps_theta, t, x_t, eta=1.0)           # differentiable in eps_theta
    loss = dt.tailorpo(x_w, x_l, mu, mu_ref, beta=0.1, sigma=s)    # differentiable in mu
    loss.backward()

Every function takes one pair (tensors of any shape, summed over all
elements), or with batched=True a batch of pairs along dimension 0 (the
loss is then a (B,) tensor, one pair per row).  Losses are float64 0-d
tensors (the library computes them in double); gradients have the dtype of
the input they belong to.  Only the inputs named in each docstring are
differentiable: passing another input that requires grad raises, since
diffpo does not provide that derivative.  CPU tensors; CUDA tensors too
for the losses in a CUDA=1 build of the library (the losses' CUDA forms,
docs/python.md "CUDA tensors"), not for step_mean."""
import torch

from .. import losses as _L
from .._core import arr

__all__ = ["stepdpo", "d3po_code", "spo", "tailorpo", "rdpo", "diffusion_dpo", "dspo", "ddpo", "step_mean"]


class _Loss(torch.autograd.Function):
    @staticmethod
    def forward(ctx, fn, names, diff, grad_keys, kw, batched, *tensors):
        plain = [t.detach() for t in tensors]
        if batched:
            B = plain[0].shape[0] if plain[0].dim() > 0 else 0
            if B == 0:
                raise ValueError("%s: batched=True needs a batch dimension of at least one pair" % names[0])
            rows, grads = [], {k: [] for k in grad_keys}
            for b in range(B):
                r = fn(*[p[b] for p in plain], **kw)
                rows.append(r.loss)
                for k in grad_keys:
                    grads[k].append(r.grads[k])
            # CUDA route: the losses are 0-d device tensors (no synchronisation)
            loss = torch.stack(rows) if isinstance(rows[0], torch.Tensor) else torch.tensor(rows, dtype=torch.float64)
            g = [torch.stack(grads[k]) for k in grad_keys]
        else:
            r = fn(*plain, **kw)
            loss = r.loss if isinstance(r.loss, torch.Tensor) else torch.tensor(r.loss, dtype=torch.float64)
            g = [r.grads[k] for k in grad_keys]
        ctx.diff = diff
        ctx.batched = batched
        ctx.save_for_backward(*g)
        return loss

    @staticmethod
    def backward(ctx, go):
        saved = list(ctx.saved_tensors)
        out = [None] * 6
        gi = 0
        for is_diff in ctx.diff:
            if is_diff:
                g = saved[gi]
                gi += 1
                if ctx.batched:
                    s = go.to(g.dtype).reshape((-1,) + (1,) * (g.dim() - 1))
                else:
                    s = go.to(g.dtype)
                out.append(g * s)
            else:
                out.append(None)
        return tuple(out)


def _apply(fn, names, args, diff_map, kw, batched):
    """diff_map: {argument name: gradient key}."""
    for n, t in zip(names, args):
        if not isinstance(t, torch.Tensor):
            raise TypeError("%s: diffpo.torch takes torch tensors, got %s" % (n, type(t).__name__))
        if t.requires_grad and n not in diff_map:
            raise ValueError("%s requires grad, but diffpo differentiates only with respect to %s; pass %s.detach()"
                             % (n, " and ".join(diff_map), n))
        with torch.no_grad():
            arr(t, n, on=True)  # dtype / device / layout checks with the argument's name
    diff = tuple(n in diff_map for n in names)
    keys = tuple(diff_map[n] for n in names if n in diff_map)
    return _Loss.apply(fn, names, diff, keys, kw, batched, *args)


def stepdpo(x_w, mu_w, mu_ref_w, x_l, mu_l, mu_ref_l, beta, sigma, logprob="sum", batched=False):
    """Step DPO / D3PO; differentiable in mu_w and mu_l."""
    n = ("x_w", "mu_w", "mu_ref_w", "x_l", "mu_l", "mu_ref_l")
    return _apply(_L.stepdpo, n, (x_w, mu_w, mu_ref_w, x_l, mu_l, mu_ref_l), {"mu_w": "mu_w", "mu_l": "mu_l"},
                  dict(beta=beta, sigma=sigma, logprob=logprob), batched)


def d3po_code(x_0, mu_0, mu_ref_0, x_1, mu_1, mu_ref_1, label, sigma, beta=0.1, clip_eps=0.1, logprob="mean",
              batched=False):
    """The D3PO public code's clamped-ratio loss; differentiable in mu_0, mu_1."""
    n = ("x_0", "mu_0", "mu_ref_0", "x_1", "mu_1", "mu_ref_1")

    def fn(a, b, c, d, e, f, **kw):
        return _L.d3po_code(a, b, c, d, e, f, label, **kw)
    return _apply(fn, n, (x_0, mu_0, mu_ref_0, x_1, mu_1, mu_ref_1), {"mu_0": "mu_0", "mu_1": "mu_1"},
                  dict(sigma=sigma, beta=beta, clip_eps=clip_eps, logprob=logprob), batched)


def spo(x_w, x_l, mu, mu_ref, sigma, beta=10.0, clip_eps=0.1, logprob="mean", batched=False):
    """SPO's loss (both candidates from one parent); differentiable in mu."""
    return _apply(_L.spo, ("x_w", "x_l", "mu", "mu_ref"), (x_w, x_l, mu, mu_ref), {"mu": "mu"},
                  dict(sigma=sigma, beta=beta, clip_eps=clip_eps, logprob=logprob), batched)


def tailorpo(x_w, x_l, mu, mu_ref, beta, sigma, logprob="sum", batched=False):
    """TailorPO; differentiable in mu."""
    return _apply(_L.tailorpo, ("x_w", "x_l", "mu", "mu_ref"), (x_w, x_l, mu, mu_ref), {"mu": "mu"},
                  dict(beta=beta, sigma=sigma, logprob=logprob), batched)


def rdpo(x_w, x_l, mu, mu_ref, beta, lambda_, sigma, logprob="sum", variant="printed", batched=False):
    """RDPO ('printed' or 'intended' penalty sign); differentiable in mu."""
    return _apply(_L.rdpo, ("x_w", "x_l", "mu", "mu_ref"), (x_w, x_l, mu, mu_ref), {"mu": "mu"},
                  dict(beta=beta, lambda_=lambda_, sigma=sigma, logprob=logprob, variant=variant), batched)


def diffusion_dpo(eps_w, eps_l, eth_w, eref_w, eth_l, eref_l, beta, logprob="mean", batched=False):
    """Diffusion-DPO; differentiable in eth_w and eth_l."""
    n = ("eps_w", "eps_l", "eth_w", "eref_w", "eth_l", "eref_l")
    return _apply(_L.diffusion_dpo, n, (eps_w, eps_l, eth_w, eref_w, eth_l, eref_l),
                  {"eth_w": "eth_w", "eth_l": "eth_l"}, dict(beta=beta, logprob=logprob), batched)


def dspo(eps_w, eps_l, eth_w, eref_w, eth_l, eref_l, variant="code", beta=0.001, lambda_=None, c_t=None,
         stopgrad=False, batched=False):
    """DSPO; differentiable in eth_w and eth_l (eth_l's gradient is zero
    with stopgrad=True)."""
    n = ("eps_w", "eps_l", "eth_w", "eref_w", "eth_l", "eref_l")
    return _apply(_L.dspo, n, (eps_w, eps_l, eth_w, eref_w, eth_l, eref_l), {"eth_w": "eth_w", "eth_l": "eth_l"},
                  dict(variant=variant, beta=beta, lambda_=lambda_, c_t=c_t, stopgrad=stopgrad), batched)


def _ddpo_row(x, mu, mu_old, adv, **kw):
    return _L.ddpo(x, mu, mu_old, float(adv), **kw)


def ddpo(x, mu, mu_old, adv, sigma, clip_eps=1e-4, adv_clip=5.0, logprob="mean", batched=False):
    """DDPO's clipped-ratio loss of one sample (x the sampled x_{t-1}, mu the
    policy's step mean, mu_old the sampling policy's); differentiable in mu.
    adv: a number, or with batched=True a number or one advantage per row
    (a (B,) tensor or sequence).  The public code's loss is the mean over
    the batch: loss.mean() with batched=True."""
    if batched:
        B = mu.shape[0] if isinstance(mu, torch.Tensor) and mu.dim() > 0 else 0
        a = torch.as_tensor(adv.detach() if isinstance(adv, torch.Tensor) else adv, dtype=torch.float64)
        if a.dim() == 0:
            a = a.expand(B).contiguous()
        if a.shape != (B,):
            raise ValueError("adv: shape %s, expected a number or (%d,) (one advantage per row)" % (tuple(a.shape), B))
    else:
        if isinstance(adv, torch.Tensor) and adv.numel() != 1:
            raise ValueError("adv: one sample needs one advantage, got shape %s" % (tuple(adv.shape),))
        a = torch.as_tensor(float(adv), dtype=torch.float64)
    return _apply(_ddpo_row, ("x", "mu", "mu_old", "adv"), (x, mu, mu_old, a), {"mu": "mu"},
                  dict(sigma=sigma, clip_eps=clip_eps, adv_clip=adv_clip, logprob=logprob), batched)


class _StepMean(torch.autograd.Function):
    @staticmethod
    def forward(ctx, sched, model_output, timestep, sample, kw):
        out = sched.step(model_output.detach(), timestep, sample.detach(), logprob=None,
                         prev_sample=sample.detach() if kw.get("eta", 0.0) != 0 else None, **kw)
        ctx.sched, ctx.timestep, ctx.kw = sched, timestep, kw
        return out.mean

    @staticmethod
    def backward(ctx, g):
        kw = {k: v for k, v in ctx.kw.items() if k in ("num_inference_steps", "eta", "prev_rule")}
        return None, ctx.sched.grad_mu_to_out(g.contiguous(), ctx.timestep, **kw), None, None, None


def step_mean(sched, model_output, timestep, sample, eta=0.0, num_inference_steps=None, prev_rule=None):
    """The DDIM step mean mu(model_output) of a diffpo.DDIMSchedule,
    differentiable in model_output: backward is dpo_grad_mu_to_out (the
    per-step scalar d mu/d out).  sample must not require grad.  Clipped
    x0 (clip_sample=True) has no gradient here: the library refuses it."""
    if sample.requires_grad:
        raise ValueError("sample requires grad, but step_mean differentiates only with respect to model_output; "
                         "pass sample.detach()")
    if model_output.device.type == "cuda":
        raise ValueError("model_output: a CUDA tensor (%s), but step_mean's backward (dpo_grad_mu_to_out) has no "
                         "CUDA form in include/diffpo_cuda.h; nothing is copied between devices implicitly: pass "
                         "CPU tensors" % model_output.device)
    kw = dict(eta=eta, num_inference_steps=num_inference_steps, prev_rule=prev_rule)
    return _StepMean.apply(sched, model_output, timestep, sample, kw)
