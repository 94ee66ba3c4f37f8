"""Datasets as HuggingFace ``datasets`` objects: the embedded ones and any ``load_dataset`` source.

Every loader returns :class:`LoadedData`: a ``DatasetDict`` (at least ``train``; ``validation``
and ``test`` when the source has them) whose label column is a ``ClassLabel``. Splitting,
encoding and everything fitted happen later in the runner, on the training split only.
The embedded datasets (scikit-learn's bundled tables and digits, the lecture's seeded
synthetic 99:1 set) need no network; ``hf`` (components/hf_source.py) accepts hub ids as well
as local csv, parquet and json files, all through the one ``load_dataset`` path.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np

from components.errors import ConfigError
from components.registry import Interval, get_registry

DATASETS = get_registry("dataset")


@dataclass
class LoadedData:
    """Raw splits plus what the runner needs to know to encode them."""

    splits: Any  # datasets.DatasetDict
    label: str
    features: list[str]
    image_shape: tuple[int, ...] | None = None  # (C, H, W) when the features are one image column

    @property
    def class_names(self) -> list[str]:
        return list(self.splits["train"].info.features[self.label].names)  # .features deep-copies

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
    1.2 s per 200k rows; this is a zero-copy Arrow table).

    The fingerprint is a hash of the column bytes and names: left to ``datasets``, it pickles the
    whole table and every feature (6.7 s for 80 × 2,000)."""
    import datasets as hf
    import pyarrow as pa

    h = hashlib.sha256()
    for k, v in columns.items():
        arr = np.ascontiguousarray(v)
        h.update(f"{k}:{arr.dtype}:{arr.shape}".encode())
        h.update(arr.tobytes())
    h.update(str(features).encode())
    table = pa.table({k: pa.array(np.asarray(v)) for k, v in columns.items()})
    return hf.Dataset(table.cast(features.arrow_schema), info=hf.DatasetInfo(features=features), fingerprint=h.hexdigest()[:16])


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


@DATASETS.register("wide_synthetic")
def wide_synthetic(
    *,
    n_samples: Annotated[int, Interval(8, None)] = 80,
    n_features: Annotated[int, Interval(2, None)] = 2000,
    n_classes: Annotated[int, Interval(2, None)] = 4,
    n_informative: Annotated[int, Interval(1, None)] = 5,
    separation: Annotated[float, Interval(0, None)] = 1.0,
    noise: Annotated[float, Interval(0, None)] = 1.0,
    seed: int = 0,
) -> LoadedData:
    """A wide table (features ≫ rows, like gene expression): 80 rows × 2,000 features by default.

    Classes (balanced) differ only in ``n_informative`` latent directions: z = c_y + N(0, I) with
    class centres c ~ N(0, separation²). Every feature mixes those directions with its own noise,
    x = z·L + noise·ε (L a seeded Gaussian loading, norm-1 columns on average), and then gets its own
    units, a log-normal scale and an offset, as expression levels do; so the sample covariance
    has rank < n ≪ d and the scaler matters.
    """
    import datasets as hf

    rng = np.random.default_rng(seed)
    y = rng.permutation(np.arange(n_samples) % n_classes)
    centres = rng.normal(0.0, separation, (n_classes, n_informative))
    z = centres[y] + rng.standard_normal((n_samples, n_informative))
    loadings = rng.standard_normal((n_informative, n_features)) / np.sqrt(n_informative)
    x = z @ loadings + noise * rng.standard_normal((n_samples, n_features))
    x = x * np.exp(rng.normal(0.0, 1.0, n_features)) + rng.uniform(0.0, 10.0, n_features)
    names = [f"g{j}" for j in range(n_features)]
    columns = {n: x[:, j].astype(np.float32) for j, n in enumerate(names)}
    label = hf.ClassLabel(names=[f"c{k}" for k in range(n_classes)])
    features = hf.Features({**{n: hf.Value("float32") for n in names}, "label": label})
    ds = _table_dataset({**columns, "label": y.astype(np.int64)}, features)
    return LoadedData(_as_dataset_dict({"train": ds}), "label", names)
