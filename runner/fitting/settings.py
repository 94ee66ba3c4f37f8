"""The trainer's settings (``trainer=default``) and the choices they imply: seeding, device, optimizer.

Apart from the loop (``runner.fitting.training``) so that the registry's ``trainer`` kind, the
schema precheck and the stages read the settings without the loop's own machinery.
"""
from __future__ import annotations

import os
import random
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
import torch
from torch import nn

from components.errors import ConfigError
from components.registry import Interval, get_registry
from runner.fitting.monitor import check_monitor

TRAINERS = get_registry("trainer")


@TRAINERS.register("default")
@dataclass
class TrainerSettings:
    """Optimiser, budget, model selection and device settings (``conf/trainer/default.yaml``)."""

    optimizer: Literal["auto", "adam", "adamw", "sgd", "lbfgs"] = "auto"
    lr: Annotated[float, Interval(0, None, "neither")] = 1e-3
    momentum: Annotated[float, Interval(0, 1)] = 0.9
    weight_decay: Annotated[float, Interval(0, None)] = 0.0
    batch_size: Annotated[int, Interval(1, None)] = 256
    epochs: Annotated[int, Interval(1, None)] = 200
    patience: Annotated[int, Interval(0, None)] = 10
    min_delta: Annotated[float, Interval(0, None)] = 1e-4
    tol: Annotated[float, Interval(0, None, "neither")] = 1e-4
    monitor: str = "val/log_loss"
    monitor_mode: Literal["auto", "min", "max"] = "auto"
    schedule: Literal["none", "plateau", "cosine"] = "plateau"
    init_bias: Literal["prior", "zero"] = "prior"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    deterministic: bool = True
    eval_batch_size: Annotated[int, Interval(1, None)] = 65_536

    @staticmethod
    def check_params(params: dict[str, Any], key: str) -> None:
        """The monitor must be a validation metric the trainer computes (checked before any data)."""
        check_monitor(str(params.get("monitor", TrainerSettings.monitor)))


def seed_everything(seed: int, deterministic: bool = True) -> None:
    """Seed python, numpy and torch in one place; on CPU identical configs give identical runs."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        _deterministic_algorithms()


def _deterministic_algorithms() -> None:
    """``torch.use_deterministic_algorithms(True, warn_only=True)`` without its import of
    ``torch._inductor.config`` (which pulls in dynamo, sympy and mpmath: ~1.5 s) made only to set
    inductor's ``deterministic`` flag. The flag is set on the config module if something already
    imported it, else through the variable that module reads when first imported. (torch.optim's
    optimizers import dynamo on their own: ``make_optimizer`` builds them without that import.)"""
    import sys

    inductor = sys.modules.get("torch._inductor.config")
    if inductor is not None:
        inductor.deterministic = True
    else:
        os.environ["TORCHINDUCTOR_DETERMINISTIC"] = "1"
    torch._C._set_deterministic_algorithms(True, warn_only=True)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("trainer.device: got 'cuda' but no CUDA device is available; use 'auto' or 'cpu'.")
    return torch.device(name)


def resolve_optimizer(settings: TrainerSettings, model: nn.Module, augment: Any) -> str:
    """``auto``: L-BFGS for a convex model trained on fixed rows, Adam for everything else.

    Batch augmentation draws new rows every step, which breaks L-BFGS's line search.
    """
    is_identity = getattr(augment, "is_identity", None)
    fixed_rows = type(augment).__name__ == "NoAugment" or (callable(is_identity) and bool(is_identity()))
    if settings.optimizer == "lbfgs" and not fixed_rows:
        raise ConfigError(
            "trainer.optimizer: 'lbfgs' fits full-batch on fixed rows, and this augment policy draws new rows "
            "every batch; use trainer.optimizer=adam (or auto), or augment=none."
        )
    if settings.optimizer != "auto":
        return settings.optimizer
    return "lbfgs" if getattr(model, "convex", False) and fixed_rows else "adam"


def make_optimizer(name: str, settings: TrainerSettings, params: Any) -> torch.optim.Optimizer:
    """torch's optimizer, in the subclass that spares the process torch._dynamo's import (runner/fitting/eager_optim.py)."""
    from runner.fitting.eager_optim import eager_class

    if name == "sgd":
        return eager_class(torch.optim.SGD)(params, lr=settings.lr, momentum=settings.momentum, weight_decay=settings.weight_decay)
    cls = torch.optim.AdamW if name == "adamw" else torch.optim.Adam
    return eager_class(cls)(params, lr=settings.lr, weight_decay=settings.weight_decay)
