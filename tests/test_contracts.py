"""Every registered component keeps the contract components/base.py states, with non-default parameters.

For each (kind, name) in every registry, parameters that differ from the signature's defaults are
derived from the type hints (another ``Literal`` choice, a flipped bool, a number moved inside its
``Interval``), checked by the registry, and the component is built. Then:

* every class (estimators, settings dataclasses, trackers, losses) stores each parameter under its
  own name, unchanged (``is``): no ``**kwargs`` swallowed, nothing recomputed in ``__init__``;
* scikit-learn estimators (scalers, reducers, outlier steps, resamplers, augment policies,
  importance weighting): ``get_params`` returns the configured values, ``sklearn.base.clone``
  round-trips them, plus these checks from ``sklearn.utils.estimator_checks``:
  ``check_no_attributes_set_in_init``, ``check_get_params_invariance``, ``check_set_params``,
  ``check_parameters_default_constructible`` (not for image policies, which refuse a missing
  ``image_shape`` at construction) and, for transformers, ``check_transformers_unfitted``;
  a step is a sampler (``fit_resample``) or a transformer (``transform``), never both;
* torch losses are modules, not estimators: rebuilt from their stored parameters they hold the
  same buffers; factories (models, class weights) are rebuilt from the config and give the same
  product, and a changed parameter changes it;
* dataset loaders are exempt: they return data, not a configurable object (their parameters are
  validated by the registry, their products tested in test_datasets.py).
"""
from __future__ import annotations

import dataclasses
import inspect
import typing
from typing import Any, Literal, Union, get_args, get_origin

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils import estimator_checks as checks

import components
from components.errors import ConfigError
from components.registry import REGISTRIES, Interval, check_value, get_registry

components.load_builtin()

COUNTS = np.array([30, 10])
RUNTIME: dict[str, dict[str, Any]] = {
    "reducer": {"seed": 3},
    "outlier": {"class_names": ["a", "b"], "seed": 3},
    "resampler": {"class_names": ["a", "b"], "categorical_features": [2, 3], "seed": 3, "device": "cpu"},
    "augment": {"image_shape": (1, 8, 8), "value_range": (0.0, 1.0)},
    "loss": {"class_counts": COUNTS, "original_counts": COUNTS},
    "model": {"in_features": 64, "num_classes": 3, "image_shape": (1, 8, 8)},
    "class_weights": {"counts": COUNTS},
    "importance": {"seed": 3},
}
# parameters a cross-parameter rule forbids together with the generated ones
SKIP = {("loss", "class_balanced_focal"): {"alpha"}}
STORED_AS = {"alpha": "alpha_scheme"}  # losses: the configured alpha (``alpha`` is the weight buffer)
ALL = [(kind, name) for kind in sorted(REGISTRIES) for name in get_registry(kind).names()]


def _candidates(hint: Any, default: Any) -> list[Any]:
    origin = get_origin(hint)
    if origin is typing.Annotated:
        return _candidates(get_args(hint)[0], default)
    if origin is Union or str(origin) == "<class 'types.UnionType'>":
        return [c for arg in get_args(hint) if arg is not type(None) for c in _candidates(arg, default)]
    if origin is Literal:
        return list(get_args(hint))
    if hint is bool:
        return [not default] if isinstance(default, bool) else [True]
    if hint is int:
        base = default if isinstance(default, int) and not isinstance(default, bool) else 2
        return [base + 1, base - 1, 3, 1]
    if hint is float:
        base = float(default) if isinstance(default, (int, float)) and default is not None else 0.5
        return [base * 0.5, base + 0.05, base * 2, 0.25, 0.75]
    if origin in (list, tuple) and isinstance(default, (list, tuple)) and default:
        args = [a for a in get_args(hint) if a is not Ellipsis]
        if origin is tuple and len(args) == len(default) and len(args) > 1:  # fixed arity: move the first item
            first = [c for c in _candidates(args[0], default[0]) if c != default[0] and check_value(c, args[0]) is None]
            return [type(default)([first[0], *default[1:]])] if first else []
        return [type(default)(default[:1]), type(default)([*default, default[-1]])]
    if hint is str:
        return [f"{default}_x" if isinstance(default, str) else "sqlite:///contract.db"]
    return []


def non_default(kind: str, name: str) -> dict[str, Any]:
    """A valid, non-default value for every configurable parameter the hints let us derive."""
    entry = get_registry(kind).get(name)
    out: dict[str, Any] = {}
    for param, (hint, default) in entry.signature().items():
        if param in entry.runtime or param in SKIP.get((kind, name), set()):
            continue
        for value in _candidates(hint, None if default is inspect.Parameter.empty else default):
            if value != default and check_value(value, hint) is None:
                out[param] = value
                break
    try:
        get_registry(kind).validate({"name": name, **out}, kind)
    except ConfigError:  # a cross-parameter rule (a < b, clip needs bounds...): back off one at a time
        for param in list(out):
            trial = {k: v for k, v in out.items() if k != param}
            try:
                get_registry(kind).validate({"name": name, **trial}, kind)
                out = trial
                break
            except ConfigError:
                continue
    return out


def build(kind: str, name: str, params: dict[str, Any]) -> Any:
    return get_registry(kind).build({"name": name, **params}, kind, **RUNTIME.get(kind, {}))


@pytest.mark.parametrize("kind, name", ALL, ids=[f"{k}:{n}" for k, n in ALL])
def test_contract(kind: str, name: str) -> None:
    entry = get_registry(kind).get(name)
    params = non_default(kind, name)
    assert entry.obj.registered_name == name
    if kind == "dataset":
        pytest.skip("dataset loaders return data, not a configurable object (see the module docstring)")
    obj = build(kind, name, params)
    given = {**params, **{k: v for k, v in RUNTIME.get(kind, {}).items() if k in entry.runtime}}
    if not inspect.isclass(entry.obj):  # a factory: the product is a function of the config
        _check_factory(kind, name, params, obj)
        return
    if isinstance(obj, BaseEstimator):
        _check_estimator(obj, given, composed=entry.wrap is not None)
        if entry.wrap is not None and params.get("action", "drop") != "drop":  # the guard's parameters act on drop
            drop = {**params, "action": "drop"}
            _check_estimator(build(kind, name, drop), {**given, **drop}, composed=True)
        return
    for param, value in given.items():  # settings dataclasses, trackers, losses: stored unchanged
        stored = getattr(obj, STORED_AS.get(param, param) if isinstance(obj, torch.nn.Module) else param)
        assert stored is value or (isinstance(value, float) and stored == value), (param, stored, value)
    if isinstance(obj, torch.nn.Module):
        again = build(kind, name, params)
        assert again.state_dict().keys() == obj.state_dict().keys()
        for key, tensor in obj.state_dict().items():
            assert torch.equal(again.state_dict()[key], tensor), key
    elif dataclasses.is_dataclass(obj):
        assert dataclasses.replace(obj) == obj and dataclasses.asdict(obj) == {**dataclasses.asdict(type(obj)()), **params}


def _check_estimator(obj: BaseEstimator, given: dict[str, Any], composed: bool) -> None:
    got = obj.get_params(deep=True)
    for param, value in given.items():
        key = param if param in got else f"detector__{param}"
        if composed and key not in got:
            assert param in ("action", "seed", "max_class_share", "on_guard"), param  # the step's class, an unused seed, drop-only
            continue
        assert got[key] is value or got[key] == value, (param, got.get(key), value)
    twin = clone(obj)
    assert type(twin) is type(obj) and _plain(twin.get_params(deep=True)) == _plain(got)
    assert not (hasattr(obj, "fit_resample") and hasattr(obj, "transform")), "both a sampler and a transformer"
    name = type(obj).__name__
    checks.check_no_attributes_set_in_init(name, obj)
    checks.check_get_params_invariance(name, obj)
    checks.check_set_params(name, obj)
    if "image_shape" not in obj.get_params() or composed:
        checks.check_parameters_default_constructible(name, obj)
    if hasattr(obj, "transform") and hasattr(obj, "fit"):
        checks.check_transformers_unfitted(name, obj)


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.get_params() if isinstance(v, BaseEstimator) else v) for k, v in params.items()}


def _check_factory(kind: str, name: str, params: dict[str, Any], product: Any) -> None:
    again = build(kind, name, params)
    assert _fingerprint(again) == _fingerprint(product)
    for param in params:  # a parameter the product ignores would be a silent no-op in a config
        changed = _fingerprint(build(kind, name, {k: v for k, v in params.items() if k != param}))
        assert changed != _fingerprint(product), f"{kind} '{name}': {param} changes nothing"


def _fingerprint(product: Any) -> Any:
    if isinstance(product, torch.nn.Module):
        public = {k: v for k, v in vars(product).items() if not k.startswith("_") and k != "training"}
        return str(product), repr(public)
    return np.asarray(product).round(12).tolist()


def test_every_declared_kind_is_complete_and_an_undeclared_one_is_an_error() -> None:
    assert set(REGISTRIES) == set(components.HOMES)
    assert all(get_registry(kind).names() for kind in components.HOMES), "a registry is empty after load_builtin()"
    with pytest.raises(ConfigError, match=r"unknown component kind 'scalr'\. Did you mean 'scaler'\?"):
        get_registry("scalr")
    assert "scalr" not in REGISTRIES


def test_zscore_flag_per_class_survives_clone() -> None:
    """The issue's example: clone used to return drop / per_class=False."""
    step = build("outlier", "zscore", {"action": "flag", "per_class": True, "threshold": 2.5})
    twin = clone(step)
    assert type(twin).__name__ == "FlagOutliers" and twin.per_class is True and twin.detector.threshold == 2.5


def test_interval_candidates_stay_inside_bounds() -> None:
    """The generator's values are accepted by the registry (else the contract test would build defaults)."""
    params = non_default("outlier", "mcd")
    assert params["alpha"] != 0.01 and Interval(0, 1, "neither").contains(params["alpha"])
    assert len(non_default("resampler", "svm_smote")) == 7


@pytest.mark.slow
def test_registries_fill_themselves_on_first_lookup() -> None:
    """In a fresh process, without load_builtin(): each kind imports its own modules when asked."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = "from components import get_registry; print(get_registry('trainer').names(), get_registry('outlier').names())"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"{get_registry('trainer').names()} {get_registry('outlier').names()}"
