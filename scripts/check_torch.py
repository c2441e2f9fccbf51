#!/usr/bin/env python3
"""Loads an `ae` model into PyTorch and compares PyTorch's reconstructions with `ae reconstruct`'s.

    ae reconstruct RUN --split all --out REC
    python scripts/check_torch.py RUN/model.safetensors REC [--tolerance 1e-5]

The network is built from the model file's own metadata (the `model` config `ae` writes): any
encoder and decoder, code length, `decoder.project` for a code that does not reshape, TensorFlow's
stride-2 padding for the `seed` preset, `code_norm` (BatchNorm1d, used in eval mode) for a
normalised code, the code's function (`code_activation`: sigmoid, or identity for a linear code),
`conv_norm` (BatchNorm2d before each hidden ReLU), a VAE's mean code, and the linear path
(`linear.encode` added to the code, `linear.decode` to the output, which is then clipped instead of
a sigmoid). Exits 1 when the largest difference exceeds the tolerance. Needs numpy, torch and
safetensors; not part of the tests.
"""
import argparse
import json
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file


class AE(nn.Module):
    """`ae`'s network for a `model` config, with the parameter names `ae` writes."""

    def __init__(self, config):
        super().__init__()
        height, width, channels = config["input"]
        k = config["kernel"]
        self.tf_padding = config["padding"] == "tf-same"
        pad2 = 0 if self.tf_padding else k // 2
        conv_norm = config.get("conv_norm") == "batch"
        convs, c, (h, w) = {}, channels, (height, width)
        for i, spec in enumerate(config["encoder"]):
            s = spec["stride"]
            convs[f"conv{i}"] = nn.Conv2d(c, spec["filters"], k, stride=s, padding=pad2 if s == 2 else k // 2)
            c, h, w = spec["filters"], -(-h // s), -(-w // s)
            if conv_norm:
                convs[f"norm{i}"] = nn.BatchNorm2d(c)
        self.encoder = nn.ModuleDict(convs)
        code = config["code_length"]
        self.vae = config.get("kind") == "vae"
        self.code = nn.Linear(c * h * w, 2 * code if self.vae else code)  # a VAE's: μ, then log σ²
        self.code_length = code
        self.code_norm = nn.BatchNorm1d(code) if config.get("code_norm") == "batch" else nn.Identity()
        up = int(np.prod([s["stride"] for s in config["decoder"]]))
        h0, w0 = height // up, width // up
        start = config.get("decoder_input_channels")
        self.project = not (start is None and code % (h0 * w0) == 0)
        function = config.get("code_activation", "sigmoid")
        if function == "auto":  # as `ModelConfig::code_function` resolves it
            function = "identity" if self.project else "sigmoid"
        self.linear_code = self.vae or function == "identity"
        if self.project:
            start = start or 1  # files written before new runs recorded it
            self.start = (start, h0, w0)
        else:
            self.start = (code // (h0 * w0), h0, w0)
        specs = config["decoder"] + [{"filters": channels, "stride": 1}]
        convts, c = {}, self.start[0]
        for i, spec in enumerate(specs):
            s = spec["stride"]
            convts[f"convt{i}"] = nn.ConvTranspose2d(
                c, spec["filters"], k, stride=s, padding=pad2 if s == 2 else k // 2,
                output_padding=0 if self.tf_padding else s - 1)
            c = spec["filters"]
            if conv_norm and i < len(specs) - 1:
                convts[f"norm{i}"] = nn.BatchNorm2d(c)
        if self.project:  # named `decoder.project` in the file
            convts["project"] = nn.Linear(code, start * h0 * w0)
        self.decoder = nn.ModuleDict(convts)
        self.n_convs, self.n_convts = len(config["encoder"]), len(specs)
        self.linear_path = bool(config.get("linear_path"))
        if self.linear_path:  # `linear.encode`, `linear.decode`: over the image in C, H, W order
            pixels = channels * height * width
            self.linear = nn.ModuleDict({"encode": nn.Linear(pixels, code), "decode": nn.Linear(code, pixels)})

    def forward(self, x):
        image = x
        for i in range(self.n_convs):
            conv = self.encoder[f"conv{i}"]
            if self.tf_padding and conv.stride[0] == 2:
                x = F.pad(x, (0, 1, 0, 1))  # TensorFlow pads stride-2 "same" bottom/right only
            x = conv(x)
            if f"norm{i}" in self.encoder:
                x = self.encoder[f"norm{i}"](x)
            x = F.relu(x)
        z = self.code_norm(self.code(x.flatten(1))[:, :self.code_length])  # a VAE's mean
        if not self.linear_code:
            z = torch.sigmoid(z)
        if self.linear_path:
            z = z + self.linear["encode"](image.flatten(1))
        code = z
        c, h, w = self.start
        if self.project:  # its outputs are stored in C, H, W order, as PyTorch reshapes
            z = F.relu(self.decoder["project"](z)).reshape(-1, c, h, w)
        else:  # the code itself, which `ae` reshapes as H, W, C (TensorFlow's order)
            z = z.reshape(-1, h, w, c).permute(0, 3, 1, 2)
        for i in range(self.n_convts):
            convt = self.decoder[f"convt{i}"]
            h, w = z.shape[2] * convt.stride[0], z.shape[3] * convt.stride[1]
            z = convt(z)[:, :, :h, :w]  # TensorFlow's stride-2 "same" crops bottom/right
            if i < self.n_convts - 1:
                if f"norm{i}" in self.decoder:
                    z = self.decoder[f"norm{i}"](z)
                z = F.relu(z)
        if self.linear_path:  # a linear output, clipped to the pixels' range
            return (z + self.linear["decode"](code).reshape(z.shape)).clamp(0, 1)
        return torch.sigmoid(z)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("reconstruct_dir")
    parser.add_argument("--tolerance", type=float, default=1e-5,
                        help="largest |PyTorch - ae| accepted (default 1e-5)")
    args = parser.parse_args()
    with safe_open(args.model, "pt") as f:
        config = json.loads(f.metadata()["model"])
    model = AE(config)
    model.load_state_dict(load_file(args.model))  # strict: every name and shape must match
    model.eval()  # a normalised code uses its running estimates, as `ae reconstruct` does
    x = torch.from_numpy(np.load(f"{args.reconstruct_dir}/originals.npy"))
    x = x[:, None] if x.ndim == 3 else x.permute(0, 3, 1, 2)
    want = np.load(f"{args.reconstruct_dir}/reconstructions.npy")
    with torch.no_grad():
        got = model(x)
    got = (got[:, 0] if want.ndim == 3 else got.permute(0, 2, 3, 1)).numpy()
    diff = float(np.abs(got - want).max())
    ok = diff <= args.tolerance
    print(f"{len(x)} images: max |PyTorch - ae| = {diff:.3g} ({'within' if ok else 'above'} {args.tolerance:g})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
