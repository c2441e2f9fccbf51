#!/usr/bin/env python3
"""Runs the ONNX files of `ae export --format onnx` under ONNX Runtime and compares them with `ae`.

    ae export RUN --format onnx [--part encoder|decoder]      # RUN/model.onnx, encoder.onnx, decoder.onnx
    ae reconstruct RUN --split all --out REC
    ae encode RUN --split all --out REC/codes.npy
    python scripts/check_onnx.py RUN REC [--tolerance 1e-5]

Each of model.onnx (images to reconstructions and codes), encoder.onnx (images to codes) and
decoder.onnx (codes to reconstructions) found in RUN is run on REC's originals (or codes) and
compared with `ae`'s reconstructions and codes. Exits 1 when any differs by more than the tolerance
or none is found. Needs numpy and onnxruntime; not part of the tests.
"""
import argparse
import os
import sys

import numpy as np
import onnxruntime as ort


def nchw(x):
    """`ae`'s arrays are [N, H, W] (grey) or [N, H, W, C]; ONNX takes [N, C, H, W]."""
    return x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run")
    parser.add_argument("rec")
    parser.add_argument("--tolerance", type=float, default=1e-5)
    args = parser.parse_args()
    images = nchw(np.load(os.path.join(args.rec, "originals.npy"))).astype(np.float32)
    want_rec = nchw(np.load(os.path.join(args.rec, "reconstructions.npy")))
    want_codes = np.load(os.path.join(args.rec, "codes.npy"))
    checks = {
        "model.onnx": (images, {"reconstruction": want_rec, "code": want_codes}),
        "encoder.onnx": (images, {"code": want_codes}),
        "decoder.onnx": (want_codes, {"reconstruction": want_rec}),
    }
    worst, found = 0.0, 0
    for name, (feed, wants) in checks.items():
        path = os.path.join(args.run, name)
        if not os.path.exists(path):
            continue
        found += 1
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        (given,) = session.get_inputs()
        outputs = session.run(list(wants), {given.name: feed})
        for (output, want), got in zip(wants.items(), outputs):
            diff = float(np.abs(got - want).max())
            worst = max(worst, diff)
            print(f"{name}: {output} {list(got.shape)} max |onnxruntime - ae| = {diff:.3g}")
    ok = found > 0 and worst <= args.tolerance
    print(f"onnxruntime {ort.__version__}: {found} files, largest difference {worst:.3g} "
          f"({'within' if ok else 'above'} {args.tolerance:g})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
