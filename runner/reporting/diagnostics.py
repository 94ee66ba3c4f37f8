"""Quality, EDA and drift on the raw splits (before training), and the plots/report after it."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from components.drift import drift_metrics, drift_report
from components.quality import quality_metrics, quality_report
from runner.reporting import plots
from runner.tables.data import PreparedData
from runner.fitting.evaluation import confusion
from runner.reporting.report import feature_csvs, write_report
from runner.tracker.tracking import Run


def data_reports(data: PreparedData, settings: Any, seed: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, float]]:
    """(quality report, drift report, metrics) for the training split and train -> test."""
    train, test, names = data.one_hot(data.train.X), data.one_hot(data.test.X), data.one_hot_names
    quality = quality_report(train, data.train.y, names, data.class_names, settings, seed, data.raw_train, data.raw_features)
    drift = drift_report(
        train, test, names, settings.bins, settings.psi_drifted, seed, settings.max_rows, settings.max_cost_s, settings.drift_alpha
    )
    per_feature, cap = settings.per_feature_metrics, settings.max_feature_metrics
    metrics = {**quality_metrics(quality, cap, per_feature), **drift_metrics(drift, cap, per_feature)}
    return quality, drift, metrics


def log_data_tables(run: Run, quality: dict[str, Any] | None, drift: dict[str, Any] | None) -> None:
    """The per-feature tables as ``report/feature_stats.csv`` and ``report/feature_drift.csv``
    (whether or not plots are drawn): per-feature numbers are artifacts, not metrics."""
    for name, text in feature_csvs(quality, drift).items():
        run.log_text(text, f"report/{name}")


def log_plots_and_report(
    run: Run,
    title: str,
    data: PreparedData,
    quality: dict[str, Any] | None,
    drift: dict[str, Any] | None,
    history: Any = None,
    test_proba: np.ndarray | None = None,
    counts: tuple[np.ndarray, np.ndarray] | None = None,
    folder: Path | None = None,
    pos_label: int | None = None,
) -> dict[str, Path]:
    """Draw the plots, write the HTML + JSON report, log both as artifacts; returns the files."""
    tmp = tempfile.TemporaryDirectory() if folder is None else None
    out = Path(tmp.name if tmp else folder)  # type: ignore[union-attr]
    out.mkdir(parents=True, exist_ok=True)
    images: dict[str, Path] = {}
    names = data.class_names
    try:
        if test_proba is not None:
            cm = confusion(data.test.y, test_proba.argmax(1), len(names))
            images["confusion matrix (test)"] = plots.confusion_matrix(cm, names, out / "confusion_test.png", "Confusion matrix (test)")
            images["ROC and PR curves (test)"] = plots.roc_pr(data.test.y, test_proba, names, out / "roc_pr_test.png", pos_label)
        if history is not None and history.epochs:
            images["training curves"] = plots.training_curves(history.epochs, history.best_epoch, out / "training_curves.png", history.monitor)
        if counts is not None:
            images["class counts"] = plots.class_counts(counts[0], counts[1], names, out / "class_counts.png")
        if drift is not None and drift["features"]:
            train, test = data.one_hot(data.train.X), data.one_hot(data.test.X)
            images["train vs test: largest PSI"] = plots.drift_histograms(train, test, drift, data.one_hot_names, out / "drift.png")
        html_path, json_path = write_report(out, title, quality, drift, images)
        for path in images.values():
            run.log_file(str(path), "plots")
        run.log_file(str(html_path), "report")
        run.log_file(str(json_path), "report")
        return {**images, "html": html_path, "json": json_path}
    finally:
        if tmp is not None:
            tmp.cleanup()


def log_augment_preview(run: Run, augment: Any, X: np.ndarray, y: np.ndarray, image_shape: tuple[int, ...], names: list[str], seed: int) -> None:
    """The augmentation preview grid (originals and augmented samples) as ``plots/augment_preview.png``."""
    with tempfile.TemporaryDirectory() as tmp:
        path = plots.augment_grid(augment, X, y, image_shape, names, Path(tmp) / "augment_preview.png", seed=seed)
        run.log_file(str(path), "plots")
