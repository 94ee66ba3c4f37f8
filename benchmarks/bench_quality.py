"""Quality + EDA + drift report on a 1M x 32 float table (target: at most 30 s on 2 cores).

    python benchmarks/bench_quality.py [--rows 1000000] [--cols 32]

Prints the seconds of each part and the total; the baseline for scale is one pass of
``np.corrcoef`` over the same matrix, timed in this process.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from components.drift import drift_report
from components.quality import QualitySettings, quality_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--cols", type=int, default=32)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.rows, args.cols), dtype=np.float32)
    X[:, 1] = X[:, 0] * 0.8 + X[:, 1] * 0.2
    y = (rng.random(args.rows) < 0.05).astype(np.int64)
    test = rng.standard_normal((args.rows // 4, args.cols), dtype=np.float32) + np.r_[0.3, np.zeros(args.cols - 1)].astype(np.float32)
    names = [f"f{i}" for i in range(args.cols)]
    t0 = time.perf_counter()
    np.corrcoef(X, rowvar=False)
    base = time.perf_counter() - t0
    t0 = time.perf_counter()
    q = quality_report(X, y, names, ["neg", "pos"], QualitySettings(), seed=0)
    t1 = time.perf_counter()
    d = drift_report(X, test, names, 10, 0.2, seed=0)
    t2 = time.perf_counter()
    print(f"{args.rows:,} x {args.cols} train, {len(test):,} test rows")
    print(f"np.corrcoef baseline   {base:6.2f} s")
    print(f"quality + EDA          {t1 - t0:6.2f} s  (label issues on {q['label_issue_rows_checked']:,} rows)")
    print(f"drift + domain AUC     {t2 - t1:6.2f} s  (domain AUC {d['domain_auc']:.3f}, drifted share {d['share_drifted']:.3f})")
    print(f"total                  {t2 - t0:6.2f} s  = {(t2 - t0) / base:.0f}x the corrcoef pass (target: <= 30 s)")


if __name__ == "__main__":
    main()
