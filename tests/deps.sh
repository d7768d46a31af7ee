#!/bin/sh
# Installs what the build and the tests need, when it is missing:
#   system: a C compiler, make, libxxhash-dev (xxHash headers and library)
#   tests:  clang (build matrix, fuzzing), valgrind; Python 3 with numpy and mpmath
# Run as root (CI) or with sudo available; otherwise it says what is missing.
set -u
need_apt=""
have() { command -v "$1" >/dev/null 2>&1; }
[ -f /usr/include/xxhash.h ] || need_apt="$need_apt libxxhash-dev"
have cc || need_apt="$need_apt gcc"
have make || need_apt="$need_apt make"
have clang || need_apt="$need_apt clang"
have valgrind || need_apt="$need_apt valgrind"
have python3 || need_apt="$need_apt python3 python3-pip"
if [ -n "$need_apt" ]; then
    echo "deps: installing:$need_apt" >&2
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need_apt; } >&2; then
        echo "deps: could not install:$need_apt (install them with your package manager)" >&2
        exit 1
    fi
fi
PY=${PYTHON:-python3}
if ! "$PY" -c 'import numpy, mpmath' >/dev/null 2>&1; then
    echo "deps: installing Python packages numpy mpmath" >&2
    "$PY" -m pip install -q numpy mpmath >&2 2>/dev/null ||
        "$PY" -m pip install -q --break-system-packages numpy mpmath >&2 ||
        { echo "deps: pip could not install numpy mpmath" >&2; exit 1; }
fi

# The Python package's tests (tests/py_package.py): pytest, pkg-config for
# tests/cli_install.sh; PyTorch 2.x and diffusers for the torch / diffusers
# tests (they skip, saying so, when torch cannot be had).  PyPI's Linux torch
# wheel depends on ~3 GB of nvidia-* wheels; the CUDA toolkit libraries are
# already on this project's machines (/usr/local/cuda), so torch is
# installed without dependencies (about 540 MB), plus its pure-Python
# dependencies and the four small CUDA libraries the toolkit lacks (about
# 520 MB): together about 1.1 GB and 3-5 minutes.  DIFFPO_NO_TORCH=1 skips it.
if ! command -v pkg-config >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq pkg-config; } >&2 ||
        echo "deps: could not install pkg-config" >&2
fi
pip_q() { "$PY" -m pip install -q "$@" >&2 2>/dev/null || "$PY" -m pip install -q --break-system-packages "$@" >&2; }
if ! "$PY" -c 'import pytest, setuptools, wheel' >/dev/null 2>&1; then
    echo "deps: installing pytest setuptools wheel (tests/py_package*.py)" >&2
    pip_q pytest setuptools wheel || { echo "deps: pip could not install pytest setuptools wheel" >&2; exit 1; }
fi
if [ "${DIFFPO_NO_TORCH:-0}" != 1 ] && ! "$PY" -c 'import torch' >/dev/null 2>&1; then
    echo "deps: installing torch 2.15 (CPU use; without its nvidia-* dependencies)" >&2
    pip_q --no-deps torch==2.15.0 'nvidia-cufile==1.17.1.22.*' nvidia-cusparselt-cu13==0.8.1 \
        nvidia-nvshmem-cu13==3.7.2 nvidia-nccl-cu13==2.30.7 &&
        pip_q filelock 'typing-extensions>=4.13' 'sympy>=1.13.3' 'networkx>=2.5.1' jinja2 'fsspec>=0.8.5' ||
        echo "deps: could not install torch; its tests will be skipped" >&2
    "$PY" -c 'import torch' >/dev/null 2>&1 ||
        echo "deps: torch does not import here (it needs the CUDA 13 toolkit libraries); its tests will be skipped" >&2
fi
if [ "${DIFFPO_NO_TORCH:-0}" != 1 ] && ! "$PY" -c 'import diffusers' >/dev/null 2>&1; then
    echo "deps: installing diffusers" >&2
    pip_q diffusers || echo "deps: could not install diffusers; its tests will be skipped" >&2
fi
exit 0
