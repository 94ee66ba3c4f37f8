"""Distribution shift between train and test (lecture §5), per feature and multivariate.

Per feature: Kolmogorov–Smirnov statistic and p-value (scipy), and on one binning taken from
train quantiles (``bins`` bins, open-ended): PSI = Σ (q − p) ln(q/p), Jensen–Shannon,
total variation ½ Σ |p − q| and KL(p‖q), with ε-smoothed histograms (p: train, q: test).
Multivariate: a domain classifier's cross-validated ROC-AUC at telling train rows from test
rows (0.5: indistinguishable).

A feature is flagged **drifted** when PSI ≥ ``psi_drifted`` *and* its KS test is significant
after a Holm correction across the features at ``alpha`` (written here: scipy has only the FDR
corrections, and Benjamini–Hochberg lets the true drifts of a few features loosen the bar for
the others: one draw with 3 shifted features of 30 also flagged 2 unshifted ones). PSI alone is not a test: at small n its sampling noise crosses
0.2 on identical distributions (364 train / 114 test rows, 10 bins: mean PSI ≈ 0.1, and with 30
iid features at least one above 0.2 in ~84% of draws). The KS gate was chosen over a
permutation null for PSI because it is already computed, exact or asymptotic at any n, costs
nothing extra on 200k rows × 2,000 features, and bounds the chance that iid data flags *any*
feature at ``alpha``; more: the chance that any feature which did not drift is flagged stays
at most ``alpha`` whatever the others do (Holm controls the family-wise error rate).

The importance-weighting component estimates w(x) = p_test(x) / p_train(x) from the same kind
of domain classifier, on features only (never labels), to correct covariate shift in the loss.
"""
from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from scipy import stats

from components.registry import Interval, get_registry
from components.schema import need_ordered

EPS = 1e-6


def binned(train: np.ndarray, test: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """ε-smoothed histograms of one feature on train-quantile edges (p: train, q: test)."""
    edges = np.unique(np.quantile(train, np.linspace(0, 1, bins + 1)[1:-1]))
    p = np.bincount(np.searchsorted(edges, train, side="right"), minlength=len(edges) + 1).astype(np.float64)
    q = np.bincount(np.searchsorted(edges, test, side="right"), minlength=len(edges) + 1).astype(np.float64)
    p = (p + EPS) / (p + EPS).sum()
    q = (q + EPS) / (q + EPS).sum()
    return p, q


def divergences(p: np.ndarray, q: np.ndarray) -> dict[str, float]:
    m = 0.5 * (p + q)
    kl = float(np.sum(p * np.log(p / q)))
    js = float(0.5 * np.sum(p * np.log(p / m)) + 0.5 * np.sum(q * np.log(q / m)))
    return {"psi": float(np.sum((q - p) * np.log(q / p))), "js": js, "tv": float(0.5 * np.abs(p - q).sum()), "kl": kl}


def domain_auc_flops(n: int, d: int, max_iter: int = 100, folds: int = 3) -> float:
    """Cost model of the gradient-boosted domain classifier, calibrated on 2 cores: per boosting
    iteration and feature ~20 flops a row plus a fixed ~2.5e5 (binning, split search, threads):
    1M × 32 (50k-row samples) ≈ 4 s; 83 × 2,308 ≈ 35 s, most of it the per-feature part."""
    return float(folds * max_iter * d * (20.0 * n + 250_000.0))


def domain_auc(A: np.ndarray, B: np.ndarray, seed: int, max_rows: int = 50_000, max_cost_s: float | None = 30.0) -> tuple[float, str]:
    """Cross-validated ROC-AUC of a classifier telling rows of A from rows of B, and which one.

    A histogram gradient-boosting classifier by default; when its estimated cost is above
    ``max_cost_s`` (wide tables: thousands of features) a standardised logistic regression,
    linear in n·d, is used instead and a warning says so.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from components.cost import guard

    rng = np.random.default_rng(seed)
    a = A[rng.choice(len(A), min(len(A), max_rows), replace=False)]
    b = B[rng.choice(len(B), min(len(B), max_rows), replace=False)]
    if len(a) < 10 or len(b) < 10:
        return float("nan"), "none"
    X = np.r_[a, b]
    y = np.r_[np.zeros(len(a), int), np.ones(len(b), int)]
    if guard("quality", "drift: domain classifier (gradient boosting)", len(X), X.shape[1], domain_auc_flops(*X.shape), max_cost_s, "", fallback="using a logistic regression"):
        model, kind = HistGradientBoostingClassifier(max_iter=100, random_state=seed), "gradient_boosting"
    else:
        model, kind = make_pipeline(StandardScaler(), LogisticRegression(max_iter=300)), "logistic"
    return float(cross_val_score(model, X, y, cv=3, scoring="roc_auc").mean()), kind


def feature_drift(a: np.ndarray, b: np.ndarray, feature_names: list[str], bins: int, psi_drifted: float, alpha: float) -> list[dict[str, Any]]:
    """One row per feature: KS (scipy, every feature in one call), PSI/JS/TV/KL, the flag."""
    ks = stats.ks_2samp(a, b, axis=0) if len(feature_names) else None
    rows = []
    for j, name in enumerate(feature_names):
        row = {"feature": name, "ks": float(ks.statistic[j]), "ks_pvalue": float(ks.pvalue[j])}
        row.update(divergences(*binned(a[:, j], b[:, j], bins)))
        rows.append(row)
    psi = np.array([r["psi"] for r in rows])
    for row, adjusted, flag in zip(rows, *drift_flags(psi, np.array([r["ks_pvalue"] for r in rows]), psi_drifted, alpha)):
        row["ks_pvalue_holm"], row["drifted"] = adjusted, flag
    return rows


def drift_report(
    train: np.ndarray,
    test: np.ndarray,
    feature_names: list[str],
    bins: int,
    psi_drifted: float,
    seed: int,
    max_rows: int = 200_000,
    max_cost_s: float | None = 30.0,
    alpha: float = 0.05,
) -> dict[str, Any]:
    """Per-feature drift table, share of drifted features and the domain classifier's AUC."""
    rng = np.random.default_rng(seed)
    a = train if len(train) <= max_rows else train[rng.choice(len(train), max_rows, replace=False)]
    b = test if len(test) <= max_rows else test[rng.choice(len(test), max_rows, replace=False)]
    rows = feature_drift(a, b, feature_names, bins, psi_drifted, alpha)
    psi = np.array([r["psi"] for r in rows]) if rows else np.zeros(0)
    auc, kind = domain_auc(a, b, seed, max_cost_s=max_cost_s)
    return {
        "features": rows,
        "share_drifted": float(np.mean([r["drifted"] for r in rows])) if rows else 0.0,
        "share_psi_above": float((psi >= psi_drifted).mean()) if len(psi) else 0.0,
        "psi_threshold": float(psi_drifted),
        "alpha": float(alpha),
        "max_psi": float(psi.max()) if len(psi) else 0.0,
        "domain_auc": auc,
        "domain_classifier": kind,
    }


def drift_flags(psi: np.ndarray, ks_pvalues: np.ndarray, psi_drifted: float, alpha: float) -> tuple[list[float], list[bool]]:
    """(Holm-adjusted KS p-values, drifted flags): PSI ≥ threshold and adjusted p < ``alpha``."""
    if len(psi) == 0:
        return [], []
    adjusted = holm(np.nan_to_num(np.asarray(ks_pvalues, dtype=np.float64), nan=1.0))
    flags = (np.asarray(psi) >= psi_drifted) & (adjusted < alpha)
    return [float(v) for v in adjusted], [bool(f) for f in flags]


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values: max over i ≤ rank of (m − i + 1) · p_(i), capped at 1."""
    m = len(p)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = stepped
    return out


def drift_metrics(report: dict[str, Any], max_features: int, per_feature: bool = False) -> dict[str, float]:
    """Summaries as ``drift/*`` metrics; the per-feature table only with ``per_feature`` (it is an
    artifact otherwise: identical across every arm of a sweep, it drowned MLflow's compare view)."""
    from components.quality import safe

    keys = ("share_drifted", "share_psi_above", "max_psi", "domain_auc")
    out = {f"drift/{k}": float(report[k]) for k in keys if k in report and np.isfinite(report[k])}
    for row in report["features"][:max_features] if per_feature else []:
        for key in ("ks", "ks_pvalue", "psi", "js", "tv", "kl"):
            out[f"drift/feature/{safe(row['feature'])}/{key}"] = row[key]
    return out


# --- importance weighting for covariate shift ------------------------------------------------

IMPORTANCE = get_registry("importance")


@IMPORTANCE.register("none")
class NoImportance:
    """Every training row weighs 1."""

    def fit(self, X_train: np.ndarray, X_target: np.ndarray) -> NoImportance:
        return self

    def weights(self, X: np.ndarray) -> np.ndarray | None:
        return None


@IMPORTANCE.register("domain_classifier", runtime=("seed",))
class DomainClassifierImportance:
    """w(x) = p_target(x) / p_train(x) = [P(target|x) / P(train|x)] · n_train / n_target.

    A logistic regression (features standardised) tells training rows from target rows
    (the test split's features; labels are never read). Weights are clipped to [clip_min,
    clip_max] and scaled to mean 1 over the training rows. The runner weighs the training
    loss and the validation macro-F1 used for model selection (importance-weighted
    validation, Sugiyama et al. 2007): unweighted validation would pick models for the
    training distribution again.
    """

    def __init__(
        self,
        *,
        clip_min: Annotated[float, Interval(0, None)] = 0.05,
        clip_max: Annotated[float, Interval(0, None, "neither")] = 20.0,
        C: Annotated[float, Interval(0, None, "neither")] = 1.0,
        seed: int = 0,
    ) -> None:
        self.clip_min, self.clip_max, self.C, self.seed = clip_min, clip_max, C, seed

    @classmethod
    def check_params(cls, params: dict[str, Any], key: str) -> None:
        need_ordered(cls, params, key, "clip_min", "clip_max")

    def fit(self, X_train: np.ndarray, X_target: np.ndarray) -> DomainClassifierImportance:
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        X = np.r_[X_train, X_target]
        d = np.r_[np.zeros(len(X_train), int), np.ones(len(X_target), int)]
        self.model_ = make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=500)).fit(X, d)
        self.prior_ = len(X_train) / len(X_target)
        self.scale_ = 1.0
        self.scale_ = float(self.weights(X_train).mean())
        return self

    def weights(self, X: np.ndarray) -> np.ndarray:
        p = np.clip(self.model_.predict_proba(X)[:, 1], 1e-6, 1 - 1e-6)
        return np.clip(p / (1 - p) * self.prior_, self.clip_min, self.clip_max) / self.scale_
