"""Work Hydra repeats within one process, done once: each config file parsed and each defaults
list merged once (``install``: ``-m`` sweeps and the test session), the group listing of ``--help`` on one repository copy
(``share_group_listings``), each job of an in-process sweep composed once
(``compose_each_job_once``), and a single run's config checked on the composition Hydra makes to
read its mode (``check_when_reading_mode``). All four patch Hydra's private classes and patch
nothing when those are not where expected (another Hydra version): Hydra then works as before.

Files parsed once. Why: Hydra re-reads and re-parses every file of the defaults list on each composition (its own
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

import contextlib
import copy
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_ORIGINAL: Any = None
_ORIGINAL_COMPOSE: Any = None
_CACHE: dict[tuple[Any, ...], Any] = {}  # parsed files
_MERGED: dict[tuple[Any, ...], Any] = {}  # merged defaults lists


def _stamp(sources: Any, config_path: str) -> tuple[Any, ...]:
    """(mtime, size) of the file each file source would read for ``config_path``."""
    name = config_path if config_path.endswith(".yaml") else f"{config_path}.yaml"
    out = []
    for source in sources:
        if source.scheme() != "file":
            continue
        try:
            st = os.stat(os.path.join(source.path, name))
            out.append((st.st_mtime_ns, st.st_size))
        except OSError:
            out.append(None)
    return tuple(out)


def _sources(sources: Any) -> tuple[Any, ...]:
    return tuple((type(s).__name__, s.provider, s.path) for s in sources)


def _memo(cache: dict[tuple[Any, ...], Any], key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
    """A deep copy of ``cache[key]``, built on the first request: Hydra mutates what it receives."""
    if key not in cache:
        cache[key] = build()
    return copy.deepcopy(cache[key])


def _cached_load_config(self: Any, config_path: str) -> Any:
    key = (_sources(self.sources), config_path, _stamp(self.sources, config_path))
    return _memo(_CACHE, key, lambda: _ORIGINAL(self, config_path))


def _cached_compose(self: Any, defaults: list[Any], repo: Any) -> Any:
    """Hydra's merge of a defaults list, done once per (sources, defaults list, file stamps).

    Why: after the files are parsed once, merging the ~25 of a job's defaults list (each loaded,
    checked against its schema, embedded in its package, merged, then ``defaults`` stripped) is
    the larger part of a composition, and the jobs of a sweep share a few defaults lists: a
    ``seed`` or ``trainer.lr`` sweep one, ``scaler x resampler`` four. The value overrides
    (``seed=1``), the ``hydra`` node's per-job fields and struct mode are applied by Hydra after
    this step, on a deep copy (Hydra mutates it). A file whose mtime or size changed is merged again.
    """
    sources = repo.get_sources()
    key = (
        _sources(sources),
        tuple((d.config_path, d.package, d.parent, d.is_self, d.primary) for d in defaults),
        tuple(_stamp(sources, d.config_path) for d in defaults if d.config_path),
    )
    return _memo(_MERGED, key, lambda: _ORIGINAL_COMPOSE(self, defaults, repo))


def install() -> None:
    """Patch Hydra's repository and its defaults-list merge (idempotent)."""
    global _ORIGINAL, _ORIGINAL_COMPOSE
    try:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl
        from hydra._internal.config_repository import ConfigRepository
    except ImportError:
        return
    if _ORIGINAL is None:
        _ORIGINAL = ConfigRepository.load_config
    ConfigRepository.load_config = _cached_load_config  # type: ignore[method-assign]
    if _ORIGINAL_COMPOSE is None:
        _ORIGINAL_COMPOSE = getattr(ConfigLoaderImpl, "_compose_config_from_defaults_list", None)
    if _ORIGINAL_COMPOSE is not None:
        ConfigLoaderImpl._compose_config_from_defaults_list = _cached_compose  # type: ignore[method-assign]


def clear() -> None:
    """Forget every parse and merge (the next composition reads its files again)."""
    _CACHE.clear()
    _MERGED.clear()


@contextmanager
def disabled() -> Iterator[None]:
    """Hydra's own loader and merge for the duration (the reference the cache is checked against)."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra._internal.config_repository import ConfigRepository

    installed = ConfigRepository.load_config is _cached_load_config
    if installed:
        ConfigRepository.load_config = _ORIGINAL  # type: ignore[method-assign]
        if _ORIGINAL_COMPOSE is not None:
            ConfigLoaderImpl._compose_config_from_defaults_list = _ORIGINAL_COMPOSE  # type: ignore[method-assign]
    try:
        yield
    finally:
        if installed:
            install()


def share_group_listings() -> None:
    """``--help`` in a third of the time (0.7 s of CPU instead of 1.9 s on the shared 2-core
    machine): Hydra lists the config groups with ~130 calls to
    ``get_group_options``, each deep-copying the whole config repository (hydra's own schema
    included) before one read-only lookup. Within one ``--help`` the search path and overrides do
    not change between those calls, so one copy per (config, overrides) serves them all. Hydra's
    internals differ between versions: if the method is not where expected, nothing is patched."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    original = getattr(ConfigLoaderImpl, "_parse_overrides_and_create_caching_repo", None)
    if original is None or getattr(original, "shared", False):
        return
    shared: dict[Any, Any] = {}

    def parse_once(self: Any, config_name: str | None, overrides: list[str]) -> Any:
        key = (id(self), config_name, tuple(overrides))
        if key not in shared:
            shared[key] = original(self, config_name, overrides)
        return shared[key]

    parse_once.shared = True  # type: ignore[attr-defined]
    ConfigLoaderImpl._parse_overrides_and_create_caching_repo = parse_once  # type: ignore[method-assign]


def compose_each_job_once() -> None:
    """A ``-m`` sweep composes each job's config once, not twice. Hydra's sweeper composes every
    job of a batch to check it can be (``Sweeper.validate_batch_is_legal``), throws the configs
    away, and the launcher composes each again: ~0.4 s a job, a third of a sweep of small fits
    (profiled, benchmarks/bench_vs_sklearn.py). Here the sweeper's composition is kept and handed
    to the launcher's request for the same (master config, overrides) once, then forgotten, so the
    launcher gets a config nobody else holds (it sets ``hydra.job.id`` on it); any other request
    composes as before. A launcher in other processes (joblib) composes there, unchanged. If
    Hydra's method is not where expected, nothing is patched."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    original = getattr(ConfigLoaderImpl, "load_sweep_config", None)
    if original is None or getattr(original, "shared", False):
        return
    kept: dict[tuple[int, int, tuple[str, ...]], Any] = {}

    def load_sweep_config(self: Any, master_config: Any, sweep_overrides: list[str]) -> Any:
        key = (id(self), id(master_config), tuple(sweep_overrides))
        if key in kept:
            return kept.pop(key)
        config = original(self, master_config, sweep_overrides)
        if _in_batch_check() and _launcher(master_config) == BASIC_LAUNCHER:
            kept[key] = config  # the launcher's call for this job, in this process, takes it
        return config

    load_sweep_config.shared = True  # type: ignore[attr-defined]
    ConfigLoaderImpl.load_sweep_config = load_sweep_config  # type: ignore[method-assign]


BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"  # jobs in this process


def _launcher(master_config: Any) -> str:
    try:
        return str(master_config.hydra.launcher._target_)
    except Exception:  # no launcher node: another Hydra layout, compose as before
        return ""


def _in_batch_check() -> bool:
    """True when the caller is ``Sweeper.validate_batch_is_legal`` (its configs are discarded)."""
    frame = sys._getframe(2)
    return frame is not None and frame.f_code.co_name == "validate_batch_is_legal"


@contextmanager
def check_when_reading_mode(check: Callable[[Any], None]) -> Iterator[None]:
    """While in this context, run ``check`` on the config Hydra composes to read ``hydra.mode``,
    when it is a single run.

    Why: before a single run Hydra composes the whole config once only to read its mode, then
    composes it again for the run and sets up the run's folder and logging; a config mistake the
    registry schema sees (runner/cli/precheck.py) surfaced only after all that (1.17 s for
    ``+scaler.foo=1`` on the idle 2-core machine). ``check`` gets that first composition,
    without its ``hydra`` node. Skipped when the mode is MULTIRUN or an override is a sweep
    (``seed=1,2`` without ``-m``: Hydra's own error comes first, as before), and when the
    composition fails (Hydra reports that itself). Hydra's method is put back on the way out; if
    it is not where expected, nothing is patched."""
    from hydra._internal.hydra import Hydra
    from hydra.types import RunMode

    original = Hydra.__dict__.get("get_mode")
    if original is None:
        yield
        return

    def get_mode(self: Any, config_name: str | None, overrides: list[str]) -> Any:
        seen: list[Any] = []
        compose = self.compose_config

        def keep(*args: Any, **kwargs: Any) -> Any:
            seen.append(compose(*args, **kwargs))
            return seen[-1]

        self.compose_config = keep
        try:
            mode = original(self, config_name, overrides)
        finally:
            del self.compose_config
        if seen and mode != RunMode.MULTIRUN and not _sweeps(overrides):
            with contextlib.suppress(Exception):  # a clean exit passes; anything else is met again, where Hydra reports it
                check(_without_hydra(seen[-1]))
        return mode

    Hydra.get_mode = get_mode  # type: ignore[method-assign]
    try:
        yield
    finally:
        Hydra.get_mode = original  # type: ignore[method-assign]


def _sweeps(overrides: list[str]) -> bool:
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        return any(o.is_sweep_override() for o in OverridesParser.create().parse_overrides(overrides))
    except Exception:  # unparsable: Hydra's own error follows
        return True


def _without_hydra(cfg: Any) -> Any:
    from omegaconf import OmegaConf, open_dict

    OmegaConf.set_readonly(cfg, False)
    with open_dict(cfg):
        cfg.pop("hydra", None)
    return cfg
