"""The trainer: model selection by a monitor, convergence, prior bias, parity with scikit-learn."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import components
from components import get_registry
from components.errors import ConfigError
from components.models import logistic
from runner.cli.configs import compose
from runner.jobs.job import JobContext, run_job
from runner.fitting.monitor import Monitor, check_monitor, validation_weights
from runner.fitting.training import TrainerSettings, init_output_bias, resolve_optimizer, train
from tests.conftest import FAST

CE = {"name": "ce"}
components.load_builtin()


def _identity(x, y, g):  # noqa: ANN001, ANN202
    return x, y


def _fit(X: np.ndarray, y: np.ndarray, C: float | None = 1.0, **settings: object) -> tuple[torch.nn.Module, object]:
    model = logistic(in_features=X.shape[1], num_classes=int(y.max()) + 1, C=C)
    loss = get_registry("loss").build(CE, "loss")
    s = TrainerSettings(deterministic=False, **settings)  # type: ignore[arg-type]
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    history = train(model, loss, get_registry("augment").build({"name": "none"}, "augment"), Xt, yt, Xt, y, s, 0, int(y.max()) + 1)
    return model, history


@pytest.mark.parametrize("loader", [load_breast_cancer, load_wine], ids=["binary", "multinomial"])
def test_logistic_is_scikit_learns_logistic_regression(loader) -> None:  # noqa: ANN001
    """Same L2 objective, converged by L-BFGS: the coefficients are scikit-learn's."""
    X, y = loader(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    model, history = _fit(X, y, tol=1e-9)
    ref = LogisticRegression(C=1.0, max_iter=5000, tol=1e-9).fit(X, y)
    W, b = model.weight.detach().double().numpy(), model.bias.detach().double().numpy()
    if W.shape[0] == 2:  # two softmax rows -> one sigmoid vector v = w1 - w0
        W, b = (W[1] - W[0])[None], np.array([b[1] - b[0]])
    else:  # softmax logits are defined up to a shared shift: compare centred intercepts
        b = b - b.mean()
        ref_b = ref.intercept_ - ref.intercept_.mean()
        np.testing.assert_allclose(b, ref_b, atol=1e-4)
    assert history.optimizer == "lbfgs" and history.converged
    np.testing.assert_allclose(W, ref.coef_, atol=1e-4)
    if W.shape[0] == 1:
        np.testing.assert_allclose(b, ref.intercept_, atol=1e-4)


@pytest.mark.slow
def test_breast_cancer_job_matches_scikit_learn_on_the_same_rows() -> None:
    """The fast pin of benchmarks/bench_parity.py: a whole job, ROC-AUC within 0.005, log loss within 5%."""
    from benchmarks.bench_parity import ours, theirs

    for seed in (0, 1):
        a, b = ours("logistic", ["dataset=breast_cancer"], seed), theirs("logistic", ["dataset=breast_cancer"], seed)
        assert abs(a[0] - b[0]) <= 0.005 and a[1] <= 1.05 * b[1], (seed, a, b)


def test_prior_bias_is_log_class_frequency() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    y = torch.tensor([0] * 90 + [1] * 9 + [2] * 1)
    init_output_bias(model, y, 3, None)
    np.testing.assert_allclose(model[2].bias.detach().numpy(), np.log([0.9, 0.09, 0.01]), atol=1e-3)
    w = torch.tensor([1.0] * 90 + [10.0] * 9 + [90.0] * 1)  # row weights change the prior
    init_output_bias(model, y, 3, w)
    np.testing.assert_allclose(torch.softmax(model[2].bias.detach(), 0).numpy(), [90 / 270, 90 / 270, 90 / 270], atol=1e-4)


def test_monitor_keeps_the_best_and_counts_patience_by_min_delta() -> None:
    m = Monitor("val/loss", "min", patience=2, min_delta=0.1)
    assert m.update(0, 1.0) and m.best_epoch == 0
    assert m.update(1, 0.95) and m.best_epoch == 1 and m.since_improvement == 1  # better, but not by min_delta
    assert not m.update(2, 0.97) and m.exhausted  # two epochs without a 0.1 improvement
    m.reset()
    assert m.best_epoch == -1 and not m.exhausted
    up = Monitor("val/roc_auc", "max", patience=1)
    up.update(0, 0.6)
    assert not up.update(1, float("nan")) and up.best == 0.6 and up.exhausted


def test_validation_weights_move_the_class_shares_to_the_fed_ones() -> None:
    y_val = np.array([0] * 95 + [1] * 5)
    w = validation_weights(y_val, fed_counts=np.array([500, 500]), original_counts=np.array([950, 50]))
    shares = np.bincount(y_val, weights=w) / w.sum()
    np.testing.assert_allclose(shares, [0.5, 0.5])
    np.testing.assert_allclose(validation_weights(y_val, np.array([950, 50]), np.array([950, 50])), 1.0)


def test_monitor_names_are_checked() -> None:
    check_monitor("val/recall/minority", ["majority", "minority"])
    with pytest.raises(ConfigError, match=r"trainer.monitor: got 'val/bogus'; expected one of val/macro_f1, val/roc_auc"):
        check_monitor("val/bogus")
    with pytest.raises(ConfigError, match="class 'rare' is not a class of this dataset. Classes: majority, minority"):
        check_monitor("val/recall/rare", ["majority", "minority"])
    with pytest.raises(ConfigError, match="trainer.monitor: got 'test/roc_auc'"):
        get_registry("trainer").validate({"name": "default", "monitor": "test/roc_auc"}, "trainer")


@pytest.mark.slow
def test_flat_argmax_metric_no_longer_keeps_an_inverted_model() -> None:
    """The failure of issue 9, built on purpose: a 29:1 class, weights that start inverted, slow SGD.

    Argmax macro-F1 stays at the all-majority value for every epoch, so selecting by it keeps
    epoch 0, whose ranking is inverted (val ROC-AUC < 0.5) although later epochs rank well.
    The default monitor (val/log_loss) keeps an epoch close to the best ROC-AUC seen; so does val/loss.
    """
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 2)).astype(np.float32)
    y = (X[:, 0] + 0.5 * rng.standard_normal(3000) > 2.0).astype(np.int64)
    assert 0.02 < y.mean() < 0.05
    Xv = rng.standard_normal((1500, 2)).astype(np.float32)
    yv = (Xv[:, 0] + 0.5 * rng.standard_normal(1500) > 2.0).astype(np.int64)

    def run(monitor: str) -> tuple[float, float]:
        model = logistic(in_features=2, num_classes=2, C=None)
        with torch.no_grad():
            model.weight.copy_(torch.tensor([[1.5, 0.0], [-1.5, 0.0]]))  # ranking inverted at the start
        s = TrainerSettings(optimizer="sgd", lr=0.05, momentum=0.0, epochs=25, patience=0, schedule="none", monitor=monitor, deterministic=False)
        h = train(model, get_registry("loss").build(CE, "loss"), _identity, torch.tensor(X), torch.tensor(y), torch.tensor(Xv), yv, s, 0, 2)
        aucs = [row["val/roc_auc"] for row in h.epochs]
        assert max(row["val/macro_f1"] for row in h.epochs) - min(row["val/macro_f1"] for row in h.epochs) < 0.05  # flat
        return aucs[h.best_epoch], max(aucs)

    kept_old, best_old = run("val/macro_f1")
    assert kept_old < 0.5 < best_old  # the failure exists in this setting
    for monitor in (TrainerSettings().monitor, "val/loss"):
        kept_new, best_new = run(monitor)
        assert kept_new >= best_new - 0.01 and kept_new > 0.9, monitor


@pytest.mark.slow
def test_budget_exhausted_while_improving_is_reported(tmp_path, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="runner")
    cfg = compose([*FAST, "dataset=breast_cancer", "model=mlp", "trainer.epochs=2", "tracking=none", f"paths.outputs={tmp_path}"])
    m = run_job(cfg, JobContext()).metrics
    assert m["train/converged"] == 0.0 and m["train/epochs_run"] == 2.0
    assert "trainer.epochs: the budget of 2 epochs ran out while val/log_loss was still improving" in caplog.text
    assert "raise it, e.g. trainer.epochs=4" in caplog.text
    caplog.clear()
    done = run_job(compose([*FAST, "dataset=breast_cancer", "model=logistic", "trainer.epochs=50", "tracking=none", f"paths.outputs={tmp_path}"]), JobContext())
    assert done.metrics["train/converged"] == 1.0 and "ran out" not in caplog.text


def test_staged_loss_is_not_stopped_before_its_last_stage() -> None:
    X = torch.randn(200, 3)
    y = (X[:, 0] > 0).long()
    loss = get_registry("loss").build(
        {"name": "enhanced_focal", "stage_epochs": [4, 4]}, "loss", class_counts=np.array([100, 100]), original_counts=np.array([100, 100])
    )
    s = TrainerSettings(epochs=40, patience=1, min_delta=10.0, deterministic=False)  # nothing counts as an improvement
    h = train(torch.nn.Linear(3, 2), loss, _identity, X, y, X, y.numpy(), s, 0, 2)
    assert [int(r["train/loss_stage"]) for r in h.epochs][:9] == [1, 1, 1, 1, 2, 2, 2, 2, 3]
    assert len(h.epochs) == 10 and h.best_epoch >= 8 and h.stopped_early  # kept epoch from the last stage


def test_optimizer_auto_is_lbfgs_only_for_a_convex_model_on_fixed_rows() -> None:
    augments = get_registry("augment")
    s = TrainerSettings()
    lin = logistic(in_features=2, num_classes=2)
    assert resolve_optimizer(s, lin, augments.build({"name": "none"}, "augment")) == "lbfgs"
    assert resolve_optimizer(s, lin, augments.build({"name": "mixup"}, "augment")) == "adam"
    assert resolve_optimizer(s, torch.nn.Linear(2, 2), augments.build({"name": "none"}, "augment")) == "adam"
    assert resolve_optimizer(TrainerSettings(optimizer="sgd"), lin, None) == "sgd"


@pytest.mark.slow
def test_kept_epoch_and_monitor_are_logged(outputs) -> None:
    from mlflow.tracking import MlflowClient

    cfg = compose([*FAST, "trainer.epochs=4", "trainer.monitor=val/roc_auc", f"paths.outputs={outputs}", "experiment_name=t_monitor"])
    result = run_job(cfg, JobContext())
    client = MlflowClient(f"sqlite:///{outputs}/mlflow.db")
    run, history = client.get_run(result.run_id), client.get_metric_history(result.run_id, "val/roc_auc")
    best = int(run.data.metrics["train/best_epoch"])
    per_epoch = {h.step: h.value for h in history if h.step < 4}
    assert run.data.tags["train.monitor"] == "val/roc_auc" and run.data.tags["converged"] in ("true", "false")
    assert run.data.metrics["train/best_score"] == pytest.approx(max(per_epoch.values())) == pytest.approx(per_epoch[best])


@pytest.mark.parametrize("k", [2, 4])
@pytest.mark.parametrize("weighted", [False, True])
def test_per_epoch_metrics_equal_scikit_learns(k: int, weighted: bool) -> None:
    from sklearn import metrics as skm

    from runner.fitting.monitor import fast_binary_auc, fast_log_loss, fast_macro_f1

    rng = np.random.default_rng(k)
    y = rng.integers(0, k, 500)
    logits = rng.standard_normal((500, k)) + 1.5 * np.eye(k)[y]
    logits[:50] = np.round(logits[:50])  # ties in the scores
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    w = rng.uniform(0.2, 3.0, 500) if weighted else None
    pred = proba.argmax(1)
    assert fast_log_loss(y, proba, w) == pytest.approx(skm.log_loss(y, proba, sample_weight=w, labels=np.arange(k)), rel=1e-9)
    ref_f1 = skm.f1_score(y, pred, average="macro", labels=np.arange(k), zero_division=0, sample_weight=w)
    assert fast_macro_f1(y, pred, k, w) == pytest.approx(ref_f1, rel=1e-9)
    assert fast_macro_f1(np.zeros(10, int), np.zeros(10, int), 3) == pytest.approx(1 / 3)  # absent labels count 0
    for c in range(k):
        ref = skm.roc_auc_score(y == c, proba[:, c], sample_weight=w)
        assert fast_binary_auc(y == c, proba[:, c], w) == pytest.approx(ref, rel=1e-9)
