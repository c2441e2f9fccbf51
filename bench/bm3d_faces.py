#!/usr/bin/env python3
"""A classical denoiser beside `ae`'s: BM3D on the same held-out noisy faces.

    AE=target/release/ae python bench/bm3d_faces.py RUN [RUN ...]

For each denoiser run directory (e.g. `bench/quality.sh deep-denoise`'s), writes the run's held-out
clean images (`ae reconstruct --split holdout`) and the noisy inputs its evaluation uses with the
model's output (`ae denoise RUN`, the run's seeded noise), then denoises the noisy images with BM3D
(the `bm3d` package, Mäkinen et al. 2020, at the run's Gaussian σ, the noise's nominal level before
clipping to [0, 1]) and prints a row per run: the noisy, BM3D's and the model's PSNR over the
held-out set (10·log10(1 / mean squared error), as `ae eval` reports it).
"""

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import bm3d
import numpy as np


def psnr(clean, other):
    return 10 * np.log10(1 / np.mean((clean.astype(np.float64) - other) ** 2))


def main(runs):
    ae = os.environ.get("AE", "target/release/ae")
    print("| run | noisy PSNR dB | BM3D PSNR dB | `ae` PSNR dB | `ae` − BM3D |")
    print("|---|---|---|---|---|")
    for run in map(Path, runs):
        config = tomllib.loads((run / "config.toml").read_text())
        noise = config.get("noise", "none")
        if not noise.startswith("gaussian:"):
            sys.exit(f"{run}: not a Gaussian denoiser ({noise})")
        sigma = float(noise.split(":")[1])
        clean_dir, noisy_dir = run / "bm3d-clean", run / "bm3d-noisy"
        for out, cmd in [(clean_dir, ["reconstruct", str(run), "--split", "holdout"]), (noisy_dir, ["denoise", str(run)])]:
            if not out.exists():
                subprocess.run([ae, *cmd, "--out", str(out)], check=True, stdout=subprocess.DEVNULL)
        clean = np.load(clean_dir / "originals.npy").astype(np.float64)
        noisy = np.load(noisy_dir / "noisy.npy").astype(np.float64).reshape(clean.shape)
        model = np.load(noisy_dir / "denoised.npy").astype(np.float64).reshape(clean.shape)
        grey = clean.ndim == 3 or clean.shape[-1] == 1
        shape2d = clean.shape[1:3]
        filtered = np.stack([np.clip(bm3d.bm3d(n.reshape(shape2d) if grey else n, sigma_psd=sigma), 0, 1).reshape(n.shape) for n in noisy])
        a, b, m = psnr(clean, noisy), psnr(clean, filtered), psnr(clean, model)
        print(f"| {run.name} | {a:.2f} | {b:.2f} | {m:.2f} | {m - b:+.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
