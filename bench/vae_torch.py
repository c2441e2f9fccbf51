#!/usr/bin/env python3
"""`ae train --model vae`'s default model and recipe in PyTorch: the peer of bench/vae.sh.

Trains on the images `ae` trained on (its split, exported by `ae reconstruct RUN --split train`
and `--split holdout` as originals.npy) and prints one JSON line per epoch and a final one with
the held-out reconstruction term, KL, ELBO and the importance-sampled negative log-likelihood
(nats per image), and the seconds per training step.

Model: conv 16/2, 32, 64, 128 (3x3, ReLU, padding 1) -> Linear to 2L (mu, then log sigma^2) ->
z = mu + sigma * eps -> Linear(L, 16 x h0 x w0) + ReLU, reshaped C,H,W -> transposed conv 128/2
(output_padding 1), 64, 32 (ReLU) -> channels (logits). Loss: binary cross-entropy summed over
pixels + beta * KL(q(z|x) || N(0, I)), per batch. Recipe: Glorot-uniform weights, zero biases,
Adam (0.9/0.999, 1e-8) at 3e-3 with the code layer's weight at 0.1x, a 100-step linear warm-up
and a cosine decay to zero, batch 50 reshuffled every epoch.

    python bench/vae_torch.py --train train.npy --holdout holdout.npy --epochs 30 --latent 16
"""
import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from quality_torch import nchw  # beside this file: the same .npy → NCHW conversion


class Vae(nn.Module):
    def __init__(self, channels, height, width, latent, start_channels=16):
        super().__init__()
        self.latent = latent
        self.encoder = nn.ModuleList([
            nn.Conv2d(a, b, 3, stride=s, padding=1)
            for a, b, s in [(channels, 16, 2), (16, 32, 1), (32, 64, 1), (64, 128, 1)]])
        h0, w0 = height // 2, width // 2
        self.code = nn.Linear(128 * h0 * w0, 2 * latent)
        self.project = nn.Linear(latent, start_channels * h0 * w0)
        self.start = (start_channels, h0, w0)
        self.decoder = nn.ModuleList([
            nn.ConvTranspose2d(a, b, 3, stride=s, padding=1, output_padding=s - 1)
            for a, b, s in [(start_channels, 128, 2), (128, 64, 1), (64, 32, 1), (32, channels, 1)]])
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def encode(self, x):
        for conv in self.encoder:
            x = F.relu(conv(x))
        mu, log_var = self.code(x.flatten(1)).chunk(2, dim=1)
        return mu, log_var

    def decode(self, z):
        y = F.relu(self.project(z)).reshape(-1, *self.start)
        *hidden, last = self.decoder
        for convt in hidden:
            y = F.relu(convt(y))
        return last(y)


def kl(mu, log_var):
    return 0.5 * (mu ** 2 + log_var.exp() - log_var - 1).sum(1)


def bce(logits, x):
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


@torch.no_grad()
def evaluate(model, images, samples):
    """Reconstruction at the mean and KL (what ae logs per epoch); with samples, also the
    sampled reconstruction term, ELBO and importance-sampled NLL, as `ae eval` computes them."""
    out = {"holdout_loss_per_sample": 0.0, "holdout_kl_per_sample": 0.0}
    rec, nll = 0.0, 0.0
    for x in images.split(100):
        mu, log_var = model.encode(x)
        out["holdout_loss_per_sample"] += bce(model.decode(mu), x).sum().item()
        out["holdout_kl_per_sample"] += kl(mu, log_var).sum().item()
        if samples:
            for i in range(len(x)):
                eps = torch.randn(samples, model.latent)
                z = mu[i] + (0.5 * log_var[i]).exp() * eps
                log_px = -bce(model.decode(z), x[i:i + 1].expand(samples, -1, -1, -1))
                log_w = log_px - 0.5 * (z ** 2).sum(1) + 0.5 * (eps ** 2 + log_var[i]).sum(1)
                nll -= (torch.logsumexp(log_w, 0) - math.log(samples)).item()
                rec -= log_px.mean().item()
    n = len(images)
    out = {k: v / n for k, v in out.items()}
    if samples:
        out.update(reconstruction=rec / n, kl=out["holdout_kl_per_sample"], nll=nll / n, samples=samples)
        out["elbo"] = -(out["reconstruction"] + out["kl"])
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--train", required=True)
    p.add_argument("--holdout", required=True)
    p.add_argument("--latent", type=int, default=16)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--beta", type=float, default=1.0)
    p.add_argument("--nll-samples", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    train, holdout = nchw(np.load(args.train)), nchw(np.load(args.holdout))
    _, c, h, w = train.shape
    model = Vae(c, h, w, args.latent)
    lr, code_scale, warmup = 3e-3, 0.1, 100
    rest = [p for name, p in model.named_parameters() if name != "code.weight"]
    opt = torch.optim.Adam([{"params": rest, "base": lr}, {"params": [model.code.weight], "base": lr * code_scale}],
                           lr=lr, betas=(0.9, 0.999), eps=1e-8)
    n, bs = len(train), 50
    starts = list(range(0, n, bs))
    gen = torch.Generator().manual_seed(args.seed)
    step, train_seconds = 0, 0.0
    for epoch in range(args.epochs):
        order = torch.randperm(n, generator=gen)
        total, total_kl = 0.0, 0.0
        model.train()
        started = time.time()
        for i, s in enumerate(starts):
            step += 1
            progress = (epoch + i / len(starts)) / args.epochs
            factor = 0.5 * (1 + math.cos(math.pi * progress)) * min(1.0, step / warmup)
            for g in opt.param_groups:
                g["lr"] = g["base"] * factor
            x = train[order[s:s + bs]]
            mu, log_var = model.encode(x)
            z = mu + (0.5 * log_var).exp() * torch.randn_like(mu)
            rec, div = bce(model.decode(z), x).sum(), kl(mu, log_var).sum()
            loss = rec + args.beta * div
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, total_kl = total + rec.item(), total_kl + div.item()
        train_seconds += time.time() - started
        model.eval()
        line = {"epoch": epoch + 1, "loss_per_sample": total / n, "kl_per_sample": total_kl / n}
        line.update(evaluate(model, holdout, 0))
        print(json.dumps(line), flush=True)
    model.eval()
    final = evaluate(model, holdout, args.nll_samples)
    final.update(epochs=args.epochs, seconds_per_step=train_seconds / max(step, 1), steps=step)
    print(json.dumps(final), flush=True)


if __name__ == "__main__":
    main()
