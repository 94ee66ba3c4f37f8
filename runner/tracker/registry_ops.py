"""``python -m runner.compare <target> --register NAME``: the winning arm's model into the MLflow Model Registry.

The best arm is the one with the best mean of ``--metric`` over its FINISHED runs (seeds); of its
runs, the one whose metric is nearest the arm's median is registered (ties: the earlier run), so
the registered model is a typical seed of the winner, not its luckiest. The comparison table
becomes the model version's description; the sweep id, the metric, its value and the arm are
tags. Registration is MLflow's own ``register_model`` on the run's logged model
(runs:/<run_id>/model, see runner/model/model_export.py).
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

MAX_DESCRIPTION = 5000  # the registry's column width (SQL stores)


@contextlib.contextmanager
def _store(uri: str) -> Iterator[None]:
    """MLflow's process-wide tracking and registry URIs pointed at ``uri`` for the block, then restored."""
    import os

    import mlflow
    import mlflow.tracking._model_registry.utils as registry
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    before, env = registry._registry_uri, os.environ.get("MLFLOW_REGISTRY_URI")
    mlflow.set_registry_uri(uri)
    try:
        with _use_tracking_uri(uri):
            yield
    finally:
        registry._registry_uri = before
        if env is None:
            os.environ.pop("MLFLOW_REGISTRY_URI", None)
        else:
            os.environ["MLFLOW_REGISTRY_URI"] = env


def arm_of(run: Any, keys: list[str]) -> tuple[str, ...]:
    from runner.compare import arm_value

    return tuple(arm_value(run, k) for k in keys) if keys else ("all",)


def pick_run(runs: list[Any], keys: list[str], metric: str, lower_is_better: bool = False) -> tuple[tuple[str, ...], Any, int]:
    """(best arm, its run nearest the arm's median ``metric``, the arm's run count) among FINISHED runs."""
    scored: dict[tuple[str, ...], list[Any]] = {}
    for run in runs:
        if run.info.status == "FINISHED" and metric in run.data.metrics:
            scored.setdefault(arm_of(run, keys), []).append(run)
    if not scored:
        raise SystemExit(f"Error: --register: no FINISHED run has {metric!r}; nothing to register.")
    means = {arm: float(np.mean([r.data.metrics[metric] for r in members])) for arm, members in scored.items()}
    best = (min if lower_is_better else max)(means, key=means.__getitem__)
    members = scored[best]
    median = float(np.median([r.data.metrics[metric] for r in members]))
    chosen = min(members, key=lambda r: (abs(r.data.metrics[metric] - median), r.info.start_time or 0, r.info.run_id))
    return best, chosen, len(members)


def register_best(
    target: str, name: str, metric: str = "test/macro_f1", by: list[str] | None = None, uri: str | None = None,
    lower_is_better: bool = False, table: str = "",
) -> str:
    """Register the best arm's typical run's model as a new version of ``name``; returns a one-line summary."""
    import mlflow
    from mlflow.exceptions import MlflowException

    from runner.compare import default_uri, find_runs, open_store, varying_keys
    from runner.tracker.redaction import redact

    store = uri or default_uri()
    runs, _ = find_runs(open_store(store), target)
    keys = by if by is not None else varying_keys(runs)
    arm, run, n = pick_run(runs, keys, metric, lower_is_better)
    model_uri = f"runs:/{run.info.run_id}/model"
    description = table if len(table) <= MAX_DESCRIPTION else table[: MAX_DESCRIPTION - 20] + "\n... (truncated)"
    tags = {
        "sweep_id": run.data.tags.get("sweep_id", target), "metric": metric, "metric_value": str(run.data.metrics[metric]),
        "arm": ",".join(f"{k}={v}" for k, v in zip(keys, arm)) or "all", "source_run_id": run.info.run_id,
    }  # fmt: skip
    with _store(store):
        try:
            mlflow.models.get_model_info(model_uri)
        except (MlflowException, OSError):
            raise SystemExit(
                f"Error: --register: run {run.info.run_id} (best arm {tags['arm']}) has no logged model; "
                "rerun it with tracking.log_model=true."
            ) from None
        try:
            version = mlflow.register_model(model_uri, name, tags=tags)
            mlflow.MlflowClient().update_model_version(name, version.version, description=description)
        except MlflowException as exc:
            raise SystemExit(f"Error: --register {name!r}: {str(exc).splitlines()[0]} (store {redact(store)})") from None
    return (f"Registered models:/{name}/{version.version}: arm {tags['arm']}, run {run.info.run_id} "
            f"({metric}={run.data.metrics[metric]:.4f}, nearest the median of the arm's {n} run(s)).")  # fmt: skip
