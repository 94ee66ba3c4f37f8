"""Plots logged as MLflow artifacts (matplotlib, Agg backend: no display needed)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def confusion_matrix(cm: np.ndarray, names: list[str], path: Path, title: str) -> Path:
    plt = _plt()
    side = max(4.0, 1.2 + 0.6 * len(names))
    fig, ax = plt.subplots(figsize=(side, side * 0.9))
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    top = cm.max() if cm.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", color="white" if cm[i, j] > top / 2 else "black", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def roc_pr(y: np.ndarray, proba: np.ndarray, names: list[str], path: Path, pos_label: int | None = None) -> Path:
    """ROC and precision-recall curves (the positive class ``pos_label`` when binary, default 1;
    one-vs-rest otherwise). PR curves are steps (precision is not interpolated between
    thresholds) with the average precision, which is what ``pr_auc`` reports, in the legend."""
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_curve

    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4.2))
    classes = [1 if pos_label is None else pos_label] if len(names) == 2 else list(range(min(len(names), 10)))
    for k in classes:
        truth = (y == k).astype(int)
        if truth.min() == truth.max():
            continue
        fpr, tpr, _ = roc_curve(truth, proba[:, k])
        prec, rec, _ = precision_recall_curve(truth, proba[:, k])
        a.plot(fpr, tpr, label=f"{names[k]} (AUC {auc(fpr, tpr):.3f})")
        ap = average_precision_score(truth, proba[:, k])
        b.step(rec, prec, where="post", label=f"{names[k]} (AP {ap:.3f}, base rate {truth.mean():.3f})")
    a.plot([0, 1], [0, 1], "k--", lw=0.8)
    positive = f": positive = {names[classes[0]]}" if len(names) == 2 else ": one-vs-rest"
    a.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC (test{positive})")
    b.set(xlabel="recall", ylabel="precision", title=f"Precision-recall (test{positive})", ylim=(0, 1.02))
    a.legend(fontsize=7)
    b.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def training_curves(epochs: list[dict[str, float]], best_epoch: int, path: Path, monitor: str = "val/loss") -> Path:
    """Losses on the left axis, validation scores on the right, the kept epoch marked."""
    from matplotlib.ticker import MaxNLocator

    plt = _plt()
    fig, a = plt.subplots(figsize=(6.5, 4))
    x = np.arange(len(epochs))
    losses = [k for k in ("train/loss", "val/loss") if all(k in e for e in epochs)]
    scores = [k for k in ("val/macro_f1", "val/roc_auc") if all(k in e for e in epochs)]
    for key, color in zip(losses, ("tab:blue", "tab:cyan")):
        a.plot(x, [e[key] for e in epochs], color=color, label=key.replace("/", " "))
    a.set(xlabel="epoch", ylabel="loss")
    a.xaxis.set_major_locator(MaxNLocator(integer=True))
    b = a.twinx()
    for key, color in zip(scores, ("tab:orange", "tab:green")):
        b.plot(x, [e[key] for e in epochs], color=color, label=key.replace("/", " "))
    b.set_ylabel("validation score")
    if best_epoch >= 0:
        a.axvline(best_epoch, color="gray", ls=":", label=f"kept: epoch {best_epoch} (best {monitor})")
    lines = a.get_legend_handles_labels()[0] + b.get_legend_handles_labels()[0]
    a.legend(lines, [line.get_label() for line in lines], fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3)
    a.set_title("Training and validation")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def class_counts(before: np.ndarray, after: np.ndarray, names: list[str], path: Path) -> Path:
    plt = _plt()
    fig, a = plt.subplots(figsize=(max(4.0, 1.5 + 0.8 * len(names)), 4.2))
    x = np.arange(len(names))
    a.bar(x - 0.2, before, 0.4, label="before")
    a.bar(x + 0.2, after, 0.4, label="after outliers + resampling")
    for xi, v in zip(x, before):
        a.text(xi - 0.2, v, str(int(v)), ha="center", va="bottom", fontsize=7)
    for xi, v in zip(x, after):
        a.text(xi + 0.2, v, str(int(v)), ha="center", va="bottom", fontsize=7)
    a.set_xticks(x, names, rotation=45 if len(names) > 4 else 0)
    a.set(ylabel="training rows", title="Class counts (training split)")
    counts = np.r_[before, after]
    nonzero = counts[counts > 0]
    if len(nonzero) and nonzero.max() / nonzero.min() > 50:  # long tails only: a log axis on 111..117 rows exaggerates
        a.set_yscale("log")
    a.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def drift_histograms(train: np.ndarray, test: np.ndarray, drift: dict[str, Any], names: list[str], path: Path, top: int = 4) -> Path:
    """Train vs test densities of the ``top`` features by PSI (drifted or not: the title says how many are)."""
    plt = _plt()
    rows = sorted(drift["features"], key=lambda r: -r["psi"])[:top]
    fig, axes = plt.subplots(1, max(1, len(rows)), figsize=(3.6 * max(1, len(rows)), 3.4), squeeze=False)
    for ax, row in zip(axes[0], rows):
        j = names.index(row["feature"])
        lo, hi = np.percentile(np.r_[train[:, j], test[:, j]], [0.5, 99.5])
        bins = np.linspace(lo, hi if hi > lo else lo + 1, 40)
        for X, label in ((train, "train"), (test, "test")):  # one filled outline each: 40 bar patches drew ~2x slower
            ax.hist(X[:, j], bins=bins, density=True, alpha=0.5, label=label, histtype="stepfilled")
        ax.set_title(f"{row['feature']}\nPSI {row['psi']:.3f}  KS {row['ks']:.3f}", fontsize=9)
        ax.set_xlabel("value", fontsize=8)
        ax.set_ylabel("density", fontsize=8)
        ax.legend(fontsize=7)
    flagged = sum(bool(r.get("drifted")) for r in drift["features"])
    fig.suptitle(f"The {len(rows)} features with the largest PSI ({flagged} of {len(drift['features'])} flagged drifted; "
                 f"domain AUC {drift['domain_auc']:.3f})", fontsize=10)  # fmt: skip
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def augment_grid(
    augment: Any, X: np.ndarray, y: np.ndarray, image_shape: tuple[int, ...], names: list[str], path: Path,
    samples: int = 8, copies: int = 4, seed: int = 0,
) -> Path:
    """Rows: one original image, then ``copies`` augmented versions, with the (kept) label."""
    import torch

    plt = _plt()
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(X), min(samples, len(X)), replace=False)
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    xb = torch.as_tensor(np.ascontiguousarray(X[rows], dtype=np.float32))
    yb = torch.as_tensor(y[rows])
    augmented = [augment(xb, yb, generator)[0].numpy() for _ in range(copies)]
    fig, axes = plt.subplots(len(rows), copies + 1, figsize=(1.3 * (copies + 1), 1.3 * len(rows)), squeeze=False)
    lo, hi = float(X.min()), float(X.max())

    def show(ax: Any, flat: np.ndarray) -> None:
        img = flat.reshape(image_shape)
        img = img[0] if img.shape[0] == 1 else np.transpose(img, (1, 2, 0))
        ax.imshow((img - lo) / (hi - lo if hi > lo else 1), cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])

    for r, row in enumerate(rows):
        show(axes[r][0], X[row])
        axes[r][0].set_ylabel(f"label {names[y[row]]}", fontsize=8)
        for c in range(copies):
            show(axes[r][c + 1], augmented[c][r])
    axes[0][0].set_title("original", fontsize=8)
    for c in range(copies):
        axes[0][c + 1].set_title(f"augmented {c + 1}", fontsize=8)
    fig.suptitle(f"{type(augment).__name__}: labels are kept; check that they still fit", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
