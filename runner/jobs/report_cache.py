"""The data report (quality, drift, EDA) computed once per sweep, not once per job.

Why: the report describes the raw splits, so every arm of a sweep at one seed (resamplers,
losses, models...) gets the same one, and computing it took as long as the training of a small
job. :func:`cached_data_reports` wraps ``runner.reporting.diagnostics.data_reports`` with the resampling
cache's machinery (:class:`runner.jobs.cache.CacheEntry`: keyed by its inputs, written atomically,
verified on read, recomputed when stale or corrupt, never failing the job).

Design: cached per job, not logged once on the sweep's parent run. Every job still logs the
report's metrics, plots and files itself, from the cached values, so a run stays complete on its
own (``compare``, ``rerun`` and the MLflow UI read single runs) and a job run alone, or in a
parallel worker, behaves exactly as one in a sweep; the cost saved is the computation.

The key: dataset fingerprint and config, split settings, seed and quality settings. Entries are
JSON (tuples tagged as such); a report that does not survive the round trip unchanged, types
included (numpy scalars, non-string keys), is simply not cached.
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from runner.jobs.cache import CacheEntry, cache_key

_TUPLE = "__tuple__"
log = logging.getLogger("runner")
# Everything the report's numbers come from (the data fingerprint covers the data itself).
# On the streamed path the report reads a seeded sample: runner/tables/streaming.py draws it (its size from
# runner/tables/memory.py), runner/jobs/stages.py's data_report stage asks for it.
REPORT_CODE = ("components/quality.py", "components/drift.py", "components/cost.py", "components/datasets.py",
               "components/hf_source.py", "components/arrow.py", "components/keys.py", "runner/tables/data.py",
               "runner/jobs/datachecks.py", "runner/tables/encoding.py", "runner/reporting/diagnostics.py", "runner/tables/streaming.py",
               "runner/tables/memory.py", "runner/jobs/stages.py", "runner/jobs/cache.py", "runner/jobs/report_cache.py")  # fmt: skip


class ReportCache(CacheEntry):
    """One data report as JSON, with the cache's key/inputs/code/sha256 envelope."""

    kind = "report"
    suffix = ".json"
    code = REPORT_CODE

    def _read(self) -> tuple[Mapping[str, Any], str, Any]:
        doc = json.loads(self.path.read_text())
        return doc["meta"], _sha(doc["payload"]), _decode(json.loads(doc["payload"]))

    def save(self, value: Any) -> bool:
        """Store ``value`` if it round-trips through JSON unchanged; True when stored."""
        try:
            payload = json.dumps(_encode(value), sort_keys=True)
        except (TypeError, ValueError):
            return False
        if not same(_decode(json.loads(payload)), value):
            return False
        doc = json.dumps({"meta": self._meta(_sha(payload)), "payload": payload})
        self._write(lambda tmp: Path(tmp).write_text(doc))
        return True


def _sha(payload: str) -> str:
    return hashlib.sha256(payload.encode()).hexdigest()


def _encode(value: Any) -> Any:
    """JSON with tuples kept as tuples (the report holds (feature, feature, r) triples)."""
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if value.keys() == {_TUPLE}:
            return tuple(_decode(v) for v in value[_TUPLE])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def same(a: Any, b: Any) -> bool:
    """Equal values of the same types, containers compared item by item (NaN equals NaN)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return bool(a == b)


def report_cache(plain: Mapping[str, Any], fingerprint: str, seed: int, sample: str | None = None) -> ReportCache | None:
    """The entry for this job's data report, or None when ``cache.enabled`` is false. ``sample``:
    on the streamed path, a digest of the seeded training rows the report reads (their number
    follows ``data.memory_budget``, whose ``auto`` default depends on the machine's RAM)."""
    cache_cfg = plain.get("cache") or {}
    if not cache_cfg.get("enabled"):
        return None
    inputs = dict(data=fingerprint, dataset=plain["dataset"], split=plain.get("split", {}), seed=seed, quality=plain["quality"])
    if sample is not None:
        inputs["sample"] = sample
    return ReportCache(cache_cfg["dir"], cache_key(**inputs), inputs)


def _sample_digest(data: Any) -> str | None:
    """sha256 of the streamed path's report sample (row positions), None on the in-memory path."""
    if getattr(data, "path", "in_memory") != "streamed":
        return None
    import numpy as np

    rows = np.ascontiguousarray(data.train.X.sample_rows, dtype=np.int64)
    return hashlib.sha256(rows.tobytes()).hexdigest()[:16]


def cached_data_reports(
    plain: Mapping[str, Any], data: Any, settings: Any, seed: int, view: Callable[[Any], Any] | None = None
) -> Any:
    """``data_reports(view(data), settings, seed)``, read from the cache when a job with the same
    data, split, seed and quality settings (and streamed sample) computed it already. ``view``
    (``runner.tables.streaming.report_view``) is called only on a miss: it encodes the streamed sample."""
    from runner.reporting.diagnostics import data_reports

    entry = report_cache(plain, data.fingerprint, seed, _sample_digest(data))
    cached = entry.load() if entry is not None else None
    if cached is not None:
        return cached
    result = data_reports(view(data) if view is not None else data, settings, seed)
    if entry is not None and not entry.save(result):
        log.debug("report cache: this report does not survive JSON unchanged; not cached")
    return result
