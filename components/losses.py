"""Losses (lecture §3), multi-class from logits via ``log_softmax`` for numerical stability.

Every loss maps ``(logits, targets, sample_weight)`` to the mean per-sample loss. Each
constructor stores its parameters as attributes (``alpha``'s configured value as ``alpha_scheme``:
``alpha`` is the weight buffer); losses are torch modules, not scikit-learn estimators, so
``sklearn.base.clone`` does not apply (tests/test_contracts.py rebuilds them instead). Class
weights are fixed at construction from whole-training-split counts (never per batch) and held
as buffers, so nothing is mutated in ``forward``. ``sample_weight`` carries per-row weights
(importance weights for covariate shift) multiplied into the per-sample loss.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from components.class_weights import class_weights
from components.errors import ConfigError
from components.registry import Interval, get_registry

LOSSES = get_registry("loss")
WeightScheme = Literal["none", "inverse", "balanced", "half_total", "effective_number"]


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

    @property
    def final_stage(self) -> bool:
        """False while a staged loss has stages to go: the trainer does not stop before its last."""
        return True


Smoothing = Annotated[float, Interval(0, 1, "left")]
Gamma = Annotated[float, Interval(0, None)]
Beta = Annotated[float, Interval(0, 1, "left")]


@LOSSES.register("ce")
class CrossEntropy(Loss):
    """−log p_t, or −Σ_k ỹ_k log p_k with label smoothing ỹ = (1 − ε) y + ε / K."""

    def __init__(self, *, label_smoothing: Smoothing = 0.0) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, targets, reduction="none", label_smoothing=self.label_smoothing)


class _ClassWeighted(Loss):
    """A loss with per-class weights fixed from whole-training-split counts: stores the parameters
    the weighted losses share and builds a weight buffer from a scheme (or an explicit list)."""

    def __init__(
        self, beta: float, counts: str, label_smoothing: float, class_counts: np.ndarray | None, original_counts: np.ndarray | None
    ) -> None:
        super().__init__()
        self.beta, self.counts, self.label_smoothing = beta, counts, label_smoothing
        self.class_counts, self.original_counts = class_counts, original_counts

    def _weights(self, scheme: WeightScheme | list[float], key: str) -> torch.Tensor:
        """Per-class weights from the resampled counts (``counts: resampled``) or the original ones."""
        source = self.class_counts if self.counts == "resampled" or self.original_counts is None else self.original_counts
        if source is None:
            raise ValueError("class-weighted losses need class counts from the runner")
        params = {"beta": self.beta} if scheme == "effective_number" else {}
        return torch.as_tensor(class_weights(scheme, np.asarray(source), key, **params), dtype=torch.float32)


@LOSSES.register("weighted_ce", runtime=("class_counts", "original_counts"))
class WeightedCrossEntropy(_ClassWeighted):
    """−w_y log p_t, with w from a class-weight scheme (or an explicit list, one per class).

    ``counts: resampled`` (default) computes the weights from the training split after
    resampling; ``original`` from the split before it. The batch loss is the plain mean of
    per-sample losses (not divided by Σ w_y as torch's ``weight=`` mean does), as the lecture states.
    """

    def __init__(
        self,
        *,
        weights: WeightScheme | list[float] = "inverse",
        beta: Beta = 0.999,
        counts: Literal["resampled", "original"] = "resampled",
        label_smoothing: Smoothing = 0.0,
        class_counts: np.ndarray | None = None,
        original_counts: np.ndarray | None = None,
    ) -> None:
        super().__init__(beta, counts, label_smoothing, class_counts, original_counts)
        self.weights = weights
        self.register_buffer("class_weight", self._weights(weights, "loss.weights"))

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        nll = F.cross_entropy(logits, targets, reduction="none", label_smoothing=self.label_smoothing)
        return nll * self.class_weight[targets]


def focal_per_sample(
    logits: torch.Tensor,
    targets: torch.Tensor,
    gamma: float,
    alpha: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
) -> torch.Tensor:
    """−α_t (1 − p_t)^γ Σ_k ỹ_k log p_k (ỹ = one-hot y without smoothing: −α_t (1 − p_t)^γ log p_t).

    γ = 0 and no α is exactly cross-entropy. log p comes from ``log_softmax`` (stable for
    large logits); (1 − p_t) is floored at 1e-12 so γ < 1 keeps finite gradients at p_t = 1.
    """
    logp = F.log_softmax(logits.float(), dim=1)
    logp_t = logp.gather(1, targets[:, None]).squeeze(1)
    if label_smoothing > 0:
        k = logits.shape[1]
        smoothed = torch.full_like(logp, label_smoothing / k)
        smoothed.scatter_(1, targets[:, None], 1 - label_smoothing + label_smoothing / k)
        nll = -(smoothed * logp).sum(1)
    else:
        nll = -logp_t
    loss = nll if gamma == 0 else (1 - logp_t.exp()).clamp_min(1e-12).pow(gamma) * nll
    return loss * alpha[targets] if alpha is not None else loss


@LOSSES.register("focal", runtime=("class_counts", "original_counts"))
class Focal(_ClassWeighted):
    """Focal loss (Lin et al. 2017); with ``alpha`` set it is the alpha-balanced focal loss.

    ``alpha``: null (no α), a class-weight scheme (inverse, balanced, half_total, effective_number with
    ``beta``), or an explicit per-class list.
    """

    def __init__(
        self,
        *,
        gamma: Gamma = 2.0,
        alpha: WeightScheme | list[float] | None = None,
        beta: Beta = 0.999,
        counts: Literal["resampled", "original"] = "resampled",
        label_smoothing: Smoothing = 0.0,
        class_counts: np.ndarray | None = None,
        original_counts: np.ndarray | None = None,
    ) -> None:
        super().__init__(beta, counts, label_smoothing, class_counts, original_counts)
        self.gamma = gamma
        self.alpha_scheme = alpha  # the configured alpha; ``alpha`` is the per-class weight buffer
        self.register_buffer("alpha", None if alpha is None else self._weights(alpha, "loss.alpha"))

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return focal_per_sample(logits, targets, self.gamma, self.alpha, self.label_smoothing)


@LOSSES.register("class_balanced_focal", runtime=("class_counts", "original_counts"))
class ClassBalancedFocal(Focal):
    """Alpha focal loss with α = effective-number weights (Cui et al. 2019); takes focal's other parameters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{**kwargs, "alpha": "effective_number"})

    @staticmethod
    def check_params(params: dict[str, Any], key: str) -> None:
        if "alpha" in params:
            raise ConfigError(
                f"{key}.alpha: class_balanced_focal fixes alpha to effective-number weights (set {key}.beta); "
                f"for another alpha use loss=focal {key}.alpha=<scheme>."
            )


@LOSSES.register("enhanced_focal", runtime=("class_counts", "original_counts"))
class EnhancedFocal(Focal):
    """Three stages over training: CE, then focal with γ/2, then alpha focal with γ.

    ``stage_epochs: [n1, n2]``: epochs [0, n1) use CE, [n1, n1 + n2) focal γ/2, the rest alpha
    focal γ. The trainer calls ``set_epoch``; ``stage`` (1, 2, 3) is logged per epoch. Takes
    focal's other parameters (``alpha`` defaults to effective-number weights here).
    """

    def __init__(
        self,
        *,
        alpha: WeightScheme | list[float] = "effective_number",
        stage_epochs: tuple[Annotated[int, Interval(0, None)], Annotated[int, Interval(0, None)]] = (5, 5),
        **kwargs: Any,
    ) -> None:
        super().__init__(alpha=alpha, **kwargs)
        self.stage_epochs = tuple(stage_epochs)
        self.stage = 1

    def set_epoch(self, epoch: int) -> None:
        n1, n2 = self.stage_epochs
        self.stage = 1 if epoch < n1 else 2 if epoch < n1 + n2 else 3

    @property
    def final_stage(self) -> bool:
        return self.stage == 3

    def per_sample(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        if self.stage == 1:
            return focal_per_sample(logits, targets, 0.0, None, self.label_smoothing)
        if self.stage == 2:
            return focal_per_sample(logits, targets, self.gamma / 2, None, self.label_smoothing)
        return focal_per_sample(logits, targets, self.gamma, self.alpha, self.label_smoothing)
