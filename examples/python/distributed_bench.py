#!/usr/bin/env python3
"""Time and bytes of one gradient reduction vs parameter count, for
docs/scaling.md: TreeReducer.reduce() (nodes -> owners, combine, all-gather)
against torch.distributed.all_reduce of the same float32 gradient.

    torchrun --standalone --nproc_per_node 4 examples/python/distributed_bench.py
    torchrun --standalone --nproc_per_node 3 examples/python/distributed_bench.py --traffic

Random per-sample gradients (no model): n = 12 samples per iteration split
evenly; median of 5 repetitions; rank 0 prints one line per size.

--traffic: the bytes each rank actually sends in one reduce() (the
reducer's own counts of the node slices it sends plus its part of the
all-gather; float32 parameters, P = 12,000) for several even and uneven
splits of n = 8 and n = 12 at this world size, against a float32 and a
float64 ring all-reduce of the same gradient (docs/scaling.md, "Uneven
splits")."""
import datetime
import os
import statistics
import sys
import time

import torch
import torch.distributed as dist

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "python"))
if "DIFFPO_LIB" not in os.environ:
    os.environ["DIFFPO_LIB"] = os.path.join(ROOT, "build", "libdiffpo.so")
from diffpo.torch.distributed import TreeReducer, even_split  # noqa: E402


SPLITS = {2: ["0,4,8", "0,3,8", "0,2,8", "0,1,8", "0,6,12", "0,5,12", "0,4,12", "0,1,12"],
          3: ["0,3,6,8", "0,1,7,8", "0,2,4,8", "0,4,8,12", "0,1,8,12", "0,3,7,12", "0,2,6,12"],
          4: ["0,2,4,6,8", "0,1,3,7,8", "0,1,2,3,8", "0,3,6,9,12", "0,1,7,8,12", "0,2,5,9,12"]}


def traffic(world, rank):
    from diffpo import split as ds
    P = 12_000
    w = torch.nn.Parameter(torch.zeros(P))
    for cuts in SPLITS.get(world, []):
        b = [int(v) for v in cuts.split(",")]
        n, start, count = b[-1], b[rank], b[rank + 1] - b[rank]
        red = TreeReducer([w], n, start, count)
        for i in range(start, start + count):
            w.grad = torch.full((P,), float(i + 1))
            red.accumulate(i)
        st = red.reduce()
        mine = torch.tensor([st["bytes"], st["nodes"]], dtype=torch.int64)
        allb = [torch.zeros(2, dtype=torch.int64) for _ in range(world)]
        dist.all_gather(allb, mine)
        if rank == 0:
            sent = [int(t[0]) for t in allb]
            k = [int(t[1]) for t in allb]
            # what the same exchange would send if the level-0 nodes (a float32 sample's gradient,
            # exact in float32) travelled as float32: 4 bytes fewer per element of a leaf node
            leaves = [sum(1 for q in ds.nodes(n, b[r], b[r + 1]) if q.level == 0) for r in range(world)]
            compact = max(sent[r] - 4 * leaves[r] * (P - P // world) for r in range(world))
            print("traffic world %d n %2d split %-12s nodes %-12s bytes/rank max %7d (%s) ring f32 %d: %.2fx, "
                  "f64: %.2fx; leaves as f32: %.2fx" %
                  (world, n, cuts, "+".join(map(str, k)), max(sent), ",".join(map(str, sent)),
                   st["ring_f32_bytes"], max(sent) / st["ring_f32_bytes"], max(sent) / st["ring_f64_bytes"],
                   compact / st["ring_f32_bytes"]), flush=True)


def main():
    torch.set_num_threads(1)
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=120))
    world, rank = dist.get_world_size(), dist.get_rank()
    if "--traffic" in sys.argv[1:]:
        traffic(world, rank)
        dist.destroy_process_group()
        return
    n = 12
    start, count = even_split(n, world, rank)
    for P in (10_000, 100_000, 1_000_000):
        w = torch.nn.Parameter(torch.zeros(P))
        g = torch.Generator().manual_seed(1)
        grads = [torch.randn(P, generator=g) for _ in range(n)]
        tt, ta, tl = [], [], []
        for _ in range(5):
            red = TreeReducer([w], n, start, count)
            t0 = time.perf_counter()
            for i in range(start, start + count):
                w.grad = grads[i].clone()
                red.accumulate(i)
            t1 = time.perf_counter()
            dist.barrier()
            t2 = time.perf_counter()
            st = red.reduce()
            t3 = time.perf_counter()
            x = grads[0].clone()
            dist.barrier()
            t4 = time.perf_counter()
            dist.all_reduce(x)
            t5 = time.perf_counter()
            tl.append(t1 - t0)
            tt.append(t3 - t2)
            ta.append(t5 - t4)
        if rank == 0:
            print("world %d params %8d: accumulate %.4f s, tree reduce %.4f s, all_reduce f32 %.4f s; "
                  "bytes/rank %d, nodes<=%d, ring f32 %d f64 %d" %
                  (world, P, statistics.median(tl), statistics.median(tt), statistics.median(ta), st["max_bytes"],
                   st["max_nodes"], st["ring_f32_bytes"], st["ring_f64_bytes"]), flush=True)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
