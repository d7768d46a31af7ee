#!/bin/sh
# make bench-gpu: runs the GPU benchmarks and appends their Markdown tables,
# with the device name and the date, to docs/performance.md.  Needs a GPU.
# PyTorch eager is compared only when torch with CUDA is importable.
BUILD=${BUILD:-build/cuda}
PYTHON=${PYTHON:-python3}
DOC=${DOC:-docs/performance.md}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$BUILD/gpu/bench_gpu" "$tmp/bench.md" "$tmp/step.tsv" || { echo "bench_gpu failed"; exit 1; }
if "$PYTHON" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    "$PYTHON" tests/gpu/bench_torch.py "$tmp/step.tsv" "$tmp/torch.md" || { echo "bench_torch failed"; exit 1; }
else
    echo "torch with CUDA not importable: no PyTorch comparison" | tee "$tmp/torch.md"
fi
{
    echo
    echo "### $(date -u +%Y-%m-%d) on $(head -n 1 "$tmp/bench.md" | sed 's/^Device: //')"
    echo
    echo "Command: \`make bench-gpu\` (commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown))."
    echo
    tail -n +3 "$tmp/bench.md"
    echo
    cat "$tmp/torch.md"
} >>"$DOC"
echo "appended to $DOC"
