"""The job's splits as MLflow dataset inputs (``mlflow.log_input``'s model: source, digest, context).

One input per split with context ``train`` / ``validation`` / ``test``, so the run page's
"Datasets used" and ``run.inputs.dataset_inputs`` say what the model was trained and scored on.
The dataset is the encoded split the network saw (``mlflow.data.from_numpy``: its digest is
MLflow's hash of those arrays, so two runs with the same digest saw the same rows); the source
is where it came from: ``load_dataset``'s arguments for ``dataset=hf`` (MLflow's
HuggingFaceDatasetSource), else the embedded generator and its parameters (a code source).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from runner.tables.data import PreparedData

CONTEXTS = ("train", "validation", "test")


def dataset_source(dataset_cfg: Mapping[str, Any], fingerprint: str) -> Any:
    """MLflow's description of where the data came from (no data is read here)."""
    from mlflow.data.code_dataset_source import CodeDatasetSource
    from mlflow.data.huggingface_dataset_source import HuggingFaceDatasetSource

    if dataset_cfg.get("name") == "hf" and dataset_cfg.get("path"):
        files = dataset_cfg.get("data_files")
        return HuggingFaceDatasetSource(
            path=str(dataset_cfg["path"]), config_name=dataset_cfg.get("config_name"), data_dir=dataset_cfg.get("data_dir"),
            data_files=files if isinstance(files, (str, list, dict)) or files is None else str(files), revision=dataset_cfg.get("revision"),
        )  # fmt: skip
    params = {k: v for k, v in dataset_cfg.items() if k != "name"}
    return CodeDatasetSource({"dq_runner.dataset": str(dataset_cfg.get("name")), "dq_runner.params": repr(params), "dq_runner.fingerprint": fingerprint})


def split_inputs(data: PreparedData, dataset_cfg: Mapping[str, Any]) -> list[tuple[Any, str]]:
    """(MLflow dataset, context) for train, validation and test."""
    import mlflow.data

    source = dataset_source(dataset_cfg, data.fingerprint)
    name = str(dataset_cfg.get("path") if dataset_cfg.get("name") == "hf" else dataset_cfg.get("name"))
    out = []
    for context, split in zip(CONTEXTS, (data.train, data.validation, data.test)):
        X, y = split.X, split.y
        if not isinstance(X, np.ndarray):  # streamed training split: digest the seeded sample it was fitted on
            X, y = X.encode(X.sample_rows), y[X.sample_rows]
        ds = mlflow.data.from_numpy(X, targets=y, source=source, name=f"{name}/{context}")
        out.append((ds, context))
    return out


def log_dataset_inputs(run: Any, data: PreparedData, dataset_cfg: Mapping[str, Any]) -> None:
    """Log the three splits as the run's dataset inputs (``tracking=none``'s run drops them)."""
    run.log_inputs(split_inputs(data, dataset_cfg))
