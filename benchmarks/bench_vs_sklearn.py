"""The runner against the plain script a user would otherwise write, same comparison, whole wall time.

The comparison: scaler none/standard x resampler none/SMOTE x loss plain/class-weighted x 3 seeds
(24 fits), logistic model, on a churn-like table (``benchmarks.tables.churn_table``) of 10k and
100k rows.

* runner: ``python -m runner -m scaler=none,standard resampler=none,smote
  +arm/class_weighting=none,inverse seed=0,1,2 model=logistic ...`` (one process, the basic
  launcher runs the 24 jobs in it), tracking to a fresh SQLite store, data report off
  (``--report`` keeps the default one; ``quality.plots=false`` either way);
* script: this file with ``--peer``, a plain scikit-learn + imbalanced-learn script in its own
  process: the runner's splits (stratified ``train_test_split``, test 0.2 with ``seed``, then
  validation 0.2 of the rest with ``seed + 1``), ``ColumnTransformer`` (StandardScaler or
  passthrough on the numbers, one-hot region), imblearn ``SMOTE``, ``LogisticRegression(C=1,
  class_weight=None|'balanced')``.

Runs are interleaved (runner, script, runner, script...) and the medians compared, so a load
change on the shared machine hits both. Prints wall and CPU (user+sys) seconds, the ratios (targets: <= 3x at 10k
rows, <= 1.5x at 100k) and test ROC-AUC / macro-F1 per arm, mean over seeds, side by side.

``--baseline PATH`` adds a third process to every round: the runner of another checkout (e.g.
the main branch before a change), so before / after / script are measured in the same rounds.

    python benchmarks/bench_vs_sklearn.py [--rows 10000 100000] [--repeats 3] [--report] [--baseline PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
ROOT = Path(__file__).resolve().parent.parent
SEEDS = (0, 1, 2)
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONPATH": str(ROOT)}


def peer(csv: str) -> dict[str, dict[str, float]]:
    """The plain script: metrics per arm ("scaler/resampler/loss/seed")."""
    import numpy as np
    import pandas as pd
    from imblearn.over_sampling import SMOTE
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    df = pd.read_csv(csv)
    names = sorted(df["label"].unique())
    y = df["label"].map({n: i for i, n in enumerate(names)}).to_numpy()
    X = df.drop(columns="label")
    numeric = [c for c in X.columns if c != "region"]
    out = {}
    for seed in SEEDS:
        keep, test = train_test_split(np.arange(len(y)), test_size=0.2, stratify=y, random_state=seed)
        keep, test = np.sort(keep), np.sort(test)
        rest, _val = train_test_split(np.arange(len(keep)), test_size=0.2, stratify=y[keep], random_state=seed + 1)
        train = keep[np.sort(rest)]
        for scaler in ("none", "standard"):
            columns = ColumnTransformer([("num", StandardScaler() if scaler == "standard" else "passthrough", numeric),
                                         ("cat", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["region"])])  # fmt: skip
            Xtr, Xte = columns.fit_transform(X.iloc[train]), columns.transform(X.iloc[test])
            for resampler in ("none", "smote"):
                Xr, yr = (Xtr, y[train]) if resampler == "none" else SMOTE(random_state=seed).fit_resample(Xtr, y[train])
                for loss in ("none", "inverse"):
                    model = LogisticRegression(C=1.0, max_iter=1000, class_weight="balanced" if loss == "inverse" else None)
                    proba = model.fit(Xr, yr).predict_proba(Xte)
                    out[f"{scaler}/{resampler}/{loss}/{seed}"] = {
                        "roc_auc": float(roc_auc_score(y[test], proba[:, 1])),
                        "macro_f1": float(f1_score(y[test], proba.argmax(1), average="macro")),
                    }
    return out


def timed(args: list[str], tree: Path = ROOT) -> tuple[float, float, str]:
    """(wall s, CPU user+sys s, stdout) of one subprocess, run in the checkout ``tree``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(args, cwd=tree, capture_output=True, text=True, env={**ENV, "PYTHONPATH": str(tree)})
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise SystemExit(res.stderr[-3000:])
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime, res.stdout


def run_peer(csv: Path) -> tuple[float, float, dict[str, dict[str, float]]]:
    wall, cpu, out = timed([sys.executable, __file__, "--peer", str(csv)])
    return wall, cpu, json.loads(out.strip().splitlines()[-1])


def run_runner(csv: Path, outputs: Path, report: bool, tree: Path = ROOT) -> tuple[float, float]:
    from benchmarks.tables import hf_overrides

    args = [sys.executable, "-m", "runner", "-m", "scaler=none,standard", "resampler=none,smote",
            "+arm/class_weighting=none,inverse", "seed=" + ",".join(map(str, SEEDS)), "model=logistic",
            *hf_overrides(csv), "progress=false", f"paths.outputs={outputs}", "experiment_name=vs_sklearn",
            *(["quality.plots=false"] if report else ["quality=none"])]  # fmt: skip
    wall, cpu, _ = timed(args, tree)
    return wall, cpu


def runner_metrics(outputs: Path) -> dict[str, dict[str, float]]:
    from mlflow import MlflowClient

    client = MlflowClient(f"sqlite:///{outputs}/mlflow.db")
    exp = client.get_experiment_by_name("vs_sklearn")
    out = {}
    for r in client.search_runs([exp.experiment_id], max_results=1000):
        if "mlflow.parentRunId" not in r.data.tags:
            continue
        p, m = r.data.params, r.data.metrics
        out[f"{p['scaler.name']}/{p['resampler.name']}/{p['loss.weights']}/{p['seed']}"] = {
            "roc_auc": m["test/roc_auc"], "macro_f1": m["test/macro_f1"]
        }
    return out


def side_by_side(ours: dict[str, dict[str, float]], theirs: dict[str, dict[str, float]]) -> float:
    """Print per-arm means over seeds; returns the largest per-run ROC-AUC gap."""
    print(f"  {'scaler/resampler/weights':28s} {'ROC-AUC runner':>15s} {'script':>8s} {'macro-F1 runner':>16s} {'script':>8s}")
    arms = sorted({k.rsplit("/", 1)[0] for k in theirs})
    for arm in arms:
        a = [ours[f"{arm}/{s}"] for s in SEEDS]
        b = [theirs[f"{arm}/{s}"] for s in SEEDS]
        mean = lambda rows, key: statistics.fmean(r[key] for r in rows)  # noqa: E731
        print(f"  {arm:28s} {mean(a, 'roc_auc'):15.4f} {mean(b, 'roc_auc'):8.4f} {mean(a, 'macro_f1'):16.4f} {mean(b, 'macro_f1'):8.4f}")
    return max(abs(ours[k]["roc_auc"] - theirs[k]["roc_auc"]) for k in theirs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--report", action="store_true", help="keep the runner's default data report")
    parser.add_argument("--baseline", type=Path, help="another checkout's runner, measured in the same rounds")
    parser.add_argument("--peer", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        print(json.dumps(peer(args.peer)))
        return
    from benchmarks.tables import churn_table, write_csv

    targets = {10_000: 3.0, 100_000: 1.5}
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.rows:
            csv = write_csv(churn_table(rows, seed=7), Path(tmp), f"churn_{rows}.csv")
            run_peer(csv)  # warm-up: page cache, .pyc files, the datasets cache of the CSV
            run_runner(csv, Path(tmp, f"warm_{rows}"), args.report)
            if args.baseline:
                run_runner(csv, Path(tmp, f"warm_base_{rows}"), args.report, args.baseline)
            ours, theirs, base, ours_metrics, theirs_metrics, base_metrics = [], [], [], {}, {}, {}
            for i in range(args.repeats):
                if args.baseline:
                    out = Path(tmp, f"base_{rows}_{i}")
                    base.append(run_runner(csv, out, args.report, args.baseline))
                    base_metrics = runner_metrics(out)
                out = Path(tmp, f"runner_{rows}_{i}")
                ours.append(run_runner(csv, out, args.report))
                wall, cpu, theirs_metrics = run_peer(csv)
                theirs.append((wall, cpu))
                ours_metrics = runner_metrics(out)
            a, ac = statistics.median(w for w, _ in ours), statistics.median(c for _, c in ours)
            b, bc = statistics.median(w for w, _ in theirs), statistics.median(c for _, c in theirs)
            print(f"  load average at the end (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
            target = targets.get(rows)
            verdict = "" if target is None else f"(target <= {target}x: wall {'met' if a / b <= target else 'MISSED'})"
            print(f"{rows:,} rows, 24 fits{' + data report' if args.report else ''} (median of {args.repeats}, interleaved): "
                  f"runner {a:.1f} s wall / {ac:.1f} s CPU, script {b:.1f} s / {bc:.1f} s: "
                  f"{a / b:.2f}x wall, {ac / bc:.2f}x CPU {verdict}", flush=True)  # fmt: skip
            if base:
                c, cc = statistics.median(w for w, _ in base), statistics.median(c for _, c in base)
                same = base_metrics == ours_metrics
                print(f"  baseline {args.baseline}: {c:.1f} s wall / {cc:.1f} s CPU: {c / b:.2f}x wall, {cc / bc:.2f}x CPU the script; "
                      f"this checkout / baseline {a / c:.2f}x wall, {ac / cc:.2f}x CPU; test metrics identical: {same}", flush=True)  # fmt: skip
            gap = side_by_side(ours_metrics, theirs_metrics)
            print(f"  largest per-run ROC-AUC gap: {gap:.4f}", flush=True)


if __name__ == "__main__":
    main()
