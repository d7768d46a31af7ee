#!/usr/bin/env python3
"""The fused step's PyTorch-eager counterpart (make bench-gpu).

Runs only when torch with CUDA is importable.  The step is DDPO's DDIM step
with log-probability written as separate eager tensor operations, float32,
d elements per sample, mean reduction over elements:
  x0   = (x - sqrt(1 - a_t) eps) / sqrt(a_t)
  mu   = sqrt(a_prev) x0 + sqrt(1 - a_prev - s^2) eps
  xp   = mu + s z
  logp = mean(-(xp - mu)^2 / (2 s^2) - log s - log sqrt(2 pi))
Timing: CUDA events, median of 20 runs after 3 warm-ups, the same scheme
as bench_gpu.  Usage: bench_torch.py STEP_TSV MARKDOWN_OUT, where STEP_TSV
holds bench_gpu's lines "batch dim us_given us_philox"; writes a Markdown
table with the ratio torch time / diffpo time (given noise).
"""
import math
import sys


def main():
    try:
        import torch
    except Exception:
        print("torch not importable: PyTorch comparison skipped")
        return 0
    if not torch.cuda.is_available():
        print("torch has no CUDA device: PyTorch comparison skipped")
        return 0
    rows = []
    with open(sys.argv[1]) as f:
        for line in f:
            b, d, tg, tp = line.split()
            rows.append((int(b), int(d), float(tg), float(tp)))
    dev = torch.device("cuda")
    a_t, a_prev, eta = 0.5, 0.55, 1.0
    var = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
    s = eta * math.sqrt(var)

    # per-step scalars as device tensors made once, outside the timing
    at = torch.tensor(a_t, device=dev)
    ap = torch.tensor(a_prev, device=dev)
    st = torch.tensor(s, device=dev)
    two_pi = torch.as_tensor(2 * math.pi, device=dev)

    def step(x, eps, z):
        x0 = (x - (1 - at) ** 0.5 * eps) / at ** 0.5
        mu = ap ** 0.5 * x0 + (1 - ap - st ** 2) ** 0.5 * eps
        xp = mu + st * z
        lp = -((xp.detach() - mu) ** 2) / (2 * st ** 2) - torch.log(st) - torch.log(torch.sqrt(two_pi))
        return xp, mu, lp.mean(dim=tuple(range(1, lp.ndim)))

    out = ["", "Fused step vs PyTorch %s eager (DDPO's formula, float32, mean log-prob)" % torch.__version__, "",
           "| batch | d | torch eager (us) | diffpo given noise (us) | speed-up |", "|---|---|---|---|---|"]
    for b, d, tg, _ in rows:
        x = torch.randn(b, d, device=dev)
        e = torch.randn(b, d, device=dev)
        z = torch.randn(b, d, device=dev)
        ts = []
        for i in range(23):
            s0 = torch.cuda.Event(enable_timing=True)
            s1 = torch.cuda.Event(enable_timing=True)
            s0.record()
            step(x, e, z)
            s1.record()
            s1.synchronize()
            if i >= 3:
                ts.append(s0.elapsed_time(s1) * 1e3)
        ts.sort()
        tt = ts[len(ts) // 2]
        out.append("| %d | %d | %.1f | %.1f | %.1f x |" % (b, d, tt, tg, tt / tg))
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    with open(sys.argv[2], "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
