"""Issue 12, items 5-13: the MLflow and scikit-learn conventions users expect, each checked
against an independent reference (scikit-learn, scipy, cleanlab, an exhaustive enumeration)."""
from __future__ import annotations

import csv
import io
import itertools
import json
import time
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sklearn import metrics as skm
from sklearn.datasets import load_breast_cancer, load_digits, make_classification
from sklearn.utils.class_weight import compute_class_weight

import components
from components.class_weights import CLASS_WEIGHTS
from components.drift import drift_flags, feature_drift
from components.errors import ConfigError
from components.quality import confident_issues, out_of_fold_proba
from runner.compare import compare
from runner.reporting.compare_stats import bootstrap_ci
from runner.fitting.evaluation import check_evaluation, classification_metrics, positive_class
from tests.conftest import FAST, cli, compose

components.load_builtin()


# --- 9: loss.weights=balanced is scikit-learn's ----------------------------------------------


@pytest.mark.parametrize("counts", [[9900, 100, 600], [30, 70], [5, 0, 12, 40]])
def test_balanced_weights_are_sklearns(counts: list[int]) -> None:
    c = np.array(counts)
    y = np.repeat(np.arange(len(c)), c)
    present = np.flatnonzero(c)
    ours = CLASS_WEIGHTS.build({"name": "balanced"}, "loss.weights", counts=c)
    ref = compute_class_weight("balanced", classes=present, y=y)  # sklearn's K: the classes present in y
    # ours divides by every configured class (an absent one gets weight 0): equal when all are present
    np.testing.assert_allclose(ours[present] * len(c) / len(present), ref)
    assert (ours[c == 0] == 0).all()
    half = CLASS_WEIGHTS.build({"name": "half_total"}, "loss.weights", counts=c)
    np.testing.assert_allclose(half[present], c.sum() / (2 * c[present]))


# --- 10: whitening gives covariance I on raw breast_cancer ------------------------------------


def test_whitened_raw_breast_cancer_has_identity_covariance() -> None:
    from runner.tables.data import prepare

    data = prepare({"name": "breast_cancer"}, {}, 0)
    for method in ("zca", "pca"):
        whiten = components.get_registry("scaler").build({"name": "whiten", "method": method}, "scaler").fit(data.train.X)
        Z = whiten.transform(data.train.X.astype(np.float64))
        eig = np.linalg.eigvalsh(np.cov(Z, rowvar=False))
        assert eig.shape == (30,)
        assert eig.min() > 0.98 and eig.max() < 1.02, (method, eig.min(), eig.max())  # every direction, not 26 of 30
        np.testing.assert_allclose(np.var(Z, axis=0, ddof=1), 1.0, atol=0.02)


# --- 11: the drift flag is sample-size aware --------------------------------------------------


@pytest.mark.slow
def test_drift_flag_rarely_fires_on_iid_data_at_breast_cancer_sizes() -> None:
    rng = np.random.default_rng(3)
    names = [f"f{j}" for j in range(30)]
    draws, psi_only, flagged = 200, 0, 0
    for _ in range(draws):
        rows = feature_drift(rng.normal(size=(364, 30)), rng.normal(size=(114, 30)), names, 10, 0.2, 0.05)
        psi_only += any(r["psi"] >= 0.2 for r in rows)
        flagged += any(r["drifted"] for r in rows)
    assert psi_only / draws > 0.6  # the old rule: PSI alone alarms on most iid draws (0.87 measured on 1,000)
    assert flagged / draws <= 0.1  # the new one: at most alpha = 0.05 in expectation (0.048 measured on 1,000)


def test_drift_flag_still_catches_a_real_shift() -> None:
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(364, 30)), rng.normal(size=(114, 30))
    b[:, :3] += 1.0
    rows = feature_drift(a, b, [f"f{j}" for j in range(30)], 10, 0.2, 0.05)
    assert [r["drifted"] for r in rows[:3]] == [True, True, True]
    assert sum(r["drifted"] for r in rows[3:]) <= 1


def test_drift_flags_use_holms_step_down() -> None:
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216, 0.0004, 0.002])
    m = len(p)
    rejected = np.zeros(m, dtype=bool)
    for i, j in enumerate(np.argsort(p)):  # Holm (1979) by definition: reject while p_(i) <= alpha / (m - i)
        if p[j] > 0.05 / (m - i):
            break
        rejected[j] = True
    adjusted, flags = drift_flags(np.full(m, 0.5), p, 0.2, 0.05)
    assert flags == list(rejected) and sum(flags) == 3
    assert np.all(np.array(adjusted) >= p) and max(adjusted) <= 1.0
    assert drift_flags(np.zeros(m), p, 0.2, 0.05)[1] == [False] * m  # a tiny PSI never flags, however significant


# --- 7: binary positive class = the minority --------------------------------------------------


def test_positive_class_defaults_to_the_minority_and_can_be_overridden() -> None:
    names = ["malignant", "benign"]
    assert positive_class("minority", names, np.array([136, 228])) == 0
    assert positive_class("minority", ["majority", "minority"], np.array([990, 10])) == 1
    assert positive_class(1, names, np.array([136, 228])) == 1
    assert positive_class("benign", names, np.array([136, 228])) == 1
    assert positive_class("minority", ["a", "b", "c"], np.array([1, 2, 3])) is None
    with pytest.raises(ConfigError, match="evaluation.pos_label: got 'cancer'; expected 'minority', 0, 1 or a class name"):
        positive_class("cancer", names, np.array([136, 228]))
    with pytest.raises(ConfigError, match="evaluation.pos_label: got True"):
        check_evaluation({"pos_label": True})
    with pytest.raises(ConfigError, match="evaluation.pos: unknown key"):
        check_evaluation({"pos": 1})


def test_pr_auc_is_average_precision_of_the_positive_class() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.3).astype(int)  # class 1 is the minority here; flip it so class 0 is
    y = 1 - y
    p1 = np.clip(0.6 * y + rng.normal(0.2, 0.25, len(y)), 0, 1)
    proba = np.c_[1 - p1, p1]
    out = classification_metrics(y, proba, ["minority", "majority"], pos_label=0)
    assert out["pr_auc"] == pytest.approx(skm.average_precision_score(y, proba[:, 0], pos_label=0))
    assert out["roc_auc"] == pytest.approx(skm.roc_auc_score(y, proba[:, 1]))  # symmetric
    assert out["pr_auc"] != pytest.approx(classification_metrics(y, proba, ["a", "b"])["pr_auc"])


# --- 8: compare's interval and baseline -------------------------------------------------------


def _exhaustive_percentile_ci(v: np.ndarray) -> tuple[float, float]:
    means = np.array([np.mean(t) for t in itertools.product(v, repeat=len(v))])  # every bootstrap resample
    return tuple(np.percentile(means, [2.5, 97.5]))  # type: ignore[return-value]


@pytest.mark.parametrize("values", [[0.91, 0.95, 0.97, 0.99, 1.0], [0.2, 0.5, 0.55, 0.6, 0.9], [0.0, 0.01, 0.03, 0.02, 0.2]])
def test_bootstrap_interval_matches_exhaustive_enumeration_and_stays_in_range(values: list[float]) -> None:
    v = np.array(values)
    low, high = bootstrap_ci(v)
    ref_low, ref_high = _exhaustive_percentile_ci(v)
    tol = 0.02 * (v.max() - v.min())
    assert low == pytest.approx(ref_low, abs=tol) and high == pytest.approx(ref_high, abs=tol)
    assert v.min() <= low <= v.mean() <= high <= v.max()


def test_t_interval_would_leave_zero_one_but_bootstrap_does_not() -> None:
    v = np.array([0.97, 0.999, 1.0])
    t_high = stats.t.interval(0.95, len(v) - 1, loc=v.mean(), scale=stats.sem(v))[1]
    assert t_high > 1.0
    assert bootstrap_ci(v)[1] <= 1.0


def _store_runs(uri: str, experiment: str, arms: list[str], key: str, sweep_overrides: str | None) -> None:
    """Runs written through the runner's own tracker: a parent (when ``sweep_overrides``) and
    one child per arm and seed, in the order given, with a metric that differs per arm."""
    from runner.tracker.tracking import MlflowTracker

    tracker = MlflowTracker(uri=uri, experiment=experiment)
    sweep_id = f"s-{experiment}"
    parent = None
    if sweep_overrides is not None:
        parent = tracker.start_run("sweep", {"sweep": "parent", "sweep_id": sweep_id})
        parent.log_params({"sweep.overrides": sweep_overrides})
    for i, arm in enumerate(arms):
        for seed in range(3):
            run = tracker.start_run(f"{key}={arm}", {"sweep_id": sweep_id, "overrides": f"{key}={arm} seed={seed}"},
                                    parent_run_id=parent.run_id if parent else None)  # fmt: skip
            run.log_params({"seed": seed, key: arm})
            run.log_metrics({"test/macro_f1": 0.5 + 0.1 * i + 0.01 * seed})
            run.finish("FINISHED")
            time.sleep(0.01)
    if parent:
        parent.finish("FINISHED")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("arms", "overrides", "expected"),
    [
        (["robust", "minmax", "standard"], "scaler=robust,minmax,standard seed=0,1,2", "robust"),  # not minmax (alphabetical)
        (["focal", "ce"], "loss=focal,ce seed=0,1,2", "ce"),  # the no-treatment arm
        (["robust", "minmax"], None, "robust"),  # no parent (an experiment's sweeper): the first-launched arm
    ],
)
def test_compare_baseline_is_the_sweeps_first_arm_or_none_ce(tmp_path: Path, arms: list[str], overrides: str | None, expected: str) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    key = overrides.split("=")[0] if overrides else "scaler"
    _store_runs(uri, "t_baseline", arms, key, overrides)
    rows, files = compare("t_baseline", uri=uri, out=tmp_path / "cmp")
    assert f"paired tests against {expected};" in files["markdown"].read_text()
    by_arm = {r[key]: r for r in rows}
    assert "pairs" not in by_arm[expected] and all(r["pairs"] == 3 for a, r in by_arm.items() if a != expected)
    for r in rows:
        assert r["mean"] - 1e-9 <= r["ci_high"] and r["ci_low"] <= r["mean"] + 1e-9 and r["ci_high"] <= 1.0


# --- 12: confident learning pinned against cleanlab -------------------------------------------


def _cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    X3, y3 = make_classification(600, 10, n_informative=5, n_classes=3, weights=[0.7, 0.2, 0.1], random_state=0)
    flip = rng.random(len(y3)) < 0.1
    y3 = y3.copy()
    y3[flip] = rng.integers(0, 3, flip.sum())
    Xb, yb = make_classification(400, 6, weights=[0.85], flip_y=0.08, random_state=1)
    return {"breast_cancer": load_breast_cancer(return_X_y=True), "digits": load_digits(return_X_y=True), "noisy_3_classes": (X3, y3),
            "noisy_binary": (Xb, yb)}  # fmt: skip


@pytest.mark.parametrize("case", ["breast_cancer", "digits", "noisy_3_classes", "noisy_binary"])
def test_label_issues_equal_cleanlabs_confident_learning_filter(case: str) -> None:
    from cleanlab.filter import find_label_issues

    X, y = _cases()[case]
    proba = out_of_fold_proba(X, y, 5, 0)
    ours = confident_issues(y, proba)
    theirs = find_label_issues(y, proba, filter_by="confident_learning")
    assert ours.sum() > 0 or case == "breast_cancer"
    np.testing.assert_array_equal(ours, theirs)


# --- 13: save_to_disk folders, the preview's raw range, tune's lines, a sweep without parent ---


@pytest.mark.parametrize("kind", ["Dataset", "DatasetDict"])
def test_hf_reads_a_save_to_disk_folder(tmp_path: Path, kind: str) -> None:
    import datasets as hf

    rng = np.random.default_rng(0)
    def table(n: int) -> hf.Dataset:
        return hf.Dataset.from_dict({"a": rng.normal(size=n).tolist(), "b": rng.choice(["x", "y"], n).tolist(),
                                     "label": rng.choice(["yes", "no"], n).tolist()})  # fmt: skip
    data = table(60) if kind == "Dataset" else hf.DatasetDict({"train": table(60), "test": table(20)})
    data.save_to_disk(str(tmp_path / "saved"))
    loaded = components.get_registry("dataset").build({"name": "hf", "path": str(tmp_path / "saved")}, "dataset")
    assert set(loaded.splits) == ({"train"} if kind == "Dataset" else {"train", "test"})
    assert loaded.splits["train"].num_rows == 60 and loaded.class_names == ["no", "yes"] and loaded.features == ["a", "b"]


def test_preview_shows_the_raw_image_range(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from runner.reporting import plots
    from runner.preview import preview

    seen = {}

    def capture(augment, X, y, shape, names, path, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen["range"] = (float(X.min()), float(X.max()))
        return path

    monkeypatch.setattr(plots, "augment_grid", capture)
    preview(compose(["dataset=digits", "dataset.as_image=true", "augment=affine", "scaler=standard"]), tmp_path / "p.png")
    assert seen["range"] == (0.0, 16.0)  # digits' pixel range, not per-pixel z-scores


@pytest.mark.slow
def test_tune_prints_one_line_per_trial(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from runner.tune import main

    main(["--param", "trainer.lr=float:1e-3:1e-1:log", "--trials", "2", "--study", "t12", "--storage", f"sqlite:///{tmp_path}/o.db",
          *FAST, "dataset=breast_cancer", "tracking=none", "trainer.epochs=1"])  # fmt: skip
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("trial ")]
    assert len(lines) == 2 and all("COMPLETE val/macro_f1=" in line and "trainer.lr=" in line for line in lines), lines


@pytest.mark.slow
def test_sweep_without_a_parent_run_launches_no_job(tmp_path: Path) -> None:
    result = cli("-m", "seed=0,1", *FAST, "tracking.uri=sqlite:////proc/no-such-folder/mlflow.db", f"paths.outputs={tmp_path}")
    assert result.returncode == 1
    assert "could not open the parent MLflow run" in result.stderr
    assert not [p for p in tmp_path.glob("multirun/*/*/*") if p.is_dir()]  # no job folder 0/, 1/


# --- 5 and 6: a real job's metrics, artifacts and dataset inputs ------------------------------


@pytest.mark.slow
def test_job_logs_summaries_as_metrics_tables_as_artifacts_and_splits_as_inputs(outputs: Path) -> None:
    from mlflow import MlflowClient

    from runner.jobs.job import JobContext, run_job

    base = [*FAST, "dataset=breast_cancer", f"paths.outputs={outputs}", "experiment_name=t_conventions"]
    result = run_job(compose(base), JobContext(overrides=base))
    client = MlflowClient(f"sqlite:///{outputs}/mlflow.db")
    run = client.get_run(result.run_id)
    keys = set(run.data.metrics)
    assert not [k for k in keys if k.startswith(("quality/feature/", "drift/feature/"))]
    assert {"quality/completeness", "quality/duplicate_rate", "drift/share_drifted", "drift/max_psi", "drift/domain_auc"} <= keys
    assert len(keys) < 100  # 401 before issue 12
    folder = Path(client.download_artifacts(result.run_id, "report", str(outputs / f"art-{result.run_id}")))
    stats_rows = list(csv.DictReader(io.StringIO((folder / "feature_stats.csv").read_text())))
    drift_rows = list(csv.DictReader(io.StringIO((folder / "feature_drift.csv").read_text())))
    assert len(stats_rows) == 30 and len(drift_rows) == 30 and {"psi", "ks_pvalue_holm", "drifted"} <= set(drift_rows[0])
    X = load_breast_cancer().data
    assert min(float(r["mean"]) for r in stats_rows) == pytest.approx(X.mean(0).min(), rel=0.3)
    inputs = {i.tags[0].value: i.dataset for i in run.inputs.dataset_inputs}
    assert set(inputs) == {"train", "validation", "test"}
    assert len({d.digest for d in inputs.values()}) == 3 and json.loads(inputs["train"].source)["tags"]["dq_runner.dataset"] == "breast_cancer"
    assert json.loads(inputs["test"].profile)["features_shape"][0] == 114
    assert run.data.metrics["test/pr_auc"] != run.data.metrics["test/roc_auc"]

    opt_in = [*base, "quality.per_feature_metrics=true"]
    again = client.get_run(run_job(compose(opt_in), JobContext(overrides=opt_in)).run_id)
    per_feature = [k for k in again.data.metrics if k.startswith(("quality/feature/", "drift/feature/"))]
    assert len(per_feature) == 30 * 5 + 30 * 6


@pytest.mark.slow
def test_system_metrics_are_logged_when_asked(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from runner.tracker.tracking import MlflowTracker, build_tracker

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    tracker = MlflowTracker(uri=uri, experiment="t_system", system_metrics=True, system_metrics_interval_s=0.5)
    run = tracker.start_run("r", {})
    time.sleep(2.0)
    run.finish()
    keys = set(MlflowClient(uri).get_run(run.run_id).data.metrics)
    assert {"system/cpu_utilization_percentage", "system/system_memory_usage_megabytes"} <= keys
    quiet = MlflowTracker(uri=uri, experiment="t_system").start_run("q", {})  # off by default
    quiet.finish()
    assert not [k for k in MlflowClient(uri).get_run(quiet.run_id).data.metrics if k.startswith("system/")]
    with pytest.raises(ConfigError, match="tracking.system_metrics_interval_s"):
        build_tracker({"name": "mlflow", "uri": uri, "system_metrics": True, "system_metrics_interval_s": 0})
