"""The logged MLflow model of a job: it reproduces the job's test metrics from raw rows, handles
categories / NaNs / unseen values, can be turned off, and ``runner.predict`` scores files."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient

import components
from components.datasets import DATASETS
from components.errors import ConfigError
from runner.tables.data import check_split, labels, split_loaded
from runner.tables.encoding import UNKNOWN
from runner.fitting.evaluation import classification_metrics, positive_class
from runner.model.inference import PROBA_PREFIX, raw_frame, to_dataset
from runner.jobs.job import JobContext, run_job
from tests.conftest import FAST, ROOT, compose, in_process


def mixed_csv(path: Path, n: int = 600, seed: int = 0) -> Path:
    """A table with a numeric column with NaNs, an integer column and a string category with blanks."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    color = np.where(y == 1, rng.choice(["red", "blue"], n, p=[0.8, 0.2]), rng.choice(["red", "blue", "green"], n, p=[0.1, 0.5, 0.4]))
    frame = pd.DataFrame({
        "size": rng.normal(10 + 3 * y, 2.0), "count": rng.integers(0, 5, n) + 2 * y,
        "color": color, "label": np.where(y == 1, "rare", "common"),
    })  # fmt: skip
    frame.loc[rng.random(n) < 0.1, "size"] = np.nan
    frame.loc[rng.random(n) < 0.05, "color"] = None
    frame.to_csv(path, index=False)
    return path


def store(outputs: Path) -> str:
    return f"sqlite:///{outputs}/mlflow.db"


def job(outputs: Path, experiment: str, *overrides: str) -> tuple[str, dict[str, Any]]:
    cfg = compose([*FAST, f"paths.outputs={outputs}", f"experiment_name={experiment}", *overrides])
    result = run_job(cfg, JobContext(overrides=list(overrides)))
    from runner.cli.configs import to_plain

    return result.run_id, to_plain(cfg)


def raw_test_split(plain: dict[str, Any]) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """The job's raw test rows and labels, rebuilt from its config as runner.tables.data does."""
    components.load_builtin()
    loaded = DATASETS.build(plain["dataset"], "dataset")
    test_size, val_size = check_split(plain.get("split", {}))
    test = split_loaded(loaded, test_size, val_size, int(plain["seed"]))["test"]
    return raw_frame(test, list(loaded.features)), labels(test, loaded.label), loaded.class_names


def load(outputs: Path, run_id: str) -> Any:
    mlflow.set_tracking_uri(store(outputs))
    return mlflow.pyfunc.load_model(f"runs:/{run_id}/model")


CASES = {
    "breast_cancer_clip_smote_tuned": ["dataset=breast_cancer", "outlier=iqr", "outlier.action=clip", "scaler=robust",
                                       "resampler=smote", "decision.tune_threshold=true"],
    "csv_categories_nans_flag_pca": ["dataset=hf", "dataset.path=csv", "dataset.label=label", "outlier=iqr", "outlier.action=flag",
                                     "reducer=pca"],
    "digits_multiclass_tuned": ["dataset=digits", "scaler=minmax", "decision.tune_threshold=true"],
    "digits_image_cnn": ["dataset=digits", "dataset.as_image=true", "model=cnn", "model.channels=[8]", "dataset.n_classes=3"],
}  # fmt: skip


@pytest.fixture(scope="module")
def csv_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mixed_csv(tmp_path_factory.mktemp("csv") / "mixed.csv")


def overrides_for(case: str, csv_file: Path) -> list[str]:
    extra = [f"dataset.data_files={csv_file}"] if case.startswith("csv") else []
    return [*CASES[case], *extra]


@pytest.mark.slow
@pytest.mark.parametrize("case", list(CASES))
def test_loaded_model_reproduces_the_jobs_test_metrics(outputs: Path, csv_file: Path, case: str) -> None:
    run_id, plain = job(outputs, "t_model", *overrides_for(case, csv_file))
    logged = MlflowClient(store(outputs)).get_run(run_id).data.metrics
    frame, y, names = raw_test_split(plain)
    preds = load(outputs, run_id).predict(frame)
    assert list(preds.columns) == ["label", *(f"{PROBA_PREFIX}{n}" for n in names)] and len(preds) == len(y)
    proba = preds[[f"{PROBA_PREFIX}{n}" for n in names]].to_numpy()
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-5)
    pos = positive_class("minority", names, np.array([logged[f"data/train_count/{n}"] for n in names]))  # the job's default
    recomputed = classification_metrics(y, proba, names, pos_label=pos)  # scikit-learn on the loaded model's output
    for key, value in recomputed.items():
        assert logged[f"test/{key}"] == pytest.approx(value, rel=1e-6, abs=1e-9), key
    y_pred = pd.Categorical(preds["label"], categories=names).codes
    assert (y_pred >= 0).all()
    if plain["decision"]["tune_threshold"]:  # the label column applies the tuned rule
        tuned = classification_metrics(y, proba, names, y_pred, pos_label=pos)
        for key in ("macro_f1", "accuracy", "balanced_accuracy"):
            assert logged[f"test_tuned/{key}"] == pytest.approx(tuned[key], rel=1e-9), key
    else:
        assert (y_pred == proba.argmax(1)).all()
    # the logged cost is the size of what was saved
    local = Path(MlflowClient(store(outputs)).download_artifacts(run_id, "model"))
    saved = sum(p.stat().st_size for p in local.rglob("*") if p.is_file())
    assert {"MLmodel", "artifacts/pipeline.pkl", "artifacts/weights.pt", "input_example.json"} <= {
        str(p.relative_to(local)) for p in local.rglob("*")}
    assert logged["model/size_mb"] == pytest.approx(saved / 1e6) and logged["time/model_log_s"] > 0


@pytest.fixture(scope="module")
def csv_model(outputs: Path, csv_file: Path) -> tuple[str, Any]:
    run_id, _ = job(outputs, "t_model_csv", *overrides_for("csv_categories_nans_flag_pca", csv_file))
    return run_id, load(outputs, run_id)


@pytest.mark.slow  # trains a job (the module's csv_model run)
def test_raw_rows_with_unseen_categories_and_nans(csv_model: tuple[str, Any]) -> None:
    _, model = csv_model
    pipeline = model.unwrap_python_model().pipeline
    enc = pipeline.encoder
    rows = pd.DataFrame({"size": [np.nan, 11.0, 11.0], "count": [1.0, 2.0, 2.0], "color": ["red", "purple", None]})
    preds = model.predict(rows)
    assert preds["label"].isin(pipeline.class_names).all()
    np.testing.assert_allclose(preds.filter(like=PROBA_PREFIX).sum(1), 1.0, rtol=1e-5)
    X = enc.transform(to_dataset(rows, pipeline.columns))
    filled = enc.transform(to_dataset(rows.fillna({"size": float(enc.medians_[enc.numeric_.index("size")])}), pipeline.columns))
    np.testing.assert_array_equal(X[0], filled[0])  # NaN -> the training median
    code = X[:, enc.roles_.names.index("color")]  # the encoder emits codes; one-hot is the preprocessor's last step
    categories = enc.roles_.categories[enc.roles_.categorical.index("color")]
    assert code[1] == UNKNOWN and categories[int(code[2])] == "<missing>"  # unseen: code -1, not an error
    onehot = pipeline.preprocessor.transform(X)[:, -len(categories) :]  # one-hot last, after numeric (+ flag, PCA)
    assert onehot[1].sum() == 0  # unseen category: all-zero one-hot
    assert onehot[2].sum() == 1 and categories[int(np.argmax(onehot[2]))] == "<missing>"
    with pytest.raises(Exception, match="count"):  # MLflow's signature names the missing column
        model.predict(rows.drop(columns=["count"]))


@pytest.mark.slow  # trains a job (the module's csv_model run)
def test_the_model_pins_the_installed_versions(outputs: Path, csv_model: tuple[str, Any]) -> None:
    from importlib.metadata import version

    run_id, _ = csv_model
    local = Path(MlflowClient(store(outputs)).download_artifacts(run_id, "model/requirements.txt"))
    pins = dict(line.split("==") for line in local.read_text().split())
    for name in ("mlflow", "torch", "scikit-learn", "datasets", "numpy"):
        assert pins[name] == version(name).split("+")[0], name


def test_mlflows_pin_check_is_skipped_only_while_saving(caplog: pytest.LogCaptureFixture) -> None:
    """Our pins are the installed versions, so MLflow's check (a scan of every installed package
    the first time) is skipped while the model is saved, and only then (runner/model/model_export.py)."""
    import logging

    import mlflow.utils.environment as environment

    from runner.model.model_export import _no_pin_check

    original = environment.warn_dependency_requirement_mismatches
    unmet = ["no-such-package-dq-runner==1.0"]
    logger = logging.getLogger("mlflow.utils.requirements_utils")
    logger.addHandler(caplog.handler)
    try:
        with _no_pin_check():
            environment._process_pip_requirements(None, pip_requirements=unmet)
        assert "mismatches" not in caplog.text
        environment._process_pip_requirements(None, pip_requirements=unmet)
        assert "mismatches" in caplog.text  # MLflow's own check, back after the save
    finally:
        logger.removeHandler(caplog.handler)
    assert environment.warn_dependency_requirement_mismatches is original


NO_MODEL_SWEEP = "sw-no-model"


@pytest.fixture(scope="module")
def run_without_model(outputs: Path) -> str:
    """One job with ``tracking.log_model=false``, in a sweep of its own: read by the two tests below."""
    overrides = ["tracking.log_model=false", "dataset.n_samples=600"]
    cfg = compose([*FAST, f"paths.outputs={outputs}", "experiment_name=t_model_off", *overrides])
    return run_job(cfg, JobContext(overrides=overrides), extra_tags={"sweep_id": NO_MODEL_SWEEP}).run_id


def test_log_model_false_logs_no_model_and_a_bad_value_is_one_line(outputs: Path, run_without_model: str) -> None:
    run_id = run_without_model
    assert not any(k.startswith("model/") for k in MlflowClient(store(outputs)).get_run(run_id).data.metrics)
    with pytest.raises(mlflow.exceptions.MlflowException):
        load(outputs, run_id)
    with pytest.raises(ConfigError, match=r"tracking\.log_model.*maybe.*boolean"):
        job(outputs, "t_model_off", "tracking.log_model=maybe")


def predict_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "runner.predict", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_predict_cli_scores_files_and_folders_and_names_missing_columns(outputs: Path, csv_model: tuple[str, Any], tmp_path: Path, csv_file: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """One real ``python -m runner.predict`` (exit status 2, the last stderr line, no traceback);
    the other inputs through ``main(argv)`` in this process (the same code, without ~10 s of imports)."""
    import datasets as hf

    from runner import predict

    monkeypatch.delenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", raising=False)  # main() sets it for its process
    run_id, model = csv_model
    rows = pd.read_csv(csv_file).head(50)
    expected = model.predict(rows.drop(columns=["label"]))
    rows.to_parquet(tmp_path / "rows.parquet")
    code, out, err = in_process(predict.main, argv=[run_id, str(tmp_path / "rows.parquet"), "--output", str(tmp_path / "p.parquet"), "--tracking-uri", store(outputs)])
    assert code == 0, err
    assert f"50 predictions -> {tmp_path / 'p.parquet'}" in out
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "p.parquet"), expected.reset_index(drop=True))
    hf.DatasetDict({"test": hf.Dataset.from_pandas(rows)}).save_to_disk(str(tmp_path / "saved"))
    code, out, err = in_process(predict.main, argv=[f"runs:/{run_id}/model", str(tmp_path / "saved"), "--output", str(tmp_path / "p.csv"),
                                                    "--tracking-uri", store(outputs), "--batch-size", "7"])  # fmt: skip
    assert code == 0, err
    assert "50/50" in err  # the progress bar, 8 batches
    got = pd.read_csv(tmp_path / "p.csv")
    assert list(got["label"]) == list(expected["label"])
    np.testing.assert_allclose(got.filter(like=PROBA_PREFIX), expected.filter(like=PROBA_PREFIX), rtol=1e-6)
    (tmp_path / "files").mkdir()
    rows.to_csv(tmp_path / "files" / "test.csv", index=False)  # load_dataset on a folder of files (the hub-id path)
    code, out, err = in_process(predict.main, argv=[run_id, str(tmp_path / "files"), "--output", str(tmp_path / "f.parquet"), "--tracking-uri", store(outputs)])
    assert code == 0, err
    assert list(pd.read_parquet(tmp_path / "f.parquet")["label"]) == list(expected["label"])
    rows.drop(columns=["count", "color"]).to_csv(tmp_path / "bad.csv", index=False)
    done = predict_cli(run_id, str(tmp_path / "bad.csv"), "--output", str(tmp_path / "x.parquet"), "--tracking-uri", store(outputs))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == "Error: the input lacks column(s) the model needs: count, color."


@pytest.mark.slow
def test_compare_register_registers_the_best_arms_median_run(outputs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from runner import compare

    sweep = "sw-register-test"
    small = ["dataset.n_samples=1200", "trainer.epochs=3"]
    for scaler in ("none", "standard"):
        for seed in (0, 1, 2):
            overrides = [f"scaler={scaler}", f"seed={seed}"]
            cfg = compose([*FAST, *small, f"paths.outputs={outputs}", "experiment_name=t_register", *overrides])
            run_job(cfg, JobContext(overrides=overrides), extra_tags={"sweep_id": sweep})
    client = MlflowClient(store(outputs), registry_uri=store(outputs))
    runs = client.search_runs([client.get_experiment_by_name("t_register").experiment_id])
    # the expectation, computed here: arms by scaler, best mean ROC-AUC (continuous: no ties), the run nearest its median
    by_arm: dict[str, list[Any]] = {}
    for r in runs:
        by_arm.setdefault(r.data.params["scaler.name"], []).append(r)
    means = {a: np.mean([r.data.metrics["test/roc_auc"] for r in rs]) for a, rs in by_arm.items()}
    best = max(means, key=means.__getitem__)
    assert len(set(means.values())) == 2  # a clear winner (ties within the arm: the earlier run, checked below)
    median = np.median([r.data.metrics["test/roc_auc"] for r in by_arm[best]])
    distance = {r.info.run_id: abs(r.data.metrics["test/roc_auc"] - median) for r in by_arm[best]}

    compare.main([sweep, "--tracking-uri", store(outputs), "--out", str(tmp_path), "--register", "dq-winner", "--metric", "test/roc_auc"])
    printed = capsys.readouterr().out
    assert "Registered models:/dq-winner/1" in printed
    version = client.get_model_version("dq-winner", "1")
    nearest = [r for r in by_arm[best] if distance[r.info.run_id] == min(distance.values())]
    assert version.run_id == min(nearest, key=lambda r: r.info.start_time).info.run_id
    assert version.tags["sweep_id"] == sweep and version.tags["arm"] == f"scaler={best}"
    assert (tmp_path / "comparison.md").read_text() == version.description and "| scaler | n | mean" in version.description
    mlflow.set_tracking_uri(store(outputs))
    mlflow.set_registry_uri(store(outputs))
    preds = mlflow.pyfunc.load_model("models:/dq-winner/1").predict(pd.DataFrame({"x0": [170.0, 150.0], "x1": [70.0, 40.0]}))
    assert list(preds.columns) == ["label", "proba/majority", "proba/minority"]
    compare.main([sweep, "--tracking-uri", store(outputs), "--out", str(tmp_path), "--register", "dq-winner", "--metric", "test/roc_auc"])
    assert client.get_model_version("dq-winner", "2").run_id == version.run_id  # one more version, same choice


def test_register_without_a_logged_model_is_one_line(outputs: Path, tmp_path: Path, run_without_model: str) -> None:
    from runner import compare

    run_id = run_without_model
    with pytest.raises(SystemExit, match=f"run {run_id} .*has no logged model; rerun it with tracking.log_model=true"):
        compare.main([NO_MODEL_SWEEP, "--tracking-uri", store(outputs), "--out", str(tmp_path), "--register", "dq-none"])


@pytest.mark.parametrize("mode,shape", [("L", (1, 4, 5)), ("RGB", (3, 4, 5))])
def test_an_image_column_takes_decoded_pixels_like_the_encoder_reads_them(mode: str, shape: tuple[int, ...]) -> None:
    import datasets as hf
    from PIL import Image

    from runner.tables.encoding import TableEncoder
    from runner.model.inference import raw_columns

    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (3, 4, 5, 3), dtype=np.uint8)
    images = [Image.fromarray(p).convert(mode) for p in pixels]
    ds = hf.Dataset.from_dict({"img": images}, features=hf.Features({"img": hf.Image()}))
    encoder = TableEncoder(features=["img"], image_shape=shape).fit(ds)
    columns = raw_columns(ds.info.features, ["img"], shape)
    frame = raw_frame(ds, ["img"])
    np.testing.assert_array_equal(encoder.transform(to_dataset(frame, columns)), encoder.transform(ds))
    frame["img"] = [p.tolist() for p in frame["img"]]  # JSON-like nested lists work the same
    np.testing.assert_array_equal(encoder.transform(to_dataset(frame, columns)), encoder.transform(ds))


@pytest.mark.slow  # trains a job (the module's csv_model run)
def test_no_model_without_mlflow_or_when_switched_off_and_bad_numbers_are_one_line(csv_model: tuple[str, Any]) -> None:
    from runner.model import model_export
    from runner.model.inference import InputError

    assert not model_export.enabled({"tracking": {"name": "none"}})
    assert not model_export.enabled({"tracking": {"name": "mlflow", "log_model": False}})
    _, model = csv_model
    with pytest.raises(InputError, match=r"^column 'size': expected numbers, got e.g. 'abc'\.$"):
        model.predict(pd.DataFrame({"size": ["abc"], "count": [1], "color": ["red"]}))


def test_vector_bool_and_classlabel_columns_convert_like_the_training_split() -> None:
    import datasets as hf

    from runner.tables.encoding import TableEncoder
    from runner.model.inference import raw_columns

    features = hf.Features({"v": hf.List(hf.Value("float32"), length=3), "b": hf.Value("bool"), "n": hf.Value("int64"),
                            "c": hf.ClassLabel(names=["lo", "hi"])})  # fmt: skip
    ds = hf.Dataset.from_dict({"v": [[1, 2, 3], [4, 5, 6], [0, 0, 1]], "b": [True, False, True], "n": [1, 2, 3], "c": [0, 1, 1]}, features=features)
    encoder = TableEncoder(features=list(features)).fit(ds)
    frame = raw_frame(ds, list(features))
    assert list(frame["c"]) == ["lo", "hi", "hi"]  # ClassLabel ids -> names
    columns = raw_columns(ds.info.features, list(features))
    assert [c.kind for c in columns] == ["vector", "boolean", "number", "category"]
    np.testing.assert_array_equal(encoder.transform(to_dataset(frame, columns)), encoder.transform(ds))
    frame["c"] = [0, 1, 1]  # ids, as an HF export stores them, are names too
    np.testing.assert_array_equal(encoder.transform(to_dataset(frame, columns)), encoder.transform(ds))
