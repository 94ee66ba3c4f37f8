"""Full-batch L-BFGS for convex models, through scipy's L-BFGS-B (as scikit-learn's solver).

Why scipy and not ``torch.optim.LBFGS``: the same fit took 7-9x scikit-learn's time with
torch's optimizer (its two-loop recursion and strong-Wolfe search are dozens of small tensor
ops per iteration in Python); scipy's Fortran L-BFGS-B only asks torch for the loss and its
gradient (autograd, so every loss of the registry works: class weights, focal, smoothing,
row weights); softmax regression with (weighted) cross-entropy skips autograd for its closed
form (runner/fitting/softmax_objective.py, same objective). Parameters travel as one float64 vector; the model stays on its device.

An "epoch" is ``BLOCK`` iterations: after each block the trainer evaluates validation, logs,
and may stop (patience). A staged loss is fitted one stage at a time, because its objective
changes at a stage boundary and L-BFGS's curvature pairs would mix two functions.
"""
from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np
import torch
from scipy.optimize import minimize
from torch import nn
from torch.nn.utils import parameters_to_vector, vector_to_parameters

from runner.fitting.softmax_objective import objective_for

BLOCK = 20  # iterations per monitored step
FLOAT64_CELLS = 50_000_000  # fit in float64 up to this many training cells (400 MB), float32 above
ONE_THREAD_CELLS = 4_000_000  # up to here every BLAS call of a fit is too small to share out


def _stage_segments(loss_fn: nn.Module, epochs: int) -> list[tuple[int, int]]:
    """[start, stop) epoch ranges over which the loss is one function."""
    stages = []
    for epoch in range(epochs):
        loss_fn.set_epoch(epoch)
        stages.append(getattr(loss_fn, "stage", None))
    loss_fn.set_epoch(0)
    bounds = [0] + [e for e in range(1, epochs) if stages[e] != stages[e - 1]] + [epochs]
    return list(zip(bounds[:-1], bounds[1:]))


def fit_lbfgs(
    model: nn.Module,
    loss_fn: nn.Module,
    X: torch.Tensor,
    y: torch.Tensor,
    sample_weight: torch.Tensor | None,
    penalty: Callable[[], torch.Tensor] | None,
    epochs: int,
    end_epoch: Callable[[int, float, bool], bool],
    tol: float = 1e-4,
) -> None:
    """Minimise loss + penalty; ``end_epoch(epoch, train_loss, converged) -> stop`` after each block.

    ``converged`` is True for the block in which L-BFGS-B met its tolerance (or could not
    decrease the objective any further, which is the same point at this precision). ``tol`` and
    the other options are scikit-learn's for ``LogisticRegression(solver="lbfgs")``: gradient
    max-norm ``tol``, relative decrease 64 machine epsilons; the fit runs in float64 (the model
    is cast back after) unless the training split exceeds ``FLOAT64_CELLS``.
    """
    original_dtype = next(model.parameters()).dtype
    if X.numel() <= FLOAT64_CELLS:  # exact objective: scikit-learn's tolerances then mean the same
        model.double()
        loss_fn.double()  # class-weight buffers
        X = X.double()
        sample_weight = None if sample_weight is None else sample_weight.double()
    try:
        with _blas_threads(X.numel()):
            _minimise(model, loss_fn, X, y, sample_weight, penalty, epochs, end_epoch, tol)
    finally:
        model.to(original_dtype)
        loss_fn.to(original_dtype)


@contextlib.contextmanager
def _blas_threads(cells: int) -> Iterator[None]:
    """One BLAS thread (numpy's and scipy's OpenBLAS, via threadpoolctl) for a small fit.

    Why: a fit is thousands of tiny BLAS calls (the objective's matrix-vector products, L-BFGS-B's
    own dot products on a few dozen numbers); each wakes OpenBLAS's worker threads, which then
    spin. Measured on the 2-core machine, 24-fit sweep at 10k rows while other processes ran:
    87.5 / 119.4 s of CPU with the default threads, 25.0 / 40.2 s with one (interleaved pairs).
    """
    if cells > ONE_THREAD_CELLS:
        yield
        return
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


def _minimise(model, loss_fn, X, y, sample_weight, penalty, epochs, end_epoch, tol) -> None:  # noqa: ANN001
    params = [p for p in model.parameters() if p.requires_grad]
    device, dtype = params[0].device, params[0].dtype

    def objective(w: np.ndarray) -> tuple[float, np.ndarray]:
        vector_to_parameters(torch.from_numpy(w).to(device=device, dtype=dtype), params)
        for p in params:
            p.grad = None
        loss = loss_fn(model(X), y, sample_weight)
        total = loss + penalty() if penalty is not None else loss
        total.backward()
        grad = torch.cat([p.grad.reshape(-1) for p in params])
        return float(total.detach()), grad.double().cpu().numpy()

    fast = objective_for(model, loss_fn, X, y, sample_weight)  # None: autograd below

    def _loss() -> float:
        with torch.no_grad():
            return float(loss_fn(model(X), y, sample_weight))

    model.train()
    for start, stop in _stage_segments(loss_fn, epochs):
        loss_fn.set_epoch(start)
        state = {"epoch": start, "iters": 0, "stopped": False}

        def callback(intermediate_result: object) -> None:
            state["iters"] += 1
            if state["iters"] % BLOCK == 0:  # the accepted iterate, not the last line-search trial
                vector_to_parameters(torch.from_numpy(intermediate_result.x).to(device=device, dtype=dtype), params)  # type: ignore[attr-defined]
                epoch = state["epoch"]
                state["epoch"] += 1
                if end_epoch(epoch, _loss(), False) or state["epoch"] >= stop:
                    state["stopped"] = True
                    raise StopIteration

        w0 = parameters_to_vector(params).detach().double().cpu().numpy()
        result = minimize(
            fast or objective, w0, jac=True, method="L-BFGS-B", callback=callback,
            options={"maxiter": BLOCK * (stop - start), "gtol": tol, "ftol": 64 * np.finfo(float).eps, "maxls": 50},
        )  # fmt: skip
        vector_to_parameters(torch.from_numpy(result.x).to(device=device, dtype=dtype), params)
        if state["stopped"]:  # the callback ended the segment: patience, or the segment's budget
            if state["epoch"] >= stop and stop < epochs:
                continue
            return
        # L-BFGS-B ended by itself: tolerance met (status 0), or no further float32 decrease (2)
        converged = result.status in (0, 2)
        if end_epoch(state["epoch"], _loss(), converged) or stop >= epochs:
            return
