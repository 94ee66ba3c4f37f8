"""Datasets: embedded sets, local csv/parquet/json through load_dataset, labels, categoricals, errors."""
from __future__ import annotations

import json
from pathlib import Path

import datasets as hf
import numpy as np
import pandas as pd
import pytest

import components
from components.datasets import DATASETS
from components.errors import ConfigError
from runner.tables.data import prepare, split_loaded
from runner.tables.encoding import UNKNOWN

components.load_builtin()


def test_synthetic_is_the_lectures_99_to_1_set() -> None:
    loaded = DATASETS.build({"name": "synthetic_imbalanced"}, "dataset")
    ds = loaded.splits["train"]
    assert isinstance(ds, hf.Dataset) and isinstance(ds.features["label"], hf.ClassLabel)
    counts = np.bincount(ds["label"][:])
    assert counts.tolist() == [9900, 100]
    again = DATASETS.build({"name": "synthetic_imbalanced"}, "dataset")
    assert loaded.fingerprint() == again.fingerprint()
    other = DATASETS.build({"name": "synthetic_imbalanced", "seed": 1}, "dataset")
    assert other.fingerprint() != loaded.fingerprint()


def test_synthetic_size_and_ratio_are_configurable() -> None:
    ds = DATASETS.build({"name": "synthetic_imbalanced", "n_samples": 1000, "ratio": 9.0}, "dataset").splits["train"]
    assert np.bincount(ds["label"][:]).tolist() == [900, 100]


def test_breast_cancer_and_digits() -> None:
    bc = DATASETS.build({"name": "breast_cancer"}, "dataset")
    assert bc.splits["train"].num_rows == 569 and len(bc.features) == 30 and bc.class_names == ["malignant", "benign"]
    dg = DATASETS.build({"name": "digits"}, "dataset")
    assert len(dg.features) == 64 and dg.image_shape is None and len(dg.class_names) == 10
    img = DATASETS.build({"name": "digits", "as_image": True}, "dataset")
    assert img.image_shape == (1, 8, 8) and img.features == ["image"]


def test_stratified_seeded_splits_keep_class_shares() -> None:
    loaded = DATASETS.build({"name": "synthetic_imbalanced"}, "dataset")
    a = split_loaded(loaded, 0.2, 0.2, seed=0)
    b = split_loaded(loaded, 0.2, 0.2, seed=0)
    c = split_loaded(loaded, 0.2, 0.2, seed=1)
    sizes = {k: v.num_rows for k, v in a.items()}
    assert sizes == {"train": 6400, "validation": 1600, "test": 2000}
    assert np.bincount(a["test"]["label"][:]).tolist() == [1980, 20]
    assert np.bincount(a["validation"]["label"][:]).tolist() == [1584, 16]
    assert list(a["test"]["x0"][:]) == list(b["test"]["x0"][:])
    assert list(a["test"]["x0"][:]) != list(c["test"]["x0"][:])


def write_table(tmp: Path, fmt: str) -> Path:
    rng = np.random.default_rng(0)
    n = 120
    df = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n).round(1),
            "city": rng.choice(["paris", "lyon", "nice"], n),
            "income": rng.normal(3000, 500, n),
            "target": rng.choice(["no", "yes"], n, p=[0.7, 0.3]),
        }
    )
    df.loc[3, "income"] = np.nan
    path = tmp / f"table.{fmt}"
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "parquet":
        df.to_parquet(path)
    else:
        path.write_text("\n".join(json.dumps({k: (None if pd.isna(v) else v) for k, v in r.items()}) for r in df.to_dict("records")))
    return path


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json"])
def test_local_files_through_load_dataset(tmp_path: Path, fmt: str) -> None:
    path = write_table(tmp_path, fmt)
    cfg = {"name": "hf", "path": fmt, "data_files": str(path), "label": "target"}
    loaded = DATASETS.build(cfg, "dataset")
    assert loaded.class_names == ["no", "yes"]
    assert isinstance(loaded.splits["train"].features["target"], hf.ClassLabel)
    data = prepare(cfg, {"test_size": 0.25, "val_size": 0.2}, seed=0)
    # the city's category codes, then 2 numeric columns; the missing income is imputed with the train median
    assert data.feature_names == ["city", "age", "income"] and data.encoder.roles_.categorical == ("city",)
    train_rows = data.raw_train.to_pandas()
    assert data.info["data/missing_cells_train"] == float(train_rows[["age", "income"]].isna().to_numpy().sum())  # numeric cells
    median = float(np.nanmedian(train_rows["income"].astype(float)))
    if train_rows["income"].isna().any():  # the one missing income fell in train: it is imputed with the train median
        row = int(np.flatnonzero(train_rows["income"].isna().to_numpy())[0])
        assert data.train.X[row, 2] == pytest.approx(median, rel=1e-6)
    else:  # it fell in validation or test: imputed with the train median there too
        held = [s.X for s in (data.validation, data.test)]
        assert any(np.isclose(X[:, 2], median, rtol=1e-6).any() for X in held)
    for split in (data.train, data.validation, data.test):
        assert split.X.dtype == np.float32 and np.isfinite(split.X).all()
    assert data.train.X.shape[0] + data.validation.X.shape[0] + data.test.X.shape[0] == 120


def test_integer_labels_keep_numeric_order(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame({"x": np.arange(30.0), "y": [2, 10, 7] * 10}).to_csv(path, index=False)
    loaded = DATASETS.build({"name": "hf", "path": "csv", "data_files": str(path), "label": "y"}, "dataset")
    assert loaded.class_names == ["2", "7", "10"]
    assert loaded.splits["train"]["y"][:3] == [0, 2, 1]


def test_split_mapping_uses_given_test_split(tmp_path: Path) -> None:
    train, test = write_table(tmp_path, "csv"), tmp_path / "test.csv"
    pd.read_csv(train).head(30).assign(city="marseille").to_csv(test, index=False)
    cfg = {"name": "hf", "path": "csv", "data_files": {"train": str(train), "test": str(test)}, "label": "target"}
    data = prepare(cfg, {"test_size": 0.2, "val_size": 0.2}, seed=0)
    assert data.test.X.shape[0] == 30
    # 'marseille' never occurs in train: the unknown code (its one-hot columns become all zeros), not an error
    assert np.all(data.test.X[:, 0] == UNKNOWN)


@pytest.mark.parametrize(
    "cfg, message",
    [
        ({"path": "csv", "data_files": "/nope/missing.csv"}, r"dataset.data_files: file not found: '/nope/missing.csv'."),
        ({"path": "csv", "label": "nope"}, r"dataset.label: column 'nope' not found in 'csv'. Available columns: age, city, income, target."),
        ({"path": "csv", "label": "target", "features": ["age", "zip"]}, r"dataset.features: column\(s\) \['zip'\] not found"),
        ({"path": "csv", "label": "target", "splits": {"train": "train", "test": "holdout"}}, r"dataset.splits.test: the dataset has no split 'holdout'. Available: train."),
        ({"path": "./no/such/dir"}, r"dataset.path: no such file or folder: '.*no/such/dir'."),
    ],
)
def test_dataset_errors_name_path_or_column(tmp_path: Path, cfg: dict, message: str) -> None:
    cfg = {"name": "hf", "data_files": str(write_table(tmp_path, "csv")), **cfg}
    with pytest.raises(ConfigError, match=message):
        DATASETS.build(cfg, "dataset")


def test_unreachable_hub_id_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"dataset.path: could not load 'someone/not-cached-anywhere' \(offline mode is on"):
        DATASETS.build({"name": "hf", "path": "someone/not-cached-anywhere"}, "dataset")


def test_too_small_class_cannot_be_stratified(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame({"x": np.arange(20.0), "y": ["a"] * 19 + ["b"]}).to_csv(path, index=False)
    with pytest.raises(ConfigError, match=r"split.test_size: cannot stratify, class\(es\) with fewer than 2 rows: 'b' \(1\)"):
        prepare({"name": "hf", "path": "csv", "data_files": str(path), "label": "y"}, {}, seed=0)
