"""Resamplers: target counts, the small-class guard, torch neighbours, categories, DeepSMOTE."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

import components
from components import get_registry
from components.errors import ConfigError
from components.neighbors import TorchNearestNeighbors

components.load_builtin()
NAMES = ["majority", "minority"]


def data(n_min: int = 64, n_maj: int = 1000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = np.r_[rng.normal(0, 1, (n_maj, 3)), rng.normal(1.5, 1, (n_min, 3))].astype(np.float32)
    return X, np.r_[np.zeros(n_maj, int), np.ones(n_min, int)]


def build(cfg: dict, categorical=()):
    return get_registry("resampler").build(cfg, "resampler", class_names=NAMES, categorical_features=list(categorical), seed=0, device="cpu")


def test_per_class_target_counts_by_name_lecture_100_to_600() -> None:
    X, y = data(n_min=100)
    step = build({"name": "smote", "sampling_strategy": {"minority": 600}})
    Xr, yr = step.fit_resample(X, y)
    assert np.bincount(yr).tolist() == [1000, 600]
    assert step.report()["resample/synthetic_rows"] == 500
    np.testing.assert_array_equal(Xr[: len(X)], X)  # real rows kept, synthetic appended


def test_smote_points_lie_on_segments_between_minority_neighbours() -> None:
    """x_new = x_i + λ (x_nn − x_i), λ ∈ [0, 1], x_i and x_nn minority rows (lecture §3)."""
    X, y = data(n_min=30)
    Xr, _ = build({"name": "smote", "k_neighbors": 3}).fit_resample(X, y)
    minority = X[y == 1]
    nn = NearestNeighbors(n_neighbors=4).fit(minority).kneighbors(minority, return_distance=False)[:, 1:]
    for x_new in Xr[len(X) :][:50]:
        found = False
        for i in range(len(minority)):
            for j in nn[i]:
                d = minority[j] - minority[i]
                lam = float(np.dot(x_new - minority[i], d) / np.dot(d, d))
                if 0 <= lam <= 1 and np.allclose(minority[i] + lam * d, x_new, atol=1e-5):
                    found = True
        assert found


def test_unknown_class_in_strategy_is_named() -> None:
    X, y = data()
    with pytest.raises(ConfigError, match=r"resampler.sampling_strategy: unknown class 'rare'. Classes: majority, minority."):
        build({"name": "smote", "sampling_strategy": {"rare": 600}}).fit_resample(X, y)


def test_small_class_guard_errors_with_class_count_and_parameter() -> None:
    X, y = data(n_min=4)
    with pytest.raises(ConfigError) as err:
        build({"name": "smote"}).fit_resample(X, y)
    assert str(err.value) == (
        "resampler.k_neighbors: class 'minority' has 4 training rows; smote needs at least k_neighbors + 1 = 6. "
        "Lower resampler.k_neighbors, or set resampler.on_small_class=adapt."
    )


def test_small_class_guard_adapts_k_and_says_so() -> None:
    X, y = data(n_min=4)
    step = build({"name": "smote", "on_small_class": "adapt"})
    with pytest.warns(UserWarning, match=r"resampler.k_neighbors: lowered from 5 to 3 \(class 'minority' has 4 rows\)"):
        _, yr = step.fit_resample(X, y)
    assert np.bincount(yr).tolist() == [1000, 1000]
    assert step.tags() == {"resample.adapted": "k_neighbors=3"} and step.report()["resample/k_neighbors_used"] == 3


def test_torch_neighbours_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    fit, query = rng.normal(size=(500, 7)), rng.normal(size=(80, 7))
    ours = TorchNearestNeighbors(6, block_bytes=4096).fit(fit)
    ref = NearestNeighbors(n_neighbors=6).fit(fit)
    d1, i1 = ours.kneighbors(query)
    d2, i2 = ref.kneighbors(query)
    np.testing.assert_array_equal(i1, i2)
    np.testing.assert_allclose(d1, d2, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(ours.kneighbors(n_neighbors=3, return_distance=False), ref.kneighbors(n_neighbors=3, return_distance=False))
    assert (ours.kneighbors_graph(query) != ref.kneighbors_graph(query)).nnz == 0


@pytest.mark.parametrize("name", ["smote", "borderline_smote", "adasyn", "svm_smote"])
def test_torch_backend_gives_the_same_resampling(name: str) -> None:
    X, y = data()
    a = build({"name": name, "neighbors": "sklearn"}).fit_resample(X, y)
    b = build({"name": name, "neighbors": "torch"}).fit_resample(X, y)
    np.testing.assert_array_equal(a[1], b[1])
    np.testing.assert_allclose(a[0], b[0], rtol=1e-5, atol=1e-5)


def test_smote_switches_to_smotenc_with_categorical_columns() -> None:
    X, y = data()
    codes = np.random.default_rng(3).integers(0, 3, len(y)).astype(np.float32)
    Xc = np.c_[codes, X]  # column 0 holds category codes
    step = build({"name": "smote"}, categorical=[0])
    Xr, yr = step.fit_resample(Xc, y)
    assert step.tags() == {"resample.method": "smotenc"}
    assert set(np.unique(Xr[:, 0])) <= {0.0, 1.0, 2.0}
    assert np.bincount(yr).tolist() == [1000, 1000]


def test_smoten_refuses_numeric_columns() -> None:
    X, y = data()
    with pytest.raises(ConfigError, match=r"'smoten' needs all-categorical features; 2 numeric column\(s\) present"):
        build({"name": "smoten"}, categorical=[2]).fit_resample(X, y)
    with pytest.raises(ConfigError, match=r"'smotenc' needs categorical \(string\) feature columns; this dataset has none"):
        build({"name": "smotenc"}).fit_resample(X, y)


def test_interpolating_resamplers_refuse_categorical_columns() -> None:
    X, y = data()
    with pytest.raises(ConfigError, match=r"resampler.name: 'adasyn' interpolates every feature; categorical columns at \[2\]"):
        build({"name": "adasyn"}, categorical=[2]).fit_resample(X, y)


def test_deepsmote_generates_decoded_minority_rows() -> None:
    X, y = data(n_min=50)
    step = build({"name": "deepsmote", "sampling_strategy": {"minority": 300}, "epochs": 20})
    Xr, yr = step.fit_resample(X, y)
    assert np.bincount(yr).tolist() == [1000, 300]
    new = Xr[len(X) :]
    assert np.isfinite(new).all()
    # decoded points sit nearer the minority mean than the majority mean
    dist = lambda c: np.linalg.norm(new.mean(0) - X[y == c].mean(0))  # noqa: E731
    assert dist(1) < dist(0)
    assert step.report()["resample/deepsmote_reconstruction_mse"] < 1.0
