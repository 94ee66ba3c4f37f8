"""Parity with scikit-learn on the same rows: ours (``model=logistic`` / ``model=mlp``) vs
``LogisticRegression`` (same L2: C = 1) / ``MLPClassifier`` (256-256, adam, early stopping).

Both sides see the very same matrices: the runner's split, encoder and standard scaler, rebuilt
here from the same config and seed. Per dataset it prints test ROC-AUC, log loss and fit seconds
(mean ± std over seeds), the ratios ours/theirs, the largest per-seed ROC-AUC gap, and whether
the logistic targets hold (ROC-AUC within 0.005 on every seed, log loss within 5%, seed std no
larger than scikit-learn's + 0.01, fit time at most 3x).

    python benchmarks/bench_parity.py                      # 4 datasets x 5 seeds, logistic + mlp
    python benchmarks/bench_parity.py --models logistic --datasets breast_cancer digits --seeds 3
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from benchmarks.tables import churn_table, hf_overrides, write_csv  # noqa: E402

COMMON = ["tracking=none", "quality=none", "progress=false", "scaler=standard", "outlier=none", "resampler=none"]


def same_rows(overrides: list[str], seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The training and test matrices a job with these overrides trains and tests on."""
    import components
    from runner.cli.configs import compose, to_plain
    from runner.tables.data import prepare
    from runner.jobs.stages import build_preprocessor

    components.load_builtin()
    plain = to_plain(compose([*COMMON, *overrides, f"seed={seed}"]))
    data = prepare(plain["dataset"], plain["split"], seed)
    pre = build_preprocessor(plain, data, seed, "cpu")
    X, y, _ = pre.fit_resample(data.train.X, data.train.y)
    return X, y, pre.transform(data.test.X), data.test.y


def scores(y: np.ndarray, proba: np.ndarray) -> tuple[float, float]:
    """ROC-AUC and log loss exactly as the runner computes them (``runner.fitting.evaluation``)."""
    from runner.fitting.evaluation import classification_metrics

    m = classification_metrics(y, proba, [str(i) for i in range(proba.shape[1])])
    return m["roc_auc"], m["log_loss"]


def theirs(model: str, overrides: list[str], seed: int) -> tuple[float, float, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neural_network import MLPClassifier

    X, y, Xt, yt = same_rows(overrides, seed)
    est: Any = (
        LogisticRegression(C=1.0, max_iter=1000)
        if model == "logistic"
        else MLPClassifier(hidden_layer_sizes=(256, 256), early_stopping=True, random_state=seed)
    )
    t0 = time.perf_counter()
    est.fit(X, y)
    fit_s = time.perf_counter() - t0
    return (*scores(yt, est.predict_proba(Xt)), fit_s)


def ours(model: str, overrides: list[str], seed: int) -> tuple[float, float, float]:
    from runner.cli.configs import compose
    from runner.jobs.job import JobContext, run_job

    m = run_job(compose([*COMMON, *overrides, f"model={model}", f"seed={seed}"]), JobContext()).metrics
    return m["test/roc_auc"], m["test/log_loss"], m["time/train_s"]


def datasets(folder: Path) -> dict[str, list[str]]:
    table = write_csv(churn_table(100_000, minority=0.01, seed=11), folder, "churn_100k.csv")
    return {
        "breast_cancer": ["dataset=breast_cancer"],
        "digits": ["dataset=digits"],
        "imbalanced_99to1": ["dataset=synthetic_imbalanced"],
        "churn_100k": hf_overrides(table),
    }


def report(name: str, model: str, a: np.ndarray, b: np.ndarray) -> bool:
    """Print one dataset's comparison; True when the logistic targets hold."""
    gap = np.abs(a[:, 0] - b[:, 0]).max()
    ll_ratio = a[:, 1].mean() / b[:, 1].mean()
    time_ratio = a[:, 2].mean() / b[:, 2].mean()
    ok = gap <= 0.005 and ll_ratio <= 1.05 and a[:, 0].std() <= b[:, 0].std() + 0.01 and time_ratio <= 3.0
    verdict = ("targets met" if ok else "TARGETS MISSED") if model == "logistic" else "(reference)"
    print(
        f"{name:17s} {model:8s} ROC-AUC {a[:, 0].mean():.4f}±{a[:, 0].std():.4f} vs {b[:, 0].mean():.4f}±{b[:, 0].std():.4f} "
        f"(max gap {gap:.4f})  log loss {a[:, 1].mean():.4f} vs {b[:, 1].mean():.4f} ({ll_ratio:.3f}x)  "
        f"fit {a[:, 2].mean():.3f}s vs {b[:, 2].mean():.3f}s ({time_ratio:.2f}x)  {verdict}",
        flush=True,
    )
    return ok or model != "logistic"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["logistic", "mlp"])
    parser.add_argument("--datasets", nargs="+", default=None)
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    import torch

    print(f"torch threads={torch.get_num_threads()}  seeds=0..{args.seeds - 1}  ours vs scikit-learn (mean ± std over seeds)")
    all_ok = True
    with tempfile.TemporaryDirectory() as tmp:
        for name, overrides in datasets(Path(tmp)).items():
            if args.datasets and name not in args.datasets:
                continue
            for model in args.models:
                a = np.array([ours(model, overrides, s) for s in range(args.seeds)])
                b = np.array([theirs(model, overrides, s) for s in range(args.seeds)])
                all_ok &= report(name, model, a, b)
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
