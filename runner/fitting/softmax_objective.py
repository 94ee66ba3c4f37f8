"""Softmax regression's loss and gradient in closed form (numpy), for L-BFGS's objective.

Why: a logistic fit asks for ~100-200 objective evaluations; through torch autograd each one
is a dozen small tensor ops, a graph and a backward pass (~12 ms at 64k x 16 rows in float64,
most of it per-op overhead and the two-column ``cross_entropy`` kernels), against scikit-learn's
fused C loop. The cross-entropy gradient of a linear model is known exactly,
``X^T (r * (P - T)) `` with P the softmax and T the (smoothed) one-hot targets, so numpy
computes the same objective with three matrix products and no graph.

Scope: ``model=logistic`` with ``loss=ce`` or ``loss=weighted_ce`` (any weights and label
smoothing), optional row weights, on the CPU in float64 (``fit_lbfgs``'s exact path); any
other model, loss, device or dtype keeps torch autograd (``objective_for`` returns None).
tests/test_lbfgs_objective.py checks value and gradient against torch autograd of the registry's
own loss and penalty, and whole fits against scikit-learn.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from components.losses import CrossEntropy, WeightedCrossEntropy
from components.models import LogisticRegression

Objective = Callable[[np.ndarray], tuple[float, np.ndarray]]


def objective_for(
    model: nn.Module, loss_fn: nn.Module, X: torch.Tensor, y: torch.Tensor, sample_weight: torch.Tensor | None
) -> Objective | None:
    """The closed-form objective of ``loss_fn(model(X), y, sample_weight) + model.penalty(n)``
    over the flat parameter vector (weight rows, then bias: ``parameters_to_vector``'s order),
    or None where it does not apply."""
    if type(model) is not LogisticRegression or type(loss_fn) not in (CrossEntropy, WeightedCrossEntropy):
        return None
    if model.bias is None or not (model.weight.requires_grad and model.bias.requires_grad):
        return None
    if X.device.type != "cpu" or X.dtype != torch.float64 or X.ndim != 2:
        return None
    Xn = X.numpy()
    n, d = Xn.shape
    k = model.out_features
    labels = y.cpu().numpy().astype(np.int64)
    eps = float(loss_fn.label_smoothing)
    row = np.full(n, 1.0 / n)  # the mean over rows, times each row's weights
    if sample_weight is not None:
        row = row * sample_weight.detach().cpu().double().numpy()
    if isinstance(loss_fn, WeightedCrossEntropy):
        row = row * loss_fn.class_weight.detach().cpu().double().numpy()[labels]
    ridge = model.ridge(n)  # LogisticRegression.penalty = ridge * ||W||^2
    if k == 2:
        return _binary(Xn, (1.0 - eps) * (labels == 1) + eps / 2, row, ridge)
    targets = np.full((k, n), eps / k)  # classes x rows: numpy reduces fast across the first axis
    targets[labels, np.arange(n)] += 1.0 - eps
    return _multinomial(Xn, targets, row, ridge)


def _binary(Xn: np.ndarray, t1: np.ndarray, row: np.ndarray, ridge: float) -> Objective:
    """Two softmax rows see only their difference: with δ = z1 - z0, CE = softplus(δ) - t1 δ and
    dCE/dδ = σ(δ) - t1, so one matrix-vector product each way instead of a two-column softmax."""
    from scipy.special import expit, log_expit

    d = Xn.shape[1]

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        W, b = w[: 2 * d].reshape(2, d), w[2 * d :]
        delta = Xn @ (W[1] - W[0]) + (b[1] - b[0])
        value = -float(row @ (log_expit(-delta) + t1 * delta))  # softplus(δ) = -log σ(-δ)
        g = (expit(delta) - t1) * row
        gv, gb = g @ Xn, g.sum()
        grad = np.concatenate([-gv, gv, [-gb, gb]])
        grad[: 2 * d] += (2.0 * ridge) * w[: 2 * d]
        return value + ridge * float(np.vdot(W, W)), grad

    return objective


def _multinomial(Xn: np.ndarray, targets: np.ndarray, row: np.ndarray, ridge: float) -> Objective:
    """K > 2: softmax over the classes, in a classes x rows layout."""
    k, d = targets.shape[0], Xn.shape[1]

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        W, b = w[: k * d].reshape(k, d), w[k * d :]
        z = W @ Xn.T + b[:, None]
        top = z.max(axis=0)
        e = np.exp(z - top)
        total = e.sum(axis=0)
        per_row = np.log(total) + top - (targets * z).sum(axis=0)  # log-sum-exp - T . z
        residual = (e / total - targets) * row  # d loss / d z
        grad_W = residual @ Xn + (2.0 * ridge) * W
        value = float(per_row @ row) + ridge * float(np.vdot(W, W))
        return value, np.concatenate([grad_W.ravel(), residual.sum(axis=1)])

    return objective
