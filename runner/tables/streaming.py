"""The streamed path: a table above ``data.memory_budget`` trains from the memory-mapped Arrow cache.

What is never held whole in RAM on this path: the encoded (float32) training matrix. The training
split stays in ``datasets``' memory-mapped cache file and is encoded, scaled and handed to the
model one block of rows at a time (runner/fitting/training.py draws the same seeded permutation as the
in-memory path, so the batches are the same rows in the same order). What is in RAM: the labels,
the validation and test matrices (the model is validated every epoch), and what the resampler
must see (below). How each step is fitted without the whole matrix:

* encoder: column kinds, names and one-hot categories from a seeded sample of training rows
  (a category seen only outside the sample maps to all zeros, as an unseen test category
  does); the imputation medians exactly, one column at a time;
* scaler: ``standard`` and ``minmax`` by scikit-learn's ``partial_fit`` over every training row,
  block by block (equal to ``fit`` up to float rounding); the others (``robust``, ``whiten``,
  ``l2``, ``none``) and the reducer are fitted on the seeded sample;
* resampler: ``none``, ``random_over`` and ``random_under`` run imbalanced-learn on the row
  *indices* (they never read feature values), so they pick exactly the rows they pick in memory;
  ``smote`` runs imbalanced-learn on the rows of the classes it synthesises for (plus one row of
  another class, which SMOTE never reads: imbalanced-learn wants two classes) with the per-class
  targets computed from the full counts, so the synthetic rows equal the in-memory ones; they are
  held in RAM (synthetic rows x width x 4 bytes). Resamplers whose neighbour searches span the
  majority class (Borderline, ADASYN, SVM, ENN, Tomek, NearMiss, SMOTE-NC...) and outlier removal
  need every row in memory and are refused with a clear error;
* the data report (quality, EDA, drift) is computed on the seeded sample.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from components.errors import ConfigError
from runner.tables.data import PreparedData, Split, labels, prepare, subset
from runner.tables.encoding import TableEncoder, numeric_matrix
from runner.tables.memory import check_data, choose_path, encoded_width, human, matrix_bytes, return_freed_memory

log = logging.getLogger("runner")
INDEX_RESAMPLERS = ("none", "random_over", "random_under")
SUPPORTED = (*INDEX_RESAMPLERS, "smote")
MAX_BLOCK_ROWS = 1 << 18  # rows encoded at once: bounded by the budget, and by this (cache-friendly)
MIN_SAMPLE_ROWS, MAX_SAMPLE_ROWS = 10_000, 200_000  # the seeded sample (encoder categories, report, sample fits)


def block_rows(budget: int, width: int) -> int:
    """Rows per encoded block: a sixteenth of the budget as float32, between 8,192 and 262,144."""
    return int(min(MAX_BLOCK_ROWS, max(8192, budget // 16 // max(1, width * 4))))


def sample_size(budget: int, width: int, n: int) -> int:
    """The seeded sample: an eighth of the budget as float32, 10k to 200k rows (all rows if fewer)."""
    return int(min(n, max(MIN_SAMPLE_ROWS, min(MAX_SAMPLE_ROWS, budget // 8 // max(1, width * 4)))))


def _bar(total: int, desc: str, progress: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="rows", unit_scale=True, leave=False, dynamic_ncols=True, disable=not progress)


@dataclasses.dataclass
class StreamedTrain:
    """The training split, left in the memory-mapped Arrow cache; encoded block by block."""

    ds: Any
    encoder: TableEncoder
    block_rows: int
    sample_rows: np.ndarray  # the seeded sample's row positions (sorted)
    budget: int  # data.memory_budget in bytes
    progress: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        return (self.ds.num_rows, len(self.encoder.feature_names_))

    def __len__(self) -> int:
        return self.ds.num_rows

    def encode(self, rows: np.ndarray) -> np.ndarray:
        """Encoded float32 rows at positions ``rows`` (any order, repeats allowed)."""
        return self.encoder.transform(subset(self.ds, rows))

    def blocks(self, desc: str) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(row positions, encoded rows) over the whole split, in order, with a progress bar."""
        n = self.ds.num_rows
        with _bar(n, desc, self.progress) as bar:
            for start in range(0, n, self.block_rows):
                rows = np.arange(start, min(n, start + self.block_rows))
                yield rows, self.encode(rows)
                bar.update(len(rows))


def column_medians(ds: Any, columns: list[str]) -> tuple[np.ndarray, int]:
    """Per-feature NaN-skipping medians (exact) and the NaN count, one column in RAM at a time."""
    medians, missing = [], 0
    for c in columns:
        col = numeric_matrix(ds, [c])  # n x width of this one column
        missing += int(np.isnan(col).sum())
        with np.errstate(all="ignore"):
            med = np.nanmedian(col, axis=0) if col.shape[0] else np.zeros(col.shape[1])
        medians.append(np.nan_to_num(np.atleast_1d(med), nan=0.0))
    return (np.concatenate(medians).astype(np.float32) if medians else np.zeros(0, np.float32)), missing


def _transform_split(encoder: TableEncoder, ds: Any, rows_per_block: int) -> np.ndarray:
    """A whole (validation / test) split encoded block by block into one preallocated matrix."""
    out = np.empty((ds.num_rows, len(encoder.feature_names_)), dtype=np.float32)
    for start in range(0, ds.num_rows, rows_per_block):
        rows = np.arange(start, min(ds.num_rows, start + rows_per_block))
        out[rows[0] : rows[-1] + 1] = encoder.transform(subset(ds, rows))
    return out


def streamer(budget: int, seed: int, progress: bool, plain: Mapping[str, Any] | None = None) -> Callable[..., PreparedData | None]:
    """``prepare``'s hook: None (the in-memory path) when the data fit ``budget``, else streamed data."""

    def stream(loaded: Any, splits: Mapping[str, Any], suspect: int) -> PreparedData | None:
        train = splits["train"]
        width = encoded_width(train, list(loaded.features))
        if choose_path(sum(ds.num_rows for ds in splits.values()), width, budget) == "in_memory":
            return None
        if plain is not None:
            check_streamable(plain)  # before any encoding: a refused component costs nothing
        return_freed_memory()  # blocks and SMOTE's chunks freed go back to the OS (glibc kept them)
        n = train.num_rows
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, sample_size(budget, width, n), replace=False))
        encoder = TableEncoder(features=loaded.features, image_shape=loaded.image_shape).fit(subset(train, sample))
        encoder.medians_, missing = column_medians(train, encoder.numeric_)  # exact, not the sample's
        rows = block_rows(budget, len(encoder.feature_names_))
        X_train = StreamedTrain(train, encoder, rows, sample, budget, progress)
        val, test = (_transform_split(encoder, splits[s], rows) for s in ("validation", "test"))
        info = {f"data/{name}_rows": float(ds.num_rows) for name, ds in splits.items()}
        info.update({"data/features": float(X_train.shape[1]), "data/missing_cells_train": float(missing),
                     "data/suspect_text_columns": float(suspect), "data/report_rows": float(len(sample))})  # fmt: skip
        log.info(
            "data path streamed: %s training rows x %d features (%s as float32) stay in the Arrow cache; "
            "blocks of %s rows, report and sample fits on %s seeded rows",
            f"{n:,}", X_train.shape[1], human(matrix_bytes(n, X_train.shape[1])), f"{rows:,}", f"{len(sample):,}",
        )  # fmt: skip
        return PreparedData(
            train=Split(X_train, labels(train, loaded.label)),  # type: ignore[arg-type]
            validation=Split(val, labels(splits["validation"], loaded.label)),
            test=Split(test, labels(splits["test"], loaded.label)),
            class_names=loaded.class_names, feature_names=encoder.feature_names_, image_shape=loaded.image_shape,
            fingerprint=loaded.fingerprint(), encoder=encoder, info=info, raw_train=train,
            raw_features=list(loaded.features), path="streamed",
        )  # fmt: skip

    return stream


def prepare_within_budget(plain: Mapping[str, Any], seed: int) -> PreparedData:
    """``prepare`` with the path chosen by ``data.memory_budget`` (the job's entry point)."""
    budget = check_data(plain.get("data"))
    hook = streamer(budget, seed, bool(plain.get("progress", False)), plain)
    return prepare(plain["dataset"], plain.get("split", {}), seed, streamer=hook)


def report_view(data: PreparedData) -> PreparedData:
    """What the data report and its plots read: the data itself, or on the streamed path the
    seeded sample of training rows (encoded, in RAM) with the full validation and test splits."""
    if data.path != "streamed":
        return data
    train: StreamedTrain = data.train.X  # type: ignore[assignment]
    rows = train.sample_rows
    return dataclasses.replace(data, train=Split(train.encode(rows), data.train.y[rows]), raw_train=subset(train.ds, rows))


def check_streamable(plain: Mapping[str, Any]) -> None:
    """The components the streamed path can fit without every training row in RAM (else a clear error)."""
    why = "needs every training row in memory"
    resampler = plain["resampler"]
    problems = []
    if plain["outlier"]["name"] != "none":
        problems.append(f"outlier={plain['outlier']['name']} {why} (it scores rows against the whole split)")
    if resampler["name"] not in SUPPORTED:
        problems.append(f"resampler={resampler['name']} {why} (its neighbour searches span the other classes)")
    if resampler["name"] == "random_over" and resampler.get("shrinkage") is not None:
        problems.append(f"resampler.shrinkage={resampler['shrinkage']} {why} (smoothed bootstrap reads feature spreads)")
    if plain["importance"]["name"] != "none":
        problems.append(f"importance={plain['importance']['name']} {why} (a domain classifier on train vs test)")
    if problems:
        raise ConfigError(
            f"data.memory_budget: this table is above the budget, so it takes the streamed path, where "
            f"{'; '.join(problems)}. Streamed runs support outlier=none, importance=none and resampler="
            f"{', '.join(SUPPORTED)}; or raise data.memory_budget (now {plain.get('data', {}).get('memory_budget', 'auto')!r})."
        )
