"""A 4-job loss sweep with SMOTE on a 200k-row synthetic set: resampling cache on vs off.

    python benchmarks/bench_resample_cache.py [--rows 200000] [--epochs 1] [--resampler smote]

Runs the same four jobs (ce, focal, weighted_ce, class_balanced_focal) twice in this process,
first with the cache disabled, then enabled on an empty cache folder, and prints both wall
times and their ratio. The first cached job fills the cache; the other three read it.
"""
from __future__ import annotations

import argparse
import tempfile
import time

import datasets

from runner.cli.configs import compose
from runner.jobs.job import JobContext, run_job

LOSSES = ("ce", "focal", "weighted_ce", "class_balanced_focal")


def sweep(outputs: str, cache: bool, rows: int, epochs: int, resampler: str) -> tuple[float, list[float]]:
    t0 = time.perf_counter()
    resample_s = []
    for loss in LOSSES:
        cfg = compose(
            [
                f"loss={loss}",
                f"resampler={resampler}",
                f"dataset.n_samples={rows}",
                f"trainer.epochs={epochs}",
                "trainer.batch_size=4096",
                "tracking=none",
                "progress=false",
                f"paths.outputs={outputs}",
                f"cache.enabled={str(cache).lower()}",
            ]
        )
        resample_s.append(run_job(cfg, JobContext()).metrics["time/resample_s"])
    return time.perf_counter() - t0, resample_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--resampler", default="smote")
    args = parser.parse_args()
    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory() as tmp:
        sweep(tmp + "/warm", False, 2000, 1, args.resampler)  # imports and first-call costs out of the way
        off, off_r = sweep(tmp + "/off", False, args.rows, args.epochs, args.resampler)
        on, on_r = sweep(tmp + "/on", True, args.rows, args.epochs, args.resampler)
    print(f"{len(LOSSES)}-job loss sweep, {args.resampler}, {args.rows:,} rows, {args.epochs} epoch(s) per job")
    print(f"cache off: {off:7.1f} s  (resampling per job: {', '.join(f'{s:.2f}' for s in off_r)} s)")
    print(f"cache on : {on:7.1f} s  (resampling per job: {', '.join(f'{s:.2f}' for s in on_r)} s)")
    print(f"ratio on/off: {on / off:.2f}x  (target <= 0.5x)")


if __name__ == "__main__":
    main()
