#!/usr/bin/env bash
# A VAE trained by `ae` and by its PyTorch peer (bench/vae_torch.py) on the same split with the same
# recipe and epochs, one after the other on the same machine; prints each one's held-out terms
# (reconstruction, KL, ELBO, importance-sampled NLL; nats per image) and seconds per step, and their
# ratio. Not part of the tests.
#
#   bench/vae.sh [EPOCHS] [NLL_SAMPLES]      (default 30 and 200)
#
# Environment: DATA (default the shared MNIST test set: 9000 training and 1000 held-out images),
# LATENT (16), THREADS (2), SEED (0), PYTHON (an interpreter with torch and numpy; default
# .venv-peers/bin/python, see bench/compare.sh), OUT (a folder for the runs; default a temporary one).
set -euo pipefail
cd "$(dirname "$0")/.."
EPOCHS=${1:-30}
SAMPLES=${2:-200}
DATA=${DATA:-../shared/datasets/mnist/t10k-images-idx3-ubyte.gz}
LATENT=${LATENT:-16}
THREADS=${THREADS:-2}
SEED=${SEED:-0}
PYTHON=${PYTHON:-.venv-peers/bin/python}
OUT=${OUT:-$(mktemp -d)}

cargo build --release -q
ae=./target/release/ae
run="$OUT/ae-vae"
"$ae" --threads "$THREADS" train --data "$DATA" --preset tutorial-net --model vae --latent-dim "$LATENT" --loss bce \
    --epochs "$EPOCHS" --seed "$SEED" --out "$run" >"$OUT/ae-train.log"
"$ae" reconstruct "$run" --split train --out "$OUT/train" >/dev/null
"$ae" reconstruct "$run" --split holdout --out "$OUT/holdout" >/dev/null
"$ae" --threads "$THREADS" eval "$run" --json --nll-samples "$SAMPLES" >"$OUT/ae-eval.json"
"$PYTHON" bench/vae_torch.py --train "$OUT/train/originals.npy" --holdout "$OUT/holdout/originals.npy" \
    --latent "$LATENT" --epochs "$EPOCHS" --nll-samples "$SAMPLES" --seed "$SEED" --threads "$THREADS" \
    >"$OUT/torch.jsonl"

"$PYTHON" - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
ae = json.load(open(f"{out}/ae-eval.json"))["vae"]
steps = [json.loads(l) for l in open(f"{out}/ae-vae/metrics.jsonl")]
ae["seconds_per_step"] = sum(s["seconds"] for s in steps) / sum(s["steps"] for s in steps)
torch = json.loads(open(f"{out}/torch.jsonl").read().splitlines()[-1])
print(f"{'':8} {'recon':>8} {'KL':>7} {'ELBO':>9} {'NLL':>8} {'s/step':>7}")
for name, r in [("ae", ae), ("pytorch", torch)]:
    print(f"{name:8} {r['reconstruction']:8.2f} {r['kl']:7.2f} {r['elbo']:9.2f} {r['nll']:8.2f} {r['seconds_per_step']:7.3f}")
print(f"NLL difference (ae - pytorch): {ae['nll'] - torch['nll']:+.2f} nats; step time ratio ae/pytorch: "
      f"{ae['seconds_per_step'] / torch['seconds_per_step']:.2f}")
PY
echo "runs in $OUT" >&2
