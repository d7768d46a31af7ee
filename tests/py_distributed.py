#!/usr/bin/env python3
"""Data-parallel training whose bits do not depend on the number of
processes (docs/scaling.md), with a real launcher.

Usage: python3 tests/py_distributed.py BUILD_DIR

1. diffpo.split in-process: every contiguous split of a few sample counts
   combines to the one-process bits; bad input raises.
2. torchrun --standalone (gloo, loopback only) runs
   examples/python/distributed_align.py -- the diffusers UNet2DModel
   alignment of examples/python/align_unet.py (TailorPO, 4 steps, global
   batch 8, 2 iterations) -- with 1, 2, 3 and 4 processes and an uneven
   split (1+6+1): one TreeReducer fingerprint; the reducer's bytes per rank
   follow the stated model and stay within 1.5x of a ring all-reduce of
   the same (float64) gradient when no rank holds more than 2 tree nodes.  The runs train
   the float64 UNet: float32 per-sample gradients summed in double are
   exact in most orders, so only float64 ones make this test fail when the
   combine is replaced by a plain sum of the nodes (checked: the
   fingerprints then differ).  The same launches train the same model with
   PyTorch's DDP all-reduce from the same start; its fingerprints are
   printed beside them (not asserted: they may or may not differ).
3. A checkpoint taken at world size 2 and resumed at world size 3 gives
   the straight run's fingerprint.  Faults (on the example's tiny MLP
   model: no diffusers import): a rank that exits abruptly, and a rank that
   hangs (process group timeout 5 s), end the whole job with a non-zero
   status within a bounded time.
8 launches of torch; a few minutes on a loaded 2-core machine (the last
line before the tally gives the time).  Every launch has a wall-clock
limit; one that overruns is stopped with every process it started (torchrun
puts its workers in sessions of their own: see stop()).  Ends with
'N passed, M failed'."""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "python", "distributed_align.py")
passed = failed = 0


def ok(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok   %s" % what)
    else:
        failed += 1
        print("FAIL %s" % what)
    sys.stdout.flush()


def launch(nproc, *args, limit=240):
    """torchrun with nproc workers; returns (status, output, seconds)."""
    env = dict(os.environ, MASTER_ADDR="127.0.0.1", GLOO_SOCKET_IFNAME="lo", OMP_NUM_THREADS="1",
               PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
           EXAMPLE] + list(args)
    t0 = time.time()
    p = subprocess.Popen(["nice"] + cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                         start_new_session=True)
    status, out = None, b""
    try:
        out, _ = p.communicate(timeout=limit)
        status = p.returncode
    except subprocess.TimeoutExpired:
        pass
    finally:
        if status is None:
            stop(p)
            more, _ = p.communicate()
            out += more
    return status, out.decode(errors="replace"), time.time() - t0


def descendants(pid):
    """Every live process below pid (by /proc's parent links)."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def stop(p):
    """End an overrunning launch and everything it started.  torchrun puts
    each worker in a session of its own, so killing torchrun's group would
    orphan them: ask torchrun to stop its workers (SIGTERM), then kill the
    workers' groups and torchrun's by id."""
    workers = descendants(p.pid)
    try:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass
    for pid in workers + [p.pid]:
        for kill in (os.killpg, os.kill):
            try:
                kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def why(st, out):
    """For a FAIL line (the suite shows only those): the status and the last error line."""
    if st == 0:
        return ""
    errs = [l for l in out.splitlines() if re.search(r"error|Error|Traceback|timed out", l)]
    return " [status %s; %s]" % (st, errs[-1].strip()[:200] if errs else "no error line")


def fingerprint(out, reducer):
    m = re.findall(r"^fingerprint ([0-9a-f]{16}) .* reducer %s " % reducer, out, re.M)
    return m[-1] if m else None


def split_unit():
    import numpy as np
    import diffpo
    import diffpo.split as ds
    rng = np.random.default_rng(5)
    for n in (1, 2, 3, 7, 12, 33):
        x = rng.standard_normal((n, 6)) * np.exp2(rng.integers(-40, 40, (n, 6)))
        want = ds.total(x)
        good = True
        for cut in range(1, n):
            for cut2 in range(cut + 1, n + 1):
                cuts = [0, cut, cut2] + ([n] if cut2 < n else [])
                vals, nds = [], []
                for a, b in zip(cuts, cuts[1:]):
                    v, nd = ds.reduce_range(np.ascontiguousarray(x[a:b]), n, a)
                    vals.append(v)
                    nds += nd
                good &= bool((ds.combine(np.concatenate(vals), nds, n).view(np.uint64) == want.view(np.uint64)).all())
        ok(good, "diffpo.split: every split into 2-3 ranges of n=%d gives the one-process bits" % n)
    x32 = rng.standard_normal((9, 4)).astype(np.float32)
    ok((ds.total(x32) == ds.total(x32.astype(np.float64))).all(), "diffpo.split: float32 rows widen exactly")
    for what, fn, exc in (("empty range", lambda: ds.nodes(8, 3, 3), diffpo.DiffpoError),
                          ("range past n", lambda: ds.reduce_range(np.zeros((4, 2)), 5, 2), diffpo.DiffpoError),
                          ("NaN", lambda: ds.total(np.array([[1.0], [np.nan]])), diffpo.DiffpoError),
                          ("int rows", lambda: ds.total(np.zeros((2, 2), np.int32)), TypeError),
                          ("gap in nodes", lambda: ds.combine(np.zeros((1, 2)), ds.nodes(8, 0, 4), 8),
                           diffpo.DiffpoError)):
        try:
            fn()
            ok(False, "diffpo.split refuses %s" % what)
        except exc:
            ok(True, "diffpo.split refuses %s" % what)


def traffic(name, nproc, out):
    """The reducer's bytes per rank (first iteration line) against the model of docs/scaling.md."""
    m = re.search(r"(\d+) parameters, nodes per rank <= (\d+), bytes sent per rank <= (\d+) "
                  r"\(ring all-reduce: f32 (\d+), f64 (\d+)\)", out)
    if nproc == 1 or m is None:
        return
    P, k, b = (int(v) for v in m.groups()[:3])
    # the model: k nodes of every other owner's shard in double + the all-gather of the shards
    # in the parameters' dtype (float64 here: --double)
    maxshard = -(-P // nproc)
    want = k * 8 * (P - P // nproc) + (nproc - 1) * maxshard * 8
    ok(b <= want + 8 * k * nproc, "%s: bytes %d within the model's %d" % (name, b, want))
    # a ring all-reduce of the same (float64) gradient sends 16 P (N-1)/N bytes per rank; the
    # shards' padding to equal size adds at most 8 (N-1)
    ring = 16 * P * (nproc - 1) / nproc
    if k <= 2:
        ok(b <= 1.5 * ring + 8 * (nproc - 1), "%s: %d nodes, bytes %d <= 1.5 x f64 ring %.0f (%.2fx)"
           % (name, k, b, ring, b / ring))
    else:
        print("     %s: %d nodes on a rank: %d bytes = %.2fx f64 ring (the bound needs <= 2 nodes)"
              % (name, k, b, b / ring))


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
    os.environ["DIFFPO_LIB"] = os.path.join(build, "libdiffpo.so")
    sys.path.insert(0, os.path.join(ROOT, "python"))
    try:
        import torch  # noqa: F401
        import torch.distributed as dist
        if not dist.is_available() or not dist.is_gloo_available():
            raise ImportError("torch.distributed with gloo")
        import diffusers  # noqa: F401
    except ImportError as e:
        print("SKIP py_distributed: %s is not installed (make deps installs torch and diffusers)" % e)
        print("0 passed, 0 failed")
        return 0
    t_all = time.time()
    split_unit()

    prints, ddp = {}, {}
    tmp = tempfile.TemporaryDirectory()
    ck = os.path.join(tmp.name, "ck.pt")
    # The diffusers UNet alignment (float64: see the module's docstring), TreeReducer and DDP from the
    # same start in one launch; the 2-process run also writes the checkpoint (after iteration 0)
    # resumed at world size 3 below.
    for nproc, args, name in ((1, ["--reducer", "both"], "1 process"),
                              (2, ["--reducer", "both", "--save", ck, "--save-iter", "0"], "2 processes"),
                              (3, ["--reducer", "both"], "3 processes"), (4, ["--reducer", "both"], "4 processes"),
                              (3, ["--split", "0,1,7,8"], "3 processes, split 0,1,7,8")):
        st, out, secs = launch(nproc, "--double", *args)
        fp, fd = fingerprint(out, "tree"), fingerprint(out, "ddp")
        prints[name] = fp
        if "both" in args:
            ddp[name] = fd
        print("     unet %-28s tree %s  ddp %s  (%.0f s)" % (name, fp, fd if "both" in args else "-", secs))
        ok(st == 0 and fp is not None, "torchrun %s finishes and prints a fingerprint%s" % (name, why(st, out)))
        if st != 0:
            print(out[-3000:])
        for line in re.findall(r"^iter \d+ .*", out, re.M):
            print("     " + line[:120])
        traffic(name, nproc, out)
    base = prints["1 process"]
    for name, fp in prints.items():
        if name != "1 process":
            ok(fp is not None and fp == base, "TreeReducer: fingerprint with %s == 1 process (%s)" % (name, fp))
    ok(all(v is not None for v in ddp.values()), "DDP runs with 1-4 processes finish")
    print("     DDP's fingerprints (not asserted; docs/scaling.md): %s; %d distinct"
          % (", ".join("%s %s" % kv for kv in ddp.items()), len(set(ddp.values()))))

    st, out, secs = launch(3, "--double", "--resume", ck)
    ok(st == 0 and fingerprint(out, "tree") == base,
       "resumed at world size 3 from world size 2's checkpoint: %s == %s%s"
       % (fingerprint(out, "tree"), base, why(st, out)))

    # Faults, on the MLP model (no diffusers import: seconds per launch)
    st, out, secs = launch(3, "--model", "mlp", "--die-rank", "1", "--die-iter", "1", "--timeout", "20", limit=120)
    ok(st not in (0, None) and fingerprint(out, "tree") is None and secs < 100,
       "a rank that exits abruptly ends the job (status %s, %.0f s)" % (st, secs))
    st, out, secs = launch(2, "--model", "mlp", "--hang-rank", "1", "--die-iter", "1", "--timeout", "5", limit=120)
    ok(st not in (0, None) and fingerprint(out, "tree") is None and secs < 100,
       "a rank that hangs ends the job after the timeout (status %s, %.0f s)" % (st, secs))
    ok(re.search(r"^error: rank 0 of 2: .*", out, re.M) is not None,
       "the waiting rank says why it stops ('error: rank 0 of 2: ...')")
    if not re.search(r"^error: rank 0 of 2", out, re.M):
        print(out[-3000:])
    tmp.cleanup()
    print("     py_distributed: %.0f s in all" % (time.time() - t_all))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
