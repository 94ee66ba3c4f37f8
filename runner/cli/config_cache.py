"""Each config file parsed once per process: what a ``-m`` sweep (and the test session) composes
again and again is read from memory.

Why: Hydra re-reads and re-parses every file of the defaults list on each composition (its own
cache lives for one composition): ~25 files a job, ~40% of a composition's ~0.23 s CPU (profiled
on the 24-job sweep of benchmarks/bench_vs_sklearn.py and on the test suite). Here
``ConfigRepository.load_config`` is memoised per (config sources, path, file stamp) and every call
gets a deep copy (~5x cheaper than parsing), so each composition receives fresh objects exactly as
after a parse. The copy is needed: Hydra merges the primary config's nodes without copying them,
so a shared object would carry one composition's ``seed=5`` into the next. A file whose mtime or
size changed is read again; a missing file still raises (nothing kept). If Hydra's repository is
not where expected (another Hydra version), nothing is patched.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_ORIGINAL: Any = None
_CACHE: dict[tuple[Any, ...], Any] = {}


def _stamp(repo: Any, config_path: str) -> tuple[Any, ...]:
    """(mtime, size) of the file each file source would read for ``config_path``."""
    name = config_path if config_path.endswith(".yaml") else f"{config_path}.yaml"
    out = []
    for source in repo.sources:
        if source.scheme() != "file":
            continue
        try:
            st = os.stat(os.path.join(source.path, name))
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def _cached_load_config(self: Any, config_path: str) -> Any:
    sources = tuple((type(s).__name__, s.provider, s.path) for s in self.sources)
    key = (sources, config_path, _stamp(self, config_path))
    if key not in _CACHE:
        _CACHE[key] = _ORIGINAL(self, config_path)
    return copy.deepcopy(_CACHE[key])


def install() -> None:
    """Patch Hydra's repository (idempotent)."""
    global _ORIGINAL
    try:
        from hydra._internal.config_repository import ConfigRepository
    except ImportError:
        return
    if _ORIGINAL is None:
        _ORIGINAL = ConfigRepository.load_config
    ConfigRepository.load_config = _cached_load_config  # type: ignore[method-assign]


def clear() -> None:
    """Forget every parse (the next composition reads its files again)."""
    _CACHE.clear()


@contextmanager
def disabled() -> Iterator[None]:
    """Hydra's own loader for the duration (the reference the cache is checked against)."""
    from hydra._internal.config_repository import ConfigRepository

    installed = ConfigRepository.load_config is _cached_load_config
    if installed:
        ConfigRepository.load_config = _ORIGINAL  # type: ignore[method-assign]
    try:
        yield
    finally:
        if installed:
            install()
