"""The preprocessing pipeline: outliers (train) -> scaler (fit train, transform all) -> reducer
(fit train, transform all) -> resampler (train).

Mirrors imbalanced-learn's Pipeline: ``fit_resample`` is the fit path and the only place rows
are removed or synthesised; ``transform`` is what validation and test go through: the outlier
step when it clips or flags (a transformer), the fitted scaler and reducer. Nothing here ever sees a validation or test label.
The scaler and the reducer see the first ``n_numeric`` columns only: one-hot columns stay 0/1
behind them (so SMOTE-NC can still read categories back; their indices move by the width the
reducer removed).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from components.base import FittedTransform, TrainOnlySampler
from runner.cache import ResampleCache


@dataclass
class Preprocessor:
    outlier: TrainOnlySampler | FittedTransform
    scaler: FittedTransform
    resampler: TrainOnlySampler
    n_numeric: int | None = None  # None: every column is numeric
    reducer: FittedTransform | None = None  # None: no reduction

    def _numeric(self, X: np.ndarray) -> np.ndarray:
        out = self.scaler.transform(X)
        return out if self.reducer is None else self.reducer.transform(out)

    def _scale(self, X: np.ndarray) -> np.ndarray:
        n = X.shape[1] if self.n_numeric is None else self.n_numeric
        if n == X.shape[1]:
            return self._numeric(X)
        return np.concatenate([self._numeric(X[:, :n]), X[:, n:]], axis=1)

    def fit_resample(
        self, X: np.ndarray, y: np.ndarray, cache: ResampleCache | None = None
    ) -> tuple[np.ndarray, np.ndarray, dict[str, float]]:
        """Fit every step on the training rows; returns the rows to train on and what to log.

        With a ``cache``, the resampler's output is read from it when present (a sweep over
        losses resamples once) and written to it otherwise.
        """
        report: dict[str, float] = {}
        t0 = time.perf_counter()
        if hasattr(self.outlier, "fit_resample"):  # drop: a sampler; clip / flag: transformers
            X, y = self.outlier.fit_resample(X, y)
        else:
            X = self.outlier.fit_transform(X, y)
        report.update(self.outlier.report())
        n = X.shape[1] if self.n_numeric is None else self.n_numeric
        self.scaler.fit(X[:, :n], y)
        report.update(getattr(self.scaler, "report", dict)())
        numeric = self.scaler.transform(X[:, :n])  # once: the reducer fits on it and keeps it
        if self.reducer is not None:
            self.reducer.fit(numeric, y)
            report.update(self.reducer.report())
            self._shift_categorical_groups(self.reducer.n_features_out_ - n)
            numeric = self.reducer.transform(numeric)
        X = numeric if n == X.shape[1] else np.concatenate([numeric, X[:, n:]], axis=1)
        t1 = time.perf_counter()
        hit = cache.load() if cache is not None else None
        if hit is not None:
            X, y, cached_report, self._resampler_tags = hit
            report.update(cached_report)
        else:
            X, y = self.resampler.fit_resample(X, y)
            report.update(self.resampler.report())
            self._resampler_tags = self.resampler.tags()
            if cache is not None:
                cache.save(X, y, self.resampler.report(), self._resampler_tags)
        if cache is not None:
            report["resample/cache_hit"] = float(hit is not None)
        report["time/preprocess_s"] = t1 - t0
        report["time/resample_s"] = time.perf_counter() - t1
        return X, y, report

    def _shift_categorical_groups(self, shift: int) -> None:
        """One-hot columns sit behind the numeric block: the reducer moved them by ``shift``."""
        groups = getattr(self.resampler, "categorical_groups", None)
        if shift and groups:
            self.resampler.categorical_groups = [[i + shift for i in g] for g in groups]

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Validation/test path: outlier clip/flag, the fitted scaler and reducer; no row is dropped or added."""
        return self._scale(self.outlier.transform(X) if hasattr(self.outlier, "transform") else X)

    def tags(self) -> dict[str, str]:
        return {**self.outlier.tags(), **getattr(self, "_resampler_tags", {})}

    def fitted_state(self) -> dict[str, Any]:
        return {
            name: step.fitted_state()
            for name, step in (("outlier", self.outlier), ("scaler", self.scaler), ("reducer", self.reducer), ("resampler", self.resampler))
            if step is not None
        }
