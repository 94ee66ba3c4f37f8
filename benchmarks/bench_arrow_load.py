"""Time to get a 1M x 32 float32 table from the ``datasets`` cache into a training tensor,
against ``np.load`` of the same array from a .npy file (both warm in the page cache).

    python benchmarks/bench_arrow_load.py [--rows 1000000] [--cols 32]

Our path is the runner's: ``load_from_disk`` (memory-mapped Arrow) -> ``numeric_matrix``
(``with_format("numpy")``, one column-wise fill) -> ``torch.from_numpy``. Prints the ratio.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import datasets as hf
import numpy as np
import pyarrow as pa
import torch

from runner.tables.encoding import numeric_matrix


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=32)
    args = parser.parse_args()
    hf.disable_progress_bars()
    X = np.random.default_rng(0).standard_normal((args.rows, args.cols), dtype=np.float32)
    names = [f"f{i}" for i in range(args.cols)]
    with tempfile.TemporaryDirectory() as tmp:
        npy = Path(tmp, "x.npy")
        np.save(npy, X)
        hf.Dataset.from_dict({n: X[:, i] for i, n in enumerate(names)}).save_to_disk(str(Path(tmp, "cols")))
        vector = pa.FixedSizeListArray.from_arrays(pa.array(X.reshape(-1)), args.cols)
        hf.Dataset(pa.table({"features": vector})).save_to_disk(str(Path(tmp, "vector")))

        def from_npy() -> torch.Tensor:
            return torch.from_numpy(np.load(npy))

        t_npy = best_of(from_npy)
        print(f"{args.rows:,} x {args.cols} float32 ({X.nbytes / 2**20:.0f} MiB), best of 5, page cache warm")
        print(f"np.load (baseline): {t_npy * 1e3:.1f} ms")
        print(f"{'layout':28s} {'open':>9s} {'to tensor':>10s} {'total':>9s} {'total/np.load':>14s} {'convert/np.load':>16s}")
        for label, name, columns in ((f"{args.cols} float columns", "cols", names), ("one fixed-size list column", "vector", ["features"])):
            path = str(Path(tmp, name))
            ds = hf.load_from_disk(path)
            assert torch.equal(torch.from_numpy(numeric_matrix(ds, columns)), from_npy())
            t_open = best_of(lambda p=path: hf.load_from_disk(p))
            t_conv = best_of(lambda d=ds, c=columns: torch.from_numpy(numeric_matrix(d, c)))
            t_total = best_of(lambda p=path, c=columns: torch.from_numpy(numeric_matrix(hf.load_from_disk(p), c)))
            print(
                f"{label:28s} {t_open * 1e3:7.1f}ms {t_conv * 1e3:8.1f}ms {t_total * 1e3:7.1f}ms "
                f"{t_total / t_npy:13.2f}x {t_conv / t_npy:15.2f}x"
            )
        half = np.arange(0, args.rows, 2)
        split = hf.load_from_disk(str(Path(tmp, "cols"))).select(half)  # a split carries an indices mapping
        assert np.array_equal(numeric_matrix(split, names), X[half])
        t = best_of(lambda: numeric_matrix(split, names))
        print(f"a select()-ed half of the columns layout (a split): {t * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
