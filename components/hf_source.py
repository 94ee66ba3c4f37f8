"""The ``hf`` dataset: any ``datasets.load_dataset`` source (hub ids, csv, parquet, json files).

Kept apart from the embedded sets in components/datasets.py. Everything after ``load_dataset``
is width-linear: a wide table (thousands of columns) must not pay a Python round trip per
column. Two traps in ``datasets`` 5.x make that easy to miss: ``Dataset.features`` returns a
*deep copy* of every column's feature on each access and ``Dataset.column_names`` rebuilds its
list each call, so ``ds.features[c] for c in columns`` is quadratic (134 s on a 63 × 2,308
parquet table). Here they are read once, from ``ds.info.features`` (not copied) and a set of
names, and labels are re-coded on the Arrow column (one ``set_column`` per split) instead of
``map`` + ``cast_column``, which rewrite and re-validate every column.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from components.dataset_checks import _is_local, check_csv_header, load_error
from components.datasets import DATASETS, LoadedData, _as_dataset_dict
from components.errors import ConfigError

SPLIT_NAMES = ("train", "validation", "test")
_SPLIT_ALIASES = {"validation": ("validation", "valid", "val", "dev"), "test": ("test",), "train": ("train",)}


def _check_local_files(data_files: Any) -> None:
    if data_files is None:
        return
    if isinstance(data_files, Mapping):
        for files in data_files.values():
            _check_local_files(files if isinstance(files, (list, tuple)) else [files])
        return
    for f in [data_files] if isinstance(data_files, str) else data_files:
        if _is_local(str(f)) and not os.path.exists(f):
            raise ConfigError(f"dataset.data_files: file not found: '{os.path.abspath(f)}'.")


def _pick_splits(dd: Any, splits: Mapping[str, str] | None) -> dict[str, Any]:
    if splits:
        unknown = [k for k in splits if k not in SPLIT_NAMES]
        if unknown:
            raise ConfigError(f"dataset.splits: unknown split role(s) {unknown}; accepted: {', '.join(SPLIT_NAMES)}.")
        chosen = {}
        for role, source in splits.items():
            if source is None:
                continue
            if source not in dd:
                raise ConfigError(
                    f"dataset.splits.{role}: the dataset has no split '{source}'. Available: {', '.join(dd)}."
                )
            chosen[role] = dd[source]
        if "train" not in chosen:
            raise ConfigError("dataset.splits.train: a training split is required.")
        return chosen
    chosen = {}
    for role, aliases in _SPLIT_ALIASES.items():
        for alias in aliases:
            if alias in dd:
                chosen[role] = dd[alias]
                break
    if "train" not in chosen:
        if len(dd) == 1:
            chosen["train"] = dd[next(iter(dd))]
        else:
            raise ConfigError(
                f"dataset.splits: no 'train' split among {', '.join(dd)}; map one with dataset.splits.train=<name>."
            )
    return chosen


def saved_to_disk(path: str) -> bool:
    """A folder written by ``Dataset.save_to_disk`` (``state.json``) or ``DatasetDict.save_to_disk``
    (``dataset_dict.json``): ``load_dataset`` cannot read those, ``load_from_disk`` does."""
    folder = os.path.expanduser(path)
    return os.path.isdir(folder) and any(os.path.exists(os.path.join(folder, f)) for f in ("state.json", "dataset_dict.json"))


@DATASETS.register("hf")
def hf_dataset(
    *,
    path: str,
    config_name: str | None = None,
    data_files: str | list[str] | dict[str, Any] | None = None,
    data_dir: str | None = None,
    revision: str | None = None,
    splits: dict[str, Any] | None = None,
    label: str = "label",
    features: list[str] | None = None,
    class_names: list[str] | None = None,
    load_kwargs: dict[str, Any] | None = None,
) -> LoadedData:
    """Any ``datasets.load_dataset`` source: hub ids, or ``csv``/``parquet``/``json`` + ``data_files``;
    or a folder written by ``save_to_disk`` (a ``Dataset``: its rows are the train split; a
    ``DatasetDict``: its splits), read with ``load_from_disk``.

    ``splits`` maps the runner's roles (train, validation, test) to the source's split names;
    by default ``train``/``validation``/``test`` (or ``valid``, ``val``, ``dev``) are used.
    ``features`` defaults to every column but the label. A single array or ``Image`` column is
    treated as an image; string columns are categorical (one-hot encoded from train later).
    """
    import datasets as hf

    _check_local_files(data_files)
    check_csv_header(path, data_files)
    looks_local = path.startswith(("/", "./", "../", "~")) or path.endswith((".csv", ".json", ".jsonl", ".parquet"))
    if looks_local and not os.path.exists(os.path.expanduser(path)):
        raise ConfigError(f"dataset.path: no such file or folder: '{os.path.abspath(path)}'.")
    try:
        if saved_to_disk(path):
            dd = hf.load_from_disk(os.path.expanduser(path))
        else:
            dd = hf.load_dataset(
                path, config_name, data_files=data_files, data_dir=data_dir, revision=revision, **(load_kwargs or {})
            )
    except Exception as exc:
        raise load_error(exc, path, data_files) from exc
    if not isinstance(dd, hf.DatasetDict):
        dd = hf.DatasetDict({"train": dd})
    chosen = _pick_splits(dd, splits)
    columns = list(chosen["train"].column_names)
    present = set(columns)
    if label not in present:
        raise ConfigError(
            f"dataset.label: column '{label}' not found in '{path}'. Available columns: {', '.join(columns)}."
        )
    feats = list(features) if features else [c for c in columns if c != label]
    missing = [c for c in feats if c not in present]
    if missing:
        raise ConfigError(
            f"dataset.features: column(s) {missing} not found in '{path}'. Available columns: {', '.join(columns)}."
        )
    for role, ds in chosen.items():
        has = set(ds.column_names)
        absent = [c for c in feats + [label] if c not in has]
        if absent:
            raise ConfigError(f"dataset.splits.{role}: split lacks column(s) {absent}.")
    chosen = _encode_labels(chosen, label, class_names)
    image_shape = _image_shape(chosen["train"], feats)
    return LoadedData(_as_dataset_dict(chosen), label, feats, image_shape)


def _encode_labels(chosen: dict[str, Any], label: str, class_names: list[str] | None) -> dict[str, Any]:
    """One ``ClassLabel`` shared by every split (names from the union of splits, sorted)."""
    import datasets as hf

    train_label = chosen["train"].info.features[label]
    if isinstance(train_label, hf.ClassLabel):
        return {
            role: ds if ds.info.features[label] == train_label else ds.cast_column(label, train_label)
            for role, ds in chosen.items()
        }
    columns = {role: ds.data.column(label) for role, ds in chosen.items()}  # every row of the backing table
    if any(col.null_count for col in columns.values()):
        raise ConfigError(f"dataset.label: column '{label}' has missing values; drop or fill those rows first.")
    values: set[Any] = set()
    for col in columns.values():
        values.update(col.unique().to_pylist())
    ordered = sorted(values, key=lambda v: (isinstance(v, str), v))
    if class_names and len(class_names) != len(ordered):
        raise ConfigError(f"dataset.class_names: got {len(class_names)} names for {len(ordered)} label values {ordered}.")
    target = hf.ClassLabel(names=class_names or [str(v) for v in ordered])
    return {role: _with_label_ids(ds, label, columns[role], ordered, target) for role, ds in chosen.items()}


def _with_label_ids(ds: Any, label: str, column: Any, ordered: list[Any], target: Any) -> Any:
    """``ds`` with its label column replaced by ids into ``ordered`` (one Arrow op, no row loop)."""
    import datasets as hf
    import pyarrow as pa
    import pyarrow.compute as pc
    from datasets.table import ConcatenationTable, InMemoryTable

    lookup = {v: i for i, v in enumerate(ordered)}
    uniques = column.unique()
    codes = pa.array([lookup[v] for v in uniques.to_pylist()], pa.int64())
    ids = pc.take(codes, pc.index_in(column, value_set=uniques))  # value -> position in uniques -> id
    data = ds.data
    if isinstance(data, ConcatenationTable):  # a cache in several shards (> 500 MB): no set_column there;
        data = InMemoryTable(data.table)  # zero-copy, the buffers stay the memory-mapped shards'
    table = data.set_column(data.column_names.index(label), pa.field(label, pa.int64()), ids)
    features = hf.Features(ds.info.features)  # shallow: the column features are shared, not copied
    features[label] = target
    fingerprint = hashlib.sha256(f"{ds._fingerprint}|{label}|{target.names}".encode()).hexdigest()[:16]
    info = hf.DatasetInfo(features=features)
    return hf.Dataset(table, info=info, split=ds.split, indices_table=ds._indices, fingerprint=fingerprint)


def _image_shape(ds: Any, feats: list[str]) -> tuple[int, ...] | None:
    """(C, H, W) when the only feature is an image or fixed-shape array column."""
    import datasets as hf

    features = ds.info.features  # not ``ds.features``: that deep-copies every column on each access
    is_image = [isinstance(features[c], (hf.Image, hf.Array2D, hf.Array3D)) for c in feats]
    if not any(is_image):
        return None
    if len(feats) != 1:
        raise ConfigError(
            f"dataset.features: an image column must be the only feature; got {feats}. "
            f"Set dataset.features=[<image column>]."
        )
    first = np.asarray(ds.with_format("numpy")[0][feats[0]])
    if first.ndim == 2:
        return (1, *first.shape)
    if first.ndim == 3:
        return (first.shape[2], first.shape[0], first.shape[1])  # HWC -> CHW
    raise ConfigError(f"dataset.features: image column '{feats[0]}' has shape {first.shape}; expected H×W or H×W×C.")
