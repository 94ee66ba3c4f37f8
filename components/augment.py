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
from typing import Annotated, Any, Literal

import torch

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


@AUGMENTS.register("none", runtime=RUNTIME)
class NoAugment:
    """Leave batches unchanged."""

    def __init__(self, *, image_shape: tuple[int, ...] | None = None, value_range: tuple[float, float] | None = None) -> None:
        self.image_shape = image_shape

    def __call__(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, Any]:
        return x, y


class ImagePolicy:
    """Reshape flat rows to images in [0, 1], apply ``_apply``, and map back to flat rows."""

    needs_rgb = False

    def __init__(self, *, image_shape: tuple[int, ...] | None = None, value_range: tuple[float, float] | None = None) -> None:
        name = getattr(type(self), "registered_name", type(self).__name__)
        if image_shape is None:
            raise ConfigError(
                f"augment.name: '{name}' is an image policy and this dataset has no image column "
                f"(e.g. dataset=digits dataset.as_image=true); for tables use gaussian_noise or mixup."
            )
        self.image_shape = tuple(image_shape)
        lo, hi = value_range if value_range is not None else (0.0, 1.0)
        self.lo, self.span = float(lo), float(hi - lo) if hi > lo else 1.0

    op: Any = None  # a kornia augmentation; policies with their own maths override _apply

    def _apply(self, images: torch.Tensor) -> torch.Tensor:
        return self.op(images)

    def is_identity(self) -> bool:
        return False

    def __call__(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, Any]:
        if self.is_identity():
            return x, y
        images = ((x - self.lo) / self.span).clamp(0, 1).reshape(x.shape[0], *self.image_shape)
        channels = images.shape[1]
        if self.needs_rgb and channels == 1:  # grayscale -> RGB -> policy -> grayscale
            out = self._apply(images.expand(-1, 3, -1, -1)).mean(dim=1, keepdim=True)
        else:
            out = self._apply(images)
        return (out.clamp(0, 1) * self.span + self.lo).reshape(x.shape).to(x.dtype), y


@AUGMENTS.register("affine", runtime=RUNTIME)
class Affine(ImagePolicy):
    """Rotation, translation, scale and shear as one random 3×3 matrix per image (kornia)."""

    registered_name = "affine"

    def __init__(
        self,
        *,
        degrees: Annotated[float, Interval(0, 180)] = 15.0,
        translate: Annotated[float, Interval(0, 1)] = 0.1,
        scale: tuple[NonNeg, NonNeg] = (0.9, 1.1),
        shear: Annotated[float, Interval(0, 90)] = 0.0,
        p: Prob = 1.0,
        **runtime: Any,
    ) -> None:
        super().__init__(**runtime)
        import kornia.augmentation as K

        self.degrees, self.translate, self.scale, self.shear, self.p = degrees, translate, tuple(scale), shear, p
        self.op = K.RandomAffine(
            degrees=degrees, translate=(translate, translate), scale=self.scale, shear=shear or None, p=p, padding_mode="zeros"
        )

    def is_identity(self) -> bool:
        return self.p == 0 or (self.degrees == 0 and self.translate == 0 and self.scale == (1.0, 1.0) and self.shear == 0)


def hsv_shift(rgb: torch.Tensor, dh_degrees: torch.Tensor, alpha: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
    """H' = (H + ΔH) mod 360°, S' = clip(α S, 0, 1), V' = clip(β V, 0, 1), per image (lecture §4)."""
    from kornia.color import hsv_to_rgb, rgb_to_hsv

    hsv = rgb_to_hsv(rgb)  # H in radians [0, 2π), S and V in [0, 1]
    h = torch.remainder(hsv[:, 0] + dh_degrees[:, None, None] * (math.pi / 180.0), 2 * math.pi)
    s = (hsv[:, 1] * alpha[:, None, None]).clamp(0, 1)
    v = (hsv[:, 2] * beta[:, None, None]).clamp(0, 1)
    return hsv_to_rgb(torch.stack([h, s, v], dim=1))


@AUGMENTS.register("hsv", runtime=RUNTIME)
class HSV(ImagePolicy):
    """Per image: ΔH ~ U(−hue, hue) degrees, α ~ U(1 − saturation, 1 + saturation), β ~ U(1 − value, 1 + value).

    Grayscale images are taken to RGB and back (hue and saturation then change nothing).
    """

    registered_name = "hsv"
    needs_rgb = True

    def __init__(
        self,
        *,
        hue: Annotated[float, Interval(0, 180)] = 18.0,
        saturation: Annotated[float, Interval(0, 1)] = 0.3,
        value: Annotated[float, Interval(0, 1)] = 0.3,
        **runtime: Any,
    ) -> None:
        super().__init__(**runtime)
        self.hue, self.saturation, self.value = hue, saturation, value

    def is_identity(self) -> bool:
        return self.hue == 0 and self.saturation == 0 and self.value == 0

    def _apply(self, images: torch.Tensor) -> torch.Tensor:
        b, dev = images.shape[0], images.device
        u = torch.rand(3, b, device=dev) * 2 - 1
        return hsv_shift(images, u[0] * self.hue, 1 + u[1] * self.saturation, 1 + u[2] * self.value)


@AUGMENTS.register("color_jitter", runtime=RUNTIME)
class ColorJitter(ImagePolicy):
    """kornia's ColorJitter (brightness, contrast, saturation, hue)."""

    registered_name = "color_jitter"
    needs_rgb = True

    def __init__(
        self,
        *,
        brightness: Annotated[float, Interval(0, 1)] = 0.2,
        contrast: Annotated[float, Interval(0, 1)] = 0.2,
        saturation: Annotated[float, Interval(0, 1)] = 0.2,
        hue: Annotated[float, Interval(0, 0.5)] = 0.05,
        p: Prob = 1.0,
        **runtime: Any,
    ) -> None:
        super().__init__(**runtime)
        import kornia.augmentation as K

        self.params = (brightness, contrast, saturation, hue)
        self.p = p
        self.op = K.ColorJitter(brightness, contrast, saturation, hue, p=p)

    def is_identity(self) -> bool:
        return self.p == 0 or not any(self.params)


@AUGMENTS.register("randaugment", runtime=RUNTIME)
class RandAugment(ImagePolicy):
    """N operations drawn from kornia's pool of 14, each at magnitude M (n = 0 applies nothing)."""

    registered_name = "randaugment"
    needs_rgb = True  # the pool has colour operations: grayscale goes through RGB and back

    def __init__(
        self, *, n: Annotated[int, Interval(0, 14)] = 2, m: Annotated[float, Interval(0, 30, "left")] = 9, **runtime: Any
    ) -> None:
        super().__init__(**runtime)
        from kornia.augmentation.auto import RandAugment as KRandAugment

        self.n, self.m = n, m
        self.op = KRandAugment(n=n, m=m) if n > 0 and m > 0 else None

    def is_identity(self) -> bool:
        return self.op is None


@AUGMENTS.register("autoaugment", runtime=RUNTIME)
class AutoAugment(ImagePolicy):
    """kornia's AutoAugment with a searched policy (imagenet, cifar10 or svhn)."""

    registered_name = "autoaugment"
    needs_rgb = True  # the pool has colour operations: grayscale goes through RGB and back

    def __init__(self, *, policy: Literal["imagenet", "cifar10", "svhn"] = "imagenet", **runtime: Any) -> None:
        super().__init__(**runtime)
        from kornia.augmentation.auto import AutoAugment as KAutoAugment

        self.policy = policy
        self.op = KAutoAugment(policy=policy)


@AUGMENTS.register("trivialaugment", runtime=RUNTIME)
class TrivialAugment(ImagePolicy):
    """kornia's TrivialAugment: one random operation at a random magnitude per image."""

    registered_name = "trivialaugment"
    needs_rgb = True  # the pool has colour operations: grayscale goes through RGB and back

    def __init__(self, **runtime: Any) -> None:
        super().__init__(**runtime)
        from kornia.augmentation.auto import TrivialAugment as KTrivialAugment

        self.op = KTrivialAugment()


@AUGMENTS.register("gaussian_noise", runtime=RUNTIME)
class GaussianNoise:
    """x + ε, ε ~ N(0, σ²) per element, on the (scaled) features: tables and images alike."""

    def __init__(self, *, sigma: NonNeg = 0.1, image_shape: Any = None, value_range: Any = None) -> None:
        self.sigma = sigma

    def __call__(self, x: torch.Tensor, y: torch.Tensor, generator: torch.Generator | None = None) -> tuple[torch.Tensor, Any]:
        if self.sigma == 0:
            return x, y
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + self.sigma * noise, y


@AUGMENTS.register("mixup", runtime=RUNTIME)
class Mixup:
    """x' = λ x + (1 − λ) x[π], λ ~ Beta(α, α) per batch; the loss mixes both labels' losses."""

    def __init__(self, *, alpha: NonNeg = 0.2, p: Prob = 1.0, image_shape: Any = None, value_range: Any = None) -> None:
        self.alpha, self.p = alpha, p

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
