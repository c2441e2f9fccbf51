#!/usr/bin/env python3
"""Writes crates/cli/tests/fixtures/layout.safetensors: a tiny `ae` model made with numpy alone, in
PyTorch's layouts, every value naming its own PyTorch index, so a test can check element by element
that `ae` reads each tensor into the layout its engine expects (tests/integration/checkpoint_layout.rs).

    python scripts/make_layout_fixture.py        (needs numpy and safetensors)

The network (8×8×1 input): encoder.conv0 1→2 stride 2, encoder.conv1 2→3, code 3·4·4 → 6 with
code_norm, decoder.project 6 → 2×4×4, decoder.convt0 2→3 stride 2, decoder.convt1 3→1.
Values: a convolution's weight[o, i, kh, kw] = 1000·o + 100·i + 10·kh + kw (Conv2d);
a transposed one's weight[i, o, kh, kw] = 1000·i + 100·o + 10·kh + kw (ConvTranspose2d);
code.weight[u, c·16 + h·4 + w] = 1000·u + 100·c + 10·h + w (a C, H, W flatten);
decoder.project.weight[c·16 + h·4 + w, u] = 1000·u + 100·c + 10·h + w and its bias
[c·16 + h·4 + w] = 100·c + 10·h + w; any other bias[j] = j + 0.5; code_norm's running_var[j] = j + 1.
"""
import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file


def indexed(shape, weights):
    """An array whose element at index (a, b, ...) is Σ weights[k]·index[k]."""
    grids = np.indices(shape)
    return sum(w * g for w, g in zip(weights, grids)).astype(np.float32)


def flat_chw(units, c, h, w, units_first):
    """A Linear weight over a C, H, W flatten: value 1000·unit + 100·c + 10·h + w."""
    u, cc, hh, ww = np.indices((units, c, h, w))
    values = (1000 * u + 100 * cc + 10 * hh + ww).astype(np.float32).reshape(units, c * h * w)
    return values if units_first else values.T.copy()


def main():
    t = {}
    for name, (o, i) in {"encoder.conv0": (2, 1), "encoder.conv1": (3, 2)}.items():
        t[f"{name}.weight"] = indexed((o, i, 3, 3), (1000, 100, 10, 1))
        t[f"{name}.bias"] = np.arange(o, dtype=np.float32) + 0.5
    t["code.weight"] = flat_chw(6, 3, 4, 4, units_first=True)
    t["code.bias"] = np.arange(6, dtype=np.float32) + 0.5
    t["code_norm.weight"] = np.arange(6, dtype=np.float32) + 0.5
    t["code_norm.bias"] = np.arange(6, dtype=np.float32) + 0.5
    t["code_norm.running_mean"] = np.arange(6, dtype=np.float32) + 0.5
    t["code_norm.running_var"] = np.arange(6, dtype=np.float32) + 1.0
    t["code_norm.num_batches_tracked"] = np.array(7, dtype=np.int64)
    t["decoder.project.weight"] = flat_chw(6, 2, 4, 4, units_first=False)
    c, h, w = np.indices((2, 4, 4))
    t["decoder.project.bias"] = (100 * c + 10 * h + w).astype(np.float32).reshape(-1)
    for name, (i, o) in {"decoder.convt0": (2, 3), "decoder.convt1": (3, 1)}.items():
        t[f"{name}.weight"] = indexed((i, o, 3, 3), (1000, 100, 10, 1))
        t[f"{name}.bias"] = np.arange(o, dtype=np.float32) + 0.5
    conv = lambda f, s: {"filters": f, "stride": s}
    model = {"input": [8, 8, 1], "kernel": 3, "padding": "symmetric",
             "encoder": [conv(2, 2), conv(3, 1)], "code_length": 6, "code_norm": "batch",
             "decoder_input_channels": 2, "decoder": [conv(3, 2)]}
    data = {"data": {"dataset": "olivetti", "size": [8, 8], "resize": "area", "bad_images": "fail",
                     "storage": "f32", "holdout": 0.1, "split": "images"}, "seed": 0, "noise": "none"}
    metadata = {"format": "ae-autoencoder-v1", "bias_order": "pytorch",
                "model": json.dumps(model), "data": json.dumps(data)}
    out = Path(__file__).resolve().parent.parent / "crates/cli/tests/fixtures/layout.safetensors"
    save_file(t, str(out), metadata=metadata)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
