"""Bad input: a Python exception naming the argument (never a crash), a
non-OK dpo_status as DiffpoError carrying its name, and nothing written."""
import numpy as np
import pytest

import diffpo
from conftest import needs_torch

X = np.linspace(-1, 1, 12).astype(np.float32)


def sched():
    s = diffpo.DDIMSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    s.set_timesteps(10)
    return s


def test_wrong_dtype_names_the_argument():
    with pytest.raises(TypeError, match=r"^mu: dtype int64"):
        diffpo.tailorpo(X, X, np.arange(12), X, beta=0.1, sigma=0.1)
    with pytest.raises(TypeError, match=r"^x_l: dtype float64, but the other arguments are float32"):
        diffpo.tailorpo(X, X.astype(np.float64), X, X, beta=0.1, sigma=0.1)
    with pytest.raises(TypeError, match=r"^model_output: dtype float16"):
        sched().step(X.astype(np.float16), 901, X, eta=0.0)


def test_wrong_shape_names_the_argument():
    with pytest.raises(ValueError, match=r"^mu_ref: shape \(11,\), expected \(12,\)"):
        diffpo.tailorpo(X, X, X, X[:11].copy(), beta=0.1, sigma=0.1)
    with pytest.raises(ValueError, match=r"^variance_noise: shape \(2, 6\), expected \(12,\)"):
        sched().step(X, 901, X, eta=1.0, variance_noise=X.reshape(2, 6))
    with pytest.raises(ValueError, match=r"^sample: 3 sample indices for shape \(2, 4\)"):
        diffpo.normal((2, 4), sample=[0, 1, 2])


def test_non_contiguous_and_byte_order_name_the_argument():
    big = np.linspace(-1, 1, 24).astype(np.float32)
    with pytest.raises(ValueError, match=r"^x_w: not C-contiguous"):
        diffpo.tailorpo(big[::2], X, X, X, beta=0.1, sigma=0.1)
    with pytest.raises(TypeError, match=r"^x_w: byte order"):
        diffpo.tailorpo(X.astype(">f4"), X, X, X, beta=0.1, sigma=0.1)
    with pytest.raises(TypeError, match=r"^reward: float64"):
        diffpo.rank_desc(np.array([1, 2, 3], dtype=np.float32))


def test_bad_options_name_the_argument():
    with pytest.raises(ValueError, match=r"^logprob: need 'sum' or 'mean'"):
        diffpo.tailorpo(X, X, X, X, beta=0.1, sigma=0.1, logprob="avg")
    with pytest.raises(ValueError, match=r"^beta_schedule: need one of"):
        diffpo.DDIMSchedule(beta_schedule="cosine")
    with pytest.raises(ValueError, match=r"^timestep: 1000 is out of range"):
        sched().step(X, 1000, X)
    with pytest.raises(ValueError, match=r"^num_inference_steps: call set_timesteps"):
        diffpo.DDIMSchedule().step(X, 901, X)
    with pytest.raises(ValueError, match=r"^variance_noise: sigma"):
        sched().step(X, 901, X, eta=1.0)
    with pytest.raises(ValueError, match=r"^prev_sample: give at most one"):
        sched().step(X, 901, X, eta=1.0, variance_noise=X, prev_sample=X)
    with pytest.raises(ValueError, match=r"^label: need -1, 0 or 1"):
        diffpo.d3po_code(X, X, X, X, X, X, 2, sigma=0.1)
    with pytest.raises(ValueError, match=r"^stream: need one of"):
        diffpo.normal(3, stream="noise")


def test_status_errors_carry_the_status_name():
    with pytest.raises(diffpo.DiffpoError) as e:
        diffpo.tailorpo(X, X, X, X, beta=0.1, sigma=0.0)
    assert e.value.status == "DPO_ERR_SIGMA_ZERO" and e.value.code == -5
    assert "dpo_tailorpo_f32" in str(e.value) and "DPO_ERR_SIGMA_ZERO" in str(e.value)
    bad = X.copy()
    bad[3] = np.nan
    with pytest.raises(diffpo.DiffpoError) as e:
        diffpo.stepdpo(bad, X, X, X, X, X, beta=1.0, sigma=0.5)
    assert e.value.status == "DPO_ERR_NONFINITE"
    with pytest.raises(diffpo.DiffpoError) as e:
        diffpo.DDIMSchedule(beta_start=0.5, beta_end=0.1)
    assert e.value.status == "DPO_ERR_RANGE"
    with pytest.raises(diffpo.DiffpoError) as e:
        diffpo.rank_desc(np.array([1.0, np.inf]))
    assert e.value.status == "DPO_ERR_NONFINITE"
    with pytest.raises(diffpo.DiffpoError) as e:
        diffpo.tailorpo_g_eta(1, 0, 0.1, 0.2)
    assert e.value.status.startswith("DPO_ERR_")


def test_errors_write_nothing():
    s = sched()
    g = np.ones(12, dtype=np.float32)
    out = np.full(12, 7.0, dtype=np.float32)
    clipped = diffpo.DDIMSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                  clip_sample=True)
    clipped.set_timesteps(10)
    with pytest.raises(diffpo.DiffpoError) as e:  # clipped x0 has no gradient: the library refuses
        clipped.grad_mu_to_out(g, 901, out=out)
    assert e.value.status == "DPO_ERR_UNSUPPORTED"
    assert np.all(out == 7.0)
    with pytest.raises(TypeError):
        s.grad_mu_to_out(g, 901, out=out.astype(np.float64))
    ro = out.copy()
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="^out: read-only"):
        s.grad_mu_to_out(g, 901, out=ro)
    x = X.copy()
    with pytest.raises(diffpo.DiffpoError):
        diffpo.tailorpo(x, x, x, x, beta=0.1, sigma=-1.0)
    assert np.array_equal(x, X)


@needs_torch
def test_torch_bad_inputs_name_the_argument():
    import torch
    t = torch.linspace(-1, 1, 12)
    with pytest.raises(TypeError, match=r"^mu: dtype torch.float16"):
        diffpo.tailorpo(t, t, t.half(), t, beta=0.1, sigma=0.1)
    with pytest.raises(ValueError, match=r"^x_l: a non-contiguous tensor"):
        diffpo.tailorpo(t, torch.linspace(-1, 1, 24)[::2], t, t, beta=0.1, sigma=0.1)
    with pytest.raises(TypeError, match=r"^mu_ref: a torch tensor with layout torch.sparse_coo"):
        diffpo.tailorpo(t, t, t, t.to_sparse(), beta=0.1, sigma=0.1)
    # a tensor on a device diffpo does not take (meta): refused, never copied
    with pytest.raises(ValueError, match=r"^x_w: a tensor on meta.*nothing is copied"):
        diffpo.tailorpo(torch.empty(12, device="meta"), t, t, t, beta=0.1, sigma=0.1)
    with pytest.raises(ValueError, match=r"^mu: requires grad; use diffpo.torch"):
        diffpo.tailorpo(t, t, t.clone().requires_grad_(), t, beta=0.1, sigma=0.1)
    with pytest.raises(TypeError, match=r"^x_l: dtype float64, but the other arguments are float32"):
        diffpo.tailorpo(t, t.double(), t, t, beta=0.1, sigma=0.1)


@needs_torch
def test_cuda_tensors_in_a_cpu_build_raise():
    import torch
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device here: tests/py_cuda_route.py checks this error with stand-in CUDA tensors")
    if diffpo.HAS_CUDA:
        pytest.skip("a CUDA build routes CUDA tensors: tests/gpu/py_cuda_bits.py checks that route")
    t = torch.ones(4, device="cuda")
    with pytest.raises(ValueError, match=r"^x_w: a CUDA tensor .*CPU build.*nothing is copied"):
        diffpo.tailorpo(t, t, t, t, beta=0.1, sigma=0.1)


@needs_torch
def test_diffpo_torch_refuses_gradients_it_does_not_provide():
    import torch
    import diffpo.torch as dt
    t = torch.linspace(-1, 1, 12, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"^x_w requires grad, but diffpo differentiates only with respect to mu"):
        dt.tailorpo(t.clone().requires_grad_(), t, t, t, beta=0.1, sigma=0.1)
    with pytest.raises(TypeError, match=r"^mu_ref: diffpo.torch takes torch tensors"):
        dt.tailorpo(t, t, t, t.numpy(), beta=0.1, sigma=0.1)


def test_ddpo_bad_input():
    """DDPO's binding: argument names in the message, the library's status
    as DiffpoError, and the gradient buffer of a failed call never returned."""
    with pytest.raises(ValueError, match=r"^mu_old: shape \(11,\), expected \(12,\)"):
        diffpo.ddpo(X, X, X[:11].copy(), adv=1.0, sigma=0.5)
    with pytest.raises(TypeError, match=r"^mu: dtype float64, but the other arguments are float32"):
        diffpo.ddpo(X, X.astype(np.float64), X, adv=1.0, sigma=0.5)
    with pytest.raises(diffpo.DiffpoError) as ei:
        diffpo.ddpo(X, X, X, adv=1.0, sigma=0.0)
    assert ei.value.status == "DPO_ERR_SIGMA_ZERO" and ei.value.function == "dpo_ddpo_f32"
    with pytest.raises(diffpo.DiffpoError) as ei:
        diffpo.ddpo(X, X, X, adv=1.0, sigma=0.5, clip_eps=1.5)
    assert ei.value.status == "DPO_ERR_RANGE"
    with pytest.raises(diffpo.DiffpoError) as ei:
        diffpo.ddpo(X, X, X, adv=float("nan"), sigma=0.5)
    assert ei.value.status == "DPO_ERR_NONFINITE"
    with pytest.raises(ValueError, match=r"^logprob: need 'sum' or 'mean'"):
        diffpo.ddpo(X, X, X, adv=1.0, sigma=0.5, logprob="avg")
    r = np.array([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"^group: prompt ids must lie in"):
        diffpo.ddpo_advantages(r, [0, -1, 0], 0)
    with pytest.raises(ValueError, match=r"^group: shape \(2,\), expected \(3,\)"):
        diffpo.ddpo_advantages(r, [0, 1], 0)
    with pytest.raises(TypeError, match=r"^group: need integer prompt ids"):
        diffpo.ddpo_advantages(r, [0.5, 1, 0], 0)
    with pytest.raises(TypeError, match=r"^reward: float64"):
        diffpo.ddpo_advantages(r.astype(np.float32), [0, 1, 0], 0)
    with pytest.raises(diffpo.DiffpoError) as ei:
        diffpo.ddpo_advantages(np.ones(3), [0, 0, 0], 0, std_eps=0.0)  # equal rewards, std_eps 0
    assert ei.value.status == "DPO_ERR_RANGE"
