"""The memory budget (``data.memory_budget``) and the choice of data path it implies.

A job keeps its feature matrices in RAM (``in_memory``) when the in-memory path's estimated
working set fits the budget; otherwise it trains from the memory-mapped Arrow cache
(``streamed``, runner/tables/streaming.py). The estimate is the float32 feature matrix of every split
times ``IN_MEMORY_COPIES``: what encode -> scale -> resample -> tensor hold at their peak on the
in-memory path (measured with SMOTE: benchmarks/bench_scale.py, README "Tables larger than
memory"). The width is read from the Arrow schema before anything is encoded.
"""
from __future__ import annotations

import ctypes
import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from components.errors import ConfigError

log = logging.getLogger("runner")
AUTO_SHARE = 0.25  # "auto": a quarter of the machine's physical RAM
IN_MEMORY_COPIES = 8  # peak bytes of the in-memory path / bytes of the float32 matrix (measured, see module doc)
MIN_BUDGET = 1_000_000  # 1 MB: below this nothing useful fits, not even one batch of a wide table
MMAP_THRESHOLD = 4 << 20  # glibc: allocations from 4 MiB up are mapped on their own and unmapped when freed
_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
_UNITS = {"": 1, "b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip
_ACCEPTED = "'auto' (25% of RAM), a number of bytes, or a size such as '512MB', '2GB', '1.5GiB'"


def total_ram() -> int:
    """Physical RAM in bytes (POSIX ``sysconf``; psutil where that is missing)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        import psutil

        return int(psutil.virtual_memory().total)


def parse_budget(value: Any) -> int:
    """``data.memory_budget`` -> bytes: ``auto``, an int, or a size string; a clear error otherwise."""
    if isinstance(value, bool):
        raise ConfigError(f"data.memory_budget: got {value!r}; expected {_ACCEPTED}.")
    if value is None or (isinstance(value, str) and value.strip().lower() == "auto"):
        return int(total_ram() * AUTO_SHARE)
    if isinstance(value, (int, float)):
        number, unit = float(value), ""
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(value))
        if not match or match.group(2).lower() not in _UNITS:
            raise ConfigError(f"data.memory_budget: got {value!r}; expected {_ACCEPTED}.")
        number, unit = float(match.group(1)), match.group(2).lower()
    size = int(number * _UNITS[unit])
    if size < MIN_BUDGET:
        raise ConfigError(f"data.memory_budget: got {value!r} ({size} bytes); expected at least 1MB, or {_ACCEPTED}.")
    return size


def check_data(cfg: Mapping[str, Any] | None) -> int:
    """Validate the ``data`` block (before any run is opened); returns the budget in bytes."""
    cfg = cfg or {}
    unknown = [k for k in cfg if k != "memory_budget"]
    if unknown:
        raise ConfigError(f"data.{unknown[0]}: unknown key. Accepted: memory_budget.")
    return parse_budget(cfg.get("memory_budget", "auto"))


def encoded_width(ds: Any, features: list[str]) -> int:
    """Columns of the preprocessed matrix, from the Arrow schema (one-hot width: distinct values; the
    encoder itself emits one code column per categorical column, and one-hot comes last)."""
    import datasets as hf
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    schema, info = ds.data.table.schema, ds.info.features
    width = 0
    for c in features:
        t, f = schema.field(c).type, info[c]
        if isinstance(f, hf.ClassLabel):
            width += f.num_classes + 1
        elif pa.types.is_fixed_size_list(t):
            width += t.list_size
        elif pa.types.is_string(t) or pa.types.is_large_string(t):
            width += int(pc.count_distinct(ds.data.table.column(c), mode="all").as_py())
        elif isinstance(f, (hf.Image, hf.Array2D, hf.Array3D)):
            width += int(np.prod(np.asarray(ds.with_format("numpy")[0][c]).shape))
        else:
            width += 1
    return width


def matrix_bytes(rows: int, width: int) -> int:
    return int(rows) * int(width) * 4


def choose_path(rows: int, width: int, budget: int) -> str:
    """``in_memory`` when ``IN_MEMORY_COPIES`` float32 matrices of every split fit ``budget``."""
    need = matrix_bytes(rows, width) * IN_MEMORY_COPIES
    path = "in_memory" if need <= budget else "streamed"
    log.info(
        "data path: %s (%s rows x %d features: in-memory estimate %s %s the data.memory_budget of %s)",
        path, f"{rows:,}", width, human(need), "within" if path == "in_memory" else "above", human(budget),
    )  # fmt: skip
    return path


def return_freed_memory(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold so that large freed arrays go back to the OS (True when set).

    Why: glibc serves an allocation above its threshold with its own mapping, unmapped on free, but
    raises the threshold to the size of every such block freed (up to 32 MiB). After SMOTE's first
    float64 chunks and the first encoded blocks, the later ones (8-16 MiB) came from the heap, whose
    freed pages stay in the process: the 1M-row streamed job kept ~430 MB it no longer used after
    preprocessing and peaked at 1,384 MB; with the threshold fixed at 4 MiB, 1,053 MB, training as
    fast (runner/tables/streaming.py calls this on the streamed path only; README "Tables larger
    than memory"). A fixed threshold also stops glibc's adjustment. Not glibc (macOS, musl): nothing.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library already loaded in this process
    except (OSError, AttributeError):
        return False
    return mallopt(_M_MMAP_THRESHOLD, int(threshold)) == 1


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"
