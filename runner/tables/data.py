"""Load -> split -> encode: from a dataset config to train/validation/test arrays.

Splits are stratified and seeded. A source without a test split gets one carved out
(``split.test_size``); a validation split is carved from train (``split.val_size``) unless the
source has one. The encoder is fitted on the training split only.
"""
from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

import numpy as np

from components.datasets import DATASETS, LoadedData
from components.errors import ConfigError
from components.registry import Interval, check_value

if TYPE_CHECKING:  # scikit-learn and pyarrow load when data is read, not when a config is checked
    from runner.tables.encoding import TableEncoder

Fraction = Annotated[float, Interval(0, 1, "neither")]


@dataclass
class Split:
    X: np.ndarray
    y: np.ndarray


@dataclass
class PreparedData:
    train: Split
    validation: Split
    test: Split
    class_names: list[str]
    feature_names: list[str]
    image_shape: tuple[int, ...] | None
    fingerprint: str
    encoder: TableEncoder
    info: dict[str, float] = field(default_factory=dict)
    raw_train: Any = None  # the HF training split, for checks on the raw columns (completeness)
    raw_features: list[str] = field(default_factory=list)
    path: str = "in_memory"  # or "streamed": train.X stays in the Arrow cache (runner/tables/streaming.py)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def one_hot(self, X: np.ndarray) -> np.ndarray:
        """A split as quality and drift read it: numeric columns, then one-hot categories
        (``one_hot_names``); codes are labels, so a mean or a KS test over them means nothing."""
        return self._one_hot_step.transform(X)

    @functools.cached_property
    def _one_hot_step(self) -> Any:
        """The one-hot step of the training categories (fixed by the encoder), built once per job."""
        from runner.tables.encoding import OneHotLast

        roles = self.encoder.roles_
        return OneHotLast(roles).fit(np.zeros((1, len(roles.names)), np.float32))  # categories come from the roles, not rows

    @property
    def one_hot_names(self) -> list[str]:
        return self.encoder.roles_.one_hot_names()


def check_split(cfg: Mapping[str, Any]) -> tuple[float, float]:
    """``split.test_size`` and ``split.val_size`` as fractions in (0, 1)."""
    allowed = {"test_size", "val_size"}
    for key in cfg:
        if key not in allowed:
            raise ConfigError(f"split.{key}: unknown key. Accepted: {', '.join(sorted(allowed))}.")
    sizes = []
    for key, default in (("test_size", 0.2), ("val_size", 0.2)):
        value = cfg.get(key, default)
        problem = check_value(value, Fraction)
        if problem:
            raise ConfigError(f"split.{key}: got {value!r}; expected {problem}.")
        sizes.append(float(value))
    return sizes[0], sizes[1]


def labels(ds: Any, label: str) -> np.ndarray:
    from components.arrow import arrow_table

    return arrow_table(ds, [label]).column(0).to_numpy().astype(np.int64)  # a writable copy


def _stratified(ds: Any, label: str, size: float, seed: int, what: str, class_names: list[str]) -> tuple[Any, Any]:
    y = labels(ds, label)
    counts = np.bincount(y, minlength=len(class_names))
    too_small = [(class_names[k], int(c)) for k, c in enumerate(counts) if 0 < c < 2]
    if too_small:
        raise ConfigError(
            f"split.{what}: cannot stratify, class(es) with fewer than 2 rows: "
            + ", ".join(f"'{n}' ({c})" for n, c in too_small[:5])
            + (f" and {len(too_small) - 5} more" if len(too_small) > 5 else "")
            + ". Provide a larger dataset or a ready-made split."
        )
    idx = np.arange(len(y))
    try:
        from sklearn.model_selection import train_test_split

        keep, carved = train_test_split(idx, test_size=size, stratify=y, random_state=seed)
    except ValueError as exc:
        raise ConfigError(f"split.{what}: {size} of {len(y)} rows cannot hold every class: {exc}") from exc
    return subset(ds, np.sort(keep)), subset(ds, np.sort(carved))


def subset(ds: Any, rows: np.ndarray) -> Any:
    """``ds.select(rows)`` without rebuilding the ``Dataset``: the same indices mapping, but
    ``Dataset.__init__`` re-derives, compares and serialises every column's feature (O(d) Python:
    ~1 s per call at 2,000 columns), which a row subset never changes. Rows are positions in ``ds``."""
    import copy

    import pyarrow as pa
    from datasets.table import InMemoryTable

    rows = np.asarray(rows, dtype=np.int64)
    base = ds._indices.column(0).to_numpy()[rows] if ds._indices is not None else rows
    out = copy.copy(ds)  # shares the (immutable) Arrow table and the info
    out._indices = InMemoryTable(pa.table({"indices": pa.array(base, type=pa.uint64())}))
    out._fingerprint = hashlib.sha256(f"{ds._fingerprint}|subset|".encode() + rows.tobytes()).hexdigest()[:16]
    return out


def split_loaded(loaded: LoadedData, test_size: float, val_size: float, seed: int) -> dict[str, Any]:
    """train / validation / test HF datasets, carving out the missing ones stratified and seeded."""
    splits = dict(loaded.splits)
    names = loaded.class_names
    train = splits["train"]
    if "test" not in splits:
        train, splits["test"] = _stratified(train, loaded.label, test_size, seed, "test_size", names)
    if "validation" not in splits:
        train, splits["validation"] = _stratified(train, loaded.label, val_size, seed + 1, "val_size", names)
    splits["train"] = train
    return splits


def prepare(
    dataset_cfg: Mapping[str, Any], split_cfg: Mapping[str, Any], seed: int, streamer: Callable[..., Any] | None = None
) -> PreparedData:
    """Build the dataset component, split it and encode features (fitted on train).

    ``streamer(loaded, splits, suspect)`` may take over after the split (a table above
    ``data.memory_budget``: runner/tables/streaming.py); when it returns None the splits are encoded here.
    """
    from runner.jobs.datachecks import check_features, check_label
    from runner.tables.encoding import TableEncoder

    test_size, val_size = check_split(split_cfg)
    loaded: LoadedData = DATASETS.build(dataset_cfg, "dataset")
    check_label(np.concatenate([labels(ds, loaded.label) for ds in loaded.splits.values()]), loaded.label, loaded.class_names)
    suspect = check_features(loaded.splits["train"], list(loaded.features))  # before the split: rows as in the file
    splits = split_loaded(loaded, test_size, val_size, seed)
    streamed = streamer(loaded, splits, suspect) if streamer is not None else None
    if streamed is not None:
        return streamed
    encoder = TableEncoder(features=loaded.features, image_shape=loaded.image_shape).fit(splits["train"])
    out = {name: Split(encoder.transform(ds), labels(ds, loaded.label)) for name, ds in splits.items()}
    info = {f"data/{name}_rows": float(ds.num_rows) for name, ds in splits.items()}
    info["data/features"] = float(len(encoder.roles_.one_hot_names()))  # the one-hot width, as the model sees the raw features
    info["data/missing_cells_train"] = float(encoder.missing_cells(splits["train"]))
    info["data/suspect_text_columns"] = float(suspect)
    return PreparedData(
        train=out["train"],
        validation=out["validation"],
        test=out["test"],
        class_names=loaded.class_names,
        feature_names=encoder.feature_names_,
        image_shape=loaded.image_shape,
        fingerprint=loaded.fingerprint(),
        encoder=encoder,
        info=info,
        raw_train=splits["train"],
        raw_features=list(loaded.features),
    )
