"""Outlier detection on the training split (lecture §2): fit on train, act on train only.

Detectors: zscore, iqr, grubbs (iterative, per feature) here; mahalanobis (χ² cut-off), mcd
(Mahalanobis with scikit-learn's MinCovDet), isolation_forest and lof (scikit-learn) in
components/outliers_multivariate.py.
``action``: ``drop`` removes flagged training rows; ``clip`` clips every row to the fitted
per-feature bounds (per-feature methods only); ``flag`` appends a 0/1 "outlier" column computed
with the train-fitted rule on every split. ``per_class`` fits one detector per class (at
evaluation, where labels are unknown, a row is flagged when every class model flags it).

The guard: removal may never delete a class, nor more than ``max_class_share`` of one. With
``on_guard: error`` that is a clear error; with ``keep`` those rows are kept, a warning is
printed and the run is tagged. Flagged rows per class are logged.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import numpy as np
from scipy import stats
from sklearn.base import BaseEstimator

from components.base import CONTRACT, FittedState, KeepRows
from components.errors import ConfigError
from components.outlier_actions import RUNTIME, outlier_step
from components.registry import Interval, get_registry

OUTLIERS = get_registry("outlier")
Alpha = Annotated[float, Interval(0, 1, "neither")]


@OUTLIERS.register("none")
class NoOutlierRemoval(KeepRows):
    """Keep every training row."""

    counter = "outlier/rows_flagged"


# --- detectors: fitted on rows, they say which rows are outliers ------------------------------


@dataclass(**CONTRACT)
class Detector(FittedState, BaseEstimator):
    """One detection rule; ``bounds_`` (per-feature [low, high]) when it can clip."""

    per_feature: ClassVar[bool] = True  # has per-feature bounds, so supports action=clip

    def fit(self, X: np.ndarray) -> Detector:
        raise NotImplementedError

    def train_flags(self, X: np.ndarray) -> np.ndarray:
        """Flags for the rows it was fitted on (iterative tests and LOF differ from ``flags``)."""
        return self.flags(X)

    def flags(self, X: np.ndarray) -> np.ndarray:
        return _bounded_flags(X, *self.bounds_)

    def report(self) -> dict[str, float]:
        return {}

    def tags(self) -> dict[str, str]:
        return {}

    @classmethod
    def check_params(cls, params: dict[str, Any], key: str) -> None:
        """Validation-time rule: clipping needs per-feature bounds."""
        if params.get("action") == "clip" and not cls.per_feature:
            raise ConfigError(f"{key}.action: 'clip' needs per-feature bounds; {cls.registered_name} is multivariate. Use drop or flag.")


def _bounded_flags(X: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return ((low > X) | (high < X)).any(axis=1)


@OUTLIERS.register("zscore", runtime=RUNTIME, wrap=outlier_step)
@dataclass(**CONTRACT)
class ZScore(Detector):
    """|z| > threshold on any feature (μ, σ from train)."""

    threshold: Annotated[float, Interval(0, None, "neither")] = 3.0

    def fit(self, X: np.ndarray) -> ZScore:
        mu, sd = X.mean(0), X.std(0)
        sd = np.where(sd > 0, sd, np.inf)  # a constant feature flags nothing
        self.bounds_ = (mu - self.threshold * sd, mu + self.threshold * sd)
        return self


@OUTLIERS.register("iqr", runtime=RUNTIME, wrap=outlier_step)
@dataclass(**CONTRACT)
class IQR(Detector):
    """Outside [Q1 − k·IQR, Q3 + k·IQR] on any feature (k = 1.5 ≈ μ ± 2.698σ under normality)."""

    k: Annotated[float, Interval(0, None)] = 1.5

    def fit(self, X: np.ndarray) -> IQR:
        q1, q3 = np.percentile(X, [25, 75], axis=0)
        iqr = q3 - q1
        self.bounds_ = (q1 - self.k * iqr, q3 + self.k * iqr)
        return self


def grubbs_critical(n: int, alpha: float) -> float:
    """G_crit = ((n − 1)/√n) · √(t² / (n − 2 + t²)), t the upper α/(2n) quantile of Student t(n − 2)."""
    t = stats.t.ppf(1 - alpha / (2 * n), n - 2)
    return (n - 1) / np.sqrt(n) * np.sqrt(t * t / (n - 2 + t * t))


def grubbs_outliers(x: np.ndarray, alpha: float, max_share: float = 0.5) -> np.ndarray:
    """Iterative two-sided Grubbs test on one feature: remove the most extreme point while G > G_crit."""
    keep = np.ones(len(x), dtype=bool)
    order = np.argsort(x, kind="stable")
    lo, hi = 0, len(x) - 1  # the extremes of the kept values are always at the two ends of the order
    vals = x[order].astype(np.float64)
    total, total_sq, n = vals.sum(), (vals * vals).sum(), len(vals)
    while n > 2 and (len(x) - n) < max_share * len(x):
        mean = total / n
        sd = np.sqrt(max((total_sq - n * mean * mean) / (n - 1), 0.0))
        if sd == 0:
            break
        low_dev, high_dev = mean - vals[lo], vals[hi] - mean
        idx = lo if low_dev >= high_dev else hi
        if max(low_dev, high_dev) / sd <= grubbs_critical(n, alpha):
            break
        keep[order[idx]] = False
        total -= vals[idx]
        total_sq -= vals[idx] ** 2
        n -= 1
        if idx == lo:
            lo += 1
        else:
            hi -= 1
    return ~keep


@OUTLIERS.register("grubbs", runtime=RUNTIME, wrap=outlier_step)
@dataclass(**CONTRACT)
class Grubbs(Detector):
    """Iterative two-sided Grubbs test per feature at level alpha; new rows are flagged outside the kept range."""

    alpha: Alpha = 0.05

    def fit(self, X: np.ndarray) -> Grubbs:
        self.train_flags_ = np.stack([grubbs_outliers(X[:, j], self.alpha) for j in range(X.shape[1])], axis=1)
        kept = np.where(self.train_flags_, np.nan, X)
        self.bounds_ = (np.nanmin(kept, axis=0), np.nanmax(kept, axis=0))
        return self

    def train_flags(self, X: np.ndarray) -> np.ndarray:
        return self.train_flags_.any(axis=1)


def __getattr__(name: str) -> Any:
    """The multivariate rules live in components/outliers_multivariate.py (kept importable here)."""
    if name in ("MahalanobisRule",):
        from components import outliers_multivariate

        return getattr(outliers_multivariate, name)
    raise AttributeError(f"module 'components.outliers' has no attribute '{name}'")
