"""``mlflow models serve -m runs:/<id>/model --env-manager local`` answers raw rows over HTTP
exactly as ``mlflow.pyfunc.load_model(...).predict`` does."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from runner.model.inference import PROBA_PREFIX
from runner.jobs.job import JobContext, run_job
from tests.conftest import FAST, ROOT, compose


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def post(url: str, body: dict, timeout: float = 60) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def wait_ready(url: str, proc: subprocess.Popen, limit_s: float = 300) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=5) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(1)
    raise AssertionError(f"the server did not answer /ping within {limit_s} s")


def stop(proc: subprocess.Popen) -> None:
    """The server and its uvicorn workers: its own process group, started by this test."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@pytest.mark.slow
def test_served_model_answers_like_pyfunc_predict(outputs: Path, tmp_path: Path) -> None:
    overrides = ["dataset=hf", "dataset.path=csv", f"dataset.data_files={_csv(tmp_path)}", "dataset.label=label"]
    cfg = compose([*FAST, f"paths.outputs={outputs}", "experiment_name=t_serve", *overrides])
    run_id = run_job(cfg, JobContext(overrides=overrides)).run_id
    uri = f"sqlite:///{outputs}/mlflow.db"
    rows = pd.DataFrame({"size": [9.5, None, 30.0, 12.0], "count": [1, 2, 3, 4], "color": ["red", "blue", "purple", None]})
    mlflow.set_tracking_uri(uri)
    expected = mlflow.pyfunc.load_model(f"runs:/{run_id}/model").predict(rows)

    port = free_port()
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])  # uvicorn: as in an activated venv
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": path}
    cmd = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"runs:/{run_id}/model", "--env-manager", "local",
           "-h", "127.0.0.1", "-p", str(port), "-w", "1"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url, proc)
        body = {"dataframe_split": json.loads(rows.to_json(orient="split", index=False))}
        t0 = time.perf_counter()
        status, answer = post(f"{url}/invocations", body)
        round_trip = time.perf_counter() - t0
        assert status == 200, answer
        got = pd.DataFrame(answer["predictions"])
        assert list(got["label"]) == list(expected["label"])
        cols = [c for c in expected.columns if c.startswith(PROBA_PREFIX)]
        np.testing.assert_allclose(got[cols].to_numpy(float), expected[cols].to_numpy(float), rtol=1e-6)
        t0 = time.perf_counter()
        assert post(f"{url}/invocations", body)[1] == answer  # warm: the first call also imports the pipeline's modules
        print(f"served round trip: first {round_trip * 1000:.0f} ms, warm {(time.perf_counter() - t0) * 1000:.0f} ms, {len(rows)} rows")
        status, answer = post(f"{url}/invocations", {"dataframe_split": {"columns": ["size"], "data": [[1.0]]}})
        assert status == 400 and "count" in json.dumps(answer)  # a missing column is named, not a crash
    finally:
        stop(proc)
    assert proc.poll() is not None


def _csv(folder: Path) -> Path:
    from tests.test_model import mixed_csv

    return mixed_csv(folder / "mixed.csv")
