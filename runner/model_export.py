"""Log a FINISHED job's fitted inference pipeline as an MLflow pyfunc model (``runs:/<id>/model``).

What is saved (MLflow's own ``Model.log`` with the pyfunc flavor and a ``PythonModel``; nothing
hand-rolled beyond the wrapper): ``pipeline.pkl`` (cloudpickle of
:class:`runner.inference.InferencePipeline`: the fitted encoder, the fitted preprocessor without
its train-only resampler, the raw column schema, class names, the model config and the decision
rule), ``weights.pt`` (the network's ``state_dict``), a signature on the raw input columns and an
input example (the first training rows). Loading needs this project's packages importable (the
pickles refer to ``runner``/``components`` classes): serve with ``--env-manager local`` in the
project's environment.

Cost: the seconds spent and the size of the saved files are logged as ``time/model_log_s`` and
``model/size_mb``; ``tracking.log_model: false`` turns the whole step off.
"""
from __future__ import annotations

import contextlib
import copy
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from runner.inference import PROBA_PREFIX, InferencePipeline, PipelineModel, RawColumn, raw_columns, raw_frame

log = logging.getLogger("runner")
ARTIFACT_NAME = "model"
EXAMPLE_ROWS = 5
_REQUIREMENTS = ("mlflow", "torch", "scikit-learn", "datasets", "pyarrow", "pandas", "numpy", "cloudpickle", "scipy")


def enabled(plain: Mapping[str, Any], run: Any) -> bool:
    """Only with MLflow tracking (a run that stores artifacts) and unless ``tracking.log_model: false``."""
    from runner.tracking import MlflowRun

    return isinstance(run, MlflowRun) and bool((plain.get("tracking") or {}).get("log_model", True))


def build_pipeline(plain: Mapping[str, Any], data: Any, pre: Any, rule: Any = None) -> InferencePipeline:
    """The inference pipeline of a job: fitted encoder + preprocessor, schema, names, rule (no weights)."""
    inference_pre = copy.copy(pre)  # shallow: shares the fitted steps, drops only the train-only resampler
    if hasattr(inference_pre, "resampler"):
        inference_pre.resampler = None
    in_features = int(pre.transform(data.train.X[:1]).shape[1])
    return InferencePipeline(
        encoder=data.encoder,
        preprocessor=inference_pre,
        columns=raw_columns(data.raw_train.info.features, list(data.raw_features), data.image_shape),
        class_names=list(data.class_names),
        model_config=dict(plain["model"]),
        in_features=in_features,
        image_shape=tuple(data.image_shape) if data.image_shape is not None else None,
        rule=rule,
    )


def signature(columns: list[RawColumn], class_names: list[str]) -> Any:
    """Input: the raw columns by name; categories as string, arrays as nested float arrays, numbers as
    MLflow's ``Any``: its ``double`` refuses int64 columns and its ``long`` refuses NaN, while a raw
    integer column with gaps is both; :mod:`runner.inference` checks them (one line naming the column)."""
    from mlflow.models.signature import ModelSignature
    from mlflow.types.schema import Array, ColSpec, DataType, Schema

    try:
        from mlflow.types.schema import AnyType

        number: Any = AnyType()
    except ImportError:  # MLflow < 2.19: pass numbers as floats
        number = DataType.double

    def spec(col: RawColumn) -> Any:
        if col.kind in ("number", "boolean"):
            return number
        if col.kind == "category":
            return DataType.string
        inner: Any = DataType.float
        for _ in col.shape:
            inner = Array(inner)
        return inner

    inputs = Schema([ColSpec(spec(c), c.name) for c in columns])
    outputs = Schema([ColSpec(DataType.string, "label")] + [ColSpec(DataType.float, f"{PROBA_PREFIX}{n}") for n in class_names])
    return ModelSignature(inputs=inputs, outputs=outputs)


def input_example(data: Any, rows: int = EXAMPLE_ROWS) -> Any:
    """The first training rows, raw (category names, NaNs as they are)."""
    frame = raw_frame(data.raw_train.select(range(min(rows, data.raw_train.num_rows))), list(data.raw_features))
    for c in frame.columns:  # arrays as nested lists: what JSON and the signature's Array type carry
        if frame[c].dtype == object and len(frame) and isinstance(frame[c].iloc[0], np.ndarray):
            frame[c] = [np.stack(list(v)).tolist() if v.dtype == object else v.tolist() for v in frame[c]]
    return frame


def requirements() -> list[str]:
    out = []
    for name in _REQUIREMENTS:
        try:
            out.append(f"{name}=={version(name).split('+')[0]}")
        except PackageNotFoundError:
            continue
    return out


def _destination(run: Any) -> dict[str, Any]:
    """MLflow 3: a LoggedModel created in the run's own experiment (``Model.log`` alone would use the
    process-global experiment); ``runs:/<id>/model`` resolves to it. MLflow 2: the run's artifacts."""
    if not hasattr(run.client, "create_logged_model"):
        return {"artifact_path": ARTIFACT_NAME}
    created = run.client.create_logged_model(experiment_id=run.experiment_id, name=ARTIFACT_NAME, source_run_id=run.run_id)
    return {"artifact_path": None, "name": ARTIFACT_NAME, "model_id": created.model_id}


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No artifact progress bars and no MLflow notices about pickling our own wrapper in the job log."""
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

    before = os.environ.get(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name)
    os.environ[MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name] = "false"
    loggers = [logging.getLogger(n) for n in ("mlflow.pyfunc", "mlflow.models.model")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*type hints.*")  # MLflow 3 on PythonModel.predict: our signature is explicit
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
        if before is None:
            os.environ.pop(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name, None)
        else:
            os.environ[MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name] = before


def log_pipeline(run: Any, plain: Mapping[str, Any], data: Any, pre: Any, model: Any, rule: Any = None) -> dict[str, float]:
    """Log the job's model under ``runs:/<run_id>/model``; returns ``time/model_log_s`` and ``model/size_mb``."""
    if not enabled(plain, run):
        return {}
    import cloudpickle
    import mlflow
    import torch
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    from runner.store import translate

    t0 = time.perf_counter()
    pipeline = build_pipeline(plain, data, pre, rule)
    with tempfile.TemporaryDirectory() as tmp:
        files = {"pipeline": os.path.join(tmp, "pipeline.pkl"), "weights": os.path.join(tmp, "weights.pt")}
        with open(files["pipeline"], "wb") as handle:
            cloudpickle.dump(pipeline, handle)
        torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, files["weights"])
        size = sum(Path(p).stat().st_size for p in files.values())
        with translate(run.uri, "logging the model"), _use_tracking_uri(run.uri), _quiet():
            mlflow.models.Model.log(
                flavor=mlflow.pyfunc, run_id=run.run_id, python_model=PipelineModel(), artifacts=files,
                signature=signature(pipeline.columns, pipeline.class_names), input_example=input_example(data),
                pip_requirements=requirements(), **_destination(run),
            )  # fmt: skip
    seconds = time.perf_counter() - t0
    log.info("model: logged as runs:/%s/%s (%.2f MB, %.1f s)", run.run_id, ARTIFACT_NAME, size / 1e6, seconds)
    return {"time/model_log_s": seconds, "model/size_mb": size / 1e6}
