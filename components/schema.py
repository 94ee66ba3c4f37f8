"""The schema a component's signature declares: type hints, ``Literal`` choices and
:class:`Interval` bounds, checked against config values (:func:`check_value`) and described in
error messages (:func:`describe`). Used by components/registry.py before anything runs.
"""
from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union, get_args, get_origin

from components.errors import ConfigError


@dataclass(frozen=True)
class Interval:
    """A numeric bound used as ``Annotated[float, Interval(0, 1, closed="left")]``."""

    low: float | None = None
    high: float | None = None
    closed: Literal["both", "left", "right", "neither"] = "both"

    def contains(self, value: float) -> bool:
        lo_ok = self.low is None or (value >= self.low if self.closed in ("both", "left") else value > self.low)
        hi_ok = self.high is None or (value <= self.high if self.closed in ("both", "right") else value < self.high)
        return lo_ok and hi_ok

    def describe(self) -> str:
        lo_op = ">=" if self.closed in ("both", "left") else ">"
        hi_op = "<=" if self.closed in ("both", "right") else "<"
        if self.high is None:
            return f"{lo_op} {self.low:g}" if self.low is not None else ""
        if self.low is None:
            return f"{hi_op} {self.high:g}"
        left = "[" if self.closed in ("both", "left") else "("
        right = "]" if self.closed in ("both", "right") else ")"
        return f"in {left}{self.low:g}, {self.high:g}{right}"



def check_value(value: Any, hint: Any) -> str | None:
    """None when ``value`` fits ``hint``, else a description of what is accepted."""
    if hint is Any or hint is inspect.Parameter.empty:
        return None
    origin = get_origin(hint)
    if origin is typing.Annotated:
        base, *meta = get_args(hint)
        problem = check_value(value, base)
        if problem:
            return problem
        for m in meta:
            if isinstance(m, Interval) and value is not None and not m.contains(value):
                return f"{describe(base)} {m.describe()}"
        return None
    if origin in (Union, types.UnionType):
        if any(check_value(value, arg) is None for arg in get_args(hint)):
            return None
        return describe(hint)
    if origin is Literal:
        return None if value in get_args(hint) else describe(hint)
    if hint is type(None):
        return None if value is None else "null"
    if hint is bool:
        return None if isinstance(value, bool) else "a boolean (true or false)"
    if hint is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "an integer"
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else "a number"
    if hint is str:
        return None if isinstance(value, str) else "a string"
    if origin in (list, tuple, typing.Sequence, Iterable) or hint in (list, tuple):
        if not isinstance(value, (list, tuple)):
            return describe(hint)
        args = get_args(hint)
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                return describe(hint)
            item_hints = list(args)
        else:
            item_hints = [args[0] if args else Any] * len(value)
        for item, item_hint in zip(value, item_hints):
            if check_value(item, item_hint):
                return describe(hint)
        return None
    if origin in (dict, Mapping) or hint in (dict,):
        return None if isinstance(value, Mapping) else describe(hint)
    return None


def describe(hint: Any) -> str:
    """A human phrase for a type hint, used in error messages."""
    origin = get_origin(hint)
    if origin is typing.Annotated:
        base, *meta = get_args(hint)
        bounds = " ".join(m.describe() for m in meta if isinstance(m, Interval))
        return f"{describe(base)} {bounds}".strip()
    if origin in (Union, types.UnionType):
        return " or ".join(describe(a) for a in get_args(hint))
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in get_args(hint))
    if hint is type(None):
        return "null"
    if origin in (list, tuple, typing.Sequence, Iterable):
        args = [a for a in get_args(hint) if a is not Ellipsis]
        if origin is tuple and args and get_args(hint)[-1] is not Ellipsis:
            return f"a list of {len(args)} values ({', '.join(describe(a) for a in args)})"
        if not args:
            return "a list"
        plural = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}
        base = get_args(args[0])[0] if get_origin(args[0]) is typing.Annotated else args[0]
        return f"a list of {plural[base]}" if base in plural else f"a list of values ({describe(args[0])})"
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", dict: "a mapping"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def need_ordered(cls: type, params: Mapping[str, Any], key: str, low: str, high: str) -> None:
    """The rule between two bounds of one range (``minmax`` a < b, ``robust`` q_low < q_high,
    ``domain_classifier`` clip_min < clip_max), for a ``check_params``: each side at the
    signature's default where the config does not set it, so defaults stay in the signature."""
    defaults = inspect.signature(cls).parameters
    lo, hi = params.get(low, defaults[low].default), params.get(high, defaults[high].default)
    if not lo < hi:
        raise ConfigError(f"{key}.{low} / {key}.{high}: need {low} < {high}; got {low}={lo}, {high}={hi}.")
