"""The streamed path (runner/tables/streamed_fit.py) with column roles: a table with categorical columns,
trained from the Arrow cache, gets the same preprocessed rows as the in-memory Pipeline (the
reference, itself checked against scikit-learn and imbalanced-learn in tests/test_column_roles.py),
and the served preprocessor (the train-only resampler left out) transforms rows the same way."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import components
from runner.cli.configs import compose, to_plain
from runner.jobs.stages import build_preprocessor
from runner.tables.streamed_fit import StreamedPreprocessor
from runner.tables.streaming import prepare_within_budget
from tests.conftest import FAST
from tests.test_column_roles import frame

components.load_builtin()


@pytest.mark.parametrize("resampler, scaler", [("random_over", "standard"), ("random_under", "robust")])
def test_streamed_rows_with_categorical_columns_equal_in_memory_rows(tmp_path: Path, resampler: str, scaler: str) -> None:
    path = tmp_path / "t.parquet"
    frame(8000, seed=1).to_parquet(path)  # 8,000 rows x 9 columns (one-hot width) x 4 B x 8 copies > 1MB: streamed
    overrides = [*FAST, "dataset=hf", "dataset.path=parquet", f"dataset.data_files={path}", "dataset.label=label", "tracking=none"]
    plain = to_plain(compose([*overrides, "cache.enabled=false", f"resampler={resampler}", f"scaler={scaler}"]))
    mem = prepare_within_budget({**plain, "data": {"memory_budget": "1TB"}}, 0)
    streamed = prepare_within_budget({**plain, "data": {"memory_budget": "1MB"}}, 0)
    assert (mem.path, streamed.path) == ("in_memory", "streamed")
    assert mem.encoder.roles_.categorical == ("region", "size") == streamed.encoder.roles_.categorical
    pre = build_preprocessor(plain, mem, 0, "cpu")
    X, y, _ = pre.fit_resample(mem.train.X, mem.train.y)
    spre = StreamedPreprocessor(build_preprocessor(plain, streamed, 0, "cpu"))
    streamed.train.X.block_rows = 300  # several blocks: the scaler's partial_fit sees the numeric columns block by block
    rows, ys, _ = spre.fit_resample(streamed.train.X, streamed.train.y)
    assert spre.scaler_fit_ == ("partial_fit" if scaler == "standard" else "sample")
    np.testing.assert_array_equal(ys, y)
    np.testing.assert_allclose(rows.rows(np.arange(len(rows))), X, rtol=1e-5, atol=1e-5)
    n_onehot = sum(len(c) for c in mem.encoder.roles_.categories)
    assert X.shape[1] == 2 + n_onehot and set(np.unique(X[:, 2:])) == {0.0, 1.0}  # numeric, then one-hot last
    served = spre.pre.without_resampler()
    assert served.resampler is None and served.pipeline_.named_steps["resampler"] == "passthrough"
    np.testing.assert_allclose(served.transform(streamed.validation.X), pre.transform(mem.validation.X), rtol=1e-5, atol=1e-5)
