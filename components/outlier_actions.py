"""What an outlier step does with the rows its detector flags: drop, clip or flag (composition).

A registered outlier (components/outliers.py, outliers_multivariate.py) is a *detector*; the
config's ``action``, ``per_class``, ``max_class_share`` and ``on_guard`` choose the step that
wraps it (:func:`outlier_step`):

* ``drop`` -> :class:`DropOutliers`, a sampler (``fit_resample`` only): flagged training rows
  go, validation and test rows are never touched. The guard: removal may never delete a class,
  nor more than ``max_class_share`` of one (``on_guard: error`` refuses, ``keep`` keeps those
  rows, warns and tags the run).
* ``clip`` -> :class:`ClipOutliers`, a transformer: every split clipped to the train bounds.
* ``flag`` -> :class:`FlagOutliers`, a transformer: a 0/1 column appended, the training rows'
  from the fit-time test (iterative Grubbs, LOF's fit scores), other rows' from the fitted rule.

``per_class`` fits one clone of the detector per class; on unlabeled rows a row is flagged when
every class model flags it, and clip uses the union of the class bounds.
"""
from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, clone

from components.base import CONTRACT, FittedState, FittedTransform, Reporting, TrainOnlySampler
from components.errors import ConfigError
from components.registry import Interval

RUNTIME = ("class_names", "seed")
Action = Literal["drop", "clip", "flag"]
Share = Annotated[float, Interval(0, 1)]


@dataclass(**CONTRACT)
class _Step(FittedState, Reporting, BaseEstimator):
    """Per-class fitting and reporting shared by the three actions."""

    detector: Any = None
    per_class: bool = False
    class_names: Sequence[str] = ()

    @property
    def name(self) -> str:
        return getattr(self.detector, "registered_name", type(self.detector).__name__)

    def _fit_flags(self, X: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        """Fit ``rules_`` (one detector, or one per class) and return the training rows' flags."""
        if y is None or not self.per_class:
            self.rules_ = {-1: clone(self.detector).fit(X)}
            flagged = self.rules_[-1].train_flags(X)
        else:
            self.rules_, flagged = {}, np.zeros(len(y), dtype=bool)
            for c in np.unique(y):
                rows = np.flatnonzero(y == c)
                if len(rows) < 3:
                    continue
                self.rules_[int(c)] = rule = clone(self.detector).fit(X[rows])
                flagged[rows] = rule.train_flags(X[rows])
        if y is not None:
            k = max(len(self.class_names), int(y.max()) + 1 if len(y) else 0)
            self.flagged_per_class_ = np.bincount(y[flagged], minlength=k)
        self.n_rows_ = len(X)
        self.n_flagged_ = int(flagged.sum())
        return flagged

    def eval_flags(self, X: np.ndarray) -> np.ndarray:
        """The train-fitted rule on unlabeled rows (per class: flagged by every class model)."""
        results = [rule.flags(X) for rule in self.rules_.values()]
        return np.logical_and.reduce(results) if results else np.zeros(len(X), dtype=bool)

    def report(self) -> dict[str, float]:
        out = {"outlier/rows_flagged": float(getattr(self, "n_flagged_", 0))}
        if getattr(self, "n_rows_", 0):
            out["outlier/share_flagged"] = self.n_flagged_ / self.n_rows_
        for c, n in enumerate(getattr(self, "flagged_per_class_", [])):
            out[f"outlier/flagged/{self._class(c)}"] = float(n)
        rule = getattr(self, "rules_", {}).get(-1)
        return {**out, **(rule.report() if rule is not None else {})}

    def tags(self) -> dict[str, str]:
        rule = getattr(self, "rules_", {}).get(-1)
        return rule.tags() if rule is not None else {}

    def _class(self, c: int) -> str:
        return str(self.class_names[c]) if c < len(self.class_names) else str(c)

    def fitted_state(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k.endswith("_") and k != "rules_"} | {
            "rules_": {c: r.fitted_state() for c, r in getattr(self, "rules_", {}).items()}
        }


@dataclass(**CONTRACT)
class DropOutliers(_Step, TrainOnlySampler):
    """Remove flagged training rows, within the class guard."""

    max_class_share: Share = 0.5
    on_guard: Literal["error", "keep"] = "keep"

    def fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        flagged = self._fit_flags(X, y)
        counts = np.bincount(y, minlength=len(self.flagged_per_class_))
        self.kept_by_guard_: dict[str, int] = {}
        for c, (n_flag, n) in enumerate(zip(self.flagged_per_class_, counts)):
            share = n_flag / n if n else 0.0
            if not n or (n_flag < n and share <= self.max_class_share):
                continue
            message = (
                f"outlier ({self.name}) would remove {n_flag} of {n} rows of class "
                f"'{self._class(c)}' ({share:.0%} > outlier.max_class_share={self.max_class_share:g})"
            )
            if self.on_guard == "error":
                raise ConfigError(f"outlier.max_class_share: {message}. Raise it, use per_class=true, or on_guard=keep.")
            warnings.warn(message + "; keeping that class's rows (outlier.on_guard=keep)", stacklevel=2)
            flagged[y == c] = False
            self.kept_by_guard_[self._class(c)] = int(n_flag)
        self.n_flagged_ = int(flagged.sum())
        self.sample_indices_ = np.flatnonzero(~flagged)  # imbalanced-learn's name: the kept rows (their categorical codes follow them)
        return X[~flagged], y[~flagged]

    def tags(self) -> dict[str, str]:
        kept = getattr(self, "kept_by_guard_", {})
        return {**super().tags(), **({"outlier.guard_kept": ", ".join(f"{c}={n}" for c, n in kept.items())} if kept else {})}


@dataclass(**CONTRACT)
class ClipOutliers(_Step, FittedTransform):
    """Clip every split to the train-fitted per-feature bounds (no row is removed)."""

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> ClipOutliers:
        self._fit_flags(X, y)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        self._check()
        lows = np.min([r.bounds_[0] for r in self.rules_.values()], axis=0)
        highs = np.max([r.bounds_[1] for r in self.rules_.values()], axis=0)
        return np.clip(X, lows, highs).astype(X.dtype, copy=False)


@dataclass(**CONTRACT)
class FlagOutliers(_Step, FittedTransform):
    """Append a 0/1 outlier column: the fit-time flags on train, the fitted rule elsewhere."""

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> FlagOutliers:
        self._fit_flags(X, y)
        return self

    def fit_transform(self, X: np.ndarray, y: np.ndarray | None = None, **fit_params: Any) -> np.ndarray:
        return np.c_[X, self._fit_flags(X, y).astype(X.dtype)]

    def transform(self, X: np.ndarray) -> np.ndarray:
        self._check()
        return np.c_[X, self.eval_flags(X).astype(X.dtype)]


def outlier_step(
    detector: Any,
    *,
    action: Action = "drop",
    per_class: bool = False,
    max_class_share: Share = 0.5,
    on_guard: Literal["error", "keep"] = "keep",
    class_names: Sequence[str] = (),
) -> DropOutliers | ClipOutliers | FlagOutliers:
    """The step for ``action`` around ``detector`` (a sampler for drop, a transformer otherwise)."""
    if action == "drop":
        return DropOutliers(detector=detector, per_class=per_class, class_names=class_names, max_class_share=max_class_share, on_guard=on_guard)
    cls = ClipOutliers if action == "clip" else FlagOutliers
    type(detector).check_params({"action": action}, "outlier")
    return cls(detector=detector, per_class=per_class, class_names=class_names)
