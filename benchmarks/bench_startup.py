"""Whole-process start-up figures of the CLI: wall, CPU (user+sys) and peak RSS, median of 3
after a warm-up, each command in a fresh interpreter.

* ``--help`` (target <= 0.6 s wall on the idle 2-core machine);
* a config mistake caught by the runner (``+scaler.foo=1``; the warm-up run leaves the registry
  schema the fast check needs) and one caught by Hydra (``scaler=bogus``) (target <= 0.6 s);
* the default job on breast_cancer, MLflow to a fresh SQLite store per run (target <= 4 s);
* the same job with ``model=logistic`` (fitted by L-BFGS: no torch.optim, so no torch._dynamo);
* the import floor: a bare interpreter importing only the libraries the default job uses
  (torch, scikit-learn's metrics, MLflow's pyfunc and SQL store, ``datasets``, pyplot,
  imbalanced-learn), so the job's figure can be read against what no change of ours can remove;
* Hydra's own floor: a bare ``@hydra.main`` app on a one-key config, its ``--help`` and a run
  (what ``--help`` and a config mistake cannot go below while Hydra parses the command line).

``--importtime`` also prints the largest cumulative imports (``python -X importtime``) of
``--help`` and of the config mistake. Wall seconds mean something only on an idle machine; the
CPU seconds are the figure to compare on a shared one.

``--tree PATH`` measures another checkout (e.g. the main branch before a change).

    python benchmarks/bench_startup.py [--repeats 3] [--importtime] [--tree PATH]
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
BARE_APP = """import hydra


@hydra.main(version_base="1.3", config_path=".", config_name="config")
def app(cfg):
    pass


app()
"""
FLOOR = ("import torch, sklearn.metrics, mlflow.pyfunc, mlflow.store.tracking.sqlalchemy_store, datasets, "
         "matplotlib.pyplot, imblearn; import os; os._exit(0)")  # os._exit: no teardown, as the CLI (runner/cli/fast_exit.py)


def measure(args: list[str], tree: Path = ROOT) -> tuple[float, float, float]:
    """(wall s, CPU user+sys s, peak RSS MB) of one process (its own rusage, via wait4) run in ``tree``."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *args], cwd=tree, env={**ENV, "PYTHONPATH": str(tree)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    _, _, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = 0  # reaped here; keep Popen from waiting again
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def importtime(args: list[str], top: int = 8) -> list[tuple[float, str]]:
    res = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=ROOT, env=ENV, capture_output=True, text=True)
    rows = []
    for line in res.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            _, cumulative, name = line.split("|")
            if cumulative.strip().isdigit() and not name.startswith("  "):  # top-level imports only
                rows.append((int(cumulative) / 1e6, name.strip()))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--tree", type=Path, default=ROOT, help="the checkout to measure")
    parser.add_argument("--only", help="measure only the cases whose name contains this")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        job = ["-m", "runner", "dataset=breast_cancer", "progress=false"]
        bare = Path(tmp, "bare_app.py")
        bare.write_text(BARE_APP)
        Path(tmp, "config.yaml").write_text("x: 1\n")
        cases = {
            "--help": (["-m", "runner", "--help"], 0.6, False),
            "config mistake (runner)": (["-m", "runner", "+scaler.foo=1", f"paths.outputs={tmp}/err"], 0.6, False),
            "config mistake (Hydra)": (["-m", "runner", "scaler=bogus", f"paths.outputs={tmp}/err"], 0.6, False),
            "breast_cancer default job": (job, 4.0, True),
            "breast_cancer, model=logistic": ([*job, "model=logistic"], None, True),
            "import floor (the job's libraries)": (["-c", FLOOR], None, False),
            "Hydra alone: one-key app --help": ([str(bare), "--help"], None, False),
            "Hydra alone: one-key app run": ([str(bare), f"hydra.run.dir={tmp}/bare_run"], None, False),
        }
        print(f"{'command':32s} {'wall s':>7s} {'CPU s':>7s} {'RSS MB':>7s}  (median of {args.repeats}, after a warm-up)")
        for n, (name, (argv, target, fresh_store)) in enumerate(cases.items()):
            if args.only and args.only not in name:
                continue
            def run(i: int) -> tuple[float, float, float]:
                extra = [f"paths.outputs={tmp}/case{n}_{i}"] if fresh_store else []  # a fresh store per run
                return measure([*argv, *extra], args.tree)

            run(-1)  # warm-up: .pyc files, page cache, the registry schema
            rows = [run(i) for i in range(args.repeats)]
            wall, cpu, rss = (statistics.median(r[k] for r in rows) for k in range(3))
            verdict = "" if target is None else f"  target <= {target} s wall: {'met' if wall <= target else 'missed'}"
            load = os.getloadavg()[0]
            print(f"{name:32s} {wall:7.2f} {cpu:7.2f} {rss:7.0f}{verdict}  (load {load:.2f})", flush=True)
        if args.importtime:
            for name in ("--help", "config mistake (runner)"):
                print(f"largest imports (cumulative s), {name}:")
                for seconds, module in importtime(cases[name][0]):
                    print(f"  {seconds:6.3f}  {module}")


if __name__ == "__main__":
    main()
