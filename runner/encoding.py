"""Turn HF dataset splits into float32 feature matrices, fitted on the training split only.

Numeric columns are read straight from the Arrow table (no per-row Python, zero-copy where
the layout allows); missing numbers are imputed with the training median. String and ``ClassLabel``
feature columns are one-hot encoded with the training categories (scikit-learn's
``OneHotEncoder``): a category first seen at test time maps to all zeros, not to an error.
An image / fixed-shape array column becomes flat rows ``C·H·W`` with ``image_shape`` kept.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.preprocessing import OneHotEncoder

from components.arrow import arrow_table
from components.base import FittedTransform
from components.errors import ConfigError

_MISSING = "<missing>"


def _kind(feature: Any, arrow_type: pa.DataType) -> str:
    import datasets as hf

    if isinstance(feature, (hf.Image, hf.Array2D, hf.Array3D)):
        return "image"
    if isinstance(feature, hf.ClassLabel) or pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "categorical"
    if pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type) or pa.types.is_boolean(arrow_type):
        return "numeric"
    if pa.types.is_fixed_size_list(arrow_type) and (
        pa.types.is_integer(arrow_type.value_type) or pa.types.is_floating(arrow_type.value_type)
    ):
        return "vector"
    return "unsupported"


def _width(arrow_type: pa.DataType) -> int:
    return arrow_type.list_size if pa.types.is_fixed_size_list(arrow_type) else 1


def numeric_matrix(ds: Any, columns: list[str]) -> np.ndarray:
    """Numeric and fixed-size vector columns as one row-major float32 matrix (nulls -> NaN).

    Scalar columns come first, in order, then vector columns. Scalars are interleaved by
    Arrow's own ``RecordBatch.to_tensor`` one cached record batch at a time; a vector column
    (fixed-size list) is already row-major in Arrow and is copied as one block
    (benchmarks/bench_arrow_load.py measures both against ``np.load``).
    """
    table = arrow_table(ds, columns)
    n = table.num_rows
    types = dict(zip(table.column_names, table.schema.types))  # one pass: wide tables have 10k+ columns
    scalar_names = [c for c, t in types.items() if _width(t) == 1]
    vector_names = [c for c, t in types.items() if _width(t) != 1]
    widths = [_width(types[c]) for c in vector_names]
    out = np.empty((n, len(scalar_names) + sum(widths)), dtype=np.float32)
    if scalar_names:
        scalars = table.select(scalar_names)
        if any(types[c] != pa.float32() for c in scalar_names):  # one table-wide cast, in Arrow
            scalars = scalars.cast(pa.schema([pa.field(c, pa.float32()) for c in scalar_names]))
        row, k = 0, len(scalar_names)
        for batch in scalars.to_batches(max_chunksize=8192):  # cache-sized: to_tensor on one huge batch is 4x slower
            if batch.num_rows:
                out[row : row + batch.num_rows, :k] = np.asarray(batch.to_tensor(null_to_nan=True, row_major=True))
                row += batch.num_rows
    offset = len(scalar_names)
    for name, width in zip(vector_names, widths):
        column = table.column(name)
        if column.null_count:
            raise ConfigError(f"dataset.features: vector column '{name}' has missing rows; fill or drop them.")
        row = 0
        for chunk in column.chunks:
            values = chunk.flatten()
            values = values if values.type == pa.float32() else pc.cast(values, pa.float32())
            out[row : row + len(chunk), offset : offset + width] = values.to_numpy(zero_copy_only=False).reshape(-1, width)
            row += len(chunk)
        offset += width
    return out


class TableEncoder(FittedTransform):
    """Feature columns of an HF ``Dataset`` -> float32 matrix; categories and medians from train."""

    def __init__(self, *, features: list[str], image_shape: tuple[int, ...] | None = None) -> None:
        self.features = features
        self.image_shape = image_shape

    def fit(self, ds: Any, y: Any = None) -> TableEncoder:
        schema = ds.data.table.schema
        features = ds.info.features  # not ds.features: that deep-copies every column's feature per access
        kinds = {c: _kind(features[c], schema.field(c).type) for c in self.features}
        bad = {c: str(features[c]) for c, k in kinds.items() if k == "unsupported"}
        if bad:
            raise ConfigError(
                f"dataset.features: unsupported column type(s) {bad}; accepted: numbers, booleans, fixed-length "
                f"number lists, strings (categorical), ClassLabel, or a single image / fixed-shape array column."
            )
        # scalars first, then vectors: the column order numeric_matrix produces
        self.numeric_ = [c for c in self.features if kinds[c] == "numeric"] + [
            c for c in self.features if kinds[c] == "vector"
        ]
        self.categorical_ = [c for c in self.features if kinds[c] == "categorical"]
        self.image_ = [c for c in self.features if kinds[c] == "image"]
        num = numeric_matrix(ds, self.numeric_)
        with np.errstate(all="ignore"):
            medians = np.nanmedian(num, axis=0) if num.shape[0] else np.zeros(num.shape[1])
        self.medians_ = np.nan_to_num(medians, nan=0.0).astype(np.float32)
        self.onehot_ = None
        if self.categorical_:
            self.onehot_ = OneHotEncoder(handle_unknown="ignore", sparse_output=False, dtype=np.float32)
            self.onehot_.fit(self._categories(ds))
        names = []
        for c in self.numeric_:
            width = _width(schema.field(c).type)
            names += [c] if width == 1 else [f"{c}[{i}]" for i in range(width)]
        self.n_numeric_ = len(names)  # numeric columns come first; scalers touch only these
        self.categorical_groups_: list[list[int]] = []
        if self.onehot_ is not None:
            names += [str(n) for n in self.onehot_.get_feature_names_out(self.categorical_)]
            start = self.n_numeric_
            for cats in self.onehot_.categories_:
                self.categorical_groups_.append(list(range(start, start + len(cats))))
                start += len(cats)
        if self.image_:
            names += [f"{self.image_[0]}_{i}" for i in range(int(np.prod(self.image_shape or (0,))))]
            self.n_numeric_ = len(names)
        self.feature_names_ = names
        return self

    def _categories(self, ds: Any) -> np.ndarray:
        """Categorical columns as strings (ClassLabel ids mapped to names; nulls to '<missing>')."""
        import datasets as hf

        table = arrow_table(ds, self.categorical_)
        features = ds.info.features  # not ds.features: that deep-copies every column's feature
        cols = []
        for c in self.categorical_:
            values = table.column(c).to_numpy(zero_copy_only=False)
            feature = features[c]
            if isinstance(feature, hf.ClassLabel):
                names = np.array(feature.names + [_MISSING], dtype=object)
                values = names[np.where(values == None, -1, values).astype(np.int64)]  # noqa: E711
            values = np.where(values == None, _MISSING, values).astype(str).astype(object)  # noqa: E711
            cols.append(values)
        return np.stack(cols, axis=1)

    def missing_cells(self, ds: Any) -> int:
        """Numeric NaNs/nulls among the features (categorical nulls count as a category)."""
        return int(np.isnan(numeric_matrix(ds, self.numeric_)).sum())

    def transform(self, ds: Any) -> np.ndarray:
        self._check()
        if self.image_:
            return self._images(ds)
        parts = []
        if self.numeric_:
            num = numeric_matrix(ds, self.numeric_)
            nan = np.isnan(num)
            if nan.any():
                num[nan] = np.broadcast_to(self.medians_, num.shape)[nan]
            parts.append(num)
        if self.onehot_ is not None:
            parts.append(self.onehot_.transform(self._categories(ds)))
        return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)

    def _images(self, ds: Any) -> np.ndarray:
        col = self.image_[0]
        arr = ds.with_format("numpy", columns=[col])[:][col]
        if arr.dtype == object:
            raise ConfigError(
                f"dataset.features: images in column '{col}' have different sizes; resize them to one size first."
            )
        arr = np.asarray(arr, dtype=np.float32)
        if arr.ndim == 4:  # N, H, W, C -> N, C, H, W
            arr = arr.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(arr.reshape(arr.shape[0], -1))
