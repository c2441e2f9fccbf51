#!/usr/bin/env bash
# One-class anomaly benchmark on the MNIST test set: for each digit d and seed, `ae train` on a
# seeded 80 % of d's images (--normal d --holdout 0.2), then `ae score` the other 20 % of d and every
# image of the other nine digits; prints each digit's AUROC per score (the model's reconstruction
# error, 1 - SSIM, and PCA's error with the same code length), averaged over the seeds, with the
# mean over the digits and each seed's mean. Not part of the tests.
#
#   bench/anomaly.sh                  # seeds 0-2, code 32, 20 epochs: about 15 minutes on 2 cores
#
# Environment: AE (the binary; default: builds target/release/ae), OUT (run directories; default a
# new temporary folder), SEEDS (default "0 1 2"), DIGITS (default "0 1 2 3 4 5 6 7 8 9"), EPOCHS
# (default 20), CODE (default 32), EXTRA (more `ae train` flags), SHARED (default ../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
MNIST=$SHARED/datasets/mnist/t10k-images-idx3-ubyte.gz
if [ -z "${AE:-}" ]; then
    cargo build --release -q
    AE=./target/release/ae
fi
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
SEEDS=${SEEDS:-0 1 2}
DIGITS=${DIGITS:-0 1 2 3 4 5 6 7 8 9}
EPOCHS=${EPOCHS:-20}
CODE=${CODE:-32}

for seed in $SEEDS; do
    for d in $DIGITS; do
        run=$OUT/digit$d-s$seed
        echo "digit $d seed $seed -> $run" >&2
        [ -d "$run" ] || "$AE" train --data "$MNIST" --normal "$d" --holdout 0.2 --code-length "$CODE" \
            --epochs "$EPOCHS" --seed "$seed" --out "$run" ${EXTRA:-} >"$run.log" 2>&1
        [ -s "$run/score.json" ] || "$AE" score "$run" --json --out "$run/score" >"$run/score.json"
    done
done

python3 - "$OUT" "$SEEDS" "$DIGITS" "$EPOCHS" "$CODE" <<'PY'
import json, statistics, sys
out, seeds, digits, epochs, code = sys.argv[1], sys.argv[2].split(), sys.argv[3].split(), sys.argv[4], sys.argv[5]
names = None
table = {}
for s in seeds:
    for d in digits:
        report = json.load(open(f"{out}/digit{d}-s{s}/score.json"))
        names = names or list(report["scores"])
        for name in names:
            table.setdefault((d, name), {})[s] = 100 * report["scores"][name]["auroc"]
print(f"## One-class MNIST, code {code}, {epochs} epochs, seeds {' '.join(seeds)}: AUROC (%) of each score\n")
print("| digit | " + " | ".join(names) + " | best of `ae` − PCA |")
print("|---|" + "---|" * (len(names) + 1))
model_scores = [n for n in names if n != "pca"]
for d in digits:
    means = {n: statistics.mean(table[(d, n)].values()) for n in names}
    best = max(means[n] for n in model_scores)
    print(f"| {d} | " + " | ".join(f"{means[n]:.2f}" for n in names) + f" | {best - means['pca']:+.2f} |")
overall = {n: statistics.mean(statistics.mean(table[(d, n)].values()) for d in digits) for n in names}
print("| mean | " + " | ".join(f"{overall[n]:.2f}" for n in names) + " | |")
print()
for s in seeds:
    per = {n: statistics.mean(table[(d, n)][s] for d in digits) for n in names}
    worst = {n: min(table[(d, n)][s] - table[(d, "pca")][s] for d in digits) for n in model_scores}
    print(f"- seed {s}: mean AUROC " + ", ".join(f"{n} {per[n]:.2f}" for n in names)
          + "; the worst digit against PCA: " + ", ".join(f"{n} {worst[n]:+.2f}" for n in model_scores))
PY
