"""Column roles: outliers, scaler and reducer see the numeric columns only; resamplers get the
categorical indices natively (imbalanced-learn's SMOTE-NC / SMOTE-N); one-hot comes last; the chain
runs inside imbalanced-learn's Pipeline. References: scikit-learn, imbalanced-learn, scipy."""
from __future__ import annotations

import pickle
from pathlib import Path

import datasets as hf
import numpy as np
import pandas as pd
import pytest
from imblearn.over_sampling import SMOTEN, SMOTENC
from imblearn.pipeline import Pipeline
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import components
from components import get_registry
from components.errors import ConfigError
from runner.jobs.cache import ResampleCache
from runner.tables.encoding import TableEncoder
from runner.tables.pipeline import Preprocessor

components.load_builtin()
NAMES = ["no", "yes"]


def frame(n: int = 400, seed: int = 0, numeric: bool = True) -> pd.DataFrame:
    """A minority of 15%; ``region`` depends on the class and 'west' is rare (one-hot z-score > 3);
    ``size`` is 80% 's' (code 2): the IQR of its codes is 0, so an outlier rule on codes would flag 20% of rows."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.15).astype(int)
    region = np.where(rng.random(n) < 0.05, "west", np.where(y == 1, rng.choice(["north", "south"], n), rng.choice(["east", "south"], n)))
    df = pd.DataFrame({"region": region, "size": rng.choice(["s", "m", "l"], n, p=[0.8, 0.1, 0.1]), "label": y})
    if numeric:
        df.insert(0, "x0", rng.normal(0, 1, n) + 2 * y)
        df.insert(2, "x1", rng.normal(100, 30, n))
    return df


def encode(df: pd.DataFrame, fit_on: pd.DataFrame | None = None) -> tuple[TableEncoder, np.ndarray, np.ndarray]:
    features = [c for c in df.columns if c != "label"]
    enc = TableEncoder(features=features).fit(hf.Dataset.from_pandas(fit_on if fit_on is not None else df))
    return enc, enc.transform(hf.Dataset.from_pandas(df)), df["label"].to_numpy()


def preprocessor(
    enc: TableEncoder, resampler: str = "none", outlier: str = "none", outlier_params: dict | None = None, reducer: dict | None = None, **params
) -> Preprocessor:
    roles = enc.roles_
    return Preprocessor(
        outlier=get_registry("outlier").build({"name": outlier, **(outlier_params or {})}, "outlier", class_names=NAMES, seed=0),
        scaler=get_registry("scaler").build({"name": "standard"}, "scaler"),
        resampler=get_registry("resampler").build(
            {"name": resampler, **params}, "resampler", class_names=NAMES, categorical_features=roles.categorical_features, seed=0, device="cpu"
        ),
        roles=roles,
        reducer=get_registry("reducer").build(reducer, "reducer", seed=0) if reducer else None,
    )


def onehot_reference(train: pd.DataFrame, other: pd.DataFrame) -> np.ndarray:
    return OneHotEncoder(handle_unknown="ignore", sparse_output=False).fit(train[["region", "size"]]).transform(other[["region", "size"]])


def test_model_sees_scaled_numeric_then_one_hot_as_scikit_learn_computes_them() -> None:
    train, test = frame(), frame(60, seed=1)
    test.loc[:4, "region"] = "atlantis"  # never seen in training: all zeros
    enc, X, y = encode(train)
    assert enc.roles_.categorical == ("region", "size") and enc.roles_.numeric == ("x0", "x1")
    pre = preprocessor(enc)
    Xr, yr, _ = pre.fit_resample(X, y)
    _, Xt_enc, _ = encode(test, fit_on=train)
    scaler = StandardScaler().fit(train[["x0", "x1"]])
    for ours, df in ((Xr, train), (pre.transform(Xt_enc), test)):
        assert ours.dtype == np.float32
        np.testing.assert_allclose(ours[:, :2], scaler.transform(df[["x0", "x1"]]), rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(ours[:, 2:], onehot_reference(train, df))
    assert pre.transform(Xt_enc)[:5, 2:6].sum() == 0


def test_smote_on_mixed_columns_is_imblearn_smotenc_on_the_codes() -> None:
    df = frame()
    enc, X, y = encode(df)
    pre = preprocessor(enc, "smote")
    Xr, yr, _ = pre.fit_resample(X, y)
    assert pre.tags() == {"resample.method": "smotenc"}
    scaled = StandardScaler().fit_transform(df[["x0", "x1"]]).astype(np.float32)
    ref_X, ref_y = SMOTENC([0, 1], random_state=0, k_neighbors=5).fit_resample(np.c_[X[:, :2], scaled], y)
    expanded = OneHotEncoder(categories=[np.arange(4.0), np.arange(3.0)], sparse_output=False).fit_transform(ref_X[:, :2])
    np.testing.assert_array_equal(yr, ref_y)
    np.testing.assert_allclose(Xr, np.c_[ref_X[:, 2:], expanded], rtol=1e-5, atol=1e-5)
    named, _, _ = preprocessor(enc, "smotenc").fit_resample(X, y)  # the explicit name: the same rows, no tag
    np.testing.assert_array_equal(named, Xr)


def test_smote_on_all_categorical_columns_is_imblearn_smoten() -> None:
    enc, X, y = encode(frame(numeric=False))
    pre = preprocessor(enc, "smote", k_neighbors=3)
    Xr, yr, _ = pre.fit_resample(X, y)
    ref_X, ref_y = SMOTEN(random_state=0, k_neighbors=3).fit_resample(X, y)
    np.testing.assert_array_equal(yr, ref_y)
    np.testing.assert_array_equal(Xr, OneHotEncoder(categories=[np.arange(4.0), np.arange(3.0)], sparse_output=False).fit_transform(ref_X))
    assert pre.tags() == {"resample.method": "smoten"}
    with pytest.raises(ConfigError, match="'smotenc' needs numeric columns too; every feature is categorical"):
        preprocessor(enc, "smotenc").fit_resample(X, y)


@pytest.mark.parametrize("name", get_registry("resampler").names())
def test_every_resampler_keeps_categories_or_refuses_naming_them(name: str) -> None:
    enc, X, y = encode(frame())
    try:
        Xr, yr, _ = preprocessor(enc, name, **({"k_neighbors": 3} if name == "deepsmote" else {})).fit_resample(X, y)
    except ConfigError as exc:
        assert name not in ("none", "smote", "smotenc", "random_over", "random_under"), exc
        if name == "smoten":  # SMOTE-N is for all-categorical data: here the numeric columns are the problem
            assert "'smoten' needs all-categorical features; 2 numeric column(s)" in str(exc)
            return
        assert f"'{name}'" in str(exc) and "region, size" in str(exc) and "resampler.name" in str(exc)
        return
    blocks = (Xr[:, 2:6], Xr[:, 6:9])  # region (4 categories), size (3): each row exactly one 1
    for block in blocks:
        assert set(np.unique(block)) <= {0.0, 1.0} and (block.sum(1) == 1).all()


def test_oversampling_with_shrinkage_refuses_categorical_columns() -> None:
    enc, _, _ = encode(frame())
    with pytest.raises(ConfigError, match=r"'random_over' with shrinkage=0.5 adds noise to every feature.*region, size"):
        preprocessor(enc, "random_over", shrinkage=0.5)


def numeric_outliers(df: pd.DataFrame, rule: str) -> np.ndarray:
    """Reference flags from scipy on the numeric columns alone."""
    num = df[["x0", "x1"]].to_numpy(np.float32)
    if rule == "zscore":
        return (np.abs(stats.zscore(num, axis=0)) > 3).any(1)
    q1, q3 = stats.scoreatpercentile(num, [25, 75], axis=0)
    iqr = stats.iqr(num, axis=0)
    return ((num < q1 - 1.5 * iqr) | (num > q3 + 1.5 * iqr)).any(1)


@pytest.mark.parametrize("rule", ["zscore", "iqr"])
def test_outliers_are_detected_on_numeric_columns_only_and_rows_keep_their_categories(rule: str) -> None:
    df = frame()
    df.loc[[3, 7], "x1"] = [1e4, -1e4]
    enc, X, y = encode(df)
    Xr, yr, report = preprocessor(enc, outlier=rule).fit_resample(X, y)
    keep = ~numeric_outliers(df, rule)
    assert report["outlier/rows_flagged"] == (~keep).sum() >= 2
    assert (df.region[keep] == "west").sum() > 0 and (df["size"][keep] != "s").sum() > 0  # rare categories are no outliers
    np.testing.assert_array_equal(Xr[:, 2:], onehot_reference(df, df[keep]))
    np.testing.assert_array_equal(yr, y[keep])


def test_clip_and_flag_touch_numeric_columns_only() -> None:
    df = frame()
    enc, X, y = encode(df)
    clipped, _, _ = preprocessor(enc, outlier="iqr", outlier_params={"action": "clip"}).fit_resample(X, y)
    np.testing.assert_array_equal(clipped[:, 2:], onehot_reference(df, df))  # IQR bounds of a rare one-hot column are [0, 0]
    pre = preprocessor(enc, outlier="zscore", outlier_params={"action": "flag", "threshold": 2.0})
    flagged, _, _ = pre.fit_resample(X, y)
    z_flags = (np.abs(stats.zscore(df[["x0", "x1"]].to_numpy(np.float32), axis=0)) > 2).any(1)
    assert flagged.shape[1] == 2 + 1 + 7 and z_flags.any()
    np.testing.assert_array_equal(flagged[:, 2], z_flags.astype(np.float32))  # after the numeric block, unscaled
    np.testing.assert_array_equal(pre.transform(X)[:, 2], z_flags.astype(np.float32))
    np.testing.assert_array_equal(flagged[:, 3:], onehot_reference(df, df))


def test_reducer_sees_the_scaled_numeric_columns_only() -> None:
    df = frame()
    enc, X, y = encode(df)
    pre = preprocessor(enc, reducer={"name": "pca", "n_components": 1})
    Xr, _, report = pre.fit_resample(X, y)
    ref = PCA(n_components=1).fit_transform(StandardScaler().fit_transform(df[["x0", "x1"]]))
    assert report["data/n_features_in"] == 2.0 and Xr.shape[1] == 1 + 7
    np.testing.assert_allclose(np.abs(Xr[:, 0]), np.abs(ref[:, 0]), rtol=1e-4, atol=1e-4)  # a component's sign is arbitrary
    np.testing.assert_array_equal(Xr[:, 1:], onehot_reference(df, df))


def test_the_chain_is_an_imblearn_pipeline_whose_transform_skips_samplers() -> None:
    enc, X, y = encode(frame())
    pre = preprocessor(enc, "smote", outlier="zscore")
    Xr, _, _ = pre.fit_resample(X, y)
    assert isinstance(pre.pipeline_, Pipeline) and list(pre.pipeline_.named_steps) == ["outlier", "scaler", "reducer", "resampler", "onehot"]
    assert len(Xr) > len(X) and pre.transform(X).shape == (len(X), Xr.shape[1])  # no row dropped or synthesised
    np.testing.assert_array_equal(pre.transform(X), pre.pipeline_.transform(X))
    clone = Pipeline(pre.pipeline_.steps)  # imbalanced-learn's own step validation accepts every step
    clone._validate_steps()


def test_pickled_encoder_and_preprocessor_serve_raw_rows() -> None:
    train, test = frame(), frame(50, seed=2)
    enc, X, y = encode(train)
    pre = preprocessor(enc, "smote", outlier="zscore", outlier_params={"action": "flag"})
    pre.fit_resample(X, y)
    enc2, pre2 = pickle.loads(pickle.dumps((enc, pre)))
    raw = hf.Dataset.from_pandas(test)
    np.testing.assert_array_equal(pre2.transform(enc2.transform(raw)), pre.transform(enc.transform(raw)))


def test_resample_cache_returns_the_same_rows(tmp_path: Path) -> None:
    enc, X, y = encode(frame())
    runs = [preprocessor(enc, "smote").fit_resample(X, y, ResampleCache(tmp_path, "k", {"a": 1})) for _ in range(2)]
    assert [r[2]["resample/cache_hit"] for r in runs] == [0.0, 1.0]
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_a_resampler_built_without_the_categorical_indices_is_caught() -> None:
    enc, _, _ = encode(frame())
    resampler = get_registry("resampler").build({"name": "smote"}, "resampler", class_names=NAMES, seed=0)
    with pytest.raises(ValueError, match=r"categorical_features=\[\]; these roles need \[0, 1\]"):
        Preprocessor(outlier=resampler, scaler=resampler, resampler=resampler, roles=enc.roles_)


def test_quality_and_drift_read_numeric_then_one_hot_columns(tmp_path: Path) -> None:
    from runner.tables.data import prepare

    df = frame()
    df.to_csv(tmp_path / "t.csv", index=False)
    data = prepare({"name": "hf", "path": "csv", "data_files": str(tmp_path / "t.csv"), "label": "label"}, {}, seed=0)
    cats = [f"region_{c}" for c in ("east", "north", "south", "west")] + [f"size_{c}" for c in ("l", "m", "s")]
    assert data.one_hot_names == ["x0", "x1", *cats]
    view, raw = data.one_hot(data.train.X), data.raw_train.to_pandas()
    np.testing.assert_array_equal(view[:, :2], data.train.X[:, 2:])
    np.testing.assert_array_equal(view[:, 2:], onehot_reference(raw, raw))
