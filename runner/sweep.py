"""Hydra callback for ``-m`` sweeps: one parent MLflow run, failure isolation, a final report.

On multirun start it opens the sweep's parent run and writes ``sweep.json`` into the sweep
folder; each job (in this process or in a launcher's worker) reads it to attach itself as a
child. A job that raises is recorded FAILED and leaves ``failure.json`` in its folder while the
sweep carries on; at the end the failures are listed and the process exits non-zero.
"""
from __future__ import annotations

import json
import logging
import sys
import uuid
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from runner.tracking import build_tracker

log = logging.getLogger("runner")
FAILURE_FILE = "failure.json"


def _tracking_cfg(config: DictConfig) -> dict[str, Any]:
    node = OmegaConf.select(config, "tracking", default=None)
    return OmegaConf.to_container(node, resolve=True) if node is not None else {"name": "none"}  # type: ignore[return-value]


def write_failure(output_dir: Path, overrides: list[str], exc: BaseException, run_id: str | None) -> None:
    output_dir.mkdir(parents=True, exist_ok=True)
    record = {"overrides": overrides, "error": f"{type(exc).__name__}: {exc}", "run_id": run_id}
    (output_dir / FAILURE_FILE).write_text(json.dumps(record, indent=1))


def read_failures(sweep_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(sweep_dir.glob(f"*/{FAILURE_FILE}"))]


class SweepCallback(Callback):
    """Parent run + failure report for multirun sweeps."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        sweep_dir.mkdir(parents=True, exist_ok=True)
        record: dict[str, Any] = {"sweep_id": uuid.uuid4().hex[:12], "parent_run_id": None}
        (sweep_dir / "sweep.json").write_text(json.dumps(record))  # first: the end report needs it
        try:
            tracker = build_tracker(_tracking_cfg(config))
            if tracker.enabled:
                overrides = list(config.hydra.overrides.task)
                run = tracker.start_run(f"sweep {' '.join(overrides)}", {"sweep_id": record["sweep_id"], "sweep": "parent"})
                run.log_params({"sweep.overrides": " ".join(overrides)[:6000], "sweep.dir": str(sweep_dir.resolve())})
                record["parent_run_id"] = run.run_id
        except Exception as exc:  # the jobs still run (and fail or not on their own); the end says so
            record["parent_error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:500]}"
            print(f"Sweep {record['sweep_id']}: could not open the parent MLflow run: {record['parent_error']}", file=sys.stderr)
        (sweep_dir / "sweep.json").write_text(json.dumps(record))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        path = sweep_dir / "sweep.json"
        record = json.loads(path.read_text()) if path.exists() else {"sweep_id": "?", "parent_run_id": None}
        failures = read_failures(sweep_dir) if sweep_dir.exists() else []
        jobs = len([p for p in sweep_dir.iterdir() if p.is_dir() and p.name.isdigit()]) if sweep_dir.exists() else 0
        tracker = build_tracker(_tracking_cfg(config))
        if record.get("parent_error"):
            failures.append({"overrides": ["(sweep parent run)"], "error": record["parent_error"]})
        if tracker.enabled and record.get("parent_run_id"):
            client = tracker.client  # type: ignore[attr-defined]
            client.log_metric(record["parent_run_id"], "sweep/jobs", jobs)
            client.log_metric(record["parent_run_id"], "sweep/failed", len(failures))
            client.set_terminated(record["parent_run_id"], status="FAILED" if failures else "FINISHED")
        print(f"Sweep {record['sweep_id']}: {jobs - len(failures)} of {jobs} jobs finished; outputs in {sweep_dir}")
        if failures:
            print(f"{len(failures)} job(s) FAILED:", file=sys.stderr)
            for f in failures:
                print(f"  [{' '.join(f['overrides']) or 'default'}] {f['error']}", file=sys.stderr)
            sys.stderr.flush()
            sys.exit(1)
