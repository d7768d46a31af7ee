"""PyTorch side of make bench (tests/run_bench.sh), one thread:
torch.randn float32 at d = 16384, batch 8; DDPO's eager step with its mean
log-probability (diffusers' DDIM arithmetic, then the Gaussian log-density
of the sample under the step's mean, as DDPO's ddim_step_with_logprob does)
at d = 16384, batch 64 with given noise; torch.mm at the built-in network's
shapes.  Prints "key value" lines; best of 5 repetitions."""
import math
import time

import torch

torch.set_num_threads(1)
torch.manual_seed(1234)
B, D, BF = 8, 16384, 64
REPS = 5


def best(fn, reps=REPS):
    t = 1e30
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        t = min(t, time.perf_counter() - t0)
    return t


t_n = best(lambda: torch.randn(B, D, dtype=torch.float32))

x = torch.randn(BF, D)
e = torch.randn(BF, D)
z = torch.randn(BF, D)
at, ap, eta = torch.tensor(0.28), torch.tensor(0.33), 1.0


def step():
    bt, bp = 1 - at, 1 - ap
    x0 = (x - bt ** 0.5 * e) / at ** 0.5
    var = (bp / bt) * (1 - at / ap)
    std = eta * var ** 0.5
    mu = ap ** 0.5 * x0 + (1 - ap - std ** 2) ** 0.5 * e
    xp = mu + std * z
    lp = (-((xp.detach() - mu) ** 2) / (2 * std ** 2) - torch.log(std)
          - math.log(math.sqrt(2 * math.pi)))
    return xp, lp.mean(dim=tuple(range(1, lp.ndim)))


with torch.no_grad():
    t_s = best(step)


def mm_flops(m, k, n, ta, tb):
    a = torch.randn(k, m) if ta else torch.randn(m, k)
    b = torch.randn(n, k) if tb else torch.randn(k, n)
    aa = a.t() if ta else a
    bb = b.t() if tb else b
    iters = int(2e7 / (m * k * n)) + 1

    def run():
        for _ in range(iters):
            torch.mm(aa, bb)
    return 2.0 * m * k * n / (best(run) / iters)


print("torch", torch.__version__)
print("normals_per_s %.4g" % (B * D / t_n))
print("fused_elems_per_s %.4g" % (BF * D / t_s))
print("matmul_fwd_8x88x128_flops %.4g" % mm_flops(8, 88, 128, 0, 1))
print("matmul_fwd_8x128x128_flops %.4g" % mm_flops(8, 128, 128, 0, 1))
print("matmul_dx_8x128x128_flops %.4g" % mm_flops(8, 128, 128, 0, 0))
print("matmul_dw_128x8x128_flops %.4g" % mm_flops(128, 8, 128, 1, 0))
print("matmul_fwd_1x128x128_flops %.4g" % mm_flops(1, 128, 128, 0, 1))
print("matmul_dx_1x128x128_flops %.4g" % mm_flops(1, 128, 128, 0, 0))
