"""Models: logistic (linear softmax regression), mlp, and a small cnn for image datasets.

Every model takes flat feature rows ``(B, in_features)`` and returns logits ``(B, K)``; the cnn
reshapes to ``image_shape`` itself, so the data pipeline (scalers, resamplers) stays 2-D.
"""
from __future__ import annotations

from typing import Annotated, Literal

import torch
from torch import nn

from components.errors import ConfigError
from components.registry import Interval, get_registry

MODELS = get_registry("model")
_ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}
Activation = Literal["relu", "gelu", "tanh", "silu"]
Dropout = Annotated[float, Interval(0, 1, "left")]


class LogisticRegression(nn.Linear):
    """Softmax regression with scikit-learn's L2 term, so that it is the same model.

    scikit-learn minimises ``mean loss + ||W||^2 / (2 C n)``; for two classes it fits one weight
    vector v with a sigmoid. Here two softmax rows w0, w1 give the same logit difference
    v = w1 - w0, and the penalty ``(||w0||^2 + ||w1||^2) / (C n)`` equals ``||v||^2 / (2 C n)`` at
    its minimum w0 = -w1, so both objectives share their optimum; for K > 2 the multinomial
    term ``sum_k ||w_k||^2 / (2 C n)`` is scikit-learn's as is. The bias is not penalised.
    ``convex`` tells the trainer that full-batch L-BFGS applies.
    """

    convex = True

    def __init__(self, in_features: int, num_classes: int, C: float | None) -> None:
        super().__init__(in_features, num_classes)
        self.C = C

    def ridge(self, n_rows: int) -> float:
        """The coefficient of ``||W||^2`` in the penalty (0 without one)."""
        if self.C is None:
            return 0.0
        return (1.0 if self.out_features == 2 else 0.5) / (self.C * max(n_rows, 1))

    def penalty(self, n_rows: int) -> torch.Tensor:
        return self.ridge(n_rows) * self.weight.pow(2).sum()


@MODELS.register("logistic", runtime=("in_features", "num_classes", "image_shape"))
def logistic(
    *,
    in_features: int,
    num_classes: int,
    C: Annotated[float, Interval(0, None, "neither")] | None = 1.0,
    image_shape: tuple[int, ...] | None = None,
) -> nn.Module:
    """Logistic regression for 2 classes, softmax regression for more; ``C`` as scikit-learn's
    (inverse L2 strength, default 1.0; null for none)."""
    return LogisticRegression(in_features, num_classes, C)


@MODELS.register("mlp", runtime=("in_features", "num_classes", "image_shape"))
def mlp(
    *,
    in_features: int,
    num_classes: int,
    hidden: list[Annotated[int, Interval(1, None)]] = (256, 256),  # type: ignore[assignment]
    dropout: Dropout = 0.0,
    activation: Activation = "relu",
    image_shape: tuple[int, ...] | None = None,
) -> nn.Module:
    """Fully connected layers of sizes ``hidden`` with ``activation`` and ``dropout``."""
    layers: list[nn.Module] = []
    width = in_features
    for h in hidden:
        layers += [nn.Linear(width, h), _ACTIVATIONS[activation]()]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


class SmallCNN(nn.Module):
    """conv-relu(-pool) blocks, global average pooling, a linear head."""

    def __init__(self, image_shape: tuple[int, ...], num_classes: int, channels: list[int], dropout: float) -> None:
        super().__init__()
        self.image_shape = tuple(image_shape)
        c, h, w = self.image_shape
        blocks: list[nn.Module] = []
        for out in channels:
            blocks += [nn.Conv2d(c, out, kernel_size=3, padding=1), nn.BatchNorm2d(out), nn.ReLU()]
            if min(h, w) >= 4:
                blocks.append(nn.MaxPool2d(2))
                h, w = h // 2, w // 2
            c = out
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(c, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.reshape(x.shape[0], *self.image_shape)
        x = self.features(x).mean(dim=(2, 3), keepdim=True)
        return self.head(x)


@MODELS.register("cnn", runtime=("in_features", "num_classes", "image_shape"))
def cnn(
    *,
    in_features: int,
    num_classes: int,
    image_shape: tuple[int, ...] | None = None,
    channels: list[Annotated[int, Interval(1, None)]] = (32, 64),  # type: ignore[assignment]
    dropout: Dropout = 0.0,
) -> nn.Module:
    """A small conv net; needs an image dataset (e.g. ``dataset=digits dataset.as_image=true``)."""
    if image_shape is None:
        raise ConfigError(
            "model.name: 'cnn' needs an image dataset (one image or array column), e.g. "
            "dataset=digits dataset.as_image=true; use model=mlp for tables."
        )
    return SmallCNN(tuple(image_shape), num_classes, list(channels), dropout)
