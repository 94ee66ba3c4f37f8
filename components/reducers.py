"""Dimension reduction between the scaler and the resampler, fitted on the training split only.

Wide tables (features ≫ rows: omics, embeddings, one-hot-heavy data) make every distance,
covariance and neighbour search downstream slow or meaningless; the usual remedy is to reduce
first. Each reducer wraps scikit-learn:

* ``pca``: ``sklearn.decomposition.PCA``; ``n_components`` a count (int ≥ 1) or the share of
  variance to keep (a float in (0, 1)); ``whiten`` as PCA(whiten=True). A count above
  min(n, d) is lowered to it with a warning (PCA cannot find more directions than that).
* ``random_projection``: Johnson–Lindenstrauss (``GaussianRandomProjection`` or
  ``SparseRandomProjection``); ``n_components: auto`` takes the JL bound for ``eps`` distortion,
  4 ln n / (ε²/2 − ε³/3), and refuses on one line when that exceeds d (it would not reduce).
* ``variance_threshold``: ``VarianceThreshold``, drops features whose train variance ≤ threshold.
* ``none``: identity.

They act on the numeric columns (categorical codes pass by them, runner/tables/pipeline.py) and log
``data/n_features_in``, ``data/n_features_out`` and, for pca, ``reducer/explained_variance``.
"""
from __future__ import annotations

import warnings
from typing import Annotated, Any, Literal

import numpy as np

from components.base import FittedTransform
from components.errors import ConfigError
from components.registry import Interval, get_registry

REDUCERS = get_registry("reducer")
Count = Annotated[int, Interval(1, None)]


class _Reducer(FittedTransform):
    """Shared fit/transform/report around a scikit-learn transformer in ``inner_``."""

    seed: int = 0
    _label = "reducer"

    def _make(self, X: np.ndarray) -> Any:
        raise NotImplementedError

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> _Reducer:
        self.n_features_in_ = X.shape[1]
        self.inner_ = self._make(X)
        try:
            self.inner_.fit(X)
        except ValueError as exc:  # e.g. no feature above a variance threshold
            raise ConfigError(f"reducer ({self._label}): {str(exc).splitlines()[0]}") from exc
        self.n_features_out_ = int(self.inner_.transform(X[:1]).shape[1])
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        self._check()
        return self.inner_.transform(X).astype(X.dtype, copy=False)

    def report(self) -> dict[str, float]:
        return {"data/n_features_in": float(self.n_features_in_), "data/n_features_out": float(self.n_features_out_)}

    def fitted_state(self) -> dict[str, object]:
        self._check()
        return {k: v for k, v in vars(self.inner_).items() if k.endswith("_")}


@REDUCERS.register("none", runtime=("seed",))
class NoReduction(FittedTransform):
    """Keep every feature."""

    def __init__(self, *, seed: int = 0) -> None:
        self.seed = seed

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> NoReduction:
        self.n_features_in_ = self.n_features_out_ = X.shape[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        self._check()
        return X

    def report(self) -> dict[str, float]:
        return {"data/n_features_in": float(self.n_features_in_), "data/n_features_out": float(self.n_features_out_)}


@REDUCERS.register("pca", runtime=("seed",))
class PCA(_Reducer):
    """Principal components of the training rows: a count, or the variance share to keep."""

    def __init__(
        self,
        *,
        n_components: Count | Annotated[float, Interval(0, 1, "neither")] = 0.95,
        whiten: bool = False,
        svd_solver: Literal["auto", "full", "randomized", "covariance_eigh"] = "auto",
        seed: int = 0,
    ) -> None:
        self.n_components = n_components
        self.whiten = whiten
        self.svd_solver = svd_solver
        self.seed = seed

    def _make(self, X: np.ndarray) -> Any:
        from sklearn.decomposition import PCA as SkPCA

        k: int | float = self.n_components
        limit = min(X.shape)
        if isinstance(k, int) and k > limit:
            warnings.warn(f"reducer.n_components={k} > min(n, d) = min{X.shape}: keeping {limit} components", stacklevel=3)
            k = limit
        return SkPCA(n_components=k, whiten=self.whiten, svd_solver=self.svd_solver, random_state=self.seed)

    def report(self) -> dict[str, float]:
        return {**super().report(), "reducer/explained_variance": float(self.inner_.explained_variance_ratio_.sum())}


@REDUCERS.register("random_projection", runtime=("seed",))
class RandomProjection(_Reducer):
    """Johnson–Lindenstrauss random projection (pairwise distances kept within 1 ± eps)."""

    def __init__(
        self,
        *,
        n_components: Literal["auto"] | Count = "auto",
        eps: Annotated[float, Interval(0, 1, "neither")] = 0.1,
        kind: Literal["gaussian", "sparse"] = "gaussian",
        seed: int = 0,
    ) -> None:
        self.n_components = n_components
        self.eps = eps
        self.kind = kind
        self.seed = seed

    def _make(self, X: np.ndarray) -> Any:
        from sklearn import random_projection as rp
        from sklearn.random_projection import johnson_lindenstrauss_min_dim

        n, d = X.shape
        if self.n_components == "auto":
            k = int(johnson_lindenstrauss_min_dim(n_samples=n, eps=self.eps))
            if k > d:
                raise ConfigError(
                    f"reducer.eps: the Johnson-Lindenstrauss dimension for n={n} rows at eps={self.eps:g} is {k} > d={d} "
                    f"features (no reduction). Raise reducer.eps, set reducer.n_components, or use reducer=pca."
                )
        cls = rp.GaussianRandomProjection if self.kind == "gaussian" else rp.SparseRandomProjection
        return cls(n_components=self.n_components, eps=self.eps, random_state=self.seed)


@REDUCERS.register("variance_threshold", runtime=("seed",))
class VarianceThreshold(_Reducer):
    """Drop features whose training variance is at most ``threshold`` (0: the constant ones)."""

    _label = "variance_threshold"

    def __init__(self, *, threshold: Annotated[float, Interval(0, None)] = 0.0, seed: int = 0) -> None:
        self.threshold = threshold
        self.seed = seed

    def _make(self, X: np.ndarray) -> Any:
        from sklearn.feature_selection import VarianceThreshold as SkVT

        return SkVT(threshold=self.threshold)
