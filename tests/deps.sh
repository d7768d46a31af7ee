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
exit 0
