#!/usr/bin/env python3
"""`pip install ./python` as the README says it: into a temporary folder
(--target, no build isolation so no download is needed), then the
installed package is imported in a fresh interpreter, outside the
repository, with no DIFFPO_LIB: it must load its own libdiffpo.so, ship the
golden vectors, and compute the same bits as the build tree's library.

Usage: python3 tests/py_package_install.py BUILD_DIR   (ends 'N passed, M failed')
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
passed = failed = 0


def check(cond, name, detail=""):
    global passed, failed
    if cond:
        passed += 1
        print("ok   " + name)
    else:
        failed += 1
        print("FAIL " + name + (": " + detail if detail else ""))


PROBE = r"""
import os, sys, json
import numpy as np
import diffpo
s = diffpo.DDIMSchedule(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, steps_offset=1)
s.set_timesteps(20)
x = diffpo.normal((2, 64), seed=1, sample=[0, 1]); e = diffpo.normal((2, 64), seed=2, sample=[0, 1])
o = s.step(e, 951, x, eta=1.0, noise=dict(seed=3, step=0), logprob="mean")
r = diffpo.tailorpo(x[0], x[1], e[0], e[1], beta=0.1, sigma=0.3)
print(json.dumps(dict(lib=diffpo.LIBRARY, vec=diffpo.vectors.directory(), nvec=len(diffpo.vectors.files()),
                      fp="%016x" % diffpo.fingerprint(o.prev_sample), lp=o.log_prob.tolist(), loss=r.loss.hex(),
                      grad="%016x" % diffpo.fingerprint(r.grads["mu"]))))
"""


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build"))
    import json
    with tempfile.TemporaryDirectory() as tmp:
        target = os.path.join(tmp, "site")
        env = dict(os.environ)
        env.pop("DIFFPO_LIB", None)
        p = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps",
                            "--target", target, os.path.join(ROOT, "python")], capture_output=True, text=True,
                           env=env, cwd=tmp)
        check(p.returncode == 0, "pip install ./python", (p.stderr or p.stdout)[-2000:])
        if p.returncode != 0:
            print("%d passed, %d failed" % (passed, failed))
            return 1
        env["PYTHONPATH"] = target
        q = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=tmp)
        check(q.returncode == 0, "import the installed package outside the repository", q.stderr[-2000:])
        env2 = dict(os.environ, DIFFPO_LIB=os.path.join(build, "libdiffpo.so"),
                    PYTHONPATH=os.path.join(ROOT, "python"))
        r = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env2, cwd=tmp)
        check(r.returncode == 0, "the same probe on the build tree's library", r.stderr[-2000:])
        if q.returncode == 0 and r.returncode == 0:
            a, b = json.loads(q.stdout), json.loads(r.stdout)
            check(a["lib"].startswith(target), "the installed package loads its own libdiffpo.so", a["lib"])
            check(a["vec"].startswith(target) and a["nvec"] == b["nvec"] and a["nvec"] > 0,
                  "the golden vectors are shipped inside the package", "%s (%d files)" % (a["vec"], a["nvec"]))
            for k in ("fp", "lp", "loss", "grad"):
                check(a[k] == b[k], "installed library = build tree's library: %s" % k, "%s vs %s" % (a[k], b[k]))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
