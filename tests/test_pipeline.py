"""Leakage-free by construction: changing the test split changes no fitted state and no val metric."""
from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import components
from components import get_registry
from runner.tables.data import PreparedData, Split, prepare
from runner.jobs.job import execute
from runner.tables.pipeline import Preprocessor
from runner.tracker.tracking import Run
from tests.conftest import FAST, compose

components.load_builtin()


def same(a: Any, b: Any) -> bool:
    """Deep equality over dicts, lists, arrays and fitted objects (their ``*_`` attributes)."""
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if hasattr(a, "__dict__") and not isinstance(a, type):
        return same({k: v for k, v in vars(a).items() if k.endswith("_")}, {k: v for k, v in vars(b).items() if k.endswith("_")})
    if isinstance(a, (int, float, str, bool, type(None), np.generic)):
        return a == b
    return pickle.dumps(a) == pickle.dumps(b)  # compiled objects (scikit-learn trees): compare their state


@pytest.fixture(scope="module")
def two_sources(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    """The same train file with two very different test files (written once per module)."""
    tmp_path = tmp_path_factory.mktemp("two_sources")
    rng = np.random.default_rng(0)
    n = 300
    train = pd.DataFrame({"a": rng.normal(0, 1, n), "b": rng.normal(100, 30, n), "c": rng.choice(["u", "v"], n), "y": rng.choice(["p", "q"], n, p=[0.8, 0.2])})
    test = train.sample(80, random_state=0).reset_index(drop=True)
    changed = test.assign(a=test.a * 1000 + 5, b=-test.b, c="w")
    for name, df in (("train", train), ("test1", test), ("test2", changed)):
        df.to_csv(tmp_path / f"{name}.csv", index=False)

    def cfg(test_name: str) -> dict:
        files = {"train": str(tmp_path / "train.csv"), "test": str(tmp_path / f"{test_name}.csv")}
        return {"name": "hf", "path": "csv", "data_files": files, "label": "y"}

    return cfg("test1"), cfg("test2")


@pytest.fixture(scope="module")
def prepared() -> Callable[[dict], PreparedData]:
    """``prepare`` of a source, loaded and encoded once per module (the step under test is what
    varies; the encoder's own leakage is checked in every test all the same); each call hands out
    fresh copies of the arrays, so a step that wrote into its input could not change what the next
    test reads."""
    cache: dict[str, PreparedData] = {}

    def get(cfg: dict) -> PreparedData:
        key = repr(sorted(cfg.items()))
        if key not in cache:
            cache[key] = prepare(cfg, {"val_size": 0.2}, seed=0)
        data = cache[key]
        fresh = {name: Split(getattr(data, name).X.copy(), getattr(data, name).y.copy()) for name in ("train", "validation", "test")}
        return dataclasses.replace(data, **fresh)

    return get


STEPS = (
    [("scaler", n, {}) for n in get_registry("scaler").names()]
    + [("resampler", n, {}) for n in get_registry("resampler").names() if n not in ("none", "smoten")]
    + [("outlier", n, {"action": a}) for n in get_registry("outlier").names() if n != "none" for a in ("drop", "flag")]
    + [("outlier", n, {"action": "clip"}) for n in ("zscore", "iqr", "grubbs")]
)


CATEGORICAL_RESAMPLERS = ("none", "smote", "smotenc", "random_over", "random_under")
CHEAP = {"isolation_forest": {"n_estimators": 10}}  # 100 trees (the default) only buy accuracy: ~1.2 s of the module


@pytest.mark.parametrize("kind, name, params", STEPS, ids=[f"{k}={n}{''.join(f',{v}' for v in p.values())}" for k, n, p in STEPS])
def test_changing_test_features_changes_no_fitted_state(two_sources, prepared, kind: str, name: str, params: dict) -> None:
    """Per step: its fitted state, the training rows and the validation rows are the same whatever the
    test split holds; transforming the test rows changes no fitted state; and each test row's output
    depends on that row alone (no statistic of the evaluation batch leaks into it)."""
    states = []
    for cfg in two_sources:
        chosen = {"scaler": {"name": "standard"}, "resampler": {"name": "none"}, "outlier": {"name": "none"}, kind: {"name": name, **CHEAP.get(name, {}), **params}}
        if chosen["resampler"]["name"] not in CATEGORICAL_RESAMPLERS:  # the others refuse categorical columns
            cfg = {**cfg, "features": ["a", "b"]}
        data = prepared(cfg)
        roles = data.encoder.roles_
        pre = Preprocessor(
            outlier=get_registry("outlier").build(chosen["outlier"], "outlier", class_names=data.class_names, seed=0),
            scaler=get_registry("scaler").build(chosen["scaler"], "scaler"),
            resampler=get_registry("resampler").build(
                chosen["resampler"],
                "resampler",
                class_names=data.class_names,
                categorical_features=roles.categorical_features,
                seed=0,
                device="cpu",
            ),
            roles=roles,
        )
        X, y, _ = pre.fit_resample(data.train.X, data.train.y)
        fitted = pickle.dumps(pre.fitted_state())  # bytes: a deep copy of compiled trees would not compare equal
        test_out = pre.transform(data.test.X)
        assert pickle.dumps(pre.fitted_state()) == fitted, "transforming the test rows changed the fitted state"
        one_by_one = np.concatenate([pre.transform(data.test.X[i : i + 1]) for i in range(16)])  # 16 rows: forests are slow per call
        np.testing.assert_allclose(one_by_one, test_out[:16], rtol=1e-5, atol=1e-6, err_msg="a test row's output depends on other test rows")
        states.append((data.encoder.fitted_state(), pre.fitted_state(), X, y, data.validation.X, pre.transform(data.validation.X), test_out))
    assert same(states[0][0], states[1][0]), "encoder state depends on the test split"
    assert same(states[0][1], states[1][1]), "preprocessing state depends on the test split"
    assert same(states[0][2:6], states[1][2:6]), "training/validation rows depend on the test split"
    assert not np.array_equal(states[0][6], states[1][6])  # the test rows themselves did change


class Recorder(Run):
    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}

    def log_metrics(self, metrics, step=None) -> None:
        self.metrics.update(metrics)


@pytest.mark.slow
def test_whole_job_val_metrics_ignore_the_test_split(two_sources) -> None:
    """Training, early stopping and validation never read the test split: val metrics are identical."""
    from runner.cli.configs import to_plain

    results = []
    for cfg in two_sources:
        plain = to_plain(compose([*FAST, "tracking=none", "trainer.epochs=3"]))
        plain["dataset"] = cfg
        results.append(execute(plain, Recorder()))
    val = [{k: v for k, v in r.items() if k.startswith("val/")} for r in results]
    assert val[0] == val[1]
