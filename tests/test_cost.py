"""Cost guards refuse (one line, before any work) or warn, naming the cheaper alternative."""
from __future__ import annotations

import numpy as np
import pytest

import components
from components import get_registry
from components.cost import FLOPS, CostWarning, guard
from components.drift import domain_auc
from components.errors import ConfigError
from components.quality import QualitySettings, quality_report

components.load_builtin()
NAMES = ["a", "b"]


def test_guard_warns_and_refuses_with_the_facts() -> None:
    assert guard("k", "thing", 10, 20, 1.0 * FLOPS, 30.0, "use other")  # 1 s: silent
    with pytest.warns(CostWarning, match=r"^thing on n=10 rows x d=20 features is estimated at ~10 s; use other.$"):
        guard("k", "thing", 10, 20, 10.0 * FLOPS, 30.0, "use other")
    with pytest.raises(ConfigError, match=r"^k.max_cost_s: thing on n=10 rows x d=20 features is estimated at ~100 s \(> k.max_cost_s=30\). use other, or raise k.max_cost_s.$"):
        guard("k", "thing", 10, 20, 100.0 * FLOPS, 30.0, "use other")
    with pytest.warns(CostWarning):  # max_cost_s=None: no limit, only the warning
        assert guard("k", "thing", 10, 20, 1e9 * FLOPS, None, "use other")
    with pytest.warns(CostWarning, match=r"> k.max_cost_s=30\): skipped \(raise k.max_cost_s to keep it\).$"):
        assert not guard("k", "thing", 10, 20, 100.0 * FLOPS, 30.0, "use other", fallback="skipped")


def _never(*args: object, **kwargs: object) -> None:
    raise AssertionError("the expensive fit started although the guard should have refused")


@pytest.mark.parametrize(
    "kind, cfg, target, message",
    [
        ("outlier", {"name": "mcd", "max_cost_s": 1e-9}, "sklearn.covariance.MinCovDet.fit", r"^outlier.max_cost_s: mcd \(MinCovDet in 3 dims\) on n=200 rows x d=3 features .* use outlier=mahalanobis \(covariance=ledoit_wolf\) or outlier=isolation_forest, or raise outlier.max_cost_s.$"),
        ("outlier", {"name": "lof", "max_cost_s": 1e-9}, "sklearn.neighbors.LocalOutlierFactor.fit", r"^outlier.max_cost_s: lof \(all-pairs neighbour search\) on n=200 rows x d=3 features .* use outlier=isolation_forest, or raise outlier.max_cost_s.$"),
        ("resampler", {"name": "svm_smote", "max_cost_s": 1e-9}, "imblearn.over_sampling.SVMSMOTE.fit_resample", r"^resampler.max_cost_s: svm_smote on n=200 rows x d=3 features .* use resampler=borderline_smote \(neighbour-based, no SVM\), or raise resampler.max_cost_s.$"),
        ("scaler", {"name": "whiten", "max_cost_s": 1e-9}, "numpy.linalg.eigh", r"^scaler.max_cost_s: whiten \(empirical covariance\) on n=200 rows x d=3 features .* use scaler=standard, or reducer=pca with reducer.whiten=true, or raise scaler.max_cost_s.$"),
    ],
)
def test_components_refuse_before_starting(monkeypatch: pytest.MonkeyPatch, kind: str, cfg: dict, target: str, message: str) -> None:
    monkeypatch.setattr(target, _never)
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((200, 3)), np.r_[np.zeros(150, int), np.ones(50, int)]
    runtime = {"scaler": {}, "outlier": {"class_names": NAMES, "seed": 0}, "resampler": {"class_names": NAMES, "seed": 0}}[kind]
    step = get_registry(kind).build(cfg, kind, **runtime)
    with pytest.raises(ConfigError, match=message):
        step.fit(X) if kind == "scaler" else step.fit_resample(X, y)


def test_data_report_takes_the_cheaper_route_above_its_limit() -> None:
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((100, 20)), rng.standard_normal((100, 20)) + 1.0
    with pytest.warns(CostWarning, match=r"domain classifier \(gradient boosting\) .*: using a logistic regression"):
        auc, kind = domain_auc(A, B, 0, max_cost_s=1e-9)
    assert kind == "logistic" and auc > 0.9  # a mean shift in every feature is easy for a linear model too
    assert domain_auc(A, B, 0)[1] == "gradient_boosting"
    settings = QualitySettings(max_cost_s=1e-9)
    with pytest.warns(CostWarning, match=r"label issues \(cross-validated logistic regression\) .*: label issues skipped"):
        report = quality_report(A, np.arange(100) % 2, [f"f{i}" for i in range(20)], NAMES, settings, 0)
    assert "label_issue_rate" not in report and "accuracy" not in report
