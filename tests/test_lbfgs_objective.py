"""Softmax regression's closed-form objective against torch autograd of the registry's own loss
and penalty (the independent reference), and whole L-BFGS fits on it against the autograd path."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn.utils import parameters_to_vector

import components
from components import get_registry
from components.models import logistic, mlp
from runner.fitting import lbfgs
from runner.fitting.softmax_objective import objective_for

components.load_builtin()
LOSSES = get_registry("loss")


def _problem(k: int, n: int = 300, d: int = 7, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = np.random.default_rng(seed)
    X = g.normal(size=(n, d)) * g.uniform(0.1, 30, size=d)  # unscaled columns, as an unscaled arm
    y = g.choice(k, size=n, p=np.r_[0.1, np.full(k - 1, 0.9 / (k - 1))])
    return torch.tensor(X, dtype=torch.float64), torch.tensor(y)


def _loss(spec: dict, y: torch.Tensor, k: int) -> torch.nn.Module:
    counts = np.bincount(y.numpy(), minlength=k)
    return LOSSES.build(spec, "loss", class_counts=counts, original_counts=counts).double()


CASES = [
    (2, {"name": "ce"}, False, 1.0),
    (2, {"name": "ce"}, True, None),
    (3, {"name": "ce", "label_smoothing": 0.1}, False, 0.3),
    (2, {"name": "weighted_ce"}, True, 1.0),
    (4, {"name": "weighted_ce", "weights": "effective_number", "label_smoothing": 0.05}, True, 2.0),
]


@pytest.mark.parametrize(("k", "spec", "weighted_rows", "C"), CASES)
def test_value_and_gradient_are_autograds(k: int, spec: dict, weighted_rows: bool, C: float | None) -> None:
    X, y = _problem(k)
    model = logistic(in_features=X.shape[1], num_classes=k, C=C).double()
    loss_fn = _loss(spec, y, k)
    sw = torch.rand(len(y), dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 3 if weighted_rows else None
    fast = objective_for(model, loss_fn, X, y, sw)
    assert fast is not None
    for trial in range(3):
        torch.manual_seed(trial)
        for p in model.parameters():
            p.data.normal_(0, 0.5)
        model.zero_grad()
        total = loss_fn(model(X), y, sw) + model.penalty(len(y))
        total.backward()
        ref_grad = torch.cat([model.weight.grad.reshape(-1), model.bias.grad]).numpy()
        value, grad = fast(parameters_to_vector(model.parameters()).detach().numpy().copy())
        assert value == pytest.approx(float(total.detach()), rel=1e-12)
        np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-13)


def test_other_models_losses_and_dtypes_keep_autograd() -> None:
    X, y = _problem(2)
    lin = logistic(in_features=X.shape[1], num_classes=2, C=1.0).double()
    ce = _loss({"name": "ce"}, y, 2)
    assert objective_for(lin, _loss({"name": "focal"}, y, 2), X, y, None) is None
    assert objective_for(mlp(in_features=X.shape[1], num_classes=2, hidden=[4]).double(), ce, X, y, None) is None
    assert objective_for(lin.float(), ce, X.float(), y, None) is None
    frozen = logistic(in_features=X.shape[1], num_classes=2, C=1.0).double()
    frozen.bias.requires_grad_(False)
    assert objective_for(frozen, ce, X, y, None) is None


@pytest.mark.parametrize(("k", "spec", "weighted_rows", "C"), CASES)
def test_a_whole_fit_lands_where_the_autograd_fit_does(monkeypatch, k, spec, weighted_rows, C) -> None:  # noqa: ANN001
    """Same objective, so L-BFGS-B takes the same path: the fitted probabilities agree."""
    X, y = _problem(k, n=500, seed=3)
    sw = torch.rand(len(y), dtype=torch.float64, generator=torch.Generator().manual_seed(2)) + 0.5 if weighted_rows else None
    calls = []

    def fit(closed_form: bool) -> np.ndarray:
        torch.manual_seed(0)
        model = logistic(in_features=X.shape[1], num_classes=k, C=C)
        loss_fn = _loss(spec, y, k).float()
        if not closed_form:
            monkeypatch.setattr(lbfgs, "objective_for", lambda *a: calls.append(1))
        penalty = lambda: model.penalty(len(y))  # noqa: E731
        lbfgs.fit_lbfgs(model, loss_fn, X.float(), y, None if sw is None else sw.float(), penalty, 50, lambda *a: False, 1e-6)
        monkeypatch.undo()
        with torch.no_grad():
            return torch.softmax(model.double()(X), 1).numpy()

    fast, slow = fit(True), fit(False)
    assert calls, "the reference fit did not take the autograd path"
    np.testing.assert_allclose(fast, slow, atol=2e-5)


def test_a_small_fit_runs_on_one_blas_thread_and_a_large_one_keeps_the_pool(monkeypatch) -> None:  # noqa: ANN001
    from threadpoolctl import threadpool_info, threadpool_limits

    X, y = _problem(2)
    seen = []
    real = lbfgs.objective_for

    def spy(*args):  # noqa: ANN001, ANN202
        f = real(*args)

        def objective(w):  # noqa: ANN001, ANN202
            seen.append(max(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"))
            return f(w)

        return objective

    monkeypatch.setattr(lbfgs, "objective_for", spy)
    with threadpool_limits(limits=2, user_api="blas"):  # a pool to shrink, whatever this machine has
        for limit, expected in ((10**9, 1), (10, 2)):
            monkeypatch.setattr(lbfgs, "ONE_THREAD_CELLS", limit)
            seen.clear()
            model = logistic(in_features=X.shape[1], num_classes=2, C=1.0)
            lbfgs.fit_lbfgs(model, _loss({"name": "ce"}, y, 2), X.float(), y, None, lambda: model.penalty(len(y)), 2, lambda *a: False)
            assert seen and set(seen) == {expected}, (limit, seen)
