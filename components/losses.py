"""Losses (lecture §3), multi-class from logits via ``log_softmax`` for numerical stability.

Every loss maps ``(logits, targets, sample_weight)`` to the mean per-sample loss. Class
weights are fixed at construction from whole-training-split counts (never per batch) and held
as buffers, so nothing is mutated in ``forward``. ``sample_weight`` carries per-row weights
(importance weights for covariate shift) multiplied into the per-sample loss.
"""
from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from components.class_weights import class_weights
from components.registry import Interval, get_registry

LOSSES = get_registry("loss")
WeightScheme = Literal["none", "inverse", "balanced", "effective_number"]


class Loss(nn.Module):
    """Mean of ``per_sample`` (optionally times ``sample_weight``)."""

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(
        self, logits: torch.Tensor, targets: torch.Tensor, sample_weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        losses = self.per_sample(logits, targets)
        if sample_weight is not None:
            losses = losses * sample_weight
        return losses.mean()

    def set_epoch(self, epoch: int) -> None:
        """Hook for schedules over training (staged losses); a no-op by default."""


@LOSSES.register("ce")
class CrossEntropy(Loss):
    """−log p_t."""

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, targets, reduction="none")


@LOSSES.register("weighted_ce", runtime=("class_counts", "original_counts"))
class WeightedCrossEntropy(Loss):
    """−w_y log p_t, with w from a class-weight scheme (or an explicit list, one per class).

    ``counts: resampled`` (default) computes the weights from the training split after
    resampling; ``original`` from the split before it. The batch loss is the plain mean of
    per-sample losses (not divided by Σ w_y as torch's ``weight=`` mean does), as the lecture states.
    """

    def __init__(
        self,
        *,
        weights: WeightScheme | list[float] = "inverse",
        beta: Annotated[float, Interval(0, 1, "left")] = 0.999,
        counts: Literal["resampled", "original"] = "resampled",
        class_counts: np.ndarray | None = None,
        original_counts: np.ndarray | None = None,
    ) -> None:
        super().__init__()
        source = class_counts if counts == "resampled" or original_counts is None else original_counts
        if source is None:
            raise ValueError("weighted_ce needs class counts from the runner")
        params = {"beta": beta} if weights == "effective_number" else {}
        w = class_weights(weights, np.asarray(source), "loss.weights", **params)
        self.register_buffer("class_weight", torch.as_tensor(w, dtype=torch.float32))

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, targets, reduction="none") * self.class_weight[targets]
