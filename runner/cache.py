"""On-disk cache of resampled training data, keyed by everything upstream of the resampler.

A sweep over losses or models reuses one resampling: the key hashes the dataset fingerprint,
the split settings, the seed and the outlier, scaler, reducer and resampler configs (components are
deterministic given these). Entries are ``.npz`` files written atomically (temp file + rename),
so parallel jobs never read a half-written entry.
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np


def cache_key(**parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


class ResampleCache:
    def __init__(self, directory: str | Path, key: str) -> None:
        self.path = Path(directory) / "resample" / f"{key}.npz"

    def load(self) -> tuple[np.ndarray, np.ndarray, dict[str, float], dict[str, str]] | None:
        if not self.path.exists():
            return None
        with np.load(self.path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            return f["X"], f["y"], meta["report"], meta["tags"]

    def save(self, X: np.ndarray, y: np.ndarray, report: Mapping[str, float], tags: Mapping[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        meta = json.dumps({"report": dict(report), "tags": dict(tags)})
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp.npz")
        os.close(fd)
        try:
            np.savez(tmp, X=X, y=y, meta=np.array(meta))
            os.replace(tmp, self.path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
