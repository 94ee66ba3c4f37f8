"""A torch nearest-neighbour estimator with scikit-learn's ``kneighbors`` API.

imbalanced-learn's samplers accept any estimator with ``kneighbors`` and ``kneighbors_graph``
for their ``k_neighbors``/``m_neighbors``/``n_neighbors`` arguments; this one runs the
distance matrix and top-k on the training device (exact Euclidean search, blocked so the
distance block stays within ``block_bytes``). On CPU scikit-learn's trees are usually faster,
so ``neighbors: auto`` picks this one only when training on CUDA.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy import sparse
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted


class TorchNearestNeighbors(BaseEstimator):
    """Exact k-nearest neighbours (Euclidean) computed with torch on ``device``."""

    def __init__(self, n_neighbors: int = 5, *, device: str = "cpu", block_bytes: int = 256 * 2**20) -> None:
        self.n_neighbors = n_neighbors
        self.device = device
        self.block_bytes = block_bytes

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> TorchNearestNeighbors:
        self.fit_X_ = torch.as_tensor(np.asarray(X, dtype=np.float32), device=self.device)
        self.sq_norms_ = (self.fit_X_ * self.fit_X_).sum(1)
        self.n_samples_fit_ = self.fit_X_.shape[0]
        return self

    def kneighbors(
        self, X: np.ndarray | None = None, n_neighbors: int | None = None, return_distance: bool = True
    ) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
        """Like ``sklearn.neighbors.NearestNeighbors.kneighbors`` (X=None excludes each point itself)."""
        check_is_fitted(self)
        k = n_neighbors or self.n_neighbors
        query_is_fit = X is None
        Q = self.fit_X_ if query_is_fit else torch.as_tensor(np.asarray(X, dtype=np.float32), device=self.device)
        k_search = k + 1 if query_is_fit else k
        if k_search > self.n_samples_fit_:
            raise ValueError(f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {k_search}, n_samples_fit = {self.n_samples_fit_}")
        rows = max(1, self.block_bytes // (4 * max(1, self.n_samples_fit_)))
        dists, idxs = [], []
        for start in range(0, Q.shape[0], rows):
            q = Q[start : start + rows]
            d2 = (q * q).sum(1, keepdim=True) - 2.0 * (q @ self.fit_X_.T) + self.sq_norms_[None, :]
            if query_is_fit:  # drop each point itself, as scikit-learn does for X=None
                d2[torch.arange(q.shape[0], device=q.device), torch.arange(start, start + q.shape[0], device=q.device)] = float("inf")
            val, ind = torch.topk(d2, k, dim=1, largest=False, sorted=True)
            dists.append(val.clamp_min_(0).sqrt_())
            idxs.append(ind)
        ind_np = torch.cat(idxs).cpu().numpy().astype(np.int64)
        if not return_distance:
            return ind_np
        return torch.cat(dists).cpu().numpy().astype(np.float64), ind_np

    def kneighbors_graph(self, X: np.ndarray | None = None, n_neighbors: int | None = None, mode: str = "connectivity") -> sparse.csr_matrix:
        k = n_neighbors or self.n_neighbors
        dist, ind = self.kneighbors(X, k, return_distance=True)
        n_queries = ind.shape[0]
        data = np.ones(n_queries * k) if mode == "connectivity" else dist.ravel()
        indptr = np.arange(0, n_queries * k + 1, k)
        return sparse.csr_matrix((data, ind.ravel(), indptr), shape=(n_queries, self.n_samples_fit_))


# On CPU, brute force in torch beats scikit-learn's trees when the fitted set is small (SMOTE's
# within-class search: 7.3x at 2k rows x 20) and loses on whole-split searches (Borderline's
# m-neighbours over 200k rows: 0.88x); benchmarks/bench_neighbors.py measures both.
CPU_TORCH_MAX_ROWS = 20_000


def neighbors(n_neighbors: int, backend: str, device: str, fit_rows: int) -> int | TorchNearestNeighbors:
    """What to pass as an imbalanced-learn ``*_neighbors`` argument for ``backend``.

    ``sklearn`` -> the int (imbalanced-learn builds its own NearestNeighbors);
    ``torch`` -> our estimator on ``device``; ``auto`` -> torch on CUDA, and on CPU only where
    the fitted set has at most ``CPU_TORCH_MAX_ROWS`` rows (where it is not slower).
    """
    auto_torch = device.startswith("cuda") or fit_rows <= CPU_TORCH_MAX_ROWS
    use_torch = backend == "torch" or (backend == "auto" and auto_torch)
    return TorchNearestNeighbors(n_neighbors, device=device) if use_torch else n_neighbors
