"""The frame of a job built from stages: :class:`JobState`, each stage's :class:`Logged` record, the edge.

Why stages: one function used to wire nine registries, compute the importance-weight ESS, tune
thresholds, write confusion CSVs and plots, and call the tracker after every step, so the EDA
and preview commands rebuilt partial jobs by hand (the preview skipped outliers). Now:

* a stage reads and fills :class:`JobState` and records metrics, tags and artifacts in its own
  :class:`Logged`; the tracker is touched at one edge, :func:`run_stages`, which replays each
  stage's record into the run as soon as the stage returns (a failed stage logs nothing);
* every component is built with one runtime context, :meth:`JobState.runtime`; the registry
  passes each component only the runtime arguments it declared;
* ``runner.quality`` (EDA) runs ``load`` and ``data_report``; ``runner.preview`` runs ``load``
  and ``preprocess``: what they show is what the job sees.

The one stream that does not wait for its stage is the per-epoch history: training sends it
through :attr:`JobState.emit`, which the edge wires to the run, so a job killed mid-training
keeps its curves (the tracker flushes them every ``flush_interval_s``).
"""
from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from components import get_registry
from runner.tracker.tracking import Run


class Logged(Run):
    """A stage's record of what to log: the :class:`Run` interface, recorded, replayed by the edge.

    Being a ``Run`` lets any helper that logs (plots, report) write into a stage's record
    unchanged. Files are copied when recorded, so a helper may delete its temporary folder.
    """

    def __init__(self) -> None:
        self.entries: list[tuple[str, Any, Any]] = []
        self._folder: tempfile.TemporaryDirectory[str] | None = None

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        if metrics:
            self.entries.append(("metrics", dict(metrics), step))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        if tags:
            self.entries.append(("tags", {k: str(v) for k, v in tags.items()}, None))

    def log_text(self, text: str, path: str) -> None:
        self.entries.append(("text", text, path))

    def log_file(self, local_path: str, artifact_dir: str | None = None) -> None:
        if self._folder is None:
            self._folder = tempfile.TemporaryDirectory(prefix="dq-stage-")
        keep = Path(self._folder.name) / str(len(self.entries))
        keep.mkdir()
        copied = shutil.copy2(local_path, keep / Path(local_path).name)
        self.entries.append(("file", str(copied), artifact_dir))

    def log_inputs(self, inputs: list[tuple[Any, str]]) -> None:
        self.entries.append(("inputs", list(inputs), None))

    def replay(self, run: Run) -> None:
        """Write the record into ``run`` in the order it was made, then drop copied files."""
        try:
            for kind, value, extra in self.entries:
                if kind == "metrics":
                    run.log_metrics(value, step=extra)
                elif kind == "tags":
                    run.set_tags(value)
                elif kind == "text":
                    run.log_text(value, extra)
                elif kind == "inputs":
                    run.log_inputs(value)
                else:
                    run.log_file(value, extra)
        finally:
            if self._folder is not None:
                self._folder.cleanup()


@dataclass
class JobState:
    """Everything one job knows, filled stage by stage (``None`` until the stage that makes it ran)."""

    plain: Mapping[str, Any]
    seed: int
    device: str = "cpu"
    emit: Callable[[Mapping[str, float], int], None] = lambda metrics, step: None
    settings: Any = None  # TrainerSettings
    data: Any = None  # runner.tables.data.PreparedData
    quality_settings: Any = None
    quality: dict[str, Any] | None = None
    drift: dict[str, Any] | None = None
    pre: Any = None  # runner.tables.pipeline.Preprocessor, fitted
    X_train: np.ndarray | None = None
    y_train: np.ndarray | None = None
    before: np.ndarray | None = None  # training class counts as split
    after: np.ndarray | None = None  # ... as fed to the model (resampled)
    X_val: np.ndarray | None = None
    X_test: np.ndarray | None = None
    weights: np.ndarray | None = None  # importance weights of the training rows
    val_weights: np.ndarray | None = None
    model: Any = None
    augment: Any = None
    history: Any = None
    probas: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    rule: Any = None  # runner.fitting.threshold.DecisionRule when tuned
    preprocessing: dict[str, float] = field(default_factory=dict)  # what the outlier/scaler/.../resampler steps report
    final: dict[str, float] = field(default_factory=dict)  # train/, val/, test/, decision: logged after the epochs
    started: float = field(default_factory=time.perf_counter)

    @property
    def results(self) -> dict[str, float]:
        """What the job returns (and sweeps, tune and compare read)."""
        return {**self.preprocessing, **self.final}

    def runtime(self) -> dict[str, Any]:
        """The one runtime context every component is built with; the registry hands each
        component only the arguments it declared (``register(name, runtime=...)``)."""
        data = self.data
        out: dict[str, Any] = {"seed": self.seed, "device": self.device}
        if data is not None:
            out.update(class_names=data.class_names, num_classes=data.num_classes, image_shape=data.image_shape)
            out["categorical_features"] = data.encoder.roles_.categorical_features
        if self.before is not None:
            out["original_counts"] = self.before
        if self.after is not None:
            out["class_counts"] = self.after
        if self.X_train is not None:
            out["in_features"] = self.X_train.shape[1]
            X = self.X_train
            out["value_range"] = (float(X.min()), float(X.max())) if len(X) else (0.0, 1.0)
        return out

    def build(self, group: str) -> Any:
        """Build the component the config picked for ``group`` with the runtime context."""
        return get_registry(group).build(self.plain[group], group, **self.runtime())


Stage = Callable[[JobState, Logged], None]


def run_stages(state: JobState, stages: Iterable[Stage], run: Run) -> JobState:
    """The edge: run each stage, then replay what it recorded into ``run``."""
    for stage in stages:
        logged = Logged()
        stage(state, logged)
        logged.replay(run)
    return state
