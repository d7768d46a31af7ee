#!/usr/bin/env python3
"""Cross-check of the plot writers (src/tools/plot.c) with Python's own decoders.

usage: python3 tests/py_plot.py BUILD_DIR

Runs BUILD_DIR/tests/test_plot with DPO_PLOT_OUT=<tmpdir>, which writes a
sample image grid as PNG and PGM and a sample SVG chart, then checks them
with implementations that share nothing with the library:
  PNG  every chunk's CRC with zlib.crc32, the IDAT stream with
       zlib.decompress (which also verifies the Adler-32), the IHDR fields,
       filter bytes and the pixel rows against the PGM's;
  PGM  the P5 header, parsed with NumPy;
  SVG  xml.etree.ElementTree parses it; the root is an svg element in the
       SVG namespace with the documented size; three legend entries, four
       polylines (one series is broken by a NaN), every point inside the
       plot area.
"""
import os
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
import zlib

import numpy as np

passed = 0
failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL", what)


def png_chunks(b):
    check(b[:8] == b"\x89PNG\r\n\x1a\n", "PNG signature")
    i, out = 8, []
    while i + 12 <= len(b):
        n = struct.unpack(">I", b[i:i + 4])[0]
        t, d = b[i + 4:i + 8], b[i + 8:i + 8 + n]
        crc = struct.unpack(">I", b[i + 8 + n:i + 12 + n])[0]
        check(zlib.crc32(t + d) & 0xFFFFFFFF == crc, "CRC of %r" % t)
        out.append((t, d))
        i += 12 + n
    check(i == len(b), "no trailing bytes")
    return out


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    exe = os.path.join(build, "tests", "test_plot")
    if not os.path.exists(exe):
        print("FAIL test_plot binary not built:", exe)
        print("0 passed, 1 failed")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, DPO_PLOT_OUT=tmp)
        r = subprocess.run([exe], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        check(r.returncode == 0, "test_plot ran cleanly")
        names = ("sample_grid.png", "sample_grid.pgm", "sample_chart.svg")
        for nm in names:
            check(os.path.exists(os.path.join(tmp, nm)), "wrote " + nm)
        if not all(os.path.exists(os.path.join(tmp, nm)) for nm in names):
            print("%d passed, %d failed" % (passed, failed))
            return 1

        # PGM
        pgm = open(os.path.join(tmp, "sample_grid.pgm"), "rb").read()
        head = pgm.split(b"\n", 3)
        check(head[0] == b"P5" and head[2] == b"255", "PGM header")
        w, h = map(int, head[1].split())
        # grid of the test: 3 x 5 tiles of 8 x 8 pixels, scale 4, 1-pixel lines
        check((w, h) == (5 * 32 + 6, 3 * 32 + 4), "PGM size %dx%d" % (w, h))
        pix = np.frombuffer(head[3], dtype=np.uint8)
        check(pix.size == w * h, "PGM pixel count")
        pix = pix.reshape(h, w)
        check(np.all(pix[:, ::33] == 128) and np.all(pix[::33, :] == 128), "separator lines at every 33rd pixel")
        # each image pixel is a 4 x 4 block of one value
        tile = pix[1:33, 1:33]
        check(np.all(tile == np.repeat(np.repeat(tile[::4, ::4], 4, 0), 4, 1)), "upscaled blocks")

        # PNG
        png = open(os.path.join(tmp, "sample_grid.png"), "rb").read()
        ch = png_chunks(png)
        check([t for t, _ in ch] == [b"IHDR", b"IDAT", b"IEND"], "chunk order")
        pw, ph, depth, ctype, comp, filt, inter = struct.unpack(">IIBBBBB", ch[0][1])
        check((pw, ph, depth, ctype, comp, filt, inter) == (w, h, 8, 0, 0, 0, 0), "IHDR fields")
        raw = zlib.decompress(ch[1][1])  # verifies the Adler-32
        check(len(raw) == h * (w + 1), "raw length")
        rows = np.frombuffer(raw, dtype=np.uint8).reshape(h, w + 1)
        check(np.all(rows[:, 0] == 0), "filter bytes 0")
        check(np.array_equal(rows[:, 1:], pix), "PNG pixels equal the PGM's")

        # SVG
        svg = open(os.path.join(tmp, "sample_chart.svg"), "rb").read()
        root = ET.fromstring(svg)
        ns = "{http://www.w3.org/2000/svg}"
        check(root.tag == ns + "svg", "root element")
        check(root.get("width") == "720" and root.get("height") == "440", "size")
        texts = [t.text for t in root.iter(ns + "text")]
        for name in ("D3PO", "TailorPO & <G>", 'SPO "k=4"', "mean reward vs iteration"):
            check(name in texts, "text %r" % name)
        polys = list(root.iter(ns + "polyline"))
        check(len(polys) == 4, "four polylines")
        ok = True
        for p in polys:
            for pair in p.get("points").split():
                x, y = map(float, pair.split(","))
                ok = ok and 80 <= x <= 550 and 44 <= y <= 384
        check(ok, "points inside the plot area")
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
