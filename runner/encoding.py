"""Turn HF dataset splits into float32 feature matrices, fitted on the training split only.

Numeric columns are read straight from Arrow through ``with_format("numpy")`` (no per-row
Python); missing numbers are imputed with the training median. String and ``ClassLabel``
feature columns are one-hot encoded with the training categories (scikit-learn's
``OneHotEncoder``): a category first seen at test time maps to all zeros, not to an error.
An image / fixed-shape array column becomes flat rows ``C·H·W`` with ``image_shape`` kept.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.preprocessing import OneHotEncoder

from components.base import FittedTransform
from components.errors import ConfigError

_MISSING = "<missing>"


def _kind(feature: Any) -> str:
    import datasets as hf

    if isinstance(feature, (hf.Image, hf.Array2D, hf.Array3D)):
        return "image"
    if isinstance(feature, hf.ClassLabel):
        return "categorical"
    dtype = getattr(feature, "dtype", None)
    if dtype in ("string", "large_string"):
        return "categorical"
    if dtype is not None and (dtype.startswith(("int", "uint", "float")) or dtype in ("bool", "double")):
        return "numeric"
    return "unsupported"


def numeric_matrix(ds: Any, columns: list[str]) -> np.ndarray:
    """Columns as one float32 ``(rows, columns)`` matrix, read from Arrow in one pass."""
    if not columns:
        return np.zeros((ds.num_rows, 0), dtype=np.float32)
    arrays = ds.with_format("numpy", columns=columns)[:]
    out = np.empty((ds.num_rows, len(columns)), dtype=np.float32)
    for j, c in enumerate(columns):
        out[:, j] = arrays[c]
    return out


class TableEncoder(FittedTransform):
    """Feature columns of an HF ``Dataset`` -> float32 matrix; categories and medians from train."""

    def __init__(self, *, features: list[str], image_shape: tuple[int, ...] | None = None) -> None:
        self.features = features
        self.image_shape = image_shape

    def fit(self, ds: Any, y: Any = None) -> "TableEncoder":
        kinds = {c: _kind(ds.features[c]) for c in self.features}
        bad = {c: str(ds.features[c]) for c, k in kinds.items() if k == "unsupported"}
        if bad:
            raise ConfigError(
                f"dataset.features: unsupported column type(s) {bad}; accepted: numbers, booleans, strings "
                f"(categorical), ClassLabel, or a single image / fixed-shape array column."
            )
        self.numeric_ = [c for c in self.features if kinds[c] == "numeric"]
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
        names = list(self.numeric_)
        if self.onehot_ is not None:
            names += [str(n) for n in self.onehot_.get_feature_names_out(self.categorical_)]
        if self.image_:
            names += [f"{self.image_[0]}_{i}" for i in range(int(np.prod(self.image_shape or (0,))))]
        self.feature_names_ = names
        return self

    def _categories(self, ds: Any) -> np.ndarray:
        import datasets as hf

        cols = []
        table = ds.select_columns(self.categorical_).with_format(None)[:]
        for c in self.categorical_:
            feature = ds.features[c]
            values = table[c]
            if isinstance(feature, hf.ClassLabel):
                values = [feature.int2str(v) if v is not None else None for v in values]
            cols.append(np.array([_MISSING if v is None else str(v) for v in values], dtype=object))
        return np.stack(cols, axis=1) if cols else np.zeros((ds.num_rows, 0), dtype=object)

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
