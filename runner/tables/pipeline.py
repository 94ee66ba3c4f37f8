"""The preprocessing pipeline, as an ``imblearn.pipeline.Pipeline``: outliers -> scaler -> reducer
-> resampler -> one-hot.

Public API (also what a pickled, served model calls on raw rows):
``TableEncoder.transform(ds)`` -> encoded matrix (categorical codes, then numeric columns);
``Preprocessor.fit_resample(X, y, cache)`` -> the rows to train on, their labels and what to log;
``Preprocessor.transform(X)`` -> the float32 matrix the model's tensors are made from.

Column roles (``runner.tables.encoding.ColumnRoles``) decide who sees what, ColumnTransformer-style:
the outlier method, the scaler and the reducer act on the numeric columns only; categorical codes
pass through them untouched, and reach the resampler, which gets their indices natively
(``categorical_features``: SMOTE-NC / SMOTE-N). One-hot encoding is the last step, just before
tensors: the model sees ``[numeric (+ outlier flag) | one-hot]``.

imbalanced-learn's Pipeline runs the chain, so its rule holds by construction: ``fit_resample``
is the fit path and the only place rows are removed or synthesised; ``transform`` (validation,
test, serving) skips every sampler and applies the fitted transformers: outlier clip/flag, the
scaler, the reducer and the one-hot step. Nothing here ever sees a validation or test label.
Where it needs help, and why:
* the outlier step is a sampler when it drops rows and a transformer when it clips or flags
  (components/outlier_actions.py); an adapter runs either on the numeric columns only:
  ``OutlierRows`` keeps the kept rows' categorical codes (``sample_indices_``), ``OutlierColumns``
  puts a flag column at the end of the numeric block. ``ColumnTransformer`` cannot do this: it
  would clone the step and has no ``fit_resample``.
* ``Pipeline.fit_transform`` returns no labels, so the chain is fitted as
  ``pipeline_[:-1].fit_resample`` (ending at the resampler, labels included) and then the one-hot
  step; ``pipeline_.transform`` covers the whole chain.
* without metadata routing, a ``step__param`` fit parameter never reaches a final sampler, so the
  resample cache is the ``Resample`` step's constructor argument (cleared after fitting).
* ``ColumnTransformer`` fits clones of the scaler and reducer (they round-trip ``clone``); the
  fitted ones are ``Preprocessor.fitted(name)``. Outlier and resampler steps are wrapped, not cloned.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from imblearn.pipeline import Pipeline
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError

from components.base import FittedTransform, TrainOnlySampler
from components.errors import ConfigError
from components.resamplers import CATEGORICAL_OK, categorical_problem
from runner.jobs.cache import ResampleCache
from runner.tables.encoding import ColumnRoles, OneHotLast


def _around(X: np.ndarray, block: slice, inner: np.ndarray, rows: Any = slice(None)) -> np.ndarray:
    """``X`` with its ``block`` columns replaced by ``inner`` (which may be wider or have fewer rows)."""
    if block.start == 0 and block.stop >= X.shape[1]:
        return inner
    return np.concatenate([X[rows, : block.start], inner, X[rows, block.stop :]], axis=1)


class OutlierRows(BaseEstimator):
    """An outlier step that drops rows, as a Pipeline sampler: it detects on the numeric columns,
    and the rows it keeps keep their categorical codes (``sample_indices_``)."""

    def __init__(self, step: TrainOnlySampler, numeric: slice) -> None:
        self.step = step
        self.numeric = numeric

    def fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Xn, yk = self.step.fit_resample(X[:, self.numeric], y)
        rows = slice(None) if len(yk) == len(y) else getattr(self.step, "sample_indices_", None)
        if rows is None and Xn.shape[1] != X.shape[1]:
            raise TypeError(f"outlier step {type(self.step).__name__} dropped rows without sample_indices_ (which rows it kept)")
        return _around(X, self.numeric, Xn, rows), yk


class OutlierColumns(BaseEstimator):
    """An outlier step that clips or flags, as a Pipeline transformer on the numeric columns
    (a flag column joins the end of the numeric block; the scaler and reducer leave it as it is)."""

    def __init__(self, step: FittedTransform, numeric: slice) -> None:
        self.step = step
        self.numeric = numeric

    def fit(self, X: np.ndarray, y: np.ndarray) -> OutlierColumns:
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Training rows as the step's ``fit_transform`` returns them (flag: the fit-time flags, which
        iterative tests compute their own way on train)."""
        Xn = self.step.fit_transform(X[:, self.numeric], y)
        self.fitted_ = True
        return _around(X, self.numeric, Xn)

    def transform(self, X: np.ndarray) -> np.ndarray:
        return _around(X, self.numeric, self.step.transform(X[:, self.numeric]))


def on_numeric(step: FittedTransform, roles: ColumnRoles) -> ColumnTransformer:
    """``step`` on the numeric block; categorical codes before it and an outlier flag after it pass through."""
    return ColumnTransformer(
        [("categorical", "passthrough", roles.categorical_features), ("numeric", step, roles.numeric_features)],
        remainder="passthrough", sparse_threshold=0.0, verbose_feature_names_out=False,
    )  # fmt: skip


class Resample(BaseEstimator):
    """The resampler as a Pipeline sampler; with a ``cache`` its output is read from the resample
    cache when present (a sweep over losses resamples once) and written otherwise. The cache is a
    constructor argument, not a fit parameter: imbalanced-learn 0.14's Pipeline forwards
    ``step__param`` fit parameters to a final sampler only under metadata routing."""

    def __init__(self, resampler: TrainOnlySampler, cache: ResampleCache | None = None) -> None:
        self.resampler = resampler
        self.cache = cache

    def fit(self, X: np.ndarray, y: np.ndarray) -> Resample:
        self.fit_resample(X, y)
        return self

    def fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t0, cache = time.perf_counter(), self.cache
        hit = cache.load() if cache is not None else None
        if hit is not None:
            X, y, self.report_, self.tags_ = hit
        else:
            X, y = self.resampler.fit_resample(X, y)
            self.report_, self.tags_ = self.resampler.report(), self.resampler.tags()
            if cache is not None:
                cache.save(X, y, self.report_, self.tags_)
        if cache is not None:
            self.report_ = {**self.report_, "resample/cache_hit": float(hit is not None)}
        self._seconds = time.perf_counter() - t0
        return X, y


@dataclass
class Preprocessor:
    """The job's unfitted steps and the roles of the encoded columns (None: every column numeric)."""

    outlier: TrainOnlySampler | FittedTransform
    scaler: FittedTransform
    resampler: TrainOnlySampler
    roles: ColumnRoles | None = None
    reducer: FittedTransform | None = None  # None: no reduction

    def __post_init__(self) -> None:
        if self.roles is None or not self.roles.categorical:
            return
        problem = categorical_problem(self.resampler)
        if problem:
            raise ConfigError(
                f"resampler.name: {problem}, which would destroy the categorical column(s) "
                f"{', '.join(self.roles.categorical)}; {CATEGORICAL_OK} (or leave those columns out with dataset.features)."
            )
        given = list(getattr(self.resampler, "categorical_features", self.roles.categorical_features))
        if given != self.roles.categorical_features:
            raise ValueError(f"the resampler was built with categorical_features={given}; these roles need {self.roles.categorical_features}")

    def roles_for(self, n_columns: int) -> ColumnRoles:
        """The roles of an encoded matrix of ``n_columns`` columns (without roles: all numeric)."""
        return self.roles or ColumnRoles(numeric=tuple(str(i) for i in range(n_columns)))

    def pipeline(self, n_columns: int, cache: ResampleCache | None = None) -> Pipeline:
        """The imbalanced-learn Pipeline over an encoded matrix of ``n_columns`` columns (unfitted)."""
        roles = self.roles_for(n_columns)
        drops = hasattr(self.outlier, "fit_resample")  # drop: a sampler; clip / flag: transformers
        outlier = (OutlierRows if drops else OutlierColumns)(self.outlier, roles.numeric_features)
        reducer = on_numeric(self.reducer, roles) if self.reducer is not None else "passthrough"
        steps = [("outlier", outlier), ("scaler", on_numeric(self.scaler, roles)), ("reducer", reducer)]
        if not roles.numeric:  # all-categorical: nothing for the numeric steps to see
            steps = [(name, "passthrough") for name, _ in steps]
        return Pipeline([*steps, ("resampler", Resample(self.resampler, cache)), ("onehot", OneHotLast(roles))])

    def fit_resample(
        self, X: np.ndarray, y: np.ndarray, cache: ResampleCache | None = None
    ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        """Fit every step on the training rows; returns the rows to train on and what to log."""
        t0 = time.perf_counter()
        self.pipeline_ = self.pipeline(X.shape[1], cache)
        X, y = self.pipeline_[:-1].fit_resample(X, y)  # up to the resampler: rows change
        X = self.pipeline_[-1].fit_transform(X, y)
        self.pipeline_.named_steps["resampler"].cache = None  # a fitted preprocessor holds no path to this machine's cache
        seconds = time.perf_counter() - t0
        report: dict[str, float] = {}
        for step in (self.fitted("outlier"), self.fitted("scaler"), self.fitted("reducer")):
            report.update(getattr(step, "report", dict)())
        resample = self.pipeline_.named_steps["resampler"]
        report.update(resample.report_)
        report["time/preprocess_s"] = seconds - resample._seconds
        report["time/resample_s"] = resample._seconds
        return X, y, report

    def _fitted_pipeline(self) -> Pipeline:
        if not hasattr(self, "pipeline_"):
            raise NotFittedError("Preprocessor: call fit_resample before transform.")
        return self.pipeline_

    def fitted(self, name: str) -> Any:
        """The fitted ``outlier``, ``scaler``, ``reducer`` or ``resampler`` (ColumnTransformer fits a clone)."""
        step = self._fitted_pipeline().named_steps[name]
        if isinstance(step, ColumnTransformer):
            return step.named_transformers_["numeric"]
        return getattr(step, "step", getattr(step, "resampler", None))

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Validation/test/serving path: outlier clip/flag, scaler, reducer, one-hot; no row dropped or added."""
        return self._fitted_pipeline().transform(X)

    def without_resampler(self) -> Preprocessor:
        """A shallow copy for serving: the same fitted steps, the train-only resampler left out (its
        place in the Pipeline is ``passthrough``, which ``transform`` skipped anyway)."""
        out = copy.copy(self)
        out.resampler = None  # type: ignore[assignment]
        if hasattr(self, "pipeline_"):
            out.pipeline_ = Pipeline([(n, "passthrough" if n == "resampler" else s) for n, s in self.pipeline_.steps])
        return out

    def tags(self) -> dict[str, str]:
        resample = self.pipeline_.named_steps["resampler"] if hasattr(self, "pipeline_") else None
        outlier = self.fitted("outlier") if resample is not None else None
        return {**getattr(outlier, "tags", dict)(), **getattr(resample, "tags_", {})}

    def fitted_state(self) -> dict[str, Any]:
        steps = {name: self.fitted(name) for name in ("outlier", "scaler", "reducer", "resampler")}
        return {name: step.fitted_state() for name, step in steps.items() if step is not None}
