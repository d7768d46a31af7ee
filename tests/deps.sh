#!/bin/sh
# Installs what the build and the tests need, when it is missing:
#   system: a C compiler, make, libxxhash-dev (xxHash headers and library)
#   tests:  clang (build matrix, fuzzing), valgrind; Python 3 with numpy and mpmath
#   aarch64 (tests/cross_aarch64.sh): the arm64 dpkg architecture, gcc-aarch64-linux-gnu,
#           libc6-dev-arm64-cross, libxxhash-dev:arm64 and qemu-user.  Optional: where they
#           cannot be installed it says so and the cross test skips (SKIP_AARCH64=1: not tried)
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
# The aarch64 cross toolchain and its emulator (Debian/Ubuntu multiarch).  A
# failure here is not an error: tests/cross_aarch64.sh prints why it skips.
aarch64_missing() {
    m=""
    have aarch64-linux-gnu-gcc || m="$m gcc-aarch64-linux-gnu"
    [ -f /usr/aarch64-linux-gnu/include/stdio.h ] || m="$m libc6-dev-arm64-cross"
    [ -f /usr/lib/aarch64-linux-gnu/libxxhash.so ] || m="$m libxxhash-dev:arm64"
    have qemu-aarch64 || m="$m qemu-user"
    echo "$m"
}
if [ "${SKIP_AARCH64:-0}" != 1 ] && [ "$(uname -m)" != aarch64 ] && [ -n "$(aarch64_missing)" ]; then
    need_x=$(aarch64_missing)
    SUDO=""
    [ "$(id -u)" = 0 ] || SUDO="sudo"
    if ! have dpkg || ! have apt-get || { [ -n "$SUDO" ] && ! have sudo; }; then
        echo "deps: aarch64 cross test needs:$need_x (no apt-get/dpkg or no root: install them by hand; the test will skip)" >&2
    else
        echo "deps: installing for the aarch64 cross test:$need_x" >&2
        added=0
        if ! dpkg --print-foreign-architectures | grep -qx arm64; then
            $SUDO dpkg --add-architecture arm64 && added=1
        fi
        if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need_x; } >&2; then
            echo "deps: could not install:$need_x (the aarch64 cross test will skip)" >&2
            # an arm64 architecture this script added and could not use would
            # break later apt-get updates (e.g. mirrors without arm64)
            if [ "$added" = 1 ] && ! dpkg -l | awk '$1 == "ii" && $2 ~ /:arm64$/' | grep -q .; then
                $SUDO dpkg --remove-architecture arm64 && $SUDO apt-get update -qq >&2
            fi
        fi
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
