"""Outlier detectors against scipy, a published Grubbs table and the lecture's claims."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from scipy.spatial.distance import mahalanobis as scipy_mahalanobis

import components
from components import get_registry
from components.errors import ConfigError
from components.outliers import MahalanobisRule, grubbs_critical, grubbs_outliers

components.load_builtin()
NAMES = ["a", "b"]


def build(cfg: dict):
    return get_registry("outlier").build(cfg, "outlier", class_names=NAMES, seed=0)


@pytest.mark.parametrize("n, table", [(10, 2.290), (20, 2.709), (50, 3.128)])
def test_grubbs_critical_values_match_published_table(n: int, table: float) -> None:
    assert grubbs_critical(n, 0.05) == pytest.approx(table, abs=0.002)


def test_grubbs_critical_formula_against_scipy_t() -> None:
    n, alpha = 37, 0.01
    t = stats.t.isf(alpha / (2 * n), n - 2)
    assert grubbs_critical(n, alpha) == pytest.approx((n - 1) / np.sqrt(n) * np.sqrt(t**2 / (n - 2 + t**2)))


def naive_grubbs(x: np.ndarray, alpha: float) -> set[int]:
    """Textbook loop: recompute mean and s (n − 1) on the remaining points every round."""
    remaining = list(range(len(x)))
    removed = set()
    while len(remaining) > 2:
        v = x[remaining]
        g = np.abs(v - v.mean()) / v.std(ddof=1)
        i = int(np.argmax(g))
        if g[i] <= grubbs_critical(len(v), alpha):
            break
        removed.add(remaining.pop(i))
    return removed


@pytest.mark.parametrize("seed", range(4))
def test_iterative_grubbs_matches_the_textbook_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = np.r_[rng.normal(0, 1, 200), rng.normal(0, 1, 5) * 8 + 6]
    assert set(np.flatnonzero(grubbs_outliers(x, 0.05))) == naive_grubbs(x, 0.05)


def test_iqr_fence_is_2_698_sigma_claim_2() -> None:
    """The iqr step's fences are scipy's Q1 - 1.5 IQR / Q3 + 1.5 IQR, and flag ~0.7% of N(0, 1) rows."""
    x = np.random.default_rng(0).normal(0, 1, (400_000, 1))
    step = build({"name": "iqr", "action": "flag"})
    Xf = step.fit_transform(x, np.zeros(len(x), int))
    low, high = step.rules_[-1].bounds_
    q1, q3 = stats.scoreatpercentile(x[:, 0], [25, 75])
    assert (low[0], high[0]) == (pytest.approx(q1 - 1.5 * stats.iqr(x[:, 0])), pytest.approx(q3 + 1.5 * stats.iqr(x[:, 0])))
    assert (low[0], high[0]) == (pytest.approx(-2.698, abs=0.02), pytest.approx(2.698, abs=0.02))
    expected = 2 * stats.norm.sf(4 * stats.norm.ppf(0.75))  # P(|z| > Q3 + 1.5 IQR) = 0.00698 for a normal
    assert Xf[:, -1].mean() == pytest.approx(expected, abs=0.0005)
    assert Xf[:, -1].tolist() == ((x[:, 0] < low[0]) | (x[:, 0] > high[0])).astype(float).tolist()


def test_mahalanobis_distance_and_chi2_cutoff_against_scipy() -> None:
    rng = np.random.default_rng(1)
    X = rng.multivariate_normal([0, 0, 0], [[2, 0.8, 0], [0.8, 1, 0.3], [0, 0.3, 0.5]], 2000)
    rule = MahalanobisRule(0.01, robust=False, seed=0).fit(X)
    VI = np.linalg.inv(np.cov(X, rowvar=False))
    ref = [scipy_mahalanobis(x, X.mean(0), VI) ** 2 for x in X[:20]]
    np.testing.assert_allclose(rule.distances(X[:20]), ref, rtol=1e-9)
    assert rule.cutoff == pytest.approx(stats.chi2.ppf(0.99, 3))


def test_180cm_50kg_is_a_mahalanobis_outlier_not_a_zscore_one() -> None:
    """Lecture claim 2: height and weight correlate; 180 cm with 50 kg is odd only jointly."""
    rng = np.random.default_rng(0)
    height = rng.normal(170, 10, 3000)
    weight = 70 + 0.9 * (height - 170) + rng.normal(0, 5, 3000)
    X = np.c_[height, weight]
    person = np.array([[180.0, 50.0]])
    y = np.zeros(len(X), int)
    z, m = build({"name": "zscore", "action": "flag"}), build({"name": "mahalanobis", "action": "flag"})
    z.fit(X, y)
    m.fit(X, y)
    assert z.transform(person)[0, -1] == 0.0
    assert m.transform(person)[0, -1] == 1.0


def test_guard_keeps_a_class_that_would_vanish_and_tags_it() -> None:
    rng = np.random.default_rng(2)
    X = np.r_[rng.normal(0, 1, (300, 2)), rng.normal(9, 0.5, (6, 2))]
    y = np.r_[np.zeros(300, int), np.ones(6, int)]
    step = build({"name": "zscore"})
    with pytest.warns(UserWarning, match=r"would remove 6 of 6 rows of class 'b'"):
        Xr, yr = step.fit_resample(X, y)
    assert np.bincount(yr).tolist()[1] == 6 and step.tags() == {"outlier.guard_kept": "b=6"}
    assert step.report()["outlier/flagged/b"] == 6.0
    with pytest.raises(ConfigError, match=r"outlier.max_class_share: outlier \(zscore\) would remove 6 of 6 rows of class 'b'"):
        build({"name": "zscore", "on_guard": "error"}).fit_resample(X, y)
    per_class = build({"name": "zscore", "per_class": True})
    _, yr = per_class.fit_resample(X, y)
    assert np.bincount(yr)[1] == 6  # fitted within class b, its rows are typical


def test_clip_and_flag_actions_on_every_split() -> None:
    rng = np.random.default_rng(3)
    X = np.r_[rng.normal(0, 1, (500, 2)), [[50.0, 0.0]]]
    y = np.zeros(len(X), int)
    clip = build({"name": "zscore", "action": "clip"})
    Xc = clip.fit_transform(X, y)
    assert len(Xc) == len(X) and Xc[:, 0].max() < 50 and np.array_equal(clip.transform(np.array([[50.0, 0.0]]))[0], Xc[-1])
    flag = build({"name": "zscore", "action": "flag"})
    Xf = flag.fit_transform(X, y)
    assert not hasattr(clip, "fit_resample") and not hasattr(flag, "fit_resample") and not hasattr(build({"name": "zscore"}), "transform")
    assert Xf.shape[1] == 3 and Xf[-1, -1] == 1.0 and flag.transform(np.zeros((2, 2))).tolist() == [[0, 0, 0], [0, 0, 0]]
    with pytest.raises(ConfigError, match=r"outlier.action: 'clip' needs per-feature bounds; mahalanobis is multivariate"):
        get_registry("outlier").validate({"name": "mahalanobis", "action": "clip"}, "outlier")


@pytest.mark.parametrize("name", [n for n in get_registry("outlier").names() if n != "none"])
def test_every_detector_finds_injected_outliers(name: str) -> None:
    rng = np.random.default_rng(4)
    X = np.r_[rng.normal(0, 1, (400, 3)), rng.normal(0, 1, (8, 3)) + 12]
    y = np.zeros(len(X), int)
    step = build({"name": name, "action": "flag"})
    Xf = step.fit_transform(X, y)
    assert Xf[-8:, -1].all(), name
    assert Xf[:-8, -1].mean() < 0.15
