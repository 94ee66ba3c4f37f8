"""Two sweep benchmarks, each against a baseline measured in the same run (subprocess CLIs):

* parallel: a 16-job sweep with ``hydra/launcher=parallel`` (2 workers) vs the sequential launcher;
* tracking overhead: the same 16-job sweep with MLflow (SQLite) vs ``tracking=none``.

    python benchmarks/bench_sweeps.py [--jobs 16] [--epochs 20]

Prints wall times and ratios (targets: parallel >= 1.6x on 2 cores; tracking <= 1.10x). For the
MLflow sweeps it also prints the jobs' span (first job start to last job end, read back from
MLflow): the whole command also carries fixed costs no launcher can share (the main process's
imports, the store's schema check, worker start-up), which dominate sweeps of 2-second jobs.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def sweep(outputs: str, jobs: int, epochs: int, *extra: str) -> float:
    seeds = ",".join(str(i) for i in range(jobs))
    args = [sys.executable, "-m", "runner", "-m", f"seed={seeds}", f"trainer.epochs={epochs}", "progress=false",
            "quality.plots=false", f"paths.outputs={outputs}", *extra]  # fmt: skip
    t0 = time.perf_counter()
    res = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    if res.returncode != 0:
        raise SystemExit(res.stderr[-2000:])
    return time.perf_counter() - t0


def job_span(outputs: str) -> float:
    """Seconds from the first child run's start to the last one's end in this sweep's store."""
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{outputs}/mlflow.db")
    runs = [r for r in client.search_runs([client.get_experiment_by_name("default").experiment_id]) if "mlflow.parentRunId" in r.data.tags]
    return (max(r.info.end_time for r in runs) - min(r.info.start_time for r in runs)) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        sweep(f"{tmp}/warm", 1, 1)  # first-run costs (imports, SQLite schema) out of the way
        seq = sweep(f"{tmp}/seq", args.jobs, args.epochs)
        seq_span = job_span(f"{tmp}/seq")
        par = sweep(f"{tmp}/par", args.jobs, args.epochs, "hydra/launcher=parallel", "hydra.launcher.n_jobs=2")
        par_span = job_span(f"{tmp}/par")
        off = sweep(f"{tmp}/off", args.jobs, args.epochs, "tracking=none")
    print(f"{args.jobs}-job sweep, {args.epochs} epochs per job (default dataset and model)")
    print(f"sequential, MLflow      command {seq:6.1f} s   jobs' span {seq_span:6.1f} s")
    print(f"2 workers, MLflow       command {par:6.1f} s   jobs' span {par_span:6.1f} s")
    print(f"  speed-up: command {seq / par:5.2f}x, jobs' span {seq_span / par_span:5.2f}x  (target >= 1.6x)")
    print(f"sequential, no tracking command {off:6.1f} s   tracking overhead {seq / off:5.2f}x  (target <= 1.10x)")


if __name__ == "__main__":
    main()
