"""A worked pytest example of diffpo.testing: regression-test your own
DDPO-style DDIM step with log-probability against diffpo.

    pip install ./python pytest torch diffusers
    pytest examples/python/test_ddpo_step.py -rxX

`ddpo_step` below is written the way DDPO's public training code writes
its step (PyTorch, eager, per-element mean log-probability, previous
timestep clamped to [0, N-1]).  test_ddpo_step_matches_diffpo passes.
`broken_step` sums the log-density over the elements instead of averaging
it; test_broken_step_is_caught is marked as an expected failure (strict:
it must fail), so `pytest -rx` prints the message diffpo.testing gives,
e.g.

    diffpo.testing: case 't=951 (step 0 of 20)', output log_prob: max |diff| 3.1e+02
    (tolerance 2.4e-05 + 1e-05*|ref|) ...
    convention: your values match diffpo with logprob='sum' (summed over the elements);
    the reference uses logprob='mean' (averaged over the elements, DDPO / D3PO / SPO code)
"""
import math

import pytest

torch = pytest.importorskip("torch")
diffusers = pytest.importorskip("diffusers")

import diffpo.testing  # noqa: E402


def ddpo_step(scheduler, model_output, timestep, sample, eta=1.0, prev_sample=None, generator=None):
    """DDIM step with log-probability in DDPO's form (eager PyTorch)."""
    N = scheduler.config.num_train_timesteps
    prev_t = timestep - N // scheduler.num_inference_steps
    prev_t = min(max(prev_t, 0), N - 1)  # DDPO clamps
    a_t = scheduler.alphas_cumprod[timestep]
    a_prev = scheduler.alphas_cumprod[prev_t] if prev_t >= 0 else scheduler.final_alpha_cumprod
    b_t = 1 - a_t
    x0 = (sample - b_t ** 0.5 * model_output) / a_t ** 0.5
    variance = ((1 - a_prev) / b_t) * (1 - a_t / a_prev)
    std = eta * variance ** 0.5
    mean = a_prev ** 0.5 * x0 + (1 - a_prev - std ** 2) ** 0.5 * model_output
    if prev_sample is None:
        prev_sample = mean + std * torch.randn(model_output.shape, generator=generator, dtype=model_output.dtype)
    log_prob = (-((prev_sample.detach() - mean) ** 2) / (2 * std ** 2) - torch.log(std)
                - torch.log(torch.sqrt(2 * torch.as_tensor(math.pi))))
    log_prob = log_prob.mean(dim=tuple(range(1, log_prob.ndim)))
    return prev_sample, log_prob


def broken_step(scheduler, model_output, timestep, sample, eta=1.0, prev_sample=None, generator=None):
    """The same step with one convention changed: the log-density summed
    over the elements (the papers' density of the whole tensor)."""
    prev_sample, lp_mean = ddpo_step(scheduler, model_output, timestep, sample, eta, prev_sample, generator)
    return prev_sample, lp_mean * sample[0].numel()


def sd15_scheduler():
    return diffusers.DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                   clip_sample=False, set_alpha_to_one=False, steps_offset=1)


def test_ddpo_step_matches_diffpo():
    sched = sd15_scheduler()
    diffpo.testing.check_ddim_step(lambda *a, **k: ddpo_step(sched, *a, **k), sched,
                                   num_inference_steps=20, eta=1.0, logprob="mean", prev_rule="clamped")


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="deliberately broken: sums instead of averaging")
def test_broken_step_is_caught():
    sched = sd15_scheduler()
    diffpo.testing.check_ddim_step(lambda *a, **k: broken_step(sched, *a, **k), sched,
                                   num_inference_steps=20, eta=1.0, logprob="mean", prev_rule="clamped")
