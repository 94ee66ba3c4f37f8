"""Reducers against scikit-learn directly, their contracts, and their place in the pipeline."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA
from sklearn.feature_selection import VarianceThreshold
from sklearn.random_projection import GaussianRandomProjection, SparseRandomProjection

import components
from components import get_registry
from components.errors import ConfigError
from runner.jobs.stages import resample_cache as _resample_cache
from runner.tables.encoding import ColumnRoles
from runner.tables.pipeline import Preprocessor

components.load_builtin()
REDUCERS = get_registry("reducer")


@pytest.fixture
def split() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    basis = rng.standard_normal((4, 50))
    train = rng.standard_normal((40, 4)) @ basis + 0.1 * rng.standard_normal((40, 50))
    test = rng.standard_normal((10, 4)) @ basis
    return train.astype(np.float32), test.astype(np.float32)


def build(name: str, **params: object):
    return REDUCERS.build({"name": name, **params}, "reducer", seed=0)


@pytest.mark.parametrize("n_components", [5, 0.9])
def test_pca_count_or_variance_share_matches_scikit_learn(split, n_components: float) -> None:
    train, test = split
    ours = build("pca", n_components=n_components, svd_solver="full").fit(train)
    ref = PCA(n_components=n_components, svd_solver="full").fit(train)
    np.testing.assert_allclose(ours.transform(test), ref.transform(test), rtol=1e-4, atol=1e-4)
    assert ours.report() == {
        "data/n_features_in": 50.0,
        "data/n_features_out": float(ref.n_components_),
        "reducer/explained_variance": pytest.approx(float(ref.explained_variance_ratio_.sum())),
    }
    assert ref.n_components_ == (5 if n_components == 5 else 4)  # 4 latent directions hold > 90%


def test_pca_whiten_and_a_count_above_min_n_d(split) -> None:
    train, test = split
    np.testing.assert_allclose(
        build("pca", n_components=3, whiten=True, svd_solver="full").fit(train).transform(test),
        PCA(3, whiten=True, svd_solver="full").fit(train).transform(test), rtol=1e-4, atol=1e-4,
    )  # fmt: skip
    with pytest.warns(UserWarning, match=r"reducer.n_components=500 > min\(n, d\) = min\(40, 50\): keeping 40 components"):
        assert build("pca", n_components=500).fit(train).n_features_out_ == 40


@pytest.mark.parametrize("kind, ref", [("gaussian", GaussianRandomProjection), ("sparse", SparseRandomProjection)])
def test_random_projection_matches_scikit_learn(split, kind: str, ref: type) -> None:
    train, test = split
    ours = build("random_projection", n_components=20, kind=kind).fit(train)
    expected = ref(n_components=20, random_state=0).fit(train).transform(test)
    np.testing.assert_allclose(ours.transform(test), np.asarray(expected.todense() if hasattr(expected, "todense") else expected), rtol=1e-5, atol=1e-6)


def test_random_projection_auto_refuses_when_the_jl_bound_exceeds_d(split) -> None:
    assert int(4 * np.log(40) / (0.1**2 / 2 - 0.1**3 / 3)) == 3161  # the Johnson-Lindenstrauss bound
    with pytest.raises(ConfigError, match=r"^reducer.eps: the Johnson-Lindenstrauss dimension for n=40 rows at eps=0.1 is 3161 > d=50 features \(no reduction\). Raise reducer.eps, set reducer.n_components, or use reducer=pca.$"):
        build("random_projection").fit(split[0])


def test_variance_threshold_matches_scikit_learn_and_refuses_when_nothing_is_left(split) -> None:
    train, test = split
    train = np.c_[train, np.ones((40, 2), np.float32)]
    test = np.c_[test, np.zeros((10, 2), np.float32)]
    ours = build("variance_threshold").fit(train)
    np.testing.assert_array_equal(ours.transform(test), VarianceThreshold().fit(train).transform(test))
    assert ours.n_features_out_ == 50
    with pytest.raises(ConfigError, match=r"^reducer \(variance_threshold\): No feature in X meets the variance threshold"):
        build("variance_threshold", threshold=1e9).fit(train)


@pytest.mark.parametrize("value", [1.5, 0, "half"])
def test_bad_n_components_is_one_line(value: object) -> None:
    with pytest.raises(ConfigError, match=r"^reducer.n_components: got .*; expected an integer >= 1 or a number in \(0, 1\)"):
        REDUCERS.validate({"name": "pca", "n_components": value}, "reducer")


@pytest.mark.parametrize("name", REDUCERS.names())
def test_reducers_fit_on_train_only_and_refuse_before_fit(split, name: str) -> None:
    from sklearn.exceptions import NotFittedError

    train, test = split
    params = {"n_components": 5} if name in ("pca", "random_projection") else {}
    with pytest.raises(NotFittedError):
        build(name, **params).transform(test)
    states = []
    for other in (test, test * 100 + 7):
        r = build(name, **params).fit(train)
        r.transform(other)
        states.append({k: v for k, v in vars(r).items() if k.endswith("_")})
    assert states[0].keys() == states[1].keys()
    for k in states[0]:
        a, b = states[0][k], states[1][k]
        assert (a == b) if np.isscalar(a) else all(np.array_equal(x, y) for x, y in zip(vars(a).values(), vars(b).values()) if isinstance(x, np.ndarray))


def test_pipeline_reduces_the_numeric_block_and_keeps_categorical_codes(split) -> None:
    train, test = split
    codes = (np.arange(40) % 2).astype(np.float32)[:, None]
    X, y = np.c_[codes, train], (np.arange(40) % 2).astype(np.int64)
    roles = ColumnRoles(categorical=("c",), numeric=tuple(f"x{i}" for i in range(50)), categories=(("a", "b"),))
    resampler = get_registry("resampler").build({"name": "random_over"}, "resampler", class_names=["a", "b"], categorical_features=[0], seed=0)
    pre = Preprocessor(
        outlier=get_registry("outlier").build({"name": "none"}, "outlier"),
        scaler=get_registry("scaler").build({"name": "standard"}, "scaler"),
        resampler=resampler,
        roles=roles,
        reducer=build("pca", n_components=3),
    )
    Xr, _, report = pre.fit_resample(X, y)
    assert Xr.shape == (40, 5) and np.array_equal(Xr[:, 3:], np.eye(2, dtype=np.float32)[np.arange(40) % 2])
    assert report["data/n_features_in"] == 50.0 and report["data/n_features_out"] == 3.0
    assert pre.transform(np.c_[(np.arange(10) % 2).astype(np.float32), test]).shape == (10, 5)


def test_the_resample_cache_key_includes_the_reducer(tmp_path) -> None:
    plain = {
        "cache": {"enabled": True, "dir": str(tmp_path)}, "split": {}, "outlier": {"name": "none"}, "scaler": {"name": "standard"},
        "resampler": {"name": "smote"}, "reducer": {"name": "none"},
    }  # fmt: skip
    a = _resample_cache(plain, "fp", 0, "cpu")
    b = _resample_cache({**plain, "reducer": {"name": "pca", "n_components": 5}}, "fp", 0, "cpu")
    assert a is not None and b is not None and a.path != b.path
