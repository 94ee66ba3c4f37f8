"""Feature scalers (lecture §1), fitted on the training split only.

standard, minmax, robust and l2 wrap scikit-learn; whiten (ZCA and PCA whitening) is written
here because scikit-learn has no ZCA (its shrinkage coefficients come from scikit-learn). ``none`` is the raw arm of comparisons.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from sklearn import preprocessing

from components.base import FittedTransform
from components.cost import MaxCost, guard
from components.covariance import Estimator, ShrunkSpectrum, choose_estimate, footing
from components.registry import Interval, get_registry
from components.schema import need_ordered

SCALERS = get_registry("scaler")


@SCALERS.register("none")
class Identity(FittedTransform):
    """No scaling: the "raw" arm of a comparison (and what trees want)."""

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Identity:
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        self._check()
        return X


class _SklearnScaler(FittedTransform):
    """Holds a fitted scikit-learn transformer in ``inner_``."""

    def _make(self) -> Any:
        raise NotImplementedError

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> _SklearnScaler:
        self.inner_ = self._make().fit(X)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        self._check()
        return self.inner_.transform(X).astype(X.dtype, copy=False)

    def fitted_state(self) -> dict[str, object]:
        self._check()
        return {k: v for k, v in vars(self.inner_).items() if k.endswith("_")}


@SCALERS.register("standard")
class Standard(_SklearnScaler):
    """z = (x − μ) / σ with the population σ from train; σ = 0 features are left unscaled."""

    def __init__(self, *, with_mean: bool = True, with_std: bool = True) -> None:
        self.with_mean = with_mean
        self.with_std = with_std

    def _make(self) -> preprocessing.StandardScaler:
        return preprocessing.StandardScaler(with_mean=self.with_mean, with_std=self.with_std)


@SCALERS.register("minmax")
class MinMax(_SklearnScaler):
    """x' = a + (x − min)(b − a)/(max − min), range [a, b]; ``clip`` bounds unseen values."""

    def __init__(self, *, a: float = 0.0, b: float = 1.0, clip: bool = False) -> None:
        self.a = a
        self.b = b
        self.clip = clip

    @classmethod
    def check_params(cls, params: dict[str, Any], key: str) -> None:
        need_ordered(cls, params, key, "a", "b")

    def _make(self) -> preprocessing.MinMaxScaler:
        return preprocessing.MinMaxScaler(feature_range=(self.a, self.b), clip=self.clip)


@SCALERS.register("robust")
class Robust(_SklearnScaler):
    """x' = (x − median) / (Q3 − Q1); quantiles configurable, robust to outliers."""

    def __init__(
        self,
        *,
        q_low: Annotated[float, Interval(0, 100, "left")] = 25.0,
        q_high: Annotated[float, Interval(0, 100, "right")] = 75.0,
    ) -> None:
        self.q_low = q_low
        self.q_high = q_high

    @classmethod
    def check_params(cls, params: dict[str, Any], key: str) -> None:
        need_ordered(cls, params, key, "q_low", "q_high")

    def _make(self) -> preprocessing.RobustScaler:
        return preprocessing.RobustScaler(quantile_range=(self.q_low, self.q_high))


@SCALERS.register("l2")
class L2(_SklearnScaler):
    """x' = x / ‖x‖₂ per row: keeps cosine similarity; stateless, fitted for the contract."""

    def _make(self) -> preprocessing.Normalizer:
        return preprocessing.Normalizer(norm="l2")


@SCALERS.register("whiten")
class Whiten(FittedTransform):
    """x' = W (x − μ) with output covariance I (written here: scikit-learn has no ZCA).

    ``zca``: W = U diag(1/√λ̃) Uᵀ (stays closest to the input, good for images);
    ``pca``: W = diag(1/√λ̃) Uᵀ (components by decreasing variance, as PCA(whiten=True)),
    with λ̃ = max(λ, eps · λ_max). Σ uses the n − 1 denominator, as scikit-learn's PCA does.
    ``eps`` is relative to the spectrum and a floor, not an addend: every direction above it is
    whitened exactly (variance 1 on the training rows), only the ones below, which a float64
    eigen-decomposition cannot resolve (≈ d · 2.2e-16 · λ_max), are held at it. Raw
    breast_cancer spans λ_min / λ_max = 6.9e-13: a fixed ε = 1e-5 left 4 of 30 directions at
    variance down to 0.085, and an added ε = 1e-12 · λ_max still left one at 0.41.

    ``covariance``: with d ≥ n the sample Σ has rank ≤ n − 1 and Σ^(−1/2) multiplies every
    direction the training rows do not span by 1/√ε on new rows: noise becomes the largest
    feature (test ROC-AUC 0.34 on a 63 × 2,308 table). ``auto`` keeps the sample covariance when
    n > d and the train correlation matrix's condition number is ≤ ``max_condition``, and
    otherwise whitens with the Ledoit–Wolf estimate of the standardised features (a warning says
    so); ``ledoit_wolf`` / ``oas`` always do; ``empirical`` refuses d ≥ n. Shrinkage never forms
    a d × d matrix (components/covariance.py), so it costs O(n·d·min(n, d)).
    """

    def __init__(
        self,
        *,
        method: Literal["zca", "pca"] = "zca",
        eps: Annotated[float, Interval(0, 1)] = 1e-14,
        covariance: Estimator = "auto",
        max_condition: Annotated[float, Interval(1, None)] = 1e10,
        max_cost_s: MaxCost = 30.0,
    ) -> None:
        self.method = method
        self.eps = eps
        self.covariance = covariance
        self.max_condition = max_condition
        self.max_cost_s = max_cost_s

    def _choose(self, X: np.ndarray) -> str:
        f = self.footing_ = footing(X)
        n, d = X.shape
        method = choose_estimate(
            self.covariance, f, self.max_condition, key="scaler", who="scaler (whiten)", stacklevel=3,
            fallback_note="the sample covariance is singular or ill-conditioned; whitening with the Ledoit-Wolf shrinkage estimate",
            refusal=("'empirical' whitening", "Σ^(-1/2) would amplify the directions train does not span"),
        )  # fmt: skip
        flops = n * d * d + 10.0 * d**3 if method == "empirical" else 6.0 * n * d * min(n, d)
        guard("scaler", f"whiten ({method} covariance)", n, d, flops, self.max_cost_s, "use scaler=standard, or reducer=pca with reducer.whiten=true")
        return method

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> Whiten:
        X64 = np.asarray(X, dtype=np.float64)
        self.covariance_used_ = self._choose(X64)
        if self.covariance_used_ != "empirical":
            self.spectrum_ = ShrunkSpectrum(X64, self.covariance_used_)  # type: ignore[arg-type]
            return self
        self.mean_ = X64.mean(axis=0)
        cov = np.cov(X64 - self.mean_, rowvar=False).reshape(X.shape[1], X.shape[1])
        eigvals, eigvecs = np.linalg.eigh(cov)
        order = np.argsort(eigvals)[::-1]
        eigvals, eigvecs = np.clip(eigvals[order], 0.0, None), eigvecs[:, order]
        floor = self.eps * eigvals[:1].max(initial=0.0)
        inv_sqrt = 1.0 / np.sqrt(np.maximum(eigvals, floor) + np.finfo(np.float64).tiny)
        pca = inv_sqrt[:, None] * eigvecs.T
        self.components_ = eigvecs @ pca if self.method == "zca" else pca
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        self._check()
        if self.covariance_used_ != "empirical":
            return self.spectrum_.whiten(X, self.method, self.eps).astype(X.dtype, copy=False)
        return ((np.asarray(X, dtype=np.float64) - self.mean_) @ self.components_.T).astype(X.dtype, copy=False)

    def report(self) -> dict[str, float]:
        f = self.footing_
        out = {"scaler/rank": float(f.rank), "scaler/condition": min(f.condition, 1e300)}
        if self.covariance_used_ != "empirical":
            out["scaler/shrinkage"] = self.spectrum_.shrinkage_
        return out
