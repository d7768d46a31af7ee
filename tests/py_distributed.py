#!/usr/bin/env python3
"""Data-parallel training whose bits do not depend on the number of
processes (docs/scaling.md), with a real launcher.

Usage: python3 tests/py_distributed.py BUILD_DIR

1. diffpo.split in-process: every contiguous split of a few sample counts
   combines to the one-process bits; bad input raises.
2. torchrun --standalone (gloo, loopback only) runs
   examples/python/distributed_align.py with 1, 2, 3 and 4 processes and
   two uneven splits: one fingerprint; the reducer's bytes per rank follow
   the stated model and stay within 1.5x of a float64 ring all-reduce when
   no rank holds more than 2 tree nodes.  The tree runs train a float64
   model: float32 per-sample gradients summed in double are exact in most
   orders, so only float64 ones make this test fail when the combine is
   replaced by a plain sum of the nodes (checked: 1 vs 2 processes then
   differ).  DDP's fingerprints are printed
   beside them (not asserted: they may or may not differ).
3. Faults: a rank that exits abruptly, and a rank that hangs (process
   group timeout 5 s), end the whole job with a non-zero status within a
   bounded time; a checkpoint taken at world size 2 and resumed at world
   size 3 gives the straight run's fingerprint.
About 9 launches of torch; minutes on a loaded 2-core machine.
Every launch has a wall-clock limit; a launch that overruns is killed with
its whole process group (it was started in its own session).  Ends with
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
    try:
        out, _ = p.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        return None, out.decode(errors="replace"), time.time() - t0
    return p.returncode, out.decode(errors="replace"), time.time() - t0


def why(st, out):
    """For a FAIL line (the suite shows only those): the status and the last error line."""
    if st == 0:
        return ""
    errs = [l for l in out.splitlines() if re.search(r"error|Error|Traceback|timed out", l)]
    return " [status %s; %s]" % (st, errs[-1].strip()[:200] if errs else "no error line")


def fingerprint(out):
    m = re.findall(r"^fingerprint ([0-9a-f]{16})", out, re.M)
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


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
    os.environ["DIFFPO_LIB"] = os.path.join(build, "libdiffpo.so")
    sys.path.insert(0, os.path.join(ROOT, "python"))
    try:
        import torch  # noqa: F401
        import torch.distributed as dist
        if not dist.is_available() or not dist.is_gloo_available():
            raise ImportError("torch.distributed with gloo")
    except ImportError as e:
        print("SKIP py_distributed: %s is not installed (make deps installs torch)" % e)
        print("0 passed, 0 failed")
        return 0
    split_unit()

    prints = {}
    tmp = tempfile.TemporaryDirectory()
    ck = os.path.join(tmp.name, "ck.pt")
    # the 2-process run also writes the checkpoint (after iteration 0) resumed at world size 3 below
    for nproc, args, name in ((1, [], "1 process"), (2, ["--save", ck, "--save-iter", "0"], "2 processes"),
                              (3, [], "3 processes"), (4, [], "4 processes"),
                              (3, ["--split", "0,1,8,12"], "3 processes, split 0,1,8,12")):
        st, out, secs = launch(nproc, "--double", *args)
        fp = fingerprint(out)
        prints[name] = fp
        print("     tree %-30s %s (%.0f s)" % (name, fp, secs))
        ok(st == 0 and fp is not None, "torchrun %s finishes and prints a fingerprint%s" % (name, why(st, out)))
        if st != 0:
            print(out[-3000:])
        for m in re.finditer(r"(\d+) parameters, nodes per rank <= (\d+), bytes sent per rank <= (\d+) "
                             r"\(ring all-reduce: f32 (\d+), f64 (\d+)\)", out):
            P, k, b, r32, r64 = (int(v) for v in m.groups())
            if nproc > 1:
                # the model: k nodes of every other owner's shard in double + the all-gather of the shards
                # in the parameters' dtype (float64 here: --double)
                maxshard = -(-P // nproc)
                want = k * 8 * (P - P // nproc) + (nproc - 1) * maxshard * 8
                ok(b <= want + 8 * k * nproc, "%s: bytes %d within the model's %d" % (name, b, want))
                if k <= 2:
                    ok(b <= 1.5 * r64, "%s: %d nodes, bytes %d <= 1.5 x f64 ring %d (%.2fx; %.2fx of f32 ring)"
                       % (name, k, b, r64, b / r64, b / r32))
                else:
                    print("     %s: %d nodes on a rank: %d bytes = %.2fx f64 ring (the bound needs <= 2 nodes)"
                          % (name, k, b, b / r64))
            break
    base = prints["1 process"]
    for name, fp in prints.items():
        if name != "1 process":
            ok(fp is not None and fp == base, "fingerprint with %s == 1 process (%s)" % (name, fp))

    st, out, secs = launch(2, "--reducer", "ddp")
    print("     ddp  2 processes: %s (%.0f s; docs/scaling.md records 1-4)" % (fingerprint(out), secs))
    ok(st == 0 and fingerprint(out) is not None, "DDP run with 2 processes finishes")

    st, out, secs = launch(3, "--die-rank", "1", "--die-iter", "1", "--timeout", "20", limit=120)
    ok(st not in (0, None) and fingerprint(out) is None and secs < 100,
       "a rank that exits abruptly ends the job (status %s, %.0f s)" % (st, secs))
    st, out, secs = launch(2, "--hang-rank", "1", "--die-iter", "1", "--timeout", "5", limit=120)
    ok(st not in (0, None) and fingerprint(out) is None and secs < 100,
       "a rank that hangs ends the job after the timeout (status %s, %.0f s)" % (st, secs))
    ok(re.search(r"^error: rank 0 of 2: .*", out, re.M) is not None,
       "the waiting rank says why it stops ('error: rank 0 of 2: ...')")
    if not re.search(r"^error: rank 0 of 2", out, re.M):
        print(out[-3000:])

    st, out, _ = launch(3, "--double", "--resume", ck)
    ok(st == 0 and fingerprint(out) == base,
       "resumed at world size 3 from world size 2's checkpoint: %s == %s%s" % (fingerprint(out), base, why(st, out)))
    tmp.cleanup()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
