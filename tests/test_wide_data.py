"""The wide-table data path (issue 14): loading and encoding cost no per-column Python round trip.

Wall time is never asserted; instead the number of ``Features`` deep copies (each one copies
every column, the quadratic trap of ``Dataset.features``) must not grow with the width.
"""
from __future__ import annotations

from pathlib import Path

import datasets as hf
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import components
from components.datasets import DATASETS
from components.errors import ConfigError
from runner.tables.data import prepare
from runner.tables.encoding import TableEncoder

components.load_builtin()


def _parquet(folder: Path, cols: int, rows: int = 40, name: str = "train") -> tuple[Path, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(cols)
    X = rng.standard_normal((rows, cols)).astype(np.float32)
    y = np.array(["b", "a", "c", "a"] * (rows // 4))
    pq.write_table(pa.table({**{f"g{j}": X[:, j] for j in range(cols)}, "label": y}), folder / f"{name}_{cols}.parquet")
    return folder / f"{name}_{cols}.parquet", X, y


def _copies_during_load_and_encode(folder: Path, cols: int, monkeypatch: pytest.MonkeyPatch) -> int:
    path, X, y = _parquet(folder, cols)
    calls = {"n": 0}
    original = hf.Features.copy

    def counting(self: hf.Features) -> hf.Features:
        calls["n"] += 1
        return original(self)

    monkeypatch.setattr(hf.Features, "copy", counting)
    loaded = DATASETS.build({"name": "hf", "path": "parquet", "data_files": str(path)}, "dataset")
    ds = loaded.splits["train"]
    matrix = TableEncoder(features=loaded.features).fit(ds).transform(ds)
    monkeypatch.setattr(hf.Features, "copy", original)
    np.testing.assert_array_equal(matrix, X)  # the values made it through unchanged
    assert loaded.class_names == ["a", "b", "c"]
    np.testing.assert_array_equal(np.asarray(ds["label"]), np.searchsorted(["a", "b", "c"], y))
    return calls["n"]


def test_feature_copies_do_not_grow_with_width(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    narrow = _copies_during_load_and_encode(tmp_path, 5, monkeypatch)
    wide = _copies_during_load_and_encode(tmp_path, 400, monkeypatch)
    assert wide == narrow  # was ~2 copies per column (≈ 800 here): quadratic in the width


def test_labels_are_the_union_of_splits_in_sorted_order(tmp_path: Path) -> None:
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    pd.DataFrame({"x": np.arange(12.0), "y": [3, 1] * 6}).to_csv(train, index=False)
    pd.DataFrame({"x": np.arange(6.0), "y": [2, 1, 3] * 2}).to_csv(test, index=False)  # 2 only in test
    cfg = {"name": "hf", "path": "csv", "data_files": {"train": str(train), "test": str(test)}, "label": "y"}
    loaded = DATASETS.build(cfg, "dataset")
    assert loaded.class_names == ["1", "2", "3"]
    assert loaded.splits["train"]["y"][:2] == [2, 0] and loaded.splits["test"]["y"][:3] == [1, 0, 2]
    data = prepare(cfg, {"val_size": 0.25}, seed=0)
    assert sorted(set(data.test.y)) == [0, 1, 2]


def test_missing_label_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": ["a", None, "b"]}).to_csv(path, index=False)
    with pytest.raises(ConfigError, match=r"^dataset.label: column 'y' has missing values; drop or fill those rows first.$"):
        DATASETS.build({"name": "hf", "path": "csv", "data_files": str(path), "label": "y"}, "dataset")


def test_mixed_column_types_are_cast_in_one_table(tmp_path: Path) -> None:
    path = tmp_path / "m.parquet"
    table = pa.table({"i": pa.array([1, 2, None, 4], pa.int64()), "b": [True, False, True, True], "f": [0.5, 1.5, 2.5, 3.5], "label": [0, 1, 0, 1]})
    pq.write_table(table, path)
    loaded = DATASETS.build({"name": "hf", "path": "parquet", "data_files": str(path)}, "dataset")
    ds = loaded.splits["train"]
    enc = TableEncoder(features=loaded.features).fit(ds)
    np.testing.assert_allclose(enc.transform(ds), [[1, 1, 0.5], [2, 0, 1.5], [2, 1, 2.5], [4, 1, 3.5]])  # null -> median 2
