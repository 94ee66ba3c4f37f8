"""Outlier detection on the training split (lecture §2).

Outlier steps are train-only resamplers: ``fit_resample`` may drop, clip or flag training
rows, and validation/test rows are never touched. Only ``none`` lives here so far; the
detectors (z-score, IQR, Grubbs, Mahalanobis, MCD, isolation forest, LOF) register here too.
"""
from __future__ import annotations

import numpy as np

from components.base import TrainOnlyResampler
from components.registry import get_registry

OUTLIERS = get_registry("outlier")


@OUTLIERS.register("none")
class NoOutlierRemoval(TrainOnlyResampler):
    """Keep every training row."""

    def fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.n_flagged_ = 0
        return X, y

    def report(self) -> dict[str, float]:
        return {"outlier/rows_flagged": float(getattr(self, "n_flagged_", 0))}
