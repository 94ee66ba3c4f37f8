"""Issue 14: a 60 × 1,000 training table through every scaler, outlier method and resampler.

Each finishes (the suite's runtime shows it: a few seconds each, measured in the README) or
refuses with its one-line message, pinned here; whitening with shrinkage stays close to
standard scaling and beats the old fixed-ε sample-covariance whitening.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

import components
from components import get_registry
from components.datasets import wide_synthetic
from components.errors import ConfigError
from runner.tables.encoding import numeric_matrix

components.load_builtin()
NAMES = ["c0", "c1", "c2", "c3"]
REFUSED = {
    ("resampler", "smoten"): r"^resampler.name: 'smoten' needs categorical \(string\) feature columns; this dataset has none. Use resampler=smote.$",
    ("resampler", "smotenc"): r"^resampler.name: 'smotenc' needs categorical \(string\) feature columns; this dataset has none. Use resampler=smote.$",
}


@pytest.fixture(scope="module")
def wide() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """60 training rows (27 / 15 / 10 / 8 per class) and 40 test rows of a 1,000-feature table."""
    loaded = wide_synthetic(n_samples=160, n_features=1000, seed=3)
    ds = loaded.splits["train"]
    X, y = numeric_matrix(ds, loaded.features), np.asarray(ds["label"])
    rng = np.random.default_rng(0)
    train = np.concatenate([rng.choice(np.flatnonzero(y == c), n, replace=False) for c, n in zip(range(4), (27, 15, 10, 8))])
    test = np.setdiff1d(np.arange(len(y)), train)[:40]
    return X[train], y[train], X[test], y[test]


def _run(kind: str, name: str, X: np.ndarray, y: np.ndarray) -> np.ndarray:
    registry = get_registry(kind)
    if kind == "scaler":
        return registry.build({"name": name}, kind).fit(X).transform(X)
    if kind == "outlier":
        return registry.build({"name": name}, kind, class_names=NAMES, seed=0).fit_resample(X, y)[0]
    extra = {"epochs": 2} if name == "deepsmote" else {}
    step = registry.build({"name": name, **extra}, kind, class_names=NAMES, seed=0, categorical_features=[], device="cpu")
    return step.fit_resample(X, y)[0]


CASES = [(k, n) for k in ("scaler", "outlier", "resampler") for n in get_registry(k).names()]


@pytest.mark.parametrize("kind, name", CASES, ids=[f"{k}={n}" for k, n in CASES])
def test_every_step_finishes_or_refuses_on_a_wide_table(wide, kind: str, name: str) -> None:
    X, y, _, _ = wide
    if (kind, name) in REFUSED:
        with pytest.raises(ConfigError, match=REFUSED[kind, name]):
            _run(kind, name, X, y)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the footing and guard warnings are pinned below
        out = _run(kind, name, X, y)
    assert np.isfinite(out).all() and out.shape[1] == X.shape[1]


@pytest.mark.parametrize(
    "kind, name, message",
    [
        ("scaler", "whiten", r"^scaler \(whiten\): n=60 rows, d=1000 features, rank 59, condition number inf: the sample covariance is singular or ill-conditioned; whitening with the Ledoit-Wolf shrinkage estimate \(options: scaler.covariance=ledoit_wolf\|oas\|empirical, or reducer=pca\)$"),
        ("outlier", "mahalanobis", r"^outlier \(mahalanobis\): n=60 rows, d=1000 features, rank 59, condition number inf: the sample covariance cannot be inverted reliably; using the Ledoit-Wolf shrinkage estimate"),
        ("outlier", "mcd", r"^outlier \(mcd\): n=60 rows, d=1000 features, rank 59, condition number inf: MCD runs on the top 12 principal components \(outlier.reduce_to=auto\)$"),
    ],
)
def test_covariance_steps_say_what_they_do_on_a_wide_table(wide, kind: str, name: str, message: str) -> None:
    X, y, _, _ = wide
    with pytest.warns(UserWarning, match=message):
        _run(kind, name, X, y)


@pytest.mark.parametrize(
    "kind, cfg, message",
    [
        ("scaler", {"name": "whiten", "covariance": "empirical"}, r"^scaler.covariance: 'empirical' whitening needs more rows than features; got n=60 rows, d=1000 features, rank 59, condition number inf \(Σ\^\(-1/2\) would amplify the directions train does not span\). Use covariance=auto, ledoit_wolf or oas, or reducer=pca first.$"),
        ("outlier", {"name": "mahalanobis", "covariance": "empirical"}, r"^outlier.covariance: 'empirical' needs more rows than features; got n=60 rows, d=1000 features, rank 59, condition number inf \(Σ is singular\). Use covariance=auto, ledoit_wolf or oas, or reducer=pca first.$"),
        ("outlier", {"name": "mcd", "reduce_to": None}, r"^outlier.reduce_to: MCD needs n > 2d rows; got n=60 rows, d=1000 features, rank 59, condition number inf. Use reduce_to=auto \(PCA to 12 components first\), outlier=mahalanobis, or outlier=isolation_forest.$"),
    ],
)
def test_asking_for_the_impossible_refuses_on_one_line(wide, kind: str, cfg: dict, message: str) -> None:
    X, y, _, _ = wide
    step = get_registry(kind).build(cfg, kind, **({"class_names": NAMES, "seed": 0} if kind == "outlier" else {}))
    with pytest.raises(ConfigError, match=message):
        step.fit(X) if kind == "scaler" else step.fit_resample(X, y)


def _test_auc(Xtr: np.ndarray, ytr: np.ndarray, Xte: np.ndarray, yte: np.ndarray) -> float:
    model = LogisticRegression(max_iter=2000).fit(Xtr, ytr)
    return float(roc_auc_score(yte, model.predict_proba(Xte), multi_class="ovr"))


def test_shrinkage_whitening_is_close_to_standard_scaling_and_beats_the_old_whitening(wide) -> None:
    """Measured, not hoped: on this table whitening by the shrunk total covariance is *not* as good
    as standard scaling (the classes differ along the high-variance directions that whitening
    flattens; README, wide_tables), but it is close and well above the sample-covariance whitening
    with a fixed ε that issue 14 measured below chance. Pinned: within 0.1 ROC-AUC of standard
    (logistic regression), and above the old whitening for a distance-based model (5-NN)."""
    from sklearn.neighbors import KNeighborsClassifier

    Xtr, ytr, Xte, yte = wide
    mean = Xtr.astype(np.float64).mean(0)
    lam, U = np.linalg.eigh(np.cov(Xtr.astype(np.float64), rowvar=False))
    W = (U / np.sqrt(np.clip(lam, 0, None) + 1e-5)) @ U.T  # the old whitening: sample Σ, eps = 1e-5
    views = {"old": ((Xtr - mean) @ W, (Xte - mean) @ W)}
    for name, cfg in {"standard": {"name": "standard"}, "whiten": {"name": "whiten", "covariance": "ledoit_wolf"}}.items():
        s = get_registry("scaler").build(cfg, "scaler").fit(Xtr)
        views[name] = (s.transform(Xtr), s.transform(Xte))
    linear = {k: _test_auc(a, ytr, b, yte) for k, (a, b) in views.items()}
    knn = {k: float(roc_auc_score(yte, KNeighborsClassifier(5).fit(a, ytr).predict_proba(b), multi_class="ovr")) for k, (a, b) in views.items()}
    assert linear["standard"] > 0.9 and linear["whiten"] > 0.8, linear
    assert linear["whiten"] >= linear["standard"] - 0.1, linear
    assert knn["whiten"] > knn["old"] + 0.05, knn
