"""The same work as tests/bench_cpu.c in NumPy: standard normals (float32)
and one DDIM step with DDPO's mean log-probability at d = 16384, batch 8.
Prints "key value" lines; best of 7 repetitions."""
import math
import time

import numpy as np

B, D = 8, 16384
rng = np.random.default_rng(1234)
x = rng.standard_normal((B, D), dtype=np.float32)
e = rng.standard_normal((B, D), dtype=np.float32)
at, ap, eta = np.float32(0.28), np.float32(0.33), np.float32(1.0)
best_n = best_s = 1e30
for _ in range(7):
    t0 = time.perf_counter()
    z = rng.standard_normal((B, D), dtype=np.float32)
    t1 = time.perf_counter()
    best_n = min(best_n, t1 - t0)
    t0 = time.perf_counter()
    bt, bp = np.float32(1) - at, np.float32(1) - ap
    x0 = (x - np.sqrt(bt) * e) / np.sqrt(at)
    var = (bp / bt) * (np.float32(1) - at / ap)
    std = eta * np.sqrt(var)
    mu = np.sqrt(ap) * x0 + np.sqrt(np.float32(1) - ap - std * std) * e
    xp = mu + std * z
    lp = (-((xp - mu) ** 2) / (2 * std * std) - np.log(std) - np.float32(math.log(math.sqrt(2 * math.pi)))).mean(axis=1)
    t1 = time.perf_counter()
    best_s = min(best_s, t1 - t0)
print("numpy", np.__version__)
print("normals_per_s %.4g" % (B * D / best_n))
print("step_logprob_elems_per_s %.4g" % (B * D / best_s))
