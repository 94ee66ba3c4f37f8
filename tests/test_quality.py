"""Quality, EDA, drift and importance weighting against scipy and constructed data."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.spatial.distance import jensenshannon

from components.drift import DomainClassifierImportance, binned, divergences, drift_report
from components.quality import QualitySettings, consistency_and_duplicates, label_issues, near_zero_variance, quality_report
from runner.jobs.job import JobContext, run_job
from tests.conftest import FAST, compose, in_process


def test_divergences_against_scipy() -> None:
    rng = np.random.default_rng(0)
    p, q = binned(rng.normal(0, 1, 5000), rng.normal(0.5, 1.2, 3000), 10)
    d = divergences(p, q)
    assert d["kl"] == pytest.approx(stats.entropy(p, q))
    assert d["js"] == pytest.approx(jensenshannon(p, q) ** 2)
    assert d["tv"] == pytest.approx(0.5 * np.abs(p - q).sum())
    assert d["psi"] == pytest.approx(stats.entropy(p, q) + stats.entropy(q, p))  # PSI is the symmetrised KL
    same = divergences(*binned(rng.normal(size=4000), rng.normal(size=4000), 10))
    assert same["psi"] < 0.02 and d["psi"] > 0.1


@pytest.mark.slow
def test_drift_report_sees_a_shift_and_not_its_absence() -> None:
    rng = np.random.default_rng(1)
    train = rng.normal(size=(4000, 3))
    shifted = np.c_[rng.normal(1.0, 1, 2000), rng.normal(size=(2000, 2))]
    report = drift_report(train, shifted, ["a", "b", "c"], 10, 0.2, 0)
    rows = {r["feature"]: r for r in report["features"]}
    assert rows["a"]["psi"] > 0.2 and rows["b"]["psi"] < 0.05 and report["share_drifted"] == pytest.approx(1 / 3)
    assert rows["a"]["ks"] == pytest.approx(stats.ks_2samp(train[:, 0], shifted[:, 0]).statistic)
    assert report["domain_auc"] > 0.7
    assert drift_report(train, rng.normal(size=(2000, 3)), ["a", "b", "c"], 10, 0.2, 0)["domain_auc"] < 0.56


def test_lecture_imbalance_numbers_and_quality_dimensions() -> None:
    rng = np.random.default_rng(2)
    X = rng.normal(size=(10_000, 3)).astype(np.float32)
    y = np.r_[np.zeros(9900, int), np.ones(100, int)]
    X[1] = X[0]  # an exact duplicate (same label)
    X[9950] = X[2]  # identical features, different labels -> both contradictory
    r = quality_report(X, y, ["a", "b", "c"], ["maj", "min"], QualitySettings(label_issues=False), seed=0)
    assert r["imbalance_ratio"] == 99.0
    assert r["label_entropy"] == pytest.approx(0.056, abs=5e-4) and r["label_entropy"] == pytest.approx(stats.entropy([0.99, 0.01]))
    assert r["contradictory_rows"] == 2 and r["consistency"] == pytest.approx(1 - 2 / 10_000)
    assert r["duplicate_rate"] == pytest.approx(1 / 10_000)
    sp = stats.spearmanr(X[:, 0], X[:, 1]).statistic
    assert any(abs(v - sp) < 1e-9 for a, b, v in r["top_spearman"] if {a, b} == {"a", "b"})


def test_consistency_counts_every_row_of_a_conflicting_group() -> None:
    X = np.array([[1, 2], [1, 2], [1, 2], [3, 4]], dtype=np.float32)
    consistency, dup, bad = consistency_and_duplicates(X, np.array([0, 0, 1, 1]))
    assert bad == 3 and consistency == 0.25 and dup == 0.25


@pytest.mark.slow
def test_label_issues_find_flipped_labels() -> None:
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, 3000)
    X = rng.normal(size=(3000, 4)) + 3 * np.eye(3, 4)[y]
    flipped = rng.choice(3000, 300, replace=False)
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + 1) % 3
    issues = label_issues(X, noisy, folds=5, seed=0)
    clean = np.ones(3000, dtype=bool)
    clean[flipped] = False
    assert issues[flipped].mean() >= 0.7  # recall of the injected errors (0.75 measured)
    assert issues[clean].mean() <= 0.02  # clean rows flagged (0.006 measured)
    assert issues.mean() == pytest.approx(0.1, abs=0.03)


def test_near_zero_variance_follows_caret_rule() -> None:
    n = 1000
    X = np.c_[np.zeros(n), np.r_[np.zeros(990), np.ones(10)], np.arange(n) % 50, np.random.default_rng(0).normal(size=n)]
    assert near_zero_variance(X).tolist() == [True, True, False, False]


def test_completeness_counts_nulls_and_nans(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0] * 10, "b": ["x", None, "y", "x"] * 10, "y": [0, 1] * 20}).to_csv(path, index=False)
    from runner.tables.data import prepare

    data = prepare({"name": "hf", "path": "csv", "data_files": str(path), "label": "y"}, {"test_size": 0.25, "val_size": 0.25}, 0)
    r = quality_report(data.train.X, data.train.y, data.feature_names, data.class_names, QualitySettings(label_issues=False), 0, data.raw_train, data.raw_features)
    train = data.raw_train.to_pandas()[["a", "b"]]  # the training split's raw cells, counted by pandas
    expected = int(train.isna().to_numpy().sum())
    assert 0 < expected < train.size and r["missing_cells"] == expected
    assert r["completeness"] == pytest.approx(1 - expected / train.size)
    assert r["completeness"] != pytest.approx(1.0)


def test_completeness_counts_float_nan_and_nulls_like_pandas() -> None:
    """A float NaN (not an Arrow null: CSV readers give nulls) and a null string both count as missing."""
    import datasets as hf

    from components.quality import completeness

    columns = {"a": [1.0, float("nan"), 3.0, float("nan")], "b": ["x", None, "y", "x"], "c": [1, 2, 3, 4]}
    ds = hf.Dataset.from_dict(columns)
    frame = pd.DataFrame(columns)
    assert ds.data.column("a").null_count == 0  # really NaN in the arrow column, not null
    expected = int(frame.isna().to_numpy().sum())
    assert completeness(ds, ["a", "b", "c"]) == (pytest.approx(1 - expected / frame.size), expected)


def test_importance_weights_recover_a_known_density_ratio() -> None:
    rng = np.random.default_rng(4)
    train, target = rng.normal(0, 1, (20000, 1)), rng.normal(1, 1, (20000, 1))
    w = DomainClassifierImportance(clip_max=1e6, clip_min=0.0).fit(train, target).weights(train)
    true = stats.norm.pdf(train[:, 0], 1, 1) / stats.norm.pdf(train[:, 0], 0, 1)
    assert np.corrcoef(np.log(w), np.log(true / true.mean()))[0, 1] > 0.99


@pytest.mark.slow
def test_importance_weighting_lowers_test_loss_under_covariate_shift(tmp_path: Path) -> None:
    base = [*FAST, "dataset=covariate_shift", "model=logistic", "scaler=standard", "trainer.epochs=30", "trainer.batch_size=128", "tracking=none", f"paths.outputs={tmp_path}"]
    plain = run_job(compose(base), JobContext()).metrics
    weighted = run_job(compose([*base, "importance=domain_classifier"]), JobContext()).metrics
    assert weighted["test/log_loss"] < plain["test/log_loss"]
    assert weighted["test/macro_f1"] > plain["test/macro_f1"]


@pytest.mark.slow
def test_eda_mode_prints_and_writes_the_report(tmp_path: Path) -> None:
    """``python -m runner.quality``'s main with the same argv, in this process (Hydra parses it; no ~10 s of imports)."""
    from runner import quality

    code, out, err = in_process(quality.main, "dataset=breast_cancer", f"paths.outputs={tmp_path}")
    assert code == 0, err
    assert "completeness" in out and "drift: domain AUC" in out and "class counts             {'malignant': " in out
    html = next(tmp_path.glob("runs/*/*/report/quality.html")).read_text()
    assert "<h2>Drift: train → test</h2>" in html and "data:image/png;base64," in html
