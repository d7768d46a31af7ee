#!/usr/bin/env python3
"""Benchmark of the Python binding (docs/performance.md, "Python binding"):
per-call overhead on 1-element calls, and diffpo's step with log-probability
against DDPO's eager PyTorch step at d = 16384, batch 32, on the same CPU in
the same run.  Not a test: prints a table.

    DIFFPO_LIB=build/libdiffpo.so PYTHONPATH=python python3 python/bench_step.py [--quick] [--cpu]
"""
import math
import os
import platform
import sys
import time

import numpy as np

import diffpo
from diffpo import _capi

QUICK = "--quick" in sys.argv
CPU = "--cpu" in sys.argv


CLOCK = time.perf_counter


def best_of(fn, reps, rounds=7):
    """The smallest over `rounds` of the mean time of `reps` calls (seconds:
    the least disturbed round on a shared machine), on
    CLOCK: wall time, or with --cpu this thread's CPU time (less sensitive
    to other work on the machine; 1-thread figures only)."""
    times = []
    for _ in range(rounds):
        t0 = CLOCK()
        for _ in range(reps):
            fn()
        times.append((CLOCK() - t0) / reps)
    return min(times)


def main():
    import ctypes as C
    global CLOCK
    if CPU:
        CLOCK = time.thread_time
    sched = diffpo.DDIMSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                set_alpha_to_one=False, steps_offset=1, clip_sample=False, prev_rule="clamped")
    sched.set_timesteps(20)
    t = 501
    rows = []
    # ---- per-call overhead: 1 element
    x1 = np.ones((1, 1), np.float32)
    z1 = np.ones((1, 1), np.float32)
    reps = 2000 if QUICK else 20000
    c = sched._coef(t, None, 1.0, False, None, "f32")
    out = np.empty(1, np.float32)
    po = out.ctypes.data_as(_capi.P_f32)
    px = x1.ctypes.data_as(_capi.P_f32)
    raw = best_of(lambda: _capi.step_f32(po, None, po, px, px, px, 1, C.byref(c)), reps)
    rows.append(("ctypes call of dpo_step_f32, 1 element (floor)", raw))
    rows.append(("step(variance_noise=, logprob=None), 1 element",
                 best_of(lambda: sched.step(x1, t, x1, eta=1.0, variance_noise=z1), reps)))
    rows.append(("step(variance_noise=, logprob='mean'), 1 element",
                 best_of(lambda: sched.step(x1, t, x1, eta=1.0, variance_noise=z1, logprob="mean"), reps)))
    a = np.ones(1, np.float32)
    rows.append(("tailorpo(...) with gradient, 1 element",
                 best_of(lambda: diffpo.tailorpo(a, a, a, a, beta=0.1, sigma=0.5), reps)))
    print("# diffpo Python binding benchmark: %s, Python %s, NumPy %s; %s" % (
        platform.processor() or platform.machine(), platform.python_version(), np.__version__,
        "thread CPU time" if CPU else "wall time"))
    print("%-55s %12s" % ("per-call overhead", "us/call"))
    for name, s in rows:
        print("%-55s %12.2f" % (name, s * 1e6))
    # ---- d = 16384, batch 32
    try:
        import torch
    except Exception:
        print("torch not importable: the eager comparison is skipped")
        return
    B, d = 32, 16384
    shape = (B, 4, 64, 64)
    assert int(np.prod(shape[1:])) == d
    x = diffpo.normal(shape, seed=1, sample=list(range(B)))
    e = diffpo.normal(shape, seed=2, sample=list(range(B)))
    z = diffpo.normal(shape, seed=3, sample=list(range(B)))
    xt, et, zt = torch.from_numpy(x), torch.from_numpy(e), torch.from_numpy(z)
    ac = torch.from_numpy(sched.alphas_cumprod)
    N, S = 1000, 20

    def ddpo_eager(model_output, timestep, sample, eta=1.0, noise=None):
        prev_t = min(max(timestep - N // S, 0), N - 1)
        a_t, a_prev = ac[timestep], ac[prev_t]
        b_t = 1 - a_t
        x0 = (sample - b_t ** 0.5 * model_output) / a_t ** 0.5
        std = eta * (((1 - a_prev) / b_t) * (1 - a_t / a_prev)) ** 0.5
        mean = a_prev ** 0.5 * x0 + (1 - a_prev - std ** 2) ** 0.5 * model_output
        noise = torch.randn(model_output.shape, dtype=model_output.dtype) if noise is None else noise
        prev = mean + std * noise
        lp = (-((prev.detach() - mean) ** 2) / (2 * std ** 2) - torch.log(std)
              - torch.log(torch.sqrt(2 * torch.as_tensor(math.pi))))
        return prev, lp.mean(dim=tuple(range(1, lp.ndim)))

    reps = 3 if QUICK else 20
    res = []
    for threads in ((1,) if CPU else (1, 2)):
        torch.set_num_threads(threads)
        te = best_of(lambda: ddpo_eager(et, t, xt, noise=zt), reps)
        tr = best_of(lambda: ddpo_eager(et, t, xt), reps)
        res.append(("DDPO eager PyTorch step, given noise, torch threads %d" % threads, te))
        res.append(("DDPO eager PyTorch step, torch.randn noise, torch threads %d" % threads, tr))
    td = best_of(lambda: sched.step(et, t, xt, eta=1.0, variance_noise=zt, logprob="mean"), reps)
    tn = best_of(lambda: sched.step(et, t, xt, eta=1.0, noise=dict(seed=7, step=3), logprob="mean"), reps)
    tnp = best_of(lambda: sched.step(e, t, x, eta=1.0, variance_noise=z, logprob="mean"), reps)
    tf = best_of(lambda: sched.step(et, t, xt, eta=1.0, variance_noise=zt, logprob="mean", pred_original_sample=False),
                 reps)
    tfn = best_of(lambda: sched.step(et, t, xt, eta=1.0, noise=dict(seed=7, step=3), logprob="mean",
                                     pred_original_sample=False), reps)
    print()
    print("%-62s %10s %10s" % ("d = 16384, batch 32, float32, step + mean log-prob", "ms/call", "eager1/this"))
    base = res[0][1]
    for name, s in res + [("diffpo step(variance_noise=torch tensor), with x0, 1 thread", td),
                          ("diffpo step(variance_noise=NumPy array), with x0, 1 thread", tnp),
                          ("diffpo step(noise=coordinates: Philox inside), with x0, 1 thread", tn),
                          ("diffpo step(torch, pred_original_sample=False: fused), 1 thread", tf),
                          ("diffpo step(noise=coordinates, fused), 1 thread", tfn)]:
        print("%-62s %10.3f %10.2f" % (name, s * 1e3, base / s))
    a, b = ddpo_eager(et, t, xt, noise=zt)
    o = sched.step(et, t, xt, eta=1.0, variance_noise=zt, logprob="mean")
    print("\nmax |log_prob(diffpo) - log_prob(eager)| = %.3g (float32 eager vs double reductions)"
          % float((o.log_prob - b.double()).abs().max()))


if __name__ == "__main__":
    main()
