"""Sweep benchmarks, each against a baseline measured in the same run (subprocess CLIs):

* parallel: a 16-job sweep with ``hydra/launcher=parallel`` (2 workers) vs the sequential launcher;
* tracking overhead: the same 16-job sweep with MLflow (SQLite) vs ``tracking=none``;
* shared data report (``--report``): a 12-job sweep (resampler none/smote x loss ce/weighted_ce x
  3 seeds) on a 10,000-row table with the data report (quality, drift, EDA; plots off) vs the same
  sweep with ``quality=none``, run interleaved; wall and CPU seconds (user+sys of the process).
  Target: <= 1.2x. The report is computed once per seed and read from the cache by the other arms.

    python benchmarks/bench_sweeps.py [--jobs 16] [--epochs 20]
    python benchmarks/bench_sweeps.py --report [--repeats 3] [--rows 10000]

Prints wall times and ratios (targets: parallel >= 1.6x on 2 cores; tracking <= 1.10x). For the
MLflow sweeps it also prints the jobs' span (first job start to last job end, read back from
MLflow): the whole command also carries fixed costs no launcher can share (the main process's
imports, the store's schema check, worker start-up), which dominate sweeps of 2-second jobs.
"""
from __future__ import annotations

import argparse
import resource
import statistics
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


def timed(args: list[str]) -> tuple[float, float]:
    """(wall, CPU user+sys) seconds of one subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(args, cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise SystemExit(res.stderr[-2000:])
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def report_sweep(folder: Path, rows: int, repeats: int) -> None:
    """The 12-job sweep with the data report vs without it, interleaved."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.tables import churn_table, hf_overrides, write_csv

    csv = write_csv(churn_table(rows, seed=7), folder, f"churn_{rows}.csv")
    base = [sys.executable, "-m", "runner", "-m", "resampler=none,smote", "loss=ce,weighted_ce", "seed=0,1,2",
            *hf_overrides(csv), "progress=false", "tracking=none"]  # fmt: skip
    arms = {"with report": ["quality.plots=false"], "without": ["quality=none"]}
    timed([*base, f"paths.outputs={folder}/warm", "quality=none"])  # the CSV's datasets cache, .pyc files
    times: dict[str, list[tuple[float, float]]] = {arm: [] for arm in arms}
    for i in range(repeats):
        for arm, extra in arms.items():  # interleaved; a fresh outputs/ (and cache) every time
            times[arm].append(timed([*base, f"paths.outputs={folder}/{arm.replace(' ', '_')}_{i}", *extra]))
    med = {arm: (statistics.median(w for w, _ in t), statistics.median(c for _, c in t)) for arm, t in times.items()}
    (ww, wc), (ow, oc) = med["with report"], med["without"]
    print(f"12-job sweep on {rows:,} rows (median of {repeats}, interleaved)")
    print(f"  with the data report  wall {ww:6.1f} s   CPU {wc:6.1f} s")
    print(f"  without (quality=none) wall {ow:6.1f} s   CPU {oc:6.1f} s")
    print(f"  ratio: wall {ww / ow:.2f}x, CPU {wc / oc:.2f}x  (target <= 1.2x)")


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
    parser.add_argument("--report", action="store_true", help="only the shared data report benchmark")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    if args.report:
        with tempfile.TemporaryDirectory() as tmp:
            report_sweep(Path(tmp), args.rows, args.repeats)
        return
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
