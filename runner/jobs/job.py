"""One job, start to end: validate, open the run, run the stages (:mod:`runner.jobs.stages`), close the run.

Every component config is validated against the registry before any data is read, so a typo
costs milliseconds, and before the tracked run is opened, so a typo leaves no run behind. What
fails after validation (data, training, the store) is recorded FAILED with its traceback.
"""
from __future__ import annotations

import json
import logging
import os
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import components
from components import get_registry
from components.errors import ConfigError
from runner.jobs import provenance
from runner.cli.configs import config_hash, flatten, to_plain
from runner.tables.data import check_split
from runner.fitting.evaluation import below_chance, check_evaluation
from runner.tables.memory import check_data
from runner.cli.signals import signal_name
from runner.jobs.stages import JOB_STAGES
from runner.jobs.state import JobState, run_stages
from runner.tracker.store import check_experiment_name, check_uri
from runner.tracker.tracking import Run, Tracker, build_tracker

log = logging.getLogger("runner")
COMPONENT_GROUPS = (
    "dataset", "outlier", "scaler", "reducer", "resampler", "augment", "model", "loss", "trainer", "tracking", "quality", "importance",
)  # fmt: skip
HEADLINE = ("test/macro_f1", "test/roc_auc", "test/balanced_accuracy", "test/accuracy")


@dataclass
class JobContext:
    """Where a job runs: Hydra's mode, output folder, overrides and sweep bookkeeping."""

    output_dir: Path | None = None
    overrides: list[str] = field(default_factory=list)
    multirun: bool = False
    sweep_dir: Path | None = None
    parent: dict[str, str] | None = None  # {parent_run_id, sweep_id} for sweeps driven in-process (tune)
    workers: int | None = None  # parallel jobs on this machine (joblib launcher), to share the cores

    @classmethod
    def from_hydra(cls) -> JobContext:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if not HydraConfig.initialized():
            return cls()
        hc = HydraConfig.get()
        multirun = hc.mode == RunMode.MULTIRUN
        workers = None
        if multirun and "joblib" in str(hc.launcher.get("_target_", "")).lower():
            n_jobs = int(hc.launcher.get("n_jobs") or 1)
            workers = (os.cpu_count() or 1) if n_jobs < 0 else n_jobs
        return cls(
            output_dir=Path(hc.runtime.output_dir),
            overrides=list(hc.overrides.task),
            multirun=multirun,
            sweep_dir=Path(hc.sweep.dir) if multirun else None,
            workers=workers,
        )

    @property
    def run_name(self) -> str:
        return ",".join(self.overrides) or "default"


@dataclass
class JobResult:
    run_id: str
    metrics: dict[str, float]
    tracker: Tracker
    skipped: bool = False

    def summary(self) -> str:
        shown = "  ".join(f"{k}={self.metrics[k]:.4f}" for k in HEADLINE if k in self.metrics)
        lines = [shown] if not self.skipped else [f"skipped (resume): already FINISHED as run {self.run_id}", shown]
        if self.tracker.enabled:
            lines.append(f"MLflow run {self.run_id} ({self.tracker.description})")
            lines.append(f"Open the UI: {self.tracker.ui_hint()}")
        return "\n".join(lines)


def validate(plain: Mapping[str, Any]) -> None:
    """Check every component name and parameter, and the plain keys, before any work."""
    for group in COMPONENT_GROUPS:
        if group not in plain:
            raise ConfigError(f"{group}: missing config group; pick one with {group}=<name>.")
        get_registry(group).validate(plain[group], group)
    check_split(plain.get("split", {}))
    check_evaluation(plain.get("evaluation"))
    check_data(plain.get("data"))
    for flag in ("resume", "progress"):
        if not isinstance(plain.get(flag, False), bool):
            raise ConfigError(f"{flag}: got {plain[flag]!r}; expected a boolean (true or false).")
    tune = (plain.get("decision") or {}).get("tune_threshold", False)
    if not isinstance(tune, bool):
        raise ConfigError(f"decision.tune_threshold: got {tune!r}; expected a boolean (true or false).")
    seed = plain.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed: got {seed!r}; expected a non-negative integer.")
    check_experiment_name(plain.get("experiment_name", "default"))
    if (plain.get("tracking") or {}).get("name") == "mlflow":
        check_uri(str(plain["tracking"].get("uri", "")))


def run_job(cfg: Any, context: JobContext | None = None, extra_tags: dict[str, str] | None = None) -> JobResult:
    """Run one job from a composed config; the run is recorded FAILED if anything raises.

    With ``resume: true`` a job whose config hash already has a FINISHED run in the experiment
    is skipped (its metrics are returned); FAILED ones run again.
    """
    components.load_builtin()
    ctx = context or JobContext.from_hydra()
    if ctx.workers and ctx.workers > 1:  # N worker processes x default threads would oversubscribe
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // ctx.workers))
    plain = to_plain(cfg)
    validate(plain)  # before any run is opened: a typo leaves nothing in the store
    tracker = build_tracker(plain.get("tracking", {"name": "none"}))
    chash = config_hash(plain)
    if plain.get("resume") and tracker.enabled:
        done = tracker.finished_run(chash)  # type: ignore[attr-defined]
        if done is not None:
            log.info("resume: skipping %s, FINISHED as run %s", ctx.run_name, done.info.run_id)
            return JobResult(done.info.run_id, dict(done.data.metrics), tracker, skipped=True)
        for zombie in tracker.close_zombies(config_hash=chash):  # type: ignore[attr-defined]
            log.warning("resume: closed run %s (RUNNING, its process is gone) as KILLED", zombie)
    parent = _parent_run(ctx)
    tags = {"config_hash": chash, **provenance.tags(), **(extra_tags or {})}
    if parent:
        tags["sweep_id"] = parent["sweep_id"]
    if ctx.overrides:
        tags["overrides"] = " ".join(ctx.overrides)
    run = tracker.start_run(ctx.run_name, tags, parent_run_id=parent["parent_run_id"] if parent else None)
    try:
        run.log_params(dict(flatten(plain)))
        run.log_text(yaml.safe_dump(plain, sort_keys=False), "config/resolved.yaml")
        run.log_text(yaml.safe_dump(ctx.overrides), "config/overrides.yaml")
        metrics = execute(plain, run)
        for line in below_chance(metrics):  # never a worse-than-chance model without a word
            log.warning(line)
            run.set_tags({"warning.below_chance": line})
        run.finish("FINISHED")
    except BaseException as exc:
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        try:
            exc.mlflow_run_id = run.run_id  # type: ignore[attr-defined]  # for the sweep's failure list
        except AttributeError:
            pass
        try:
            interrupted = isinstance(exc, KeyboardInterrupt)
            run.set_tags({"error": f"interrupted by {signal_name(exc)}" if interrupted else f"{type(exc).__name__}: {exc}"})
            run.log_text(traceback.format_exc(), "error/traceback.txt")
        finally:
            run.finish(status)
        raise
    return JobResult(run.run_id, metrics, tracker)


def _parent_run(ctx: JobContext) -> dict[str, str] | None:
    if ctx.parent is not None:
        return ctx.parent
    if ctx.sweep_dir is None:
        return None
    path = ctx.sweep_dir / "sweep.json"
    return json.loads(path.read_text()) if path.exists() else None


def execute(plain: Mapping[str, Any], run: Run) -> dict[str, float]:
    """Run :data:`~runner.jobs.stages.JOB_STAGES` (``plain`` already validated), logging each stage's
    record into ``run`` as it ends; returns the preprocessing and final val/test metrics."""
    state = JobState(plain, int(plain["seed"]), emit=lambda metrics, step: run.log_metrics(metrics, step=step))
    return run_stages(state, JOB_STAGES, run).results
