"""Registered, swappable components: each module registers its classes by name on import."""
from __future__ import annotations

from components.errors import ConfigError
from components.registry import REGISTRIES, Registry, get_registry

__all__ = ["ConfigError", "REGISTRIES", "Registry", "get_registry", "load_builtin"]

_BUILTIN_MODULES = (
    "components.datasets",
    "components.hf_source",
    "components.scalers",
    "components.reducers",
    "components.outliers",
    "components.outliers_multivariate",
    "components.resamplers",
    "components.deepsmote",
    "components.augment",
    "components.class_weights",
    "components.losses",
    "components.models",
    "components.quality",
    "components.drift",
)


def load_builtin() -> None:
    """Import every built-in component module so their decorators register them."""
    import importlib

    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
