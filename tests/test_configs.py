"""Every file under conf/ composes and validates; every experiment overlay runs in a fast mode."""
from __future__ import annotations

import inspect
from pathlib import Path

import numpy as np
import pytest
import yaml

import components
from components import HOMES, get_registry
from runner.cli.configs import to_plain
from runner.jobs.job import COMPONENT_GROUPS, JobContext, run_job, validate
from tests.conftest import CONF, FAST, compose

components.load_builtin()
GROUP_FILES = sorted((p.parent.name, p.stem) for p in CONF.glob("*/*.yaml") if p.parent.name not in ("experiment", "sweep", "debug"))
EXPERIMENTS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml"))


@pytest.mark.parametrize("group, option", GROUP_FILES, ids=[f"{g}/{o}" for g, o in GROUP_FILES])
def test_every_group_option_composes_and_names_a_registered_component(group: str, option: str) -> None:
    overrides = [f"{group}={option}"]
    if (group, option) == ("dataset", "hf"):
        overrides.append("dataset.path=csv")
    if (group, option) == ("model", "cnn"):
        overrides += ["dataset=digits", "dataset.as_image=true"]
    plain = to_plain(compose(overrides))
    assert plain[group]["name"] in get_registry(group).names()
    validate(plain)


@pytest.mark.parametrize("group", COMPONENT_GROUPS)
def test_every_registered_component_has_a_config_file(group: str) -> None:
    files = {p.stem for p in (CONF / group).glob("*.yaml")}
    names = {yaml.safe_load((CONF / group / f"{f}.yaml").read_text())["name"] for f in files}
    assert set(get_registry(group).names()) <= names


def sweep_arms(experiment: str) -> list[list[str]]:
    """One override list per value of each swept key (the others at their first value)."""
    params = yaml.safe_load((CONF / "sweep" / f"{experiment}.yaml").read_text())["hydra"]["sweeper"]["params"]
    values = {k: str(v).split(",") for k, v in params.items() if k != "seed"}
    first = {k: v[0] for k, v in values.items()}
    arms = []
    for key, options in values.items():
        for option in options:
            arms.append([f"{k}={option if k == key else v}" for k, v in first.items()])
    return arms or [[]]


CASES = [(e, arm) for e in EXPERIMENTS for arm in sweep_arms(e)]


@pytest.mark.slow
@pytest.mark.parametrize("experiment, arm", CASES, ids=[f"{e}:{' '.join(a)}" for e, a in CASES])
def test_every_experiment_arm_runs_fast(experiment: str, arm: list[str], tmp_path: Path) -> None:
    text = (CONF / "experiment" / f"{experiment}.yaml").read_text()
    assert text.startswith("# @package _global_") and f"# the comparison: python -m runner -m experiment={experiment}" in text
    assert "sweeper" not in text and f"override /sweep: {experiment}" in text  # the arms live in conf/sweep/
    fast = [*FAST, "tracking=none", f"paths.outputs={tmp_path}", "cache.enabled=false"]
    if "resampler=deepsmote" in arm:
        fast.append("resampler.epochs=2")
    cfg = compose([f"experiment={experiment}", *arm, *fast])
    assert cfg.experiment_name == experiment
    result = run_job(cfg, JobContext())
    assert 0.0 <= result.metrics["test/macro_f1"] <= 1.0


# A value that differs from the Python default on purpose (a preset, or an interpolation the runner resolves).
DELIBERATE = {
    ("loss", "alpha_focal", "alpha"): "the preset: focal with inverse-frequency alpha",
    ("tracking", "mlflow", "uri"): "${oc.env:MLFLOW_TRACKING_URI,...}: required in Python, resolved from paths.outputs here",
    ("tracking", "mlflow", "experiment"): "${experiment_name}",
    ("tracking", "mlflow", "artifact_root"): "under paths.outputs",
    ("dataset", "hf", "path"): "??? (required: the user names the dataset)",
    ("dataset", "hf", "load_kwargs"): "{} here, None in Python: both mean no extra arguments (kept: the config hash)",
}
FORBIDDEN = {("loss", "class_balanced_focal"): {"alpha"}}  # check_params refuses it
COMPONENT_FILES = [(g, o) for g, o in GROUP_FILES if g in HOMES]


def _plain_default(value: object) -> object:
    return [_plain_default(v) for v in value] if isinstance(value, (list, tuple)) else value


@pytest.mark.parametrize("group, option", COMPONENT_FILES, ids=[f"{g}/{o}" for g, o in COMPONENT_FILES])
def test_yaml_defaults_agree_with_the_signature(group: str, option: str) -> None:
    """One source of truth: the YAML lists every parameter of the component with the Python default.

    The YAML stays (users read it, with its comments, and ``--cfg job`` shows it); this test keeps
    it from drifting: a default changed in Python and not in conf/ (or the reverse) fails here.
    """
    cfg = yaml.safe_load((CONF / group / f"{option}.yaml").read_text())
    entry = get_registry(group).get(cfg["name"])
    spec = entry.signature()
    for key, value in cfg.items():
        if key == "name" or (group, option, key) in DELIBERATE:
            continue
        assert key in spec and key not in entry.runtime, f"conf/{group}/{option}.yaml: {key} is not a parameter of {cfg['name']}"
        default = spec[key][1]
        assert default is not inspect.Parameter.empty, f"conf/{group}/{option}.yaml: {key} is required in Python"
        expected = _plain_default(default)
        assert value == expected and (type(value) is type(expected) or {type(value), type(expected)} <= {int, float}), (
            f"conf/{group}/{option}.yaml: {key} = {value!r}, the signature's default is {expected!r}"
        )
    missing = set(spec) - set(cfg) - set(entry.runtime) - FORBIDDEN.get((group, option), set())
    assert not missing, f"conf/{group}/{option}.yaml does not list {sorted(missing)}"


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_without_m_is_one_run_and_says_how_to_run_the_comparison(experiment: str, caplog) -> None:
    """``experiment=X`` alone composes one job (no sweeper syntax left in it) and logs the -m command."""
    import logging

    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.hydra_config import HydraConfig

    from runner.__main__ import hint_single_arm
    from runner.cli.configs import CONFIG_DIR, register_resolvers

    register_resolvers()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = hydra_compose("config", overrides=[f"experiment={experiment}"], return_hydra_config=True)
    params = yaml.safe_load((CONF / "sweep" / f"{experiment}.yaml").read_text())["hydra"]["sweeper"]["params"]
    assert dict(cfg.hydra.sweeper.params) == {k: str(v) for k, v in params.items()}
    HydraConfig.instance().set_config(cfg)
    with caplog.at_level(logging.INFO, logger="runner"):
        hint_single_arm()
    (line,) = [r.getMessage() for r in caplog.records if "comparison" in r.getMessage()]
    arms = int(np.prod([len(str(v).split(",")) for v in params.values()]))
    assert f"of a {arms}-run comparison" in line and line.endswith(f"python -m runner -m experiment={experiment}")
