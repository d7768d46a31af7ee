#!/usr/bin/env python3
"""A small diffusers UNet2DModel, pretrained on synthetic 8x8 images and
aligned with SPO and with TailorPO, where diffpo supplies the noise, the
DDIM steps, the log-probability machinery, the pair selection and the loss
(with its gradient, through diffpo.torch).  CPU, a few minutes on 2 cores.

    pip install ./python torch diffusers
    python3 examples/python/align_unet.py [--quick] [--out-dir diffpo-out/python]

Prints the reward before and after each alignment, a fingerprint of the
aligned model's samples, and writes reward_curves.svg.  What is
bit-reproducible and what is not: examples/python/README.md.
"""
import argparse
import copy
import os
import time

import numpy as np
import torch
import diffusers

import diffpo
import diffpo.torch as dt

N_TRAIN, S, ETA = 1000, 10, 1.0


def synthetic_images(n, seed):
    """Four 8x8 patterns (bars, diagonal, ring) with amplitude and noise from
    diffpo's coordinate noise: the same images on every machine."""
    yy, xx = np.mgrid[0:8, 0:8].astype(np.float32)
    protos = [np.where(np.abs(yy - 3.5) < 1.5, 1.0, -1.0), np.where(np.abs(xx - 3.5) < 1.5, 1.0, -1.0),
              np.where(np.abs(xx - yy) < 1.5, 1.0, -1.0),
              np.where(np.abs(np.hypot(xx - 3.5, yy - 3.5) - 2.5) < 1.0, 1.0, -1.0)]
    jitter = diffpo.normal((n, 64), seed=seed, stream="data", sample=list(range(n)))
    imgs = np.stack([protos[i % 4] for i in range(n)]).astype(np.float32)
    return torch.from_numpy(imgs.reshape(n, 1, 8, 8) * 0.8 + 0.1 * jitter.reshape(n, 1, 8, 8))


def reward(x0):
    """Brightness of the central 4x4 window (what alignment should raise)."""
    return x0[:, :, 2:6, 2:6].mean(dim=(1, 2, 3)).double()


def make_unet(channels=(16, 32), groups=8):
    """The UNet2DModel, randomly initialised from torch.manual_seed(0) (no
    download).  examples/python/distributed_align.py builds a smaller one
    (channels=(8, 16), groups=4)."""
    torch.manual_seed(0)
    return diffusers.UNet2DModel(sample_size=8, in_channels=1, out_channels=1, layers_per_block=1,
                                 block_out_channels=tuple(channels), norm_num_groups=groups,
                                 down_block_types=("DownBlock2D",) * len(channels),
                                 up_block_types=("UpBlock2D",) * len(channels))


def eps(model, x, t):
    return model(x, torch.full((x.shape[0],), int(t))).sample


def pretrain(model, sched, iters, batch=32):
    data = synthetic_images(512, seed=1)
    ac = torch.from_numpy(sched.alphas_cumprod)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for it in range(iters):
        idx = np.array([diffpo.spo_resample_index(11, b, it, len(data)) for b in range(batch)])
        t = torch.tensor([diffpo.spo_resample_index(12, b, it, N_TRAIN) for b in range(batch)])
        x0 = data[idx]
        z = torch.from_numpy(diffpo.normal((batch, 1, 8, 8), seed=13, stream="train", step=it,
                                           sample=list(range(batch))))
        a = ac[t].view(-1, 1, 1, 1)
        xt = a.sqrt() * x0 + (1 - a).sqrt() * z
        loss = (model(xt, t).sample - z).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return float(loss.detach())


@torch.no_grad()
def sample(model, sched, n, seed, first=0):
    ts = sched.timesteps(S)
    x = torch.from_numpy(diffpo.normal((n, 1, 8, 8), seed=seed, stream="init", sample=list(range(first, first + n))))
    for k, t in enumerate(ts):
        x = sched.step(eps(model, x, t), int(t), x, eta=ETA, noise=dict(seed=seed, step=k, sample=first)).prev_sample
    return x


def trajectory(method, model, ref, sched, first, count, seed, norm, steps=S):
    """The alignment's work on samples [first, first + count) (global
    indices): one trajectory each; at every step, k candidates x_{t-1} from
    one x_t (diffpo noise, candidate index c), rewards of their predicted
    x0, a pair (TailorPO: best/worst by diffpo.rank_desc, the winner
    continues; SPO: diffpo.spo_select, a diffpo.spo_resample_index
    candidate continues), and the pair's loss through diffpo.torch, summed,
    divided by `norm` (the global batch) and back-propagated into p.grad
    (one backward per step).  Every value depends only on the parameters,
    `seed` and the global sample indices, so a fixed range of samples gives
    the same gradient in any process (examples/python/distributed_align.py
    runs it one sample at a time).  Returns the final samples x_0."""
    ts = sched.timesteps(steps)
    k = 2 if method == "tailorpo" else 4
    with torch.no_grad():
        x = diffpo.normal((count, 1, 8, 8), seed=seed, stream="init", sample=list(range(first, first + count)),
                          dtype=next(model.parameters()).dtype)
    for j, t in enumerate(ts):
        t = int(t)
        sigma = sched.coefficients(t, eta=ETA)["sigma"]
        with torch.no_grad():
            e = eps(model, x, t)
            cands = [sched.step(e, t, x, eta=ETA, noise=dict(seed=seed, step=j, sample=first, candidate=c))
                     .prev_sample for c in range(k)]
            if j + 1 < len(ts):  # reward of each candidate's predicted x0 at the next timestep
                tn = int(ts[j + 1])
                r = torch.stack([reward(sched.step(eps(model, xc, tn), tn, xc, eta=0.0).pred_original_sample)
                                 for xc in cands], dim=1)
            else:
                r = torch.stack([reward(xc) for xc in cands], dim=1)
        pairs, nxt = [], []
        for b in range(count):
            rb = np.ascontiguousarray(r[b].numpy())
            if method == "tailorpo":
                order = diffpo.rank_desc(rb)
                pairs.append((b, order[0], order[-1]))
                nxt.append(cands[order[0]][b])
            else:
                best, worst, valid = diffpo.spo_select(rb, t, thr=0.0, kappa=750)
                if valid:
                    pairs.append((b, best, worst))
                nxt.append(cands[diffpo.spo_resample_index(seed, first + b, j, k)][b])
        if pairs and sigma > 0:
            bi = [p[0] for p in pairs]
            x_w = torch.stack([cands[p[1]][p[0]] for p in pairs]).contiguous()
            x_l = torch.stack([cands[p[2]][p[0]] for p in pairs]).contiguous()
            xs = x[bi].contiguous()
            mu = dt.step_mean(sched, eps(model, xs, t), t, xs, eta=ETA)
            with torch.no_grad():
                mu_ref = sched.step(eps(ref, xs, t), t, xs, eta=ETA, prev_sample=xs).mean
            if method == "tailorpo":
                loss = dt.tailorpo(x_w, x_l, mu, mu_ref, beta=0.1, sigma=sigma, logprob="sum", batched=True)
            else:
                loss = dt.spo(x_w, x_l, mu, mu_ref, sigma, beta=10.0, clip_eps=0.1, logprob="mean", batched=True)
            (loss.sum() / norm).backward()
        x = torch.stack(nxt)
    return x


def align(method, base, sched, iters, batch, seed):
    """`iters` iterations of `trajectory` over a batch of `batch` samples
    (iteration it holds global samples it*batch ...), one Adam step each."""
    model, ref = copy.deepcopy(base), copy.deepcopy(base).requires_grad_(False)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    curve = []
    for it in range(iters):
        opt.zero_grad()
        x = trajectory(method, model, ref, sched, it * batch, batch, seed, norm=batch)
        opt.step()
        curve.append(float(reward(x).mean()))
    return model, curve


def write_svg(path, curves):
    w, h, pad = 480, 300, 40
    allv = [v for c in curves.values() for v in c] or [0.0]
    lo, hi = min(allv), max(allv)
    hi = hi if hi > lo else lo + 1
    n = max(len(c) for c in curves.values())
    colours = {"tailorpo": "#1f77b4", "spo": "#d62728"}
    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d">' % (w, h),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="20" font-size="14">training-trajectory reward per iteration</text>' % pad]
    for i, (name, c) in enumerate(curves.items()):
        pts = " ".join("%.1f,%.1f" % (pad + (w - 2 * pad) * j / max(n - 1, 1),
                                      h - pad - (h - 2 * pad) * (v - lo) / (hi - lo)) for j, v in enumerate(c))
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (colours[name], pts))
        out.append('<text x="%d" y="%d" font-size="12" fill="%s">%s</text>' % (w - 120, 40 + 16 * i, colours[name],
                                                                              name))
    out.append('<text x="%d" y="%d" font-size="11">%.3f</text>' % (4, h - pad, lo))
    out.append('<text x="%d" y="%d" font-size="11">%.3f</text>' % (4, pad, hi))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="a few iterations only (the test suite's smoke run)")
    ap.add_argument("--out-dir", default="diffpo-out/python")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    pre_iters, iters, batch, n_eval = (20, 2, 4, 8) if a.quick else (400, 12, 8, 64)
    os.makedirs(a.out_dir, exist_ok=True)
    sched = diffpo.DDIMSchedule(clip_sample=False, set_alpha_to_one=False, steps_offset=1, prev_rule="clamped")
    sched.set_timesteps(S)
    t0 = time.time()
    base = make_unet()
    mse = pretrain(base, sched, pre_iters)
    before = float(reward(sample(base, sched, n_eval, seed=99, first=10 ** 6)).mean())
    print("pretrained %d iterations (last MSE %.4f), %.1f s" % (pre_iters, mse, time.time() - t0))
    print("%-10s %13s %13s %10s %8s  %s" % ("method", "reward_before", "reward_after", "change", "wall_s",
                                           "samples_fingerprint"))
    curves = {}
    for method in ("spo", "tailorpo"):
        t1 = time.time()
        model, curves[method] = align(method, base, sched, iters, batch, seed=7)
        xs = sample(model, sched, n_eval, seed=99, first=10 ** 6)
        after = float(reward(xs).mean())
        print("%-10s %13.4f %13.4f %+10.4f %8.1f  %016x" % (method, before, after, after - before, time.time() - t1,
                                                            diffpo.fingerprint(xs.contiguous())))
    write_svg(os.path.join(a.out_dir, "reward_curves.svg"), curves)
    print("wrote %s (%.1f s in all)" % (os.path.join(a.out_dir, "reward_curves.svg"), time.time() - t0))


if __name__ == "__main__":
    main()
