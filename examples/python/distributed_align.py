#!/usr/bin/env python3
"""Data-parallel TailorPO alignment under torchrun whose parameter
fingerprint does not depend on the number of processes (docs/scaling.md).

    torchrun --standalone --nproc_per_node 3 examples/python/distributed_align.py
    torchrun --standalone --nproc_per_node 2 examples/python/distributed_align.py --split 0,5,12
    torchrun --standalone --nproc_per_node 2 examples/python/distributed_align.py --reducer ddp

The model is a tiny torch MLP epsilon-predictor (4-D data, time-conditioned),
pretrained by nothing: the example is about the reduction, not the model.
Each global sample s = iteration * n + i draws its x_T, its rollout noise
and its two candidates from diffpo's Philox coordinates (seed, stream,
sample s, step, candidate), rolls out with diffpo's DDIM steps (eta = 1)
to a training step, ranks the candidates by a step-wise reward
r(x0_hat) = -|x0_hat - target|^2, and takes the TailorPO loss and its
gradient from diffpo.torch.  So each sample's gradient depends only on the
global index and the parameters; the reducer makes their sum independent of
the split:
  --reducer tree  diffpo.torch.distributed.TreeReducer (default)
  --reducer ddp   torch's DistributedDataParallel all-reduce (for contrast).
Rank 0 prints 'fingerprint <hex>' (XXH3 of every parameter's bytes) and the
reducer's bytes per rank per iteration.

Faults: --timeout S bounds every collective (process group timeout);
--die-rank R --die-iter K makes rank R exit abruptly at iteration K,
--hang-rank R --die-iter K makes it sleep; the other ranks exit with
'error:' and status 3.  --save PATH --save-iter K writes a checkpoint
after iteration K (world-size independent: parameters, Adam state,
iteration), --resume PATH continues from one."""
import argparse
import datetime
import os
import sys
import time

import torch
import torch.distributed as dist

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
if "DIFFPO_LIB" not in os.environ and os.path.exists(os.path.join(ROOT, "build", "libdiffpo.so")):
    os.environ["DIFFPO_LIB"] = os.path.join(ROOT, "build", "libdiffpo.so")

import diffpo  # noqa: E402
import diffpo.torch as dt  # noqa: E402
from diffpo.torch.distributed import (DistributedError, TreeReducer, even_split,  # noqa: E402
                                      parameter_fingerprint)

D = 4          # data dimension
S = 4          # DDIM inference steps
SEED = 2024
BETA = 0.5


class EpsMLP(torch.nn.Module):
    """eps(x, t): [x, t/1000] -> 32 -> 32 -> D, SiLU; no batch statistics."""

    def __init__(self, hidden=32):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(D + 1, hidden), torch.nn.SiLU(),
                                       torch.nn.Linear(hidden, hidden), torch.nn.SiLU(),
                                       torch.nn.Linear(hidden, D))

    def forward(self, x, t):
        tt = torch.full((x.shape[0], 1), t / 1000.0, dtype=x.dtype)
        return self.net(torch.cat([x, tt], dim=1))


def make_models(hidden, dtype):
    torch.manual_seed(SEED)
    model = EpsMLP(hidden).to(dtype)
    ref = EpsMLP(hidden).to(dtype)
    ref.load_state_dict(model.state_dict())
    for p in ref.parameters():
        p.requires_grad_(False)
    return model, ref


def sample_loss(model, ref, sched, ts, s, n):
    """TailorPO loss of global sample s (scaled by 1/n: the batch mean)."""
    dtype = next(model.parameters()).dtype
    target = torch.tensor([[1.0, -1.0, 0.5, 0.0]], dtype=dtype)
    x = diffpo.normal((1, D), seed=SEED, stream="init", sample=s, dtype=dtype)
    k_train = s % S
    with torch.no_grad():
        for k in range(k_train):
            eps = model(x, int(ts[k]))
            x = sched.step(eps, int(ts[k]), x, eta=1.0, noise=dict(seed=SEED, step=k, sample=s)).prev_sample
    t = int(ts[k_train])
    with torch.no_grad():
        eps = model(x, t)
        cand, rew = [], []
        for c in range(2):
            o = sched.step(eps, t, x, eta=1.0, noise=dict(seed=SEED, step=k_train, sample=s, candidate=c))
            cand.append(o.prev_sample)
            x0 = sched.step(model(o.prev_sample, t), t, o.prev_sample, eta=0.0).pred_original_sample
            rew.append(float(-((x0 - target) ** 2).sum()))
        w, l = (0, 1) if rew[0] >= rew[1] else (1, 0)
        mu_ref = dt.step_mean(sched, ref(x, t), t, x, eta=1.0)
    sigma = sched.coefficients(t, eta=1.0)["sigma"]
    mu = dt.step_mean(sched, model(x, t), t, x, eta=1.0)
    loss = dt.tailorpo(cand[w], cand[l], mu, mu_ref, beta=BETA, sigma=sigma)
    return loss / n


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--iters", type=int, default=3)
    ap.add_argument("--batch", type=int, default=12, help="global batch n (samples per iteration)")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--split", default=None, help="boundaries 0,b1,...,n (one range per rank); default even")
    ap.add_argument("--double", action="store_true", help="float64 model (per-sample gradients in double)")
    ap.add_argument("--reducer", choices=("tree", "ddp"), default="tree")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before a collective gives up")
    ap.add_argument("--die-rank", type=int, default=-1)
    ap.add_argument("--hang-rank", type=int, default=-1)
    ap.add_argument("--die-iter", type=int, default=0)
    ap.add_argument("--save", default=None)
    ap.add_argument("--save-iter", type=int, default=-1)
    ap.add_argument("--resume", default=None)
    return ap.parse_args()


def main():
    a = parse()
    torch.set_num_threads(1)
    if os.environ.get("MASTER_ADDR", "127.0.0.1") not in ("127.0.0.1", "localhost"):
        print("error: this example runs over loopback only (MASTER_ADDR=127.0.0.1)", file=sys.stderr)
        return 2
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=a.timeout))
    world, rank = dist.get_world_size(), dist.get_rank()
    n = a.batch
    if a.split:
        cuts = [int(v) for v in a.split.split(",")]
        if len(cuts) != world + 1 or cuts[0] != 0 or cuts[-1] != n or any(b <= c for c, b in zip(cuts, cuts[1:])):
            print("error: --split needs %d increasing boundaries from 0 to %d" % (world + 1, n), file=sys.stderr)
            return 2
        start, count = cuts[rank], cuts[rank + 1] - cuts[rank]
    else:
        start, count = even_split(n, world, rank)
    sched = diffpo.DDIMSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                set_alpha_to_one=False, steps_offset=1, clip_sample=False)
    ts = sched.set_timesteps(S)
    model, ref = make_models(a.hidden, torch.float64 if a.double else torch.float32)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    first = 0
    if a.resume:
        ck = torch.load(a.resume, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        first = ck["iter"] + 1
    ddp = None
    if a.reducer == "ddp":
        ddp = torch.nn.parallel.DistributedDataParallel(model)
    try:
        for it in range(first, a.iters):
            if it == a.die_iter and rank == a.die_rank:
                os._exit(9)
            if it == a.die_iter and rank == a.hang_rank:
                time.sleep(3600)
            t0 = time.perf_counter()
            if ddp is None:
                red = TreeReducer(model.parameters(), n, start, count)
                for i in range(start, start + count):
                    sample_loss(model, ref, sched, ts, it * n + i, n).backward()
                    red.accumulate(i)
                st = red.reduce()
            else:
                opt.zero_grad(set_to_none=True)
                for i in range(start, start + count):
                    last = i == start + count - 1
                    if last:
                        (sample_loss(ddp, ref, sched, ts, it * n + i, n) * world).backward()
                    else:
                        with ddp.no_sync():
                            (sample_loss(ddp, ref, sched, ts, it * n + i, n) * world).backward()
                st = None
            opt.step()
            dt_s = time.perf_counter() - t0
            if rank == 0 and st is not None:
                print("iter %d: %.3f s, %d parameters, nodes per rank <= %d, bytes sent per rank <= %d "
                      "(ring all-reduce: f32 %d, f64 %d)" % (it, dt_s, st["numel"], st["max_nodes"], st["max_bytes"],
                                                             st["ring_f32_bytes"], st["ring_f64_bytes"]))
            if it == a.save_iter and a.save and rank == 0:
                torch.save(dict(model=model.state_dict(), opt=opt.state_dict(), iter=it), a.save)
            if it == a.save_iter and a.save:
                dist.barrier()
    except (DistributedError, RuntimeError) as e:
        print("error: rank %d of %d: %s" % (rank, world, str(e).splitlines()[0]), file=sys.stderr, flush=True)
        os._exit(3)
    if rank == 0:
        print("fingerprint %s world %d reducer %s split %s" % (parameter_fingerprint(model.parameters()), world,
                                                              a.reducer, a.split or "even"), flush=True)
    # every rank leaves together: a rank that tears its group down while
    # another is still in its last collective can fail that rank's exit
    dist.barrier()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
