"""Data problems found before training, each as one line naming the column, rows and fix.

Why here and not where they explode: an ``inf`` used to surface as a scikit-learn traceback
naming no column, a single-class label trained fully and crashed in the metrics, a float label
printed thousands of "classes", and one bad cell silently turned a numeric column into hundreds
of one-hot columns. Policies (documented in the README):

* ``inf``/``-inf`` in a numeric feature: an error naming the columns and example rows (NaN is
  allowed and imputed with the training median; inf has no such meaning);
* fewer than two classes, or a label that looks continuous: an error;
* a text column whose values are mostly numbers: a warning with the bad cells; the column
  stays categorical (nothing is silently coerced).
"""
from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from components.errors import ConfigError

log = logging.getLogger("runner")
MAX_CLASSES_SHARE = 0.5  # more distinct labels than this share of rows: a continuous label
NUMERIC_SHARE = 0.9  # a text column with at least this share of numbers is "mostly numeric"


def _examples(values: list[Any], n: int = 3) -> str:
    return ", ".join(repr(v) for v in values[:n]) + (f" (and {len(values) - n} more)" if len(values) > n else "")


def check_label(y: np.ndarray, label: str, class_names: list[str]) -> None:
    """At least two classes, and not a continuous column used as a label (``y``: every split's ids)."""
    counts = np.bincount(y[y >= 0], minlength=len(class_names))[: len(class_names)]
    present = [n for n, c in zip(class_names, counts) if c > 0]
    if len(present) < 2:
        raise ConfigError(
            f"dataset.label: column '{label}' has {len(present)} class(es) ({_examples(present)}) in {len(y)} rows; "
            "classification needs at least two: check dataset.label or the file."
        )
    if len(class_names) > 20 and len(class_names) > MAX_CLASSES_SHARE * len(y):
        raise ConfigError(
            f"dataset.label: column '{label}' has {len(class_names)} distinct values in {len(y)} rows "
            f"(e.g. {_examples(class_names)}): a continuous column, not classes; bin it or pick another label."
        )


def check_features(train: Any, features: list[str]) -> int:
    """inf in numeric features -> ConfigError; mostly-numeric text columns -> a warning each.
    Returns the number of suspect text columns (logged as ``data/suspect_text_columns``)."""
    table = train.data.table
    infinite: list[str] = []
    suspect = 0
    present = set(table.column_names)
    for name in features:
        if name not in present:
            continue
        column = table.column(name)
        if pa.types.is_floating(column.type):
            bad = pc.is_inf(column)
            if pc.any(bad).as_py():
                rows = np.flatnonzero(bad.to_numpy(zero_copy_only=False)) + 1  # 1-based data rows, header excluded
                infinite.append(f"'{name}' ({len(rows)} row(s), e.g. data row {', '.join(str(r) for r in rows[:3])})")
        elif pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            suspect += _mostly_numeric(name, column)
    if infinite:
        raise ConfigError(
            f"dataset.features: inf/-inf in {', '.join(infinite)} of the source file; replace them with finite values "
            "or leave the cells empty (NaN is imputed with the training median)."
        )
    return suspect


def _mostly_numeric(name: str, column: pa.ChunkedArray) -> int:
    values = column.drop_null()
    if len(values) == 0:
        return 0
    text = values.slice(0, 100_000).to_numpy(zero_copy_only=False)  # a sample is enough to warn
    bad = []
    for v in text:
        try:
            float(v)
        except (TypeError, ValueError):
            bad.append(v)
            if len(bad) > (1 - NUMERIC_SHARE) * len(text):
                return 0
    if not bad:
        log.warning("dataset.features: column '%s' holds numbers stored as text; it is treated as categorical "
                    "(one-hot). Store it as numbers to use it as numeric.", name)  # fmt: skip
        return 1
    log.warning(
        "dataset.features: column '%s' is %.0f%% numbers but has %d non-numeric cell(s) (%s); it is treated as "
        "categorical (one-hot, one column per distinct value). Fix or empty those cells to make it numeric.",
        name, 100 * (1 - len(bad) / len(text)), len(bad), _examples(sorted(set(map(str, bad)))),
    )  # fmt: skip
    return 1
