"""The test session reads each config file once: Hydra re-reads and re-parses every file of the
defaults list on each compose (~26 files: ours and Hydra's own), which was about 40 % of the
~0.23 s CPU one compose costs, and the suite composes 100+ times.

``ConfigRepository.load_config`` is memoised per (config sources, path, file stamp) and every
call gets a deep copy, so each compose still receives fresh objects, exactly as after a fresh
parse: the copy is needed, Hydra merges the primary config's nodes without copying them, so a
shared object would carry one compose's ``seed=5`` into the next. A file changed during the session (its mtime or size)
is read again. Only the tests install it (tests/conftest.py); the CLI composes as before.
tests/test_configs.py checks that a cached compose equals an uncached one.
"""
from __future__ import annotations

import copy
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from hydra._internal.config_repository import ConfigRepository

_ORIGINAL = ConfigRepository.load_config
_CACHE: dict[tuple[Any, ...], Any] = {}


def _stamp(repo: ConfigRepository, config_path: str) -> tuple[Any, ...]:
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


def _cached_load_config(self: ConfigRepository, config_path: str) -> Any:
    sources = tuple((type(s).__name__, s.provider, s.path) for s in self.sources)
    key = (sources, config_path, _stamp(self, config_path))
    if key not in _CACHE:
        _CACHE[key] = _ORIGINAL(self, config_path)
    return copy.deepcopy(_CACHE[key])


def install() -> None:
    ConfigRepository.load_config = _cached_load_config  # type: ignore[method-assign]


@contextmanager
def disabled() -> Iterator[None]:
    """Hydra's own loader for the duration (the reference the cache is checked against)."""
    ConfigRepository.load_config = _ORIGINAL  # type: ignore[method-assign]
    try:
        yield
    finally:
        install()
