"""Config helpers: the ``abspath`` resolver, plain resolution, flattening and the config hash."""
from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from collections.abc import Iterator, Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from components.errors import ConfigError

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")

# Keys that do not change a job's results: excluded from the config hash (resume, caching).
NOT_HASHED = ("tracking", "paths", "progress", "hydra", "cache", "resume")


def register_resolvers() -> None:
    """``${abspath:outputs}`` -> an absolute path, so the SQLite URI never depends on a later chdir."""
    if not OmegaConf.has_resolver("abspath"):
        OmegaConf.register_new_resolver("abspath", lambda p: os.path.abspath(os.path.expanduser(str(p))))
    if not OmegaConf.has_resolver("sweep_uid"):  # cached like Hydra's ${now:}: one value per sweep
        OmegaConf.register_new_resolver("sweep_uid", sweep_uid, use_cache=True)


def sweep_uid() -> str:
    """A random id made once per process: the sweep folder's suffix and the sweep id, so two
    sweeps started in the same second never share a folder (``${now:%H-%M-%S}`` alone did)."""
    global _SWEEP_UID
    if _SWEEP_UID is None:
        _SWEEP_UID = uuid.uuid4().hex[:12]
    return _SWEEP_UID


_SWEEP_UID: str | None = None


def to_plain(cfg: DictConfig | Mapping[str, Any]) -> dict[str, Any]:
    """The resolved config as plain Python containers; bad interpolations become ConfigErrors."""
    if isinstance(cfg, DictConfig):
        try:
            out = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=True)
        except MissingMandatoryValue as exc:
            key = getattr(exc, "full_key", None) or "<config>"
            raise ConfigError(f"{key}: a value is required (it is ??? in the config); set it, e.g. {key}=<value>.") from exc
        except OmegaConfBaseException as exc:
            key = getattr(exc, "full_key", None) or "<config>"
            raise ConfigError(f"{key}: {str(exc).splitlines()[0]}") from exc
        assert isinstance(out, dict)
        out.pop("hydra", None)
        return out  # type: ignore[return-value]
    return dict(cfg)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Dotted keys for nested mappings (``trainer.lr``); lists stay values."""
    for key, value in tree.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            yield from flatten(value, dotted + ".")
        else:
            yield dotted, value


def config_hash(plain: Mapping[str, Any]) -> str:
    """sha256 of everything that changes results (seed included), tracking and paths left out."""
    kept = {k: v for k, v in plain.items() if k not in NOT_HASHED}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()[:16]


def compose(overrides: list[str] | tuple[str, ...] = ()) -> DictConfig:
    """The job config exactly as the CLI composes it (Hydra's compose API on conf/), for
    tests, benchmarks and notebooks."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir

    register_resolvers()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return hydra_compose("config", overrides=list(overrides))
