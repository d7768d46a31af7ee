"""diffpo's DDIMSchedule as a stand-in for diffusers' DDIMScheduler: the
same alphas_cumprod, timesteps and step results, bit for bit, on the CPU."""
import numpy as np
import pytest

from conftest import assert_bits

torch = pytest.importorskip("torch", reason="torch is not installed (make deps installs it)")
diffusers = pytest.importorskip("diffusers", reason="diffusers is not installed (make deps installs it)")

import diffpo  # noqa: E402

CONFIGS = [
    dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
         set_alpha_to_one=False, steps_offset=1),
    dict(),  # diffusers' defaults: linear 1e-4..0.02, clip_sample, set_alpha_to_one
    dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, timestep_spacing="trailing",
         prediction_type="v_prediction", clip_sample=False),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=["sd15", "defaults", "trailing-v"])
def test_same_table_and_timesteps(cfg):
    ref = diffusers.DDIMScheduler(**cfg)
    ours = diffpo.DDIMSchedule.from_config(ref.config)
    assert_bits(ours.alphas_cumprod, ref.alphas_cumprod.numpy(), "alphas_cumprod")
    assert ours.final_alpha_cumprod == float(ref.final_alpha_cumprod)
    ref.set_timesteps(20)
    assert list(ours.set_timesteps(20)) == [int(t) for t in ref.timesteps]


def torch_scalars(ref, t, eta):
    """The step's scalar coefficients as diffusers forms them (0-d float32
    torch tensors): sqrt(a_t), sqrt(1-a_t), sqrt(a_prev), sigma, dir coef."""
    prev = t - ref.config.num_train_timesteps // ref.num_inference_steps
    a_t = ref.alphas_cumprod[t]
    a_p = ref.alphas_cumprod[prev] if prev >= 0 else ref.final_alpha_cumprod
    b_t, b_p = 1 - a_t, 1 - a_p
    std = eta * ((b_p / b_t) * (1 - a_t / a_p)) ** 0.5
    return [float(v) for v in (a_t ** 0.5, b_t ** 0.5, a_p ** 0.5, std, (1 - a_p - std ** 2) ** 0.5)]


@pytest.mark.parametrize("cfg", CONFIGS, ids=["sd15", "defaults", "trailing-v"])
@pytest.mark.parametrize("eta", [0.0, 1.0, 0.3])
def test_step_equals_diffusers(cfg, eta):
    """Bit for bit wherever torch's float32 square roots of the step's
    scalars are the correctly rounded ones that diffpo uses; where torch
    rounds one of them the other way (PyTorch 2.15's CPU sqrt is not
    correctly rounded for about 1 in 5 float32 values, docs/python.md), the
    results differ by that scalar's last bit: at most 4 ulp here."""
    ref = diffusers.DDIMScheduler(**cfg)
    ours = diffpo.DDIMSchedule.from_config(ref.config)
    ref.set_timesteps(20)
    ours.set_timesteps(20)
    shape = (2, 3, 8, 8)
    exact = 0
    for k, t in enumerate(ref.timesteps.tolist()):
        x = torch.from_numpy(diffpo.normal(shape, seed=3, sample=[0, 1], step=k))
        e = torch.from_numpy(diffpo.normal(shape, seed=4, sample=[0, 1], step=k))
        z = torch.from_numpy(diffpo.normal(shape, seed=5, sample=[0, 1], step=k))
        want = ref.step(e, t, x, eta=eta, variance_noise=z)
        got = ours.step(e, t, x, eta=eta, variance_noise=z if eta else None)
        c = ours.coefficients(t, eta=eta)
        mine = [c["sqrt_alpha_t"], c["sqrt_beta_t"], c["sqrt_alpha_prev"], c["sigma"], c["dir_coef"]]
        if mine == torch_scalars(ref, t, eta):
            assert_bits(got.prev_sample, want.prev_sample, "prev_sample at t=%d" % t)
            assert_bits(got.pred_original_sample, want.pred_original_sample, "pred_original_sample at t=%d" % t)
            exact += 1
        else:
            # a last-bit change of a scalar moves x0 = (x - sqrt(1-a) e)/sqrt(a) by up to
            # eps32 (|x| + |e|)/sqrt(a): a few of those bound both outputs
            scale = float(x.abs().max() + e.abs().max() + z.abs().max()) / c["sqrt_alpha_t"]
            for a, b, n in ((got.prev_sample, want.prev_sample, "prev_sample"),
                            (got.pred_original_sample, want.pred_original_sample, "pred_original_sample")):
                worst = float((a - b).abs().max())
                assert worst <= 8 * 2.0 ** -23 * scale, "%s at t=%d: differs by %g" % (n, t, worst)
    assert exact > 0 or eta == 0.3, "no timestep with torch's scalars equal to diffpo's: the bitwise branch never ran"


# ------------------------------------------------ scalars="diffusers"
SCALAR_CONFIGS = [
    dict(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
         set_alpha_to_one=False, steps_offset=1),
    dict(),  # linear 1e-4..0.02, clip_sample, set_alpha_to_one (sigma = 0 at the last step)
    dict(beta_schedule="squaredcos_cap_v2", prediction_type="v_prediction", timestep_spacing="trailing",
         clip_sample=False),
]
SCALAR_IDS = ["sd15", "defaults", "cos-trailing-v"]
SHAPE = (2, 3, 9, 7)  # 189 elements a row: the vector body and the scalar tail of the fused pass


def _inputs(k, dtype):
    return [torch.from_numpy(diffpo.normal(SHAPE, seed=s, sample=[0, 1], step=k)).to(dtype) for s in (3, 4, 5)]


@pytest.mark.parametrize("cfg", SCALAR_CONFIGS, ids=SCALAR_IDS)
@pytest.mark.parametrize("S", [50, 20])
@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_step_with_diffusers_scalars_is_diffusers_bits(cfg, S, eta):
    """scalars='diffusers': prev_sample and pred_original_sample are
    DDIMScheduler.step's bits at every timestep, float32, on the
    scheduler's own table (from_diffusers)."""
    ref = diffusers.DDIMScheduler(**cfg)
    ref.set_timesteps(S)
    ours = diffpo.DDIMSchedule.from_diffusers(ref)
    assert ours.scalars == "diffusers" and ours.num_inference_steps == S
    for k, t in enumerate(ref.timesteps.tolist()):
        x, e, z = _inputs(k, torch.float32)
        want = ref.step(e, t, x, eta=eta, variance_noise=z)
        got = ours.step(e, t, x, eta=eta, variance_noise=z if eta else None)
        assert_bits(got.prev_sample, want.prev_sample, "prev_sample at t=%d (S=%d)" % (t, S))
        assert_bits(got.pred_original_sample, want.pred_original_sample, "pred_original_sample at t=%d" % t)


def test_step_with_diffusers_scalars_float64_and_noise_coordinates():
    """float64 samples (diffusers widens its float32 scalars) and noise
    drawn from coordinates (the same bits as variance_noise=)."""
    ref = diffusers.DDIMScheduler(**SCALAR_CONFIGS[0])
    ref.set_timesteps(50)
    ours = diffpo.DDIMSchedule.from_config(ref.config, scalars="diffusers")
    ours.set_timesteps(50)
    for k, t in enumerate(ref.timesteps.tolist()):
        x, e, z = _inputs(k, torch.float64)
        want = ref.step(e, t, x, eta=1.0, variance_noise=z)
        got = ours.step(e, t, x, eta=1.0, variance_noise=z)
        assert_bits(got.prev_sample, want.prev_sample, "float64 prev_sample at t=%d" % t)
        assert_bits(got.pred_original_sample, want.pred_original_sample, "float64 pred_original_sample at t=%d" % t)
        x, e, z = _inputs(k, torch.float32)
        z = torch.from_numpy(diffpo.normal(SHAPE, seed=9, stream="step", sample=[4, 5], step=k))
        want = ref.step(e, t, x, eta=1.0, variance_noise=z)
        got = ours.step(e, t, x, eta=1.0, noise=dict(seed=9, step=k, sample=4))
        assert_bits(got.prev_sample, want.prev_sample, "prev_sample from noise coordinates at t=%d" % t)


def _left_broadcast(v, shape):
    return v.reshape(v.shape + (1,) * (len(shape) - v.ndim)).broadcast_to(shape)


def ddpo_step_batched(sched, model_output, timestep, sample, eta, prev_sample):
    """A DDIM step with log-probability in the form of DDPO's public code
    (docs/references.md section 3): a (B,) timestep tensor, prev clamped to
    [0, N-1], the table gathered and broadcast to the sample's shape, every
    scalar formed on those broadcast tensors, the log-density in float32
    averaged over the non-batch elements."""
    import math
    N = sched.config.num_train_timesteps
    prev_t = torch.clamp(timestep - N // sched.num_inference_steps, 0, N - 1)
    a_t = _left_broadcast(sched.alphas_cumprod.gather(0, timestep), sample.shape)
    a_p = _left_broadcast(sched.alphas_cumprod.gather(0, prev_t), sample.shape)
    b_t = 1 - a_t
    x0 = (sample - b_t ** 0.5 * model_output) / a_t ** 0.5
    g_t, g_p = sched.alphas_cumprod.gather(0, timestep), sched.alphas_cumprod.gather(0, prev_t)
    variance = ((1 - g_p) / (1 - g_t)) * (1 - g_t / g_p)
    std = _left_broadcast(eta * variance ** 0.5, sample.shape)
    mean = a_p ** 0.5 * x0 + (1 - a_p - std ** 2) ** 0.5 * model_output
    lp = (-((prev_sample - mean) ** 2) / (2 * std ** 2) - torch.log(std)
          - torch.log(torch.sqrt(2 * torch.as_tensor(math.pi))))
    return mean, std, lp.mean(dim=tuple(range(1, lp.ndim)))


@pytest.mark.parametrize("S", [50, 20])
def test_ddpo_style_step_with_diffusers_scalars(S):
    """prev_rule='clamped' (DDPO): the mean is a DDPO-style batched step's
    bits and sigma is its std_dev_t's; the log-probability (diffpo's, in
    double over a fixed tree) is the library's density at that sigma, and
    within diffpo.testing's stated tolerance of DDPO's float32 one (not
    bits: the reductions differ)."""
    from diffpo.testing import _lp_tol
    ref = diffusers.DDIMScheduler(**SCALAR_CONFIGS[0])
    ref.set_timesteps(S)
    ours = diffpo.DDIMSchedule.from_diffusers(ref, prev_rule="clamped")
    d = int(np.prod(SHAPE[1:]))
    for k, t in enumerate(ref.timesteps.tolist()):
        x, e, z = _inputs(k, torch.float32)
        prev = torch.from_numpy(diffpo.normal(SHAPE, seed=6, sample=[0, 1], step=k))
        mean, std, lp = ddpo_step_batched(ref, e, torch.tensor([t, t]), x, 1.0, prev)
        got = ours.step(e, t, x, eta=1.0, prev_sample=prev, logprob="mean")
        assert_bits(got.mean, mean, "DDPO mean at t=%d" % t)
        sigma = float(std.reshape(-1)[0])
        assert ours.coefficients(t, eta=1.0)["sigma"] == sigma, "sigma at t=%d" % t
        assert_bits(got.log_prob, diffpo.gauss_logprob(prev, mean, sigma, "mean"), "log_prob at t=%d" % t)
        atol, rtol = _lp_tol("f32", "mean", d, sigma, None)
        diff = (got.log_prob - lp.double()).abs()
        bound = atol + rtol * lp.double().abs()
        assert bool((diff <= bound).all()), "log_prob at t=%d: differs from DDPO's by %s" % (t, diff.tolist())


def test_diffusers_scalars_differ_from_ieee_here():
    """What the mode is for: on this PyTorch build some of the step's
    float32 square roots are not correctly rounded, and there the IEEE
    default is not diffusers' bits while scalars='diffusers' is.  Skipped
    (saying so) on a build whose sqrt is correctly rounded for every
    scalar of the schedule."""
    ref = diffusers.DDIMScheduler(**SCALAR_CONFIGS[0])
    ref.set_timesteps(50)
    ieee = diffpo.DDIMSchedule.from_config(ref.config)
    ieee.set_timesteps(50)
    dif = diffpo.DDIMSchedule.from_diffusers(ref)
    names = ["sqrt_alpha_t", "sqrt_beta_t", "sqrt_alpha_prev", "sigma", "dir_coef"]
    differ = []
    for k, t in enumerate(ref.timesteps.tolist()):
        a, b = ieee.coefficients(t, eta=1.0), dif.coefficients(t, eta=1.0)
        assert [b[n] for n in names] == torch_scalars(ref, t, 1.0), "diffusers' scalars at t=%d" % t
        if [a[n] for n in names] != [b[n] for n in names]:
            differ.append((k, t))
    if not differ:
        pytest.skip("PyTorch's float32 sqrt is correctly rounded for every scalar of this schedule")
    k, t = differ[0]
    x, e, z = _inputs(k, torch.float32)
    want = ref.step(e, t, x, eta=1.0, variance_noise=z)
    assert not torch.equal(ieee.step(e, t, x, eta=1.0, variance_noise=z).pred_original_sample,
                           want.pred_original_sample), "t=%d: IEEE scalars differ yet the step is equal" % t
    assert_bits(dif.step(e, t, x, eta=1.0, variance_noise=z).pred_original_sample, want.pred_original_sample,
                "pred_original_sample at t=%d" % t)


def test_diffusers_scalars_zero_terminal_snr():
    """A zero-terminal-SNR table (rescale_betas_zero_snr, trailing, v):
    from_diffusers takes the scheduler's own table.  Where diffusers' float32
    sigma^2 exceeds 1 - alpha_prev (its direction coefficient is NaN, and so
    is its step) the mode raises naming eta instead of returning NaN; every
    other timestep is diffusers' bits."""
    ref = diffusers.DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                  rescale_betas_zero_snr=True, timestep_spacing="trailing",
                                  prediction_type="v_prediction", clip_sample=False)
    ref.set_timesteps(50)
    ours = diffpo.DDIMSchedule.from_diffusers(ref)
    assert_bits(ours.alphas_cumprod, ref.alphas_cumprod.numpy(), "alphas_cumprod")
    for eta in (0.0, 1.0):
        for k, t in enumerate(ref.timesteps.tolist()):
            x, e, z = _inputs(k, torch.float32)
            want = ref.step(e, t, x, eta=eta, variance_noise=z)
            if bool(torch.isnan(want.prev_sample).all()):
                with pytest.raises(ValueError, match="^eta: .*diffusers' own step is NaN"):
                    ours.step(e, t, x, eta=eta, variance_noise=z)
                continue
            got = ours.step(e, t, x, eta=eta, variance_noise=z if eta else None)
            assert_bits(got.prev_sample, want.prev_sample, "prev_sample at t=%d, eta=%g" % (t, eta))
            assert_bits(got.pred_original_sample, want.pred_original_sample, "pred_original_sample at t=%d" % t)


def test_eta0_negative_zero_is_the_one_element_difference():
    """The element pass differs from diffusers' in one place: with eta = 0
    diffusers returns the mean as prev_sample, while diffpo adds sigma z
    with sigma = 0, z = 0, which turns a mean of -0.0 into +0.0.  The
    values are equal; StepOutput.mean keeps diffusers' bits."""
    ref = diffusers.DDIMScheduler(prediction_type="sample", clip_sample=False)
    ref.set_timesteps(20)
    ours = diffpo.DDIMSchedule.from_diffusers(ref)
    x, e = torch.full((1, 16), -0.5), torch.full((1, 16), -0.0)
    want = ref.step(e, 0, x, eta=0.0).prev_sample
    got = ours.step(e, 0, x, eta=0.0)
    assert bool(torch.signbit(want).all()) and not bool(torch.signbit(got.prev_sample).any())
    assert torch.equal(got.prev_sample, want)
    assert_bits(got.mean, want, "mean at t=0")


def test_scalars_argument_errors():
    with pytest.raises(ValueError, match="^scalars: 'torch'"):
        diffpo.DDIMSchedule(scalars="torch")
    with pytest.raises(TypeError, match="^scheduler"):
        diffpo.DDIMSchedule.from_diffusers(object())


def test_check_ddim_step_names_the_previous_timestep_rule():
    """With set_alpha_to_one, diffusers' rule gives alpha_prev = 1 and
    sigma = 0 at the last step, DDPO's clamped rule alpha_prev =
    alphas_cumprod[0]: a DDPO-style step that forgot the clamp has no finite
    log-probability there, and the message says which rule it follows."""
    import diffpo.testing
    sched = diffusers.DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                    clip_sample=False, set_alpha_to_one=True, steps_offset=1)
    mod = _example()
    good = lambda *a, **k: mod.ddpo_step(sched, *a, **k)  # noqa: E731
    assert "log_prob" in diffpo.testing.check_ddim_step(good, sched, eta=1.0, logprob="mean", prev_rule="clamped")

    def no_clamp(model_output, timestep, sample, eta=1.0, prev_sample=None):
        N = sched.config.num_train_timesteps
        prev_t = timestep - N // sched.num_inference_steps
        a_t = sched.alphas_cumprod[timestep]
        a_prev = sched.alphas_cumprod[prev_t] if prev_t >= 0 else sched.final_alpha_cumprod
        x0 = (sample - (1 - a_t) ** 0.5 * model_output) / a_t ** 0.5
        std = eta * (((1 - a_prev) / (1 - a_t)) * (1 - a_t / a_prev)) ** 0.5
        mean = a_prev ** 0.5 * x0 + (1 - a_prev - std ** 2) ** 0.5 * model_output
        lp = -((prev_sample - mean) ** 2) / (2 * std ** 2) - torch.log(std) - 0.5 * np.log(2 * np.pi)
        return prev_sample, lp.mean(dim=tuple(range(1, lp.ndim)))
    with pytest.raises(AssertionError) as ei:
        diffpo.testing.check_ddim_step(no_clamp, sched, eta=1.0, logprob="mean", prev_rule="clamped")
    msg = str(ei.value)
    assert "case 't=1 (step 19 of 20)'" in msg and "output log_prob" in msg, msg
    assert "not finite: under prev_rule='diffusers'" in msg and "the reference uses prev_rule='clamped'" in msg, msg


def _example():
    import importlib.util
    import os
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "..", "..", "examples", "python", "test_ddpo_step.py")
    spec = importlib.util.spec_from_file_location("ddpo_example", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
