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
