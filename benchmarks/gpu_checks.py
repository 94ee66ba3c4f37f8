"""Issue 13's GPU figures in one prepared run, for a session that has a machine with an NVIDIA GPU.

1. our training loop against a plain ``DataLoader`` loop at batch 4096 (target >= 35x), with
   benchmarks/bench_training_loop.py's own two loops;
2. SMOTE and Borderline-SMOTE on rows x 20 (default 5M), 1% minority: our torch kNN on the GPU
   against scikit-learn's neighbours on the CPU (targets >= 10x and >= 30x);
3. the CUDA path gives the same resampled rows as the CPU path: each resampler with torch kNN on
   the GPU against the CPU default (scikit-learn's neighbours), same seed, on 200k x 20: the kept
   rows are identical and the synthetic rows equal to float rounding.

    python benchmarks/gpu_checks.py [--rows 5000000] [--json figures.json]
    python benchmarks/gpu_checks.py --smoke     # tiny sizes on the CPU: checks this script itself

Without CUDA (and without ``--smoke``) it says so and exits 2: nothing is measured on the wrong
device. Every figure is a ratio of two runs in this process; the exit status is 1 when a check
of (3) fails, 0 otherwise (a missed speed target is printed, not an error).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import components  # noqa: E402
from bench_neighbors import imbalanced, resample  # noqa: E402
from bench_training_loop import baseline, make_data, ours  # noqa: E402

TARGETS = {"training loop": 35.0, "smote": 10.0, "borderline_smote": 30.0}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000, help="rows of the resampling speed check")
    parser.add_argument("--loop-rows", type=int, default=2_000_000, help="rows of the training-loop check")
    parser.add_argument("--same-rows", type=int, default=200_000, help="rows of the CUDA-vs-CPU equality check")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (this script's own test)")
    args = parser.parse_args()
    if args.smoke:
        device, args.rows, args.loop_rows, args.same_rows, epochs = "cpu", 20_000, 8_192, 5_000, 1
    elif torch.cuda.is_available():
        device, epochs = "cuda", 3
    else:
        print("no CUDA device here: nothing measured (run this on a machine with an NVIDIA GPU, or --smoke)")
        return 2
    components.load_builtin()
    name = torch.cuda.get_device_name(0) if device == "cuda" else "CPU (smoke)"
    print(f"device={device} ({name}), torch {torch.__version__}, CPU cores {os.cpu_count()}, torch threads {torch.get_num_threads()}")
    figures: dict[str, Any] = {"device": name, "torch": torch.__version__}

    X, y = make_data(args.loop_rows)
    dev = torch.device(device)
    ours(X[:8192], y[:8192], 4096, 1, dev)  # warm-up: allocator, kernels
    base, fast = baseline(X, y, 4096, epochs, dev), ours(X, y, 4096, epochs, dev)
    figures["training loop"] = {"dataloader_samples_s": base, "ours_samples_s": fast, "ratio": fast / base}
    print(f"training loop, batch 4096, {args.loop_rows:,} rows: DataLoader {base:,.0f}/s, ours {fast:,.0f}/s: "
          f"{fast / base:.1f}x (target >= {TARGETS['training loop']}x)", flush=True)  # fmt: skip

    X, y = imbalanced(args.rows)
    for method in ("smote", "borderline_smote"):
        for backend, where in (("sklearn", "cpu"), ("torch", device)):
            resample(method, backend, where, *imbalanced(5_000, seed=2))  # warm-up: imports, kernels
        reference, _, _ = resample(method, "sklearn", "cpu", X, y)
        torch_s, _, _ = resample(method, "torch", device, X, y)
        figures[method] = {"sklearn_s": reference, "torch_s": torch_s, "ratio": reference / torch_s}
        print(f"{method}, {args.rows:,} x 20: scikit-learn neighbours {reference:.2f} s, torch kNN on {device} {torch_s:.2f} s: "
              f"{reference / torch_s:.1f}x (target >= {TARGETS[method]}x)", flush=True)  # fmt: skip

    X, y = imbalanced(args.same_rows, seed=1)
    failed = False
    for method in ("smote", "borderline_smote"):
        _, Xa, ya = resample(method, "sklearn", "cpu", X, y)
        _, Xb, yb = resample(method, "torch", device, X, y)
        kept = len(X)
        same_shape = Xa.shape == Xb.shape and np.array_equal(ya, yb)
        same_kept = same_shape and np.array_equal(Xa[:kept], Xb[:kept])
        gap = float(np.abs(Xa[kept:] - Xb[kept:]).max(initial=0.0)) if same_shape else float("inf")
        ok = same_kept and gap <= 1e-4
        failed |= not ok
        figures[f"{method}_same_rows"] = {"synthetic_rows": int(len(Xa) - kept), "max_abs_gap": gap, "ok": ok}
        print(f"{method}: {device} rows vs the CPU default: {len(Xa) - kept:,} synthetic rows, largest gap {gap:.2e}: {'same' if ok else 'DIFFERENT'}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
