"""threads= of diffpo.normal and DDIMSchedule.step: the C library's
multi-threaded forms (dpo_*_mt) give the bits of threads=1 for every count,
the keyword really reaches them, and a bad count raises ValueError naming
`threads`."""
import numpy as np
import pytest

import diffpo
from diffpo import _capi
from conftest import assert_bits

COUNTS = (1, 2, 3)


def _inputs(shape, dtype, seed):
    r = np.random.default_rng(seed)
    return (r.standard_normal(shape).astype(dtype), r.standard_normal(shape).astype(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_same_bits_for_every_thread_count(dtype):
    # 3 * 4099 elements from an odd e0: pieces cut at Philox blocks, with a
    # partial block at both ends
    one = diffpo.normal((3, 4099), seed=2 ** 40 + 5, stream="user", sample=7, step=3, dtype=dtype, e0=5)
    rows = diffpo.normal((3, 4099), seed=9, stream="step", sample=[4, 0, 11], step=2, dtype=dtype)
    for t in COUNTS[1:]:
        assert_bits(diffpo.normal((3, 4099), seed=2 ** 40 + 5, stream="user", sample=7, step=3, dtype=dtype,
                                  e0=5, threads=t), one, "normal threads=%d" % t)
        assert_bits(diffpo.normal((3, 4099), seed=9, stream="step", sample=[4, 0, 11], step=2, dtype=dtype,
                                  threads=t), rows, "normal per-row samples threads=%d" % t)
    # and the elements are the tensor's: a piece drawn alone is the same
    assert_bits(diffpo.normal(100, seed=2 ** 40 + 5, stream="user", sample=7, step=3, dtype=dtype, e0=5 + 4000,
                              threads=2), one.reshape(-1)[4000:4100], "piece")


def _step_all(s, t, x, e, **kw):
    o = s.step(e, 501, x, eta=1.0, threads=t, **kw)
    return [v for v in o if v is not None]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("logprob", ["mean", "sum", None])
def test_step_same_bits_for_every_thread_count(dtype, logprob):
    s = diffpo.DDIMSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    s.set_timesteps(20)
    x, e = _inputs((5, 3, 33), dtype, 1)
    z = _inputs((5, 3, 33), dtype, 2)[0]
    cases = [dict(noise=dict(seed=3, step=7, sample=10)),
             dict(noise=dict(seed=3, step=7, sample=10), pred_original_sample=False),
             dict(variance_noise=z)]
    for kw in cases:
        ref = _step_all(s, 1, x, e, logprob=logprob, **kw)
        assert len(ref) == (4 if logprob else 3) - (1 if kw.get("pred_original_sample") is False else 0)
        for t in COUNTS[1:]:
            got = _step_all(s, t, x, e, logprob=logprob, **kw)
            assert len(got) == len(ref)
            for k, (a, b) in enumerate(zip(got, ref)):
                assert_bits(a, b, "step output %d, threads=%d, %s" % (k, t, sorted(kw)))


def test_step_threads_reach_the_threaded_forms(monkeypatch):
    """threads > 1 calls the _mt forms with the count (threads=1: the
    single-threaded ones), so the keyword is not silently dropped."""
    calls = []

    def spy(name):
        real = getattr(_capi, name)

        def f(*a):
            calls.append((name, a[-1]))
            return real(*a)
        f.__name__ = real.__name__
        monkeypatch.setattr(_capi, name, f)

    for n in ("step_fused_x0_f32_mt", "step_philox_f64_mt", "normal_f32_mt", "step_fused_x0_f32",
              "step_philox_f64", "normal_f32"):
        spy(n)
    s = diffpo.DDIMSchedule()
    s.set_timesteps(10)
    x32, e32 = _inputs((2, 8), np.float32, 3)
    x64, e64 = _inputs((2, 8), np.float64, 3)
    s.step(e32, 901, x32, eta=1.0, noise=dict(seed=1), threads=3)
    s.step(e64, 901, x64, eta=1.0, noise=dict(seed=1), threads=2)
    diffpo.normal(64, threads=2)
    assert calls == [("step_fused_x0_f32_mt", 3), ("step_philox_f64_mt", 2), ("step_philox_f64_mt", 2),
                     ("normal_f32_mt", 2)]
    del calls[:]
    s.step(e32, 901, x32, eta=1.0, noise=dict(seed=1))
    s.step(e64, 901, x64, eta=1.0, noise=dict(seed=1), threads=1)
    diffpo.normal(64)
    assert [c[0] for c in calls] == ["step_fused_x0_f32", "step_philox_f64", "step_philox_f64", "normal_f32"]


@pytest.mark.parametrize("bad", [0, -1, 257, 2.0, "2", True, None])
def test_bad_thread_count_names_threads(bad):
    s = diffpo.DDIMSchedule()
    s.set_timesteps(10)
    x, e = _inputs((2, 8), np.float32, 4)
    with pytest.raises(ValueError, match="threads"):
        diffpo.normal(8, threads=bad)
    with pytest.raises(ValueError, match="threads"):
        s.step(e, 901, x, eta=1.0, noise=dict(seed=1), threads=bad)
