"""Faults are inputs too: concurrent sweeps on one store, kill -9, Ctrl-C and SIGTERM.

Every test drives the real CLI in subprocesses on a tiny config and reads the MLflow store
back; none asserts a wall time (waits are for events: a file appearing, a metric logged).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlflow import MlflowClient

from tests.conftest import ROOT

TINY = ["progress=false", "dataset=breast_cancer", "quality=none", "trainer.epochs=2"]


def _start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "runner", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip


def _runs(outputs: Path, experiment: str) -> list:
    client = MlflowClient(f"sqlite:///{outputs}/mlflow.db")
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], max_results=1000) if exp else []


def _two_sweeps_at_once(outputs: Path, experiment: str) -> None:
    procs = [_start("-m", "seed=0,1", *TINY, f"paths.outputs={outputs}", f"experiment_name={experiment}") for _ in range(2)]
    results = [p.communicate(timeout=600) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]
        assert "Traceback" not in err
    runs = _runs(outputs, experiment)
    parents = {r.info.run_id: r for r in runs if r.data.tags.get("sweep") == "parent"}
    assert len(parents) == 2 and all(r.info.status == "FINISHED" for r in parents.values())
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 4
    for pid, parent in parents.items():
        mine = [c for c in children if c.data.tags["mlflow.parentRunId"] == pid]
        assert len(mine) == 2 and {c.data.tags["sweep_id"] for c in mine} == {parent.data.tags["sweep_id"]}
        assert sorted(c.data.params["seed"] for c in mine) == ["0", "1"]
        assert parent.data.metrics["sweep/jobs"] == 2 and parent.data.metrics["sweep/failed"] == 0
    folders = {parent.data.params["sweep.dir"] for parent in parents.values()}
    assert len(folders) == 2  # one folder per invocation, even within one second
    for out, _ in results:  # each process reports its own sweep id
        assert sum(f"Sweep {p.data.tags['sweep_id']}:" in out for p in parents.values()) == 1


def test_two_sweeps_started_together_on_a_fresh_then_an_existing_store(tmp_path: Path) -> None:
    _two_sweeps_at_once(tmp_path, "same_second")  # fresh store: the schema is built under a lock
    _two_sweeps_at_once(tmp_path, "same_second_again")  # existing store
