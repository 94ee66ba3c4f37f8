"""Every file under conf/ composes and validates; every experiment overlay runs in a fast mode."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import components
from components import get_registry
from runner.configs import to_plain
from runner.job import COMPONENT_GROUPS, JobContext, run_job, validate
from tests.conftest import CONF, FAST, compose

components.load_builtin()
GROUP_FILES = sorted((p.parent.name, p.stem) for p in CONF.glob("*/*.yaml") if p.parent.name != "experiment")
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
    params = yaml.safe_load((CONF / "experiment" / f"{experiment}.yaml").read_text())["hydra"]["sweeper"]["params"]
    values = {k: str(v).split(",") for k, v in params.items() if k != "seed"}
    first = {k: v[0] for k, v in values.items()}
    arms = []
    for key, options in values.items():
        for option in options:
            arms.append([f"{k}={option if k == key else v}" for k, v in first.items()])
    return arms or [[]]


CASES = [(e, arm) for e in EXPERIMENTS for arm in sweep_arms(e)]


@pytest.mark.parametrize("experiment, arm", CASES, ids=[f"{e}:{' '.join(a)}" for e, a in CASES])
def test_every_experiment_arm_runs_fast(experiment: str, arm: list[str], tmp_path: Path) -> None:
    text = (CONF / "experiment" / f"{experiment}.yaml").read_text()
    assert text.startswith("# @package _global_") and f"# to run: python -m runner -m experiment={experiment}" in text
    fast = [*FAST, "tracking=none", f"paths.outputs={tmp_path}", "cache.enabled=false"]
    if "resampler=deepsmote" in arm:
        fast.append("resampler.epochs=2")
    cfg = compose([f"experiment={experiment}", *arm, *fast])
    assert cfg.experiment_name == experiment
    result = run_job(cfg, JobContext())
    assert 0.0 <= result.metrics["test/macro_f1"] <= 1.0
