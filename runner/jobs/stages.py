"""The stages of a job, in order: setup -> load -> data_report -> preprocess -> importance -> fit
-> evaluate -> tune_threshold -> export_model (runner/model/model_export.py) -> report -> finish (the frame
is :mod:`runner.jobs.state`).

Each stage reads what earlier stages left in :class:`~runner.jobs.state.JobState`, fills its own part
and records what it wants logged in its :class:`~runner.jobs.state.Logged`; none of them touches the
tracker. ``runner.quality`` runs :data:`EDA_STAGES`, ``runner.preview`` :data:`PREVIEW_STAGES`.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from components import get_registry
from runner.jobs.cache import ResampleCache, cache_key
from runner.reporting.diagnostics import log_augment_preview, log_data_tables, log_plots_and_report
from runner.fitting.evaluation import classification_metrics, confusion, confusion_csv, positive_class, predict_proba
from runner.jobs.inputs import log_dataset_inputs
from runner.model.model_export import export_model  # the fitted pipeline as runs:/<id>/model
from runner.tables.streamed_fit import StreamedPreprocessor
from runner.tables.streaming import prepare_within_budget, report_view
from runner.fitting.monitor import validation_weights
from runner.tables.pipeline import Preprocessor
from runner.jobs.report_cache import cached_data_reports  # one report per (data, split, seed, quality) across a sweep
from runner.jobs.state import JobState, Logged, Stage
from runner.fitting.threshold import DecisionRule
from runner.fitting.settings import resolve_device, seed_everything
from runner.fitting.training import convergence_warning, train

log = logging.getLogger("runner")


def _counts(counts: np.ndarray, names: list[str], prefix: str) -> dict[str, float]:
    return {f"{prefix}/{n}": float(c) for n, c in zip(names, counts)}


def setup(state: JobState, logged: Logged) -> None:
    """Trainer settings, device and seeds, before any data is read."""
    state.settings = get_registry("trainer").build(state.plain["trainer"], "trainer")
    state.device = str(resolve_device(state.settings.device))
    seed_everything(state.seed, state.settings.deterministic)


def load(state: JobState, logged: Logged) -> None:
    """Load, split (stratified, seeded) and encode the dataset (encoder fitted on train)."""
    data = state.data = prepare_within_budget(state.plain, state.seed)  # in memory, or streamed above data.memory_budget
    state.before = np.bincount(data.train.y, minlength=data.num_classes)
    logged.set_tags({"dataset_fingerprint": data.fingerprint, "device": state.device, "data.path": data.path})
    log_dataset_inputs(logged, data, state.plain["dataset"])
    logged.log_metrics({**data.info, **_counts(state.before, data.class_names, "data/train_count")})


def data_report(state: JobState, logged: Logged) -> None:
    """Quality, EDA and drift on the raw splits (``quality=none`` skips it); read from the report
    cache (runner/jobs/report_cache.py) when another job of the sweep computed the same one."""
    settings = state.quality_settings = get_registry("quality").build(state.plain["quality"], "quality")
    if settings.enabled:
        state.quality, state.drift, metrics = cached_data_reports(state.plain, state.data, settings, state.seed, view=report_view)
        logged.log_metrics(metrics)
        log_data_tables(logged, state.quality, state.drift)


def _positive(state: JobState) -> int | None:
    """``evaluation.pos_label`` resolved on the training counts (binary only; the minority by default)."""
    return positive_class((state.plain.get("evaluation") or {}).get("pos_label", "minority"), state.data.class_names, state.before)


def build_preprocessor(plain: Mapping[str, Any], data: Any, seed: int, device: str) -> Preprocessor:
    """The job's outlier -> scaler -> reducer -> resampler steps, unfitted (also for benchmarks)."""
    runtime = JobState(plain, seed, device, data=data).runtime()
    return Preprocessor(
        outlier=get_registry("outlier").build(plain["outlier"], "outlier", **runtime),
        scaler=get_registry("scaler").build(plain["scaler"], "scaler", **runtime),
        resampler=get_registry("resampler").build(plain["resampler"], "resampler", **runtime),
        roles=data.encoder.roles_,
        reducer=get_registry("reducer").build(plain["reducer"], "reducer", **runtime),
    )


def resample_cache(plain: Mapping[str, Any], fingerprint: str, seed: int, device: str) -> ResampleCache | None:
    """The cache entry for this job's resampled training data: keyed by everything upstream."""
    cache_cfg = plain.get("cache") or {}
    if not cache_cfg.get("enabled") or plain["resampler"]["name"] == "none":
        return None
    inputs = dict(
        data=fingerprint, split=plain.get("split", {}), seed=seed, outlier=plain["outlier"],
        scaler=plain["scaler"], reducer=plain["reducer"], resampler=plain["resampler"], device=device,
    )  # fmt: skip
    return ResampleCache(cache_cfg["dir"], cache_key(**inputs), inputs)  # the entry stores and checks its inputs


def preprocess(state: JobState, logged: Logged) -> None:
    """Fit outlier -> scaler -> reducer -> resampler on train; transform validation and test."""
    data = state.data
    state.pre = build_preprocessor(state.plain, data, state.seed, state.device)
    if data.path == "streamed":
        state.pre = StreamedPreprocessor(state.pre)  # type: ignore[assignment]
    cache = resample_cache(state.plain, data.fingerprint, state.seed, state.device)
    state.X_train, state.y_train, report = state.pre.fit_resample(data.train.X, data.train.y, cache)
    state.after = np.bincount(state.y_train, minlength=data.num_classes)
    state.preprocessing.update(report)
    logged.log_metrics({**report, **_counts(state.after, data.class_names, "data/train_count_resampled")})
    logged.set_tags(state.pre.tags())
    state.X_val, state.X_test = state.pre.transform(data.validation.X), state.pre.transform(data.test.X)


def importance(state: JobState, logged: Logged) -> None:
    """Importance weights for covariate shift, fitted on training and test features (never test labels)."""
    weigher = state.build("importance")
    weigher.fit(state.X_train, state.X_test)
    state.weights, state.val_weights = weigher.weights(state.X_train), weigher.weights(state.X_val)
    w = state.weights
    if w is not None:  # Kish's effective sample size, as a share of the rows
        logged.log_metrics({"importance/max": float(w.max()), "importance/ess_share": float(w.sum() ** 2 / (w**2).sum() / len(w))})


def _tensor(X: np.ndarray, device: str) -> Any:
    import torch

    if not isinstance(X, np.ndarray):  # the streamed rows: batches are read by the trainer
        return X
    return torch.as_tensor(np.ascontiguousarray(X, dtype=np.float32)).to(device)


def fit(state: JobState, logged: Logged) -> None:
    """Build model, loss and augmentation with the runtime context and train (early stopping)."""
    import torch

    data, settings, device = state.data, state.settings, state.device
    state.model = state.build("model").to(device)
    loss_fn = state.build("loss").to(device)
    state.augment = state.build("augment")
    val_loss_weight = validation_weights(data.validation.y, state.after, state.before)
    if state.val_weights is not None:
        val_loss_weight = val_loss_weight * state.val_weights
    t_train = time.perf_counter()
    history = state.history = train(
        state.model,
        loss_fn,
        state.augment,
        _tensor(state.X_train, device),
        torch.as_tensor(state.y_train, dtype=torch.long).to(device),
        _tensor(state.X_val, device),
        data.validation.y,
        settings,
        state.seed,
        data.num_classes,
        class_names=data.class_names,
        on_epoch=lambda epoch, row: state.emit(row, epoch),
        progress=bool(state.plain.get("progress", False)),
        sample_weight=None if state.weights is None else torch.as_tensor(state.weights, dtype=torch.float32).to(device),
        val_weight=state.val_weights,
        val_loss_weight=val_loss_weight,
    )
    state.final.update({
        "time/train_s": time.perf_counter() - t_train,
        "train/best_epoch": float(history.best_epoch),
        "train/best_score": float(history.best_score),
        "train/epochs_run": float(len(history.epochs)),
        "train/stopped_early": float(history.stopped_early),
        "train/converged": float(history.converged),
    })  # fmt: skip
    logged.set_tags({"train.monitor": history.monitor, "train.optimizer": history.optimizer, "converged": str(history.converged).lower()})
    warning = convergence_warning(history, settings)
    if warning:
        log.warning(warning)


def evaluate(state: JobState, logged: Logged) -> None:
    """Class probabilities and metrics on validation and test, with their confusion matrices."""
    data, batch = state.data, state.settings.eval_batch_size
    state.probas = {
        "val": (predict_proba(state.model, _tensor(state.X_val, state.device), batch), data.validation.y),
        "test": (predict_proba(state.model, _tensor(state.X_test, state.device), batch), data.test.y),
    }
    for split, (proba, y) in state.probas.items():
        state.final.update({f"{split}/{key}": v for key, v in classification_metrics(y, proba, data.class_names, pos_label=_positive(state)).items()})
        logged.log_text(confusion_csv(confusion(y, proba.argmax(1), data.num_classes), data.class_names), f"metrics/confusion_{split}.csv")


def tune_threshold(state: JobState, logged: Logged) -> None:
    """``decision.tune_threshold``: a decision rule tuned on validation, scored on both splits."""
    if not (state.plain.get("decision") or {}).get("tune_threshold"):
        return
    names = state.data.class_names
    state.rule = DecisionRule().fit(state.probas["val"][1], state.probas["val"][0])
    state.final.update(state.rule.params(names))
    for split, (proba, y) in state.probas.items():
        tuned = classification_metrics(y, proba, names, state.rule.predict(proba), pos_label=_positive(state))
        state.final.update({f"{split}_tuned/{key}": v for key, v in tuned.items()})
    test_proba, y_test = state.probas["test"]
    cm = confusion(y_test, state.rule.predict(test_proba), len(names))
    logged.log_text(confusion_csv(cm, names), "metrics/confusion_test_tuned.csv")


def report(state: JobState, logged: Logged) -> None:
    """Plots and the HTML report (``quality.plots``), and the augmentation preview on images."""
    settings, data, plain = state.quality_settings, state.data, state.plain
    if not (settings.enabled and settings.plots):
        return
    title = f"{plain.get('experiment_name', '')}: {plain['dataset']['name']}"
    counts = (state.before, state.after)
    log_plots_and_report(logged, title, report_view(data), state.quality, state.drift, state.history, state.probas["test"][0], counts, pos_label=_positive(state))
    if data.image_shape is not None and plain["augment"]["name"] != "none":
        log_augment_preview(logged, state.augment, state.X_train, state.y_train, data.image_shape, data.class_names, state.seed)


def finish(state: JobState, logged: Logged) -> None:
    """The job's final metrics, logged after the per-epoch steps (they describe the kept model)."""
    state.final["time/job_s"] = time.perf_counter() - state.started
    logged.log_metrics(state.final, step=len(state.history.epochs))
    logged.log_text(json.dumps(state.final, indent=1, sort_keys=True), "metrics/final.json")


JOB_STAGES: tuple[Stage, ...] = (
    setup, load, data_report, preprocess, importance, fit, evaluate, tune_threshold, export_model, report, finish,
)  # fmt: skip
EDA_STAGES: tuple[Stage, ...] = (load, data_report)
PREVIEW_STAGES: tuple[Stage, ...] = (load, preprocess)
