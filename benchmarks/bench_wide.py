"""Load + encode seconds for wide tables: 1,000 rows × 100, 1,000 and 10,000 float32 columns.

    python benchmarks/bench_wide.py [--rows 1000] [--cols 100 1000 10000]

Each width is written as a parquet file to a temporary folder and loaded the way a user would,
through the ``hf`` dataset (``path=parquet``, ``data_files``) with a fresh ``datasets`` cache
(cold: parquet -> Arrow cache; warm: the same call again), then encoded by ``TableEncoder``
(fit on the split, transform to a float32 matrix). The baseline is the floor for the same
bytes: ``pyarrow.parquet.read_table`` + one ``to_tensor``. Prints seconds, µs per column and
the ratio to the baseline; the issue-14 target is load + encode ≤ 10 s at 1,000 × 10,000.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # this checkout, not an installed copy

import datasets as hf  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

import components  # noqa: E402
from components.datasets import DATASETS  # noqa: E402
from runner.tables.encoding import TableEncoder  # noqa: E402


def timed(fn):  # noqa: ANN001, ANN201
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def one_width(rows: int, cols: int, folder: Path) -> dict[str, float]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, cols), dtype=np.float32)
    table = pa.table({**{f"f{j}": X[:, j] for j in range(cols)}, "label": rng.integers(0, 4, rows)})
    path = folder / f"wide_{cols}.parquet"
    pq.write_table(table, path)
    cfg = {"name": "hf", "path": "parquet", "data_files": {"train": str(path)}, "load_kwargs": {"cache_dir": str(folder / f"cache_{cols}")}}
    loaded, cold = timed(lambda: DATASETS.build(cfg, "dataset"))
    loaded, warm = timed(lambda: DATASETS.build(cfg, "dataset"))
    train = loaded.splits["train"]
    matrix, encode = timed(lambda: TableEncoder(features=loaded.features).fit(train).transform(train))
    assert matrix.shape == (rows, cols) and np.allclose(matrix, X)
    _, base = timed(lambda: np.asarray(pq.read_table(path).drop_columns(["label"]).to_batches()[0].to_tensor(row_major=True)))
    return {"cold": cold, "warm": warm, "encode": encode, "baseline": base}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1000)
    parser.add_argument("--cols", type=int, nargs="+", default=[100, 1000, 10_000])
    args = parser.parse_args()
    hf.disable_progress_bars()
    components.load_builtin()
    print(f"{'cols':>7} {'load cold s':>12} {'load warm s':>12} {'encode s':>9} {'cold+encode s':>14} {'µs/col':>8} {'vs pyarrow':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for cols in args.cols:
            r = one_width(args.rows, cols, Path(tmp))
            total = r["cold"] + r["encode"]
            print(
                f"{cols:>7} {r['cold']:>12.2f} {r['warm']:>12.2f} {r['encode']:>9.2f} {total:>14.2f} "
                f"{1e6 * total / cols:>8.0f} {total / max(r['baseline'], 1e-9):>9.1f}x"
            )


if __name__ == "__main__":
    main()
