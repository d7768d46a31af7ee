#!/usr/bin/env python3
"""The Python package's CUDA route, bit for bit against its CPU route.

On a GPU (tests/gpu/run_gpu_tests.sh runs it after the CUDA test programs):

    DIFFPO_LIB=build/cuda/libdiffpo.so PYTHONPATH=python python3 tests/gpu/py_cuda_bits.py

with real torch CUDA tensors: every binding that routes CUDA tensors to
include/diffpo_cuda.h (normal, DDIMSchedule.step with and without a
log-probability, every loss with a CUDA form, gauss_logprob,
tailorpo_g_update) must give the bits the same call gives on CPU tensors,
its outputs must be CUDA tensors on the inputs' device, work must follow
torch's current stream (the cases run once more on a side stream), and the
errors (mixed devices, float64 steps, functions without a CUDA form) must
name the argument.  The test copies device results to the host to compare
them (.cpu(), explicit); the package itself never does.

As a module, tests/py_cuda_route.py runs the same cases() on the CPU
emulation of the CUDA runtime (no GPU), with stand-in CUDA tensors.

Ends with 'N passed, M failed'.
"""
import os
import sys

import numpy as np


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, cond, name, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL %s%s" % (name, (": " + detail) if detail else ""))
        return cond


def _bytes(t):
    import torch
    if isinstance(t, float):
        return np.float64(t).tobytes()
    if isinstance(t, np.ndarray):
        return np.ascontiguousarray(t).tobytes()
    return t.detach().as_subclass(torch.Tensor).contiguous().numpy().tobytes()


def expect_error(T, name, exc, words, fn):
    """fn() must raise exc whose message starts with words[0] and contains
    the other words."""
    try:
        fn()
    except exc as e:
        msg = str(e)
        T.ok(msg.startswith(words[0]) and all(w in msg for w in words[1:]), name,
             "message %r lacks %r" % (msg, words))
        return e
    except Exception as e:  # noqa: BLE001 - the wrong exception is the failure
        T.ok(False, name, "raised %s: %s" % (type(e).__name__, e))
        return None
    T.ok(False, name, "no exception")
    return None


def cases(diffpo, to_dev, to_host, T, device="cuda", real_device=False):
    """Every routed binding on device tensors (to_dev(cpu tensor)) against
    the same call on the CPU tensors.  to_host(device tensor) -> CPU tensor.
    real_device: autograd's gradients must be on the device too (the
    stand-in tensors of the emulation get CPU gradients from autograd)."""
    import torch
    import diffpo.torch as dt

    rng = np.random.default_rng(11)

    def h(shape, scale=1.0, dtype=np.float32, loc=None):
        v = rng.standard_normal(shape) * scale
        if loc is not None:
            v = v + loc.numpy()
        return torch.from_numpy(np.ascontiguousarray(v.astype(dtype)))

    def eq(name, got, want):
        if got is None or want is None:
            return T.ok(got is None and want is None, name, "one side is None")
        if not isinstance(got, float):
            if not T.ok(got.device.type == "cuda", name + " (on the device)", "got %s" % got.device):
                return False
            got = to_host(got)
        gb, wb = _bytes(got), _bytes(want)
        return T.ok(gb == wb, name, "bits differ (%d of %d bytes)" % (sum(a != b for a, b in zip(gb, wb)), len(wb)))

    # ------------------------------------------------------------ normals
    for label, kw in (("f32 one sample, e0 = 3", dict(shape=(257,), sample=4, e0=3, dtype=torch.float32)),
                      ("f32 consecutive rows", dict(shape=(3, 100), sample=[5, 6, 7], dtype=torch.float32)),
                      ("f32 scattered rows, e0 = 2", dict(shape=(3, 10), sample=[9, 1, 4], e0=2,
                                                          dtype=torch.float32)),
                      ("f64 rows", dict(shape=(2, 33), sample=[0, 1], dtype=torch.float64)),
                      ("f64 one sample", dict(shape=(4, 5), sample=2, dtype=torch.float64))):
        want = diffpo.normal(seed=7, stream="init", step=3, **kw)
        got = diffpo.normal(seed=7, stream="init", step=3, device=device, **kw)
        eq("normal %s" % label, got, want)

    # --------------------------------------------------------------- step
    sched = diffpo.DDIMSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                set_alpha_to_one=False, steps_offset=1, clip_sample=False)
    ts = sched.set_timesteps(20)
    clip = diffpo.DDIMSchedule(clip_sample=True, prediction_type="v_prediction")
    clip.set_timesteps(10)
    for shape in ((3, 4, 5, 5), (2, 37), (50,)):
        x = h(shape)
        eps = h(shape)
        z = h(shape)
        t = int(ts[3])
        step_cases = [
            ("variance_noise", sched, dict(eta=1.0, variance_noise=z)),
            ("variance_noise, log-prob mean", sched, dict(eta=1.0, variance_noise=z, logprob="mean")),
            ("noise coordinates, log-prob sum", sched, dict(eta=0.7, noise=dict(seed=3, step=2, sample=5),
                                                           logprob="sum")),
            ("noise coordinates, no log-prob", sched, dict(eta=1.0, noise=dict(seed=3, step=2))),
            ("prev_sample, log-prob mean", sched, dict(eta=1.0, prev_sample=z, logprob="mean")),
            ("prev_sample, no log-prob", sched, dict(eta=1.0, prev_sample=z)),
            ("eta = 0", sched, dict(eta=0.0)),
            ("fused (no x0), log-prob mean", sched, dict(eta=1.0, variance_noise=z, logprob="mean",
                                                        pred_original_sample=False)),
            ("clipped x0, v-prediction", clip, dict(eta=1.0, variance_noise=z, logprob="sum")),
        ]
        for label, s, kw in step_cases:
            tt = t if s is sched else 901
            dkw = dict(kw)
            for k in ("variance_noise", "prev_sample"):
                if k in dkw:
                    dkw[k] = to_dev(dkw[k])
            want = s.step(eps, tt, x, **kw)
            got = s.step(to_dev(eps), tt, to_dev(x), **dkw)
            name = "step %s %s" % (label, shape)
            for f in ("prev_sample", "mean", "log_prob", "pred_original_sample"):
                eq("%s: %s" % (name, f), getattr(got, f), getattr(want, f))

    x, m = h((3, 100)), h((3, 100))
    eq("gauss_logprob", diffpo.gauss_logprob(to_dev(x), to_dev(m), 0.3, logprob="mean"),
       diffpo.gauss_logprob(x, m, 0.3, logprob="mean"))

    # ------------------------------------------------------------- losses
    n = 257
    mu = h(n, 0.5)
    mu_ref = h(n, 0.02, loc=mu)
    x_w, x_l = h(n, 0.3, loc=mu), h(n, 0.3, loc=mu)
    mu_l = h(n, 0.5)
    mu_ref_l = h(n, 0.02, loc=mu_l)
    x_l2 = h(n, 0.3, loc=mu_l)
    e_w, e_l, th_w, th_l = h(n), h(n), h(n), h(n)
    r_w, r_l = h(n, 0.05, loc=th_w), h(n, 0.05, loc=th_l)
    loss_cases = [
        ("stepdpo", diffpo.stepdpo, (x_w, mu, mu_ref, x_l2, mu_l, mu_ref_l), dict(beta=0.5, sigma=0.3)),
        ("d3po_code +1", diffpo.d3po_code, (x_w, mu, mu_ref, x_l2, mu_l, mu_ref_l), dict(label=1, sigma=0.3)),
        ("d3po_code -1", diffpo.d3po_code, (x_w, mu, mu_ref, x_l2, mu_l, mu_ref_l), dict(label=-1, sigma=0.3)),
        ("d3po_code tie", diffpo.d3po_code, (x_w, mu, mu_ref, x_l2, mu_l, mu_ref_l), dict(label=0, sigma=0.3)),
        ("spo", diffpo.spo, (x_w, x_l, mu, mu_ref), dict(sigma=0.3)),
        ("tailorpo", diffpo.tailorpo, (x_w, x_l, mu, mu_ref), dict(beta=0.5, sigma=0.3, logprob="mean")),
        ("tailorpo, no gradients", diffpo.tailorpo, (x_w, x_l, mu, mu_ref), dict(beta=0.5, sigma=0.3, grads=False)),
        ("rdpo printed", diffpo.rdpo, (x_w, x_l, mu, mu_ref), dict(beta=0.5, lambda_=0.2, sigma=0.3)),
        ("rdpo intended", diffpo.rdpo, (x_w, x_l, mu, mu_ref), dict(beta=0.5, lambda_=0.2, sigma=0.3,
                                                                    variant="intended")),
        ("diffusion_dpo", diffpo.diffusion_dpo, (e_w, e_l, th_w, r_w, th_l, r_l), dict(beta=500.0)),
        ("dspo code", diffpo.dspo, (e_w, e_l, th_w, r_w, th_l, r_l), dict(beta=0.001)),
        ("dspo paper, stopgrad", diffpo.dspo, (e_w, e_l, th_w, r_w, th_l, r_l), dict(variant="paper", lambda_=1.0,
                                                                                     c_t=0.5, stopgrad=True)),
    ]
    for label, fn, args, kw in loss_cases:
        want = fn(*args, **kw)
        got = fn(*[to_dev(a) for a in args], **kw)
        for f in ("loss", "z", "sig_neg", "lr_w", "lr_l", "dl_dlr_w", "dl_dlr_l"):
            v = getattr(got, f)
            if not T.ok(not isinstance(v, float) and v.dim() == 0 and v.dtype == torch.float64,
                        "%s: %s is a 0-d float64 device tensor" % (label, f), repr(v)):
                continue
            eq("%s: %s" % (label, f), float(to_host(v)), getattr(want, f))
        T.ok(sorted(got.grads) == sorted(want.grads), "%s: gradient names" % label,
             "%s vs %s" % (sorted(got.grads), sorted(want.grads)))
        for g in want.grads:
            if g in got.grads:
                eq("%s: grads[%s]" % (label, g), got.grads[g], want.grads[g])

    g, vjp = h(n), h(n, 0.1)
    for label, kw in (("with vjp", dict(vjp=vjp)), ("without vjp", {})):
        dkw = {k: to_dev(v) for k, v in kw.items()}
        eq("tailorpo_g_update %s" % label,
           diffpo.tailorpo_g_update(to_dev(x_w), to_dev(g), eta=0.1, delta=0.5, alpha=0.7, **dkw),
           diffpo.tailorpo_g_update(x_w, g, eta=0.1, delta=0.5, alpha=0.7, **kw))

    # ------------------------------------------- diffpo.torch (autograd)
    for label, fn, args, diff, kw in (
            ("tailorpo", dt.tailorpo, (x_w, x_l, mu, mu_ref), (2,), dict(beta=0.5, sigma=0.3)),
            ("spo", dt.spo, (x_w, x_l, mu, mu_ref), (2,), dict(sigma=0.3)),
            ("diffusion_dpo", dt.diffusion_dpo, (e_w, e_l, th_w, r_w, th_l, r_l), (2, 4), dict(beta=500.0)),
            ("stepdpo batched", dt.stepdpo, tuple(torch.stack([a, a.flip(0), a.roll(5)]) for a in
                                                  (x_w, mu, mu_ref, x_l2, mu_l, mu_ref_l)),
             (1, 4), dict(beta=0.5, sigma=0.3, batched=True))):
        cpu = [a.clone().requires_grad_(i in diff) for i, a in enumerate(args)]
        dev = [to_dev(a).requires_grad_(i in diff) for i, a in enumerate(args)]
        want = fn(*cpu, **kw)
        got = fn(*dev, **kw)
        want.sum().backward()
        got.sum().backward()
        eq("diffpo.torch %s: loss" % label, got, want.detach())
        for i in diff:
            gd = dev[i].grad
            if real_device:
                T.ok(gd is not None and gd.device.type == "cuda", "diffpo.torch %s: gradient %d on the device"
                     % (label, i))
            T.ok(gd is not None and _bytes(to_host(gd)) == _bytes(cpu[i].grad), "diffpo.torch %s: gradient %d bits"
                 % (label, i))

    # ------------------------------------------------------------- errors
    xs, es = h((2, 37)), h((2, 37))
    expect_error(T, "mixed devices: CPU sample, device model_output", ValueError,
                 ["model_output: on cuda", "sample is in host memory", "never copies"],
                 lambda: sched.step(to_dev(es), int(ts[3]), xs, eta=0.0))
    expect_error(T, "mixed devices: device sample, CPU variance_noise", ValueError,
                 ["variance_noise: in host memory", "sample is on cuda"],
                 lambda: sched.step(to_dev(es), int(ts[3]), to_dev(xs), eta=1.0, variance_noise=xs))
    expect_error(T, "mixed devices: NumPy mu_ref in a loss", ValueError,
                 ["mu_ref: in host memory", "x_w is on cuda"],
                 lambda: diffpo.tailorpo(to_dev(x_w), to_dev(x_l), to_dev(mu), mu_ref.numpy(), beta=0.5, sigma=0.3))
    expect_error(T, "float64 step on the device", TypeError, ["sample: a float64 tensor on cuda", "float32 only"],
                 lambda: sched.step(to_dev(es.double()), int(ts[3]), to_dev(xs.double()), eta=0.0))
    expect_error(T, "float64 loss on the device", TypeError, ["x_w: a float64 tensor on cuda", "float32 only"],
                 lambda: diffpo.tailorpo(*[to_dev(a.double()) for a in (x_w, x_l, mu, mu_ref)], beta=0.5,
                                         sigma=0.3))
    expect_error(T, "logratio has no CUDA form", ValueError, ["x: a CUDA tensor", "no CUDA form"],
                 lambda: diffpo.logratio(to_dev(x_w), to_dev(mu), to_dev(mu_ref), 0.3))
    expect_error(T, "fingerprint has no device form", ValueError, ["a: a tensor on cuda", "a.cpu()"],
                 lambda: diffpo.fingerprint(to_dev(x_w)))
    expect_error(T, "rank_desc has no CUDA form", ValueError, ["reward: a CUDA tensor", "no CUDA form"],
                 lambda: diffpo.rank_desc(to_dev(torch.tensor([0.1, 0.3], dtype=torch.float64))))
    expect_error(T, "grad_mu_to_out has no CUDA form", ValueError, ["grad_mu: a CUDA tensor", "no CUDA form"],
                 lambda: sched.grad_mu_to_out(to_dev(xs), int(ts[3]), eta=1.0))
    expect_error(T, "diffpo.torch step_mean has no CUDA form", ValueError,
                 ["model_output: a CUDA tensor", "dpo_grad_mu_to_out", "no CUDA form"],
                 lambda: dt.step_mean(sched, to_dev(es), int(ts[3]), to_dev(xs), eta=1.0))
    e = expect_error(T, "a driver's status: log-probability where sigma = 0", diffpo.DiffpoError,
                     ["dpo_cuda_step_f32: DPO_ERR_SIGMA_ZERO"],
                     lambda: sched.step(to_dev(es), int(ts[3]), to_dev(xs), eta=0.0, variance_noise=to_dev(xs),
                                        logprob="mean"))
    if e is not None:
        T.ok(e.status == "DPO_ERR_SIGMA_ZERO" and e.function == "dpo_cuda_step_f32", "DiffpoError fields",
             "%s %s" % (e.status, e.function))


def main():
    import torch
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                                    "python"))
    import diffpo
    T = Tally()
    if not torch.cuda.is_available():
        print("FAIL py_cuda_bits: torch sees no CUDA device (torch %s)" % torch.__version__)
        print("0 passed, 1 failed")
        return 1
    if not T.ok(diffpo.HAS_CUDA, "libdiffpo has the CUDA drivers", "%s is a CPU build (make CUDA=1)" %
                diffpo.LIBRARY):
        print("%d passed, %d failed" % (T.passed, T.failed))
        return 1
    print("device: %s, library %s" % (torch.cuda.get_device_name(), diffpo.LIBRARY))

    def to_host(t):
        return t.cpu()

    # on the default stream, then on a side stream with a busy default
    # stream: the route must enqueue on torch's current stream
    cases(diffpo, lambda t: t.cuda(), to_host, T, real_device=True)
    torch.cuda.synchronize()
    side = torch.cuda.Stream()
    with torch.cuda.stream(side):
        T.ok(torch.cuda.current_stream().cuda_stream == side.cuda_stream, "side stream is current")
        cases(diffpo, lambda t: t.cuda(), to_host, T, real_device=True)
    torch.cuda.synchronize()
    print("%d passed, %d failed" % (T.passed, T.failed))
    return 0 if T.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
