"""Class-weight schemes (lecture §3), computed from whole-training-split class counts.

Never from per-batch counts: a batch missing a class would give a zero count and NaN weights.
A class with no training rows gets weight 0 (it cannot appear in the training loss anyway).
"""
from __future__ import annotations

from typing import Annotated

import numpy as np

from components.errors import ConfigError
from components.registry import Interval, get_registry

CLASS_WEIGHTS = get_registry("class_weights")


def _counts(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.float64)
    if counts.ndim != 1 or counts.size < 2 or (counts < 0).any() or counts.sum() == 0:
        raise ConfigError(f"class counts must be non-negative with at least one row and two classes; got {counts.tolist()}.")
    return counts


def _safe_div(num: np.ndarray | float, counts: np.ndarray) -> np.ndarray:
    out = np.zeros_like(counts)
    np.divide(num, counts, out=out, where=counts > 0)
    return out


@CLASS_WEIGHTS.register("none", runtime=("counts",))
def uniform(*, counts: np.ndarray) -> np.ndarray:
    """w_k = 1."""
    return np.ones_like(_counts(counts))


@CLASS_WEIGHTS.register("inverse", runtime=("counts",))
def inverse(*, counts: np.ndarray) -> np.ndarray:
    """w_k = N / (K · N_k): scikit-learn's ``compute_class_weight('balanced')``."""
    c = _counts(counts)
    return _safe_div(c.sum() / c.size, c)


@CLASS_WEIGHTS.register("balanced", runtime=("counts",))
def balanced(*, counts: np.ndarray) -> np.ndarray:
    """w_k = N / (K · N_k): scikit-learn's ``class_weight='balanced'`` (same as ``inverse``).

    Until issue 12 this name meant N / (2 · N_k), which differs from scikit-learn's meaning
    when K > 2; that scheme is ``half_total`` now.
    """
    return inverse(counts=counts)


@CLASS_WEIGHTS.register("half_total", runtime=("counts",))
def half_total(*, counts: np.ndarray) -> np.ndarray:
    """w_k = N / (2 · N_k): the lecture's binary formula applied to any K (equals ``balanced``
    when K = 2; with K > 2 every weight is K/2 times scikit-learn's)."""
    c = _counts(counts)
    return _safe_div(c.sum() / 2.0, c)


@CLASS_WEIGHTS.register("effective_number", runtime=("counts",))
def effective_number(*, counts: np.ndarray, beta: Annotated[float, Interval(0, 1, "left")] = 0.999) -> np.ndarray:
    """w_k ∝ (1 − β) / (1 − β^{N_k}) (Cui et al. 2019), normalised so Σ w_k = K.

    β = 0 gives uniform weights; β → 1 tends to inverse frequency.
    """
    c = _counts(counts)
    effective = 1.0 - np.power(beta, c)  # (1 - β^N) / (1 - β) is the effective number
    raw = _safe_div(1.0 - beta, effective)
    present = c > 0
    return raw * (present.sum() / raw[present].sum())


def class_weights(scheme: str | list[float], counts: np.ndarray, key: str, **params: float) -> np.ndarray:
    """Weights by scheme name, or an explicit per-class list checked against the class count."""
    if isinstance(scheme, (list, tuple)):
        w = np.asarray(scheme, dtype=np.float64)
        if w.shape != (len(counts),) or (w < 0).any():
            raise ConfigError(f"{key}: got {list(scheme)}; expected {len(counts)} non-negative weights, one per class.")
        return w
    return np.asarray(CLASS_WEIGHTS.build({"name": scheme, **params}, key, counts=counts))
