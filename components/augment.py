"""Batch augmentation policies (lecture §4), on training batches only, on the training device.

A policy is called as ``policy(x, y, generator) -> (x, y)`` on a batch already on the device,
``x`` flat ``(B, features)``. Image policies reshape to ``image_shape`` (C, H, W), work on a
[0, 1] view of the batch (mapped with the training split's global min/max, ``value_range``),
and map back, so they compose with any scaler (``scaler=none`` or ``minmax`` keep colour
operations pixel-faithful). Every random parameter is drawn per sample from torch's seeded
RNG (kornia draws from the global generator, which the runner seeds). Evaluation batches never
go through a policy. ``mixup`` returns :class:`MixedTargets`: the trainer mixes the two losses,
so it works with every loss, focal included.

Wrapped: kornia (affine, colour jitter, RandAugment, AutoAugment, TrivialAugment). Written
here: the HSV policy (the lecture's formulas), Gaussian noise and mixup (both also tabular).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

import torch
from sklearn.base import BaseEstimator

from components.base import CONTRACT

from components.errors import ConfigError
from components.registry import Interval, get_registry

AUGMENTS = get_registry("augment")
RUNTIME = ("image_shape", "value_range")
Prob = Annotated[float, Interval(0, 1)]
NonNeg = Annotated[float, Interval(0, None)]


@dataclass
class MixedTargets:
    """Labels of a mixed batch: loss = λ · L(y_a) + (1 − λ) · L(y_b)."""

    y_a: torch.Tensor
    y_b: torch.Tensor
    lam: float


class Policy(BaseEstimator):
    """A batch policy: parameters stored unchanged (scikit-learn's get_params / clone apply)."""

    def __call__(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError


@AUGMENTS.register("none")
class NoAugment(Policy):
    """Leave batches unchanged."""

    def __call__(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, Any]:
        return x, y


@dataclass(**CONTRACT)
class ImagePolicy(Policy):
    """Reshape flat rows to images in [0, 1], apply ``_apply``, and map back to flat rows.

    The kornia operation is built on first use (``op_``): ``__init__`` only stores parameters.
    A missing ``image_shape`` is refused at construction, so a table run fails before training.
    """

    image_shape: tuple[int, ...] | None = None
    value_range: tuple[float, float] | None = None
    needs_rgb: ClassVar[bool] = False

    def __post_init__(self) -> None:
        if self.image_shape is None:
            raise ConfigError(
                f"augment.name: '{type(self).registered_name}' is an image policy and this dataset has no image column "
                f"(e.g. dataset=digits dataset.as_image=true); for tables use gaussian_noise or mixup."
            )

    def _make(self) -> Any:
        """The kornia augmentation; policies with their own maths override ``_apply`` instead."""
        raise NotImplementedError

    @property
    def op(self) -> Any:
        if getattr(self, "op_", None) is None:
            self.op_ = self._make()
        return self.op_

    def _apply(self, images: torch.Tensor) -> torch.Tensor:
        return self.op(images)

    def is_identity(self) -> bool:
        return False

    def __call__(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, Any]:
        if self.is_identity():
            return x, y
        lo, hi = self.value_range if self.value_range is not None else (0.0, 1.0)
        lo, span = float(lo), float(hi - lo) if hi > lo else 1.0
        images = ((x - lo) / span).clamp(0, 1).reshape(x.shape[0], *self.image_shape)
        channels = images.shape[1]
        if self.needs_rgb and channels == 1:  # grayscale -> RGB -> policy -> grayscale
            out = self._apply(images.expand(-1, 3, -1, -1)).mean(dim=1, keepdim=True)
        else:
            out = self._apply(images)
        return (out.clamp(0, 1) * span + lo).reshape(x.shape).to(x.dtype), y


@AUGMENTS.register("affine", runtime=RUNTIME)
@dataclass(**CONTRACT)
class Affine(ImagePolicy):
    """Rotation, translation, scale and shear as one random 3×3 matrix per image (kornia)."""

    degrees: Annotated[float, Interval(0, 180)] = 15.0
    translate: Annotated[float, Interval(0, 1)] = 0.1
    scale: tuple[NonNeg, NonNeg] = (0.9, 1.1)
    shear: Annotated[float, Interval(0, 90)] = 0.0
    p: Prob = 1.0

    def _make(self) -> Any:
        import kornia.augmentation as K

        t, scale = self.translate, tuple(self.scale)
        return K.RandomAffine(degrees=self.degrees, translate=(t, t), scale=scale, shear=self.shear or None, p=self.p, padding_mode="zeros")

    def is_identity(self) -> bool:
        return self.p == 0 or (self.degrees == 0 and self.translate == 0 and tuple(self.scale) == (1.0, 1.0) and self.shear == 0)


def hsv_shift(rgb: torch.Tensor, dh_degrees: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """H' = (H + ΔH) mod 360°, S' = clip(α S, 0, 1), V' = clip(β V, 0, 1), per image (lecture §4)."""
    from kornia.color import hsv_to_rgb, rgb_to_hsv

    hsv = rgb_to_hsv(rgb)  # H in radians [0, 2π), S and V in [0, 1]
    h = torch.remainder(hsv[:, 0] + dh_degrees[:, None, None] * (math.pi / 180.0), 2 * math.pi)
    s = (hsv[:, 1] * alpha[:, None, None]).clamp(0, 1)
    v = (hsv[:, 2] * beta[:, None, None]).clamp(0, 1)
    return hsv_to_rgb(torch.stack([h, s, v], dim=1))


@AUGMENTS.register("hsv", runtime=RUNTIME)
@dataclass(**CONTRACT)
class HSV(ImagePolicy):
    """Per image: ΔH ~ U(−hue, hue) degrees, α ~ U(1 − saturation, 1 + saturation), β ~ U(1 − value, 1 + value).

    Grayscale images are taken to RGB and back (hue and saturation then change nothing).
    """

    hue: Annotated[float, Interval(0, 180)] = 18.0
    saturation: Annotated[float, Interval(0, 1)] = 0.3
    value: Annotated[float, Interval(0, 1)] = 0.3
    needs_rgb: ClassVar[bool] = True

    def is_identity(self) -> bool:
        return self.hue == 0 and self.saturation == 0 and self.value == 0

    def _apply(self, images: torch.Tensor) -> torch.Tensor:
        b, dev = images.shape[0], images.device
        u = torch.rand(3, b, device=dev) * 2 - 1
        return hsv_shift(images, u[0] * self.hue, 1 + u[1] * self.saturation, 1 + u[2] * self.value)


@AUGMENTS.register("color_jitter", runtime=RUNTIME)
@dataclass(**CONTRACT)
class ColorJitter(ImagePolicy):
    """kornia's ColorJitter (brightness, contrast, saturation, hue)."""

    brightness: Annotated[float, Interval(0, 1)] = 0.2
    contrast: Annotated[float, Interval(0, 1)] = 0.2
    saturation: Annotated[float, Interval(0, 1)] = 0.2
    hue: Annotated[float, Interval(0, 0.5)] = 0.05
    p: Prob = 1.0
    needs_rgb: ClassVar[bool] = True

    def _make(self) -> Any:
        import kornia.augmentation as K

        return K.ColorJitter(self.brightness, self.contrast, self.saturation, self.hue, p=self.p)

    def is_identity(self) -> bool:
        return self.p == 0 or not any((self.brightness, self.contrast, self.saturation, self.hue))


@AUGMENTS.register("randaugment", runtime=RUNTIME)
@dataclass(**CONTRACT)
class RandAugment(ImagePolicy):
    """N operations drawn from kornia's pool of 14, each at magnitude M (n = 0 applies nothing)."""

    n: Annotated[int, Interval(0, 14)] = 2
    m: Annotated[float, Interval(0, 30, "left")] = 9
    needs_rgb: ClassVar[bool] = True  # the pool has colour operations: grayscale goes through RGB and back

    def _make(self) -> Any:
        from kornia.augmentation.auto import RandAugment as KRandAugment

        return KRandAugment(n=self.n, m=self.m)

    def is_identity(self) -> bool:
        return self.n == 0 or self.m == 0


@AUGMENTS.register("autoaugment", runtime=RUNTIME)
@dataclass(**CONTRACT)
class AutoAugment(ImagePolicy):
    """kornia's AutoAugment with a searched policy (imagenet, cifar10 or svhn)."""

    policy: Literal["imagenet", "cifar10", "svhn"] = "imagenet"
    needs_rgb: ClassVar[bool] = True  # the pool has colour operations: grayscale goes through RGB and back

    def _make(self) -> Any:
        from kornia.augmentation.auto import AutoAugment as KAutoAugment

        return KAutoAugment(policy=self.policy)


@AUGMENTS.register("trivialaugment", runtime=RUNTIME)
@dataclass(**CONTRACT)
class TrivialAugment(ImagePolicy):
    """kornia's TrivialAugment: one random operation at a random magnitude per image."""

    needs_rgb: ClassVar[bool] = True  # the pool has colour operations: grayscale goes through RGB and back

    def _make(self) -> Any:
        from kornia.augmentation.auto import TrivialAugment as KTrivialAugment

        return KTrivialAugment()


@AUGMENTS.register("gaussian_noise")
@dataclass(**CONTRACT)
class GaussianNoise(Policy):
    """x + ε, ε ~ N(0, σ²) per element, on the (scaled) features: tables and images alike."""

    sigma: NonNeg = 0.1

    def __call__(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, Any]:
        if self.sigma == 0:
            return x, y
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + self.sigma * noise, y


@AUGMENTS.register("mixup")
@dataclass(**CONTRACT)
class Mixup(Policy):
    """x' = λ x + (1 − λ) x[π], λ ~ Beta(α, α) per batch; the loss mixes both labels' losses."""

    alpha: NonNeg = 0.2
    p: Prob = 1.0

    def __call__(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, Any]:
        if self.alpha == 0 or self.p == 0:
            return x, y
        coin = torch.rand((), generator=generator, device=generator.device if generator else x.device)
        if coin.item() >= self.p:
            return x, y
        g = torch.distributions.Gamma(torch.tensor([self.alpha, self.alpha], dtype=torch.float64), 1.0)
        a, b = g.sample().tolist()  # Beta(α, α) = G1 / (G1 + G2), from torch's seeded global RNG
        lam = a / (a + b)
        perm = torch.randperm(x.shape[0], generator=generator, device=x.device)
        return lam * x + (1 - lam) * x[perm], MixedTargets(y, y[perm], lam)
