#!/usr/bin/env bash
# Quality benchmark: trains the sweeps below with `ae`, evaluates every run's model (the best
# held-out epoch's) on its held-out split and prints a table per sweep (seed, epochs, held-out MSE /
# PSNR / SSIM, the kept epoch and the last epoch's PSNR, code mean, saturated fraction, the last
# epoch still on the saturated plateau, time) with the minimum and median. A denoiser's
# MSE / PSNR / SSIM are of its clean inputs' reconstructions; its noisy and denoised PSNR follow. Not part of the
# tests: the full set takes about two hours on a 2-core machine.
#
#   bench/quality.sh [SWEEP ...]        (default: deep32 deep256 deep-mnist32 deep-mnist256 deep-denoise)
#
# Sweeps (each over seeds). The `deep*` sweeps are the default preset (called `deep` until
# 2026-12-07); the older sweeps are the tutorial's network (`tutorial-net`, then the default):
#   deep32         default preset, code 32, 1500 epochs (its own), seeds 0-4
#   deep256        default preset, code 256, 1500 epochs, seeds 0-4
#   deep-mnist32   default preset on MNIST (9000 / 1000), code 32, 20 epochs, seeds 0-4
#   deep-mnist256  the same with code 256
#   deep-denoise   default preset with --noise gaussian:0.2, 100 epochs, seeds 0-4
#                  (noisy vs denoised; EXTRA="--linear-path false": the network alone)
#   deep64         default preset on the faces at 64x64 (--size 64 64), code 256, 1500 epochs, seeds 0-4
#   faces          tutorial-net, 100 epochs, seeds 0-9
#   faces-denoise  tutorial-net with --noise gaussian:0.2 and the linear path, 100 epochs, seeds 0-4
#   mnist32        tutorial-net on the MNIST test set, 9000 / 1000 split, code 32, 20 epochs, seeds 0-4
#   mnist256       the same with code 256
#   faces600       tutorial-net, 600 epochs, seeds 0-4 (the kept model; with EXTRA="--augment none"
#                  the recipe before augmentation)
#   faces-seed     the `seed` preset (the tutorial literally), 100 epochs, seeds 0-4
#   faces32        tutorial-net, code 32, 600 epochs, seeds 0-4 (against PCA with 32 components)
#   residual-denoise  tutorial-net --linear-path with --noise gaussian:0.2, 100 epochs, seeds 0-4
#   residual256    tutorial-net --linear-path, code 256, 100 epochs, seeds 0-4
#   residual-mnist256  the same on MNIST (9000 / 1000), code 256, 20 epochs, seeds 0-4
#
# Environment: AE (the binary; default: builds target/release/ae), OUT (run directories; default a
# new temporary folder), SEEDS (overrides every sweep's seeds, e.g. "0 1"), EPOCHS (overrides the
# epochs), EXTRA (more `ae train` flags for every run, e.g. "--code-norm none"), SHARED (default
# ../shared).
#
# PEER_PYTHON (an interpreter with torch and numpy, e.g. .venv-peers/bin/python) also trains the same
# architecture and recipe in PyTorch (bench/quality_torch.py) on each run's own split and epochs,
# for the seeds in PEER_SEEDS (default "0"), and adds its held-out PSNR and time to the table (not
# for the denoisers, the `seed` preset and the `residual` sweeps, which it has no recipe for).
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED=${SHARED:-../shared}
FACES=$SHARED/datasets/olivettifaces.mat
MNIST=$SHARED/datasets/mnist/t10k-images-idx3-ubyte.gz
if [ -z "${AE:-}" ]; then
    cargo build --release -q
    AE=./target/release/ae
fi
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
SWEEPS=("$@")
[ ${#SWEEPS[@]} -gt 0 ] || SWEEPS=(deep32 deep256 deep-mnist32 deep-mnist256 deep-denoise)

# One run: train, then evaluate on the held-out split; prints nothing but errors.
run() {
    local dir=$1
    shift
    [ -d "$dir" ] || "$AE" train --out "$dir" "$@" ${EXTRA:-} >"$dir.log" 2>&1
    "$AE" eval "$dir" --json >"$dir/eval.json"
}

# The PyTorch peer on run $1's split: code length $2, epochs $3, seed $4; then its own flags.
peer() {
    local dir=$1
    for split in train holdout; do
        [ -d "$dir/$split-split" ] || "$AE" reconstruct "$dir" --split "$split" --out "$dir/$split-split" >/dev/null
    done
    [ -s "$dir/torch.json" ] || "$PEER_PYTHON" bench/quality_torch.py --train "$dir/train-split/originals.npy" \
        --holdout "$dir/holdout-split/originals.npy" --code-length "$2" --epochs "$3" --seed "$4" "${@:5}" >"$dir/torch.json"
}

# The table of one sweep from its run directories.
table() {
    python3 - "$@" <<'PY'
import json, os, statistics, sys
name, dirs = sys.argv[1], sys.argv[2:]
rows = []
for d in dirs:
    epochs = [json.loads(l) for l in open(f"{d}/metrics.jsonl")]
    ev = json.load(open(f"{d}/eval.json"))
    last = epochs[-1]
    plateau = [e["epoch"] for e in epochs if e["code_saturated"] >= 0.95]
    held = [e for e in epochs if e.get("holdout_loss_per_sample") is not None]
    kept = min(held, key=lambda e: e["holdout_loss_per_sample"] + e.get("holdout_kl_per_sample", 0)) if held else None
    rows.append(dict(
        seed=d.rsplit("-s", 1)[1], epochs=last["epoch"], loss=last["loss_per_sample"],
        mse=ev["mse"], psnr=ev["psnr_db"], ssim=ev["ssim"],
        noisy=ev.get("noisy", {}).get("psnr_db"), denoised=ev.get("denoised", {}).get("psnr_db"),
        code=last["code_mean"], sat=last["code_saturated"],
        plateau=max(plateau) if plateau else None,
        kept=kept["epoch"] if kept else None,
        last_psnr=last.get("holdout_psnr_db"),
        pca=ev.get("baseline", {}).get("quality", {}).get("psnr_db"),
        seconds=sum(e["seconds"] for e in epochs),
        torch=json.load(open(f"{d}/torch.json")) if os.path.exists(f"{d}/torch.json") else None))
print(f"\n## {name}\n")
denoise = rows[0]["noisy"] is not None
head = "| seed | epochs | train loss/sample | held-out MSE | PSNR dB | SSIM |"
head += " noisy PSNR | denoised PSNR | denoised − noisy |" if denoise else ""
kept = rows[0]["kept"] is not None
head += " kept epoch | last epoch's PSNR |" if kept else ""
pca = rows[0]["pca"] is not None
head += " PCA PSNR | model − PCA |" if pca else ""
print(head + " code mean | saturated | last plateau epoch | train s |")
print("|" + "---|" * (head.count("|") + 4 - 1))
for r in rows:
    line = f"| {r['seed']} | {r['epochs']} | {r['loss']:.4f} | {r['mse']:.5f} | {r['psnr']:.2f} | {r['ssim']:.4f} |"
    if denoise:
        line += f" {r['noisy']:.2f} | {r['denoised']:.2f} | {r['denoised'] - r['noisy']:+.2f} |"
    if kept:
        line += f" {r['kept']} | {r['last_psnr']:.2f} |"
    if pca:
        model = r["denoised"] if denoise else r["psnr"]
        line += f" {r['pca']:.2f} | {model - r['pca']:+.2f} |"
    line += f" {r['code']:.3f} | {r['sat']:.3f} | {r['plateau'] or '-'} | {r['seconds']:.0f} |"
    print(line)
for key in ["loss", "psnr", "ssim"] + (["denoised"] if denoise else []):
    vals = [r[key] for r in rows]
    print(f"- {key}: min {min(vals):.4f}, median {statistics.median(vals):.4f}, max {max(vals):.4f}")
if pca:
    gaps = [(r["denoised"] if denoise else r["psnr"]) - r["pca"] for r in rows]
    print(f"- model − PCA: min {min(gaps):+.2f}, median {statistics.median(gaps):+.2f}, max {max(gaps):+.2f} dB")
if denoise:
    gains = [r["denoised"] - r["noisy"] for r in rows]
    print(f"- denoised − noisy: min {min(gains):+.2f} dB")
peers = [r for r in rows if r["torch"]]
if peers:
    print("\n| seed | ae PSNR dB | PyTorch PSNR dB | ae − PyTorch | ae train s | PyTorch train s | PyTorch code saturated |")
    print("|---|---|---|---|---|---|---|")
    for r in peers:
        t = r["torch"]
        print(f"| {r['seed']} | {r['psnr']:.2f} | {t['psnr_db']:.2f} | {r['psnr'] - t['psnr_db']:+.2f} |"
              f" {r['seconds']:.0f} | {t['seconds']:.0f} | {t['code_saturated']:.3f} |")
PY
}

for sweep in "${SWEEPS[@]}"; do
    code=256
    peer_args=()
    case $sweep in
        faces) seeds="0 1 2 3 4 5 6 7 8 9"; epochs=100; args=(--data "$FACES" --preset tutorial-net) ;;
        faces-denoise) seeds="0 1 2 3 4"; epochs=100; args=(--data "$FACES" --preset tutorial-net --noise gaussian:0.2 --linear-path) ;;
        mnist32) seeds="0 1 2 3 4"; epochs=20; code=32; args=(--data "$MNIST" --preset tutorial-net --holdout 0.1 --code-length 32) ;;
        mnist256) seeds="0 1 2 3 4"; epochs=20; args=(--data "$MNIST" --preset tutorial-net --holdout 0.1 --code-length 256) ;;
        faces600) seeds="0 1 2 3 4"; epochs=600; args=(--data "$FACES" --preset tutorial-net) ;;
        faces-seed) seeds="0 1 2 3 4"; epochs=100; args=(--data "$FACES" --preset seed --holdout 0.1) ;;
        faces32) seeds="0 1 2 3 4"; epochs=600; code=32; args=(--data "$FACES" --preset tutorial-net --code-length 32) ;;
        deep32) seeds="0 1 2 3 4"; epochs=1500; code=32; args=(--data "$FACES" --code-length 32)
            peer_args=(--recipe deep --augment --linear-path) ;;
        deep256) seeds="0 1 2 3 4"; epochs=1500; args=(--data "$FACES"); peer_args=(--recipe deep --augment --linear-path) ;;
        deep-mnist32) seeds="0 1 2 3 4"; epochs=20; code=32; args=(--data "$MNIST" --holdout 0.1 --code-length 32)
            peer_args=(--recipe deep --linear-path) ;;
        deep-mnist256) seeds="0 1 2 3 4"; epochs=20; args=(--data "$MNIST" --holdout 0.1 --code-length 256)
            peer_args=(--recipe deep --linear-path) ;;
        deep-denoise) seeds="0 1 2 3 4"; epochs=100; args=(--data "$FACES" --noise gaussian:0.2) ;;
        deep64) seeds="0 1 2 3 4"; epochs=1500; args=(--data "$FACES" --size 64 64) ;;
        residual-denoise) seeds="0 1 2 3 4"; epochs=100; args=(--data "$FACES" --preset tutorial-net --linear-path --noise gaussian:0.2) ;;
        residual256) seeds="0 1 2 3 4"; epochs=100; args=(--data "$FACES" --preset tutorial-net --linear-path) ;;
        residual-mnist256) seeds="0 1 2 3 4"; epochs=20; args=(--data "$MNIST" --preset tutorial-net --linear-path --holdout 0.1 --code-length 256) ;;
        *) echo "unknown sweep $sweep" >&2; exit 2 ;;
    esac
    dirs=()
    for seed in ${SEEDS:-$seeds}; do
        dir=$OUT/$sweep-s$seed
        echo "$sweep seed $seed → $dir" >&2
        run "$dir" "${args[@]}" --epochs "${EPOCHS:-$epochs}" --seed "$seed"
        if [ -n "${PEER_PYTHON:-}" ] && [[ " ${PEER_SEEDS:-0} " == *" $seed "* ]] && [[ $sweep != *denoise ]] && [ "$sweep" != deep64 ] && [ "$sweep" != faces-seed ] && [[ $sweep != residual* ]]; then
            echo "$sweep seed $seed: PyTorch" >&2
            peer "$dir" "$code" "${EPOCHS:-$epochs}" "$seed" "${peer_args[@]}"
        fi
        dirs+=("$dir")
    done
    table "$sweep" "${dirs[@]}"
done
