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

import warnings
from typing import Annotated, Any, Literal

import numpy as np
from scipy import stats

from components.base import TrainOnlyResampler
from components.errors import ConfigError
from components.registry import Interval, get_registry

OUTLIERS = get_registry("outlier")
RUNTIME = ("class_names", "seed")
Action = Literal["drop", "clip", "flag"]
Share = Annotated[float, Interval(0, 1)]
Alpha = Annotated[float, Interval(0, 1, "neither")]


@OUTLIERS.register("none", runtime=RUNTIME)
class NoOutlierRemoval(TrainOnlyResampler):
    """Keep every training row."""

    def __init__(self, **runtime: Any) -> None:
        pass

    def fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.n_flagged_ = 0
        return X, y

    def report(self) -> dict[str, float]:
        return {"outlier/rows_flagged": float(getattr(self, "n_flagged_", 0))}


# --- the rules: fit on rows, then say which rows are outliers --------------------------------


class Rule:
    """One fitted detection rule (per class when ``per_class``)."""

    bounds: tuple[np.ndarray, np.ndarray] | None = None  # per-feature [low, high], for clip

    def fit(self, X: np.ndarray) -> Rule:
        raise NotImplementedError

    def train_flags(self, X: np.ndarray) -> np.ndarray:
        """Flags for the rows the rule was fitted on (iterative tests differ from ``flags``)."""
        return self.flags(X)

    def flags(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError


def _bounded_flags(X: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    return ((low > X) | (high < X)).any(axis=1)


class ZScoreRule(Rule):
    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def fit(self, X: np.ndarray) -> ZScoreRule:
        mu, sd = X.mean(0), X.std(0)
        sd = np.where(sd > 0, sd, np.inf)  # a constant feature flags nothing
        self.bounds = (mu - self.threshold * sd, mu + self.threshold * sd)
        return self

    def flags(self, X: np.ndarray) -> np.ndarray:
        return _bounded_flags(X, *self.bounds)


class IQRRule(Rule):
    def __init__(self, k: float) -> None:
        self.k = k

    def fit(self, X: np.ndarray) -> IQRRule:
        q1, q3 = np.percentile(X, [25, 75], axis=0)
        iqr = q3 - q1
        self.bounds = (q1 - self.k * iqr, q3 + self.k * iqr)
        return self

    def flags(self, X: np.ndarray) -> np.ndarray:
        return _bounded_flags(X, *self.bounds)


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


class GrubbsRule(Rule):
    """Per feature, iterative Grubbs on train; new rows are flagged outside the kept range."""

    def __init__(self, alpha: float) -> None:
        self.alpha = alpha

    def fit(self, X: np.ndarray) -> GrubbsRule:
        self._train = np.stack([grubbs_outliers(X[:, j], self.alpha) for j in range(X.shape[1])], axis=1)
        kept = np.where(self._train, np.nan, X)
        self.bounds = (np.nanmin(kept, axis=0), np.nanmax(kept, axis=0))
        return self

    def train_flags(self, X: np.ndarray) -> np.ndarray:
        return self._train.any(axis=1)

    def flags(self, X: np.ndarray) -> np.ndarray:
        return _bounded_flags(X, *self.bounds)


# --- the step: rules + action + guard ---------------------------------------------------------


class OutlierStep(TrainOnlyResampler):
    """Shared action, per-class fitting, guard and reporting for every detector."""

    per_feature = True  # supports action=clip

    def __init__(
        self,
        *,
        action: Action = "drop",
        per_class: bool = False,
        max_class_share: Share = 0.5,
        on_guard: Literal["error", "keep"] = "keep",
        class_names: list[str] | tuple[str, ...] = (),
        seed: int = 0,
    ) -> None:
        self.action = action
        self.per_class = per_class
        self.max_class_share = max_class_share
        self.on_guard = on_guard
        self.class_names = list(class_names)
        self.seed = seed

    @property
    def name(self) -> str:
        return getattr(self, "registered_name", type(self).__name__)

    def _rule(self) -> Rule:
        raise NotImplementedError

    @classmethod
    def check_params(cls, params: dict[str, Any], key: str) -> None:
        """Validation-time rule: clipping needs per-feature bounds."""
        if params.get("action") == "clip" and not cls.per_feature:
            name = getattr(cls, "registered_name", cls.__name__)
            raise ConfigError(f"{key}.action: 'clip' needs per-feature bounds; {name} is multivariate. Use drop or flag.")

    def _check_action(self) -> None:
        self.check_params({"action": self.action}, "outlier")

    def fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self._check_action()
        k = max(len(self.class_names), int(y.max()) + 1 if len(y) else 0)
        flagged = np.zeros(len(y), dtype=bool)
        if self.per_class:
            self.rules_ = {}
            for c in np.unique(y):
                rows = np.flatnonzero(y == c)
                if len(rows) < 3:
                    continue
                rule = self._rule().fit(X[rows])
                self.rules_[int(c)] = rule
                flagged[rows] = rule.train_flags(X[rows])
        else:
            self.rules_ = {-1: self._rule().fit(X)}
            flagged = self.rules_[-1].train_flags(X)
        self.flagged_per_class_ = np.bincount(y[flagged], minlength=k)
        counts = np.bincount(y, minlength=k)
        self.kept_by_guard_ = {}
        if self.action == "drop":
            for c in range(k):
                share = self.flagged_per_class_[c] / counts[c] if counts[c] else 0.0
                if counts[c] and (self.flagged_per_class_[c] == counts[c] or share > self.max_class_share):
                    cname = self.class_names[c] if c < len(self.class_names) else str(c)
                    message = (
                        f"outlier ({self.name}) would remove {self.flagged_per_class_[c]} of {counts[c]} rows of class "
                        f"'{cname}' ({share:.0%} > outlier.max_class_share={self.max_class_share:g})"
                    )
                    if self.on_guard == "error":
                        raise ConfigError(f"outlier.max_class_share: {message}. Raise it, use per_class=true, or on_guard=keep.")
                    warnings.warn(message + "; keeping that class's rows (outlier.on_guard=keep)", stacklevel=2)
                    flagged[y == c] = False
                    self.kept_by_guard_[cname] = int(self.flagged_per_class_[c])
        self.n_flagged_ = int(flagged.sum())
        self.n_rows_ = len(y)
        self.sample_indices_ = np.flatnonzero(~flagged) if self.action == "drop" else np.arange(len(y))  # imblearn's name
        if self.action == "drop":
            return X[~flagged], y[~flagged]
        if self.action == "clip":
            return self.transform(X), y
        return np.c_[X, flagged.astype(X.dtype)], y

    def eval_flags(self, X: np.ndarray) -> np.ndarray:
        """Train-fitted rule on unlabeled rows (per class: flagged by every class model)."""
        results = [rule.flags(X) for rule in self.rules_.values()]
        return np.logical_and.reduce(results) if results else np.zeros(len(X), dtype=bool)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Evaluation path: no row is dropped; clip to train bounds, or append the flag column."""
        if self.action == "drop":
            return X
        if self.action == "clip":
            lows = np.min([r.bounds[0] for r in self.rules_.values()], axis=0)
            highs = np.max([r.bounds[1] for r in self.rules_.values()], axis=0)
            return np.clip(X, lows, highs).astype(X.dtype, copy=False)
        return np.c_[X, self.eval_flags(X).astype(X.dtype)]

    def report(self) -> dict[str, float]:
        out = {"outlier/rows_flagged": float(getattr(self, "n_flagged_", 0))}
        if getattr(self, "n_rows_", 0):
            out["outlier/share_flagged"] = self.n_flagged_ / self.n_rows_
        for c, n in enumerate(getattr(self, "flagged_per_class_", [])):
            name = self.class_names[c] if c < len(self.class_names) else str(c)
            out[f"outlier/flagged/{name}"] = float(n)
        return out

    def tags(self) -> dict[str, str]:
        kept = getattr(self, "kept_by_guard_", {})
        return {"outlier.guard_kept": ", ".join(f"{c}={n}" for c, n in kept.items())} if kept else {}

    def fitted_state(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k.endswith("_") and k != "rules_"} | {
            "rules_": {c: {k: v for k, v in vars(r).items() if not callable(v)} for c, r in getattr(self, "rules_", {}).items()}
        }


@OUTLIERS.register("zscore", runtime=RUNTIME)
class ZScore(OutlierStep):
    """|z| > threshold on any feature (μ, σ from train)."""
    registered_name = "zscore"

    def __init__(self, *, threshold: Annotated[float, Interval(0, None, "neither")] = 3.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.threshold = threshold

    def _rule(self) -> Rule:
        return ZScoreRule(self.threshold)


@OUTLIERS.register("iqr", runtime=RUNTIME)
class IQR(OutlierStep):
    """Outside [Q1 − k·IQR, Q3 + k·IQR] on any feature (k = 1.5 ≈ μ ± 2.698σ under normality)."""
    registered_name = "iqr"

    def __init__(self, *, k: Annotated[float, Interval(0, None)] = 1.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = k

    def _rule(self) -> Rule:
        return IQRRule(self.k)


@OUTLIERS.register("grubbs", runtime=RUNTIME)
class Grubbs(OutlierStep):
    """Iterative two-sided Grubbs test per feature at level alpha."""
    registered_name = "grubbs"

    def __init__(self, *, alpha: Alpha = 0.05, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.alpha = alpha

    def _rule(self) -> Rule:
        return GrubbsRule(self.alpha)


def __getattr__(name: str) -> Any:
    """The multivariate rules live in components/outliers_multivariate.py (kept importable here)."""
    if name in ("MahalanobisRule", "SklearnRule"):
        from components import outliers_multivariate

        return getattr(outliers_multivariate, name)
    raise AttributeError(f"module 'components.outliers' has no attribute '{name}'")
