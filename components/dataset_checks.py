"""Why a dataset could not be read, as one line: ``load_dataset`` hides the parser's real cause
(a ragged row, a non-UTF-8 byte, an empty file, CSV read as JSON) behind a
``DatasetGenerationError`` traceback, and pandas renames duplicate CSV headers silently."""
from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from typing import Any

from components.errors import ConfigError


def _is_local(path: str) -> bool:
    return "://" not in path and not any(ch in path for ch in "*?[")


_PACKAGED = ("csv", "json", "parquet", "text", "arrow", "pandas", "imagefolder", "audiofolder", "webdataset", "sql")


def load_error(exc: BaseException, path: str, data_files: Any) -> ConfigError:
    """``load_dataset``'s failure as one line: the parser's real cause (it hides it behind
    ``DatasetGenerationError``), the file, and the fix."""
    chain, e = [], exc
    while e is not None and len(chain) < 10:
        chain.append(e)
        e = e.__cause__ or e.__context__
    names = {type(c).__name__: c for c in chain}
    files = data_files if isinstance(data_files, str) else (path if _is_local(path) and os.path.exists(path) else data_files)
    where = f"dataset.data_files={files}" if data_files is not None else f"dataset.path={path}"
    first = lambda c: str(c).strip().splitlines()[0][:200] if str(c).strip() else type(c).__name__  # noqa: E731
    if "UnicodeDecodeError" in names or "Invalid UTF8" in " ".join(map(str, chain)):
        cause = names.get("UnicodeDecodeError") or chain[-1]
        return ConfigError(f"{where}: not UTF-8 text ({first(cause)}); re-save it as UTF-8 or set dataset.load_kwargs.encoding=latin-1.")
    if "EmptyDataError" in names:
        return ConfigError(f"{where}: the file is empty (no header, no rows); point to a file with data.")
    if "ParserError" in names:
        return ConfigError(f"{where}: could not parse it as {path}: {first(names['ParserError'])}; fix that row (a ragged row?).")
    if path == "json" or "JSON" in " ".join(map(str, chain)):
        return ConfigError(f"{where}: not valid JSON lines ({first(chain[-1])}); for a CSV file use dataset.path=csv.")
    if isinstance(exc, ValueError) and "corresponds to no data" in str(exc):
        return ConfigError(f"{where}: no data rows (a header only?); add rows or point to another file.")
    if isinstance(data_files, str) and os.path.isdir(data_files):
        return ConfigError(f"{where}: is a folder; pass files (e.g. {data_files.rstrip('/')}/*.{path}) or dataset.data_dir={data_files}.")
    offline = os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1"
    hub = path not in _PACKAGED and not _is_local(path) or (not os.path.exists(path) and path not in _PACKAGED)
    hint = " (offline mode is on: hub ids only work with network access or a warm cache)" if offline and hub else ""
    return ConfigError(f"dataset.path: could not load '{path}'{hint}: {type(chain[-1]).__name__}: {first(chain[-1])}")


def check_csv_header(path: str, data_files: Any) -> None:
    """Duplicate column names in a local CSV header (pandas would silently rename them ``a.1``)."""
    import csv

    if path != "csv" or data_files is None:
        return
    files = [data_files] if isinstance(data_files, str) else list(data_files.values()) if isinstance(data_files, Mapping) else list(data_files)
    for f in files:
        if not isinstance(f, str) or not _is_local(f) or not os.path.isfile(f):
            continue
        try:
            with open(f, newline="", encoding="utf-8", errors="replace") as handle:
                header = next(csv.reader(handle), [])
        except OSError:
            continue
        dupes = sorted(c for c, count in Counter(header).items() if count > 1)
        if dupes:
            raise ConfigError(f"dataset.data_files={f}: duplicate column name(s) {', '.join(map(repr, dupes))} in the header; rename them.")
