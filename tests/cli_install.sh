#!/bin/sh
# make install / make uninstall into a temporary PREFIX, then the example
# program built against the installed copy alone (a copy of the source in
# an empty folder, no -Iinclude) with `pkg-config --cflags --libs diffpo`:
# it must link the versioned shared library by its SONAME and print the
# same bits as the example linked statically from the build tree.
# EXAMPLE_CC / EXAMPLE_FLAGS as in tests/cli_examples.sh.
set -u
BIN=${1:-build/diffpo}
BUILD=$(dirname "$BIN")
CC=${EXAMPLE_CC:-${CC:-cc}}
XF=${EXAMPLE_FLAGS:-}
. tests/lib_cli.sh

ver() { sed -n "s/^#define DPO_VERSION_$1 \\([0-9][0-9]*\\).*/\\1/p" include/diffpo.h; }
MAJOR=$(ver MAJOR)
VERSION="$MAJOR.$(ver MINOR).$(ver PATCH)"
P="$T/prefix"

if ${MAKE:-make} -s install BUILD="$BUILD" PREFIX="$P" >"$T/install.txt" 2>&1; then
    ok "make install PREFIX=..."
else
    bad "make install failed: $(tail -n 5 "$T/install.txt")"
fi
for f in include/diffpo.h include/diffpo_loss.h lib/libdiffpo.a "lib/libdiffpo.so.$VERSION" \
         "lib/libdiffpo.so.$MAJOR" lib/libdiffpo.so lib/pkgconfig/diffpo.pc; do
    if [ -e "$P/$f" ]; then ok "installed $f"; else bad "make install did not install $f"; fi
done
for f in include/*.h; do
    cmp -s "$f" "$P/include/$(basename "$f")" || bad "installed $(basename "$f") differs from $f"
done
if [ "$(readlink "$P/lib/libdiffpo.so")" = "libdiffpo.so.$MAJOR" ] &&
   [ "$(readlink "$P/lib/libdiffpo.so.$MAJOR")" = "libdiffpo.so.$VERSION" ]; then
    ok "links libdiffpo.so -> libdiffpo.so.$MAJOR -> libdiffpo.so.$VERSION"
else
    bad "shared-library links wrong: $(ls -l "$P/lib" | grep libdiffpo.so)"
fi
soname=$(readelf -d "$P/lib/libdiffpo.so.$VERSION" 2>/dev/null | sed -n 's/.*Library soname: \[\(.*\)\].*/\1/p')
if [ "$soname" = "libdiffpo.so.$MAJOR" ]; then ok "SONAME $soname"; else
    bad "SONAME of libdiffpo.so.$VERSION is '$soname', expected libdiffpo.so.$MAJOR"
fi

if ! command -v pkg-config >/dev/null 2>&1; then
    bad "pkg-config not found (make deps installs it)"
    finish
    exit 1
fi
PKG_CONFIG_PATH="$P/lib/pkgconfig"
export PKG_CONFIG_PATH
mv=$(pkg-config --modversion diffpo 2>&1)
if [ "$mv" = "$VERSION" ]; then ok "pkg-config --modversion diffpo = $mv"; else
    bad "pkg-config --modversion diffpo gave '$mv', expected $VERSION"
fi

mkdir -p "$T/ex"
cp examples/align_tailorpo.c "$T/ex/"
# shellcheck disable=SC2046
if (cd "$T/ex" && $CC -std=c99 -Wall -Wextra -Werror -pedantic $XF $(pkg-config --cflags diffpo) \
        align_tailorpo.c $(pkg-config --libs diffpo) -o installed) >"$T/cc.txt" 2>&1; then
    ok "align_tailorpo.c builds with pkg-config --cflags --libs diffpo"
else
    bad "align_tailorpo.c does not build against the installed copy: $(head -n 5 "$T/cc.txt")"
fi
if [ -x "$T/ex/installed" ]; then
    needed=$(readelf -d "$T/ex/installed" 2>/dev/null | sed -n 's/.*Shared library: \[\(libdiffpo[^]]*\)\].*/\1/p')
    if [ "$needed" = "libdiffpo.so.$MAJOR" ]; then ok "the program needs $needed"; else
        bad "the program links '$needed', expected libdiffpo.so.$MAJOR"
    fi
    $CC -std=c99 $XF -Iinclude examples/align_tailorpo.c "$BUILD/libdiffpo.a" -lxxhash -lpthread -lm \
        -o "$T/static" 2>"$T/cc2.txt" || bad "static build of the example failed: $(head -n 3 "$T/cc2.txt")"
    LD_LIBRARY_PATH="$P/lib" "$T/ex/installed" >"$T/out_installed.txt" 2>&1 ||
        bad "the installed-copy program failed: $(tail -n 3 "$T/out_installed.txt")"
    "$T/static" >"$T/out_static.txt" 2>&1 || bad "the static program failed: $(tail -n 3 "$T/out_static.txt")"
    if [ -s "$T/out_static.txt" ] && cmp -s "$T/out_installed.txt" "$T/out_static.txt"; then
        ok "installed shared library prints the static build's bits: $(cat "$T/out_installed.txt")"
    else
        bad "installed copy printed '$(cat "$T/out_installed.txt")', static '$(cat "$T/out_static.txt")'"
    fi
fi

if ${MAKE:-make} -s uninstall BUILD="$BUILD" PREFIX="$P" >"$T/uninstall.txt" 2>&1; then
    left=$(find "$P" \( -type f -o -type l \) | sed "s|^$P/||" | tr '\n' ' ')
    if [ -z "$left" ]; then ok "make uninstall removes every installed file"; else
        bad "make uninstall left: $left"
    fi
else
    bad "make uninstall failed: $(tail -n 5 "$T/uninstall.txt")"
fi
finish
