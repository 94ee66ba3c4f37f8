"""Rows of a HF ``Dataset`` as an Arrow table: the one zero-copy read shared by encoders and quality checks."""
from __future__ import annotations

from typing import Any

import pyarrow as pa


def arrow_table(ds: Any, columns: list[str]) -> pa.Table:
    """The rows of ``ds`` for ``columns`` as one Arrow table, zero-copy from the (memory-mapped) cache.

    A ``select``-ed split carries an indices mapping; it is applied with a single vectorised
    ``take`` (``with_format(...)[:]`` gathers such splits row by row: ~20 s per 1M rows).
    """
    table = ds.data.table.select(columns)
    indices = getattr(ds, "_indices", None)
    if indices is not None:
        table = table.take(indices.column(0).combine_chunks())  # one index chunk: ~2x faster take
    return table
