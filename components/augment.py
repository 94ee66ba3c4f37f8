"""Batch augmentation policies (lecture §4), applied to training batches only, on the device.

A policy is called as ``policy(x, y, generator) -> (x, y)`` on a batch already on the training
device (``x`` flat, shaped ``(B, features)``; image policies reshape with ``image_shape``).
Evaluation batches never go through it. Only ``none`` lives here so far.
"""
from __future__ import annotations

import torch

from components.registry import get_registry

AUGMENTS = get_registry("augment")


@AUGMENTS.register("none", runtime=("image_shape",))
class NoAugment:
    """Leave batches unchanged."""

    def __init__(self, *, image_shape: tuple[int, ...] | None = None) -> None:
        self.image_shape = image_shape

    def __call__(
        self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return x, y
