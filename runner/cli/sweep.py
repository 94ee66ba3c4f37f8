"""Hydra callback for ``-m`` sweeps: one parent MLflow run, failure isolation, a final report.

On multirun start it opens the sweep's parent run and writes ``sweep.json`` into the sweep
folder, which is unique per invocation (``${sweep_uid:}`` in ``hydra.sweep.dir``); each job (in
this process or in a launcher's worker) reads it to attach itself as a child. A parent run that
cannot be created stops the sweep with one line and exit 1 (before any job runs). A job that
raises is recorded FAILED and leaves ``failure.json`` in its folder while the sweep carries on;
at the end the failures are listed and the process exits non-zero. Ctrl-C / SIGTERM end the
parent KILLED with its summary (:func:`abort_active`); the CLI then exits 130 / 143.
"""
from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from runner.cli.configs import sweep_uid
from runner.tracker.redaction import redact, redact_hydra_outputs
from runner.tracker.tracking import TrackingError, build_tracker, pid_alive

log = logging.getLogger("runner")
FAILURE_FILE = "failure.json"
_ACTIVE: dict[str, Any] = {}  # the sweep this process drives: {"config", "record", "dir"}


def _tracking_cfg(config: DictConfig) -> dict[str, Any]:
    node = OmegaConf.select(config, "tracking", default=None)
    return OmegaConf.to_container(node, resolve=True) if node is not None else {"name": "none"}  # type: ignore[return-value]


def write_failure(output_dir: Path, overrides: list[str], exc: BaseException, run_id: str | None) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    record = {"overrides": [redact(o) for o in overrides], "error": redact(f"{type(exc).__name__}: {exc}"), "run_id": run_id}
    (output_dir / FAILURE_FILE).write_text(json.dumps(record, indent=1))


def read_failures(sweep_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(sweep_dir.glob(f"*/{FAILURE_FILE}"))]


def probe_writable(folder: Path, size: int = 256 * 1024) -> None:
    """Create ``folder`` and write a probe file there; a read-only or full disk ends the command
    with one line (Hydra would print a traceback from its own config writer)."""
    probe = folder / f".write-probe-{os.getpid()}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with open(probe, "wb") as handle:
            handle.write(b"\0" * size)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        what = {28: "the disk is full", 30: "the file system is read-only", 13: "permission denied"}.get(exc.errno or 0, exc.strerror)
        print(f"Error: paths.outputs: cannot write under {folder} ({what}); free space or set paths.outputs=<a writable folder>.",
              file=sys.stderr)  # fmt: skip
        sys.exit(1)
    finally:
        try:
            probe.unlink()
        except OSError:
            pass


def _claim(sweep_dir: Path, record: dict[str, Any]) -> None:
    """Write ``sweep.json``; refuse a folder another live sweep is using (a fixed hydra.sweep.dir)."""
    path = sweep_dir / "sweep.json"
    if path.exists():
        other = json.loads(path.read_text() or "{}")
        if other.get("sweep_id") != record["sweep_id"] and other.get("pid") != os.getpid() and pid_alive(other.get("pid")):
            print(
                f"Error: hydra.sweep.dir={sweep_dir} is in use by sweep {other.get('sweep_id')} (pid {other.get('pid')}); "
                "leave hydra.sweep.dir at its default (unique per invocation) or pick another folder.",
                file=sys.stderr,
            )
            sys.exit(1)
    tmp = path.with_name(f"sweep.json.{os.getpid()}")
    tmp.write_text(json.dumps(record))
    tmp.replace(path)


class SweepCallback(Callback):
    """Parent run + failure report for multirun sweeps; redacts Hydra's files in each job."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        probe_writable(Path(config.hydra.run.dir))  # before Hydra writes .hydra/ there

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        probe_writable(sweep_dir)
        record: dict[str, Any] = {"sweep_id": sweep_uid(), "parent_run_id": None, "pid": os.getpid()}
        _claim(sweep_dir, record)
        try:
            tracker = build_tracker(_tracking_cfg(config))
            if tracker.enabled:
                if OmegaConf.select(config, "resume", default=False) is True:  # a killed sweep's parent stays RUNNING
                    for zombie in tracker.close_zombies(sweep="parent"):  # type: ignore[attr-defined]
                        log.warning("resume: closed sweep run %s (RUNNING, its process is gone) as KILLED", zombie)
                overrides = [redact(o) for o in config.hydra.overrides.task]
                run = tracker.start_run(f"sweep {' '.join(overrides)}", {"sweep_id": record["sweep_id"], "sweep": "parent"})
                run.log_params({"sweep.overrides": " ".join(overrides)[:6000], "sweep.dir": str(sweep_dir.resolve())})
                record["parent_run_id"] = run.run_id
        except Exception as exc:  # no parent, no sweep: children would be orphans under no id
            reason = str(exc) if isinstance(exc, TrackingError) else f"{type(exc).__name__}: {str(exc).splitlines()[0][:500]}"
            print(f"Error: sweep {record['sweep_id']}: could not open the parent MLflow run: {redact(reason)}", file=sys.stderr)
            sys.exit(1)
        _claim(sweep_dir, record)
        _ACTIVE.update(config=config, record=record, dir=sweep_dir)

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        """Hydra saved ``.hydra/*.yaml`` (and ``multirun.yaml``) just before this: redact them."""
        hc = config.hydra
        sweep_dir = Path(hc.sweep.dir) if str(OmegaConf.select(config, "hydra.mode", default="")).endswith("MULTIRUN") else None
        redact_hydra_outputs(Path(hc.runtime.output_dir), sweep_dir)
        _redact_log_handlers()

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        redact_hydra_outputs(None, sweep_dir)
        _ACTIVE.clear()
        record, failures, jobs = summary(config, sweep_dir)
        tracker = build_tracker(_tracking_cfg(config))
        if tracker.enabled and record.get("parent_run_id"):
            tracker.log_metric(record["parent_run_id"], "sweep/jobs", jobs)  # type: ignore[attr-defined]
            tracker.log_metric(record["parent_run_id"], "sweep/failed", len(failures))  # type: ignore[attr-defined]
            tracker.terminate(record["parent_run_id"], "FAILED" if failures else "FINISHED")  # type: ignore[attr-defined]
        print(f"Sweep {record['sweep_id']}: {jobs - len(failures)} of {jobs} jobs finished; outputs in {sweep_dir}")
        if failures:
            print(f"{len(failures)} job(s) FAILED:", file=sys.stderr)
            for f in failures:
                print(f"  [{' '.join(f['overrides']) or 'default'}] {f['error']}", file=sys.stderr)
            sys.stderr.flush()
            sys.exit(1)


def summary(config: DictConfig, sweep_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]], int]:
    """(sweep.json record, failures, number of job folders) of a sweep folder."""
    path = sweep_dir / "sweep.json"
    record = json.loads(path.read_text()) if path.exists() else {"sweep_id": "?", "parent_run_id": None}
    failures = read_failures(sweep_dir) if sweep_dir.exists() else []
    jobs = len([p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()]) if sweep_dir.exists() else 0
    return record, failures, jobs


def abort_active(signal_name: str) -> str | None:
    """Close the sweep this process drives after Ctrl-C/SIGTERM: children still RUNNING and the
    parent end KILLED (reason: the signal) with ``sweep/jobs``, ``sweep/failed`` and
    ``sweep/killed``; returns the summary line (None when no sweep is active)."""
    if not _ACTIVE:
        return None
    config, record, sweep_dir = _ACTIVE["config"], _ACTIVE["record"], _ACTIVE["dir"]
    _ACTIVE.clear()
    _, failures, jobs = summary(config, sweep_dir)
    killed: list[str] = []
    reason = f"interrupted by {signal_name}"
    try:
        tracker = build_tracker(_tracking_cfg(config))
        if tracker.enabled and record.get("parent_run_id"):
            exp = [tracker.experiment_id()]  # type: ignore[attr-defined]
            running = tracker.search(exp, tags={"sweep_id": record["sweep_id"]}, status="RUNNING")  # type: ignore[attr-defined]
            for run in running:
                if run.info.run_id != record["parent_run_id"]:
                    tracker.terminate(run.info.run_id, "KILLED", reason)  # type: ignore[attr-defined]
                    killed.append(run.info.run_id)
            children = tracker.search(exp, tags={"sweep_id": record["sweep_id"]})  # type: ignore[attr-defined]
            n_killed = sum(r.info.status == "KILLED" for r in children if r.info.run_id != record["parent_run_id"])
            for key, value in (("sweep/jobs", jobs), ("sweep/failed", len(failures)), ("sweep/killed", n_killed)):
                tracker.log_metric(record["parent_run_id"], key, value)  # type: ignore[attr-defined]
            tracker.terminate(record["parent_run_id"], "KILLED", reason)  # type: ignore[attr-defined]
    except Exception as exc:  # the interrupt still ends the process; say what could not be closed
        print(f"Error: sweep {record['sweep_id']}: could not close its MLflow runs: {redact(exc)}", file=sys.stderr)
    return (
        f"Sweep {record['sweep_id']} {reason}: {jobs} job(s) started, {len(failures)} failed; parent run KILLED; "
        f"outputs in {sweep_dir}"
    )


class _RedactFilter(logging.Filter):
    """No secret in any formatted line; no library traceback on the console (a store failure
    surfaces as the runner's one-line error, the library's own ERROR log keeps its first line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.name.startswith("runner"):
            record.exc_info, record.exc_text = None, None
            message = message.strip().splitlines()[0] if message.strip() else message
        clean = redact(message)
        if clean != record.msg or record.args:
            record.msg, record.args = clean, ()
        return True


def _redact_log_handlers() -> None:
    """Hydra's job log file and console handlers, and MLflow's own handler."""
    handlers = [*logging.getLogger().handlers, *logging.getLogger("mlflow").handlers]
    for handler in handlers:
        if not any(isinstance(f, _RedactFilter) for f in handler.filters):
            handler.addFilter(_RedactFilter())
