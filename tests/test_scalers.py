"""Scalers against independent references: numpy formulas, scipy, scikit-learn's PCA."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError

import components
from components.scalers import SCALERS

components.load_builtin()


@pytest.fixture
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    A = rng.normal(size=(4, 4))
    train = rng.normal(size=(500, 4)) @ A * np.array([1.0, 10.0, 100.0, 0.1]) + np.array([5.0, -3.0, 1000.0, 0.0])
    test = rng.normal(size=(50, 4)) * 3
    return train, test


def build(name: str, **params: object):
    return SCALERS.build({"name": name, **params}, "scaler")


def test_standard_uses_population_std_from_train(data) -> None:
    train, test = data
    out = build("standard").fit(train).transform(test)
    np.testing.assert_allclose(out, (test - train.mean(0)) / train.std(0, ddof=0), rtol=1e-10)


def test_standard_zero_variance_feature_is_not_divided_by_zero() -> None:
    X = np.c_[np.ones(10), np.arange(10.0)]
    out = build("standard").fit(X).transform(X)
    assert np.isfinite(out).all() and np.allclose(out[:, 0], 0.0)


def test_minmax_formula_with_range(data) -> None:
    train, test = data
    a, b = -1.0, 2.0
    out = build("minmax", a=a, b=b).fit(train).transform(test)
    lo, hi = train.min(0), train.max(0)
    np.testing.assert_allclose(out, a + (test - lo) * (b - a) / (hi - lo), rtol=1e-10)


def test_robust_median_and_iqr(data) -> None:
    train, test = data
    out = build("robust").fit(train).transform(test)
    q1, med, q3 = np.percentile(train, [25, 50, 75], axis=0)
    np.testing.assert_allclose(out, (test - med) / (q3 - q1), rtol=1e-10)


def test_l2_rows_have_unit_norm_and_keep_cosine(data) -> None:
    train, test = data
    out = build("l2").fit(train).transform(test)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-12)
    cos = test @ test.T / np.outer(np.linalg.norm(test, axis=1), np.linalg.norm(test, axis=1))
    np.testing.assert_allclose(out @ out.T, cos, atol=1e-12)


def test_zca_equals_inverse_matrix_square_root(data) -> None:
    train, test = data
    s = build("whiten", method="zca", eps=0.0).fit(train)
    ref = scipy.linalg.sqrtm(np.linalg.inv(np.cov(train, rowvar=False))).real
    np.testing.assert_allclose(s.transform(test), (test - train.mean(0)) @ ref.T, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.cov(s.transform(train), rowvar=False), np.eye(4), atol=1e-8)


def test_pca_whitening_matches_sklearn_up_to_sign(data) -> None:
    train, test = data
    ours = build("whiten", method="pca", eps=0.0).fit(train).transform(test)
    ref = PCA(whiten=True).fit(train).transform(test)
    signs = np.sign((ours * ref).sum(0))
    np.testing.assert_allclose(ours * signs, ref, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", SCALERS.names())
def test_every_scaler_refuses_transform_before_fit(name: str) -> None:
    with pytest.raises(NotFittedError):
        build(name).transform(np.zeros((2, 3)))


@pytest.mark.parametrize("name", SCALERS.names())
def test_every_scaler_keeps_shape_and_float32(name: str, data) -> None:
    train, test = (d.astype(np.float32) for d in data)
    out = build(name).fit(train).transform(test)
    assert out.shape == test.shape and out.dtype == np.float32 and np.isfinite(out).all()
