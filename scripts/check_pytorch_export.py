#!/usr/bin/env python3
"""Checks the directory `ae export --format pytorch` writes, with PyTorch.

    ae export RUN --format pytorch --out EXPORT
    ae reconstruct RUN --split all --out REC
    ae encode RUN --split all --out REC/codes.npy
    python scripts/check_pytorch_export.py EXPORT REC [--tolerance 1e-5]

1. model.py's module loads model.safetensors strictly and gives `ae`'s reconstructions and codes;
2. `torch.onnx.export` with its default exporter turns the module into ONNX, which ONNX Runtime
   runs to the same reconstructions (skipped, and said, without onnxscript and onnxruntime);
3. `torchrun --nproc-per-node 2 train.py` takes DDP steps on two CPU processes (gloo) and writes a
   model that model.py loads strictly again.
Exits 1 when a check fails. Needs numpy, torch and safetensors; not part of the tests.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch


def nchw(x):
    return x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)


def batched(f, x, size=250):
    """`f` over `x` in batches, without gradients (a whole dataset at once can exhaust memory)."""
    with torch.no_grad():
        return torch.cat([f(x[i:i + size]) for i in range(0, len(x), size)])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("export")
    parser.add_argument("rec")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    parser.add_argument("--steps", type=int, default=2, help="DDP steps to take")
    args = parser.parse_args()
    sys.path.insert(0, os.path.abspath(args.export))
    from model import load

    model = load(os.path.join(args.export, "model.safetensors")).eval()
    x = torch.from_numpy(nchw(np.load(os.path.join(args.rec, "originals.npy"))).copy())
    want = nchw(np.load(os.path.join(args.rec, "reconstructions.npy")))
    want_codes = np.load(os.path.join(args.rec, "codes.npy"))
    got, codes = batched(model, x).numpy(), batched(model.encode, x).numpy()
    # Codes are compared relative to the largest one when it passes 1: a linear path's are PCA
    # coordinates (several units), summed over every pixel in f32.
    scale = max(1.0, float(np.abs(want_codes).max()))
    diffs = {"reconstructions": float(np.abs(got - want).max()), "codes": float(np.abs(codes - want_codes).max()) / scale}
    ok = all(d <= args.tolerance for d in diffs.values())
    print(f"1. strict load; {len(x)} images: max |PyTorch - ae| reconstructions {diffs['reconstructions']:.3g}, "
          f"codes {diffs['codes']:.3g} (of the largest code, {scale:.3g}) ({'within' if ok else 'above'} {args.tolerance:g})")

    with tempfile.TemporaryDirectory() as tmp:
        try:
            import onnxruntime as ort
            import onnxscript  # noqa: F401  (the default exporter's dependency)
        except ImportError as e:
            print(f"2. skipped: {e}")
        else:
            path = os.path.join(tmp, "torch.onnx")
            batch = torch.export.Dim("N")
            torch.onnx.export(model, (x[:2],), path, input_names=["image"], output_names=["reconstruction"],
                              dynamic_shapes=({0: batch},), verbose=False)
            session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
            out = np.concatenate([session.run(None, {"image": x[i:i + 250].numpy()})[0] for i in range(0, len(x), 250)])
            diff = float(np.abs(out - want).max())
            good = diff <= args.tolerance
            ok &= good
            print(f"2. torch.onnx.export (default exporter, torch {torch.__version__}) then onnxruntime "
                  f"{ort.__version__}: max |ONNX - ae| {diff:.3g} ({'within' if good else 'above'} {args.tolerance:g})")

        out = os.path.join(tmp, "trained.safetensors")
        command = ["torchrun", "--nproc-per-node", "2", "--master-port", "29517", os.path.join(args.export, "train.py"),
                   "--epochs", "1", "--max-steps", str(args.steps), "--device", "cpu", "--out", out]
        run = subprocess.run(command, capture_output=True, text=True)
        print("3. " + " ".join(command[:5] + ["train.py"] + command[6:-2]) + f": exit {run.returncode}")
        print("\n".join("   " + line for line in run.stdout.strip().splitlines()))
        if run.returncode != 0:
            print(run.stderr[-3000:])
            ok = False
        else:
            trained = load(out).eval()
            moved = float((batched(trained, x) - torch.from_numpy(want)).abs().max())
            print(f"   the trained model loads strictly; its reconstructions moved by up to {moved:.3g}")
            ok &= moved > 0
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
