#!/usr/bin/env python3
"""Loads an `ae` model into PyTorch and compares PyTorch's reconstructions with `ae reconstruct`'s.

    ae reconstruct RUN --split all --out REC
    python scripts/check_torch.py RUN/model.safetensors REC [--tf-padding]

--tf-padding for models trained with the `seed` preset (TensorFlow's stride-2 padding). A model
with a normalised code (the default preset) gets `code_norm`, a BatchNorm1d, used in eval mode.
Needs numpy, torch and safetensors; not part of the tests.
"""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file


class AE(nn.Module):
    """The tutorial's network with the parameter names `ae` writes."""

    def __init__(self, tf_padding=False, code_norm=False):
        super().__init__()
        self.tf_padding = tf_padding
        pad2 = 0 if tf_padding else 1
        self.encoder = nn.ModuleDict({
            f"conv{i}": nn.Conv2d(a, b, 3, stride=s, padding=pad2 if s == 2 else 1)
            for i, (a, b, s) in enumerate([(1, 16, 2), (16, 32, 1), (32, 64, 1), (64, 128, 1)])})
        self.code = nn.Linear(128 * 16 * 16, 256)
        self.code_norm = nn.BatchNorm1d(256) if code_norm else nn.Identity()
        self.decoder = nn.ModuleDict({
            f"convt{i}": nn.ConvTranspose2d(a, b, 3, stride=s, padding=pad2 if s == 2 else 1,
                                            output_padding=0 if tf_padding else s - 1)
            for i, (a, b, s) in enumerate([(1, 128, 2), (128, 64, 1), (64, 32, 1), (32, 1, 1)])})

    def forward(self, x):
        for conv in self.encoder.values():
            if self.tf_padding and conv.stride[0] == 2:
                x = F.pad(x, (0, 1, 0, 1))  # TensorFlow pads stride-2 "same" bottom/right only
            x = F.relu(conv(x))
        z = torch.sigmoid(self.code_norm(self.code(x.flatten(1)))).reshape(-1, 1, 16, 16)
        *hidden, last = self.decoder.values()
        for convt in hidden:
            z = convt(z)
            if self.tf_padding and convt.stride[0] == 2:
                z = z[:, :, :32, :32]
            z = F.relu(z)
        return torch.sigmoid(last(z))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("reconstruct_dir")
    parser.add_argument("--tf-padding", action="store_true")
    args = parser.parse_args()
    state = load_file(args.model)
    model = AE(args.tf_padding, code_norm="code_norm.weight" in state)
    model.load_state_dict(state)
    model.eval()  # a normalised code uses its running estimates, as `ae reconstruct` does
    x = torch.from_numpy(np.load(f"{args.reconstruct_dir}/originals.npy"))[:, None]
    want = np.load(f"{args.reconstruct_dir}/reconstructions.npy")
    with torch.no_grad():
        got = model(x)[:, 0].numpy()
    print(f"{len(x)} images: max |PyTorch - ae| = {np.abs(got - want).max():.3g}")


if __name__ == "__main__":
    main()
