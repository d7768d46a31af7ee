#!/usr/bin/env python3
"""The Python package's CUDA route without a GPU (docs/python.md, CUDA tensors).

Usage: python3 tests/py_cuda_route.py BUILD_DIR

1. Builds BUILD_DIR/pyemu/libdiffpo.so (`make py-emu-lib`): the CPU library
   plus kernels/ compiled for the CPU emulation of the CUDA runtime
   (tests/gpu/emu), so the package finds the dpo_cuda_* entry points and
   the kernels run on the CPU with host memory as "device" memory.
2. With that library, stand-in CUDA tensors (a torch.Tensor subclass over
   CPU memory whose .device is cuda:N) and torch's current stream mocked
   (torch.cuda.current_stream / current_device / device): every case of
   tests/gpu/py_cuda_bits.py (the same program a GPU runs with real CUDA
   tensors) must give the CPU route's bits; each CUDA driver must be called
   with the mocked stream handle, and the emulator must see every kernel
   launched on it (dpo_emu_stream_launches) and none on the default stream;
   outputs and scratch must be allocated on the inputs' device (through
   diffpo._cuda.empty); tensors on cuda:1 run with cuda:1 made current and
   its stream; cuda:0 and cuda:1 mixed, and any error, call no driver.
3. With the CPU build (BUILD_DIR/libdiffpo.so): a CUDA tensor raises an
   error naming the argument and saying the library is a CPU build, and
   nothing is allocated.

Each part runs in a child process (the library is loaded at import).
Skips, saying so, only when torch cannot be imported.  Ends with
'N passed, M failed'.
"""
import contextlib
import ctypes as C
import importlib.util
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STREAM0, STREAM1 = 0x5150, 0x5151  # the mocked cudaStream_t handles of cuda:0, cuda:1


def _setup(emulated):
    """Imports torch and diffpo; installs the stand-in tensors, the mocked
    streams and the allocation / call recorders.  Returns a namespace."""
    import torch
    sys.path.insert(0, os.path.join(ROOT, "python"))
    sys.path.insert(0, os.path.join(ROOT, "tests", "gpu"))
    import diffpo
    import py_cuda_bits

    class Dev0(torch.Tensor):
        """CPU memory that says it is on cuda:0."""
        @property
        def device(self):
            return torch.device("cuda", 0)

    class Dev1(torch.Tensor):
        @property
        def device(self):
            return torch.device("cuda", 1)

    def on(t, cls=Dev0):
        return torch.Tensor._make_subclass(cls, t.detach().clone().contiguous())

    ns = type("NS", (), {})()
    ns.torch, ns.diffpo, ns.bits, ns.on, ns.Dev0, ns.Dev1 = torch, diffpo, py_cuda_bits, on, Dev0, Dev1
    ns.allocs = []  # devices asked for by diffpo._cuda.empty
    ns.calls = []  # (C function, stream handle, current device)
    ns.current = [0]  # the mocked current device
    ns.entered = []  # devices made current through torch.cuda.device

    def empty(shape, dtype, device):
        ns.allocs.append(torch.device(device))
        cls = Dev1 if torch.device(device).index == 1 else Dev0
        return torch.Tensor._make_subclass(cls, torch.empty(shape, dtype=dtype))

    class Stream:
        def __init__(self, handle):
            self.cuda_stream = handle

    def current_stream(device=None):
        idx = ns.current[0] if device is None or torch.device(device).index is None else torch.device(device).index
        return Stream(STREAM1 if idx == 1 else STREAM0)

    @contextlib.contextmanager
    def device_ctx(idx):
        ns.entered.append(idx)
        old = ns.current[0]
        ns.current[0] = idx
        try:
            yield
        finally:
            ns.current[0] = old

    torch.cuda.current_stream = current_stream
    torch.cuda.current_device = lambda: ns.current[0]
    torch.cuda.device = device_ctx
    if emulated:
        from diffpo import _capi, _cuda
        _cuda.empty = empty

        def recorder(fn):
            def call(*args):
                ns.calls.append((fn.__name__, args[-1], ns.current[0]))
                return fn(*args)
            call.__name__ = fn.__name__
            return call
        for k in dir(_capi):
            f = getattr(_capi, k)
            if k.startswith("cuda_") and callable(f) and not k.endswith("workspace_size"):
                setattr(_capi, k, recorder(f))
        for k, f in list(_capi.cuda_loss.items()):
            _capi.cuda_loss[k] = recorder(f)
        lib = _capi.lib
        lib.dpo_emu_stream_launches.restype = C.c_ulonglong
        lib.dpo_emu_stream_launches.argtypes = [C.c_void_p]
        ns.launches = lambda h: int(lib.dpo_emu_stream_launches(h))
    else:
        from diffpo import _cuda  # noqa: F401 - importable in a CPU build too
        _cuda.empty = empty
    return ns


def child_emulated():
    ns = _setup(True)
    torch, diffpo, T = ns.torch, ns.diffpo, ns.bits.Tally()
    T.ok(diffpo.HAS_CUDA, "the emulated library has the CUDA drivers", diffpo.LIBRARY)

    def to_host(t):
        return t.as_subclass(torch.Tensor)

    l0, ln = ns.launches(STREAM0), ns.launches(None)
    t0 = time.time()
    ns.bits.cases(diffpo, ns.on, to_host, T)
    print("cases: %.1f s" % (time.time() - t0))

    # every driver call carried the stream of cuda:0, with cuda:0 current
    names = sorted(set(c[0] for c in ns.calls))
    T.ok(len(ns.calls) > 0, "drivers called", "no dpo_cuda_* call recorded")
    want = {"dpo_cuda_normal_f32", "dpo_cuda_normal_f64", "dpo_cuda_normal_batch_f32", "dpo_cuda_step_f32",
            "dpo_cuda_step_philox_f32", "dpo_cuda_step_logprob_f32", "dpo_cuda_stepdpo_f32",
            "dpo_cuda_d3po_code_f32", "dpo_cuda_tailorpo_f32", "dpo_cuda_rdpo_f32", "dpo_cuda_diffdpo_f32",
            "dpo_cuda_dspo_f32", "dpo_cuda_tailorpo_g_update_f32"}
    T.ok(want <= set(names), "every bound driver exercised", "missing %s" % sorted(want - set(names)))
    bad = [c for c in ns.calls if c[1] != STREAM0 or c[2] != 0]
    T.ok(not bad, "every driver got torch's current stream of cuda:0", "%d calls did not, e.g. %s" %
         (len(bad), bad[:3]))
    n0 = ns.launches(STREAM0) - l0
    T.ok(n0 >= len(ns.calls), "the emulator saw the kernels on that stream", "%d launches on it for %d calls" %
         (n0, len(ns.calls)))
    T.ok(ns.launches(None) == ln, "no kernel on the default stream", "%d" % (ns.launches(None) - ln))
    T.ok(ns.allocs and all(d == torch.device("cuda", 0) for d in ns.allocs), "outputs allocated on cuda:0",
         "devices asked for: %s" % sorted(set(str(d) for d in ns.allocs)))

    # tensors on cuda:1 while cuda:0 is current: cuda:1 made current, its stream
    rng = ns.bits.np.random.default_rng(5)
    h = [torch.from_numpy(rng.standard_normal(64).astype("float32")) for _ in range(4)]
    del ns.calls[:], ns.allocs[:], ns.entered[:]
    l1 = ns.launches(STREAM1)
    want = diffpo.tailorpo(*h, beta=0.5, sigma=0.3)
    got = diffpo.tailorpo(*[ns.on(t, ns.Dev1) for t in h], beta=0.5, sigma=0.3)
    T.ok(ns.entered == [1] and [c[1:] for c in ns.calls] == [(STREAM1, 1)],
         "cuda:1 tensors: cuda:1 current, its stream", "entered %s, calls %s" % (ns.entered, ns.calls))
    T.ok(ns.launches(STREAM1) > l1, "the emulator saw the kernels on cuda:1's stream")
    T.ok(all(d == torch.device("cuda", 1) for d in ns.allocs) and type(got.grads["mu"]) is ns.Dev1,
         "cuda:1 outputs allocated on cuda:1", str(ns.allocs))
    T.ok(float(to_host(got.loss)) == want.loss and
         ns.bits._bytes(to_host(got.grads["mu"])) == ns.bits._bytes(want.grads["mu"]), "cuda:1 result bits")
    T.ok(ns.current == [0], "cuda:0 current again")

    # cuda:0 and cuda:1 in one call; every error calls no driver
    del ns.calls[:], ns.allocs[:]
    x = ns.on(h[0])
    ns.bits.expect_error(T, "mixed cuda:0 and cuda:1", ValueError, ["mu: on cuda:1", "x_w is on cuda:0"],
                         lambda: diffpo.tailorpo(x, ns.on(h[1]), ns.on(h[2], ns.Dev1), ns.on(h[3]), beta=0.5,
                                                 sigma=0.3))
    ns.bits.expect_error(T, "CUDA tensor that requires grad", ValueError, ["x_l: requires grad"],
                         lambda: diffpo.tailorpo(x, ns.on(h[1]).requires_grad_(), ns.on(h[2]), ns.on(h[3]),
                                                 beta=0.5, sigma=0.3))
    ns.bits.expect_error(T, "non-contiguous CUDA tensor", ValueError, ["mu_ref: a non-contiguous tensor"],
                         lambda: diffpo.tailorpo(x, ns.on(h[1]), ns.on(h[2]),
                                                 ns.on(torch.zeros(128))[::2], beta=0.5, sigma=0.3))
    ns.bits.expect_error(T, "integer CUDA tensor", TypeError, ["model_output: dtype torch.int32"],
                         lambda: diffpo.DDIMSchedule().step(ns.on(torch.zeros(64, dtype=torch.int32)), 500, x,
                                                            num_inference_steps=10))
    ns.bits.expect_error(T, "shape mismatch on the device", ValueError, ["mu: shape (63,), expected (64,)"],
                         lambda: diffpo.tailorpo(x, ns.on(h[1]), ns.on(h[2][:63]), ns.on(h[3]), beta=0.5,
                                                 sigma=0.3))
    T.ok(not ns.calls and not ns.allocs, "errors call no driver and allocate nothing",
         "calls %s, allocations %d" % (ns.calls, len(ns.allocs)))
    return T


def child_cpu_build():
    ns = _setup(False)
    torch, diffpo, T = ns.torch, ns.diffpo, ns.bits.Tally()
    T.ok(not diffpo.HAS_CUDA, "the CPU build has no CUDA drivers", diffpo.LIBRARY)
    x, e = torch.zeros(2, 8), torch.ones(2, 8)
    s = diffpo.DDIMSchedule()
    s.set_timesteps(10)
    cpu = ["CPU build", "CUDA=1", "nothing is copied"]
    ns.bits.expect_error(T, "CPU build: CUDA sample", ValueError, ["sample: a CUDA tensor (cuda:0)"] + cpu,
                         lambda: s.step(ns.on(e), 901, ns.on(x)))
    ns.bits.expect_error(T, "CPU build: CPU sample, CUDA model_output", ValueError,
                         ["model_output: a CUDA tensor (cuda:0)"] + cpu, lambda: s.step(ns.on(e), 901, x))
    ns.bits.expect_error(T, "CPU build: CUDA variance_noise", ValueError, ["variance_noise: a CUDA tensor"] + cpu,
                         lambda: s.step(e, 901, x, eta=1.0, variance_noise=ns.on(x)))
    ns.bits.expect_error(T, "CPU build: CUDA mu in a loss", ValueError, ["mu: a CUDA tensor"] + cpu,
                         lambda: diffpo.tailorpo(x[0], e[0], ns.on(x[1]), e[1], beta=0.5, sigma=0.3))
    ns.bits.expect_error(T, "CPU build: normal on cuda", ValueError, ["device: cuda", "CPU build", "CUDA=1"],
                         lambda: diffpo.normal((4,), device="cuda"))
    ns.bits.expect_error(T, "CPU build: a function without a CUDA form", ValueError,
                         ["x: a CUDA tensor"] + cpu, lambda: diffpo.logratio(ns.on(x), x, x, 0.3))
    T.ok(not ns.allocs, "CPU build: nothing allocated", str(ns.allocs))
    return T


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        T = child_emulated() if sys.argv[2] == "emulated" else child_cpu_build()
        print("%d passed, %d failed" % (T.passed, T.failed))
        return 0 if T.failed == 0 else 1
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
    if importlib.util.find_spec("torch") is None:
        print("SKIP py_cuda_route: torch cannot be imported (make deps installs it); the CUDA route takes "
              "torch tensors only")
        print("0 passed, 0 failed")
        return 0
    passed = failed = 0
    make = os.environ.get("MAKE", "make")
    r = subprocess.run([make, "-s", "py-emu-lib", "BUILD=" + build], cwd=ROOT, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, universal_newlines=True)
    emu_lib = os.path.join(build, "pyemu", "libdiffpo.so")
    runs = [("emulated", emu_lib), ("cpu", os.path.join(build, "libdiffpo.so"))]
    if r.returncode != 0:
        print("FAIL py_cuda_route: make py-emu-lib failed\n" + r.stdout[-2000:])
        failed += 1
        runs = runs[1:]
    for part, lib in runs:
        env = dict(os.environ, DIFFPO_LIB=lib)
        p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", part], cwd=ROOT, env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
        lines = p.stdout.splitlines()
        for ln in lines:
            if ln.startswith("FAIL") or ln.startswith("emu: ") or ln.startswith("cases:"):
                print(("[%s] " % part) + ln)
        summary = [ln for ln in lines if ln.endswith(" failed") and " passed, " in ln]
        emu_diag = sum(1 for ln in lines if ln.startswith("emu: "))
        if not summary:
            print("FAIL py_cuda_route (%s): no summary (exit %d)\n%s" % (part, p.returncode, p.stdout[-3000:]))
            failed += 1
            continue
        a, b = summary[-1].split(" passed, ")
        passed += int(a)
        failed += int(b.split()[0]) + emu_diag
        if p.returncode != 0 and int(b.split()[0]) == 0:
            print("FAIL py_cuda_route (%s): exit %d with no failed check" % (part, p.returncode))
            failed += 1
        print("[%s] %s" % (part, summary[-1]))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
