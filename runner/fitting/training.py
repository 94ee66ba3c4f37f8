"""The training loop: tensors resident on the device, batches by slicing, a monitored budget.

Why not a ``DataLoader``: for tabular rows a per-sample ``Dataset.__getitem__`` + collate costs
more than the model's step (benchmarks/bench_training_loop.py measures the ratio). Here the
whole training split is moved to the device once and each epoch slices a seeded permutation.
Per-epoch loss is accumulated on the device, so there is one host sync per epoch, not per batch.

Why these defaults (measured, see README "Training"): ``epochs`` is a budget, not a schedule;
early stopping on a smooth validation metric (``runner.fitting.monitor``) ends training when it stops
improving, the learning rate is halved on plateaus, and the output bias starts at the log class
priors (the focal-loss paper's initialisation), so a rare class does not spend hundreds of steps
moving a zero bias to log(1/30). A convex model (``model=logistic``) with no batch augmentation
is fitted full-batch by L-BFGS with scikit-learn's L2 term: the same model as scikit-learn's
``LogisticRegression``, converged to a tolerance instead of stopped by an epoch count; once
converged the optimum is kept (an earlier iterate with a lower validation loss would be early
stopping on top of the L2 term, i.e. another model). A convex fit that does not converge in the
budget (no L2, separable classes) is stopped and selected by the monitor like any other.
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from components.augment import MixedTargets
from components.errors import ConfigError
from runner.fitting.evaluation import predict_logits
from runner.fitting.lbfgs import fit_lbfgs
from runner.fitting.monitor import Monitor, check_monitor, epoch_metrics, resolve_mode
from runner.fitting.settings import TrainerSettings, make_optimizer, resolve_optimizer

EpochCallback = Callable[[int, dict[str, float]], None]
log = logging.getLogger("runner")


def init_output_bias(model: nn.Module, y: torch.Tensor, num_classes: int, weight: torch.Tensor | None) -> None:
    """Set the last linear layer's bias to log class priors of the rows the model is fed."""
    layers = [m for m in model.modules() if isinstance(m, nn.Linear) and m.out_features == num_classes]
    if not layers or layers[-1].bias is None:
        return
    counts = torch.bincount(y, weights=weight, minlength=num_classes).double()
    prior = (counts + 1e-3) / (counts.sum() + 1e-3 * num_classes)  # never log(0) for an empty class
    with torch.no_grad():
        layers[-1].bias.copy_(prior.log().to(layers[-1].bias))


@dataclass
class History:
    """Per-epoch values, the kept epoch and how training ended."""

    monitor: str
    optimizer: str
    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = -1
    best_score: float = float("nan")
    stopped_early: bool = False
    converged: bool = False


class _Schedule:
    """The learning-rate schedule, stepped once per epoch with the monitored value."""

    def __init__(self, name: str, optimizer: torch.optim.Optimizer, settings: TrainerSettings, mode: str) -> None:
        self.sched: Any = None
        if name == "plateau":
            self.sched = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode=mode, factor=0.5, patience=max(1, settings.patience // 3), threshold=settings.min_delta,
                threshold_mode="abs",
            )  # fmt: skip
        elif name == "cosine":
            self.sched = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=settings.epochs)

    def step(self, value: float) -> None:
        if isinstance(self.sched, torch.optim.lr_scheduler.ReduceLROnPlateau):
            self.sched.step(value)
        elif self.sched is not None:
            self.sched.step()


def _step(model, loss_fn, augment, xb, yb, w, optimizer, generator, penalty) -> torch.Tensor:  # noqa: ANN001
    """One optimiser step on one batch; returns the (undetached) data loss."""
    xb, yb = augment(xb, yb, generator)  # training batches only
    logits = model(xb)
    if isinstance(yb, MixedTargets):  # mixup: λ·L(y_a) + (1 − λ)·L(y_b), any loss
        loss = yb.lam * loss_fn(logits, yb.y_a, w) + (1 - yb.lam) * loss_fn(logits, yb.y_b, w)
    else:
        loss = loss_fn(logits, yb, w)
    objective = loss + penalty() if penalty is not None else loss
    optimizer.zero_grad(set_to_none=True)
    objective.backward()
    optimizer.step()
    return loss


def _minibatch_epoch(model, loss_fn, augment, X, y, sw, optimizer, generator, bs, penalty) -> float:  # noqa: ANN001
    n = X.shape[0]
    perm = torch.randperm(n, generator=generator, device=X.device)
    total = torch.zeros((), device=X.device)
    seen = 0
    for start in range(0, n, bs):
        idx = perm[start : start + bs]
        if idx.numel() == 1 and n > 1:  # a batch of one breaks batch norm; its row is seen next epoch
            continue
        loss = _step(model, loss_fn, augment, X[idx], y[idx], None if sw is None else sw[idx], optimizer, generator, penalty)
        total += loss.detach() * idx.numel()
        seen += idx.numel()
    return float(total.item() / max(seen, 1))


def train(
    model: nn.Module,
    loss_fn: nn.Module,
    augment: Callable[..., tuple[torch.Tensor, Any]],
    X_train: torch.Tensor | Any,
    y_train: torch.Tensor,
    X_val: torch.Tensor,
    y_val: np.ndarray,
    settings: TrainerSettings,
    seed: int,
    num_classes: int,
    *,
    class_names: list[str] | None = None,
    on_epoch: EpochCallback | None = None,
    progress: bool = False,
    sample_weight: torch.Tensor | None = None,
    val_weight: np.ndarray | None = None,
    val_loss_weight: np.ndarray | None = None,
) -> History:
    """Fit ``model`` in place and restore the weights of the best epoch by ``settings.monitor``.

    ``sample_weight`` (one per training row, e.g. importance weights) multiplies each row's loss;
    ``val_weight`` weighs the validation metrics, ``val_loss_weight`` the rows of ``val/loss``
    (see :mod:`runner.fitting.monitor`). A staged loss is monitored from its last stage on only.
    ``X_train`` may instead be a batch source (``shape``, ``block_rows``, ``rows(positions)``: the
    streamed path, runner/tables/streamed_fit.py); it is trained by mini-batches only (``auto`` -> Adam).
    """
    names = class_names or [str(i) for i in range(num_classes)]
    check_monitor(settings.monitor, names)
    if X_train.shape[0] == 0:
        raise ConfigError("dataset: the training split is empty after preprocessing.")
    streamed = not isinstance(X_train, torch.Tensor)
    device = y_train.device if streamed else X_train.device
    opt_name = resolve_optimizer(settings, model, augment)
    if streamed and opt_name == "lbfgs":
        if settings.optimizer == "lbfgs":
            raise ConfigError(
                "trainer.optimizer: 'lbfgs' fits full-batch, and this table is above data.memory_budget (streamed "
                "mini-batches); use trainer.optimizer=adam (or auto), or raise data.memory_budget."
            )
        opt_name = "adam"
    if settings.init_bias == "prior":
        init_output_bias(model, y_train, num_classes, sample_weight)
    n_train = X_train.shape[0]
    penalty = (lambda: model.penalty(n_train)) if callable(getattr(model, "penalty", None)) else None
    history = History(monitor=settings.monitor, optimizer=opt_name)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=settings.epochs, desc="train", unit="epoch", leave=False, dynamic_ncols=True)
    ender = _EpochEnd(
        model, loss_fn, X_val, y_val, settings, names, history, on_epoch, bar, val_weight,
        None if val_loss_weight is None else torch.as_tensor(val_loss_weight, dtype=torch.float32, device=device),
    )  # fmt: skip
    if opt_name == "lbfgs":
        fit_lbfgs(model, loss_fn, X_train, y_train, sample_weight, penalty, settings.epochs, ender, settings.tol)
    else:
        optimizer = make_optimizer(opt_name, settings, model.parameters())
        ender.optimizer = optimizer
        ender.schedule = _Schedule(settings.schedule, optimizer, settings, ender.monitor.mode)
        generator = torch.Generator(device=device).manual_seed(seed)
        for epoch in range(settings.epochs):
            model.train()
            loss_fn.set_epoch(epoch)
            if streamed:
                from runner.tables.streamed_fit import streamed_epoch

                train_loss = streamed_epoch(
                    model, loss_fn, augment, X_train, y_train, sample_weight, optimizer, generator, settings.batch_size, penalty, epoch
                )
            else:
                train_loss = _minibatch_epoch(
                    model, loss_fn, augment, X_train, y_train, sample_weight, optimizer, generator, settings.batch_size, penalty
                )
            if ender(epoch, train_loss, False):
                break
    if bar is not None:
        bar.close()
    return ender.finish()


class _EpochEnd:
    """What happens after every epoch, for both optimiser paths: validate, log, select, stop."""

    def __init__(self, model, loss_fn, X_val, y_val, settings, names, history, on_epoch, bar, val_weight, val_loss_weight) -> None:  # noqa: ANN001
        self.model, self.loss_fn, self.X_val, self.y_val = model, loss_fn, X_val, y_val
        self.settings, self.names, self.history, self.on_epoch, self.bar = settings, names, history, on_epoch, bar
        self.val_weight, self.val_loss_weight = val_weight, val_loss_weight
        self.monitor = Monitor(settings.monitor, resolve_mode(settings.monitor, settings.monitor_mode), settings.patience, settings.min_delta)
        self.optimizer: torch.optim.Optimizer | None = None
        self.schedule: _Schedule | None = None
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stage: Any = None
        self.last_epoch = -1

    def __call__(self, epoch: int, train_loss: float, tolerance_met: bool) -> bool:
        """Record one epoch; True when training should stop."""
        s, key = self.settings, self.settings.monitor
        if not np.isfinite(train_loss):
            raise FloatingPointError(
                f"training diverged at epoch {epoch}: loss is {train_loss}. Lower trainer.lr (now {s.lr}) "
                f"or scale the features (scaler=standard)."
            )
        if getattr(self.loss_fn, "stage", None) != self.stage:  # a new stage: earlier values are another objective
            self.stage = getattr(self.loss_fn, "stage", None)
            self.monitor.reset()
        row = {"train/loss": train_loss}
        if self.optimizer is not None:  # L-BFGS has no learning rate to log
            row["train/lr"] = float(self.optimizer.param_groups[0]["lr"])
        dtype = next(self.model.parameters()).dtype  # float64 during an L-BFGS fit
        logits = predict_logits(self.model, self.X_val.to(dtype), s.eval_batch_size)
        row.update(epoch_metrics(logits, self.y_val, self.loss_fn, self.val_loss_weight, self.val_weight, self.names, key))
        if self.stage is not None:  # staged losses (enhanced_focal) log which stage ran
            row["train/loss_stage"] = float(self.stage)
        self.history.epochs.append(row)
        self.last_epoch = epoch
        if self.on_epoch:
            self.on_epoch(epoch, row)
        if self.bar is not None:
            self.bar.update(epoch + 1 - self.bar.n)
            self.bar.set_postfix(loss=f"{train_loss:.4f}", **{key.split("/")[-1]: f"{row[key]:.4f}"})
        if self.monitor.update(epoch, row[key]):
            self.best_state = copy.deepcopy(self.model.state_dict())
        if self.schedule is not None:
            self.schedule.step(row[key])
        final_stage = bool(getattr(self.loss_fn, "final_stage", True))
        if final_stage and tolerance_met:  # at the optimum of the regularised objective: keep it
            self.monitor.best, self.monitor.best_epoch, self.best_state = row[key], epoch, None
        if final_stage and (tolerance_met or self.monitor.exhausted):
            self.history.stopped_early = epoch + 1 < s.epochs
            self.history.converged = True
            return True
        return False

    def finish(self) -> History:
        """Restore the kept weights; without an early stop, converged means the monitor had plateaued."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        h = self.history
        h.best_epoch, h.best_score = self.monitor.best_epoch, self.monitor.best
        if not h.converged:
            h.converged = self.last_epoch - self.monitor.best_epoch >= max(2, self.settings.patience // 2)
        return h


def convergence_warning(history: History, settings: TrainerSettings) -> str | None:
    """One line naming the key to raise when the budget ran out while the monitor still improved."""
    if history.converged:
        return None
    suggestion = f"trainer.epochs={settings.epochs * 2}"
    return (
        f"trainer.epochs: the budget of {settings.epochs} epochs ran out while {history.monitor} was still improving "
        f"(best {history.best_score:.4g} at epoch {history.best_epoch}); raise it, e.g. {suggestion}"
        + (f", or trainer.lr (now {settings.lr})." if history.optimizer != "lbfgs" else ".")
    )
