"""Shared fixtures: the C library's own command-line tool (the reference
the binding is compared with bit for bit) and optional torch/diffusers."""
import os
import subprocess

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("DIFFPO_BUILD", os.path.join(ROOT, "build"))
CLI = os.path.join(BUILD, "diffpo")


def run_cli(*args, cwd=None):
    """Runs the diffpo CLI; returns stdout (fails the test on a non-zero exit)."""
    if not os.path.exists(CLI):
        pytest.fail("the diffpo CLI %s is missing: build it with make (DIFFPO_BUILD names another build)" % CLI)
    p = subprocess.run([CLI] + [str(a) for a in args], capture_output=True, text=True, cwd=cwd)
    assert p.returncode == 0, "diffpo %s failed: %s" % (" ".join(map(str, args)), p.stderr)
    return p.stdout


def bits(v):
    """Exact bit pattern of values widened to float64 (distinguishes -0.0)."""
    a = np.asarray(v.detach().cpu().numpy() if hasattr(v, "detach") else v, dtype=np.float64).reshape(-1)
    return a.view(np.uint64)


def assert_bits(mine, ref, what):
    m, r = bits(mine), bits(ref)
    assert m.shape == r.shape, "%s: shape %s vs %s" % (what, m.shape, r.shape)
    if not np.array_equal(m, r):
        i = int(np.nonzero(m != r)[0][0])
        raise AssertionError("%s: element %d differs: %r (binding) vs %r (C library); %d of %d differ"
                             % (what, i, m.view(np.float64)[i], r.view(np.float64)[i], int(np.sum(m != r)), m.size))


def have_torch():
    try:
        import torch  # noqa: F401
        return True
    except Exception:
        return False


needs_torch = pytest.mark.skipif(not have_torch(), reason="torch is not installed or does not import (make deps installs it; "
                                 "the NumPy path is tested without it)")
