"""Experiment tracking: MLflow through ``MlflowClient`` (no global active-run state), or nothing.

One MLflow run per job; a sweep's jobs are children of one parent run (``mlflow.parentRunId``).
Params, metrics and tags go in ``log_batch`` calls within MLflow's per-call limits; per-epoch
metrics are buffered and flushed in batches, not one HTTP/SQL round trip per value.
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from components.registry import get_registry

TRACKERS = get_registry("tracking")
MAX_PARAM_CHARS = 6000  # MLflow's limit for one param value (older servers: 500)


class Run:
    """A tracked job; the null tracker's runs accept and drop everything."""

    run_id: str = ""
    experiment_id: str = ""

    def log_params(self, params: Mapping[str, Any]) -> None: ...
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None: ...
    def set_tags(self, tags: Mapping[str, Any]) -> None: ...
    def log_text(self, text: str, path: str) -> None: ...
    def log_file(self, local_path: str, artifact_dir: str | None = None) -> None: ...
    def flush(self) -> None: ...
    def finish(self, status: str = "FINISHED") -> None: ...


class Tracker:
    enabled = False
    description = "tracking off"

    def start_run(self, name: str, tags: Mapping[str, Any], parent_run_id: str | None = None) -> Run:
        return Run()

    def ui_hint(self) -> str:
        return ""


@TRACKERS.register("none")
class NoTracking(Tracker):
    """``tracking=none``: nothing is written anywhere."""


class MlflowRun(Run):
    def __init__(self, client: Any, run_id: str, experiment_id: str, flush_every: int = 1000) -> None:
        self.client = client
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.flush_every = flush_every
        self._pending: list[Any] = []

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        long_values = {k: v for k, v in params.items() if len(str(v)) > MAX_PARAM_CHARS}
        items = [Param(k, str(v)) for k, v in params.items() if k not in long_values]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[i : i + 100], synchronous=True)
        if long_values:
            self.log_text(json.dumps({k: str(v) for k, v in long_values.items()}, indent=1), "config/long_params.json")

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._pending += [Metric(k, float(v), now, step or 0) for k, v in metrics.items()]
        if len(self._pending) >= self.flush_every:
            self.flush()

    def flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:1000], self._pending[1000:]
            self.client.log_batch(self.run_id, metrics=batch, synchronous=True)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(k, str(v)[:5000]) for k, v in tags.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.run_id, tags=items[i : i + 100], synchronous=True)

    def log_text(self, text: str, path: str) -> None:
        self.client.log_text(self.run_id, text, path)

    def log_file(self, local_path: str, artifact_dir: str | None = None) -> None:
        self.client.log_artifact(self.run_id, local_path, artifact_dir)

    def finish(self, status: str = "FINISHED") -> None:
        try:
            self.flush()
        finally:
            self.client.set_terminated(self.run_id, status=status)


@TRACKERS.register("mlflow")
class MlflowTracker(Tracker):
    """MLflow at ``uri`` (default: SQLite under outputs/), runs in ``experiment``."""

    enabled = True

    def __init__(self, *, uri: str, experiment: str = "default", artifact_root: str | None = None) -> None:
        self.uri = uri
        self.experiment = experiment
        self.artifact_root = artifact_root
        self._client: Any = None
        self._experiment_id: str | None = None
        self.description = f"MLflow at {uri}, experiment '{experiment}'"

    @property
    def client(self) -> Any:
        if self._client is None:
            from mlflow import MlflowClient

            if self.uri.startswith("sqlite:///"):
                Path(self.uri[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
            self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    def experiment_id(self) -> str:
        """Get or create the experiment (tolerating a parallel worker creating it first)."""
        if self._experiment_id is None:
            from mlflow.exceptions import MlflowException

            found = self.client.get_experiment_by_name(self.experiment)
            if found is None:
                location = Path(self.artifact_root, self.experiment).as_uri() if self.artifact_root else None
                try:
                    self._experiment_id = self.client.create_experiment(self.experiment, artifact_location=location)
                except MlflowException:
                    found = self.client.get_experiment_by_name(self.experiment)
                    if found is None:
                        raise
            if self._experiment_id is None:
                if found.lifecycle_stage == "deleted":
                    self.client.restore_experiment(found.experiment_id)
                self._experiment_id = found.experiment_id
            self._enable_wal()
        return self._experiment_id

    def _enable_wal(self) -> None:
        """SQLite in write-ahead-log mode: parallel jobs (hydra/launcher=joblib) read while one
        writes instead of failing with "database is locked". The mode persists in the file."""
        if not self.uri.startswith("sqlite:///"):
            return
        import sqlite3

        con = sqlite3.connect(self.uri[len("sqlite:///") :], timeout=30)
        try:
            con.execute("PRAGMA journal_mode=WAL")
        finally:
            con.close()

    def start_run(self, name: str, tags: Mapping[str, Any], parent_run_id: str | None = None) -> MlflowRun:
        all_tags = {str(k): str(v)[:5000] for k, v in tags.items()}
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        if len(name) > 200:  # PostgreSQL stores run names as VARCHAR(250); the full overrides are a tag
            name = name[:197] + "..."
        run = self.client.create_run(self.experiment_id(), tags=all_tags, run_name=name)
        return MlflowRun(self.client, run.info.run_id, self.experiment_id())

    def ui_hint(self) -> str:
        return f"mlflow ui --backend-store-uri {self.uri}"

    def finished_run(self, config_hash: str) -> Any:
        """The latest FINISHED run of this experiment with ``config_hash``, if any (for resume)."""
        found = self.client.search_runs(
            [self.experiment_id()],
            filter_string=f"tags.config_hash = '{config_hash}' and attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        return found[0] if found else None


def build_tracker(cfg: Mapping[str, Any]) -> Tracker:
    return TRACKERS.build(cfg, "tracking")
