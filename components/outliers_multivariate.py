"""Multivariate outlier rules (lecture §2): Mahalanobis, MCD, isolation forest, LOF.

Each checks its footing on the training rows before it inverts anything or starts a slow fit:

* ``mahalanobis``: ``covariance: auto | empirical | ledoit_wolf | oas``. ``empirical`` is the
  lecture's D² = (x − μ)ᵀ Σ⁻¹ (x − μ) > χ²₁₋α(d) and needs n > d: with d ≥ n it refuses on one
  line. ``auto`` uses it when Σ is well conditioned (n > d, rank d, condition number of the
  correlation matrix ≤ ``max_condition``) and otherwise switches, with a warning, to the
  Ledoit–Wolf shrinkage estimate (components/covariance.py). Under shrinkage D² is no longer
  χ²(d), so the cut-off is a robust z-score on the training distances:
  median(D²) + z₁₋α · 1.4826 · MAD(D²).
* ``mcd``: scikit-learn's ``MinCovDet`` needs well over d rows (h = (n + d + 1)/2 rows per
  subset, 500 random subsets, O(d³) each: with d ≫ n it never finishes). ``reduce_to: auto``
  projects, when d > ⌊(n − 1)/2⌋ (where MinCovDet stops working), onto the top
  k = min(rank, ⌊n/5⌋) principal components of the training rows (scikit-learn's PCA; a robust
  Σ in k dims wants n ≥ 5k) and runs MCD there with χ²(k); ``null`` refuses instead.
* every multivariate rule estimates its cost from n and d first (components/cost.py) and
  refuses above ``max_cost_s`` within milliseconds, naming the cheaper alternative.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from scipy import stats

from components.cost import MaxCost, guard
from components.covariance import Estimator, ShrunkSpectrum, choose_estimate, footing
from components.errors import ConfigError
from components.base import CONTRACT
from components.outlier_actions import RUNTIME, outlier_step
from components.outliers import OUTLIERS, Alpha, Detector
from components.registry import Interval

Condition = Annotated[float, Interval(1, None)]
Contamination = Literal["auto"] | Annotated[float, Interval(0, 0.5, "right")]


class MahalanobisRule:
    """D²(x) = (x − μ)ᵀ Σ⁻¹ (x − μ) > cut-off; ``robust`` uses MinCovDet's μ and Σ."""

    def __init__(
        self,
        alpha: float,
        robust: bool,
        seed: int,
        support_fraction: float | None = None,
        covariance: Estimator = "empirical",
        max_condition: float = 1e10,
        reduce_to: Literal["auto"] | int | None = "auto",
        max_cost_s: float | None = None,
        key: str = "outlier",
    ) -> None:
        self.alpha, self.robust, self.seed, self.support_fraction = alpha, robust, seed, support_fraction
        self.covariance, self.max_condition, self.reduce_to, self.max_cost_s, self.key = covariance, max_condition, reduce_to, max_cost_s, key

    def fit(self, X: np.ndarray) -> MahalanobisRule:
        X64 = np.asarray(X, dtype=np.float64)
        self.footing = footing(X64)
        return self._fit_mcd(X64) if self.robust else self._fit_classic(X64)

    def _fit_classic(self, X: np.ndarray) -> MahalanobisRule:
        n, d = X.shape
        f = self.footing
        dense = self.covariance == "empirical" or (self.covariance == "auto" and not f.singular(self.max_condition))
        flops = n * d * d + 10.0 * d**3 if dense else 6.0 * n * d * min(n, d)  # d × d inverse, or the n × d SVD
        guard(self.key, "mahalanobis (covariance + inverse)", n, d, flops, self.max_cost_s, "use outlier=isolation_forest or reducer=pca")
        method = choose_estimate(
            self.covariance, f, self.max_condition, key=self.key, who="outlier (mahalanobis)", stacklevel=2,
            fallback_note="the sample covariance cannot be inverted reliably; using the Ledoit-Wolf shrinkage estimate",
            refusal=("'empirical'", "Σ is singular"),
        )  # fmt: skip
        self.method_used = method
        if method == "empirical":
            self.mean, cov = X.mean(0), np.cov(X, rowvar=False).reshape(d, d)
            self.precision = np.linalg.pinv(cov)
            self.spectrum = None
            self.cutoff = stats.chi2.ppf(1 - self.alpha, d)
            return self
        self.spectrum = ShrunkSpectrum(X, method)
        train = self.spectrum.distances(X)
        median = float(np.median(train)) if n else 0.0
        mad = float(np.median(np.abs(train - median))) * 1.4826 if n else 0.0
        self.cutoff = median + stats.norm.ppf(1 - self.alpha) * mad  # a robust z-score on D²
        return self

    def _fit_mcd(self, X: np.ndarray) -> MahalanobisRule:
        from sklearn.covariance import MinCovDet
        from sklearn.decomposition import PCA

        n, d = X.shape
        room = max(1, n // 5)  # a robust Σ in k dims wants n ≥ 5k rows
        fits = d <= (n - 1) // 2  # where MinCovDet itself works (h = (n + d + 1)/2 rows per subset)
        k = d if self.reduce_to is None or (self.reduce_to == "auto" and fits) else min(self.footing.rank, room) if self.reduce_to == "auto" else min(int(self.reduce_to), d)
        if self.reduce_to is None and not fits:
            raise ConfigError(f"{self.key}.reduce_to: MCD needs n > 2d rows; got {self.footing.describe()}. Use reduce_to=auto (PCA to {min(self.footing.rank, room)} components first), outlier=mahalanobis, or outlier=isolation_forest.")
        k = max(1, k)
        sub = min(n, 1500)  # FastMCD draws subsets of at most 300 rows in at most 5 groups
        flops = 1000.0 * (2 * sub * k * k + k**3) + (n * d * min(n, d) if k < d else 0)
        guard(self.key, f"mcd (MinCovDet in {k} dims)", n, d, flops, self.max_cost_s, "use outlier=mahalanobis (covariance=ledoit_wolf) or outlier=isolation_forest")
        self.pca = None
        if k < d:
            self.pca = PCA(n_components=k, svd_solver="full", random_state=self.seed).fit(X)
            warnings.warn(f"outlier (mcd): {self.footing.describe()}: MCD runs on the top {k} principal components (outlier.reduce_to=auto)", stacklevel=2)
            X = self.pca.transform(X)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The covariance matrix associated to your dataset is not full rank")
            mcd = MinCovDet(random_state=self.seed, support_fraction=self.support_fraction).fit(X)
        self.method_used, self.spectrum = "mcd", None
        self.mean, self.precision = mcd.location_, np.linalg.pinv(mcd.covariance_)
        self.cutoff = stats.chi2.ppf(1 - self.alpha, X.shape[1])
        return self

    def distances(self, X: np.ndarray) -> np.ndarray:
        X64 = np.asarray(X, dtype=np.float64)
        if self.spectrum is not None:
            return self.spectrum.distances(X64)
        if getattr(self, "pca", None) is not None:
            X64 = self.pca.transform(X64)
        d = X64 - self.mean
        return np.einsum("ij,jk,ik->i", d, self.precision, d)

    def flags(self, X: np.ndarray) -> np.ndarray:
        return self.distances(X) > self.cutoff


@dataclass(**CONTRACT)
class _Multivariate(Detector):
    """A fitted ``rule_`` (MahalanobisRule or a scikit-learn detector) behind the detector contract."""

    per_feature: ClassVar[bool] = False

    def flags(self, X: np.ndarray) -> np.ndarray:
        return self.rule_.flags(X)

    def fitted_state(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self.rule_).items() if not callable(v)}

    def report(self) -> dict[str, float]:
        out: dict[str, float] = {}
        foot = getattr(self.rule_, "footing", None)
        if foot is not None:
            out.update({"outlier/rank": float(foot.rank), "outlier/condition": min(foot.condition, 1e300)})
        if getattr(self.rule_, "spectrum", None) is not None:
            out["outlier/shrinkage"] = self.rule_.spectrum.shrinkage_
        return out

    def tags(self) -> dict[str, str]:
        used = getattr(self.rule_, "method_used", None)
        return {"outlier.covariance_used": used} if used else {}


@OUTLIERS.register("mahalanobis", runtime=RUNTIME, wrap=outlier_step)
@dataclass(**CONTRACT)
class Mahalanobis(_Multivariate):
    """D² > χ²₁₋α(d) with the train mean and covariance (empirical, or shrunk when d ≥ n)."""

    alpha: Alpha = 0.01
    covariance: Estimator = "auto"
    max_condition: Condition = 1e10
    max_cost_s: MaxCost = 30.0

    def fit(self, X: np.ndarray) -> Mahalanobis:
        self.rule_ = MahalanobisRule(
            self.alpha, robust=False, seed=0, covariance=self.covariance, max_condition=self.max_condition, max_cost_s=self.max_cost_s
        ).fit(X)
        return self


@OUTLIERS.register("mcd", runtime=RUNTIME, wrap=outlier_step)
@dataclass(**CONTRACT)
class MCD(_Multivariate):
    """Mahalanobis with the Minimum Covariance Determinant (robust) μ and Σ; PCA first when d is large."""

    alpha: Alpha = 0.01
    support_fraction: Annotated[float, Interval(0, 1, "right")] | None = None
    reduce_to: Literal["auto"] | Annotated[int, Interval(1, None)] | None = "auto"
    max_cost_s: MaxCost = 30.0
    seed: int = 0

    def fit(self, X: np.ndarray) -> MCD:
        self.rule_ = MahalanobisRule(
            self.alpha, robust=True, seed=self.seed, support_fraction=self.support_fraction, reduce_to=self.reduce_to, max_cost_s=self.max_cost_s
        ).fit(X)
        return self


@dataclass(**CONTRACT)
class _SklearnDetector(_Multivariate):
    """A scikit-learn novelty detector in ``rule_`` (predict: -1 for an outlier), made by ``_make``."""

    def _make(self, X: np.ndarray) -> Any:
        raise NotImplementedError

    def fit(self, X: np.ndarray) -> _SklearnDetector:
        self.rule_ = self._make(X).fit(X)
        return self

    def flags(self, X: np.ndarray) -> np.ndarray:
        return self.rule_.predict(X) == -1

    def fitted_state(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self.rule_).items() if k.endswith("_")}


@OUTLIERS.register("isolation_forest", runtime=RUNTIME, wrap=outlier_step)
@dataclass(**CONTRACT)
class IsolationForest(_SklearnDetector):
    """scikit-learn's IsolationForest (cost linear in n and d: no guard needed)."""

    contamination: Contamination = "auto"
    n_estimators: Annotated[int, Interval(1, None)] = 100
    seed: int = 0

    def _make(self, X: np.ndarray) -> Any:
        from sklearn.ensemble import IsolationForest as IF

        return IF(contamination=self.contamination, n_estimators=self.n_estimators, random_state=self.seed)


@OUTLIERS.register("lof", runtime=RUNTIME, wrap=outlier_step)
@dataclass(**CONTRACT)
class LOF(_SklearnDetector):
    """scikit-learn's LocalOutlierFactor (novelty mode for evaluation rows); O(n²·d) neighbour search."""

    contamination: Contamination = "auto"
    n_neighbors: Annotated[int, Interval(1, None)] = 20
    max_cost_s: MaxCost = 30.0

    def _make(self, X: np.ndarray) -> Any:
        from sklearn.neighbors import LocalOutlierFactor

        n, d = X.shape
        guard("outlier", "lof (all-pairs neighbour search)", n, d, 3.0 * n * n * d, self.max_cost_s, "use outlier=isolation_forest")
        return LocalOutlierFactor(n_neighbors=self.n_neighbors, contamination=self.contamination, novelty=True)

    def train_flags(self, X: np.ndarray) -> np.ndarray:
        return self.rule_.negative_outlier_factor_ < self.rule_.offset_  # the fit-time scores, not novelty ones
