"""torch.optim's optimizers, unchanged, without importing ``torch._dynamo`` (1.5-3 s of CPU a process).

Why: torch.optim wraps ``Optimizer.add_param_group``, ``zero_grad``, ``state_dict``,
``load_state_dict`` and the functional updates (``torch.optim.adam.adam``) in
``torch._disable_dynamo``, whose first call imports ``torch._dynamo`` (and with it sympy and
most of the compiler) only to build a wrapper telling ``torch.compile`` to skip the function;
every ``step()`` imports it to place two ``torch._dynamo.graph_break()`` calls. Outside
``torch.compile`` both are no-ops: the function runs as written. The runner never compiles, so
here the wrappers resolve to the plain function and ``step`` runs the optimizer's own update
under the grad mode torch's ``_use_grad`` sets: the same arithmetic, the same tensors, the
same results (tests/test_startup.py compares a job's metrics with and without this).

Once ``torch._dynamo`` is imported in the process (someone may compile from then on), every
call goes through torch's own wrappers again. Torch's internals differ between versions: what
is not found where expected is left alone (the optimizer then imports dynamo as before).
"""
from __future__ import annotations

import functools
import sys
from typing import Any, Callable

import torch
import torch._compile
import torch.optim.optimizer as _optimizer

_ATTR = "__dynamo_disable"  # where torch._disable_dynamo's wrapper caches its resolved function
_DISABLE_CODE = torch._compile._disable_dynamo(lambda: None).__code__  # its `inner`
_USE_GRAD_CODE = _optimizer._use_grad_for_differentiable(lambda: None).__code__  # step's `_use_grad`


def _compiler_loaded() -> bool:
    return "torch._dynamo" in sys.modules


def _resolve(wrapper: Callable[..., Any]) -> None:
    """Give one ``torch._disable_dynamo`` wrapper the plain function, until dynamo is imported."""
    fn = getattr(wrapper, "__wrapped__", None)
    if fn is None or getattr(fn, _ATTR, None) is not None:
        return

    @functools.wraps(fn)
    def eager(*args: Any, **kwargs: Any) -> Any:
        if _compiler_loaded():  # torch's wrapper builds (and caches) the real one from here on
            delattr(fn, _ATTR)
            return wrapper(*args, **kwargs)
        return fn(*args, **kwargs)

    setattr(fn, _ATTR, eager)


def _disable_wrappers(obj: Any) -> list[Callable[..., Any]]:
    """``obj`` itself when it is a ``torch._disable_dynamo`` wrapper, else such wrappers it holds
    in its closure (``_disable_dynamo_if_unsupported`` keeps one there)."""
    code = getattr(obj, "__code__", None)
    if code is _DISABLE_CODE:
        return [obj]
    found = []
    for cell in getattr(obj, "__closure__", None) or ():
        try:
            inner = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if getattr(inner, "__code__", None) is _DISABLE_CODE:
            found.append(inner)
    return found


def _unwrap_to(fn: Any, code: Any) -> Any:
    """The function with ``code`` along ``fn``'s ``__wrapped__`` chain, or None."""
    while fn is not None:
        if getattr(fn, "__code__", None) is code:
            return fn
        fn = getattr(fn, "__wrapped__", None)
    return None


@functools.cache
def eager_class(cls: type[torch.optim.Optimizer]) -> type[torch.optim.Optimizer]:
    """``cls`` with a ``step`` that needs no ``torch._dynamo`` (same name, a subclass of ``cls``),
    its ``torch._disable_dynamo`` wrappers resolved; ``cls`` itself if its step is not the expected one."""
    for name in ("add_param_group", "zero_grad", "state_dict", "load_state_dict"):
        for wrapper in _disable_wrappers(getattr(torch.optim.Optimizer, name, None)):
            _resolve(wrapper)
    modules = {k.__module__ for k in cls.__mro__ if k.__module__.startswith("torch.optim.")}  # AdamW updates with adam()
    for module in filter(None, map(sys.modules.get, modules)):
        for value in list(vars(module).values()):
            if callable(value) and getattr(value, "__module__", None) == module.__name__:
                for wrapper in _disable_wrappers(value):  # the functional update: torch.optim.adam.adam
                    _resolve(wrapper)
    use_grad = _unwrap_to(cls.step, _USE_GRAD_CODE)
    update = getattr(use_grad, "__wrapped__", None)
    if use_grad is None or update is None:
        return cls

    @functools.wraps(update)
    def step(self: torch.optim.Optimizer, *args: Any, **kwargs: Any) -> Any:
        if _compiler_loaded():
            return use_grad(self, *args, **kwargs)
        previous = torch.is_grad_enabled()
        try:
            torch.set_grad_enabled(self.defaults["differentiable"])  # what _use_grad does, less the graph breaks
            return update(self, *args, **kwargs)
        finally:
            torch.set_grad_enabled(previous)

    return type(cls.__name__, (cls,), {"step": step, "__module__": __name__, "__doc__": cls.__doc__})
