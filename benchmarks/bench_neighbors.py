"""imbalanced-learn resamplers with scikit-learn's neighbours vs our torch kNN, same data and seed.

    python benchmarks/bench_neighbors.py [--rows 200000] [--features 20] [--device auto]

Prints seconds for SMOTE and Borderline-SMOTE with each backend, and the ratio. On CUDA the
torch backend is what ``neighbors: auto`` picks; on CPU it picks scikit-learn.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

import components
from components import get_registry


def imbalanced(rows: int, features: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """rows x features float32, the last 1% a minority class shifted by 0.5 on every feature."""
    rng = np.random.default_rng(seed)
    n_min = rows // 100
    X = np.r_[rng.normal(0, 1, (rows - n_min, features)), rng.normal(0.5, 1, (n_min, features))].astype(np.float32)
    return X, np.r_[np.zeros(rows - n_min, int), np.ones(n_min, int)]


def resample(name: str, backend: str, device: str, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """(seconds, X, y) of the registry's resampler ``name`` with ``neighbors: backend`` on ``device``."""
    step = get_registry("resampler").build({"name": name, "neighbors": backend}, "resampler", class_names=["a", "b"], seed=0, device=device)
    t0 = time.perf_counter()
    Xr, yr = step.fit_resample(X, y)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t0, np.asarray(Xr), np.asarray(yr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    device = ("cuda" if torch.cuda.is_available() else "cpu") if args.device == "auto" else args.device
    components.load_builtin()
    X, y = imbalanced(args.rows, args.features)
    print(f"{args.rows:,} x {args.features}, 1% minority, device={device}, torch threads={torch.get_num_threads()}")
    for name in ("smote", "borderline_smote"):
        times = {backend: resample(name, backend, device, X, y)[0] for backend in ("sklearn", "torch", "auto")}
        print(
            f"{name:18s} sklearn {times['sklearn']:6.2f} s   torch {times['torch']:6.2f} s ({times['sklearn'] / times['torch']:5.2f}x)"
            f"   auto {times['auto']:6.2f} s ({times['sklearn'] / times['auto']:5.2f}x)"
        )


if __name__ == "__main__":
    main()
