#!/usr/bin/env python3
"""Mutation check of `make test-emu` (tests/gpu/emu/README.md, "Mutation check").

Each mutant is one deliberate error in a temporary copy of a kernel source
(the working tree is never modified).  For each, the copy is built with
tests/gpu/emu/emu.mk and tests/gpu/emu/run_emu.sh runs; a mutant is
"caught" when that run fails.  The "neutral" entries are changes that must
NOT change any result (the canonical tree makes them equivalent); they
must pass.  Run from the repository root after `make test-emu`:

    python3 tests/gpu/emu/mutants.py [BUILD [NAME-SUBSTRING]]   # BUILD: build

Prints one line per mutant and ends with "N passed, M failed", where a
pass is a mutant caught or a neutral change that still passes.
"""
import os
import shutil
import glob
import subprocess
import sys
import tempfile
import time

# (name, file, old text, new text, expected: "fail" or "pass")
MUTANTS = [
    ("partials: barrier removed", "kernels/dpo_cuda_internal.cuh",
     "    __syncthreads();\n    if (threadIdx.x < NS * DPO_CU_TILE_BLOCKS)",
     "    if (threadIdx.x < NS * DPO_CU_TILE_BLOCKS)", "fail"),
    ("partials: 64-block summed right to left", "kernels/dpo_cuda_internal.cuh",
     "double acc = p[0];\n            int j;\n            for (j = 1; j < len; j++)",
     "double acc = p[len - 1];\n            int j;\n            for (j = len - 2; j >= 0; j--)", "fail"),
    ("partials: shared-memory rows overlap (pad 63)", "kernels/dpo_cuda_internal.cuh",
     "#define DPO_CU_PAD (DPO_REDUCE_BLOCK + 1)", "#define DPO_CU_PAD (DPO_REDUCE_BLOCK - 1)", "fail"),
    ("tree finish: left-to-right sum", "kernels/reduce.cu",
     "        if (i == 0)\n            out[r] = sh[0];",
     "        if (i == 0) {\n            double s = 0.0;\n            for (size_t j = 0; j < m; j++)\n"
     "                s = s + in[r * m + j];\n            out[r] = s;\n        }", "fail"),
    ("tree finish: barrier between reading and writing a level removed", "kernels/reduce.cu",
     "            __syncthreads(); // every pair read before any is overwritten\n", "", "fail"),
    ("tree finish: odd last partial dropped", "kernels/reduce.cu",
     "sh[2 * i] + sh[2 * i + 1] : sh[2 * i];", "sh[2 * i] + sh[2 * i + 1] : 0.0;", "fail"),
    ("level pass: odd last partial dropped", "kernels/reduce.cu",
     "p[2 * i] + p[2 * i + 1] : p[2 * i];", "p[2 * i] + p[2 * i + 1] : 0.0;", "fail"),
    ("philox rows: every row at the first sample", "kernels/philox.cu",
     "c.sample + (uint32_t)r, c.step", "c.sample, c.step", "fail"),
    ("philox: element offset ignored", "kernels/philox.cu",
     "uint64_t b = (e0 >> 2) + g, e = b << 2;", "uint64_t b = g, e = (b << 2) + (e0 & ~(uint64_t)3);", "fail"),
    ("step: in-kernel noise block from the flat index", "kernels/step.cu",
     "nc.candidate, (uint32_t)(e >> 2));", "nc.candidate, (uint32_t)(o >> 2));", "fail"),
    ("adamw: grid-stride step of one block", "kernels/update.cu",
     "static __global__ void dpo_k_adamw(float *p, float *m, float *v, const float *g, size_t n, dpo_adamw h, "
     "uint64_t step)\n{\n    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x, stride = "
     "(size_t)gridDim.x * blockDim.x;",
     "static __global__ void dpo_k_adamw(float *p, float *m, float *v, const float *g, size_t n, dpo_adamw h, "
     "uint64_t step)\n{\n    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x, stride = "
     "(size_t)blockDim.x;", "fail"),
    ("loss: winner gradient with the loser's scalar", "kernels/loss.cu",
     "gw, xw, mw, n, hdr, 4);", "gw, xw, mw, n, hdr, 5);", "fail"),
    ("strict matmul: second barrier removed", "kernels/matmul.cu",
     "                    s += as[ty][q] * bs[q][tx];\n                __syncthreads();",
     "                    s += as[ty][q] * bs[q][tx];", "fail"),
    ("strict matmul: B tile transposed", "kernels/matmul.cu",
     "as[ty][q] * bs[q][tx]", "as[ty][q] * bs[tx][q]", "fail"),
    ("strict matmul: transposed A staged without its transpose", "kernels/matmul.cu",
     "as[tx][ty] = ai < m && ap < k ? (double)A[(size_t)ap * m + ai]",
     "as[ty][tx] = ai < m && ap < k ? (double)A[(size_t)ap * m + ai]", "fail"),
    ("mlp: bias indexed by row", "kernels/mlp.cu", "Y[e] = b[e % out];", "Y[e] = b[e / n];", "fail"),
    ("blaslt: transposes of the two operands swapped", "kernels/blaslt.cu",
     "cublasOperation_t opa = p->shape.tb ? CUBLAS_OP_T : CUBLAS_OP_N;\n"
     "        cublasOperation_t opb = p->shape.ta ? CUBLAS_OP_T : CUBLAS_OP_N;",
     "cublasOperation_t opa = p->shape.ta ? CUBLAS_OP_T : CUBLAS_OP_N;\n"
     "        cublasOperation_t opb = p->shape.tb ? CUBLAS_OP_T : CUBLAS_OP_N;", "fail"),
    ("neutral: level passes from 4 partials up (tree max 1024 -> 4)", "kernels/dpo_cuda_internal.cuh",
     "#define DPO_CU_TREE_MAX 1024", "#define DPO_CU_TREE_MAX 4", "pass"),
]


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    only = sys.argv[2] if len(sys.argv) > 2 else ""
    lib = os.path.join(build, "libdiffpo.a")
    if not os.path.exists(lib):
        print("no %s: run make first" % lib)
        print("0 passed, 1 failed")
        return 1
    cli_objs = sorted(glob.glob(os.path.join(build, "emu", "cli", "*.o")))
    if not cli_objs or not os.path.exists(os.path.join(build, "diffpo")):
        print("no %s/diffpo or %s/emu/cli/*.o: run make test-emu first" % (build, build))
        print("0 passed, 1 failed")
        return 1
    good = bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        for d in ("include", "src", "kernels", "tests"):
            shutil.copytree(d, os.path.join(tmp, d), ignore=shutil.ignore_patterns("*.o", "__pycache__"))
        os.makedirs(os.path.join(tmp, "build", "emu", "cli"))
        shutil.copy(lib, os.path.join(tmp, "build", "libdiffpo.a"))
        shutil.copy(os.path.join(build, "libdiffpo_tools.a"), os.path.join(tmp, "build", "libdiffpo_tools.a"))
        # The CPU CLI and the CLI's objects for the emulation (run_emu.sh's
        # cli_device.sh step): neither depends on kernels/, so they are copied.
        shutil.copy(os.path.join(build, "diffpo"), os.path.join(tmp, "build", "diffpo"))
        for o in cli_objs:
            shutil.copy(o, os.path.join(tmp, "build", "emu", "cli", os.path.basename(o)))
        emu_cli = "EMU_CLI_OBJ=" + " ".join("build/emu/cli/" + os.path.basename(o) for o in cli_objs)
        orig = {}
        for name, path, old, new, expect in MUTANTS:
            if only not in name:
                continue
            full = os.path.join(tmp, path)
            for p, text in orig.items():  # restore the previous mutant's file
                with open(os.path.join(tmp, p), "w") as f:
                    f.write(text)
            with open(full) as f:
                text = f.read()
            orig.setdefault(path, text)
            if text.count(old) != 1:
                print("FAIL %s: the text to mutate occurs %d times in %s" % (name, text.count(old), path))
                bad += 1
                continue
            with open(full, "w") as f:
                f.write(text.replace(old, new))
            t0 = time.time()
            b = subprocess.run(["make", "-s", "-f", "tests/gpu/emu/emu.mk", "BUILD=build", emu_cli], cwd=tmp,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if b.returncode != 0:
                print("FAIL %s: the mutant does not compile\n%s" % (name, b.stdout[-2000:]))
                bad += 1
                continue
            r = subprocess.run(["sh", "tests/gpu/emu/run_emu.sh"], cwd=tmp, env=dict(os.environ, BUILD="build"),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            failed, section, program, tail = {}, "", "", r.stdout.splitlines()[-6:]
            for line in r.stdout.splitlines():
                if line.startswith("== ") and ": " not in line:
                    program = line[3:].split()[0]
                    if "(emulated, " in line:
                        section = line[line.find("(emulated, ") + 11:].rstrip(")")
                    else:
                        section = "emulated" if "(emulated)" in line else line[3:]
                    section = section.replace(" order", "")
                elif line.startswith("FAIL ") or line.startswith("emu: "):
                    word = line.split()[1].rstrip(":") if line.startswith("FAIL ") else "emulator diagnostics"
                    if program.endswith(".sh") and line.startswith("FAIL "):
                        word = program  # a CLI script's FAIL lines start with its own words
                    if "no summary line" in line:
                        word = line.split()[1] + " crashed"
                    if word.startswith("test_gpu") and "crashed" not in word:
                        continue
                    failed.setdefault(word, [])
                    if section not in failed[word]:
                        failed[word].append(section)
            failed = ["%s (%s)" % (w, ", ".join(secs)) for w, secs in failed.items()]
            got = "fail" if r.returncode != 0 else "pass"
            ok = got == expect
            what = ("caught by: " + "; ".join(failed)) if got == "fail" else "all emulated tests pass"
            print("%s %s (%s, %.0f s): %s" % ("ok  " if ok else "FAIL", name, path, time.time() - t0, what))
            sys.stdout.flush()
            if ok:
                good += 1
            else:
                bad += 1
    print("%d passed, %d failed" % (good, bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
