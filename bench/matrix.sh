#!/usr/bin/env bash
# The speed matrix: a training step and a forward pass of `ae` and of its PyTorch twin
# (bench/step_torch.py, eager) for the networks users train, at 1 and 2 threads, alternated over
# ROUNDS rounds on the same machine; prints the medians and ae's time over PyTorch's. Not a test.
#
#   PYTHON=/path/to/venv/bin/python bench/matrix.sh [ROUNDS]     (default 3)
#
# PYTHON needs torch and numpy. AE (default target/release/ae, built first) and MNIST (default
# ../shared/datasets/mnist/t10k-images-idx3-ubyte.gz) may be overridden; STEPS timed per run (20);
# RESULTS names a file to keep every run's line in; COMPILE=1 times PyTorch under torch.compile
# too (a C++ compiler needed; about a minute of compiling per run).
# The tutorial's network against TensorFlow is bench/compare.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
STEPS=${STEPS:-20}
PYTHON=${PYTHON:-python3}
MNIST=${MNIST:-../shared/datasets/mnist/t10k-images-idx3-ubyte.gz}
if [ -z "${AE:-}" ]; then
    cargo build --release -q -p ae-cli
    AE=target/release/ae
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Colour images only lend their size: four random ones each.
"$PYTHON" -c "
import numpy as np
for side in (64, 128):
    np.save('$work/rgb%d.npy' % side, (np.random.default_rng(0).random((4, side, side, 3)) * 255).astype(np.uint8))"

# name | ae bench arguments | step_torch.py arguments
networks=(
    "tutorial-net faces 32²|--preset tutorial-net|--network default --height 32 --width 32 --channels 1"
    "default faces 32²|--preset default|--network deep --height 32 --width 32 --channels 1"
    "default MNIST 28²|--preset default --data $MNIST|--network deep --height 28 --width 28 --channels 1"
    "VAE MNIST 28²|--preset tutorial-net --model vae --data $MNIST|--network vae --height 28 --width 28 --channels 1 --code-length 16"
    "tutorial-net RGB 64²|--preset tutorial-net --data $work/rgb64.npy|--network default --height 64 --width 64 --channels 3"
    "tutorial-net RGB 128²|--preset tutorial-net --data $work/rgb128.npy|--network default --height 128 --width 128 --channels 3"
)

# Kept where RESULTS says (default: removed with the run's other files); one line per run.
results=${RESULTS:-$work/results}
prefix() { while read -r line; do echo "$1|$line"; done; }
for round in $(seq "$ROUNDS"); do
    for threads in 1 2; do
        for entry in "${networks[@]}"; do
            IFS='|' read -r name ae_args torch_args <<<"$entry"
            echo "round $round/$ROUNDS, $threads thread(s): $name" >&2
            # shellcheck disable=SC2086
            "$AE" --threads "$threads" bench $ae_args --steps "$STEPS" --json |
                "$PYTHON" -c 'import json,sys; r=json.load(sys.stdin); print(r["step_ms"], r["forward_ms"], r["percent_of_peak"])' |
                prefix "ae|$threads|$name" >>"$results"
            # shellcheck disable=SC2086
            "$PYTHON" bench/step_torch.py $torch_args --threads "$threads" --steps "$STEPS" |
                "$PYTHON" -c 'import json,sys; r=json.load(sys.stdin); print(r["step_ms"], r["forward_ms"], 0)' |
                prefix "torch|$threads|$name" >>"$results"
            if [ "${COMPILE:-0}" = 1 ]; then
                # shellcheck disable=SC2086
                "$PYTHON" bench/step_torch.py $torch_args --threads "$threads" --steps "$STEPS" --compile |
                    "$PYTHON" -c 'import json,sys; r=json.load(sys.stdin); print(r["step_ms"], r["forward_ms"], 0)' |
                    prefix "compiled|$threads|$name" >>"$results"
            fi
        done
    done
done

"$PYTHON" - "$results" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    program, threads, name, numbers = line.rstrip("\n").split("|")
    runs.setdefault((name, int(threads), program), []).append([float(v) for v in numbers.split()])
med = lambda rows, i: statistics.median(r[i] for r in rows)
print("batch 50; medians over rounds of each run's median; ratio = ae's time / PyTorch eager's")
print(f"| network | threads | ae step ms | PyTorch step ms | step ratio | ae forward ms | PyTorch forward ms | forward ratio | ae step % of GEMM peak |")
print("|---|---|---|---|---|---|---|---|---|")
for (name, threads, program), rows in runs.items():
    if program != "ae":
        continue
    peer = runs[(name, threads, "torch")]
    s, f = med(rows, 0), med(rows, 1)
    ps, pf = med(peer, 0), med(peer, 1)
    print(f"| {name} | {threads} | {s:.1f} | {ps:.1f} | {s / ps:.2f} | {f:.1f} | {pf:.1f} | {f / pf:.2f} | {med(rows, 2):.0f} |")
compiled = [(k, rows) for k, rows in runs.items() if k[2] == "compiled"]
if compiled:
    print()
    print("ratio = ae's time / PyTorch's under torch.compile")
    print("| network | threads | ae step ms | compiled step ms | step ratio | ae forward ms | compiled forward ms | forward ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for (name, threads, _), peer in compiled:
        rows = runs[(name, threads, "ae")]
        s, f, ps, pf = med(rows, 0), med(rows, 1), med(peer, 0), med(peer, 1)
        print(f"| {name} | {threads} | {s:.1f} | {ps:.1f} | {s / ps:.2f} | {f:.1f} | {pf:.1f} | {f / pf:.2f} |")
PY
