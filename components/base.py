"""The contracts every stateful step follows (scikit-learn's, as in imbalanced-learn's Pipeline).

* keyword-only ``__init__`` that only stores its arguments;
* ``fit`` returns ``self``; learned attributes end in ``_``;
* ``transform`` refuses to run before ``fit`` (``check_is_fitted``);
* resamplers and outlier removers expose ``fit_resample`` and are called on the training
  path only: validation and test rows are never dropped, added or used to fit anything.
That one rule makes leakage impossible by construction; tests/test_pipeline.py proves it.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted


class FittedState:
    """``fitted_state()``: every learned attribute (name ends in ``_``), for leakage tests."""

    def fitted_state(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k.endswith("_") and not k.startswith("_")}


class FittedTransform(FittedState, BaseEstimator, TransformerMixin):
    """Base for feature transforms fitted on train and applied to every split."""

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> FittedTransform:
        raise NotImplementedError

    def transform(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _check(self) -> None:
        check_is_fitted(self)


class TrainOnlyResampler(FittedState, BaseEstimator):
    """Base for steps that change the training rows (outlier removal, resampling)."""

    def fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def transform(self, X: np.ndarray) -> np.ndarray:
        """The evaluation path: rows are never dropped or added (an outlier flag column may be)."""
        return X

    def report(self) -> dict[str, float]:
        """Numbers worth logging about the last ``fit_resample`` (counts, seconds...)."""
        return {}

    def tags(self) -> dict[str, str]:
        """Facts worth tagging the run with (a parameter adapted, a method switched)."""
        return {}
