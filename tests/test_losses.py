"""Class weights and losses against the lecture's formulas, scikit-learn and torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from sklearn.utils.class_weight import compute_class_weight

import components
from components.class_weights import CLASS_WEIGHTS, class_weights
from components.errors import ConfigError
from components.losses import LOSSES

components.load_builtin()
COUNTS = np.array([9900, 100, 600])


def weights(name: str, counts=COUNTS, **params: float) -> np.ndarray:
    return CLASS_WEIGHTS.build({"name": name, **params}, "loss.weights", counts=counts)


def test_inverse_matches_sklearn_balanced() -> None:
    y = np.repeat(np.arange(3), COUNTS)
    np.testing.assert_allclose(weights("inverse"), compute_class_weight("balanced", classes=np.arange(3), y=y))


def test_balanced_is_binary_form() -> None:
    np.testing.assert_allclose(weights("balanced"), COUNTS.sum() / (2 * COUNTS))
    binary = np.array([9900, 100])
    np.testing.assert_allclose(weights("balanced", binary), weights("inverse", binary))


@pytest.mark.parametrize("beta", [0.9, 0.99, 0.999, 0.9999])
def test_effective_number_formula_and_normalisation(beta: float) -> None:
    raw = (1 - beta) / (1 - beta ** COUNTS.astype(float))
    expected = raw / raw.sum() * len(COUNTS)
    w = weights("effective_number", beta=beta)
    np.testing.assert_allclose(w, expected, rtol=1e-12)
    assert w.sum() == pytest.approx(3.0)


def test_effective_number_limits() -> None:
    np.testing.assert_allclose(weights("effective_number", beta=0.0), np.ones(3))
    inv = weights("inverse")
    near_one = weights("effective_number", beta=1 - 1e-9)
    np.testing.assert_allclose(near_one, inv / inv.sum() * 3, rtol=1e-4)


def test_zero_count_class_gets_zero_weight_not_nan() -> None:
    for name in ("inverse", "balanced", "effective_number"):
        w = weights(name, np.array([10, 0, 5]))
        assert np.isfinite(w).all() and w[1] == 0


def test_explicit_weight_list_is_checked() -> None:
    with pytest.raises(ConfigError, match=r"loss.weights: got \[1.0, 2.0\]; expected 3 non-negative weights, one per class."):
        class_weights([1.0, 2.0], COUNTS, "loss.weights")


def test_ce_equals_torch_cross_entropy() -> None:
    g = torch.Generator().manual_seed(0)
    logits, y = torch.randn(64, 3, generator=g), torch.randint(0, 3, (64,), generator=g)
    loss = LOSSES.build({"name": "ce"}, "loss")
    torch.testing.assert_close(loss(logits, y), F.cross_entropy(logits, y))


@pytest.mark.parametrize("scheme", ["inverse", "balanced", "effective_number", [0.5, 2.0, 1.0]])
def test_weighted_ce_is_mean_of_w_y_times_nll(scheme) -> None:
    g = torch.Generator().manual_seed(1)
    logits, y = torch.randn(64, 3, generator=g), torch.randint(0, 3, (64,), generator=g)
    loss = LOSSES.build({"name": "weighted_ce", "weights": scheme}, "loss", class_counts=COUNTS, original_counts=COUNTS)
    w = torch.as_tensor(class_weights(scheme, COUNTS, "k", **({"beta": 0.999} if scheme == "effective_number" else {})), dtype=torch.float32)
    expected = F.cross_entropy(logits, y, weight=w, reduction="none").mean()
    torch.testing.assert_close(loss(logits, y), expected)


def test_weighted_ce_counts_original_vs_resampled() -> None:
    before, after = np.array([90, 10]), np.array([90, 90])
    res = LOSSES.build({"name": "weighted_ce"}, "loss", class_counts=after, original_counts=before)
    orig = LOSSES.build({"name": "weighted_ce", "counts": "original"}, "loss", class_counts=after, original_counts=before)
    np.testing.assert_allclose(res.class_weight.numpy(), [1.0, 1.0])
    np.testing.assert_allclose(orig.class_weight.numpy(), 100 / (2 * before), rtol=1e-6)


def test_sample_weight_multiplies_per_sample_loss() -> None:
    logits, y = torch.randn(8, 2), torch.randint(0, 2, (8,))
    sw = torch.linspace(0, 2, 8)
    loss = LOSSES.build({"name": "ce"}, "loss")
    torch.testing.assert_close(loss(logits, y, sw), (F.cross_entropy(logits, y, reduction="none") * sw).mean())
