"""Metrics: macro-F1 from the confusion matrix by hand; AUCs left out when undefined."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from runner.fitting.evaluation import classification_metrics, confusion


def test_macro_f1_is_mean_of_per_class_f1_from_confusion() -> None:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    proba = rng.dirichlet(np.ones(3), 300)
    proba[np.arange(300), y] += 0.3 * rng.random(300)
    proba /= proba.sum(1, keepdims=True)
    m = classification_metrics(y, proba, ["a", "b", "c"])
    cm = confusion(y, proba.argmax(1), 3)
    tp = np.diag(cm)
    precision, recall = tp / cm.sum(0), tp / cm.sum(1)
    f1 = 2 * precision * recall / (precision + recall)
    assert abs(m["macro_f1"] - f1.mean()) < 1e-12
    assert abs(m["recall/b"] - recall[1]) < 1e-12
    assert abs(m["balanced_accuracy"] - recall.mean()) < 1e-12
    assert abs(m["accuracy"] - tp.sum() / cm.sum()) < 1e-12


def test_trivial_majority_classifier_on_99_to_1() -> None:
    """Accuracy = ρ/(1+ρ) = 0.99 while macro-F1 and minority recall expose it (lecture §3)."""
    y = np.r_[np.zeros(990, int), np.ones(10, int)]
    proba = np.tile([0.9, 0.1], (1000, 1))
    m = classification_metrics(y, proba, ["majority", "minority"])
    assert m["accuracy"] == 0.99
    assert m["recall/minority"] == 0.0
    assert abs(m["macro_f1"] - (2 * 0.99 / 1.99) / 2) < 1e-12
    assert m["roc_auc"] == 0.5


def test_multiclass_roc_auc_is_ovr_macro_and_missing_class_drops_auc() -> None:
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 200)
    proba = rng.dirichlet(np.ones(3), 200)
    m = classification_metrics(y, proba, ["a", "b", "c"])
    manual = np.mean([roc_auc_score(y == k, proba[:, k]) for k in range(3)])
    assert abs(m["roc_auc"] - manual) < 1e-12
    assert "roc_auc" not in classification_metrics(np.zeros(5, int), proba[:5], ["a", "b", "c"])
