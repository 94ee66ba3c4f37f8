"""Rows/s and peak RSS of whole jobs at 100k, 1M and 10M rows x 32 features (SMOTE + MLP).

    python benchmarks/bench_scale.py [--rows 100000 1000000] [--paths streamed in_memory]
                                     [--epochs 3] [--budget 64MB] [--keep DIR]

Each point is one ``python -m runner`` job in its own process, wrapped in ``/usr/bin/time`` so
its peak resident set (``%M``) and CPU time (user + sys) are that process's alone. The table is
a seeded parquet file written here in row groups (never whole in this process): 32 float32
columns, 1% minority whose mean is shifted on the first 8 columns, raw units per column.
Before each job, ``datasets``' one-off parquet -> Arrow conversion of the file (which every later
job on it reuses from the cache) runs in its own measured process: the "convert" columns.
``streamed`` forces the larger-than-memory path with ``data.memory_budget=<--budget>``;
``in_memory`` uses a budget large enough to keep the old path. The job's MLflow run is read back
for its status, ``data.path`` tag, timings and test ROC-AUC.

rows/s = table rows / whole-process wall seconds (start-up, load, report, resampling, training and
evaluation included); the 10M/1M ratio of the job's wall time is printed for the linearity target.
The float32 matrix is rows x 32 x 4 bytes; the RSS target at 1M rows is 4x that + 600 MB.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
FEATURES = 32


def write_table(path: Path, rows: int, minority: float = 0.01, seed: int = 0, group: int = 500_000) -> Path:
    """A seeded rows x 32 float32 parquet table with a rare class, written one row group at a time."""
    rng = np.random.default_rng(seed)
    loc = rng.uniform(-100, 100, FEATURES).astype(np.float32)
    scale = rng.uniform(0.5, 50, FEATURES).astype(np.float32)
    names = [f"f{i}" for i in range(FEATURES)]
    schema = pa.schema([*(pa.field(n, pa.float32()) for n in names), pa.field("label", pa.int64())])
    with pq.ParquetWriter(path, schema) as writer:
        for start in range(0, rows, group):
            n = min(group, rows - start)
            y = (rng.random(n) < minority).astype(np.int64)
            z = rng.standard_normal((n, FEATURES), dtype=np.float32)
            z[:, :8] += 1.0 * y[:, None]
            x = loc + scale * z
            writer.write_table(pa.table({**{c: x[:, i] for i, c in enumerate(names)}, "label": y}, schema=schema))
    return path


def _timed(cmd: list[str], timing: Path, env: dict[str, str], nice: int) -> tuple[dict[str, object], subprocess.CompletedProcess]:
    """Run ``cmd`` under /usr/bin/time (and nice): wall, CPU (user + sys) and peak RSS of that process."""
    cmd = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(timing), *cmd]
    if nice:
        cmd = ["nice", "-n", str(nice), *cmd]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall, user, sys_s, rss_kb = timing.read_text().split()[-4:]
    return {"rc": proc.returncode, "wall_s": float(wall), "cpu_s": float(user) + float(sys_s), "peak_rss_mb": int(rss_kb) / 1024}, proc


def run_job(table: Path, out: Path, budget: str, epochs: int, nice: int) -> dict[str, object]:
    """One job in a child process under /usr/bin/time; returns its figures and MLflow run.

    The parquet -> Arrow conversion that ``datasets`` does once per file (then reuses from its
    cache, as every later job on the file does) runs first, in its own measured process."""
    overrides = [
        "dataset=hf", "dataset.path=parquet", f"dataset.data_files={table}", "dataset.label=label",
        "resampler=smote", "model=mlp", f"trainer.epochs={epochs}", "trainer.patience=100", "trainer.batch_size=256",
        f"data.memory_budget={budget}", f"paths.outputs={out}", "experiment_name=bench_scale", "cache.enabled=false",
        "quality.plots=false",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "HF_DATASETS_CACHE": str(out / "hf_cache")}  # fmt: skip
    convert = f"import datasets; datasets.load_dataset('parquet', data_files={str(table)!r})"
    conv, _ = _timed([sys.executable, "-c", convert], out / "convert_time.txt", env, nice)  # the one-off Arrow cache
    figures, proc = _timed([sys.executable, "-m", "runner", *overrides], out / "time.txt", env, nice)
    figures.update({f"convert_{k}": v for k, v in conv.items()})
    if proc.returncode != 0:
        figures["error"] = proc.stderr[-2000:]
    figures["progress_bar"] = "it/s]" in proc.stderr or "rows/s]" in proc.stderr
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{out}/mlflow.db")
    exp = client.get_experiment_by_name("bench_scale")
    run = client.search_runs([exp.experiment_id])[0] if exp else None
    if run is not None:
        figures.update(status=run.info.status, path=run.data.tags.get("data.path"), **{
            k: run.data.metrics.get(k, float("nan")) for k in ("time/job_s", "time/train_s", "test/roc_auc", "time/resample_s")
        })  # fmt: skip
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--paths", nargs="+", default=["streamed", "in_memory"], choices=["streamed", "in_memory"])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--budget", default="64MB", help="data.memory_budget that forces the streamed path")
    parser.add_argument("--nice", type=int, default=0, help="run the jobs under nice -n N")
    parser.add_argument("--keep", type=Path, default=None, help="keep tables and stores here (default: a temp folder)")
    args = parser.parse_args()
    tmp = None if args.keep else tempfile.TemporaryDirectory()
    root = args.keep or Path(tmp.name)  # type: ignore[union-attr]
    root.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores); epochs={args.epochs}, SMOTE + MLP")
    print(f"{'rows':>10s} {'path':>9s} {'status':>9s} {'wall s':>8s} {'cpu s':>8s} {'rows/s':>9s} {'train s':>8s} "
          f"{'peak RSS MB':>11s} {'target MB':>9s} {'ROC-AUC':>8s} {'convert s (cpu)':>15s} {'convert RSS MB':>14s}")  # fmt: skip
    walls: dict[tuple[str, int], float] = {}
    for rows in args.rows:
        table = root / f"table_{rows}.parquet"
        if not table.exists():
            write_table(table, rows)
        for path in args.paths:
            out = root / f"{path}_{rows}"
            out.mkdir(exist_ok=True)
            budget = args.budget if path == "streamed" else "1TB"
            f = run_job(table, out, budget, args.epochs, args.nice)
            walls[(path, rows)] = float(f["wall_s"])  # type: ignore[arg-type]
            target = 4 * rows * FEATURES * 4 / 2**20 + 600
            print(
                f"{rows:>10,d} {str(f.get('path')):>9s} {str(f.get('status', 'rc=' + str(f['rc']))):>9s} {f['wall_s']:8.1f} "
                f"{f['cpu_s']:8.1f} {rows / float(f['wall_s']):9.0f} {float(f.get('time/train_s', float('nan'))):8.1f} "  # type: ignore[arg-type]
                f"{f['peak_rss_mb']:11.0f} {target:9.0f} {float(f.get('test/roc_auc', float('nan'))):8.4f} "  # type: ignore[arg-type]
                f"{f['convert_cpu_s']:15.1f} {f['convert_peak_rss_mb']:14.0f}",
                flush=True,
            )
            if "error" in f:
                print(f["error"], file=sys.stderr)
    for path in args.paths:
        if (path, 1_000_000) in walls and (path, 10_000_000) in walls:
            print(f"{path}: 10M/1M wall-time ratio {walls[(path, 10_000_000)] / walls[(path, 1_000_000)]:.2f} (target <= 12)")
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
