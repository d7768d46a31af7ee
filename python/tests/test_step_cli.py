"""The schedule, the DDIM step with log-probability, the coordinate noise
and the fingerprint against the C library's command-line tool, bit for
bit: `diffpo schedule`, `diffpo ddim-step` and `diffpo rollout` print or
write the library's own results."""
import os

import numpy as np
import pytest

import diffpo
from conftest import assert_bits, have_torch, run_cli

SCHEDULES = [
    dict(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, num_train_timesteps=1000),
    dict(beta_schedule="linear", beta_start=0.0001, beta_end=0.02, num_train_timesteps=1000),
    dict(beta_schedule="squaredcos_cap_v2", num_train_timesteps=1000),
    dict(beta_schedule="scaled_linear", beta_start=0.001, beta_end=0.02, num_train_timesteps=250),
]


def cli_schedule_args(s):
    a = ["--beta-schedule", s["beta_schedule"], "--train-steps", s["num_train_timesteps"]]
    if "beta_start" in s:
        a += ["--beta-start", repr(s["beta_start"]), "--beta-end", repr(s["beta_end"])]
    return a


@pytest.mark.parametrize("cfg", SCHEDULES, ids=lambda s: "%s-%d" % (s["beta_schedule"], s["num_train_timesteps"]))
@pytest.mark.parametrize("spacing,offset,S", [("leading", 1, 20), ("trailing", 0, 50), ("linspace", 0, 7)])
def test_schedule_and_timesteps_equal_cli(tmp_path, cfg, spacing, offset, S):
    out = run_cli("schedule", *cli_schedule_args(cfg), "--out", tmp_path / "ac.npy", "--out64", tmp_path / "ac64.npy",
                  "--steps", S, "--spacing", spacing, "--steps-offset", offset)
    sched = diffpo.DDIMSchedule(timestep_spacing=spacing, steps_offset=offset, **cfg)
    assert_bits(sched.alphas_cumprod, np.load(tmp_path / "ac.npy"), "alphas_cumprod float32")
    assert_bits(sched.alphas_cumprod_f64, np.load(tmp_path / "ac64.npy"), "alphas_cumprod float64")
    assert sched.alphas_cumprod.dtype == np.float32
    assert list(sched.timesteps(S)) == [int(v) for v in out.split()]


def test_table_schedule_equals_cli(tmp_path):
    table = np.cumprod(1 - np.linspace(0.001, 0.03, 300)).astype(np.float64)
    np.save(tmp_path / "t.npy", table)
    run_cli("schedule", "--table", tmp_path / "t.npy", "--out", tmp_path / "ac.npy")
    sched = diffpo.DDIMSchedule(num_train_timesteps=300, alphas_cumprod=table)
    assert_bits(sched.alphas_cumprod, np.load(tmp_path / "ac.npy"), "table alphas_cumprod")


# (dtype, schedule, timestep, S, eta, prediction, logprob, prev_rule, set_alpha_to_one, clip)
STEPS = [
    ("f32", 0, 951, 20, 1.0, "epsilon", "sum", "diffusers", 0, None),
    ("f32", 0, 451, 20, 1.0, "epsilon", "mean", "clamped", 0, None),
    ("f32", 0, 1, 20, 1.0, "epsilon", "mean", "clamped", 1, None),
    ("f32", 0, 1, 20, 0.7, "epsilon", None, "diffusers", 1, None),
    ("f64", 1, 500, 10, 0.5, "v_prediction", "sum", "diffusers", 0, None),
    ("f32", 2, 980, 50, 1.0, "sample", "mean", "diffusers", 0, 1.0),
    ("f64", 0, 901, 20, 1.0, "epsilon", "mean", "clamped", 0, 1.5),
    ("f32", 1, 700, 25, 0.0, "epsilon", None, "diffusers", 1, None),
]


@pytest.mark.parametrize("case", STEPS, ids=["-".join(str(v) for v in c[:7]) for c in STEPS])
@pytest.mark.parametrize("array", ["numpy", "torch"])
def test_step_equals_cli_ddim_step(tmp_path, case, array):
    if array == "torch" and not have_torch():
        pytest.skip("torch is not installed (make deps installs it)")
    prec, si, t, S, eta, pred, lp, rule, one, clip = case
    cfg = SCHEDULES[si]
    dt = np.float32 if prec == "f32" else np.float64
    shape = (3, 2, 5, 5)
    x = diffpo.normal(shape, seed=5, sample=[0, 1, 2], step=1, dtype=dt)
    e = diffpo.normal(shape, seed=5, sample=[0, 1, 2], step=2, dtype=dt)
    z = diffpo.normal(shape, seed=5, sample=[0, 1, 2], step=3, dtype=dt)
    for n, v in (("x", x), ("e", e), ("z", z)):
        np.save(tmp_path / (n + ".npy"), v)
    args = ["ddim-step", "--sample", tmp_path / "x.npy", "--model-output", tmp_path / "e.npy", "--timestep", t,
            "--steps", S, "--eta", repr(eta), "--prediction", pred, "--prev-rule", rule, "--set-alpha-to-one", one,
            "--out", tmp_path / "prev.npy", "--mean-out", tmp_path / "mu.npy", "--x0-out", tmp_path / "x0.npy"]
    args += cli_schedule_args(cfg)
    if eta > 0:
        args += ["--noise", tmp_path / "z.npy"]
    if lp:
        args += ["--logprob", lp, "--logprob-out", tmp_path / "lp.npy"]
    if clip:
        args += ["--clip-sample", repr(clip)]
    run_cli(*args)
    sched = diffpo.DDIMSchedule(set_alpha_to_one=bool(one), prediction_type=pred, clip_sample=clip is not None,
                                clip_sample_range=clip or 1.0, prev_rule=rule, **cfg)
    sched.set_timesteps(S)
    conv = (lambda a: a)
    if array == "torch":
        import torch
        conv = torch.from_numpy
    out = sched.step(conv(e), t, conv(x), eta=eta, variance_noise=conv(z) if eta > 0 else None, logprob=lp)
    assert_bits(out.prev_sample, np.load(tmp_path / "prev.npy"), "prev_sample")
    assert_bits(out.mean, np.load(tmp_path / "mu.npy"), "mean")
    assert_bits(out.pred_original_sample, np.load(tmp_path / "x0.npy"), "pred_original_sample")
    if lp:
        assert_bits(out.log_prob, np.load(tmp_path / "lp.npy"), "log_prob")
    else:
        assert out.log_prob is None
    if array == "torch":
        assert type(out.prev_sample).__name__ == "Tensor" and out.prev_sample.dtype == conv(x).dtype
    # without x0 (float32 with a log-probability: one fused pass), the same bits
    lean = sched.step(conv(e), t, conv(x), eta=eta, variance_noise=conv(z) if eta > 0 else None, logprob=lp,
                      pred_original_sample=False)
    assert lean.pred_original_sample is None
    assert_bits(lean.prev_sample, out.prev_sample, "prev_sample without x0")
    assert_bits(lean.mean, out.mean, "mean without x0")
    if lp:
        assert_bits(lean.log_prob, out.log_prob, "log_prob without x0")
    # the given-prev_sample form (DDPO's log-probability of a stored x_{t-1}) gives the same log-probability
    if lp:
        again = sched.step(conv(e), t, conv(x), eta=eta, prev_sample=out.prev_sample, logprob=lp)
        assert_bits(again.log_prob, out.log_prob, "log_prob of a given prev_sample")


@pytest.mark.parametrize("seed,batch,dim", [(11, 7, 45), (0, 1, 1), (2 ** 63 + 5, 3, 64), (123, 4, 1000)])
def test_normal_and_fingerprint_equal_cli_rollout(seed, batch, dim):
    """`diffpo rollout` prints XXH3 of x_T: the stream-init normals of
    samples 0..B-1 at step 0 (docs/reproducibility.md)."""
    out = run_cli("rollout", "--seed", seed, "--batch", batch, "--dim", dim, "--steps", 2)
    want = [ln.split()[1] for ln in out.splitlines() if ln.startswith("x_T ")][0]
    x = diffpo.normal((batch, dim), seed=seed, stream="init", sample=list(range(batch)), step=0)
    assert "%016x" % diffpo.fingerprint(x) == want
    # pieces: element e of a tensor does not depend on how it is asked for
    row = diffpo.normal((dim,), seed=seed, stream="init", sample=batch - 1)
    assert_bits(row, x[-1], "one row alone")
    if dim > 3:
        tail = diffpo.normal((dim - 3,), seed=seed, stream="init", sample=batch - 1, e0=3)
        assert_bits(tail, x[-1, 3:], "elements from e0 = 3")


def test_step_noise_coordinates_are_the_rollout_stream():
    """step(noise=dict(seed, step)) uses the noise of stream 'step', sample
    b, step k, as the library's rollout does."""
    sched = diffpo.DDIMSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    sched.set_timesteps(10)
    x = diffpo.normal((2, 16), seed=1)
    e = diffpo.normal((2, 16), seed=2)
    a = sched.step(e, 901, x, eta=1.0, noise=dict(seed=9, step=4, sample=10), logprob="sum")
    z = diffpo.normal((2, 16), seed=9, stream="step", step=4, sample=[10, 11])
    b = sched.step(e, 901, x, eta=1.0, variance_noise=z, logprob="sum")
    assert_bits(a.prev_sample, b.prev_sample, "prev_sample")
    assert_bits(a.log_prob, b.log_prob, "log_prob")
    f = sched.step(e, 901, x, eta=1.0, noise=dict(seed=9, step=4, sample=10), logprob="sum", pred_original_sample=False)
    assert_bits(f.prev_sample, b.prev_sample, "prev_sample, fused with coordinates")
    assert_bits(f.log_prob, b.log_prob, "log_prob, fused with coordinates")


def test_logprob_where_sigma_is_zero_raises_sigma_zero():
    sched = diffpo.DDIMSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                set_alpha_to_one=True)
    sched.set_timesteps(20)
    x = diffpo.normal((2, 8), seed=1)
    out = sched.step(x, 1, x, eta=0.7)  # the last step with set_alpha_to_one: sigma = 0, no noise needed
    assert out.log_prob is None
    for kw in (dict(eta=0.7), dict(eta=0.0)):
        with pytest.raises(diffpo.DiffpoError) as ei:
            sched.step(x, 1 if kw["eta"] else 501, x, logprob="mean", **kw)
        assert ei.value.status == "DPO_ERR_SIGMA_ZERO"


def test_normal_f64_rounds_to_f32():
    a = diffpo.normal((5, 7), seed=3, sample=[0, 1, 2, 3, 4], dtype=np.float64)
    b = diffpo.normal((5, 7), seed=3, sample=[0, 1, 2, 3, 4], dtype=np.float32)
    assert_bits(a.astype(np.float32), b, "float64 normals rounded once")


def test_fingerprint_of_bytes_and_tensors():
    a = np.arange(10, dtype=np.float32)
    assert diffpo.fingerprint(a) == diffpo.fingerprint(a.tobytes())
    assert diffpo.fingerprint(a) != diffpo.fingerprint(a, seed=1)
    if have_torch():
        import torch
        assert diffpo.fingerprint(torch.from_numpy(a)) == diffpo.fingerprint(a)


def _two_pass(sched, e, t, x, eta, z, coord, logprob, use_clipped):
    """The library's two-pass float32 step (dpo_step_f32 or dpo_step_philox_f32
    row by row, then dpo_step_logprob_f32), called directly: the reference
    the fused one-pass step of DDIMSchedule.step must equal bit for bit."""
    import ctypes as C
    from diffpo import _capi
    c = sched._coef(t, None, eta, use_clipped, None, "f32")
    B, d = x.shape[0], x.size // x.shape[0]
    prev, mu, x0 = (np.empty_like(x) for _ in range(3))
    P = lambda a: a.ctypes.data  # noqa: E731
    if coord is not None:
        for b in range(B):
            nc = _capi.NoiseCoord(coord["seed"], _capi.STREAMS["step"], coord["sample"] + b, coord["step"], 0)
            o = b * d * 4
            assert _capi.step_philox_f32(P(prev) + o, P(x0) + o, P(mu) + o, P(x) + o, P(e) + o, nc, d, C.byref(c)) == 0
    else:
        assert _capi.step_f32(P(prev), P(x0), P(mu), P(x), P(e), P(z) if z is not None else None, x.size,
                              C.byref(c)) == 0
    lp = None
    if logprob:
        lp = np.empty(B)
        assert _capi.step_logprob_f32(P(lp), P(prev), P(mu), B, d, C.byref(c), _capi.LOGPROB[logprob]) == 0
    return prev, mu, x0, lp


@pytest.mark.parametrize("pred", ["epsilon", "v_prediction", "sample"])
@pytest.mark.parametrize("variant", ["plain", "use_clipped", "clip", "coords", "eta0"])
def test_full_step_fused_equals_two_pass(pred, variant):
    """The full float32 step (x0 included) runs as one fused pass
    (dpo_step_fused_x0_f32); x_prev, mean, x0 and the log-probability equal
    the two-pass path bit for bit, with rows of 37 elements (vector
    batches plus tails), use_clipped_model_output with and without the
    clip, noise coordinates and eta = 0."""
    clip = variant == "clip" or (variant == "use_clipped" and pred == "sample")
    sched = diffpo.DDIMSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                prediction_type=pred, clip_sample=clip, clip_sample_range=0.8)
    sched.set_timesteps(20)
    shape = (3, 37)
    x = diffpo.normal(shape, seed=21, sample=[0, 1, 2], step=1) * np.float32(1.5)
    e = diffpo.normal(shape, seed=21, sample=[0, 1, 2], step=2)
    z = diffpo.normal(shape, seed=21, sample=[0, 1, 2], step=3)
    uc = variant in ("use_clipped", "clip")
    eta = 0.0 if variant == "eta0" else 1.0
    coord = dict(seed=4, step=2, sample=7) if variant == "coords" else None
    lp = None if variant == "eta0" else "mean"
    kw = dict(eta=eta, use_clipped_model_output=uc, logprob=lp)
    if coord is not None:
        out = sched.step(e, 501, x, noise=coord, **kw)
    else:
        out = sched.step(e, 501, x, variance_noise=z if eta else None, **kw)
    prev, mu, x0, lpr = _two_pass(sched, e, 501, x, eta, z if eta and coord is None else None, coord, lp, uc)
    assert_bits(out.prev_sample, prev, "prev_sample")
    assert_bits(out.mean, mu, "mean")
    assert_bits(out.pred_original_sample, x0, "pred_original_sample")
    if lp:
        assert_bits(out.log_prob, lpr, "log_prob")
    else:
        assert out.log_prob is None
