"""The contracts every stateful step follows: scikit-learn's estimator contract, as
imbalanced-learn's Pipeline expects it (tests/test_contracts.py checks each registered component).

* ``__init__`` only stores its keyword arguments, unchanged, under their own names, so
  ``get_params`` / ``sklearn.base.clone`` round-trip. Steps are declared as
  ``@dataclass(**CONTRACT)`` classes: the generated ``__init__`` is exactly that (no
  ``**kwargs``, no validation, no derived attributes: those happen in ``fit``);
* ``fit`` returns ``self``; learned attributes end in ``_``;
* two kinds of step, never both: a :class:`FittedTransform` (``fit`` + ``transform``) is fitted
  on train and applied to every split; a :class:`TrainOnlySampler` (``fit_resample`` only)
  changes the training rows and is never called on validation or test rows (imbalanced-learn's
  Pipeline rejects a step that has both). An outlier step is a sampler when it drops rows and a
  transformer when it clips or flags them (components/outliers.py).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

# keyword-only, stored unchanged; scikit-learn's repr and identity equality (not the dataclass ones)
CONTRACT: dict[str, bool] = {"repr": False, "eq": False, "kw_only": True}


class FittedState:
    """``fitted_state()``: every learned attribute (name ends in ``_``), for leakage tests."""

    def fitted_state(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}


class Reporting:
    """What a step has worth logging after it is fitted."""

    def report(self) -> dict[str, float]:
        """Numbers worth logging about the last fit (counts, seconds...)."""
        return {}

    def tags(self) -> dict[str, str]:
        """Facts worth tagging the run with (a parameter adapted, a method switched)."""
        return {}


class FittedTransform(FittedState, Reporting, TransformerMixin, BaseEstimator):
    """Base for feature transforms fitted on train and applied to every split."""

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> FittedTransform:
        raise NotImplementedError

    def transform(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _check(self) -> None:
        check_is_fitted(self)


class TrainOnlySampler(FittedState, Reporting, BaseEstimator):
    """Base for steps that change the training rows (outlier removal, resampling): ``fit_resample`` only."""

    def fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class KeepRows(TrainOnlySampler):
    """The "none" arm of outlier removal and resampling: every training row, unchanged."""

    counter = "rows_changed"  # the metric it reports as 0, named like its kind's real steps

    def fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.n_changed_ = 0
        return X, y

    def report(self) -> dict[str, float]:
        return {self.counter: float(getattr(self, "n_changed_", 0))}


# kept for code written against the first base (a sampler; transform moved to the transformers)
TrainOnlyResampler = TrainOnlySampler
