"""Metrics on validation and test (lecture §6), computed with scikit-learn.

Headline: macro-F1 and ROC-AUC (binary, or one-vs-rest macro for multi-class), never accuracy
alone: at ρ = 99 predicting the majority everywhere already scores 99% accuracy.
"""
from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from sklearn import metrics as skm
from sklearn.preprocessing import label_binarize

from components.errors import ConfigError
from components.quality import safe

EVALUATION_KEYS = {"pos_label"}


def check_evaluation(cfg: Mapping[str, Any] | None) -> None:
    """``evaluation.*`` before any data is read: known keys, and a pos_label of a usable type."""
    for key in cfg or {}:
        if key not in EVALUATION_KEYS:
            raise ConfigError(f"evaluation.{key}: unknown key. Accepted: {', '.join(sorted(EVALUATION_KEYS))}.")
    value = (cfg or {}).get("pos_label", "minority")
    if isinstance(value, bool) or not isinstance(value, (int, str)) or (isinstance(value, int) and value < 0):
        raise ConfigError(f"evaluation.pos_label: got {value!r}; expected 'minority', a class index (0 or 1) or a class name.")


def positive_class(value: Any, class_names: list[str], train_counts: np.ndarray) -> int | None:
    """The positive class of a binary task for ROC/PR curves and ``pr_auc`` (None when K ≠ 2).

    ``minority`` (default): the class with fewer training rows (class 1 on a tie), the usual
    convention for imbalanced data: breast_cancer's positive is "malignant", not the majority
    "benign" that index 1 happens to be. An index or a class name overrides it.
    """
    if len(class_names) != 2:
        return None
    if value is None or value == "minority":
        counts = np.asarray(train_counts)
        return 0 if counts[0] < counts[1] else 1
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return int(value)
    if isinstance(value, str) and value in class_names:
        return class_names.index(value)
    raise ConfigError(
        f"evaluation.pos_label: got {value!r}; expected 'minority', 0, 1 or a class name ({', '.join(map(repr, class_names))})."
    )


@torch.no_grad()
def predict_logits(model: torch.nn.Module, X: torch.Tensor, batch_size: int = 65_536) -> torch.Tensor:
    """Logits for rows already on the model's device, in large batches, in eval mode."""
    was_training = model.training
    model.eval()
    out = [model(X[i : i + batch_size]) for i in range(0, X.shape[0], batch_size)]
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros((0, 0), device=X.device)


def predict_proba(model: torch.nn.Module, X: torch.Tensor, batch_size: int = 65_536) -> np.ndarray:
    """Class probabilities for rows already on the model's device, in large batches."""
    if X.shape[0] == 0:
        return np.zeros((0, 0), dtype=np.float32)
    return torch.softmax(predict_logits(model, X, batch_size).float(), dim=1).cpu().numpy()


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int, sample_weight: np.ndarray | None = None) -> float:
    return float(
        skm.f1_score(y_true, y_pred, average="macro", labels=np.arange(num_classes), zero_division=0, sample_weight=sample_weight)
    )


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, class_names: list[str], y_pred: np.ndarray | None = None, pos_label: int | None = None
) -> dict[str, float]:
    """Macro-F1, ROC-AUC, PR-AUC, balanced accuracy, accuracy and per-class P/R/F1.

    ``y_pred`` defaults to the argmax (a tuned decision rule passes its own); AUCs use the
    probabilities and need every class present in ``y_true``, otherwise they are left out.
    Binary ``pr_auc`` is the average precision of class ``pos_label`` (default 1; the job passes
    :func:`positive_class`); ROC-AUC does not depend on which class is positive.
    """
    k = len(class_names)
    labels = np.arange(k)
    y_pred = proba.argmax(axis=1) if y_pred is None else y_pred
    out = {
        "macro_f1": macro_f1(y_true, y_pred, k),
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "log_loss": float(skm.log_loss(y_true, np.clip(proba, 1e-12, 1), labels=labels)),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["balanced_accuracy"] = float(skm.balanced_accuracy_score(y_true, y_pred))
    present = np.unique(y_true)
    if len(present) == k and k >= 2:
        if k == 2:
            pos = 1 if pos_label is None else pos_label
            out["roc_auc"] = float(skm.roc_auc_score(y_true == pos, proba[:, pos]))
            out["pr_auc"] = float(skm.average_precision_score(y_true == pos, proba[:, pos]))
        else:
            out["roc_auc"] = float(skm.roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=labels))
            onehot = label_binarize(y_true, classes=labels)
            out["pr_auc"] = float(skm.average_precision_score(onehot, proba, average="macro"))
    p, r, f, support = skm.precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    for i, name in enumerate(class_names):
        n = safe(name)
        out[f"precision/{n}"] = float(p[i])
        out[f"recall/{n}"] = float(r[i])
        out[f"f1/{n}"] = float(f[i])
        out[f"support/{n}"] = float(support[i])
    return out


def confusion(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Rows: true class, columns: predicted class."""
    return skm.confusion_matrix(y_true, y_pred, labels=np.arange(num_classes))


def confusion_csv(matrix: np.ndarray, class_names: list[str]) -> str:
    header = "true\\pred," + ",".join(class_names)
    rows = [f"{name}," + ",".join(str(int(v)) for v in row) for name, row in zip(class_names, matrix)]
    return "\n".join([header, *rows]) + "\n"


def below_chance(metrics: dict[str, float]) -> list[str]:
    """One line per split whose ROC-AUC is below 0.5, the chance level for any number of classes.

    A model worse than chance usually means a preprocessing step produced junk (whitening a
    singular covariance did, issue 14): the runner warns and tags the run instead of staying silent.
    """
    return [
        f"{split}/roc_auc = {metrics[f'{split}/roc_auc']:.3f} is below chance (0.5): check the preprocessing "
        f"(the scaler, reducer and outlier steps' warnings) before trusting this run"
        for split in ("val", "test")
        if f"{split}/roc_auc" in metrics and metrics[f"{split}/roc_auc"] < 0.5
    ]
