"""A config checked against a cached schema of the registries, before the heavy imports.

Why: the full validation (``runner.jobs.job.validate``) needs every component module imported, and
those import torch and scikit-learn (seconds) only so that ``Registry.validate`` can read their
signatures. A typo in ``scaler.quantile_range`` should cost what Hydra costs, not a torch import.
So each full validation leaves behind a schema: per kind and name, the parameters in order, their
type hints (as JSON), which are required and which the runner fills. The next CLI call checks
the config against that schema with the registry's own ``Registry.validate`` (same messages),
on stand-in entries, and only then imports the libraries.

The schema can only reject, never accept: a config it passes is validated again in full, so a
cross-parameter rule (``check_params``) or a check it lacks still runs, later. It is keyed by the
sha256 of every source file that defines a registered component (and of the plugin list): any
edit, a new plugin or another version of a plugin makes it stale, and a stale, missing or
unreadable schema means no precheck at all (the slow path), never a wrong answer.
"""
from __future__ import annotations

import collections.abc
import hashlib
import inspect
import json
import logging
import os
import sys
import tempfile
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from components.registry import ENTRY_POINT_GROUP, REGISTRIES, Entry, Interval, Registry

log = logging.getLogger("runner")
ROOT = Path(__file__).resolve().parents[2]
GROUPS = ("dataset", "outlier", "scaler", "reducer", "resampler", "augment", "model", "loss", "trainer", "tracking",
          "quality", "importance")  # fmt: skip  # runner.jobs.job.COMPONENT_GROUPS (a test keeps them equal)
_SEQUENCES = {"list": list, "tuple": tuple, "sequence": collections.abc.Sequence, "iterable": collections.abc.Iterable,
              "dict": dict, "mapping": collections.abc.Mapping}  # fmt: skip
_SCALARS = {"int": int, "float": float, "str": str, "bool": bool, "none": type(None)}


def encode_hint(hint: Any) -> Any:
    """A type hint as JSON. Anything ``check_value`` does not inspect (a class such as
    ``np.ndarray``) becomes ``"any"``: it accepts every value there too."""
    origin = get_origin(hint)
    if hint is Any or hint is inspect.Parameter.empty:
        return "any"
    for name, scalar in _SCALARS.items():
        if hint is scalar:
            return name
    if origin is typing.Annotated:
        base, *meta = get_args(hint)
        return {"annotated": encode_hint(base), "intervals": [[m.low, m.high, m.closed] for m in meta if isinstance(m, Interval)]}
    if origin in (Union, types.UnionType):
        return {"union": [encode_hint(a) for a in get_args(hint)]}
    if origin is Literal:
        return {"literal": list(get_args(hint))}
    for name, kind in _SEQUENCES.items():
        if origin is kind or hint is kind:
            args = get_args(hint)
            return {"seq": name, "args": None if hint is kind else ["..." if a is Ellipsis else encode_hint(a) for a in args]}
    return "any"


def decode_hint(doc: Any) -> Any:
    if isinstance(doc, str):
        return Any if doc == "any" else _SCALARS[doc]
    if "annotated" in doc:
        return Annotated[(decode_hint(doc["annotated"]), *(Interval(*i) for i in doc["intervals"]))]  # type: ignore[misc]
    if "union" in doc:
        return Union[tuple(decode_hint(a) for a in doc["union"])]
    if "literal" in doc:
        return Literal[tuple(doc["literal"])]
    kind = _SEQUENCES[doc["seq"]]
    if doc["args"] is None:
        return kind
    args = tuple(Ellipsis if a == "..." else decode_hint(a) for a in doc["args"])
    return kind[args if len(args) > 1 else args[0]]  # type: ignore[index]


def _plugins() -> list[str]:
    from importlib import metadata

    return sorted(f"{ep.name}={ep.value}@{getattr(ep.dist, 'version', '')}" for ep in metadata.entry_points(group=ENTRY_POINT_GROUP))


def _digest(files: list[str], plugins: list[str]) -> str | None:
    h = hashlib.sha256(json.dumps(plugins).encode())
    for name in files:
        try:
            h.update(name.encode() + Path(name).read_bytes())
        except OSError:
            return None
    return h.hexdigest()


def _source_files() -> list[str]:
    """Files defining a registered component or a base class whose ``__init__`` it inherits."""
    files = set()
    for registry in REGISTRIES.values():
        for entry in registry._entries.values():
            classes = [*(entry.obj.__mro__ if inspect.isclass(entry.obj) else (entry.obj,)), *((entry.wrap,) if entry.wrap else ())]
            for obj in classes:
                module = sys.modules.get(getattr(obj, "__module__", "") or "")
                path = getattr(module, "__file__", None)
                if path and obj is not object:
                    files.add(str(Path(path).resolve()))
    return sorted(files)


def schema_path(cache_dir: str | Path) -> Path:
    return Path(cache_dir) / "registry_schema.json"


def save_schema(cache_dir: str | Path) -> None:
    """Write the schema of the registries as loaded now (after a full validation). A failure to
    write only costs the next run its precheck."""
    kinds: dict[str, Any] = {}
    for kind in GROUPS:
        registry = REGISTRIES.get(kind)
        if registry is None or not registry._entries:
            return  # nothing of it imported (a command that validates nothing): keep the old one
        registry.names()  # complete: every home module and plugin of the kind (registries load lazily)
        kinds[kind] = {
            name: {"runtime": list(entry.runtime),
                   "params": [[p, encode_hint(hint), default is inspect.Parameter.empty] for p, (hint, default) in entry.signature().items()]}
            for name, entry in registry._entries.items()
        }  # fmt: skip  # signature(): the component's parameters, then its wrapper's (outlier actions)
    files, plugins = _source_files(), _plugins()
    doc = {"files": files, "plugins": plugins, "digest": _digest(files, plugins), "kinds": kinds}
    path = schema_path(cache_dir)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as handle:
            json.dump(doc, handle)
        os.replace(tmp, path)
    except (OSError, TypeError, ValueError) as exc:
        log.debug("registry schema not written (%s)", exc)


class SchemaRegistry(Registry):
    """A registry of stand-ins: its names are the schema's (plugins were in it when it was written)."""

    def names(self) -> list[str]:
        return sorted(self._entries)


def load_schema(cache_dir: str | Path) -> dict[str, Registry] | None:
    """Stand-in registries from a fresh schema, or None (missing, unreadable or stale)."""
    try:
        doc = json.loads(schema_path(cache_dir).read_text())
        plugins = _plugins()
        if doc["digest"] is None or doc["plugins"] != plugins or _digest(doc["files"], plugins) != doc["digest"]:
            return None
        registries: dict[str, Registry] = {}
        for kind, entries in doc["kinds"].items():
            registry = registries[kind] = SchemaRegistry(kind)
            for name, spec in entries.items():
                registry._entries[name] = Entry(name, _stand_in(spec["params"]), tuple(spec["runtime"]), "registry schema")
        return registries
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _stand_in(params: list[list[Any]]) -> Any:
    """A function with the component's signature and hints: what ``Registry.validate`` reads."""

    def component(**kwargs: Any) -> None:  # never called: only its signature is read
        raise TypeError("a schema stand-in cannot be built")

    component.__signature__ = inspect.Signature([  # type: ignore[attr-defined]
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=inspect.Parameter.empty if required else None)
        for name, _, required in params
    ])  # fmt: skip
    component.__annotations__ = {name: decode_hint(hint) for name, hint, _ in params}
    return component


def precheck(plain: Mapping[str, Any], cache_dir: str | Path) -> bool:
    """Raise the ``ConfigError`` the full validation would raise for a mistake the schema can see
    (component names and parameters, split, data.memory_budget, experiment name, tracking URI); True when checked."""
    from runner.tables.data import check_split
    from runner.tables.memory import check_data
    from runner.tracker.store import check_experiment_name, check_uri

    registries = load_schema(cache_dir)
    if registries is None:
        return False
    for group in GROUPS:
        if group in plain and group in registries:
            registries[group].validate(plain[group], group)
    check_split(plain.get("split", {}))
    check_data(plain.get("data"))
    check_experiment_name(plain.get("experiment_name", "default"))
    if (plain.get("tracking") or {}).get("name") == "mlflow":
        check_uri(str(plain["tracking"].get("uri", "")))
    return True
