"""Covariance footing and shrinkage against independent references (numpy, scikit-learn)."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.covariance import OAS, LedoitWolf

import components
from components import get_registry
from components.covariance import ShrunkSpectrum, footing

components.load_builtin()


def _data(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)) @ rng.standard_normal((3, d)) + rng.standard_normal((n, d)) * rng.uniform(0.5, 5, d) + 10


def test_footing_matches_numpy_rank_and_condition_of_the_correlation_matrix() -> None:
    X = _data(200, 6)
    f = footing(X)
    corr = np.corrcoef(X, rowvar=False)
    assert (f.n, f.d, f.rank) == (200, 6, np.linalg.matrix_rank(corr))
    assert f.condition == pytest.approx(np.linalg.cond(corr), rel=1e-6)
    assert not f.singular(1e10) and f.singular(f.condition / 2)
    wide = footing(_data(30, 80))
    assert (wide.rank, wide.condition) == (29, float("inf")) and wide.singular(1e10)
    assert footing(np.c_[X, np.ones(200)]).rank == 6  # a constant feature is ignored, not "singular"


@pytest.mark.parametrize("n, d", [(200, 6), (30, 80)])
@pytest.mark.parametrize("method, reference", [("ledoit_wolf", LedoitWolf), ("oas", OAS)])
def test_shrunk_distances_and_whitening_match_scikit_learn(n: int, d: int, method: str, reference: type) -> None:
    X, new = _data(n, d), _data(20, d, seed=1)
    spec = ShrunkSpectrum(X, method)  # type: ignore[arg-type]
    Z = (X - X.mean(0)) / X.std(0)
    ref = reference().fit(Z)
    assert spec.shrinkage_ == pytest.approx(ref.shrinkage_, rel=1e-9)
    z_new = (new - X.mean(0)) / X.std(0)
    np.testing.assert_allclose(spec.distances(new), ref.mahalanobis(z_new), rtol=1e-6)
    lam, U = np.linalg.eigh(ref.covariance_)
    zca = (U / np.sqrt(lam)) @ U.T
    np.testing.assert_allclose(spec.whiten(new, "zca", 0.0), z_new @ zca, rtol=1e-6, atol=1e-8)
    white = spec.whiten(X, "zca", 0.0)
    np.testing.assert_allclose(white.T @ white / n, zca @ (Z.T @ Z / n) @ zca, atol=1e-8)


def test_whiten_auto_keeps_the_sample_covariance_on_a_well_conditioned_table() -> None:
    X = _data(300, 5)
    s = get_registry("scaler").build({"name": "whiten"}, "scaler").fit(X)
    assert s.covariance_used_ == "empirical"
    out = s.transform(X)
    np.testing.assert_allclose(np.cov(out, rowvar=False), np.eye(5), atol=1e-6)


def test_whiten_eps_is_relative_to_the_largest_eigenvalue() -> None:
    X = _data(300, 5) * 1e4  # units must not matter: same output as the unscaled table
    a = get_registry("scaler").build({"name": "whiten", "eps": 1e-3}, "scaler").fit(X).transform(X)
    b = get_registry("scaler").build({"name": "whiten", "eps": 1e-3}, "scaler").fit(X / 1e4).transform(X / 1e4)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-9)
    lam = np.linalg.eigvalsh(np.cov(X, rowvar=False))
    eps = 0.5 * lam.min() / lam.max() + 0.5 * np.median(lam) / lam.max()  # a floor between the smallest and the median
    c = get_registry("scaler").build({"name": "whiten", "eps": float(eps)}, "scaler").fit(X).transform(X)
    expected = lam / np.maximum(lam, eps * lam.max())  # a floor: 1 above it, λ / floor below it
    assert (expected < 1 - 1e-3).any() and (expected == 1).any()
    np.testing.assert_allclose(np.sort(np.linalg.eigvalsh(np.cov(c, rowvar=False))), np.sort(expected), rtol=1e-6)


def test_shrunk_mahalanobis_flags_planted_outliers_on_a_wide_table() -> None:
    X = _data(60, 300, seed=2)
    X[:3] += 40 * np.random.default_rng(3).standard_normal((3, 300))  # three gross outliers
    step = get_registry("outlier").build({"name": "mahalanobis", "action": "flag"}, "outlier", class_names=["a"], seed=0)
    with pytest.warns(UserWarning, match="using the Ledoit-Wolf shrinkage estimate"):
        out = step.fit_transform(X, np.zeros(60, dtype=np.int64))
    flagged = np.flatnonzero(out[:, -1])
    assert set(flagged) >= {0, 1, 2} and len(flagged) <= 6
