"""Data quality and EDA on the training split (lecture §5), vectorised numpy/Arrow only.

Each dimension is a number in [0, 1] where possible: completeness = 1 − missing / cells,
consistency = 1 − contradictory rows / rows (identical features, different labels), accuracy =
1 − share of labels flagged as likely wrong. Label issues use confident learning written here
(no cleanlab dependency at run time; a test pins it to cleanlab's ``confident_learning``
filter): out-of-fold probabilities from a cross-validated logistic regression, per-class
thresholds t_j = mean p_j over rows labelled j, and a row is an issue when its confident class
(the argmax when several pass their threshold) is not its given label (Northcutt et al. 2021,
the "confident joint" off-diagonal). Expensive parts run on a seeded row sample (``max_rows``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import pandas as pd
from scipy import stats

from components.registry import Interval, get_registry
from components.keys import safe  # the one key policy, shared with the tracking layer

QUALITY = get_registry("quality")
# The headline numbers of a report, in display order (metrics, the HTML table, the EDA print-out).
DIMENSIONS = (
    "completeness", "consistency", "accuracy", "duplicate_rate", "label_issue_rate", "imbalance_ratio",
    "label_entropy", "constant_features", "near_constant_features", "outlier_share",
)  # fmt: skip


@QUALITY.register("none")
@dataclass
class NoQuality:
    """``quality=none``: skip the report (nothing computed or logged)."""

    enabled = False


@QUALITY.register("default")
@dataclass
class QualitySettings:
    """What the quality, EDA and drift report computes (``conf/quality/default.yaml``)."""

    label_issues: bool = True
    folds: Annotated[int, Interval(2, None)] = 5
    max_rows: Annotated[int, Interval(100, None)] = 200_000
    max_rows_label_issues: Annotated[int, Interval(100, None)] = 50_000
    zscore: Annotated[float, Interval(0, None, "neither")] = 3.0
    bins: Annotated[int, Interval(2, None)] = 10
    psi_drifted: Annotated[float, Interval(0, None)] = 0.2
    drift_alpha: Annotated[float, Interval(0, 1, "neither")] = 0.05
    top_pairs: Annotated[int, Interval(0, None)] = 5
    per_feature_metrics: bool = False
    max_feature_metrics: Annotated[int, Interval(0, None)] = 100
    plots: bool = True
    max_cost_s: Annotated[float, Interval(0, None, "neither")] | None = 30.0
    enabled = True


def sample_rows(n: int, limit: int, seed: int) -> np.ndarray:
    return np.arange(n) if n <= limit else np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))


def row_hashes(X: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """One uint64 per row (pandas' vectorised hashing), optionally including the label."""
    frame = pd.DataFrame(X)
    if y is not None:
        frame["__label__"] = y
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def completeness(ds: Any, columns: list[str]) -> tuple[float, int]:
    """1 − missing / cells over the raw feature columns (nulls, and NaN in float columns)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from components.arrow import arrow_table

    table = arrow_table(ds, columns)
    missing = 0
    for col in table.columns:
        missing += col.null_count
        if pa.types.is_floating(col.type):
            missing += int(pc.sum(pc.is_nan(col)).as_py() or 0)
    cells = table.num_rows * max(1, len(columns))
    return 1.0 - missing / cells if cells else 1.0, missing


def consistency_and_duplicates(X: np.ndarray, y: np.ndarray) -> tuple[float, float, int]:
    """(consistency, duplicate rate, contradictory rows): identical features with different labels."""
    if len(y) == 0:
        return 1.0, 0.0, 0
    feat = row_hashes(X)
    _, group = np.unique(feat, return_inverse=True)
    pairs = np.unique(np.c_[group, y], axis=0)
    labels_per_group = np.bincount(pairs[:, 0], minlength=group.max() + 1)
    contradictory = int((labels_per_group[group] > 1).sum())
    full = row_hashes(X, y)
    duplicates = len(full) - len(np.unique(full))
    return 1.0 - contradictory / len(y), duplicates / len(y), contradictory


def label_issues(X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Boolean mask of likely label errors by confident learning on out-of-fold probabilities."""
    proba = out_of_fold_proba(X, y, folds, seed)
    return np.zeros(len(y), dtype=bool) if proba is None else confident_issues(y, proba)


def out_of_fold_proba(X: np.ndarray, y: np.ndarray, folds: int, seed: int) -> np.ndarray | None:
    """Cross-validated logistic-regression probabilities (None when a class has < 2 rows)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    counts = np.bincount(y)
    present = counts[counts > 0]
    n_folds = int(min(folds, present.min())) if len(present) > 1 else 0
    if n_folds < 2:
        return None
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300))
    cv = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return cross_val_predict(model, X, y, cv=cv, method="predict_proba")


def confident_issues(y: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """The confident joint's off-diagonal (Northcutt et al. 2021): per-class thresholds t_j =
    mean p_j over rows labelled j; a row with at least one confident class (p_j ≥ t_j − 1e-6)
    gets as its guessed label that class, or the row's argmax when several are confident, and is
    an issue when the guess is not its label and the row's argmax is not its label either. Written here (no cleanlab at run time) and pinned
    against cleanlab's ``find_label_issues(filter_by='confident_learning')`` in the tests."""
    classes = np.unique(y)
    yi = np.searchsorted(classes, y)
    thresholds = np.array([proba[yi == j, j].mean() for j in range(len(classes))])
    confident = proba >= thresholds[None, :] - 1e-6
    n_confident = confident.sum(1)
    guess = np.where(n_confident > 1, proba.argmax(1), confident.argmax(1))
    nudged = proba.copy()
    nudged[np.arange(len(yi)), yi] += 1e-6  # a row the model predicts as its label (ties included) is never an issue
    return (n_confident > 0) & (guess != yi) & (nudged.argmax(1) != yi)


def _label_issues_affordable(n: int, d: int, k: int, settings: QualitySettings) -> bool:
    """Cost guard (components/cost.py): out-of-fold logistic regressions cost ~folds·100 iterations
    ·4·n·d·k flops; above ``max_cost_s`` the step is skipped with a warning naming the cheaper way."""
    from components.cost import guard

    flops = settings.folds * 100 * 4.0 * n * d * max(k, 2)
    cheaper = "lower quality.max_rows_label_issues or set quality.label_issues=false"
    return guard("quality", "label issues (cross-validated logistic regression)", n, d, flops, settings.max_cost_s, cheaper, fallback="label issues skipped")


def near_zero_variance(X: np.ndarray, freq_ratio: float = 95 / 5, unique_pct: float = 10.0) -> np.ndarray:
    """caret's nzv: most/second-most frequent value ratio > 19 and < 10% distinct values."""
    out = np.zeros(X.shape[1], dtype=bool)
    for j in range(X.shape[1]):
        values, counts = np.unique(X[:, j], return_counts=True)
        if len(values) == 1:
            out[j] = True
            continue
        top2 = np.sort(counts)[-2:]
        out[j] = top2[1] / top2[0] > freq_ratio and 100.0 * len(values) / len(X) < unique_pct
    return out


def top_pairs(corr: np.ndarray, names: list[str], k: int) -> list[tuple[str, str, float]]:
    if corr.shape[0] < 2 or k == 0:
        return []
    iu = np.triu_indices(corr.shape[0], 1)
    values = np.nan_to_num(corr[iu])
    order = np.argsort(-np.abs(values))[:k]
    return [(names[iu[0][i]], names[iu[1][i]], float(values[i])) for i in order]


def quality_report(
    X: np.ndarray,
    y: np.ndarray,
    feature_names: list[str],
    class_names: list[str],
    settings: QualitySettings,
    seed: int,
    raw_train: Any = None,
    raw_columns: list[str] | None = None,
) -> dict[str, Any]:
    """Every quality dimension and the EDA tables for one (training) split."""
    n, d = X.shape
    report: dict[str, Any] = {"rows": n, "features": d}
    if raw_train is not None and raw_columns:
        report["completeness"], report["missing_cells"] = completeness(raw_train, raw_columns)
    else:
        missing = int(np.isnan(X).sum())
        report["completeness"], report["missing_cells"] = 1.0 - missing / max(1, X.size), missing
    report["consistency"], report["duplicate_rate"], report["contradictory_rows"] = consistency_and_duplicates(X, y)
    counts = np.bincount(y, minlength=len(class_names))
    nonzero = counts[counts > 0]
    p = nonzero / nonzero.sum()
    report["class_counts"] = {c: int(k) for c, k in zip(class_names, counts)}
    report["imbalance_ratio"] = float(nonzero.max() / nonzero.min()) if len(nonzero) else float("nan")
    report["label_entropy"] = float(-(p * np.log(p)).sum())
    if settings.label_issues and _label_issues_affordable(min(n, settings.max_rows_label_issues), d, len(nonzero), settings):
        rows = sample_rows(n, settings.max_rows_label_issues, seed)
        issues = label_issues(X[rows], y[rows], settings.folds, seed)
        report["label_issue_rate"] = float(issues.mean()) if len(rows) else 0.0
        report["accuracy"] = 1.0 - report["label_issue_rate"]
        report["label_issue_rows_checked"] = int(len(rows))
    std = X.std(0)
    report["constant_features"] = int((std == 0).sum())
    sample = X[sample_rows(n, settings.max_rows, seed)]
    nzv = near_zero_variance(sample)
    report["near_constant_features"] = int(nzv.sum())
    with np.errstate(all="ignore"):
        z = np.abs((X - X.mean(0)) / np.where(std > 0, std, np.inf))
    report["outlier_share"] = float((z > settings.zscore).any(1).mean()) if n else 0.0
    with np.errstate(all="ignore"):
        skew = stats.skew(sample, axis=0)
        kurt = stats.kurtosis(sample, axis=0)
    report["feature_stats"] = [
        {
            "feature": name,
            "mean": float(X[:, j].mean()),
            "median": float(np.median(sample[:, j])),
            "std": float(std[j]),
            "skewness": float(np.nan_to_num(skew[j])),
            "kurtosis": float(np.nan_to_num(kurt[j])),
            "near_zero_variance": bool(nzv[j]),
        }
        for j, name in enumerate(feature_names)
    ]
    varying = std > 0
    if varying.sum() >= 2:
        names = [f for f, v in zip(feature_names, varying) if v]
        sub = sample[:, varying]
        with np.errstate(all="ignore"):
            pearson = np.corrcoef(sub, rowvar=False)
            spearman = np.corrcoef(stats.rankdata(sub, axis=0), rowvar=False)
        report["top_pearson"] = top_pairs(pearson, names, settings.top_pairs)
        report["top_spearman"] = top_pairs(spearman, names, settings.top_pairs)
    else:
        report["top_pearson"], report["top_spearman"] = [], []
    return report


def quality_metrics(report: dict[str, Any], max_features: int, per_feature: bool = False) -> dict[str, float]:
    """The summary numbers of a report as ``quality/*`` MLflow metrics; per-feature statistics
    (``quality/feature/*``) only with ``per_feature``: they are an artifact otherwise."""
    out = {f"quality/{k}": float(report[k]) for k in (*DIMENSIONS, "missing_cells", "contradictory_rows") if k in report}
    if report.get("top_pearson"):
        out["quality/max_abs_pearson"] = abs(report["top_pearson"][0][2])
    if report.get("top_spearman"):
        out["quality/max_abs_spearman"] = abs(report["top_spearman"][0][2])
    for row in report["feature_stats"][:max_features] if per_feature else []:
        for stat in ("mean", "median", "std", "skewness", "kurtosis"):
            out[f"quality/feature/{safe(row['feature'])}/{stat}"] = row[stat]
    return out
