"""The tracking layer's key policy, read back from real MLflow stores: hostile class and column
names never cost a metric, never merge two names, and the renamings are logged."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric

from runner.jobs.job import JobContext, run_job
from components.keys import KeyMap, key_ok, segment
from runner.tracker.tracking import MlflowTracker
from tests.conftest import FAST, compose

HOSTILE = [".", "..", "a//b", "x/", "a+b/../x", "c:d €", "a+b", "a_b", "größe", "", " pad ", "/abs", "~", "x" * 300, "日本"]


def test_segment_keeps_valid_names_and_makes_the_rest_valid_and_distinct() -> None:
    assert [segment(n) for n in ("a_b", "größe", "日本", "c:d", "x-y.z w")] == ["a_b", "größe", "日本", "c:d", "x-y.z w"]
    keys = [f"data/train_count/{segment(n)}" for n in HOSTILE]
    assert all(key_ok(k) for k in keys) and len(set(keys)) == len(HOSTILE)
    assert segment("a+b") != segment("a_b") and segment("a+b") == segment("a+b")  # distinct, deterministic


def test_keymap_disambiguates_a_planted_collision_deterministically() -> None:
    planted = segment("a+b")  # a valid name equal to another name's cleaned key
    first, second = KeyMap(), KeyMap()
    keys = [first("m/a+b"), first(f"m/{planted}")]
    assert keys == [second("m/a+b"), second(f"m/{planted}")] and len(set(keys)) == 2
    assert all(key_ok(k) for k in keys) and set(first.renamed) == {"m/a+b", f"m/{planted}"}


def _tracker(tmp_path: Path, experiment: str = "keys") -> MlflowTracker:
    return MlflowTracker(uri=f"sqlite:///{tmp_path}/mlflow.db", experiment=experiment)


@pytest.mark.slow
def test_hostile_keys_all_read_back_from_a_real_store(tmp_path: Path) -> None:
    tracker = _tracker(tmp_path)
    run = tracker.start_run("hostile", {})
    raw = {f"data/train_count/{n}": float(i) for i, n in enumerate(HOSTILE)}
    raw.update({"test/macro_f1": 0.5, "quality/feature/a//b/mean": 1.0})
    run.log_metrics(raw)
    run.log_params({"dataset.splits.a+b": "x", "dataset.splits.a_b": "y"})
    run.finish()
    back = MlflowClient(tracker.uri).get_run(run.run_id)
    assert len(back.data.metrics) == len(raw) and back.data.metrics["test/macro_f1"] == 0.5
    assert back.data.metrics["data/train_count/größe"] == float(HOSTILE.index("größe"))
    assert sorted(back.data.params.values()) == ["x", "y"]
    key_map = json.loads(Path(MlflowClient(tracker.uri).download_artifacts(run.run_id, "tracking/key_map.json", str(tmp_path))).read_text())
    assert {raw_key: back.data.metrics[key] for raw_key, key in key_map["renamed"].items() if raw_key in raw} == {
        k: v for k, v in raw.items() if k in key_map["renamed"]
    }
    assert key_map["rejected"] == {}


@pytest.mark.slow
def test_a_key_the_store_rejects_costs_only_itself(tmp_path: Path) -> None:
    run = _tracker(tmp_path).start_run("reject", {})
    ok = [Metric(f"ok/{i}", float(i), 0, 0) for i in range(5)]
    run._batch(metrics=[*ok[:2], Metric("..", 1.0, 0, 0), *ok[2:]])  # bypasses the policy: the server's last word
    run.finish()
    back = MlflowClient(run.client.tracking_uri).get_run(run.run_id)
    assert set(back.data.metrics) == {m.key for m in ok} and set(run.rejected) == {".."}


def _hostile_csv(path: Path) -> None:
    """9 classes with hostile names, 3 columns with hostile names (two of them collide if sanitised)."""
    classes = [".", "..", "a//b", "x/", "a+b/../x", "c:d €", "a+b", "a_b", "größe"]
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["a+b", "a_b", "c:d €", "label"])
        for i in range(14 * len(classes)):
            k = i % len(classes)
            writer.writerow([k + (i % 7) * 0.1, k * 2 - (i % 5) * 0.2, (i * 37) % 11, classes[k]])


@pytest.mark.slow
def test_job_with_hostile_class_and_column_names_keeps_every_metric(outputs: Path, tmp_path: Path) -> None:
    data = tmp_path / "hostile.csv"
    _hostile_csv(data)
    overrides = [*FAST, f"paths.outputs={outputs}", "experiment_name=t_hostile", "dataset=hf", "dataset.path=csv",
                 f"dataset.data_files={data}", "dataset.label=label", "quality.per_feature_metrics=true"]  # fmt: skip
    result = run_job(compose(overrides), JobContext(overrides=overrides))
    client = MlflowClient(f"sqlite:///{outputs}/mlflow.db")
    metrics = client.get_run(result.run_id).data.metrics
    per_class = [k for k in metrics if k.startswith("test/f1/")]
    counts = [k for k in metrics if k.startswith("data/train_count/")]
    assert len(per_class) == 9 and len(counts) == 9 and "test/macro_f1" in metrics
    assert "test/f1/größe" in metrics and "test/f1/a_b" in metrics and "data/train_count/a_b" in metrics
    features = {k.split("/")[2] for k in metrics if k.startswith("quality/feature/")}
    assert {"a_b", segment("a+b"), segment("c:d €")} <= features
    key_map = json.loads(Path(client.download_artifacts(result.run_id, "tracking/key_map.json", str(tmp_path))).read_text())
    assert any(raw.startswith("data/train_count/a//b") for raw in key_map["renamed"]) and key_map["rejected"] == {}


@pytest.mark.slow
def test_a_running_run_is_dead_only_when_its_process_is_gone_or_its_pid_reused(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess

    from runner.tracker.tracking import is_dead

    tracker = _tracker(tmp_path, "liveness")
    gone = subprocess.Popen(["true"])
    gone.wait()
    run = tracker.start_run("r", {})
    client = MlflowClient(tracker.uri)
    for pid, expected in ((gone.pid, True), (os.getpid(), False), (os.getppid(), False)):
        client.set_tag(run.run_id, "pid", str(pid))
        assert is_dead(client.get_run(run.run_id)) is expected, pid
    client.set_tag(run.run_id, "host", socket.gethostname() + "-elsewhere")
    client.set_tag(run.run_id, "pid", str(gone.pid))
    assert is_dead(client.get_run(run.run_id)) is False  # another host: unknowable, left alone
    run.finish()
    assert is_dead(client.get_run(run.run_id)) is False  # not RUNNING


@pytest.mark.slow
def test_metrics_reach_the_store_within_the_flush_interval(tmp_path: Path) -> None:
    """flush_interval_s bounds how long a per-epoch value stays in memory: 0 -> written at once;
    a long interval buffers (batching) until the size limit or finish."""
    eager = MlflowTracker(uri=f"sqlite:///{tmp_path}/mlflow.db", experiment="flush", flush_interval_s=0)
    lazy = MlflowTracker(uri=f"sqlite:///{tmp_path}/mlflow.db", experiment="flush", flush_interval_s=3600)
    client = MlflowClient(eager.uri)
    for tracker, written_before_finish in ((eager, 3), (lazy, 0)):
        run = tracker.start_run("r", {})
        for epoch in range(3):
            run.log_metrics({"train/loss": 1.0 / (epoch + 1)}, step=epoch)
        assert len(client.get_metric_history(run.run_id, "train/loss")) == written_before_finish
        run.finish()
        assert len(client.get_metric_history(run.run_id, "train/loss")) == 3
