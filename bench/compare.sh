#!/usr/bin/env bash
# Times `ae bench` against the peers in ../shared/peers (the tutorial's TensorFlow graph and the same
# model in PyTorch), alternating them for several rounds on the same machine, and prints the medians
# and the ratios. Not part of the tests.
#
#   bench/compare.sh [ROUNDS]            (default 3)
#
# Environment: THREADS (default 2), STEPS timed per run (default 20), PYTHON (an interpreter with
# tensorflow-cpu, tf_keras, torch and numpy; default python3), PEERS (default ../shared/peers),
# INSTALL_PEERS=1 to create .venv-peers with them first (several GB, a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${1:-3}
THREADS=${THREADS:-2}
STEPS=${STEPS:-20}
PEERS=${PEERS:-../shared/peers}
PYTHON=${PYTHON:-python3}

if [ "${INSTALL_PEERS:-0}" = 1 ]; then
    python3 -m venv .venv-peers
    .venv-peers/bin/pip install -q numpy tensorflow-cpu torch keras
    .venv-peers/bin/pip install -q --no-deps tf_keras
    PYTHON=.venv-peers/bin/python
fi

cargo build --release -q
results=$(mktemp)
trap 'rm -f "$results"' EXIT

# "name step_ms forward_ms" per run.
peer_line() { sed -nE 's/^BENCH .* train_step median ([0-9.]+) ms.* forward median ([0-9.]+) ms.*/\1 \2/p'; }

for round in $(seq "$ROUNDS"); do
    echo "round $round/$ROUNDS" >&2
    ./target/release/ae --threads "$THREADS" bench --preset seed --steps "$STEPS" --json \
        | "$PYTHON" -c 'import json,sys; r=json.load(sys.stdin); print("ae", r["step_ms"], r["forward_ms"])' >>"$results"
    echo "tensorflow $("$PYTHON" "$PEERS/seed_tf1.py" --bench --steps "$STEPS" --threads "$THREADS" 2>/dev/null | peer_line)" >>"$results"
    echo "pytorch $("$PYTHON" "$PEERS/seed_torch.py" --bench --steps "$STEPS" --threads "$THREADS" --sub2 --pad tf 2>/dev/null | peer_line)" >>"$results"
done

"$PYTHON" - "$results" "$THREADS" <<'PY'
import statistics, sys
runs = {}
for line in open(sys.argv[1]):
    parts = line.split()
    if len(parts) == 3:
        runs.setdefault(parts[0], []).append((float(parts[1]), float(parts[2])))
med = {k: (statistics.median(s for s, _ in v), statistics.median(f for _, f in v), len(v)) for k, v in runs.items()}
print(f"threads {sys.argv[2]}, batch 50; medians over rounds of per-run medians")
print(f"{'program':<12} {'step ms':>9} {'forward ms':>11} {'runs':>5} {'ae/this step':>13} {'ae/this fwd':>12}")
ae = med.get("ae")
for name, (step, fwd, n) in med.items():
    ratio = f"{ae[0] / step:13.2f} {ae[1] / fwd:12.2f}" if ae else ""
    print(f"{name:<12} {step:9.1f} {fwd:11.1f} {n:5d} {ratio}")
PY
