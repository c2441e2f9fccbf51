"""Carries on training an `ae` model in PyTorch, on one process or many (DDP), written by
`ae export --format pytorch`.

    python train.py --epochs 10                                  # one process
    torchrun --nproc-per-node 4 train.py --epochs 10             # four processes (GPUs: one each)

It starts from model.safetensors and trains on train.npy ([N, C, H, W] float32 in [0, 1], the
images `ae` trained on, prepared as it prepared them) with the run's loss (summed over pixels and
the batch, as `ae` sums it), noise, augmentation, code penalty or KL term, and optimiser (Adam, or
AdamW with weight decay on weights only; the warm-up, schedule, and the code layer's and the linear
path's rate scales; a linear path's output is read unclipped by the loss, as `ae` reads it), then
reports the loss on holdout.npy and writes the model, with the metadata `ae` reads, to --out. Each
process draws its own batches from a DistributedSampler; DDP averages their gradients (Adam is
indifferent to that scale). The warm-up and the schedule start again over the epochs given, as for
a new run from these weights. The random streams are PyTorch's, so the numbers follow `ae`'s run
but not bit for bit.
"""
import argparse
import json
import math
import os

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from model import Autoencoder

TRAINING = json.loads(r"""__TRAINING__""")
RECIPE = json.loads(r"""__RECIPE__""")
HERE = os.path.dirname(os.path.abspath(__file__))


def corrupt(x, noise):
    """The denoiser's noise (`ae`'s spec: none, gaussian:S, hetero:MIN:MAX, salt-pepper:P, mask:P)."""
    kind, *values = (noise or "none").split(":")
    values = [float(v) for v in values]
    if kind == "none":
        return x
    if kind == "gaussian":
        return (x + values[0] * torch.randn_like(x)).clamp(0, 1)
    if kind == "hetero":
        sigma = values[0] + (values[1] - values[0]) * torch.rand_like(x)
        return (x + sigma * torch.randn_like(x)).clamp(0, 1)
    if kind == "salt-pepper":
        hit = torch.rand_like(x) < values[0]
        return torch.where(hit, (torch.rand_like(x) < 0.5).to(x.dtype), x)
    if kind == "mask":
        return torch.where(torch.rand_like(x) < values[0], torch.zeros_like(x), x)
    raise ValueError(f"unknown noise {noise}")


def augment(x, spec):
    """Flips left-right with probability 1/2 and shifts by up to K pixels, repeating the edges."""
    spec = spec or "none"
    parts = [] if spec == "none" else spec.split(",")
    out = []
    for image in x:
        if "flip" in parts and torch.rand(()) < 0.5:
            image = image.flip(-1)
        shift = next((int(s.split(":")[1]) for s in parts if s.startswith("shift:")), 0)
        if shift:
            dy, dx = torch.randint(-shift, shift + 1, (2,)).tolist()
            h, w = image.shape[1:]
            rows = (torch.arange(h) - dy).clamp(0, h - 1)
            cols = (torch.arange(w) - dx).clamp(0, w - 1)
            image = image[:, rows][:, :, cols]
        out.append(image)
    return torch.stack(out)


def losses(model, x, target, epochs_done):
    """The batch's summed reconstruction loss and the code's terms, as `ae` defines them
    (`epochs_done`, fractional, sets a VAE's KL warm-up)."""
    net = model.module if hasattr(model, "module") else model
    logits, code, heads = net.logits(x)
    if RECIPE.get("loss", "l2") == "bce":
        loss = F.binary_cross_entropy_with_logits(logits, target, reduction="sum")
    else:
        # A linear path's output is linear: its loss reads it unclipped, as `ae`'s does.
        output = logits if len(net.linear) else torch.sigmoid(logits)
        if RECIPE.get("loss", "l2") == "l1":
            loss = (output - target).abs().sum()
        else:
            loss = 0.5 * ((output - target) ** 2).sum()
    total = loss
    pixels = target[0].numel()
    if TRAINING.get("sparsity", 0):
        total = total + TRAINING["sparsity"] * pixels * code.abs().mean(dim=1).sum()
    if heads is not None:
        mean, log_var = heads.chunk(2, dim=1)
        kl = 0.5 * (mean ** 2 + log_var.exp() - 1 - log_var).sum()
        warm = TRAINING.get("kl_warmup_epochs", 0)
        beta = TRAINING.get("beta", 1.0) * (min(1.0, epochs_done / warm) if warm else 1.0)
        total = total + beta * kl
    return total, loss


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=TRAINING["batch_size"], help="per process")
    parser.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (0: none)")
    parser.add_argument("--out", default=os.path.join(HERE, "trained.safetensors"))
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        dist.init_process_group("nccl" if args.device == "cuda" else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
        device = torch.device(args.device, int(os.environ.get("LOCAL_RANK", 0))) if args.device == "cuda" else torch.device("cpu")
    else:
        rank, world, device = 0, 1, torch.device(args.device)
    torch.manual_seed(RECIPE.get("seed", 0) + rank)

    from model import load
    model = load(os.path.join(HERE, "model.safetensors")).to(device)
    decay = TRAINING.get("weight_decay", 0.0)
    code_weight = model.bottleneck["code"].weight
    groups = {}  # (weight decay, rate scale) -> parameters
    for name, p in model.named_parameters():
        decays = name.endswith("weight") and "norm" not in name
        # The code layer's weight and the linear path learn at their own shares of the rate.
        scale = TRAINING.get("code_lr_scale", 1.0) if p is code_weight else (
            TRAINING["linear_lr_scale"] if name.startswith("linear.") else 1.0)
        groups.setdefault((decay if decays else 0.0, scale), []).append(p)
    groups = [{"params": ps, "weight_decay": d, "scale": s} for (d, s), ps in groups.items()]
    lr = TRAINING["learning_rate"]
    optimizer = torch.optim.AdamW(groups, lr=lr, betas=(TRAINING["beta1"], TRAINING["beta2"]), eps=TRAINING["epsilon"])
    if distributed:
        model = DistributedDataParallel(model)

    train = TensorDataset(torch.from_numpy(np.load(os.path.join(HERE, "train.npy"))))
    sampler = DistributedSampler(train, world, rank, shuffle=True, seed=RECIPE.get("seed", 0)) if distributed else None
    loader = DataLoader(train, batch_size=args.batch_size, sampler=sampler, shuffle=sampler is None)
    total_steps = max(1, args.epochs * len(loader))
    step = 0
    for epoch in range(args.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        model.train()
        summed, seen = 0.0, 0
        for batch, (clean,) in enumerate(loader):
            step += 1
            warm = TRAINING.get("warmup_steps", 0)
            factor = min(1.0, step / warm) if warm else 1.0
            if TRAINING.get("schedule", "constant") == "cosine":
                factor *= 0.5 * (1 + math.cos(math.pi * (step - 1) / total_steps))
            for group in optimizer.param_groups:
                group["lr"] = lr * factor * group["scale"]
            clean = augment(clean, TRAINING.get("augment")).to(device)
            total, loss = losses(model, corrupt(clean, RECIPE.get("noise")), clean, epoch + batch / len(loader))
            optimizer.zero_grad()
            total.backward()
            optimizer.step()
            summed, seen = summed + loss.item(), seen + len(clean)
            if args.max_steps and step >= args.max_steps:
                break
        if rank == 0:
            print(f"epoch {epoch + 1}: training loss {summed / max(seen, 1):.4f} per image (rank 0, {world} processes)")
        if args.max_steps and step >= args.max_steps:
            break

    if rank == 0:
        net = model.module if distributed else model
        net.eval()
        holdout = os.path.join(HERE, "holdout.npy")
        if os.path.exists(holdout):
            x = torch.from_numpy(np.load(holdout)).to(device)
            with torch.no_grad():
                _, loss = losses(net, corrupt(x, RECIPE.get("noise")), x, args.epochs)
            print(f"held-out loss {loss.item() / len(x):.4f} per image ({len(x)} images)")
        from safetensors import safe_open
        from safetensors.torch import save_file
        with safe_open(os.path.join(HERE, "model.safetensors"), "pt") as f:
            metadata = f.metadata()
        save_file({k: v.contiguous().cpu() for k, v in net.state_dict().items()}, args.out, metadata=metadata)
        print(f"wrote {args.out} (ae reconstruct/eval/encode read it)")
    if distributed:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
