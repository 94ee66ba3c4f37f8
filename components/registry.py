"""Registries of components by kind (scaler, model, loss...), in the style of mmengine's Registry.

A config names a component (``name: standard``) and lists its parameters next to the name.
Before anything runs, :meth:`Registry.validate` checks the name and every parameter against
the component's signature (type hints, ``Literal`` choices, :class:`Interval` bounds), so a
typo fails in milliseconds with a message naming the key, the bad value and what is accepted,
instead of deep inside a library an hour into a sweep.

Registries are lazy and complete: every kind has a home (the modules that register its
components, :data:`HOMES`), imported on the first lookup of a name, so ``get_registry(kind).names()``
lists every built-in component whatever was imported before. A kind that is not declared is an
error (``get_registry("scalr")`` suggests ``scaler``) instead of a new, empty registry.

Third parties add components without editing this repository through the entry-point group
``dq_runner.components``: each entry point names a module that registers its components on import
(a new kind is declared there with :func:`declare_kind`).
"""
from __future__ import annotations

import dataclasses
import difflib
import inspect
import typing
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from components.errors import ConfigError
from components.schema import Interval, check_value, describe  # noqa: F401  (Interval, describe: re-exported)

ENTRY_POINT_GROUP = "dq_runner.components"


@dataclass(frozen=True)
class Entry:
    """A registered component and where it was defined (for duplicate-name errors)."""

    name: str
    obj: Callable[..., Any]
    runtime: tuple[str, ...]
    where: str | None = None  # None: found from ``obj`` when an error asks (``location``)
    wrap: Callable[..., Any] | None = None  # composition: ``wrap(obj(...), **rest)`` (outlier = detector + action)

    @property
    def location(self) -> str:
        """Where ``obj`` is defined, looked up only when an error names it: ``inspect`` reads and
        parses each source file, ~0.5 s over the registry if done at every registration (profiled)."""
        return self.where if self.where is not None else _location(self.obj)

    def signature(self) -> dict[str, tuple[Any, Any]]:
        """Every accepted parameter -> (type hint, default): the component's, then its wrapper's."""
        spec = _signature(self.obj)
        if self.wrap is not None:
            outer = _signature(self.wrap)
            spec.update({k: v for k, v in list(outer.items())[1:] if k not in spec})  # [1:]: the wrapped component
        return spec


def _location(obj: Any) -> str:
    try:
        file = inspect.getsourcefile(obj)
        line = inspect.getsourcelines(obj)[1]
        where = f"{file}:{line}"
    except (OSError, TypeError):
        where = "<unknown file>"
    return f"{obj.__module__}.{getattr(obj, '__qualname__', repr(obj))} ({where})"


def suggest(name: str, choices: Iterable[str]) -> str:
    """' Did you mean 'x'?' for the closest choice, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


class Registry:
    """Components of one kind, looked up by name."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        self._loaded = False

    def register(self, name: str, *, runtime: Iterable[str] = (), wrap: Callable[..., Any] | None = None) -> Callable[[Any], Any]:
        """Decorator registering a class or factory under ``name``.

        ``runtime`` lists constructor arguments the runner fills from the data (input size,
        class counts); users may not set them in a config. ``wrap`` composes: the config's
        parameters of ``obj`` build it, and ``wrap(built, **the others)`` is the component. The decorator stores ``name`` on the
        object as ``registered_name`` (the one place it is written), for error messages.
        """

        def decorator(obj: Any) -> Any:
            if name in self._entries:
                raise ConfigError(
                    f"{self.kind} '{name}' is registered twice: first by {self._entries[name].location}, "
                    f"again by {_location(obj)}. Rename one of them."
                )
            if "registered_name" in vars(obj):
                raise ConfigError(f"{_location(obj)} is registered twice ({obj.registered_name}, {name}); subclass it instead.")
            obj.registered_name = name
            self._entries[name] = Entry(name, obj, tuple(runtime), None, wrap)
            return obj

        return decorator

    def _load(self) -> None:
        """Import the kind's home modules and the plugins, once (lazy: not at ``get_registry``)."""
        if not self._loaded:
            self._loaded = True
            import importlib

            for module in HOMES.get(self.kind, ()):
                importlib.import_module(module)
        _load_plugins()

    def names(self) -> list[str]:
        self._load()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def get(self, name: str, key: str | None = None) -> Entry:
        """The entry for ``name``; an unknown name lists the available ones."""
        names = self.names()
        if name not in self._entries:
            where = f"{key}.name" if key else f"{self.kind} name"
            raise ConfigError(
                f"{where}: unknown {self.kind} '{name}'.{suggest(str(name), names)} "
                f"Available: {', '.join(names)}."
            )
        return self._entries[name]

    def validate(self, cfg: Mapping[str, Any], key: str) -> tuple[Entry, dict[str, Any]]:
        """Check a config node ``{name: ..., **params}`` against the component's signature."""
        cfg = _plain(cfg)
        if not isinstance(cfg, Mapping) or "name" not in cfg:
            raise ConfigError(f"{key}: expected a mapping with a 'name' key naming a {self.kind}; got {cfg!r}.")
        entry = self.get(cfg["name"], key)
        params = {k: v for k, v in cfg.items() if k != "name"}
        spec = entry.signature()
        accepted = [p for p in spec if p not in entry.runtime]
        for param, value in params.items():
            if param in entry.runtime:
                raise ConfigError(
                    f"{key}.{param}: is set by the runner from the data for {self.kind} '{entry.name}'; "
                    f"remove it from the config."
                )
            if param not in spec:
                raise ConfigError(
                    f"{key}.{param}: unknown parameter of {self.kind} '{entry.name}'.{suggest(param, accepted)} "
                    f"Accepted: {', '.join(accepted) or '(none)'}."
                )
            hint, _ = spec[param]
            problem = check_value(value, hint)
            if problem:
                raise ConfigError(f"{key}.{param}: got {value!r}; expected {problem}.")
        for param, (_, default) in spec.items():
            if default is inspect.Parameter.empty and param not in params and param not in entry.runtime:
                raise ConfigError(f"{key}.{param}: required parameter of {self.kind} '{entry.name}' is missing.")
        check = getattr(entry.obj, "check_params", None)
        if callable(check):  # cross-parameter rules (a < b...), still before anything runs
            check(params, key)
        return entry, params

    def build(self, cfg: Mapping[str, Any], key: str, **runtime: Any) -> Any:
        """Validate ``cfg`` and construct the component, passing the runner's ``runtime`` values."""
        entry, params = self.validate(cfg, key)
        given = {**params, **{k: v for k, v in runtime.items() if k in entry.runtime}}
        if entry.wrap is None:
            return entry.obj(**given)
        inner = _signature(entry.obj)
        outer = _signature(entry.wrap)
        built = entry.obj(**{k: v for k, v in given.items() if k in inner})
        return entry.wrap(built, **{k: v for k, v in given.items() if k in outer and k not in inner})


REGISTRIES: dict[str, Registry] = {}

# kind -> the modules whose import registers its built-in components (imported on first lookup).
# trainer and tracking live in runner/: named here as strings, imported only when those kinds are
# looked up, so importing components/ never imports runner/.
HOMES: dict[str, tuple[str, ...]] = {
    "dataset": ("components.datasets", "components.hf_source"),
    "scaler": ("components.scalers",),
    "reducer": ("components.reducers",),
    "outlier": ("components.outliers", "components.outliers_multivariate"),
    "resampler": ("components.resamplers", "components.resamplers_imblearn", "components.deepsmote"),
    "augment": ("components.augment",),
    "class_weights": ("components.class_weights",),
    "loss": ("components.losses",),
    "model": ("components.models",),
    "quality": ("components.quality",),
    "importance": ("components.drift",),
    "trainer": ("runner.fitting.settings",),
    "tracking": ("runner.tracker.tracking",),
}


def declare_kind(kind: str, *modules: str) -> Registry:
    """Declare a new kind of component (a plugin's), with the modules that register it."""
    HOMES[kind] = tuple(dict.fromkeys((*HOMES.get(kind, ()), *modules)))
    return get_registry(kind)


def get_registry(kind: str) -> Registry:
    """The registry for a declared ``kind``; an undeclared one is a :class:`ConfigError`."""
    if kind not in REGISTRIES:
        if kind not in HOMES:
            raise ConfigError(f"unknown component kind '{kind}'.{suggest(str(kind), HOMES)} Kinds: {', '.join(sorted(HOMES))}.")
        REGISTRIES[kind] = Registry(kind)
    return REGISTRIES[kind]


_plugins_loaded = False


def _load_plugins() -> None:
    """Import each module advertised under the entry-point group, once."""
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # a broken third-party plugin must not break built-in runs
            warnings.warn(f"component plugin '{ep.name}' ({ep.value}) failed to load: {exc}", stacklevel=2)


def _plain(cfg: Any) -> Any:
    try:
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(cfg, (DictConfig, ListConfig)):
            return OmegaConf.to_container(cfg, resolve=True)
    except ImportError:  # pragma: no cover - omegaconf is a dependency
        pass
    return cfg


_SIGNATURES: dict[Any, dict[str, tuple[Any, Any]]] = {}


def _signature(obj: Any) -> dict[str, tuple[Any, Any]]:
    """Parameter name -> (type hint, default) for a class's __init__ or a factory (a fresh dict).

    A class whose ``__init__`` forwards ``**kwargs`` to its base also accepts the base's
    parameters: those are collected up the MRO until an ``__init__`` without ``**kwargs``.
    Read once per object: ``get_type_hints`` evaluates every annotation, and a job validates
    and builds ~14 components (~17 ms a job of a sweep, profiled).
    """
    try:
        cached = _SIGNATURES.get(obj)
    except TypeError:  # an unhashable callable: read each time
        return _read_signature(obj)
    if cached is None:
        cached = _SIGNATURES[obj] = _read_signature(obj)
    return dict(cached)


def _read_signature(obj: Any) -> dict[str, tuple[Any, Any]]:
    targets = [c.__init__ for c in obj.__mro__ if "__init__" in vars(c)] if inspect.isclass(obj) else [obj]
    out: dict[str, tuple[Any, Any]] = {}
    class_hints: dict[str, Any] = {}
    if inspect.isclass(obj) and dataclasses.is_dataclass(obj):  # fields' hints, each in its own module
        class_hints = typing.get_type_hints(obj, include_extras=True)
    for target in targets:
        try:
            hints = class_hints or typing.get_type_hints(target, include_extras=True)
        except Exception:
            hints = {}
        forwards = False
        for p in inspect.signature(target).parameters.values():
            if p.kind == p.VAR_KEYWORD:
                forwards = True
            elif p.name != "self" and p.kind != p.VAR_POSITIONAL and p.name not in out:
                out[p.name] = (hints.get(p.name, Any), p.default)
        if not forwards:
            break
    return out
