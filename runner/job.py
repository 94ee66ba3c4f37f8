"""One job, start to end: validate -> load -> split -> encode -> preprocess -> train -> evaluate -> log.

Every component config is validated against the registry before any data is read, so a typo
costs milliseconds, and before the tracked run is opened, so a typo leaves no run behind. What
fails after validation (data, training, the store) is recorded FAILED with its traceback.
"""
from __future__ import annotations

import json
import logging
import os
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

import components
from components import get_registry
from components.errors import ConfigError
from runner import provenance
from runner.cache import ResampleCache, cache_key
from runner.configs import config_hash, flatten, to_plain
from runner.data import check_split, prepare
from runner.diagnostics import log_augment_preview, log_plots_and_report
from runner.evaluation import below_chance, classification_metrics, confusion, confusion_csv, predict_proba
from runner.pipeline import Preprocessor
from runner.report_cache import cached_data_reports
from runner.threshold import DecisionRule
from runner.signals import signal_name
from runner.store import check_experiment_name, check_uri
from runner.tracking import Run, Tracker, build_tracker
from runner.monitor import validation_weights
from runner.training import TrainerSettings, convergence_warning, resolve_device, seed_everything, train

log = logging.getLogger("runner")
COMPONENT_GROUPS = (
    "dataset", "outlier", "scaler", "reducer", "resampler", "augment", "model", "loss", "trainer", "tracking", "quality", "importance",
)  # fmt: skip
HEADLINE = ("test/macro_f1", "test/roc_auc", "test/balanced_accuracy", "test/accuracy")


@dataclass
class JobContext:
    """Where a job runs: Hydra's mode, output folder, overrides and sweep bookkeeping."""

    output_dir: Path | None = None
    overrides: list[str] = field(default_factory=list)
    multirun: bool = False
    sweep_dir: Path | None = None
    parent: dict[str, str] | None = None  # {parent_run_id, sweep_id} for sweeps driven in-process (tune)
    workers: int | None = None  # parallel jobs on this machine (joblib launcher), to share the cores

    @classmethod
    def from_hydra(cls) -> JobContext:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode

        if not HydraConfig.initialized():
            return cls()
        hc = HydraConfig.get()
        multirun = hc.mode == RunMode.MULTIRUN
        workers = None
        if multirun and "joblib" in str(hc.launcher.get("_target_", "")).lower():
            n_jobs = int(hc.launcher.get("n_jobs") or 1)
            workers = (os.cpu_count() or 1) if n_jobs < 0 else n_jobs
        return cls(
            output_dir=Path(hc.runtime.output_dir),
            overrides=list(hc.overrides.task),
            multirun=multirun,
            sweep_dir=Path(hc.sweep.dir) if multirun else None,
            workers=workers,
        )

    @property
    def run_name(self) -> str:
        return ",".join(self.overrides) or "default"


@dataclass
class JobResult:
    run_id: str
    metrics: dict[str, float]
    tracker: Tracker
    skipped: bool = False

    def summary(self) -> str:
        shown = "  ".join(f"{k}={self.metrics[k]:.4f}" for k in HEADLINE if k in self.metrics)
        lines = [shown] if not self.skipped else [f"skipped (resume): already FINISHED as run {self.run_id}", shown]
        if self.tracker.enabled:
            lines.append(f"MLflow run {self.run_id} ({self.tracker.description})")
            lines.append(f"Open the UI: {self.tracker.ui_hint()}")
        return "\n".join(lines)


def validate(plain: Mapping[str, Any]) -> None:
    """Check every component name and parameter, and the plain keys, before any work."""
    for group in COMPONENT_GROUPS:
        if group not in plain:
            raise ConfigError(f"{group}: missing config group; pick one with {group}=<name>.")
        get_registry(group).validate(plain[group], group)
    check_split(plain.get("split", {}))
    for flag in ("resume", "progress"):
        if not isinstance(plain.get(flag, False), bool):
            raise ConfigError(f"{flag}: got {plain[flag]!r}; expected a boolean (true or false).")
    tune = (plain.get("decision") or {}).get("tune_threshold", False)
    if not isinstance(tune, bool):
        raise ConfigError(f"decision.tune_threshold: got {tune!r}; expected a boolean (true or false).")
    seed = plain.get("seed")
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ConfigError(f"seed: got {seed!r}; expected a non-negative integer.")
    check_experiment_name(plain.get("experiment_name", "default"))
    if (plain.get("tracking") or {}).get("name") == "mlflow":
        check_uri(str(plain["tracking"].get("uri", "")))


def run_job(cfg: Any, context: JobContext | None = None, extra_tags: dict[str, str] | None = None) -> JobResult:
    """Run one job from a composed config; the run is recorded FAILED if anything raises.

    With ``resume: true`` a job whose config hash already has a FINISHED run in the experiment
    is skipped (its metrics are returned); FAILED ones run again.
    """
    components.load_builtin()
    ctx = context or JobContext.from_hydra()
    if ctx.workers and ctx.workers > 1:  # N worker processes x default threads would oversubscribe
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // ctx.workers))
    plain = to_plain(cfg)
    validate(plain)  # before any run is opened: a typo leaves nothing in the store
    tracker = build_tracker(plain.get("tracking", {"name": "none"}))
    chash = config_hash(plain)
    if plain.get("resume") and tracker.enabled:
        done = tracker.finished_run(chash)  # type: ignore[attr-defined]
        if done is not None:
            log.info("resume: skipping %s, FINISHED as run %s", ctx.run_name, done.info.run_id)
            return JobResult(done.info.run_id, dict(done.data.metrics), tracker, skipped=True)
        for zombie in tracker.close_zombies(chash):  # type: ignore[attr-defined]
            log.warning("resume: closed run %s (RUNNING, its process is gone) as KILLED", zombie)
    parent = _parent_run(ctx)
    tags = {"config_hash": chash, **provenance.tags(), **(extra_tags or {})}
    if parent:
        tags["sweep_id"] = parent["sweep_id"]
    if ctx.overrides:
        tags["overrides"] = " ".join(ctx.overrides)
    run = tracker.start_run(ctx.run_name, tags, parent_run_id=parent["parent_run_id"] if parent else None)
    try:
        run.log_params(dict(flatten(plain)))
        run.log_text(yaml.safe_dump(plain, sort_keys=False), "config/resolved.yaml")
        run.log_text(yaml.safe_dump(ctx.overrides), "config/overrides.yaml")
        metrics = execute(plain, run)
        for line in below_chance(metrics):  # never a worse-than-chance model without a word
            log.warning(line)
            run.set_tags({"warning.below_chance": line})
        run.finish("FINISHED")
    except BaseException as exc:
        status = "KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED"
        try:
            exc.mlflow_run_id = run.run_id  # type: ignore[attr-defined]  # for the sweep's failure list
        except AttributeError:
            pass
        try:
            interrupted = isinstance(exc, KeyboardInterrupt)
            run.set_tags({"error": f"interrupted by {signal_name(exc)}" if interrupted else f"{type(exc).__name__}: {exc}"})
            run.log_text(traceback.format_exc(), "error/traceback.txt")
        finally:
            run.finish(status)
        raise
    return JobResult(run.run_id, metrics, tracker)


def _parent_run(ctx: JobContext) -> dict[str, str] | None:
    if ctx.parent is not None:
        return ctx.parent
    if ctx.sweep_dir is None:
        return None
    path = ctx.sweep_dir / "sweep.json"
    return json.loads(path.read_text()) if path.exists() else None


def _class_counts(y: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(y, minlength=k)


def _resample_cache(plain: Mapping[str, Any], fingerprint: str, seed: int, device: str) -> ResampleCache | None:
    """The cache entry for this job's resampled training data: keyed by everything upstream."""
    cache_cfg = plain.get("cache") or {}
    if not cache_cfg.get("enabled") or plain["resampler"]["name"] == "none":
        return None
    inputs = dict(
        data=fingerprint, split=plain.get("split", {}), seed=seed, outlier=plain["outlier"],
        scaler=plain["scaler"], reducer=plain["reducer"], resampler=plain["resampler"], device=device,
    )  # fmt: skip
    return ResampleCache(cache_cfg["dir"], cache_key(**inputs), inputs)  # the entry stores and checks its inputs


def build_preprocessor(plain: Mapping[str, Any], data: Any, seed: int, device: str) -> Preprocessor:
    """The job's outlier -> scaler -> reducer -> resampler steps, unfitted (also for benchmarks)."""
    names = data.class_names
    return Preprocessor(
        outlier=get_registry("outlier").build(plain["outlier"], "outlier", class_names=names, seed=seed),
        scaler=get_registry("scaler").build(plain["scaler"], "scaler"),
        resampler=get_registry("resampler").build(
            plain["resampler"], "resampler", class_names=names, categorical_groups=data.encoder.categorical_groups_,
            seed=seed, device=device,
        ),  # fmt: skip
        n_numeric=data.encoder.n_numeric_,
        reducer=get_registry("reducer").build(plain["reducer"], "reducer", seed=seed),
    )


def execute(plain: Mapping[str, Any], run: Run) -> dict[str, float]:
    """The linear assembly of one job (``plain`` already validated by ``run_job``); returns the logged val/test metrics."""
    seed = int(plain["seed"])
    settings: TrainerSettings = get_registry("trainer").build(plain["trainer"], "trainer")
    device = resolve_device(settings.device)
    seed_everything(seed, settings.deterministic)
    t0 = time.perf_counter()

    data = prepare(plain["dataset"], plain.get("split", {}), seed)
    run.set_tags({"dataset_fingerprint": data.fingerprint, "device": str(device)})
    names, k = data.class_names, data.num_classes
    before = _class_counts(data.train.y, k)
    run.log_metrics({**data.info, **{f"data/train_count/{n}": float(c) for n, c in zip(names, before)}})
    quality_settings = get_registry("quality").build(plain["quality"], "quality")
    quality = drift = None
    if quality_settings.enabled:
        quality, drift, data_metrics = cached_data_reports(plain, data, quality_settings, seed)
        run.log_metrics(data_metrics)

    pre = build_preprocessor(plain, data, seed, str(device))
    cache = _resample_cache(plain, data.fingerprint, seed, str(device))
    X_train, y_train, report = pre.fit_resample(data.train.X, data.train.y, cache)
    after = _class_counts(y_train, k)
    run.log_metrics({**report, **{f"data/train_count_resampled/{n}": float(c) for n, c in zip(names, after)}})
    run.set_tags(pre.tags())

    model = get_registry("model").build(
        plain["model"], "model", in_features=X_train.shape[1], num_classes=k, image_shape=data.image_shape
    ).to(device)
    loss_fn = get_registry("loss").build(plain["loss"], "loss", class_counts=after, original_counts=before).to(device)
    value_range = (float(X_train.min()), float(X_train.max())) if len(X_train) else (0.0, 1.0)
    augment = get_registry("augment").build(plain["augment"], "augment", image_shape=data.image_shape, value_range=value_range)

    def tensor(X: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32)).to(device)

    X_val_np, X_test_np = pre.transform(data.validation.X), pre.transform(data.test.X)
    X_val, X_test = tensor(X_val_np), tensor(X_test_np)
    importance = get_registry("importance").build(plain["importance"], "importance", seed=seed)
    importance.fit(X_train, X_test_np)  # test features only, never test labels
    weights, val_weights = importance.weights(X_train), importance.weights(X_val_np)
    if weights is not None:
        ess = float(weights.sum() ** 2 / (weights**2).sum() / len(weights))
        run.log_metrics({"importance/max": float(weights.max()), "importance/ess_share": ess})
    val_loss_weight = validation_weights(data.validation.y, after, before)
    if val_weights is not None:
        val_loss_weight = val_loss_weight * val_weights
    t_train = time.perf_counter()
    history = train(
        model,
        loss_fn,
        augment,
        tensor(X_train),
        torch.as_tensor(y_train, dtype=torch.long).to(device),
        X_val,
        data.validation.y,
        settings,
        seed,
        k,
        class_names=names,
        on_epoch=lambda epoch, row: run.log_metrics(row, step=epoch),
        progress=bool(plain.get("progress", False)),
        sample_weight=None if weights is None else torch.as_tensor(weights, dtype=torch.float32).to(device),
        val_weight=val_weights,
        val_loss_weight=val_loss_weight,
    )
    metrics: dict[str, float] = {
        "time/train_s": time.perf_counter() - t_train,
        "train/best_epoch": float(history.best_epoch),
        "train/best_score": float(history.best_score),
        "train/epochs_run": float(len(history.epochs)),
        "train/stopped_early": float(history.stopped_early),
        "train/converged": float(history.converged),
    }
    run.set_tags({"train.monitor": history.monitor, "train.optimizer": history.optimizer, "converged": str(history.converged).lower()})
    warning = convergence_warning(history, settings)
    if warning:
        log.warning(warning)
    probas = {
        "val": (predict_proba(model, X_val, settings.eval_batch_size), data.validation.y),
        "test": (predict_proba(model, X_test, settings.eval_batch_size), data.test.y),
    }
    for split_name, (proba, y) in probas.items():
        metrics.update({f"{split_name}/{key}": v for key, v in classification_metrics(y, proba, names).items()})
        run.log_text(confusion_csv(confusion(y, proba.argmax(1), k), names), f"metrics/confusion_{split_name}.csv")
    if (plain.get("decision") or {}).get("tune_threshold"):
        rule = DecisionRule().fit(probas["val"][1], probas["val"][0])
        metrics.update(rule.params(names))
        for split_name, (proba, y) in probas.items():
            tuned = classification_metrics(y, proba, names, rule.predict(proba))
            metrics.update({f"{split_name}_tuned/{key}": v for key, v in tuned.items()})
        run.log_text(confusion_csv(confusion(data.test.y, rule.predict(probas["test"][0]), k), names), "metrics/confusion_test_tuned.csv")
    if quality_settings.enabled and quality_settings.plots:
        title = f"{plain.get('experiment_name', '')}: {plain['dataset']['name']}"
        log_plots_and_report(run, title, data, quality, drift, history, probas["test"][0], (before, after))
        if data.image_shape is not None and plain["augment"]["name"] != "none":
            log_augment_preview(run, augment, X_train, y_train, data.image_shape, names, seed)
    metrics["time/job_s"] = time.perf_counter() - t0
    run.log_metrics(metrics, step=len(history.epochs))  # after the per-epoch steps: the kept model
    run.log_text(json.dumps(metrics, indent=1, sort_keys=True), "metrics/final.json")
    return {**report, **metrics}
