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

import pytest
from mlflow import MlflowClient

from runner.tracker.tracking import MlflowTracker
from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # every test here runs jobs or starts processes

TINY = ["progress=false", "dataset=breast_cancer", "quality=none", "trainer.epochs=2"]


def _as_at_a_terminal() -> None:
    """Ctrl-C reaches the job as it does from a terminal. A suite started in the background
    (``make test &``, ``nohup``) passes SIGINT on as *ignored*, and a process that inherits an
    ignored SIGINT keeps ignoring it (POSIX; Python then installs no KeyboardInterrupt handler)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(*args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "runner", *args], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True, preexec_fn=_as_at_a_terminal,
    )  # fmt: skip


def _client(outputs: Path) -> MlflowClient:
    """A client opened as the runner opens it: a fresh store's schema is built under its lock."""
    return MlflowTracker(uri=f"sqlite:///{outputs}/mlflow.db").client


def _runs(outputs: Path, experiment: str) -> list:
    client = _client(outputs)
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


SLOW = ["trainer.epochs=40", "trainer.batch_size=8", "tracking.flush_interval_s=0"]  # long enough to be stopped


def _wait_for_epochs(outputs: Path, experiment: str, proc: subprocess.Popen[str], epochs: int = 2, running: int = 1) -> list:
    """Poll the store until ``running`` runs are RUNNING with ``epochs`` per-epoch values each."""
    deadline = time.monotonic() + 300  # a guard against a hung test, not a timing assertion
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        try:
            client = _client(outputs)
            live = [r for r in _runs(outputs, experiment) if r.info.status == "RUNNING" and "train/loss" in r.data.metrics]
            if len([r for r in live if len(client.get_metric_history(r.info.run_id, "train/loss")) >= epochs]) >= running:
                return live
        except Exception:  # the store may not exist yet
            pass
        time.sleep(0.3)
    raise AssertionError("no run reached its epochs")


def test_kill_9_keeps_the_history_and_resume_closes_the_zombie(tmp_path: Path) -> None:
    from runner.compare import compare

    args = [*TINY, *SLOW, f"paths.outputs={tmp_path}", "experiment_name=kill9", "resume=true"]
    proc = _start(*args)
    (zombie,) = _wait_for_epochs(tmp_path, "kill9", proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    client = MlflowClient(f"sqlite:///{tmp_path}/mlflow.db")
    assert client.get_run(zombie.info.run_id).info.status == "RUNNING"
    assert len(client.get_metric_history(zombie.info.run_id, "train/loss")) >= 2  # history kept
    rows, _ = compare("kill9", uri=f"sqlite:///{tmp_path}/mlflow.db", out=tmp_path / "c1")
    assert rows[0]["stale"] == 1 and rows[0]["n"] == 0  # reported, not averaged
    again = _start(*args)
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    closed = client.get_run(zombie.info.run_id)
    assert closed.info.status == "KILLED" and "closed by resume" in closed.data.tags["error"]
    rows, _ = compare("kill9", uri=f"sqlite:///{tmp_path}/mlflow.db", out=tmp_path / "c2")
    assert (rows[0]["n"], rows[0]["killed"], rows[0]["stale"], rows[0]["unfinished"]) == (1, 1, 0, 0)


def test_kill_9_on_a_sweep_and_resume_close_its_parent_run(tmp_path: Path) -> None:
    """The sweep's parent run of a ``kill -9``'d sweep stays RUNNING; the resumed sweep closes it
    KILLED (its process is gone) and opens its own, which ends FINISHED."""
    args = ["-m", "seed=0,1", *TINY, *SLOW, f"paths.outputs={tmp_path}", "experiment_name=kill9sweep", "resume=true"]
    proc = _start(*args)
    _wait_for_epochs(tmp_path, "kill9sweep", proc)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    def parents() -> list:
        return [r for r in _runs(tmp_path, "kill9sweep") if r.data.tags.get("sweep") == "parent"]

    (killed,) = parents()
    assert killed.info.status == "RUNNING"
    again = _start("-m", "seed=0", *TINY, f"paths.outputs={tmp_path}", "experiment_name=kill9sweep", "resume=true")  # any resumed sweep: short
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, err[-3000:]
    status = {r.info.run_id: r for r in parents()}
    assert status[killed.info.run_id].info.status == "KILLED" and "closed by resume" in status[killed.info.run_id].data.tags["error"]
    assert sorted(r.info.status for r in status.values()) == ["FINISHED", "KILLED"]


def _stop_a_sweep(tmp_path: Path, signum: int, *launcher: str, running: int = 1) -> tuple[subprocess.Popen[str], str, list]:
    proc = _start("-m", "seed=0,1,2,3", *launcher, *TINY, *SLOW, f"paths.outputs={tmp_path}", "experiment_name=stopped")
    _wait_for_epochs(tmp_path, "stopped", proc, running=running)
    os.killpg(proc.pid, signum)  # as a terminal's Ctrl-C does: the whole process group
    _, err = proc.communicate(timeout=300)
    return proc, err, _runs(tmp_path, "stopped")


def test_ctrl_c_on_a_sequential_sweep_closes_child_and_parent_killed(tmp_path: Path) -> None:
    proc, err, runs = _stop_a_sweep(tmp_path, signal.SIGINT)
    assert proc.returncode == 130 and "Traceback" not in err and "interrupted by SIGINT" in err
    (parent,) = [r for r in runs if r.data.tags.get("sweep") == "parent"]
    assert parent.info.status == "KILLED" and parent.data.metrics["sweep/killed"] >= 1 and "sweep/jobs" in parent.data.metrics
    assert all(r.info.status != "RUNNING" for r in runs)
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert any(r.info.status == "KILLED" and r.data.tags["error"] == "interrupted by SIGINT" for r in children)


def test_sigterm_on_a_parallel_sweep_closes_every_run(tmp_path: Path) -> None:
    proc, err, runs = _stop_a_sweep(tmp_path, signal.SIGTERM, "hydra/launcher=parallel", "hydra.launcher.n_jobs=2", running=2)
    assert proc.returncode == 143 and "Traceback" not in err and "interrupted by SIGTERM" in err
    assert len(runs) >= 3 and all(r.info.status != "RUNNING" for r in runs)
    (parent,) = [r for r in runs if r.data.tags.get("sweep") == "parent"]
    assert parent.info.status == "KILLED" and parent.data.metrics["sweep/killed"] >= 2


def test_sigterm_is_raised_once_per_stop() -> None:
    """The second SIGTERM of a stop (the process group's, then the launcher's for its workers) is
    not raised into the cleanup the first started; the next command in the process gets its own."""
    from runner.cli import signals

    before = signal.getsignal(signal.SIGTERM)
    try:
        for _ in range(2):  # install() again: a new command, a new stop
            signals.install()
            with pytest.raises(signals.Terminated):
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(5)
            os.kill(os.getpid(), signal.SIGTERM)  # while stopping: swallowed
            time.sleep(0.05)
    finally:
        signal.signal(signal.SIGTERM, before)
