"""One job in-process: what lands in a real MLflow store, determinism, FAILED runs."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from components.errors import ConfigError
from runner.jobs.job import JobContext, run_job
from tests.conftest import FAST, compose

pytestmark = pytest.mark.slow  # every test here runs jobs or starts processes


def client_for(outputs: Path) -> MlflowClient:
    return MlflowClient(f"sqlite:///{outputs}/mlflow.db")


def job(outputs: Path, experiment: str, *overrides: str, context: JobContext | None = None):
    cfg = compose([*FAST, f"paths.outputs={outputs}", f"experiment_name={experiment}", *overrides])
    return run_job(cfg, context or JobContext(overrides=list(overrides)))


def test_issue_example_logs_params_metrics_tags_and_artifacts(outputs: Path) -> None:
    overrides = ["scaler=robust", "model=mlp", "loss=weighted_ce", "loss.weights=effective_number", "trainer.epochs=5", "seed=3"]
    result = job(outputs, "t_job", *overrides, "quality.plots=true", "quality.label_issues=true")
    run = client_for(outputs).get_run(result.run_id)
    assert run.info.status == "FINISHED"
    p = run.data.params
    assert (p["scaler.name"], p["loss.name"], p["loss.weights"], p["trainer.epochs"], p["seed"]) == ("robust", "weighted_ce", "effective_number", "5", "3")
    assert p["tracking.uri"] == f"sqlite:///{outputs}/mlflow.db"
    m = run.data.metrics
    for key in ("test/macro_f1", "test/roc_auc", "test/pr_auc", "test/balanced_accuracy", "test/accuracy", "val/macro_f1", "test/recall/minority"):
        assert 0 <= m[key] <= 1 and m[key] == result.metrics[key]
    assert (m["data/train_count/majority"], m["data/train_count/minority"]) == (6336, 64)
    history = client_for(outputs).get_metric_history(result.run_id, "train/loss")
    assert [h.step for h in history] == [0, 1, 2, 3, 4]
    tags = run.data.tags
    assert len(tags["config_hash"]) == 16 and len(tags["dataset_fingerprint"]) == 16
    assert tags["git_commit"] and tags["version.torch"] and tags["overrides"].startswith(" ".join(overrides))
    client = client_for(outputs)
    resolved = yaml.safe_load(Path(client.download_artifacts(result.run_id, "config/resolved.yaml")).read_text())
    assert resolved["scaler"]["name"] == "robust" and resolved["loss"]["beta"] == 0.999
    assert yaml.safe_load(Path(client.download_artifacts(result.run_id, "config/overrides.yaml")).read_text())[:6] == overrides
    plots = {a.path for a in client.list_artifacts(result.run_id, "plots")}
    assert plots == {f"plots/{n}.png" for n in ("confusion_test", "roc_pr_test", "training_curves", "class_counts", "drift")}
    reports = {"quality.html", "quality.json", "feature_stats.csv", "feature_drift.csv"}  # per-feature tables: artifacts (issue 12)
    assert {a.path for a in client.list_artifacts(result.run_id, "report")} == {f"report/{n}" for n in reports}
    assert m["quality/imbalance_ratio"] == 99.0 and 0.4 <= m["drift/domain_auc"] <= 0.6 and m["quality/completeness"] == 1.0
    cm = Path(client.download_artifacts(result.run_id, "metrics/confusion_test.csv")).read_text().splitlines()
    assert cm[0] == "true\\pred,majority,minority" and sum(int(v) for row in cm[1:] for v in row.split(",")[1:]) == 2000


def test_same_config_and_seed_give_identical_metrics(outputs: Path) -> None:
    runs = [job(outputs, "t_determinism", "seed=7", "trainer.epochs=3") for _ in range(2)]
    other = job(outputs, "t_determinism", "seed=8", "trainer.epochs=3")
    strip = lambda r: {k: v for k, v in r.metrics.items() if not k.startswith("time/")}  # noqa: E731
    assert strip(runs[0]) == strip(runs[1])
    assert strip(runs[0]) != strip(other)
    tags = [client_for(outputs).get_run(r.run_id).data.tags for r in (*runs, other)]
    assert tags[0]["config_hash"] == tags[1]["config_hash"] != tags[2]["config_hash"]


def test_failing_job_is_recorded_failed_with_reason_and_traceback(outputs: Path) -> None:
    with pytest.raises(ConfigError) as err:
        job(outputs, "t_failed", "dataset=hf", "dataset.path=csv", "dataset.data_files=/nope/data.csv")
    client = client_for(outputs)
    exp = client.get_experiment_by_name("t_failed")
    (run,) = client.search_runs([exp.experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags["error"] == f"ConfigError: {err.value}"
    assert run.data.params["dataset.path"] == "csv"
    tb = Path(client.download_artifacts(run.info.run_id, "error/traceback.txt")).read_text()
    assert "file not found: '/nope/data.csv'" in tb


def test_cnn_on_digit_images_and_tracking_off(outputs: Path, tmp_path: Path) -> None:
    result = run_job(compose([*FAST, "dataset=digits", "dataset.as_image=true", "model=cnn", "trainer.epochs=8", "trainer.batch_size=64", "tracking=none", f"paths.outputs={tmp_path}"]), JobContext())
    assert result.run_id == "" and result.metrics["test/macro_f1"] > 0.6
    assert not (tmp_path / "mlflow.db").exists()


def test_training_divergence_is_reported_with_a_hint(tmp_path: Path) -> None:
    with pytest.raises(FloatingPointError, match=r"training diverged at epoch \d+: loss is (nan|inf). Lower trainer.lr \(now 1e\+30\)"):
        run_job(compose([*FAST, "scaler=none", "trainer.lr=1e30", "trainer.optimizer=sgd", "tracking=none"]), JobContext())
