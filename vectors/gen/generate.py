#!/usr/bin/env python3
"""Independent golden-vector generator of diffpo (docs/vectors.md, docs/derivations.md).

Run from the repository root:  python3 vectors/gen/generate.py  (also `make vectors`).
Writes vectors/*.vec.  Types every equation from the papers in mpmath (60 digits) and exact
rationals; never imports or calls the library.  Deterministic: fixed seeds, no timestamps,
only IEEE-754 +, -, * and sqrt on inputs, so the bytes do not depend on the platform.
"""
import os
import sys

sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import build_step  # noqa: E402
import build_more  # noqa: E402
import fam_train  # noqa: E402
import fam_ddpo  # noqa: E402

HEADER = """# diffpo golden vectors: %s
# Written by vectors/gen/generate.py (python3 vectors/gen/generate.py, or make vectors);
# do not edit by hand.  Format and function definitions: docs/vectors.md.
# Derivations and errata: docs/derivations.md.  %d cases.

"""


def main(argv):
    out_dir = os.path.normpath(os.path.join(HERE, ".."))
    quiet = "-q" in argv
    files = {}
    files["gen_known"] = ("gen array generator known answers", build_more.build_gen_check())
    files["gauss"] = ("Gaussian step log-density", build_more.build_gauss())
    files["stepdpo"] = ("Step DPO / D3PO (TailorPO eq. 5, 8, 19) and its DDIM chain rule", build_step.build_stepdpo())
    files["d3po_code"] = ("D3PO public-code loss (clamped ratios)", build_more.build_d3po())
    _, tp = build_step.build_tailorpo()
    files["tailorpo"] = ("TailorPO (eq. 10, 11, 12, 21), chain rule, ranking", tp + build_more.build_rank())
    files["tailorpo_g"] = ("TailorPO-G guidance (eq. 13, 14) and eta schedule", build_more.build_tailorpo_g())
    rd, demo = build_more.build_rdpo()
    dq, dqdemo = build_more.build_delta_q()
    files["rdpo"] = ("RDPO (eq. 6, 9, 10): printed and intended penalty, Delta Q", rd + dq)
    files["spo"] = ("SPO (eq. 3-5, public code): selection and loss", build_more.build_spo())
    files["diffusion_dpo"] = ("Diffusion-DPO epsilon-error loss (DSPO eq. 7)", build_more.build_ddpo())
    files["dspo"] = ("DSPO (eq. 11, 13, 14, app. B) paper and public-code forms, stop-gradient variants", build_more.build_dspo())
    files["ddpo"] = ("DDPO clipped-ratio policy-gradient loss and per-prompt advantages (public code)",
                     fam_ddpo.build())
    ids = set()
    total = 0
    for stem in sorted(files):
        title, cases = files[stem]
        for c in cases:
            assert c.cid not in ids, c.cid
            ids.add(c.cid)
        text = HEADER % (title, len(cases)) + "\n".join(c.text() for c in cases)
        path = os.path.join(out_dir, stem + ".vec")
        with open(path, "w", newline="\n") as f:
            f.write(text)
        total += len(cases)
        if not quiet:
            by_fn = {}
            for c in cases:
                by_fn[c.fn] = by_fn.get(c.fn, 0) + 1
            print("%-22s %4d cases  %8d bytes  %s" % (stem + ".vec", len(cases), len(text),
                                                     ", ".join("%s %d" % kv for kv in sorted(by_fn.items()))))
    # one trainer iteration per method (docs/vectors.md sec. 8): a subdirectory, because these
    # cases are read by tests/test_train_vectors.c, not by `diffpo verify vectors/`
    tcases = fam_train.build()
    for c in tcases:
        assert c.cid not in ids, c.cid
        ids.add(c.cid)
    text = HEADER % ("one trainer iteration of every method on a tiny configuration", len(tcases)) + \
        "\n".join(c.text() for c in tcases)
    os.makedirs(os.path.join(out_dir, "train"), exist_ok=True)
    with open(os.path.join(out_dir, "train", "train_iter.vec"), "w", newline="\n") as f:
        f.write(text)
    total += len(tcases)
    if not quiet:
        print("%-22s %4d cases  %8d bytes  %s" % ("train/train_iter.vec", len(tcases), len(text), "train_iter.*"))
    if not quiet:
        print("total %d cases" % total)
        print("RDPO descent-step effect on lr_l (case, first-order change):")
        for k in sorted(demo):
            print("  %s %s: %s %s" % (k[0], k[1], demo[k][0], demo[k][1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
