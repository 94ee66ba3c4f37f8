"""Samples/s of our training loop (device-resident tensors, sliced batches) against a plain
``DataLoader(TensorDataset)`` loop on the same MLP, data, optimiser and batch size.

    python benchmarks/bench_training_loop.py [--rows 200000] [--batch 4096] [--epochs 3] [--device auto]

Prints both throughputs and their ratio, measured in this one process (never a fixed time).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from components.losses import LOSSES
from components.models import mlp
from runner.fitting.settings import TrainerSettings, resolve_device
from runner.fitting.training import train


def make_data(rows: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(rows, 20, generator=g)
    y = (X[:, :5].sum(1) + 0.5 * torch.randn(rows, generator=g) > 0).long()
    return X, y


def baseline(X: torch.Tensor, y: torch.Tensor, batch: int, epochs: int, device: torch.device) -> float:
    """The textbook loop: per-sample indexing + collate on the host, then a copy to the device."""
    torch.manual_seed(0)
    model = mlp(in_features=20, num_classes=2).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = DataLoader(TensorDataset(X, y), batch_size=batch, shuffle=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    t0 = time.perf_counter()
    for _ in range(epochs):
        for xb, yb in loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            loss = loss_fn(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return X.shape[0] * epochs / (time.perf_counter() - t0)


def ours(X: torch.Tensor, y: torch.Tensor, batch: int, epochs: int, device: torch.device) -> float:
    """runner.fitting.training.train, including its one host sync and validation pass per epoch."""
    torch.manual_seed(0)
    model = mlp(in_features=20, num_classes=2).to(device)
    settings = TrainerSettings(batch_size=batch, epochs=epochs, deterministic=False)
    Xd, yd = X.to(device), y.to(device)
    Xv, yv = Xd[:1024], y[:1024].numpy()
    t0 = time.perf_counter()
    loss = LOSSES.build({"name": "ce"}, "loss")
    train(model, loss, lambda a, b, g: (a, b), Xd, yd, Xv, yv, settings, 0, 2)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return X.shape[0] * epochs / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[4096])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = resolve_device(args.device)
    X, y = make_data(args.rows)
    print(f"device={device} rows={args.rows} epochs={args.epochs} threads={torch.get_num_threads()} model=20-256-256-2 MLP")
    for batch in args.batch:
        ours(X[: batch * 2], y[: batch * 2], batch, 1, device)  # warm-up (allocator, kernels)
        base = baseline(X, y, batch, args.epochs, device)
        fast = ours(X, y, batch, args.epochs, device)
        print(f"batch={batch:6d}  DataLoader {base:12,.0f} samples/s   ours {fast:12,.0f} samples/s   ratio {fast / base:5.2f}x")


if __name__ == "__main__":
    np.random.seed(0)
    main()
