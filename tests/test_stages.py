"""A job built from stages: the layering, one runtime context, logging at one edge, commands reusing stages."""
from __future__ import annotations

import ast
import copy
import functools
from pathlib import Path
from typing import Any

import pytest

import components
from components import get_registry
from runner.cli.configs import to_plain
from runner.jobs.stages import EDA_STAGES, JOB_STAGES, PREVIEW_STAGES
from runner.jobs.state import JobState, Logged, run_stages
from runner.tracker.tracking import Run
from tests.conftest import CHEAP_DRIFT, FAST, IGNORE_COST_WARNING, ROOT, compose

pytestmark = IGNORE_COST_WARNING
GROUPS = ("outlier", "scaler", "reducer", "resampler", "importance", "model", "loss", "augment")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):  # module level and inside functions alike
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", sorted((ROOT / "components").glob("*.py")), ids=lambda p: p.name)
def test_components_never_import_runner(path: Path) -> None:
    assert not {m for m in _imports(path) if m == "runner" or m.startswith("runner.")}


class Recorder(Run):
    """A run that remembers what reached it, in order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def log_metrics(self, metrics: Any, step: int | None = None) -> None:
        self.calls.append(("metrics", dict(metrics)))

    def set_tags(self, tags: Any) -> None:
        self.calls.append(("tags", dict(tags)))

    def log_text(self, text: str, path: str) -> None:
        self.calls.append(("text", path))

    def log_file(self, local_path: str, artifact_dir: str | None = None) -> None:
        self.calls.append(("file", Path(local_path).read_bytes()))

    def keys(self) -> set[str]:
        return {k for kind, v in self.calls if kind == "metrics" for k in v}


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The jobs' overrides: their outputs (the report cache) in a folder of this module, not in
    the checkout's outputs/, where an entry of an earlier session would answer for this one; the
    drift report's cheap classifier (CHEAP_DRIFT: which one ran is not what these tests check)."""
    return [*FAST, "tracking=none", f"paths.outputs={tmp_path_factory.mktemp('stages')}", CHEAP_DRIFT]


@functools.cache
def _plain(*overrides: str) -> dict[str, Any]:
    return to_plain(compose(list(overrides)))


def _state(base: list[str], *overrides: str) -> JobState:
    """A job's state before its first stage; the config composed once per set of overrides."""
    components.load_builtin()
    plain = copy.deepcopy(_plain(*base, *overrides))
    return JobState(plain, int(plain["seed"]))


def test_every_runtime_argument_a_component_declares_is_in_the_one_context(base: list[str]) -> None:
    components.load_builtin()
    state = run_stages(_state(base), JOB_STAGES[:4], Run())  # setup, load, data_report, preprocess
    offered = set(state.runtime())
    for group in GROUPS:
        registry = get_registry(group)
        for name in registry.names():
            missing = set(registry.get(name).runtime) - offered
            assert not missing, f"{group}={name} declares runtime {missing} that JobState.runtime() never fills"


def test_a_failing_stage_logs_nothing_and_earlier_stages_are_logged(base: list[str]) -> None:
    def explode(state: JobState, logged: Logged) -> None:
        logged.log_metrics({"never/logged": 1.0})
        raise RuntimeError("boom")

    run = Recorder()
    with pytest.raises(RuntimeError, match="boom"):
        run_stages(_state(base), (*JOB_STAGES[:4], explode), run)
    keys = run.keys()
    assert "data/train_count/minority" in keys and "data/train_count_resampled/minority" in keys
    assert "never/logged" not in keys


def test_logged_keeps_files_whose_folder_is_gone_and_replays_in_order(tmp_path: Path) -> None:
    logged = Logged()
    src = tmp_path / "plot.png"
    src.write_bytes(b"png-bytes")
    logged.log_metrics({"a": 1.0})
    logged.log_file(str(src), "plots")
    src.unlink()  # a helper's temporary folder is cleaned before the edge replays
    logged.set_tags({"t": 1})
    run = Recorder()
    logged.replay(run)
    assert run.calls == [("metrics", {"a": 1.0}), ("file", b"png-bytes"), ("tags", {"t": "1"})]


def test_the_job_returns_preprocessing_and_final_metrics_and_logs_the_data_report(base: list[str]) -> None:
    run = Recorder()
    state = JobState(_state(base).plain, 0, emit=lambda m, s: run.log_metrics(m, step=s))
    state = run_stages(state, JOB_STAGES, run)
    assert {"test/roc_auc", "val/macro_f1", "train/best_epoch", "time/job_s"} <= set(state.results)
    assert not any(k.startswith(("quality/", "drift/", "data/train_count")) for k in state.results)
    assert "quality/imbalance_ratio" in run.keys() and "train/loss" in run.keys()  # per-epoch rows went through emit


def test_preview_shows_the_rows_the_job_trains_on(base: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from runner import preview
    from runner.reporting import plots

    seen: dict[str, Any] = {}

    def grid(augment: Any, X: Any, y: Any, *args: Any, **kwargs: Any) -> Path:
        seen["X"] = X
        return tmp_path / "grid.png"

    monkeypatch.setattr(plots, "augment_grid", grid)
    overrides = ["dataset=digits", "dataset.as_image=true", "model=cnn", "outlier=zscore", "outlier.threshold=2.0", "outlier.action=drop"]
    preview.preview(compose([*base, *overrides]), tmp_path / "grid.png")
    job = run_stages(_state(base, *overrides, "scaler=none"), JOB_STAGES[:4], Run())  # the preview leaves the scaler out (issue 12)
    assert len(job.X_train) < len(job.data.train.X)  # the outlier step removed rows ...
    assert seen["X"].shape == job.X_train.shape and (seen["X"] == job.X_train).all()  # ... and the preview shows them
    assert seen["X"].min() == 0 and seen["X"].max() == 16  # in the raw pixel range


def test_eda_reports_what_the_job_logs(base: list[str], tmp_path: Path) -> None:
    from runner.quality import eda

    overrides = ["dataset=breast_cancer", "seed=3"]
    quality, drift, _ = eda(compose([*base, *overrides]), tmp_path)
    run = Recorder()
    run_stages(_state(base, *overrides), JOB_STAGES[:3], run)
    logged = {k: v for kind, m in run.calls if kind == "metrics" for k, v in m.items()}
    assert drift["domain_auc"] == logged["drift/domain_auc"] and quality["imbalance_ratio"] == logged["quality/imbalance_ratio"]
