"""The fitted inference pipeline of one job, applied to raw rows: what the logged MLflow model runs.

raw rows (pandas) -> the job's fitted ``TableEncoder`` (training categories and medians) -> the
fitted ``Preprocessor.transform`` (outlier clip/flag, scaler, reducer, one-hot last; never a row dropped) ->
the network -> softmax -> the decision rule (argmax, or the threshold / per-class biases tuned on
validation). Only the high-level ``encoder.transform(dataset)`` and ``preprocessor.transform(X)``
are called, so the steps stay exactly the job's own.

Raw input: one column per raw feature column of the training split; extra columns are ignored.
Numeric and boolean columns take numbers (NaN / None -> the training median); categorical ones
(strings, ``ClassLabel``) take the category *names* as strings (None -> its own "missing"
category, an unseen one -> all-zero one-hot); a fixed-length vector or an image / array column
takes one array-like per cell, of the training shape (an ``Image`` column: decoded pixels, not
files). Output: a DataFrame with ``label`` (class name after the decision rule) and one
``proba/<class>`` column per class.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc import PythonModel

PROBA_PREFIX = "proba/"


class InputError(ValueError):
    """Raw rows that cannot be scored: missing columns or values of the wrong kind (one line)."""


@dataclass
class RawColumn:
    """One raw feature column as the training split had it."""

    name: str
    kind: str  # number | boolean | category | vector | array
    shape: tuple[int, ...] = ()  # vector: (width,); array: the per-row shape as stored (H, W[, C])
    names: list[str] = field(default_factory=list)  # ClassLabel: id -> name (ints accepted too)


def raw_columns(features: Any, columns: list[str], image_shape: tuple[int, ...] | None = None) -> list[RawColumn]:
    """The raw input schema from the training split's HF ``Features`` (``ds.info.features``); an
    ``Image`` column takes decoded pixels, (H, W) or (H, W, C) as ``datasets`` decodes them."""
    import datasets as hf

    out = []
    for name in columns:
        feat = features[name]
        if isinstance(feat, hf.ClassLabel):
            out.append(RawColumn(name, "category", names=list(feat.names)))
        elif isinstance(feat, (hf.Array2D, hf.Array3D)):
            out.append(RawColumn(name, "array", tuple(feat.shape)))
        elif isinstance(feat, hf.Image) and image_shape is not None:
            c, h, w = image_shape
            out.append(RawColumn(name, "array", (h, w) if c == 1 else (h, w, c)))
        elif int(getattr(feat, "length", -1) or -1) > 0:  # a fixed-length number list (List / Sequence)
            out.append(RawColumn(name, "vector", (int(feat.length),)))
        elif isinstance(feat, hf.Value) and feat.dtype in ("string", "large_string"):
            out.append(RawColumn(name, "category"))
        elif isinstance(feat, hf.Value) and feat.dtype == "bool":
            out.append(RawColumn(name, "boolean"))
        else:
            out.append(RawColumn(name, "number"))
    return out


def _cell(value: Any) -> np.ndarray:
    """One array cell (a list, an array, or pandas' object array of row arrays) as float32."""
    arr = np.asarray(value)
    if arr.dtype == object:
        arr = np.stack([_cell(v) for v in arr]) if arr.size else arr
    return np.asarray(arr, dtype=np.float32)


def _column_values(col: RawColumn, values: Any) -> Any:
    """One pandas column -> what the HF column of the inference dataset holds; InputError on bad kinds."""
    import pandas as pd

    if col.kind in ("number", "boolean"):
        numbers = pd.to_numeric(values, errors="coerce")
        bad = numbers.isna() & values.notna()
        if bad.any():
            raise InputError(f"column '{col.name}': expected numbers, got e.g. {values[bad].iloc[0]!r}.")
        return numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    if col.kind == "category":
        codes = values.to_numpy(dtype=object)
        out = np.empty(len(codes), dtype=object)
        for i, v in enumerate(codes):  # categories are few per column; this loop is per row
            if v is None or (isinstance(v, float) and np.isnan(v)):
                out[i] = None
            elif col.names and isinstance(v, (int, np.integer)) and 0 <= int(v) < len(col.names):
                out[i] = col.names[int(v)]  # a ClassLabel id, as HF exports store it
            else:
                out[i] = str(v)
        return out
    try:
        arr = np.stack([_cell(v) for v in values]) if len(values) else np.zeros((0, *col.shape), np.float32)
    except (ValueError, TypeError) as exc:
        raise InputError(f"column '{col.name}': expected one array of shape {col.shape} per row ({exc}).") from None
    if tuple(arr.shape[1:]) != col.shape:
        raise InputError(f"column '{col.name}': expected arrays of shape {col.shape} per row, got {tuple(arr.shape[1:])}.")
    return arr


def to_dataset(frame: Any, columns: list[RawColumn]) -> Any:
    """Raw pandas rows -> an HF ``Dataset`` the job's encoder reads (categories as strings)."""
    import datasets as hf
    import pyarrow as pa

    missing = [c.name for c in columns if c.name not in frame.columns]
    if missing:
        raise InputError(f"missing input column(s): {', '.join(missing)}; the model needs {len(columns)} raw columns.")
    features, arrays = {}, {}
    for col in columns:
        values = _column_values(col, frame[col.name])
        if col.kind in ("number", "boolean"):
            features[col.name], arrays[col.name] = hf.Value("float64"), pa.array(values, from_pandas=True)
        elif col.kind == "category":
            features[col.name], arrays[col.name] = hf.Value("string"), pa.array(values, type=pa.string())
        elif col.kind == "vector":
            features[col.name] = hf.Sequence(hf.Value("float32"), length=col.shape[0])
            flat = pa.array(values.reshape(-1), type=pa.float32())
            arrays[col.name] = pa.FixedSizeListArray.from_arrays(flat, col.shape[0])
        else:
            arrays[col.name] = values
    if any(c.kind == "array" for c in columns):  # Array2D/3D: datasets' own extension encoding
        for c in columns:
            if c.kind == "array":
                features[c.name] = (hf.Array2D if len(c.shape) == 2 else hf.Array3D)(c.shape, "float32")
            else:
                arrays[c.name] = arrays[c.name].to_pylist()
        return hf.Dataset.from_dict({c.name: arrays[c.name] for c in columns}, features=hf.Features(features))
    table = pa.table({c.name: arrays[c.name] for c in columns})
    info_features = hf.Features({c.name: features[c.name] for c in columns})
    return hf.Dataset(table.cast(info_features.arrow_schema), info=hf.DatasetInfo(features=info_features))


@dataclass
class InferencePipeline:
    """Everything fitted that scoring a raw row needs, except the network weights (a state_dict)."""

    encoder: Any  # runner.tables.encoding.TableEncoder, fitted on the training split
    preprocessor: Any  # runner.tables.pipeline.Preprocessor, fitted; its resampler removed (train-only)
    columns: list[RawColumn]
    class_names: list[str]
    model_config: dict[str, Any]
    in_features: int
    image_shape: tuple[int, ...] | None
    rule: Any = None  # runner.fitting.threshold.DecisionRule, or None for argmax
    network: Any = field(default=None, repr=False)

    def build_network(self, state_dict: Any) -> Any:
        """The job's model rebuilt from its config and loaded with the trained weights (CPU, eval)."""
        import components
        from components import get_registry

        components.load_builtin()
        net = get_registry("model").build(
            self.model_config, "model", in_features=self.in_features, num_classes=len(self.class_names), image_shape=self.image_shape
        )
        net.load_state_dict(state_dict)
        self.network = net.eval()
        return self.network

    def features(self, frame: Any) -> np.ndarray:
        """Raw rows -> the matrix the network was trained on (encoder, then the fitted preprocessor)."""
        X = self.encoder.transform(to_dataset(frame, self.columns))
        return self.preprocessor.transform(X)

    def predict_proba(self, frame: Any, batch_size: int = 65_536) -> np.ndarray:
        import torch

        from runner.fitting.evaluation import predict_proba

        X = torch.as_tensor(np.ascontiguousarray(self.features(frame), dtype=np.float32))
        if X.shape[0] == 0:
            return np.zeros((0, len(self.class_names)), dtype=np.float32)
        return predict_proba(self.network, X, batch_size)

    def predict(self, frame: Any) -> Any:
        """``label`` (after the decision rule) and ``proba/<class>`` per raw row, index kept."""
        import pandas as pd

        proba = self.predict_proba(frame)
        idx = proba.argmax(1) if self.rule is None else self.rule.predict(proba)
        out = pd.DataFrame({f"{PROBA_PREFIX}{n}": proba[:, k] for k, n in enumerate(self.class_names)}, index=frame.index)
        out.insert(0, "label", np.asarray(self.class_names, dtype=object)[np.asarray(idx, dtype=np.int64)])
        return out


def raw_frame(ds: Any, columns: list[str] | None = None) -> Any:
    """An HF split as the raw pandas rows the model takes (ClassLabel ids decoded to names)."""
    import datasets as hf

    columns = list(ds.column_names) if columns is None else columns
    features = ds.info.features
    frame = ds.select_columns(columns).to_pandas()
    for c in columns:
        if isinstance(features[c], hf.Image):  # decoded pixels, as the model takes them
            frame[c] = list(ds.select_columns([c]).with_format("numpy")[c])
        if isinstance(features[c], hf.ClassLabel):
            names = np.asarray(features[c].names + [None], dtype=object)
            frame[c] = names[frame[c].fillna(-1).astype(np.int64).to_numpy()]
    return frame


class PipelineModel(PythonModel):
    """The MLflow pyfunc wrapper: ``artifacts`` = the pickled :class:`InferencePipeline` + the weights."""

    def load_context(self, context: Any) -> None:
        import cloudpickle
        import torch

        with open(context.artifacts["pipeline"], "rb") as handle:
            self.pipeline: InferencePipeline = cloudpickle.load(handle)
        self.pipeline.build_network(torch.load(context.artifacts["weights"], map_location="cpu", weights_only=True))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """A DataFrame hint: MLflow then neither infers a schema nor converts (the signature given at save does)."""
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return self.pipeline.predict(frame)
