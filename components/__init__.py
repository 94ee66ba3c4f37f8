"""Registered, swappable components: each module registers its classes by name on import."""
from __future__ import annotations

from components.errors import ConfigError
from components.registry import HOMES, REGISTRIES, Registry, declare_kind, get_registry

__all__ = ["ConfigError", "HOMES", "REGISTRIES", "Registry", "declare_kind", "get_registry", "load_builtin"]


def load_builtin() -> None:
    """Fill every registry now (each also fills itself on its first lookup, see registry.HOMES)."""
    for kind in list(HOMES):
        get_registry(kind).names()
