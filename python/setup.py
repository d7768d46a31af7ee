"""Builds libdiffpo.so from the repository's C sources (make, in a
temporary build folder) and ships it, with the golden vectors, inside the
`diffpo` package.  `pip install ./python` from the repository root.

DIFFPO_MAKE_ARGS passes extra make arguments (e.g. "CC=clang" or
"CUDA=1" for the CUDA build of the library)."""
import glob
import os
import shlex
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        if not os.path.exists(os.path.join(ROOT, "Makefile")) or not os.path.isdir(os.path.join(ROOT, "src")):
            raise RuntimeError("diffpo: the C sources are not beside python/ (%s); install from a checkout of the "
                               "repository with `pip install ./python`" % ROOT)
        build = os.path.abspath(os.path.join(self.build_lib, "..", "diffpo-c-build"))
        cmd = ["make", "-C", ROOT, "BUILD=" + build, "-j2"] + shlex.split(os.environ.get("DIFFPO_MAKE_ARGS", "")) + \
              [os.path.join(build, "libdiffpo.so")]
        print("diffpo: " + " ".join(cmd))
        subprocess.check_call(cmd)
        pkg = os.path.join(self.build_lib, "diffpo")
        shutil.copy2(os.path.join(build, "libdiffpo.so"), os.path.join(pkg, "libdiffpo.so"))
        vec = os.path.join(pkg, "vectors")
        os.makedirs(vec, exist_ok=True)
        for f in glob.glob(os.path.join(ROOT, "vectors", "*.vec")):
            shutil.copy2(f, vec)


class BinaryDistribution(Distribution):
    def has_ext_modules(self):  # a platform wheel: it carries libdiffpo.so
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=BinaryDistribution)
