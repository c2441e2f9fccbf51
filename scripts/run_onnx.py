#!/usr/bin/env python3
"""Runs ONNX files under ONNX Runtime: the runtime the export tests check `ae`'s graphs against.

    python scripts/run_onnx.py OUT MODEL INPUT [MODEL INPUT ...]

Each MODEL (an .onnx file) is given its INPUT (a float32 .npy array) as its one input; output j of
the k-th model is written to OUT/k_j.npy (k and j from 0). Exits 1 with the reason on one line when
a model cannot be loaded or run. Needs numpy and onnxruntime (`pip install onnxruntime`).
"""
import os
import sys

try:
    import numpy as np
    import onnxruntime as ort
except ImportError as error:
    sys.exit(f"{error}: the ONNX export tests need onnxruntime (pip install onnxruntime), "
             f"or AE_PYTHON naming a Python that has it")


def main():
    out, jobs = sys.argv[1], sys.argv[2:]
    if not jobs or len(jobs) % 2:
        sys.exit(__doc__)
    for k in range(len(jobs) // 2):
        model, feed = jobs[2 * k], np.load(jobs[2 * k + 1])
        try:
            session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
            (given,) = session.get_inputs()
            outputs = session.run(None, {given.name: feed})
        except Exception as error:  # ONNX Runtime's own exception types vary between versions.
            sys.exit(f"{model}: {' '.join(str(error).split())}")
        for j, output in enumerate(outputs):
            np.save(os.path.join(out, f"{k}_{j}.npy"), output)


if __name__ == "__main__":
    main()
