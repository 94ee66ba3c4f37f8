"""MLflow on PostgreSQL (the multi-machine set-up): a throwaway server from Debian's packages.

Skipped where no PostgreSQL server binaries or no ``postgres`` user exist (the reason is shown).
"""
from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FAST, cli, compose, in_process

pytestmark = pytest.mark.slow  # every test here runs jobs or starts processes

BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_uri() -> Iterator[str]:
    if not BIN or not os.path.exists(os.path.join(BIN[-1], "initdb")):
        pytest.skip("no PostgreSQL server binaries (Debian package postgresql)")
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("no 'postgres' system user to run the server as")
    pytest.importorskip("psycopg2")
    bindir = BIN[-1]
    root = tempfile.mkdtemp(prefix="pg-", dir="/tmp")
    os.chown(root, user.pw_uid, user.pw_gid)
    data, port = os.path.join(root, "data"), _free_port()

    def as_postgres(*cmd: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*prefix, *cmd], check=True, capture_output=True, timeout=120)

    as_postgres(f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
    opts = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    as_postgres(f"{bindir}/pg_ctl", "-D", data, "-o", opts, "-w", "-t", "60", "-l", os.path.join(root, "log"), "start")
    try:
        as_postgres(f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "mlflow")
        yield f"postgresql+psycopg2://postgres@127.0.0.1:{port}/mlflow"
    finally:
        as_postgres(f"{bindir}/pg_ctl", "-D", data, "-m", "immediate", "stop")
        shutil.rmtree(root, ignore_errors=True)


def test_jobs_and_sweeps_track_to_postgresql(postgres_uri: str, tmp_path) -> None:
    from mlflow import MlflowClient

    from runner.__main__ import main as runner_main
    from runner.jobs.job import JobContext, run_job

    art = f"tracking.artifact_root={tmp_path}/artifacts"
    result = run_job(compose([*FAST, f"tracking.uri={postgres_uri}", art, f"paths.outputs={tmp_path}", "experiment_name=pg"]), JobContext())
    # `python -m runner -m ...`'s main in this process (a real process sweeps to this server: the password test)
    code, _, err = in_process(runner_main, "-m", "seed=0,1", *FAST, "dataset.n_samples=2000", f"tracking.uri={postgres_uri}", art, f"paths.outputs={tmp_path}", "experiment_name=pg")
    assert code == 0, err[-2000:]
    client = MlflowClient(postgres_uri)
    runs = client.search_runs([client.get_experiment_by_name("pg").experiment_id])
    assert client.get_run(result.run_id).info.status == "FINISHED"
    assert len([r for r in runs if "mlflow.parentRunId" in r.data.tags]) == 2 and len(runs) == 4


def _files_holding(root: Path, secret: str) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            try:
                if secret in path.read_bytes().decode("utf-8", "ignore"):
                    found.append(str(path.relative_to(root)))
            except OSError:
                continue
    return found


def test_a_password_in_the_uri_is_never_written_or_printed(postgres_uri: str, tmp_path: Path) -> None:
    """Params, tags, run names, config artifacts, Hydra's .hydra/ and multirun.yaml, logs, console."""
    from mlflow import MlflowClient

    secret = "s3cret-Pw9"
    uri = postgres_uri.replace("postgres@", f"postgres:{secret}@")  # trust auth: the password is accepted
    common = [*FAST, "dataset=breast_cancer", f"tracking.uri={uri}", f"tracking.artifact_root={tmp_path}/artifacts",
              f"paths.outputs={tmp_path}", "experiment_name=pg_secret"]  # fmt: skip
    single = cli(*common)
    sweep = cli("-m", "seed=0,1", *common)
    typo = cli(*common, f"tracking.urii={uri}")  # Hydra's own error line echoes the override
    assert single.returncode == 0 and sweep.returncode == 0, (single.stderr[-2000:], sweep.stderr[-2000:])
    assert typo.returncode == 1 and "tracking.urii" in typo.stderr
    for res in (single, sweep, typo):
        assert secret not in res.stdout + res.stderr
    assert "postgres:***@" in single.stdout  # the URI is still shown, redacted
    assert _files_holding(tmp_path, secret) == []
    client = MlflowClient(postgres_uri)
    runs = client.search_runs([client.get_experiment_by_name("pg_secret").experiment_id])
    assert len(runs) == 4
    for run in runs:
        assert secret not in repr((run.info.run_name, run.data.params, run.data.tags))
    assert any("***" in r.data.params.get("tracking.uri", "") for r in runs)
