#!/usr/bin/env python3
"""One training step and one forward pass of `ae`'s networks in PyTorch (eager), timed as
`ae bench` times them: random images, batch 50, the median of `--steps` repetitions after
`--warmup`. Prints one JSON line. The networks are the quality peers' own classes:

  default  quality_torch.Autoencoder (the default preset: conv 16/2, 32, 64, 128, a normalised code)
  deep     quality_torch.Deep with its linear path (the deep preset)
  vae      vae_torch.Vae (ae train --model vae)

A step is forward, the loss (0.5 * squared error summed; a VAE's adds its KL term), zero_grad,
backward and Adam's update; a forward pass is the model in eval mode under no_grad. With
`--compile` the loss and the forward pass go through `torch.compile` (Inductor, which needs a C++
compiler), its compilation inside the warm-up.

    python bench/step_torch.py --network deep --height 32 --width 32 --channels 1 --threads 2
"""
import argparse
import json
import time

import numpy as np
import torch

from quality_torch import Autoencoder, Deep
from vae_torch import Vae


def build(args):
    c, h, w, k = args.channels, args.height, args.width, args.code_length
    if args.network == "default":
        return Autoencoder(c, h, w, k, norm=True)
    if args.network == "deep":
        # The path's starting point does not change its cost: an orthonormal basis stands for PCA's.
        rng = np.random.default_rng(0)
        pixels = c * h * w
        basis = np.linalg.qr(rng.standard_normal((pixels, min(k, pixels))))[0].T
        return Deep(c, h, w, k, (np.full(pixels, 0.5), basis))
    return Vae(c, h, w, k)


def loss_of(model, x):
    if isinstance(model, Vae):
        mu, log_var = model.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * log_var).exp()
        recon = torch.sigmoid(model.decode(z))
        kl = 0.5 * (mu.pow(2) + log_var.exp() - 1 - log_var).sum()
        return 0.5 * ((recon - x) ** 2).sum() + kl
    recon, _ = model(x)
    return 0.5 * ((recon - x) ** 2).sum()


def forward(model, x):
    if isinstance(model, Vae):
        return model.decode(model.encode(x)[0])
    return model(x)


def median_ms(f, warmup, steps):
    for _ in range(warmup):
        f()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--network", choices=["default", "deep", "vae"], required=True)
    p.add_argument("--channels", type=int, default=1)
    p.add_argument("--height", type=int, default=32)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--code-length", type=int, default=256)
    p.add_argument("--batch", type=int, default=50)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--compile", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = build(args)
    x = torch.rand(args.batch, args.channels, args.height, args.width)
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn, forward_fn = (lambda x: loss_of(model, x)), (lambda x: forward(model, x))
    if args.compile:
        loss_fn, forward_fn = torch.compile(loss_fn), torch.compile(forward_fn)

    def step():
        loss = loss_fn(x)
        opt.zero_grad()
        loss.backward()
        opt.step()

    model.train()
    step_ms = median_ms(step, args.warmup, args.steps)
    model.eval()
    with torch.no_grad():
        forward_ms = median_ms(lambda: forward_fn(x), args.warmup, args.steps)
    print(json.dumps({"network": args.network, "threads": args.threads, "batch": args.batch,
                      "input": [args.height, args.width, args.channels], "code_length": args.code_length,
                      "compiled": args.compile, "step_ms": step_ms, "forward_ms": forward_ms,
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
