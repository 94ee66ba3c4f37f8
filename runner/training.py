"""The training loop: tensors resident on the device, batches by slicing, early stopping.

Why not a ``DataLoader``: for tabular rows a per-sample ``Dataset.__getitem__`` + collate costs
more than the model's step (benchmarks/bench_training_loop.py measures the ratio). Here the
whole training split is moved to the device once and each epoch slices a seeded permutation.
Per-epoch loss is accumulated on the device, so there is one host sync per epoch, not per batch.
"""
from __future__ import annotations

import copy
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
import torch
from torch import nn

from components.augment import MixedTargets
from components.errors import ConfigError
from components.registry import Interval, get_registry
from runner.evaluation import macro_f1, predict_proba

TRAINERS = get_registry("trainer")
EpochCallback = Callable[[int, dict[str, float]], None]


@TRAINERS.register("default")
@dataclass
class TrainerSettings:
    """Optimiser, schedule and device settings (``conf/trainer/default.yaml``)."""

    optimizer: Literal["adam", "adamw", "sgd"] = "adam"
    lr: Annotated[float, Interval(0, None, "neither")] = 1e-3
    momentum: Annotated[float, Interval(0, 1)] = 0.9
    weight_decay: Annotated[float, Interval(0, None)] = 0.0
    batch_size: Annotated[int, Interval(1, None)] = 256
    epochs: Annotated[int, Interval(1, None)] = 20
    patience: Annotated[int, Interval(0, None)] = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    deterministic: bool = True
    eval_batch_size: Annotated[int, Interval(1, None)] = 65_536


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed python, numpy and torch in one place; on CPU identical configs give identical runs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device: got 'cuda' but no CUDA device is available; use 'auto' or 'cpu'.")
    return torch.device(name)


def make_optimizer(settings: TrainerSettings, params: Any) -> torch.optim.Optimizer:
    if settings.optimizer == "sgd":
        return torch.optim.SGD(params, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay)
    cls = torch.optim.AdamW if settings.optimizer == "adamw" else torch.optim.Adam
    return cls(params, lr=settings.lr, weight_decay=settings.weight_decay)


@dataclass
class History:
    """Per-epoch values and the epoch whose weights were kept."""

    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_val_macro_f1: float = float("-inf")
    stopped_early: bool = False


def train(
    model: nn.Module,
    loss_fn: nn.Module,
    augment: Callable[..., tuple[torch.Tensor, torch.Tensor]],
    X_train: torch.Tensor,
    y_train: torch.Tensor,
    X_val: torch.Tensor,
    y_val: np.ndarray,
    settings: TrainerSettings,
    seed: int,
    num_classes: int,
    on_epoch: EpochCallback | None = None,
    progress: bool = False,
    sample_weight: torch.Tensor | None = None,
    val_weight: np.ndarray | None = None,
) -> History:
    """Fit ``model`` in place and restore the weights of the best validation macro-F1 epoch.

    ``sample_weight`` (one per training row, e.g. importance weights) multiplies each row's loss;
    ``val_weight`` weighs the validation macro-F1 that picks the kept epoch.
    """
    device = X_train.device
    optimizer = make_optimizer(settings, model.parameters())
    generator = torch.Generator(device=device).manual_seed(seed)
    history = History()
    best_state: dict[str, torch.Tensor] | None = None
    n, bs = X_train.shape[0], settings.batch_size
    if n == 0:
        raise ConfigError("dataset: the training split is empty after preprocessing.")
    epochs = range(settings.epochs)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(epochs, desc="train", unit="epoch", leave=False, dynamic_ncols=True)
        epochs = bar
    for epoch in epochs:
        model.train()
        loss_fn.set_epoch(epoch)
        perm = torch.randperm(n, generator=generator, device=device)
        total = torch.zeros((), device=device)
        seen = 0
        for start in range(0, n, bs):
            idx = perm[start : start + bs]
            if idx.numel() == 1 and n > 1:  # a batch of one breaks batch norm; its row is seen next epoch
                continue
            xb, yb = augment(X_train[idx], y_train[idx], generator)  # training batches only
            sw = None if sample_weight is None else sample_weight[idx]
            logits = model(xb)
            if isinstance(yb, MixedTargets):  # mixup: λ·L(y_a) + (1 − λ)·L(y_b), any loss
                loss = yb.lam * loss_fn(logits, yb.y_a, sw) + (1 - yb.lam) * loss_fn(logits, yb.y_b, sw)
            else:
                loss = loss_fn(logits, yb, sw)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.detach() * idx.numel()
            seen += idx.numel()
        train_loss = float(total.item() / max(seen, 1))
        if not np.isfinite(train_loss):
            raise FloatingPointError(
                f"training diverged at epoch {epoch}: loss is {train_loss}. Lower trainer.lr (now {settings.lr}) "
                f"or scale the features (scaler=standard)."
            )
        val_f1 = macro_f1(y_val, predict_proba(model, X_val, settings.eval_batch_size).argmax(1), num_classes, val_weight)
        row = {"train/loss": train_loss, "val/macro_f1": val_f1}
        if hasattr(loss_fn, "stage"):  # staged losses (enhanced_focal) log which stage ran
            row["train/loss_stage"] = float(loss_fn.stage)
        history.epochs.append(row)
        if on_epoch:
            on_epoch(epoch, row)
        if bar is not None:
            bar.set_postfix(loss=f"{train_loss:.4f}", val_f1=f"{val_f1:.4f}")
        if val_f1 > history.best_val_macro_f1:
            history.best_val_macro_f1, history.best_epoch = val_f1, epoch
            best_state = copy.deepcopy(model.state_dict())
        elif settings.patience and epoch - history.best_epoch >= settings.patience:
            history.stopped_early = True
            break
    if bar is not None:
        bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return history
