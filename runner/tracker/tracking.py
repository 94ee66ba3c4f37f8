"""Experiment tracking: MLflow through ``MlflowClient`` (no global active-run state), or nothing.

One MLflow run per job; a sweep's jobs are children of one parent run (``mlflow.parentRunId``).
This module is the only place that writes to MLflow, so it owns what must hold for every write:

* keys go through one policy (:mod:`components.keys`): any class/column name becomes a valid,
  unique key, and a key the server still rejects costs only itself, never the batch;
* secrets are redacted (:mod:`runner.tracker.redaction`) from params, tags and text artifacts;
* metrics are buffered and flushed in batches, but at least every ``flush_interval_s`` seconds,
  so a job killed mid-training keeps its per-epoch history;
* runs record their host and pid, so a later ``resume`` can tell a dead run (``kill -9``) from
  a live one and close it KILLED with a reason.

Opening the store (:mod:`runner.tracker.store`) turns a bad URI, an unwritable folder or an unreachable
server into one :class:`~runner.tracker.store.TrackingError` line.
"""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Mapping
from typing import Annotated, Any

from components.keys import KeyMap
from components.registry import Interval, get_registry
from runner.tracker.redaction import redact
from runner.tracker.store import StoreMixin, TrackingError, translate

TRACKERS = get_registry("tracking")
MAX_PARAM_CHARS = 6000  # MLflow's limit for one param value (older servers: 500)
log = logging.getLogger("runner")
__all__ = ["Run", "Tracker", "MlflowRun", "MlflowTracker", "TrackingError", "build_tracker", "TRACKERS"]


class Run:
    """A tracked job; the null tracker's runs accept and drop everything."""

    run_id: str = ""
    experiment_id: str = ""

    def log_params(self, params: Mapping[str, Any]) -> None: ...
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None: ...
    def set_tags(self, tags: Mapping[str, Any]) -> None: ...
    def log_text(self, text: str, path: str) -> None: ...
    def log_file(self, local_path: str, artifact_dir: str | None = None) -> None: ...
    def log_inputs(self, inputs: list[tuple[Any, str]]) -> None: ...
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
    """One MLflow run: keys mapped, values redacted, metrics flushed by size or by time."""

    def __init__(
        self, client: Any, run_id: str, experiment_id: str, flush_every: int = 1000, flush_interval_s: float = 5.0,
        uri: str = "",
    ) -> None:
        self.client = client
        self.uri = uri
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.flush_every = flush_every
        self.flush_interval_s = flush_interval_s
        self.keys = KeyMap()
        self.rejected: dict[str, str] = {}
        self._pending: list[Any] = []
        self._last_flush = time.monotonic()
        self._map_logged = 0
        self.system_monitor: Any = None

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        values = {self.keys(k): redact(v) for k, v in params.items()}
        long_values = {k: v for k, v in values.items() if len(v) > MAX_PARAM_CHARS}
        items = [Param(k, v) for k, v in values.items() if k not in long_values]
        with translate(self.uri, "logging params"):
            for i in range(0, len(items), 100):
                self._batch(params=items[i : i + 100])
        if long_values:
            self.log_text(json.dumps(long_values, indent=1), "config/long_params.json")

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._pending += [Metric(self.keys(k), float(v), now, step or 0) for k, v in metrics.items()]
        if len(self._pending) >= self.flush_every or time.monotonic() - self._last_flush >= self.flush_interval_s:
            self.flush()

    def flush(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[:1000], self._pending[1000:]
            with translate(self.uri, "logging metrics"):
                self._batch(metrics=batch)
        self._last_flush = time.monotonic()
        if len(self.keys.renamed) + len(self.rejected) > self._map_logged:
            self._log_key_map()

    def _batch(self, **items: list[Any]) -> None:
        """``log_batch``; if the server refuses it, retry key by key so one bad key costs only itself."""
        from mlflow.exceptions import MlflowException

        try:
            self.client.log_batch(self.run_id, synchronous=True, **items)
            return
        except MlflowException as exc:
            if exc.error_code != "INVALID_PARAMETER_VALUE":
                raise
        kind, entries = next(iter(items.items()))
        groups: dict[str, list[Any]] = {}
        for entry in entries:
            groups.setdefault(entry.key, []).append(entry)
        for key, group in groups.items():
            try:
                self.client.log_batch(self.run_id, synchronous=True, **{kind: group})
            except MlflowException as exc:
                self.rejected[key] = str(exc.message).splitlines()[0][:300]
                log.warning("tracking: MLflow refused %s key %r (%s); the other keys are kept", kind, key, self.rejected[key])

    def _log_key_map(self) -> None:
        doc = {"renamed": self.keys.renamed, "rejected": self.rejected}
        with translate(self.uri, "writing tracking/key_map.json"):
            self.client.log_text(self.run_id, json.dumps(doc, indent=1, ensure_ascii=False, sort_keys=True), "tracking/key_map.json")
        self._map_logged = len(self.keys.renamed) + len(self.rejected)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        from mlflow.entities import RunTag

        items = [RunTag(self.keys(k), redact(v)[:5000]) for k, v in tags.items()]
        with translate(self.uri, "setting tags"):
            for i in range(0, len(items), 100):
                self._batch(tags=items[i : i + 100])

    def log_text(self, text: str, path: str) -> None:
        with translate(self.uri, f"writing artifact {path}"):
            self.client.log_text(self.run_id, redact(text), path)

    def log_file(self, local_path: str, artifact_dir: str | None = None) -> None:
        with translate(self.uri, f"writing artifact {local_path}"):
            self.client.log_artifact(self.run_id, local_path, artifact_dir)

    def log_inputs(self, inputs: list[tuple[Any, str]]) -> None:
        """``mlflow.log_input`` for each (MLflow dataset, context) pair, through the client."""
        from mlflow.entities import DatasetInput, InputTag
        from mlflow.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

        entities = [DatasetInput(ds._to_mlflow_entity(), [InputTag(MLFLOW_DATASET_CONTEXT, context)]) for ds, context in inputs]
        with translate(self.uri, "logging dataset inputs"):
            self.client.log_inputs(self.run_id, datasets=entities)

    def finish(self, status: str = "FINISHED") -> None:
        try:
            if self.system_monitor is not None:
                self.system_monitor.finish()  # its last sample lands before the run is closed
            self.flush()
        finally:
            with translate(self.uri, f"closing run {self.run_id}"):
                self.client.set_terminated(self.run_id, status=status)


@TRACKERS.register("mlflow")
class MlflowTracker(StoreMixin, Tracker):
    """MLflow at ``uri`` (default: SQLite under outputs/), runs in ``experiment``.

    Besides starting runs it is the one interface the commands use to read and close runs
    (``get_run``, ``search``, ``terminate``, ``experiments``, ``download``), so sweeps, compare,
    rerun and tune share the key policy, the redaction and the store error messages.
    """

    enabled = True

    def __init__(
        self, *, uri: str, experiment: str = "default", artifact_root: str | None = None, flush_interval_s: float = 5.0,
        log_model: bool = True,
        system_metrics: bool = False, system_metrics_interval_s: Annotated[float, Interval(0, None, "neither")] = 10.0,
    ) -> None:
        if system_metrics:
            _check_psutil()
        self.system_metrics = system_metrics
        self.system_metrics_interval_s = float(system_metrics_interval_s)
        self.uri = uri
        self.experiment = experiment
        self.artifact_root = artifact_root
        self.flush_interval_s = float(flush_interval_s)
        self.log_model = log_model  # a parameter so the registry validates tracking.log_model; the export_model stage reads the config
        self._client: Any = None
        self._experiment_id: str | None = None
        self.description = f"MLflow at {redact(uri)}, experiment '{experiment}'"

    def start_run(self, name: str, tags: Mapping[str, Any], parent_run_id: str | None = None) -> MlflowRun:
        all_tags = {str(k): redact(v)[:5000] for k, v in tags.items()}
        all_tags.update({"host": socket.gethostname(), "pid": str(os.getpid())})
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        name = redact(name)
        if len(name) > 200:  # PostgreSQL stores run names as VARCHAR(250); the full overrides are a tag
            name = name[:197] + "..."
        with translate(self.uri, "creating a run"):
            run = self.client.create_run(self.experiment_id(), tags=all_tags, run_name=name)
        out = MlflowRun(self.client, run.info.run_id, self.experiment_id(), flush_interval_s=self.flush_interval_s, uri=self.uri)
        if self.system_metrics:
            from mlflow.system_metrics.system_metrics_monitor import SystemMetricsMonitor

            out.system_monitor = SystemMetricsMonitor(out.run_id, sampling_interval=self.system_metrics_interval_s, tracking_uri=self.uri)
            out.system_monitor.start()  # a thread sampling CPU, memory, disk, network (GPU when present) as system/*
        return out

    def ui_hint(self) -> str:
        return f"mlflow ui --backend-store-uri {redact(self.uri)}"

    def finished_run(self, config_hash: str) -> Any:
        """The latest FINISHED run of this experiment with ``config_hash``, if any (for resume)."""
        found = self.search([self.experiment_id()], tags={"config_hash": config_hash}, status="FINISHED", max_results=1)
        return found[0] if found else None

    def close_zombies(self, **tags: str) -> list[str]:
        """Close RUNNING runs with these tags (a job's ``config_hash``, or ``sweep="parent"``) whose
        process is gone (``kill -9``, a crashed host process): KILLED, with the reason in the
        ``error`` tag. Returns their ids."""
        closed = []
        for run in self.search([self.experiment_id()], tags=tags, status="RUNNING"):
            if is_dead(run):
                self.terminate(run.info.run_id, "KILLED", f"closed by resume: process {run.data.tags.get('pid')} "
                               f"on {run.data.tags.get('host')} is gone (killed)")  # fmt: skip
                closed.append(run.info.run_id)
        return closed


def is_dead(run: Any) -> bool:
    """A RUNNING run whose recorded process no longer exists on this host (unknowable elsewhere)."""
    tags = run.data.tags
    if run.info.status != "RUNNING" or tags.get("host") != socket.gethostname() or not str(tags.get("pid", "")).isdigit():
        return False
    pid = int(tags["pid"])
    if pid == os.getpid():
        return False
    if not pid_alive(pid):
        return True
    return _started_after(pid, run.info.start_time or 0)  # the pid was reused by a newer process


def pid_alive(pid: Any) -> bool:
    """Whether process ``pid`` exists on this host (one owned by another user counts as alive)."""
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError, TypeError):
        return False
    except PermissionError:
        return True
    return True


def _started_after(pid: int, start_ms: int) -> bool:
    """True when process ``pid`` started after the run did (Linux /proc; False when unknowable)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        with open("/proc/stat") as handle:
            boot = next(int(line.split()[1]) for line in handle if line.startswith("btime"))
        started_s = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return False
    return started_s * 1000 > start_ms + 2000


def _check_psutil() -> None:
    """MLflow's system metrics read the machine through psutil (a dependency of the runner)."""
    try:
        import psutil  # noqa: F401
    except ImportError:
        from components.errors import ConfigError

        raise ConfigError("tracking.system_metrics: true needs psutil (pip install psutil); or set it to false.") from None


def build_tracker(cfg: Mapping[str, Any]) -> Tracker:
    return TRACKERS.build(cfg, "tracking")
