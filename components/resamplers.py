"""Class-imbalance resamplers (lecture §3), applied to the training split only.

Like imbalanced-learn's Pipeline, the runner calls ``fit_resample`` on the fit path alone:
validation and test keep their true class distribution. Only ``none`` lives here so far.
"""
from __future__ import annotations

import numpy as np

from components.base import TrainOnlyResampler
from components.registry import get_registry

RESAMPLERS = get_registry("resampler")


@RESAMPLERS.register("none")
class NoResampling(TrainOnlyResampler):
    """Train on the split as it is."""

    def fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.n_synthetic_ = 0
        return X, y

    def report(self) -> dict[str, float]:
        return {"resample/synthetic_rows": float(getattr(self, "n_synthetic_", 0))}
