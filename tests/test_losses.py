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


def test_half_total_is_the_binary_form() -> None:
    np.testing.assert_allclose(weights("half_total"), COUNTS.sum() / (2 * COUNTS))
    binary = np.array([9900, 100])
    np.testing.assert_allclose(weights("half_total", binary), weights("balanced", binary))


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


def binary_logits(p_t: torch.Tensor) -> torch.Tensor:
    """Logits whose softmax gives p_t for class 0 (the target)."""
    return torch.stack([torch.log(p_t), torch.log1p(-p_t)], dim=1)


def focal(gamma: float = 2.0, **params):
    return LOSSES.build({"name": "focal", "gamma": gamma, **params}, "loss", class_counts=COUNTS[:2], original_counts=COUNTS[:2])


def test_focal_gamma_zero_is_cross_entropy() -> None:
    g = torch.Generator().manual_seed(3)
    logits, y = torch.randn(128, 3, generator=g) * 5, torch.randint(0, 3, (128,), generator=g)
    torch.testing.assert_close(focal(0.0)(logits, y), F.cross_entropy(logits, y))


@pytest.mark.parametrize("p_t, ce, fl", [(0.9, 0.105, 0.001), (0.7, 0.357, 0.032), (0.5, 0.693, 0.173), (0.3, 1.204, 0.589), (0.1, 2.303, 1.863)])
def test_lecture_focal_table_claim_3(p_t: float, ce: float, fl: float) -> None:
    """CE matches to 3 decimals; FL too for 0.9/0.7/0.5. For 0.3 and 0.1 the lecture multiplied an
    already rounded CE ((0.9)² · 2.30 = 1.863); the exact values are 0.590 and 1.865, so FL is
    checked exactly against numpy and within 0.0025 of the printed table."""
    logits, y = binary_logits(torch.tensor([p_t], dtype=torch.float64)), torch.zeros(1, dtype=torch.long)
    assert round(focal(0.0).per_sample(logits, y).item(), 3) == ce
    ours = focal(2.0).per_sample(logits, y).item()
    assert ours == pytest.approx(-((1 - p_t) ** 2) * np.log(p_t), rel=1e-6)
    assert abs(ours - fl) <= 0.0025


@pytest.mark.parametrize("gamma", [0.5, 1.0, 2.0, 5.0])
def test_focal_gradient_claim_4_against_autograd(gamma: float) -> None:
    p = torch.tensor([0.05, 0.3, 0.5, 0.8, 0.97], dtype=torch.float64, requires_grad=True)
    loss = focal(gamma).per_sample(binary_logits(p), torch.zeros(5, dtype=torch.long)).sum()
    (grad,) = torch.autograd.grad(loss, p)
    with torch.no_grad():
        # the lecture's claim 4 for FL = -(1 - p_t)^γ log p_t
        formula = gamma * (1 - p) ** (gamma - 1) * torch.log(p) - (1 - p) ** gamma / p
    torch.testing.assert_close(grad, formula, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("eps", [0.05, 0.1, 0.3])
def test_label_smoothing_matches_torch(eps: float) -> None:
    g = torch.Generator().manual_seed(4)
    logits, y = torch.randn(64, 4, generator=g), torch.randint(0, 4, (64,), generator=g)
    ref = F.cross_entropy(logits, y, label_smoothing=eps)
    torch.testing.assert_close(focal(0.0, label_smoothing=eps)(logits, y), ref)
    ce = LOSSES.build({"name": "ce", "label_smoothing": eps}, "loss")
    torch.testing.assert_close(ce(logits, y), ref)


def test_alpha_focal_and_class_balanced_focal() -> None:
    g = torch.Generator().manual_seed(5)
    logits, y = torch.randn(64, 3, generator=g), torch.randint(0, 3, (64,), generator=g)
    counts = COUNTS
    p_t = torch.softmax(logits, 1).gather(1, y[:, None]).squeeze(1)
    w = torch.as_tensor(weights("effective_number", beta=0.99), dtype=torch.float32)
    expected = (-w[y] * (1 - p_t) ** 2 * torch.log(p_t)).mean()
    built = lambda cfg: LOSSES.build(cfg, "loss", class_counts=counts, original_counts=counts)  # noqa: E731
    torch.testing.assert_close(built({"name": "focal", "alpha": "effective_number", "beta": 0.99})(logits, y), expected)
    torch.testing.assert_close(built({"name": "class_balanced_focal", "beta": 0.99})(logits, y), expected)


def test_enhanced_focal_stages() -> None:
    g = torch.Generator().manual_seed(6)
    logits, y = torch.randn(64, 3, generator=g), torch.randint(0, 3, (64,), generator=g)
    loss = LOSSES.build({"name": "enhanced_focal", "stage_epochs": [2, 3], "gamma": 2.0}, "loss", class_counts=COUNTS, original_counts=COUNTS)
    stages = []
    for epoch in range(7):
        loss.set_epoch(epoch)
        stages.append(loss.stage)
    assert stages == [1, 1, 2, 2, 2, 3, 3]
    loss.set_epoch(0)
    torch.testing.assert_close(loss(logits, y), F.cross_entropy(logits, y))
    loss.set_epoch(3)
    torch.testing.assert_close(loss(logits, y), focal(1.0)(logits, y))
    loss.set_epoch(6)
    alpha = LOSSES.build({"name": "focal", "alpha": "effective_number"}, "loss", class_counts=COUNTS, original_counts=COUNTS)
    torch.testing.assert_close(loss(logits, y), alpha(logits, y))


def test_forward_mutates_nothing() -> None:
    loss = LOSSES.build({"name": "class_balanced_focal"}, "loss", class_counts=COUNTS, original_counts=COUNTS)
    before = {k: v.clone() for k, v in loss.state_dict().items()}
    loss(torch.randn(8, 3), torch.randint(0, 3, (8,)))
    assert all(torch.equal(before[k], v) for k, v in loss.state_dict().items())
