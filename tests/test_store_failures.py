"""Store and disk failures: one line naming the URI/path and the fix, no traceback, no run left
RUNNING. Full and read-only disks are real tmpfs mounts (skipped where mounting is not allowed)."""
from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from mlflow import MlflowClient

from components.errors import ConfigError
from runner.jobs.job import JobContext, run_job
from runner.tracker.tracking import MlflowTracker, TrackingError
from runner.__main__ import main as runner_main
from tests.conftest import FAST, cli, compose, in_process

TINY = [*FAST, "dataset=breast_cancer"]


@pytest.mark.parametrize(("uri", "expected"), [
    ("foo://x", r"tracking.uri: got 'foo://x'; expected sqlite:///<abs path>"),
    ("sqlite://rel.db", r"a SQLite URI is sqlite:///<path> \(three slashes\)"),
    ("postgresql://u:pw@h/db?x", None),  # well-formed: accepted by the check
])  # fmt: skip
def test_malformed_uri_is_a_config_error_before_any_run(uri: str, expected: str | None, tmp_path: Path) -> None:
    from runner.tracker.store import check_uri

    if expected is None:
        check_uri(uri)
        return
    with pytest.raises(ConfigError, match=expected):
        run_job(compose([*TINY, f"tracking.uri={uri}", f"paths.outputs={tmp_path}"]), JobContext())


@pytest.mark.slow
def test_unwritable_store_and_unreachable_server_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(TrackingError, match=r"tracking.uri=sqlite:////proc/nope/mlflow.db: opening the store failed: .*check that its folder exists"):
        MlflowTracker(uri="sqlite:////proc/nope/mlflow.db").client
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(TrackingError, match=r"tracking.uri=http://127.0.0.1:9: opening the store failed: .*check that the MLflow server is running"):
        MlflowTracker(uri="http://127.0.0.1:9").client
    with pytest.raises(TrackingError, match=r"postgresql://u:\*\*\*@127.0.0.1:9/db: .*(driver is not installed|failed)"):
        MlflowTracker(uri="postgresql://u:pw@127.0.0.1:9/db").client


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[callable]:
    mounted: list[Path] = []

    def mount(size: str, *options: str) -> Path:
        where = tmp_path / f"mnt-{uuid.uuid4().hex[:6]}"
        where.mkdir()
        opts = ",".join([f"size={size}", *options])
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True, text=True)
        if res.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _fill(folder: Path) -> None:
    with open(folder / "filler", "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        except OSError:
            pass


@pytest.mark.slow
def test_read_only_and_full_outputs_are_one_line(tmpfs, tmp_path: Path) -> None:
    ro = tmpfs("1m", "ro")
    res = cli(*TINY, f"paths.outputs={ro}/out")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert f"Error: paths.outputs: cannot write under {ro}/out/runs/" in res.stderr and "read-only" in res.stderr
    full = tmpfs("2m")
    _fill(full)
    res = cli("-m", "seed=0,1", *TINY, f"paths.outputs={full}/out")
    assert res.returncode == 1 and "Traceback" not in res.stderr and "(the disk is full)" in res.stderr


@pytest.mark.slow
def test_full_store_disk_and_full_artifact_disk(tmpfs, tmp_path: Path) -> None:
    """The store's disk fills up after it was created: no run, one line. The artifact disk is
    full: the run ends FAILED (the store still works), one line."""
    store_disk = tmpfs("4m")
    uri = f"sqlite:///{store_disk}/mlflow.db"
    MlflowTracker(uri=uri, experiment="full").experiment_id()
    _fill(store_disk)
    res = cli(*TINY, f"tracking.uri={uri}", "experiment_name=full", f"paths.outputs={tmp_path}/out")
    assert res.returncode == 1 and "Traceback" not in res.stderr, res.stderr[:3000]
    assert f"Error: tracking.uri={uri}: disk full while" in res.stderr
    os.unlink(store_disk / "filler")
    client = MlflowClient(uri)
    assert all(r.info.status != "RUNNING" for r in client.search_runs([client.get_experiment_by_name("full").experiment_id]))
    art_disk = tmpfs("1m")
    _fill(art_disk)
    # `python -m runner`'s main in this process (the real process: the store-disk case above)
    code, _, err = in_process(runner_main, *TINY, f"tracking.artifact_root={art_disk}/art", "experiment_name=full_art", f"paths.outputs={tmp_path}/out")
    assert code == 1 and "Traceback" not in err and "disk full" in err, err[-2000:]
    client = MlflowClient(f"sqlite:///{tmp_path}/out/mlflow.db")
    (run,) = client.search_runs([client.get_experiment_by_name("full_art").experiment_id])
    assert run.info.status == "FAILED" and "disk full" in run.data.tags["error"]
