"""Arrow -> float32 matrices against datasets' own numpy formatter, and the encoder's column roles."""
from __future__ import annotations

import datasets as hf
import numpy as np
import pyarrow as pa
import pytest

from components.errors import ConfigError
from runner.tables.encoding import UNKNOWN, TableEncoder, numeric_matrix


def table() -> hf.Dataset:
    rng = np.random.default_rng(0)
    n = 2500  # spans several 1000-row record batches
    vec = pa.FixedSizeListArray.from_arrays(pa.array(rng.normal(size=n * 3).astype(np.float64)), 3)
    t = pa.table(
        {
            "f": pa.array(np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n))),
            "i": pa.array(rng.integers(-5, 5, n), type=pa.int32()),
            "b": pa.array(rng.random(n) < 0.5),
            "v": vec,
            "c": pa.array(rng.choice(["x", "y", None], n)),
            "label": pa.array(rng.integers(0, 2, n)),
        }
    )
    return hf.Dataset(t)


@pytest.mark.parametrize("selected", [False, True])
def test_numeric_matrix_matches_datasets_numpy_formatter(selected: bool) -> None:
    ds = table()
    if selected:
        ds = ds.select(np.random.default_rng(1).permutation(ds.num_rows)[:1700])
    ref = ds.with_format("numpy", columns=["f", "i", "b", "v"])[:]
    expected = np.column_stack([ref["f"], ref["i"], ref["b"], np.asarray(ref["v"])]).astype(np.float32)
    np.testing.assert_array_equal(numeric_matrix(ds, ["f", "i", "b", "v"]), expected)


@pytest.mark.parametrize(
    "rows",
    [np.arange(1200, 1900), np.array([3, 2400, 7, 7, 1999]), np.array([2499]), np.array([], dtype=np.int64), np.arange(2500)],
    ids=["consecutive", "unsorted-with-repeats", "last-row", "none", "all"],
)
def test_arrow_table_rows_equal_a_take_on_the_whole_table(rows: np.ndarray) -> None:
    """``arrow_table`` takes from the slice the rows span (Arrow's take costs per chunk): the same rows."""
    from components.arrow import arrow_table
    from runner.tables.data import subset

    base = hf.Dataset(pa.Table.from_batches(table().data.table.to_batches(max_chunksize=100)))  # 25 record batches
    part = subset(base, rows)
    expected = base.data.table.select(["f", "c"]).take(pa.array(rows, pa.int64()))
    got = arrow_table(part, ["f", "c"])
    np.testing.assert_array_equal(got.column("f").to_numpy(), expected.column("f").to_numpy())  # NaNs equal here
    assert got.column("c").to_pylist() == expected.column("c").to_pylist()


def test_encoder_imputes_train_median_and_codes_train_categories() -> None:
    ds = table()
    train, test = ds.select(range(2000)), ds.select(range(2000, 2500))
    enc = TableEncoder(features=["c", "v", "f", "i"]).fit(train)
    assert enc.roles_.categorical == ("c",) and enc.roles_.numeric == ("f", "i", "v[0]", "v[1]", "v[2]")
    assert enc.feature_names_ == ["c", "f", "i", "v[0]", "v[1]", "v[2]"]
    assert enc.roles_.categories == (("<missing>", "x", "y"),)
    f_train = np.asarray(train.with_format("numpy")["f"], dtype=np.float32)
    X = enc.transform(test)
    f_test = np.asarray(test.with_format("numpy")["f"], dtype=np.float32)
    np.testing.assert_array_equal(X[np.isnan(f_test), 1], np.float32(np.nanmedian(f_train)))
    c = np.array(test["c"][:], dtype=object)
    np.testing.assert_array_equal(X[:, 0], np.select([c == None, c == "x", c == "y"], [0, 1, 2], -9).astype(np.float32))  # noqa: E711


def test_unseen_category_gets_the_unknown_code() -> None:
    train = hf.Dataset.from_dict({"c": ["a", "b", "a"], "label": [0, 1, 0]})
    test = hf.Dataset.from_dict({"c": ["b", "zz"], "label": [0, 1]})
    X = TableEncoder(features=["c"]).fit(train).transform(test)
    np.testing.assert_array_equal(X[:, 0], [1.0, UNKNOWN])


def test_unsupported_columns_are_named() -> None:
    ds = hf.Dataset.from_dict({"tags": [["a"], ["b", "c"]], "label": [0, 1]})
    with pytest.raises(ConfigError, match=r"dataset.features: unsupported column type\(s\) \{'tags': "):
        TableEncoder(features=["tags"]).fit(ds)
