"""diffpo.testing: a correct implementation passes, a broken one fails with
a message naming the case, the output, the size and the convention."""
import numpy as np
import pytest

import diffpo
import diffpo.testing as T
from conftest import needs_torch


def tailorpo_numpy(x_w, x_l, mu, mu_ref, beta, sigma, logprob, sign=1.0, reduce_as=None):
    """TailorPO in plain NumPy float64, typed from eq. 10, 11, 21 (not from diffpo)."""
    n = x_w.size if (reduce_as or logprob) == "mean" else 1
    lr_w = np.sum((mu - mu_ref) * ((x_w - mu) + (x_w - mu_ref))) / (2 * sigma ** 2 * n)
    lr_l = np.sum((mu - mu_ref) * ((x_l - mu) + (x_l - mu_ref))) / (2 * sigma ** 2 * n)
    z = beta * (lr_w - lr_l)
    loss = np.logaddexp(0.0, -z)
    f = beta / (1 + np.exp(z))
    grad = -(f / sigma ** 2) * (x_w - x_l) / n
    return {"loss": sign * loss, "z": z, "lr_w": lr_w, "lr_l": lr_l, "grad_mu": sign * grad}


def test_check_loss_passes_a_correct_implementation():
    assert "cases of tailorpo" in T.check_loss(tailorpo_numpy, "tailorpo")


def test_check_loss_names_a_reduction_mismatch():
    def summed(**kw):
        return tailorpo_numpy(reduce_as="sum", **kw)
    with pytest.raises(AssertionError) as ei:
        T.check_loss(summed, "tailorpo")
    msg = str(ei.value)
    assert msg.startswith("diffpo.testing: case 'tailorpo-f64-"), msg
    assert "max |diff|" in msg and "tolerance" in msg and "reduce mean" in msg, msg
    assert "match the sum reduction" in msg, msg


def test_check_loss_names_a_sign_error():
    def negated(**kw):
        return tailorpo_numpy(sign=-1.0, **kw)
    with pytest.raises(AssertionError) as ei:
        T.check_loss(negated, "tailorpo")
    assert "is the negative of the expected one" in str(ei.value)


def test_check_loss_rdpo_variant():
    """RDPO as printed checked against the intended-sign vectors: the
    message names the other variant."""
    def printed(x_w, x_l, mu, mu_ref, beta, sigma, logprob, **p):
        r = diffpo.rdpo(x_w, x_l, mu, mu_ref, beta, p["lambda"], sigma, logprob, variant="printed")
        return {"loss": r.loss, "grad_mu": r.grads["mu"]}
    assert "rdpo.printed" in T.check_loss(printed, "rdpo.printed")
    cases = [c for c in diffpo.vectors.cases("rdpo.intended") if c.prec == "f64"]
    with pytest.raises(AssertionError) as ei:
        T.check_loss(printed, "rdpo.intended")
    assert "rdpo.printed" in str(ei.value) or "no simple convention" in str(ei.value), str(ei.value)
    assert cases


def ddpo_numpy(x, mu, mu_old, clip_eps, adv_clip, sigma, adv, logprob, reduce_as=None):
    """DDPO's clipped-ratio loss in plain NumPy float64, typed from the
    public code's formula (ratio = exp(lp - old_lp), loss = max(-A ratio,
    -A clip(ratio, 1 - eps, 1 + eps)), A clamped to +-adv_clip), not from diffpo."""
    n = x.size if (reduce_as or logprob) == "mean" else 1
    lr = np.sum((x - mu_old) ** 2 - (x - mu) ** 2) / (2 * sigma ** 2 * n)
    ratio = np.exp(lr)
    A = np.clip(adv, -adv_clip, adv_clip) if adv_clip > 0 else adv
    lo, hi = 1 - clip_eps, 1 + clip_eps
    unclipped, clipped = -A * ratio, -A * np.clip(ratio, lo, hi)
    loss = max(unclipped, clipped)
    dl_dlr = -A * ratio if (unclipped >= clipped or lo <= ratio <= hi) else 0.0
    return {"loss": loss, "lr": lr, "ratio": ratio, "adv": A, "dl_dlr": dl_dlr,
            "grad_mu": dl_dlr * (x - mu) / (sigma ** 2 * n)}


def test_check_loss_ddpo():
    """DDPO's golden vectors through check_loss: a correct implementation
    passes; the summed log-probability where the case uses the public
    code's mean is named as a reduction mismatch."""
    assert "cases of ddpo" in T.check_loss(ddpo_numpy, "ddpo")
    with pytest.raises(AssertionError) as ei:
        T.check_loss(lambda **kw: ddpo_numpy(reduce_as="sum", **kw), "ddpo")
    msg = str(ei.value)
    assert msg.startswith("diffpo.testing: case 'ddpo-f64-"), msg


def test_check_loss_rejects_unknown_methods():
    with pytest.raises(ValueError, match="is not one of"):
        T.check_loss(tailorpo_numpy, "tailorpo-g")


@needs_torch
def test_check_loss_with_torch_autograd():
    """A PyTorch implementation whose gradient comes from autograd."""
    import torch

    def tailorpo_torch(x_w, x_l, mu, mu_ref, beta, sigma, logprob):
        mu = mu.clone().requires_grad_()
        n = x_w.numel() if logprob == "mean" else 1
        lr_w = ((mu - mu_ref) * ((x_w - mu) + (x_w - mu_ref))).sum() / (2 * sigma ** 2 * n)
        lr_l = ((mu - mu_ref) * ((x_l - mu) + (x_l - mu_ref))).sum() / (2 * sigma ** 2 * n)
        loss = torch.nn.functional.softplus(-beta * (lr_w - lr_l))
        loss.backward()
        return {"loss": loss.item(), "grad_mu": mu.grad}
    assert T.check_loss(tailorpo_torch, "tailorpo", array="torch")


@needs_torch
def test_check_ddim_step_message_for_sum_instead_of_mean():
    pytest.importorskip("diffusers")
    import importlib.util
    import os
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "python",
                        "test_ddpo_step.py")
    spec = importlib.util.spec_from_file_location("ddpo_example", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    sched = mod.sd15_scheduler()
    report = T.check_ddim_step(lambda *a, **k: mod.ddpo_step(sched, *a, **k), sched)
    assert report.count("log_prob max |diff|") == 3
    with pytest.raises(AssertionError) as ei:
        T.check_ddim_step(lambda *a, **k: mod.broken_step(sched, *a, **k), sched)
    msg = str(ei.value)
    assert "case 't=951 (step 0 of 20)', output log_prob" in msg, msg
    assert "your values match diffpo with logprob='sum'" in msg and "the reference uses logprob='mean'" in msg, msg
