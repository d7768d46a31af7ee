#!/usr/bin/env python3
"""Time and bytes of one gradient reduction vs parameter count, for
docs/scaling.md: TreeReducer.reduce() (nodes -> owners, combine, all-gather)
against torch.distributed.all_reduce of the same float32 gradient.

    torchrun --standalone --nproc_per_node 4 examples/python/distributed_bench.py

Random per-sample gradients (no model): n = 12 samples per iteration split
evenly; median of 5 repetitions; rank 0 prints one line per size."""
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


def main():
    torch.set_num_threads(1)
    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=120))
    world, rank = dist.get_world_size(), dist.get_rank()
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
