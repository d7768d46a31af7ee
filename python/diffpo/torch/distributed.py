"""Data-parallel gradients whose bits do not depend on the number of
processes (docs/scaling.md; the definition: docs/reproducibility.md,
"Sums over samples that can be split").

Each rank holds a contiguous range [start, start + count) of the global
batch's n samples (or fixed-size micro-batches).  After each sample's
backward pass, accumulate(i) keeps that sample's flattened gradient (widened
to double); reduce() turns the rank's samples into the tree nodes of the
fixed tree over GLOBAL indices (dpo_split_reduce_range_f64), sends the
nodes' slice for each parameter shard to the shard's owner (a
reduce-scatter), the owner combines all ranks' nodes in index order
(dpo_split_combine) and casts to the parameters' dtype, and the shards are
all-gathered.  Every rank then holds p.grad = the tree sum, the same bits as
one process summing all n samples, for any world size and any contiguous
split.

    dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
    start, count = even_split(n, dist.get_world_size(), dist.get_rank())
    red = TreeReducer(model.parameters(), n, start, count)   # clears p.grad
    for i in range(start, start + count):
        per_sample_loss(i).backward()
        red.accumulate(i)          # keeps the gradient, zeroes p.grad
    stats = red.reduce()           # p.grad = the tree sum on every rank
    opt.step()

Backends: gloo (CPU tensors; tested) and NCCL (the node slices travel as
CUDA tensors of the current device; the combine runs on the CPU.  NCCL is
NOT tested in this repository's suite: no GPU here).  A dead or hung rank
makes the collectives raise after the process group's timeout (give one to
init_process_group); reduce() turns it into DistributedError with the
rank's view of what failed.

Memory: count rows of the flattened gradient in double on each rank (the
leaves); the traffic model is in docs/scaling.md."""
import numpy as np
import torch
import torch.distributed as dist

from .. import split as _split

__all__ = ["TreeReducer", "DistributedError", "even_split", "shard_bounds", "parameter_fingerprint"]


class DistributedError(RuntimeError):
    """A collective of the reducer failed (a rank died, timed out, or the
    ranks disagree on the split)."""


def even_split(n, world, rank):
    """(start, count) of rank `rank` when n samples are split contiguously
    over `world` ranks as evenly as possible (start = n r // world)."""
    if not (isinstance(n, int) and isinstance(world, int) and isinstance(rank, int)):
        raise TypeError("even_split: integers")
    if world < 1 or not 0 <= rank < world or n < world:
        raise ValueError("even_split: need 0 <= rank < world <= n (n=%d, world=%d, rank=%d)" % (n, world, rank))
    a, b = n * rank // world, n * (rank + 1) // world
    return a, b - a


def shard_bounds(numel, world):
    """Owner r holds flattened elements [bounds[r], bounds[r+1])."""
    return [numel * r // world for r in range(world + 1)]


def parameter_fingerprint(params):
    """XXH3-64 of every parameter's bytes, chained in order (hex string)."""
    from ..noise import fingerprint
    h = 0
    for p in params:
        h = fingerprint(p.detach().cpu().contiguous(), seed=h)
    return "%016x" % h


class TreeReducer:
    """Reduces per-sample gradients of `params` over a global batch of n
    samples of which this rank holds [start, start + count)."""

    def __init__(self, params, n, start, count, group=None):
        self.params = [p for p in params if p.requires_grad]
        if not self.params:
            raise ValueError("TreeReducer: no parameter requires grad")
        dtypes = {p.dtype for p in self.params}
        if not dtypes <= {torch.float32, torch.float64}:
            raise TypeError("TreeReducer: float32 or float64 parameters, got %s" % sorted(map(str, dtypes)))
        self.out_dtype = self.params[0].dtype if len(dtypes) == 1 else torch.float64
        if not (isinstance(n, int) and isinstance(start, int) and isinstance(count, int)):
            raise TypeError("TreeReducer: n, start and count are integers")
        if n < 1 or start < 0 or count < 1 or start + count > n:
            raise ValueError("TreeReducer: need 0 <= start < start + count <= n (n=%d, start=%d, count=%d)"
                             % (n, start, count))
        self.n, self.start, self.count, self.group = n, start, count, group
        self.numel = sum(p.numel() for p in self.params)
        self.leaves = np.zeros((count, self.numel), np.float64)
        self.next = start
        self.stats = None
        self.zero_grad()

    def zero_grad(self):
        """Set every p.grad to None (done on construction and by
        accumulate): the first sample's backward must not add to an old
        gradient."""
        for p in self.params:
            p.grad = None

    # ---------------------------------------------------------------- local
    def accumulate(self, index):
        """Take sample `index`'s gradient from p.grad (None counts as zero)
        and zero p.grad.  Indices must come in order start, start + 1, ..."""
        if index != self.next:
            raise ValueError("accumulate(%r): expected sample %d (this rank holds [%d, %d), in order)"
                             % (index, self.next, self.start, self.start + self.count))
        row = self.leaves[index - self.start]
        off = 0
        for p in self.params:
            k = p.numel()
            if p.grad is not None:
                g = p.grad.detach()
                if g.device.type != "cpu":
                    g = g.cpu()
                row[off:off + k] = g.reshape(-1).numpy()  # float32 -> double is exact
                p.grad = None
            off += k
        self.next += 1

    # ---------------------------------------------------------- collective
    def _device(self):
        backend = dist.get_backend(self.group)
        if backend == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    def reduce(self):
        """Exchange, combine, gather; set p.grad on every rank.  Returns the
        traffic statistics (also kept in .stats)."""
        if self.next != self.start + self.count:
            raise ValueError("reduce: %d of this rank's %d samples accumulated" % (self.next - self.start, self.count))
        world = dist.get_world_size(self.group)
        rank = dist.get_rank(self.group)
        dev = self._device()
        try:
            ranges = self._gather_ranges(world, dev)
        except RuntimeError as e:
            raise DistributedError("rank %d: exchanging the sample ranges failed (a rank died or timed out?): %s"
                                   % (rank, e)) from e
        vals, my_nodes = _split.reduce_range(self.leaves, self.n, self.start)
        bounds = shard_bounds(self.numel, world)
        lo, hi = bounds[rank], bounds[rank + 1]
        node_lists = [_split.nodes(self.n, a, a + c) for a, c in ranges]
        sent = 0
        recv_bufs = {}
        ops = []
        try:
            for src in range(world):
                if src != rank and hi > lo:
                    buf = torch.empty((len(node_lists[src]), hi - lo), dtype=torch.float64, device=dev)
                    recv_bufs[src] = buf
                    ops.append(dist.P2POp(dist.irecv, buf, src, self.group))
            for dst in range(world):
                if dst != rank and bounds[dst + 1] > bounds[dst]:
                    t = torch.from_numpy(np.ascontiguousarray(vals[:, bounds[dst]:bounds[dst + 1]])).to(dev)
                    sent += t.numel() * 8
                    ops.append(dist.P2POp(dist.isend, t, dst, self.group))
            if ops:
                for w in dist.batch_isend_irecv(ops):
                    w.wait()
        except RuntimeError as e:
            raise DistributedError("rank %d: sending tree nodes to the shard owners failed (a rank died or timed "
                                   "out?): %s" % (rank, e)) from e
        # combine every rank's nodes of my shard, in ascending sample order
        order = sorted(range(world), key=lambda r: ranges[r][0])
        rows, nds = [], []
        for r in order:
            rows.append(vals[:, lo:hi] if r == rank else recv_bufs[r].cpu().numpy())
            nds += node_lists[r]
        width = bounds[1] - bounds[0]
        maxw = max(bounds[r + 1] - bounds[r] for r in range(world))
        mine = torch.zeros(maxw, dtype=self.out_dtype)
        if hi > lo:
            total = _split.combine(np.ascontiguousarray(np.concatenate(rows, axis=0)), nds, self.n)
            mine[:hi - lo] = torch.from_numpy(total).to(self.out_dtype)
        try:
            if world > 1:
                parts = [torch.empty(maxw, dtype=self.out_dtype, device=dev) for _ in range(world)]
                dist.all_gather(parts, mine.to(dev), group=self.group)
                parts = [q.cpu() for q in parts]
            else:
                parts = [mine]
        except RuntimeError as e:
            raise DistributedError("rank %d: gathering the reduced shards failed (a rank died or timed out?): %s"
                                   % (rank, e)) from e
        flat = torch.cat([parts[r][:bounds[r + 1] - bounds[r]] for r in range(world)])
        off = 0
        for p in self.params:
            k = p.numel()
            p.grad = flat[off:off + k].view_as(p).to(device=p.device, dtype=p.dtype).clone()
            off += k
        esz = torch.tensor([], dtype=self.out_dtype).element_size()
        gathered = (world - 1) * maxw * esz
        ring = lambda b: 2 * (world - 1) / world * self.numel * b  # noqa: E731
        per_rank = [sum(len(node_lists[r]) * (bounds[d + 1] - bounds[d]) * 8 for d in range(world) if d != r)
                    + gathered for r in range(world)]
        self.stats = dict(world=world, nodes=len(my_nodes), max_nodes=max(len(q) for q in node_lists),
                          numel=self.numel, sent_nodes_bytes=sent, gather_bytes=gathered, bytes=sent + gathered,
                          max_bytes=max(per_rank), ring_f32_bytes=ring(4), ring_f64_bytes=ring(8), shard=width)
        self.leaves[:] = 0.0
        self.next = self.start
        return self.stats

    def restart(self):
        """Reuse the reducer for the next iteration: clears p.grad."""
        if self.next != self.start:
            raise ValueError("restart: %d samples accumulated but not reduced" % (self.next - self.start))
        self.zero_grad()

    def _gather_ranges(self, world, dev):
        mine = torch.tensor([self.start, self.count, self.n], dtype=torch.int64, device=dev)
        allr = [torch.empty(3, dtype=torch.int64, device=dev) for _ in range(world)]
        dist.all_gather(allr, mine, group=self.group)
        allr = [tuple(int(v) for v in t.cpu().tolist()) for t in allr]
        ns = {t[2] for t in allr}
        if len(ns) != 1:
            raise ValueError("TreeReducer: the ranks disagree on the global batch size n: %s" % sorted(ns))
        at = 0
        for a, c, _ in sorted(allr):
            if a != at:
                raise ValueError("TreeReducer: the ranks' sample ranges %s do not split [0, %d) contiguously"
                                 % ([(a, a + c) for a, c, _ in allr], self.n))
            at = a + c
        if at != self.n:
            raise ValueError("TreeReducer: the ranks' sample ranges end at %d, not n = %d" % (at, self.n))
        return [(a, c) for a, c, _ in allr]
