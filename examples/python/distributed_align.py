#!/usr/bin/env python3
"""Data-parallel alignment under torchrun whose parameter fingerprint does
not depend on the number of processes (docs/scaling.md).

    torchrun --standalone --nproc_per_node 3 examples/python/distributed_align.py
    torchrun --standalone --nproc_per_node 2 examples/python/distributed_align.py --split 0,3,8
    torchrun --standalone --nproc_per_node 2 examples/python/distributed_align.py --reducer both

--model unet (default): the alignment of examples/python/align_unet.py (its
trajectory(), imported, not copied) on a smaller diffusers UNet2DModel
(blocks of 8 and 16 channels, random initialisation from
torch.manual_seed(0), no pretraining, nothing downloaded), with TailorPO
(default) or SPO (--method spo), 4 DDIM steps, a global batch of 8
trajectories per iteration, 2 iterations.  Global sample s = iteration *
batch + i is one leaf of the reduction: its x_T, step noise, candidates and
SPO's resampling come from diffpo's Philox coordinates of s, and its
gradient (summed over the trajectory's steps) depends only on s and the
parameters, so the reducer makes the batch's sum independent of the split.
--model mlp: a tiny torch MLP epsilon-model on 4-D data (TailorPO, one
training step per sample): no diffusers import, a fraction of a second per
iteration; the test suite's fault runs use it.

  --reducer tree  diffpo.torch.distributed.TreeReducer (default)
  --reducer ddp   torch's DistributedDataParallel all-reduce (for contrast)
  --reducer both  the two, one after the other from the same start
Rank 0 prints 'fingerprint <hex> ... reducer <name>' (XXH3 of every
parameter's bytes), and per iteration its time and the reducer's bytes per
rank.

Faults: --timeout S bounds every collective (process group timeout);
--die-rank R --die-iter K makes rank R exit abruptly at iteration K,
--hang-rank R --die-iter K makes it sleep; the other ranks exit with
'error:' and status 3.  --save PATH --save-iter K writes the tree run's
checkpoint after iteration K (world-size independent: parameters, Adam
state, iteration), --resume PATH continues from one (--reducer tree)."""
import argparse
import copy
import datetime
import os
import sys
import time

import torch
import torch.distributed as dist

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
if "DIFFPO_LIB" not in os.environ and os.path.exists(os.path.join(ROOT, "build", "libdiffpo.so")):
    os.environ["DIFFPO_LIB"] = os.path.join(ROOT, "build", "libdiffpo.so")

import diffpo  # noqa: E402
import diffpo.torch as dt  # noqa: E402
from diffpo.torch.distributed import (DistributedError, TreeReducer, even_split,  # noqa: E402
                                      parameter_fingerprint)

D = 4          # MLP: data dimension
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


def setup(a, dtype):
    """(model, ref, work): work(model, s, scale) back-propagates global
    sample s's loss, times scale / batch, into model's p.grad."""
    if a.model == "mlp":
        model, ref = make_models(a.hidden, dtype)
        sched = diffpo.DDIMSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012,
                                    set_alpha_to_one=False, steps_offset=1, clip_sample=False)
        ts = sched.set_timesteps(S)

        def work(m, s, scale):
            loss = sample_loss(m, ref, sched, ts, s, a.batch)
            (loss if scale == 1 else loss * scale).backward()
        return model, ref, work
    import diffusers
    import align_unet
    diffusers.utils.logging.set_verbosity_error()  # .to(float64) would warn about from_pretrained
    model = align_unet.make_unet(channels=(8, 16), groups=4).to(dtype)
    ref = copy.deepcopy(model).requires_grad_(False)
    sched = diffpo.DDIMSchedule(clip_sample=False, set_alpha_to_one=False, steps_offset=1, prev_rule="clamped")
    sched.set_timesteps(S)

    def work(m, s, scale):
        align_unet.trajectory(a.method, m, ref, sched, s, 1, SEED, a.batch / scale, steps=S)
    return model, ref, work


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", choices=("unet", "mlp"), default="unet")
    ap.add_argument("--method", choices=("tailorpo", "spo"), default="tailorpo", help="--model unet only")
    ap.add_argument("--iters", type=int, default=None, help="iterations (unet 2, mlp 3)")
    ap.add_argument("--batch", type=int, default=None, help="global batch n per iteration (unet 8, mlp 12)")
    ap.add_argument("--hidden", type=int, default=32, help="--model mlp: hidden width")
    ap.add_argument("--split", default=None, help="boundaries 0,b1,...,n (one range per rank); default even")
    ap.add_argument("--double", action="store_true", help="float64 model (per-sample gradients in double)")
    ap.add_argument("--reducer", choices=("tree", "ddp", "both"), default="tree")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds before a collective gives up")
    ap.add_argument("--die-rank", type=int, default=-1)
    ap.add_argument("--hang-rank", type=int, default=-1)
    ap.add_argument("--die-iter", type=int, default=0)
    ap.add_argument("--save", default=None)
    ap.add_argument("--save-iter", type=int, default=-1)
    ap.add_argument("--resume", default=None)
    a = ap.parse_args()
    if a.model == "mlp" and a.method != "tailorpo":
        ap.error("--model mlp trains TailorPO only")
    if a.resume and a.reducer != "tree":
        ap.error("--resume continues a tree run (--reducer tree)")
    if a.iters is None:
        a.iters = 2 if a.model == "unet" else 3
    if a.batch is None:
        a.batch = 8 if a.model == "unet" else 12
    return a


def train(a, reducer, model, work, start, count, world, rank):
    """a.iters iterations from a fresh Adam (or --resume's state); returns
    the model.  Rank 0 prints each iteration's time and traffic."""
    n = a.batch
    opt = torch.optim.Adam(model.parameters(), lr=1e-2 if a.model == "mlp" else 1e-3)
    first = 0
    if a.resume:
        ck = torch.load(a.resume, weights_only=False)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["opt"])
        first = ck["iter"] + 1
    ddp = torch.nn.parallel.DistributedDataParallel(model) if reducer == "ddp" else None
    for it in range(first, a.iters):
        if it == a.die_iter and rank == a.die_rank:
            os._exit(9)
        if it == a.die_iter and rank == a.hang_rank:
            time.sleep(3600)
        t0 = time.perf_counter()
        if ddp is None:
            red = TreeReducer(model.parameters(), n, start, count)
            for i in range(start, start + count):
                work(model, it * n + i, 1)
                red.accumulate(i)
            t1 = time.perf_counter()
            st = red.reduce()
        else:
            # DDP's all-reduce averages over the ranks: each rank's losses are scaled by world.
            # Samples accumulate locally (no_sync); a zero-loss pass through the DDP module then
            # makes DDP all-reduce the accumulated p.grad, as gradient accumulation with DDP does.
            opt.zero_grad(set_to_none=True)
            with ddp.no_sync():
                for i in range(start, start + count):
                    work(model, it * n + i, world)
            t1 = time.perf_counter()
            if a.model == "mlp":
                z = ddp(torch.zeros((1, D), dtype=next(model.parameters()).dtype), 0)
            else:
                z = ddp(torch.zeros((1, 1, 8, 8), dtype=next(model.parameters()).dtype), torch.zeros(1)).sample
            (z.sum() * 0.0).backward()
            st = None
        t2 = time.perf_counter()
        opt.step()
        if rank == 0:
            line = "iter %d (%s): %.3f s (samples %.3f s, reduce %.3f s)" % (it, reducer, time.perf_counter() - t0,
                                                                               t1 - t0, t2 - t1)
            if st is not None:
                line += (", %d parameters, nodes per rank <= %d, bytes sent per rank <= %d "
                         "(ring all-reduce: f32 %d, f64 %d)" % (st["numel"], st["max_nodes"], st["max_bytes"],
                                                                st["ring_f32_bytes"], st["ring_f64_bytes"]))
            print(line, flush=True)
        if it == a.save_iter and a.save and ddp is None:
            if rank == 0:
                torch.save(dict(model=model.state_dict(), opt=opt.state_dict(), iter=it), a.save)
            dist.barrier()
    return model


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
        if n < world:
            print("error: a global batch of %d cannot be split over %d ranks" % (n, world), file=sys.stderr)
            return 2
        start, count = even_split(n, world, rank)
    base, _, work = setup(a, torch.float64 if a.double else torch.float32)
    results = []
    try:
        for reducer in (("tree", "ddp") if a.reducer == "both" else (a.reducer,)):
            model = train(a, reducer, copy.deepcopy(base), work, start, count, world, rank)
            results.append((reducer, parameter_fingerprint(model.parameters())))
    except (DistributedError, RuntimeError) as e:
        print("error: rank %d of %d: %s" % (rank, world, str(e).splitlines()[0]), file=sys.stderr, flush=True)
        os._exit(3)
    if rank == 0:
        for reducer, fp in results:
            print("fingerprint %s world %d reducer %s split %s model %s%s" % (
                fp, world, reducer, a.split or "even", a.model, " float64" if a.double else ""), flush=True)
    # every rank leaves together: a rank that tears its group down while
    # another is still in its last collective can fail that rank's exit
    dist.barrier()
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
