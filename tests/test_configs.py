"""Every file under conf/ composes and validates; every experiment overlay runs in a fast mode."""
from __future__ import annotations

import functools
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


# Overrides an option needs to compose into a valid job. One that picks another group's option
# (the CNN wants an image dataset) is composed on its own; the others join a shared compose.
NEEDS = {("dataset", "hf"): ["dataset.path=csv"], ("model", "cnn"): ["dataset=digits", "dataset.as_image=true"]}
ALONE = {("model", "cnn")}


def _rounds() -> list[list[tuple[str, str]]]:
    """Round i picks option i of every group that has one: ~14 composes for ~60 files. Option
    files carry no package header, defaults list or cross-group interpolation (checked in the
    test), so each group's node in a round is the node the option composes to alone."""
    by_group: dict[str, list[str]] = {}
    for group, option in GROUP_FILES:
        if (group, option) not in ALONE:
            by_group.setdefault(group, []).append(option)
    depth = max(len(v) for v in by_group.values())
    return [[(g, opts[i]) for g, opts in by_group.items() if i < len(opts)] for i in range(depth)] + [[pick] for pick in sorted(ALONE)]


_COMPOSED: dict[tuple[str, str], dict | Exception] = {}


def composed_alone_or_in_its_round(group: str, option: str) -> dict:
    """The resolved config with ``group=option`` (and what it NEEDS), composed once per round; a
    round that fails to compose is composed again option by option, so only the broken file's
    test fails, with its own error."""
    if (group, option) not in _COMPOSED:
        (round_,) = [r for r in _rounds() if (group, option) in r]
        overrides = [o for g, opt in round_ for o in (f"{g}={opt}", *NEEDS.get((g, opt), []))]
        try:
            plain = to_plain(compose(overrides))
            _COMPOSED.update({pick: plain for pick in round_})
        except Exception:
            for pick in round_:
                try:
                    _COMPOSED[pick] = to_plain(compose([f"{pick[0]}={pick[1]}", *NEEDS.get(pick, [])]))
                except Exception as exc:  # noqa: BLE001  (re-raised by the test of that option)
                    _COMPOSED[pick] = exc
    found = _COMPOSED[(group, option)]
    if isinstance(found, Exception):
        raise found
    return found


@functools.cache
def _default_job() -> dict:
    return to_plain(compose([]))


@pytest.mark.parametrize("group, option", GROUP_FILES, ids=[f"{g}/{o}" for g, o in GROUP_FILES])
def test_every_group_option_composes_and_names_a_registered_component(group: str, option: str) -> None:
    text = (CONF / group / f"{option}.yaml").read_text()
    assert "@package" not in text and "defaults:" not in text, "a header or defaults list: compose it alone (ALONE)"
    plain = composed_alone_or_in_its_round(group, option)
    assert plain[group]["name"] in get_registry(group).names()
    # the default job with this group's node is what composing ``group=option`` alone gives
    validate(plain if (group, option) in ALONE else {**_default_job(), group: plain[group]})


def test_the_suites_config_file_cache_composes_what_hydra_composes() -> None:
    """runner/cli/config_cache.py (installed for the session by conftest, and by -m sweeps) parses each file once: composes through it equal
    Hydra's own, the hydra node included (the second case follows the first's value overrides, so
    a cached object the first compose mutated would show in it)."""
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from omegaconf import OmegaConf

    from runner.cli.configs import CONFIG_DIR
    from runner.cli import config_cache

    def composed(overrides: list[str]) -> dict:
        with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
            cfg = hydra_compose("config", overrides=overrides, return_hydra_config=True)
        return OmegaConf.to_container(cfg, resolve=False)  # type: ignore[return-value]

    # values set on keys of the primary config and of a group file, then a compose without them:
    # Hydra merges the primary config's nodes without copying, so a shared cached object would leak
    cases = [["experiment=scalers", *FAST, "seed=5", "trainer.lr=0.5"], ["model=cnn", "dataset=digits", "dataset.as_image=true", "outlier=iqr"]]
    with config_cache.disabled():
        reference = [composed(c) for c in cases]
    assert [composed(c) for c in cases] == reference


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
