"""Covariance estimates that know their footing: n, d, rank and condition number on train.

Mahalanobis distances and whitening invert or factorise Σ. With d ≥ n (wide tables) the
sample covariance has rank ≤ n − 1: Σ⁻¹ does not exist, a pseudo-inverse silently ignores the
directions the training rows do not span, and Σ^(−1/2) with a small ε amplifies exactly those
directions on new rows (the worse-than-chance whitening of issue 14). Two remedies here:

* :func:`footing` measures n, d, the numerical rank and the condition number of the training
  *correlation* matrix (units do not matter) before anything is inverted;
* :class:`ShrunkSpectrum` is the Ledoit–Wolf or OAS estimate Σ̂ = (1 − s)·S + s·μ·I of the
  standardised features (S the biased sample covariance, μ = tr S / d), with the shrinkage s
  from scikit-learn (``ledoit_wolf_shrinkage`` / ``OAS``). Σ̂ is kept in its eigenbasis
  without ever forming a d × d matrix: the r ≤ n − 1 eigenvectors of S from one SVD of the
  n × d training rows, eigenvalues (1 − s)λᵢ + sμ on them and sμ on the rest. Distances and
  whitening then cost O(n·d·r), not O(d³). tests/test_covariance.py checks both against
  scikit-learn's full ``LedoitWolf().covariance_`` / ``OAS().covariance_``.

Standardising first (shrinking the correlation matrix, not the covariance) keeps the estimate
independent of units: shrinking raw features toward μ·I would drown small-unit features.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np

from components.errors import ConfigError

Estimator = Literal["auto", "empirical", "ledoit_wolf", "oas"]
SHRINKAGE = ("ledoit_wolf", "oas")


@dataclass(frozen=True)
class Footing:
    """What the training split can support: rows, features, numerical rank, condition number."""

    n: int
    d: int
    rank: int
    condition: float

    def describe(self) -> str:
        return f"n={self.n} rows, d={self.d} features, rank {self.rank}, condition number {self.condition:.3g}"

    def singular(self, max_condition: float) -> bool:
        """True when the sample covariance cannot be inverted reliably."""
        return self.d >= self.n or self.rank < self.d or not self.condition <= max_condition


def choose_estimate(
    requested: str, f: Footing, max_condition: float, *, key: str, who: str, fallback_note: str, refusal: str, stacklevel: int
) -> str:
    """The covariance estimate to use, shared by every component that inverts one.

    ``auto`` keeps the sample covariance on a sound footing and otherwise shrinks it (Ledoit-Wolf)
    with one warning naming n, d, rank, condition number and the options; ``empirical`` with
    d >= n refuses at once (``refusal`` says what would go wrong); shrinkage estimates pass.
    """
    if requested == "auto":
        if not f.singular(max_condition):
            return "empirical"
        warnings.warn(
            f"{who}: {f.describe()}: {fallback_note} (options: {key}.covariance=ledoit_wolf|oas|empirical, or reducer=pca)",
            stacklevel=stacklevel + 1,
        )
        return "ledoit_wolf"
    if requested == "empirical" and f.d >= f.n:
        raise ConfigError(
            f"{key}.covariance: {refusal[0]} needs more rows than features; got {f.describe()} ({refusal[1]}). "
            f"Use covariance=auto, ledoit_wolf or oas, or reducer=pca first."
        )
    return requested


def standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(centred and scaled rows, mean, scale) with the population σ; constant features keep σ = 1."""
    X64 = np.asarray(X, dtype=np.float64)
    mean = X64.mean(axis=0)
    scale = X64.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    return (X64 - mean) / scale, mean, scale


def _eigenvalues(Z: np.ndarray) -> np.ndarray:
    """Eigenvalues of the (biased) covariance of centred rows Z, from the smaller Gram matrix."""
    n, d = Z.shape
    gram = Z.T @ Z if d <= n else Z @ Z.T
    return np.clip(np.linalg.eigvalsh(gram / max(n, 1))[::-1], 0.0, None)


def footing(X: np.ndarray) -> Footing:
    """n, d, numerical rank and condition number of the correlation matrix of X (constant
    features excluded: they are harmless to every estimator here). Cost O(n·d·min(n, d))."""
    n, d = X.shape
    Z, _, _ = standardise(X)
    varying = np.asarray(X, dtype=np.float64).std(axis=0) > 0
    lam = _eigenvalues(Z[:, varying]) if varying.any() and n > 1 else np.zeros(1)
    top = lam[0] if len(lam) else 0.0
    tol = top * max(n, d) * np.finfo(np.float64).eps
    rank = int((lam > tol).sum())
    m = int(varying.sum())
    condition = float(top / lam[m - 1]) if rank >= m and m > 0 and lam[m - 1] > 0 else float("inf")
    return Footing(n, d, rank, condition)


def shrinkage(Z: np.ndarray, method: Literal["ledoit_wolf", "oas"]) -> float:
    """scikit-learn's shrinkage coefficient s for centred, standardised rows Z."""
    from sklearn.covariance import OAS, ledoit_wolf_shrinkage

    if method == "ledoit_wolf":
        return float(ledoit_wolf_shrinkage(Z, assume_centered=True))
    return float(OAS(assume_centered=True, store_precision=False).fit(Z).shrinkage_)


class ShrunkSpectrum:
    """Σ̂ = (1 − s)·S + s·μ·I of the standardised training rows, held as its eigen-decomposition."""

    def __init__(self, X: np.ndarray, method: Literal["ledoit_wolf", "oas"]) -> None:
        Z, self.mean_, self.scale_ = standardise(X)
        n, d = Z.shape
        self.shrinkage_ = shrinkage(Z, method)
        _, sv, vt = np.linalg.svd(Z, full_matrices=False)  # O(n·d·min(n, d))
        lam = sv**2 / n
        keep = lam > lam[:1].max(initial=0.0) * max(n, d) * np.finfo(np.float64).eps
        mu = float((Z**2).sum() / (n * d)) if n and d else 1.0
        self.basis_ = vt[keep].T  # d × r: the directions the training rows span
        self.values_ = (1 - self.shrinkage_) * lam[keep] + self.shrinkage_ * mu
        self.tail_ = self.shrinkage_ * mu  # the eigenvalue of every other direction (0 without shrinkage)

    def standardised(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_

    def distances(self, X: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distances under Σ̂ (of the standardised features)."""
        Z = self.standardised(X)
        proj = Z @ self.basis_
        rest = np.maximum((Z**2).sum(axis=1) - (proj**2).sum(axis=1), 0.0)
        return (proj**2 / self.values_).sum(axis=1) + (rest / self.tail_ if self.tail_ > 0 else 0.0)

    def whiten(self, X: np.ndarray, method: Literal["zca", "pca"], eps: float) -> np.ndarray:
        """Σ̂^(−1/2) z (zca) or diag(λ̂^(−1/2)) Vᵀ z (pca; the d − r unspanned directions are zeros)."""
        floor = eps * max(float(self.values_.max(initial=0.0)), self.tail_)
        Z = self.standardised(X)
        proj = Z @ self.basis_
        inv = 1.0 / np.sqrt(self.values_ + floor)
        if method == "pca":
            out = np.zeros_like(Z)
            out[:, : proj.shape[1]] = proj * inv
            return out
        tail = 1.0 / np.sqrt(self.tail_ + floor) if self.tail_ + floor > 0 else 0.0
        return tail * Z + (proj * (inv - tail)) @ self.basis_.T
