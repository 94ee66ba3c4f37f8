"""Datasets as HuggingFace ``datasets`` objects: the embedded ones and any ``load_dataset`` source.

Every loader returns :class:`LoadedData`: a ``DatasetDict`` (at least ``train``; ``validation``
and ``test`` when the source has them) whose label column is a ``ClassLabel``. Splitting,
encoding and everything fitted happen later in the runner, on the training split only.
The embedded datasets (scikit-learn's bundled tables and digits, the lecture's seeded
synthetic 99:1 set) need no network; ``hf`` accepts hub ids as well as local csv, parquet
and json files, all through the one ``load_dataset`` path.
"""
from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from components.dataset_checks import check_csv_header, load_error
from components.errors import ConfigError
from components.registry import Interval, get_registry

DATASETS = get_registry("dataset")
SPLIT_NAMES = ("train", "validation", "test")
_SPLIT_ALIASES = {"validation": ("validation", "valid", "val", "dev"), "test": ("test",), "train": ("train",)}


@dataclass
class LoadedData:
    """Raw splits plus what the runner needs to know to encode them."""

    splits: Any  # datasets.DatasetDict
    label: str
    features: list[str]
    image_shape: tuple[int, ...] | None = None  # (C, H, W) when the features are one image column

    @property
    def class_names(self) -> list[str]:
        return list(self.splits["train"].features[self.label].names)

    def fingerprint(self) -> str:
        """A stable id of the data: HF fingerprints are content/file hashes, split by split."""
        h = hashlib.sha256()
        for name in sorted(self.splits):
            ds = self.splits[name]
            h.update(name.encode())
            h.update(str(getattr(ds, "_fingerprint", None) or ds.num_rows).encode())
        return h.hexdigest()[:16]


def _table_dataset(columns: Mapping[str, np.ndarray], features: Any) -> Any:
    """An in-memory ``Dataset`` straight from numpy columns (``from_dict`` encodes row by row:
    1.2 s per 200k rows; this is a zero-copy Arrow table)."""
    import datasets as hf
    import pyarrow as pa

    table = pa.table({k: pa.array(np.asarray(v)) for k, v in columns.items()})
    return hf.Dataset(table.cast(features.arrow_schema), info=hf.DatasetInfo(features=features))


def _as_dataset_dict(data: Mapping[str, Any]) -> Any:
    import datasets as hf

    return hf.DatasetDict(dict(data))


@DATASETS.register("synthetic_imbalanced")
def synthetic_imbalanced(
    *,
    n_samples: Annotated[int, Interval(4, None)] = 10_000,
    ratio: Annotated[float, Interval(1, None)] = 99.0,
    separation: Annotated[float, Interval(0, None)] = 1.5,
    loc: Sequence[float] = (170.0, 70.0),
    scale: Sequence[float] = (10.0, 15.0),
    contamination: Annotated[float, Interval(0, 0.5, "left")] = 0.0,
    seed: int = 0,
) -> LoadedData:
    """The lecture's 2-D imbalanced set: ``n_samples`` rows at ρ = ``ratio`` (99 -> 9,900 : 100).

    Both classes are Gaussian with unit variance in standardized units; the minority mean sits
    ``separation`` standard deviations away along every axis, then each axis is mapped to raw
    units by ``loc + scale * z`` (by default height-in-cm / weight-in-kg-like columns), so the
    "raw" arm of a comparison really sees unscaled features. ``contamination`` replaces that
    share of rows (of either class) by gross outliers 4 to 8 standard deviations out.
    """
    import datasets as hf

    if len(loc) != len(scale) or len(loc) == 0:
        raise ConfigError(f"dataset.loc / dataset.scale: need the same non-zero length; got {list(loc)} and {list(scale)}.")
    n_min = max(2, int(round(n_samples / (1.0 + ratio))))
    n_maj = n_samples - n_min
    rng = np.random.default_rng(seed)
    d = len(loc)
    z = np.concatenate([rng.standard_normal((n_maj, d)), rng.standard_normal((n_min, d)) + separation])
    if contamination > 0:
        rows = rng.choice(n_samples, int(round(contamination * n_samples)), replace=False)
        z[rows] = rng.choice([-1.0, 1.0], (len(rows), d)) * rng.uniform(4, 8, (len(rows), d))
    x = np.asarray(loc, dtype=np.float64) + np.asarray(scale, dtype=np.float64) * z
    y = np.concatenate([np.zeros(n_maj, dtype=np.int64), np.ones(n_min, dtype=np.int64)])
    order = rng.permutation(n_samples)
    columns = {f"x{i}": x[order, i].astype(np.float32) for i in range(d)}
    features = hf.Features(
        {**{k: hf.Value("float32") for k in columns}, "label": hf.ClassLabel(names=["majority", "minority"])}
    )
    ds = _table_dataset({**columns, "label": y[order]}, features)
    return LoadedData(_as_dataset_dict({"train": ds}), "label", list(columns))


@DATASETS.register("covariate_shift")
def covariate_shift(
    *,
    n_train: Annotated[int, Interval(10, None)] = 4000,
    n_test: Annotated[int, Interval(10, None)] = 2000,
    shift: float = 1.5,
    test_std: Annotated[float, Interval(0, None, "neither")] = 0.6,
    seed: int = 0,
) -> LoadedData:
    """Covariate shift: p(x) moves between train and test, p(y|x) does not (lecture §5).

    x0, x1 ~ N(0, 1) in train; in test x0 ~ N(shift, test_std). p(y = 1 | x) =
    σ(4 (x0² − 1) + x1) in both, so a linear model is misspecified and where it is accurate
    depends on where the training mass is: what importance weighting corrects.
    """
    import datasets as hf

    rng = np.random.default_rng(seed)

    def draw(n: int, mean: float, std: float) -> dict[str, np.ndarray]:
        x0 = rng.normal(mean, std, n)
        x1 = rng.normal(0, 1, n)
        p = 1 / (1 + np.exp(-(4 * (x0**2 - 1) + x1)))
        y = (rng.random(n) < p).astype(np.int64)
        return {"x0": x0.astype(np.float32), "x1": x1.astype(np.float32), "label": y}

    features = hf.Features({"x0": hf.Value("float32"), "x1": hf.Value("float32"), "label": hf.ClassLabel(names=["0", "1"])})
    splits = {"train": _table_dataset(draw(n_train, 0.0, 1.0), features), "test": _table_dataset(draw(n_test, shift, test_std), features)}
    return LoadedData(_as_dataset_dict(splits), "label", ["x0", "x1"])


@DATASETS.register("breast_cancer")
def breast_cancer() -> LoadedData:
    """scikit-learn's bundled Wisconsin breast cancer table (569 × 30, 212 malignant : 357 benign)."""
    import datasets as hf
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    names = [n.replace(" ", "_") for n in bunch.feature_names]
    columns = {n: bunch.data[:, i].astype(np.float32) for i, n in enumerate(names)}
    features = hf.Features({**{n: hf.Value("float32") for n in names}, "label": hf.ClassLabel(names=[str(n) for n in bunch.target_names])})
    ds = _table_dataset({**columns, "label": bunch.target.astype(np.int64)}, features)
    return LoadedData(_as_dataset_dict({"train": ds}), "label", names)


@DATASETS.register("digits")
def digits(
    *,
    as_image: bool = False,
    n_classes: Annotated[int, Interval(2, 10)] = 10,
    max_value: Annotated[float, Interval(0, None, "neither")] = 16.0,
    imbalance: Annotated[float, Interval(1, None)] = 1.0,
    seed: int = 0,
) -> LoadedData:
    """scikit-learn's bundled 8×8 digits (1,797 images, values 0..16).

    ``as_image: true`` keeps one ``image`` column of 8×8 arrays (for the cnn model and image
    augmentation); otherwise 64 pixel columns for tabular models. ``max_value: 255`` rescales
    the pixels to the raw [0, 255] range of the lecture's quick start. ``imbalance: ρ`` keeps a
    long tail: class k keeps a share ρ^(−k/(K−1)) of its rows (class 0 all, the last 1/ρ; seeded).
    """
    import datasets as hf
    from sklearn.datasets import load_digits

    bunch = load_digits(n_class=n_classes)
    bunch.data, bunch.images = bunch.data * (max_value / 16.0), bunch.images * (max_value / 16.0)
    if imbalance > 1:
        rng = np.random.default_rng(seed)
        keep = []
        for k in range(n_classes):
            rows = np.flatnonzero(bunch.target == k)
            share = imbalance ** (-k / max(1, n_classes - 1))
            keep.append(np.sort(rng.choice(rows, max(2, int(round(share * len(rows)))), replace=False)))
        idx = np.sort(np.concatenate(keep))
        bunch.data, bunch.images, bunch.target = bunch.data[idx], bunch.images[idx], bunch.target[idx]
    names = [str(i) for i in range(n_classes)]
    label = hf.ClassLabel(names=names)
    if as_image:
        features = hf.Features({"image": hf.Array2D(shape=(8, 8), dtype="float32"), "label": label})
        ds = hf.Dataset.from_dict(
            {"image": bunch.images.astype(np.float32), "label": bunch.target.astype(np.int64)}, features=features
        )
        return LoadedData(_as_dataset_dict({"train": ds}), "label", ["image"], image_shape=(1, 8, 8))
    cols = [f"pixel_{r}_{c}" for r in range(8) for c in range(8)]
    columns = {n: bunch.data[:, i].astype(np.float32) for i, n in enumerate(cols)}
    features = hf.Features({**{n: hf.Value("float32") for n in cols}, "label": label})
    ds = _table_dataset({**columns, "label": bunch.target.astype(np.int64)}, features)
    return LoadedData(_as_dataset_dict({"train": ds}), "label", cols)


def _is_local(path: str) -> bool:
    return "://" not in path and not any(ch in path for ch in "*?[")


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
    """Any ``datasets.load_dataset`` source: hub ids, or ``csv``/``parquet``/``json`` + ``data_files``.

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
        dd = hf.load_dataset(
            path, config_name, data_files=data_files, data_dir=data_dir, revision=revision, **(load_kwargs or {})
        )
    except Exception as exc:
        raise load_error(exc, path, data_files) from exc
    if not isinstance(dd, hf.DatasetDict):
        dd = hf.DatasetDict({"train": dd})
    chosen = _pick_splits(dd, splits)
    columns = list(chosen["train"].column_names)
    if label not in columns:
        raise ConfigError(
            f"dataset.label: column '{label}' not found in '{path}'. Available columns: {', '.join(columns)}."
        )
    feats = list(features) if features else [c for c in columns if c != label]
    missing = [c for c in feats if c not in columns]
    if missing:
        raise ConfigError(
            f"dataset.features: column(s) {missing} not found in '{path}'. Available columns: {', '.join(columns)}."
        )
    for role, ds in chosen.items():
        absent = [c for c in feats + [label] if c not in ds.column_names]
        if absent:
            raise ConfigError(f"dataset.splits.{role}: split lacks column(s) {absent}.")
    chosen = _encode_labels(chosen, label, class_names)
    image_shape = _image_shape(chosen["train"], feats)
    return LoadedData(_as_dataset_dict(chosen), label, feats, image_shape)


def _encode_labels(chosen: dict[str, Any], label: str, class_names: list[str] | None) -> dict[str, Any]:
    """One ``ClassLabel`` shared by every split (names from the union of splits, sorted)."""
    import datasets as hf

    train = chosen["train"]
    if isinstance(train.features[label], hf.ClassLabel):
        target = train.features[label]
    else:
        values: set[Any] = set()
        for ds in chosen.values():
            values.update(v for v in ds.unique(label) if v is not None)
        if any(v is None for ds in chosen.values() for v in ds.unique(label)):
            raise ConfigError(f"dataset.label: column '{label}' has missing values; drop or fill those rows first.")
        ordered = sorted(values, key=lambda v: (isinstance(v, str), v))
        names = class_names or [str(v) for v in ordered]
        if class_names and len(class_names) != len(ordered):
            raise ConfigError(
                f"dataset.class_names: got {len(class_names)} names for {len(ordered)} label values {ordered}."
            )
        lookup = {v: i for i, v in enumerate(ordered)}

        def to_ids(batch: dict[str, Any]) -> dict[str, Any]:
            return {label: [lookup[v] for v in batch[label]]}

        target = hf.ClassLabel(names=names)
        out = {}
        for role, ds in chosen.items():
            ds = ds.map(to_ids, batched=True, desc=f"label ids ({role})")
            out[role] = ds.cast_column(label, target)
        return out
    return {role: ds if ds.features[label] == target else ds.cast_column(label, target) for role, ds in chosen.items()}


def _image_shape(ds: Any, feats: list[str]) -> tuple[int, ...] | None:
    """(C, H, W) when the only feature is an image or fixed-shape array column."""
    import datasets as hf

    kinds = [ds.features[c] for c in feats]
    is_image = [isinstance(k, (hf.Image, hf.Array2D, hf.Array3D)) for k in kinds]
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
