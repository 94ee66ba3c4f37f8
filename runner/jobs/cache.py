"""On-disk caches of work a sweep repeats: resampled training data, and (``runner.jobs.report_cache``)
the data report. Both are :class:`CacheEntry` files with the same guarantees, below.

A sweep over losses or models reuses one resampling: the key hashes the dataset fingerprint,
the split settings, the seed and the outlier, scaler, reducer and resampler configs (components are
deterministic given these). Entries are ``.npz`` files written atomically (temp file + rename),
so parallel jobs never read a half-written entry.

Entries are verified, not trusted: each stores a sha256 of its arrays, the key inputs, the
library versions and a hash of the code that produces it. A corrupt, truncated, tampered or
stale entry (other inputs, other versions, other code) is reported with a warning, removed and
recomputed; it is never used and never fails the job.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("runner")
# The code whose output is cached: a change in any of these files invalidates every entry.
CODE = ("components/base.py", "components/resamplers.py", "components/resamplers_imblearn.py", "components/outlier_actions.py", "components/outliers.py", "components/outliers_multivariate.py", "components/scalers.py",
        "components/covariance.py", "components/reducers.py", "components/neighbors.py", "components/deepsmote.py",
        "runner/tables/encoding.py", "runner/tables/pipeline.py", "runner/jobs/stages.py", "runner/jobs/state.py", "runner/jobs/cache.py")  # fmt: skip


def cache_key(**parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


@functools.lru_cache(maxsize=8)
def code_version(files: tuple[str, ...] = CODE) -> str:
    """sha256 of the cached steps' source files and of the libraries that shape their output."""
    from runner.jobs.provenance import versions

    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256(json.dumps(versions(), sort_keys=True).encode())
    for rel in files:
        path = root / rel
        h.update(path.read_bytes() if path.exists() else rel.encode())
    return h.hexdigest()[:16]


def checksum(X: np.ndarray, y: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in (X, y):
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(memoryview(np.ascontiguousarray(a)).cast("B"))
    return h.hexdigest()


class CacheEntry:
    """One verified entry: ``<dir>/<kind>/<key><suffix>``, written atomically, checked on read
    against its key, its inputs, the code version of ``code`` and a sha256 of its payload."""

    kind = "entry"
    suffix = ".bin"
    code: tuple[str, ...] = CODE

    def __init__(self, directory: str | Path, key: str, inputs: Mapping[str, Any] | None = None) -> None:
        self.path = Path(directory) / self.kind / f"{key}{self.suffix}"
        self.key = key
        self.inputs = json.loads(json.dumps(dict(inputs or {}), sort_keys=True, default=str))

    def _meta(self, sha256: str, **extra: Any) -> dict[str, Any]:
        return {**extra, "key": self.key, "inputs": self.inputs, "code": code_version(self.code), "sha256": sha256}

    def _read(self) -> tuple[Mapping[str, Any], str, Any]:
        """(meta, sha256 of the payload as read, the value to return); raises on an unreadable file."""
        raise NotImplementedError

    def load(self) -> Any:
        """The entry's value if present and verified; None (recompute) otherwise."""
        if not self.path.exists():
            return None
        try:
            meta, sha256, value = self._read()
        except Exception as exc:  # truncated file, bad JSON, missing fields: a corrupt entry
            return self._reject(f"unreadable ({type(exc).__name__}: {str(exc)[:120]})")
        return value if self._verified(meta, sha256) else None

    def _verified(self, meta: Mapping[str, Any], sha256: str) -> bool:
        """True when ``meta`` belongs to this key, inputs and code and ``sha256`` is the payload's."""
        expected = {"key": self.key, "inputs": self.inputs, "code": code_version(self.code)}
        for field, want in expected.items():
            if meta.get(field) != want:
                self._reject(f"its {field} differs from this job's (stale or planted entry)")
                return False
        if meta.get("sha256") != sha256:
            self._reject("its payload does not match its checksum (corrupt or tampered)")
            return False
        return True

    def _reject(self, why: str) -> None:
        log.warning("%s cache: entry %s %s; recomputing it", self.kind, self.path, why)
        try:
            self.path.unlink()
        except OSError:
            pass
        return None

    def _write(self, write: Callable[[str], None]) -> None:
        """``write(temp_path)`` then an atomic rename; a full disk skips caching (with a warning), never the job."""
        tmp = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp" + self.suffix)
            os.close(fd)
            write(tmp)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.warning("%s cache: could not write %s (%s); continuing without caching", self.kind, self.path, exc.strerror or exc)
        finally:
            if tmp is not None and os.path.exists(tmp):
                os.unlink(tmp)


class ResampleCache(CacheEntry):
    """The resampled training rows (``.npz``, no pickles) with the resampler's report and tags."""

    kind = "resample"
    suffix = ".npz"

    def _read(self) -> tuple[Mapping[str, Any], str, Any]:
        with np.load(self.path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            X, y = f["X"], f["y"]
        return meta, checksum(X, y), (X, y, meta["report"], meta["tags"])

    def save(self, X: np.ndarray, y: np.ndarray, report: Mapping[str, float], tags: Mapping[str, str]) -> None:
        """Write the entry atomically; a full disk skips caching (with a warning), never the job."""
        meta = json.dumps(self._meta(checksum(X, y), report=dict(report), tags=dict(tags)))
        self._write(lambda tmp: np.savez(tmp, X=X, y=y, meta=np.array(meta)))
