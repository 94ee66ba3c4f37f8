"""The registry: lookup, suggestions, duplicate names, parameter validation, plugins."""
from __future__ import annotations

from typing import Annotated, Literal

import pytest

import components
from components.errors import ConfigError
from components.registry import Interval, Registry, check_value

components.load_builtin()


def make_registry() -> Registry:
    reg = Registry("widget")

    @reg.register("standard")
    class Standard:
        def __init__(self, *, with_mean: bool = True, beta: Annotated[float, Interval(0, 1, "left")] = 0.9) -> None:
            pass

    @reg.register("choice", runtime=("num_classes",))
    def choice(*, mode: Literal["a", "b"] = "a", sizes: list[int] = (1,), num_classes: int = 2) -> str:  # type: ignore[assignment]
        return f"{mode}{list(sizes)}{num_classes}"

    @reg.register("needs")
    def needs(*, path: str) -> str:
        return path

    return reg


def test_unknown_name_lists_available_and_suggests_closest() -> None:
    with pytest.raises(ConfigError) as err:
        make_registry().get("standrd", "scaler")
    assert str(err.value) == (
        "scaler.name: unknown widget 'standrd'. Did you mean 'standard'? Available: choice, needs, standard."
    )


def test_registering_reads_no_source(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where a component is defined is looked up only for an error message: ``inspect`` parses
    source files, ~0.5 s over the built-in registry if done at every registration."""
    import inspect

    calls: list[object] = []
    real = inspect.getsourcelines
    monkeypatch.setattr(inspect, "getsourcelines", lambda obj: calls.append(obj) or real(obj))
    reg = make_registry()
    assert calls == []
    assert reg.get("standard").location.endswith(f"test_registry.py:{real(reg.get('standard').obj)[1]})")
    assert len(calls) == 1


def test_duplicate_name_names_both_places() -> None:
    reg = make_registry()
    with pytest.raises(ConfigError, match=r"widget 'standard' is registered twice: first by .*Standard \(.*test_registry.py:\d+\), again by .*Other"):

        @reg.register("standard")
        class Other:
            pass


@pytest.mark.parametrize(
    "cfg, message",
    [
        ({"name": "standard", "with_men": True}, "w.with_men: unknown parameter of widget 'standard'. Did you mean 'with_mean'? Accepted: with_mean, beta."),
        ({"name": "standard", "with_mean": "yes"}, "w.with_mean: got 'yes'; expected a boolean (true or false)."),
        ({"name": "standard", "beta": 1.0}, "w.beta: got 1.0; expected a number in [0, 1)."),
        ({"name": "choice", "mode": "c"}, "w.mode: got 'c'; expected one of 'a', 'b'."),
        ({"name": "choice", "sizes": [1, "x"]}, "w.sizes: got [1, 'x']; expected a list of integers."),
        ({"name": "choice", "num_classes": 3}, "w.num_classes: is set by the runner from the data for widget 'choice'; remove it from the config."),
        ({"name": "needs"}, "w.path: required parameter of widget 'needs' is missing."),
        ({"mode": "a"}, "w: expected a mapping with a 'name' key naming a widget; got {'mode': 'a'}."),
    ],
)
def test_parameter_errors_name_key_value_and_accepted(cfg: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_registry().validate(cfg, "w")
    assert str(err.value) == message


def test_build_passes_runtime_values_only_to_components_that_take_them() -> None:
    reg = make_registry()
    assert reg.build({"name": "choice", "mode": "b", "sizes": [2, 3]}, "w", num_classes=5, unrelated=1) == "b[2, 3]5"


def test_cross_parameter_rule_runs_at_validation() -> None:
    with pytest.raises(ConfigError, match=r"scaler.a / scaler.b: need a < b; got a=1.0, b=0.0."):
        components.get_registry("scaler").validate({"name": "minmax", "a": 1.0, "b": 0.0}, "scaler")


@pytest.mark.parametrize(
    "value, hint, ok",
    [(1, float, True), (True, int, False), (1.5, int, False), (None, int | None, True), ([1, 2], tuple[int, int], True), ([1], tuple[int, int], False)],
)
def test_check_value(value: object, hint: object, ok: bool) -> None:
    assert (check_value(value, hint) is None) is ok


def test_entry_point_plugins_register_components(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """A third-party module advertised under the entry-point group is imported and registers itself."""
    import sys
    from importlib import metadata

    import components.registry as registry

    (tmp_path / "my_plugin.py").write_text(
        "from components.registry import get_registry\n"
        "@get_registry('scaler').register('plugin_scaler')\n"
        "class PluginScaler:\n    pass\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = metadata.EntryPoint(name="mine", value="my_plugin", group=registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: [ep] if group == registry.ENTRY_POINT_GROUP else [])
    monkeypatch.setattr(registry, "_plugins_loaded", False)
    try:
        assert "plugin_scaler" in components.get_registry("scaler").names()
    finally:
        components.get_registry("scaler")._entries.pop("plugin_scaler", None)
        sys.modules.pop("my_plugin", None)
