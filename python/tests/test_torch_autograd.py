"""The golden vectors through diffpo.torch autograd: loss.backward() puts
the C library's gradient (bit for bit with `diffpo loss`) into .grad, and
that gradient is within each vector's stated tolerance of the independent
generator's exact value."""
import os

import numpy as np
import pytest

from conftest import assert_bits, needs_torch, run_cli

pytestmark = needs_torch

import diffpo  # noqa: E402
from diffpo import vectors  # noqa: E402

LOSS_FILES = ["stepdpo.vec", "tailorpo.vec", "d3po_code.vec", "rdpo.vec", "spo.vec", "diffusion_dpo.vec", "dspo.vec",
              "ddpo.vec"]
LOSS_FNS = {"stepdpo", "stepdpo.chain", "tailorpo", "tailorpo.chain", "d3po_code", "rdpo.printed", "rdpo.intended",
            "spo.loss", "diffusion_dpo", "dspo.code", "dspo.code_sg", "dspo.paper", "dspo.paper_sg", "ddpo"}


def autograd_case(c):
    """Runs case c through diffpo.torch; returns {output name: value}."""
    import torch
    import diffpo.torch as dt
    dtype = torch.float32 if c.prec == "f32" else torch.float64
    T = {k: torch.tensor(v, dtype=dtype) for k, v in c.inputs.items()}
    p, f, red = c.params, c.fn, c.reduce

    def leaf(name):
        t = T[name].clone().requires_grad_()
        return t

    if f in ("stepdpo", "stepdpo.chain"):
        mw, ml = leaf("mu_w"), leaf("mu_l")
        loss = dt.stepdpo(T["x_w"], mw, T["mu_ref_w"], T["x_l"], ml, T["mu_ref_l"], p["beta"], p["sigma"], red)
        loss.backward()
        return {"loss": loss, "grad_mu_w": mw.grad, "grad_mu_l": ml.grad}
    if f in ("tailorpo", "tailorpo.chain", "rdpo.printed", "rdpo.intended", "spo.loss"):
        mu = leaf("mu")
        if f.startswith("tailorpo"):
            loss = dt.tailorpo(T["x_w"], T["x_l"], mu, T["mu_ref"], p["beta"], p["sigma"], red)
        elif f.startswith("rdpo"):
            loss = dt.rdpo(T["x_w"], T["x_l"], mu, T["mu_ref"], p["beta"], p["lambda"], p["sigma"], red,
                           variant=f.split(".")[1])
        else:
            loss = dt.spo(T["x_w"], T["x_l"], mu, T["mu_ref"], p["sigma"], beta=p["beta"], clip_eps=p["clip_eps"],
                          logprob=red)
        loss.backward()
        return {"loss": loss, "grad_mu": mu.grad}
    if f == "ddpo":
        mu = leaf("mu")
        loss = dt.ddpo(T["x"], mu, T["mu_old"], p["adv"], p["sigma"], clip_eps=p["clip_eps"], adv_clip=p["adv_clip"],
                       logprob=red)
        loss.backward()
        return {"loss": loss, "grad_mu": mu.grad}
    if f == "d3po_code":
        m0, m1 = leaf("mu_0"), leaf("mu_1")
        loss = dt.d3po_code(T["x_0"], m0, T["mu_ref_0"], T["x_1"], m1, T["mu_ref_1"], int(p["label"]), p["sigma"],
                            beta=p["beta"], clip_eps=p["clip_eps"], logprob=red)
        loss.backward()
        return {"loss": loss, "grad_mu_0": m0.grad, "grad_mu_1": m1.grad}
    ew, el = leaf("eth_w"), leaf("eth_l")
    args = (T["eps"], T["eps"], ew, T["eref_w"], el, T["eref_l"])
    if f == "diffusion_dpo":
        loss = dt.diffusion_dpo(*args, beta=p["beta"], logprob=red)
    else:
        v = f.split(".")[1]
        if v.startswith("code"):
            loss = dt.dspo(*args, variant="code", beta=p["beta"], stopgrad=v.endswith("_sg"))
        else:
            loss = dt.dspo(*args, variant="paper", lambda_=p["lambda"], c_t=p["c_t"], stopgrad=v.endswith("_sg"))
    loss.backward()
    return {"loss": loss, "grad_eth_w": ew.grad, "grad_eth_l": el.grad}


@pytest.mark.parametrize("fname", LOSS_FILES)
def test_golden_vectors_through_autograd(fname):
    path = os.path.join(vectors.directory(), fname)
    cases = vectors.parse(run_cli("loss", path), fname)
    n = 0
    for c in cases:
        if c.fn not in LOSS_FNS:
            continue
        got = autograd_case(c)
        assert got["loss"].dtype.is_floating_point and got["loss"].requires_grad
        for name, exp in c.outputs.items():
            val = vectors.pick(got, name)
            if val is None:
                continue
            ref = c.got[name]
            base = vectors.split_name(name)[0]
            if c.fn == "spo.loss" and base == "grad_mu" and c.prec == "f32":
                # autograd holds the float32 gradient: the library's double sum of both sides, rounded once
                ref = ref.astype(np.float32).astype(np.float64)
            else:
                assert_bits(val, ref, "%s %s (autograd vs the C library)" % (c.name, name))
            bound = vectors.bound(c, name, exp)
            if c.fn == "spo.loss" and c.prec == "f32" and base == "grad_mu":
                bound += vectors.ulp_p(float(np.max(np.abs(exp))), "f32") / 2  # the extra rounding above
            worst = float(np.max(np.abs(val - exp)))
            assert worst <= bound, "%s %s: autograd value off the golden vector by %g > %g" % (c.name, name, worst,
                                                                                           bound)
            n += 1
    assert n > 0


def test_batched_equals_one_pair_at_a_time():
    import torch
    import diffpo.torch as dt
    g = [torch.from_numpy(diffpo.normal((3, 10), seed=s, sample=[0, 1, 2], dtype=np.float64)) for s in range(4)]
    x_w, x_l, mu0, mu_ref = g
    mu = mu0.clone().requires_grad_()
    loss = dt.tailorpo(x_w, x_l, mu, mu_ref, beta=0.5, sigma=0.7, batched=True)
    assert loss.shape == (3,)
    (loss * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    for b in range(3):
        m = mu0[b].clone().requires_grad_()
        lb = dt.tailorpo(x_w[b], x_l[b], m, mu_ref[b], beta=0.5, sigma=0.7)
        (lb * (b + 1)).backward()
        assert_bits(loss[b].detach(), lb.detach(), "loss row %d" % b)
        assert_bits(mu.grad[b], m.grad, "grad row %d" % b)


def test_step_mean_backward_is_the_library_chain_rule():
    """loss.backward() through step_mean reaches eps_theta with
    d mu/d eps = dpo_dmu_dout, the library's per-step scalar."""
    import torch
    import diffpo.torch as dt
    sched = diffpo.DDIMSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False)
    sched.set_timesteps(20)
    x = torch.from_numpy(diffpo.normal((2, 16), seed=1, sample=[0, 1]))
    w = torch.nn.Parameter(torch.from_numpy(diffpo.normal((2, 16), seed=2, sample=[0, 1])))
    eps = w * 1.0  # a stand-in model output depending on parameters
    mu = dt.step_mean(sched, eps, 501, x, eta=1.0)
    plain = sched.step(eps.detach(), 501, x, eta=1.0, variance_noise=torch.zeros_like(x))
    assert_bits(mu.detach(), plain.mean, "step_mean forward = step().mean")
    sigma = sched.coefficients(501, eta=1.0)["sigma"]
    x_w = torch.from_numpy(diffpo.normal((2, 16), seed=3, sample=[0, 1]))
    x_l = torch.from_numpy(diffpo.normal((2, 16), seed=4, sample=[0, 1]))
    loss = dt.tailorpo(x_w, x_l, mu, mu.detach() * 0.5, beta=0.1, sigma=sigma, batched=True).sum()
    loss.backward()
    g_mu = torch.stack([diffpo.tailorpo(x_w[b], x_l[b], mu[b].detach(), mu[b].detach() * 0.5, beta=0.1,
                                        sigma=sigma).grads["mu"] for b in range(2)])
    assert_bits(w.grad, sched.grad_mu_to_out(g_mu.contiguous(), 501, eta=1.0), "parameter gradient")
    k = sched.dmu_dout(501, eta=1.0)
    assert k != 0 and np.isfinite(k)


def test_ddpo_batched_rows_and_mean_loss():
    """dt.ddpo with batched=True and one advantage per row: each row's loss
    and gradient are the one-sample call's (the library's), and
    loss.mean().backward() gives each row's gradient over B (the public
    code's batch mean)."""
    import torch
    import diffpo.torch as dt
    B, n = 3, 12
    x = torch.from_numpy(diffpo.normal((B, n), seed=5, sample=[0, 1, 2]))
    mu_old = torch.from_numpy(diffpo.normal((B, n), seed=6, sample=[0, 1, 2]))
    mu0 = mu_old + 0.01 * torch.from_numpy(diffpo.normal((B, n), seed=7, sample=[0, 1, 2]))
    adv = torch.tensor([1.5, -0.5, 7.0], dtype=torch.float64)
    mu = mu0.clone().requires_grad_()
    loss = dt.ddpo(x, mu, mu_old, adv, 0.4, clip_eps=0.05, batched=True)
    assert loss.shape == (B,)
    loss.mean().backward()
    for b in range(B):
        r = diffpo.ddpo(x[b], mu0[b], mu_old[b], float(adv[b]), 0.4, clip_eps=0.05)
        assert_bits(loss[b].detach(), torch.tensor(r.loss, dtype=torch.float64), "loss row %d" % b)
        assert_bits(mu.grad[b], r.grads["mu"] * (1.0 / B), "grad row %d" % b)
    assert float(adv[2]) == 7.0 and r.adv == 5.0  # the advantage clamp of the public code
    with pytest.raises(ValueError, match="adv"):
        dt.ddpo(x, mu0, mu_old, torch.ones(2, dtype=torch.float64), 0.4, batched=True)
