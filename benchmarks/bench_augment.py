"""Images/s of a batched augmentation policy against a per-sample loop applying the same policy.

    python benchmarks/bench_augment.py [--policy randaugment] [--batch 256] [--size 32] [--device auto]

Both paths run the same registered policy on the same images; the loop calls it on batches of
one image, as a per-sample ``Dataset.__getitem__`` transform would.
"""
from __future__ import annotations

import argparse
import time

import torch

import components
from components import get_registry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", nargs="+", default=["randaugment", "affine", "hsv"])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device)
    components.load_builtin()
    shape = (args.channels, args.size, args.size)
    x = torch.rand(args.batch, args.channels * args.size * args.size, device=device)
    y = torch.zeros(args.batch, dtype=torch.long, device=device)
    g = torch.Generator(device=device).manual_seed(0)
    print(f"device={device} batch={args.batch} images {shape} threads={torch.get_num_threads()}")
    for name in args.policy:
        policy = get_registry("augment").build({"name": name}, "augment", image_shape=shape, value_range=(0.0, 1.0))
        policy(x, y, g)  # warm-up

        def sync() -> None:
            if device.type == "cuda":
                torch.cuda.synchronize()

        sync()
        t0 = time.perf_counter()
        for _ in range(args.repeat):
            policy(x, y, g)
        sync()
        batched = args.batch * args.repeat / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        for i in range(args.batch):
            policy(x[i : i + 1], y[i : i + 1], g)
        sync()
        looped = args.batch / (time.perf_counter() - t0)
        print(f"{name:14s} per-sample loop {looped:10,.0f} img/s   batched {batched:10,.0f} img/s   ratio {batched / looped:6.1f}x")


if __name__ == "__main__":
    main()
