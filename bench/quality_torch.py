#!/usr/bin/env python3
"""The default preset's model and recipe in PyTorch, for bench/quality.sh's comparison.

Trains on the same images `ae` trained on (its split, exported by `ae reconstruct RUN --split train`
and `--split holdout` as originals.npy) and prints one JSON line: held-out MSE and PSNR, the
held-out code's mean and saturated fraction, the last epoch's training loss per sample, seconds.

Model: conv 16/2, 32, 64, 128 (3x3, ReLU, padding 1) -> Linear code -> BatchNorm1d -> sigmoid ->
reshape to the decoder's first map; when the code does not reshape, no sigmoid (`ae`'s `auto` code
function: a linear code) and Linear + ReLU to 16 channels of that map -> transposed conv 128/2
(output_padding 1), 64, 32 (ReLU) -> channels, sigmoid.
Recipe: Glorot-uniform weights, zero biases, Adam (beta 0.9/0.999, eps 1e-8) at 3e-3 with the code
layer's weight at 0.1 x that, a 100-step linear warm-up and a cosine decay to zero over the run,
batch 50 reshuffled every epoch (a last batch of one image is left for the next epoch), loss
0.5 * sum((x_hat - x)^2) per batch. `--recipe tutorial` drops the normalisation and uses a constant
1e-3 for every layer (the tutorial's recipe, with symmetric padding). `--recipe deep` trains the
`deep` preset's network (class `Deep`) with the same rates; `--augment` adds flips and shifts;
`--linear-path` adds `ae`'s linear path (`--preset deep` has it): a linear encoder and decoder
started at PCA of the training images (numpy's SVD), the code layer's and the last layer's weights
started at zero, the path at `--linear-lr-scale` (0.01) of the rate, the output linear (the loss
reads it as it is; the held-out reconstruction is clipped to [0, 1]).

    python bench/quality_torch.py --train train.npy --holdout holdout.npy --epochs 100 --seed 0
"""
import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def nchw(a):
    a = np.asarray(a, dtype=np.float32)
    if a.ndim == 3:
        a = a[:, :, :, None]
    return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))


class Autoencoder(nn.Module):
    def __init__(self, channels, height, width, code_length, norm):
        super().__init__()
        self.encoder = nn.ModuleList([
            nn.Conv2d(a, b, 3, stride=s, padding=1)
            for a, b, s in [(channels, 16, 2), (16, 32, 1), (32, 64, 1), (64, 128, 1)]])
        h0, w0 = height // 2, width // 2
        self.code = nn.Linear(128 * h0 * w0, code_length)
        self.code_norm = nn.BatchNorm1d(code_length) if norm else None
        if code_length % (h0 * w0) == 0:
            self.project, start = None, code_length // (h0 * w0)
        else:
            self.project, start = nn.Linear(code_length, 16 * h0 * w0), 16
        # The tutorial's recipe keeps its sigmoid code everywhere.
        self.linear = norm and self.project is not None
        self.start = (start, h0, w0)
        self.decoder = nn.ModuleList([
            nn.ConvTranspose2d(a, b, 3, stride=s, padding=1, output_padding=s - 1)
            for a, b, s in [(start, 128, 2), (128, 64, 1), (64, 32, 1), (32, channels, 1)]])
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        for conv in self.encoder:
            x = F.relu(conv(x))
        z = self.code(x.flatten(1))
        if self.code_norm is not None:
            z = self.code_norm(z)
        code = z if self.linear else torch.sigmoid(z)
        y = F.relu(self.project(code)) if self.project is not None else code
        y = y.reshape(-1, *self.start)
        *hidden, last = self.decoder
        for convt in hidden:
            y = F.relu(convt(y))
        return torch.sigmoid(last(y)), code


class Deep(nn.Module):
    """The `deep` preset at up to 32x32: conv 32/2, 64/2, 128/2, 256/2 (each BatchNorm2d + ReLU; at
    28x28 the last two stride 1), a linear code, Linear + ReLU to the 256-channel map, transposed conv 128/2, 64/2,
    32/2, 16/2 (BatchNorm2d + ReLU; the first two stride 1 at 28x28), conv 3x3 to the channels,
    sigmoid."""

    def __init__(self, channels, height, width, code_length, pca=None):
        super().__init__()
        # As `ae` thins it: the coarsest stages run at stride 1 until the rest rebuild the input.
        halvings = 4
        while halvings > 1 and (height % 2 ** halvings or width % 2 ** halvings):
            halvings -= 1
        strides = [2] * halvings + [1] * (4 - halvings)
        widths = [32, 64, 128, 256]
        layers, c = [], channels
        for f, s in zip(widths, strides):
            layers += [nn.Conv2d(c, f, 3, s, 1), nn.BatchNorm2d(f), nn.ReLU()]
            c = f
        self.encoder = nn.Sequential(*layers)
        down = math.prod(strides)
        self.start = (256, height // down, width // down)
        self.code = nn.Linear(math.prod(self.start), code_length)
        self.project = nn.Linear(code_length, math.prod(self.start))
        layers = []
        for f, s in zip([128, 64, 32, 16], reversed(strides)):
            layers += [nn.ConvTranspose2d(c, f, 3, s, 1, output_padding=s - 1), nn.BatchNorm2d(f), nn.ReLU()]
            c = f
        layers.append(nn.ConvTranspose2d(c, channels, 3, 1, 1))
        self.decoder = nn.Sequential(*layers)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        self.image, self.linear = (channels, height, width), None
        if pca is not None:
            mean, directions = (torch.from_numpy(a.astype(np.float32)) for a in pca)
            k = min(code_length, len(directions))
            self.linear = nn.ModuleDict({"encode": nn.Linear(mean.numel(), code_length),
                                         "decode": nn.Linear(code_length, mean.numel())})
            with torch.no_grad():
                basis = torch.zeros(code_length, mean.numel())
                basis[:k] = directions[:k]
                self.linear["encode"].weight.copy_(basis)
                self.linear["encode"].bias.copy_(-(basis @ mean))
                self.linear["decode"].weight.copy_(basis.T)
                self.linear["decode"].bias.copy_(mean)
                self.code.weight.zero_()
                self.decoder[-1].weight.zero_()

    def forward(self, x):
        """The output (unclipped with a linear path, else the sigmoid's) and the code."""
        code = self.code(self.encoder(x).flatten(1))
        if self.linear is not None:
            code = code + self.linear["encode"](x.flatten(1))
        y = self.decoder(F.relu(self.project(code)).reshape(-1, *self.start))
        if self.linear is None:
            return torch.sigmoid(y), code
        return y + self.linear["decode"](code).reshape(-1, *self.image), code


def augment(x, gen):
    """`ae`'s flip,shift:2: a mirror image half the time, then a shift of up to 2 pixels each way
    with the edge repeated."""
    n, _, h, w = x.shape
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    padded = F.pad(x, (2, 2, 2, 2), mode="replicate")
    shifts = torch.randint(0, 5, (n, 2), generator=gen)
    return torch.stack([padded[i, :, dy:dy + h, dx:dx + w] for i, (dy, dx) in enumerate(shifts.tolist())])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--train", required=True)
    p.add_argument("--holdout", required=True)
    p.add_argument("--code-length", type=int, default=256)
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--recipe", choices=["default", "tutorial", "deep"], default="default")
    p.add_argument("--augment", action="store_true", help="flip,shift:2 as `ae` draws them (not the same draws)")
    p.add_argument("--linear-path", action="store_true", help="with --recipe deep: the linear path started at PCA")
    p.add_argument("--linear-lr-scale", type=float, default=0.01)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train, holdout = nchw(np.load(args.train)), nchw(np.load(args.holdout))
    _, c, h, w = train.shape
    default = args.recipe != "tutorial"
    if args.recipe == "deep":
        pca = None
        if args.linear_path:
            flat = train.flatten(1).double().numpy()
            mean = flat.mean(axis=0)
            pca = (mean, np.linalg.svd(flat - mean, full_matrices=False)[2])
        model = Deep(c, h, w, args.code_length, pca)
    else:
        model = Autoencoder(c, h, w, args.code_length, norm=default)
    # `deep` trains as the default does: the code layer's weight at a tenth of the rate.
    lr, code_scale, warmup = (3e-3, 0.1, 100) if default else (1e-3, 1.0, 0)
    path = [p for name, p in model.named_parameters() if name.startswith("linear.")]
    rest = [p for name, p in model.named_parameters() if name != "code.weight" and not name.startswith("linear.")]
    groups = [{"params": rest, "base": lr}, {"params": [model.code.weight], "base": lr * code_scale}]
    if path:
        groups.append({"params": path, "base": lr * args.linear_lr_scale})
    opt = torch.optim.Adam(groups, lr=lr, betas=(0.9, 0.999), eps=1e-8)
    n, bs = len(train), 50
    starts = list(range(0, n, bs))
    if default and n > 1 and starts[-1] == n - 1:
        starts.pop()
    gen = torch.Generator().manual_seed(args.seed)
    step, started = 0, time.time()
    for epoch in range(args.epochs):
        order = torch.randperm(n, generator=gen)
        total = 0.0
        model.train()
        for i, s in enumerate(starts):
            step += 1
            progress = (epoch + i / len(starts)) / args.epochs
            factor = (0.5 * (1 + math.cos(math.pi * progress)) if default else 1.0) * (min(1.0, step / warmup) if warmup else 1.0)
            for g in opt.param_groups:
                g["lr"] = g["base"] * factor
            x = train[order[s:s + bs]]
            if args.augment:
                x = augment(x, gen)
            recon, _ = model(x)
            loss = 0.5 * ((recon - x) ** 2).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item()
    seconds = time.time() - started
    model.eval()
    with torch.no_grad():
        recon, code = model(holdout)
    recon = recon.clamp(0, 1)
    mse = ((recon - holdout) ** 2).mean().item()
    # A linear code (deep, or the default's projected one) has nothing to saturate.
    linear = args.recipe == "deep" or model.linear
    saturated = 0.0 if linear else ((code < 0.01) | (code > 0.99)).float().mean().item()
    print(json.dumps({
        "seed": args.seed, "epochs": args.epochs, "recipe": args.recipe, "linear_path": args.linear_path,
        "loss_per_sample": total / n, "mse": mse, "psnr_db": 10 * math.log10(1 / mse),
        "code_mean": code.mean().item(), "code_saturated": saturated,
        "seconds": seconds, "steps": step}))


if __name__ == "__main__":
    main()
