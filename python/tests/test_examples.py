"""examples/python/align_unet.py runs (its --quick smoke mode): both
methods report a reward before and after and a fingerprint, and the plot
is written."""
import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("torch", reason="torch is not installed (make deps installs it)")
pytest.importorskip("diffusers", reason="diffusers is not installed (make deps installs it)")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_align_unet_quick(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "python") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    p = subprocess.run([sys.executable, os.path.join(ROOT, "examples", "python", "align_unet.py"), "--quick",
                        "--out-dir", str(tmp_path)], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    rows = {m.group(1): m for m in re.finditer(r"^(spo|tailorpo) +(-?\d+\.\d+) +(-?\d+\.\d+) +([+-]\d+\.\d+) +"
                                               r"\d+\.\d+ +([0-9a-f]{16})$", p.stdout, re.M)}
    assert set(rows) == {"spo", "tailorpo"}, p.stdout
    svg = (tmp_path / "reward_curves.svg").read_text()
    assert svg.startswith("<svg") and svg.count("<polyline") == 2
