"""The ``export_model`` stage: a job's fitted inference pipeline as an MLflow pyfunc model (``runs:/<id>/model``).

The stage saves the model with MLflow's own ``mlflow.pyfunc.save_model`` (pyfunc flavor, a
``PythonModel``; nothing hand-rolled beyond the wrapper) into a temporary folder and records its
files under ``model/`` in the stage's :class:`~runner.jobs.state.Logged`, so like every stage it never
touches the tracker; the edge writes them into the run. Saved: ``pipeline.pkl`` (cloudpickle of
:class:`runner.model.inference.InferencePipeline`: the fitted encoder, the fitted preprocessor without
its train-only resampler, the raw column schema, class names, the model config and the decision
rule), ``weights.pt`` (the network's ``state_dict``), a signature on the raw input columns and an
input example (the first training rows). Loading needs this project's packages importable (the
pickles refer to ``runner``/``components`` classes): serve with ``--env-manager local`` in the
project's environment.

Cost: the seconds spent and the size of the saved folder are logged as ``time/model_log_s`` and
``model/size_mb``; ``tracking.log_model: false`` (or ``tracking=none``) skips the stage.
"""
from __future__ import annotations

import contextlib
import functools
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from runner.model.inference import PROBA_PREFIX, InferencePipeline, RawColumn, raw_columns, raw_frame

log = logging.getLogger("runner")
ARTIFACT_NAME = "model"
EXAMPLE_ROWS = 5
_REQUIREMENTS = ("mlflow", "torch", "scikit-learn", "datasets", "pyarrow", "pandas", "numpy", "cloudpickle", "scipy")


def enabled(plain: Mapping[str, Any]) -> bool:
    """Only with MLflow tracking (a run that stores artifacts) and unless ``tracking.log_model: false``."""
    tracking = plain.get("tracking") or {}
    return tracking.get("name") == "mlflow" and bool(tracking.get("log_model", True))


def build_pipeline(plain: Mapping[str, Any], data: Any, pre: Any, rule: Any = None) -> InferencePipeline:
    """The inference pipeline of a job: fitted encoder + preprocessor, schema, names, rule (no weights)."""
    pre = getattr(pre, "pre", pre)  # the streamed path wraps the fitted Preprocessor
    inference_pre = pre.without_resampler()  # shares the fitted steps, drops only the train-only resampler
    in_features = int(pre.transform(data.validation.X[:1]).shape[1])  # the network's input (validation: in memory on both data paths)
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
    integer column with gaps is both; :mod:`runner.model.inference` checks them (one line naming the column)."""
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


@functools.cache
def requirements() -> tuple[str, ...]:
    """The model's pins: the installed versions of what loading it imports (read once per process)."""
    out = []
    for name in _REQUIREMENTS:
        try:
            out.append(f"{name}=={version(name).split('+')[0]}")
        except PackageNotFoundError:
            continue
    return tuple(out)


@contextlib.contextmanager
def _no_pin_check() -> Iterator[None]:
    """Skip MLflow's check that the installed packages satisfy the model's pins: ours are the
    installed versions, read by :func:`requirements`, so it cannot fail, and its first call per
    process scans every installed distribution (~0.5 s of a breast_cancer job's 0.7 s export;
    ~18 ms each later job of a sweep). Where MLflow moved the function, nothing is skipped."""
    import mlflow.utils.environment as environment

    name = "warn_dependency_requirement_mismatches"
    original = getattr(environment, name, None)
    if original is None:
        yield
        return
    setattr(environment, name, lambda *args, **kwargs: None)
    try:
        yield
    finally:
        setattr(environment, name, original)


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
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
        if before is None:
            os.environ.pop(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name, None)
        else:
            os.environ[MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.name] = before


def export_model(state: Any, logged: Any) -> None:
    """The stage: save the fitted pipeline as an MLflow model and record its files under ``model/``."""
    if not enabled(state.plain):
        return
    import cloudpickle
    import mlflow
    import torch

    from runner.model.inference import PipelineModel

    t0 = time.perf_counter()
    pipeline = build_pipeline(state.plain, state.data, state.pre, state.rule)
    with tempfile.TemporaryDirectory(prefix="dq-model-") as tmp:
        files = {"pipeline": os.path.join(tmp, "pipeline.pkl"), "weights": os.path.join(tmp, "weights.pt")}
        with open(files["pipeline"], "wb") as handle:
            cloudpickle.dump(pipeline, handle)
        torch.save({k: v.detach().cpu() for k, v in state.model.state_dict().items()}, files["weights"])
        folder = Path(tmp) / ARTIFACT_NAME
        with _quiet(), _no_pin_check():
            mlflow.pyfunc.save_model(
                str(folder), python_model=PipelineModel(), artifacts=files, input_example=input_example(state.data),
                signature=signature(pipeline.columns, pipeline.class_names), pip_requirements=list(requirements()),
            )  # fmt: skip
        saved = sorted(p for p in folder.rglob("*") if p.is_file())
        for path in saved:  # recorded (copied) now, written into the run by the edge
            logged.log_file(str(path), str(Path(ARTIFACT_NAME) / path.parent.relative_to(folder)).rstrip("/."))
        size = sum(p.stat().st_size for p in saved)
    seconds = time.perf_counter() - t0
    log.info("model: saved for runs:/<run_id>/%s (%.2f MB, %.1f s)", ARTIFACT_NAME, size / 1e6, seconds)
    state.final.update({"time/model_log_s": seconds, "model/size_mb": size / 1e6})
