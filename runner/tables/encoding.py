"""Turn HF dataset splits into float32 feature matrices, fitted on the training split only.

The encoded matrix has two named roles (``TableEncoder.roles_``, a ``ColumnRoles``):
categorical codes first, then numeric columns. Numeric columns are read straight from the Arrow
table (no per-row Python, zero-copy where the layout allows); missing numbers are imputed with
the training median. String and ``ClassLabel`` feature columns become integer codes of the
training categories (scikit-learn's ``OrdinalEncoder``, sorted as ``OneHotEncoder`` sorts them);
a category first seen at test time gets code -1, which the one-hot step at the end of the
preprocessing (runner/tables/pipeline.py) maps to all zeros, not to an error. Codes, not one-hot
columns, travel through outliers, scaler, reducer and resampler, so SMOTE-NC / SMOTE-N see real
categories. An image / fixed-shape array column becomes flat rows ``C·H·W`` with ``image_shape`` kept.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sklearn.base import BaseEstimator
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

from components.arrow import arrow_table
from components.base import FittedTransform
from components.errors import ConfigError

_MISSING = "<missing>"
UNKNOWN = -1  # the code of a category the training split never showed


@dataclass(frozen=True)
class ColumnRoles:
    """The roles of the encoded matrix's columns, by name: ``categorical`` codes first, then ``numeric``.

    Everything downstream asks this object, not a column count: outliers, scalers and reducers
    act on ``numeric_features`` only; resamplers get ``categorical_features`` (imbalanced-learn's
    own parameter name and meaning); the one-hot step knows each column's ``categories``.
    """

    categorical: tuple[str, ...] = ()
    numeric: tuple[str, ...] = ()
    categories: tuple[tuple[str, ...], ...] = ()  # categories[j][code] for categorical column j

    @property
    def names(self) -> list[str]:
        """Column names of the encoded matrix, in order."""
        return [*self.categorical, *self.numeric]

    @property
    def categorical_features(self) -> list[int]:
        """Indices of the categorical codes (they stay first through every preprocessing step)."""
        return list(range(len(self.categorical)))

    @property
    def numeric_features(self) -> slice:
        """The numeric block of the encoded matrix (its width may change after the reducer)."""
        return slice(len(self.categorical), len(self.categorical) + len(self.numeric))

    def one_hot_names(self) -> list[str]:
        """Names of ``OneHotLast``'s output on the encoded matrix: numeric, then ``column_category``."""
        return [*self.numeric, *(f"{c}_{v}" for c, cats in zip(self.categorical, self.categories) for v in cats)]



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
        self.ordinal_ = None
        if self.categorical_:
            self.ordinal_ = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=UNKNOWN, dtype=np.float32)
            self.ordinal_.fit(self._categories(ds))
        numeric = []
        for c in self.numeric_:
            width = _width(schema.field(c).type)
            numeric += [c] if width == 1 else [f"{c}[{i}]" for i in range(width)]
        categories = tuple(tuple(str(v) for v in cats) for cats in self.ordinal_.categories_) if self.ordinal_ else ()
        self.roles_ = ColumnRoles(tuple(self.categorical_), tuple(numeric), categories)
        if self.image_:  # transform returns the flat pixels alone
            self.roles_ = ColumnRoles(numeric=tuple(f"{self.image_[0]}_{i}" for i in range(int(np.prod(self.image_shape or (0,))))))
        self.feature_names_ = self.roles_.names
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
        """The encoded matrix (float32): categorical codes, then numeric columns (``roles_``)."""
        self._check()
        if self.image_:
            return self._images(ds)
        parts = []
        if self.ordinal_ is not None:
            parts.append(self.ordinal_.transform(self._categories(ds)))
        if self.numeric_ or not parts:
            num = numeric_matrix(ds, self.numeric_)
            nan = np.isnan(num)
            if nan.any():
                num[nan] = np.broadcast_to(self.medians_, num.shape)[nan]
            parts.append(num)
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


class OneHotLast(BaseEstimator):
    """Categorical codes -> one-hot columns after the numeric ones; the last step before tensors.

    scikit-learn's ``OneHotEncoder`` with the training categories fixed by the encoder: a code
    the training split never showed (-1) maps to all zeros."""

    def __init__(self, roles: ColumnRoles) -> None:
        self.roles = roles

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> OneHotLast:
        n = len(self.roles.categorical)
        cats = [np.arange(len(c), dtype=np.float32) for c in self.roles.categories]
        self.onehot_ = OneHotEncoder(categories=cats, handle_unknown="ignore", sparse_output=False, dtype=np.float32) if n else None
        if self.onehot_ is not None:
            self.onehot_.fit(X[:, :n])
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        if self.onehot_ is None:
            return X.astype(np.float32, copy=False)
        n = len(self.roles.categorical)
        return np.concatenate([X[:, n:].astype(np.float32, copy=False), self.onehot_.transform(X[:, :n])], axis=1)

    def fit_transform(self, X: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        return self.fit(X, y).transform(X)
