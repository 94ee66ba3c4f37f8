"""Decision-threshold tuning against brute force, and the resampling cache."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient
from sklearn.metrics import f1_score

from runner.jobs.job import JobContext, run_job
from runner.fitting.threshold import DecisionRule, best_binary_threshold, best_class_bias
from tests.conftest import FAST, compose


@pytest.mark.parametrize("seed", range(5))
def test_binary_threshold_is_the_brute_force_optimum(seed: int) -> None:
    rng = np.random.default_rng(seed)
    y = (rng.random(400) < 0.1).astype(int)
    p1 = np.clip(rng.normal(0.2 + 0.3 * y, 0.15), 0, 1).round(2)  # ties on purpose
    t, score = best_binary_threshold(y, p1)
    brute = max(f1_score(y, (p1 >= c).astype(int), average="macro", zero_division=0) for c in np.r_[np.unique(p1), 2.0])
    assert score == pytest.approx(brute, abs=1e-12)
    assert f1_score(y, (p1 >= t).astype(int), average="macro", zero_division=0) == pytest.approx(brute, abs=1e-12)


@pytest.mark.slow
def test_class_bias_never_worse_than_argmax_on_validation() -> None:
    rng = np.random.default_rng(0)
    y = rng.choice(3, 600, p=[0.8, 0.15, 0.05])
    logits = rng.normal(size=(600, 3)) + np.eye(3)[y] * 1.0 + np.array([1.5, 0, 0])
    proba = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    bias = best_class_bias(y, proba)
    before = f1_score(y, proba.argmax(1), average="macro")
    after = f1_score(y, DecisionRule().fit(y, proba).predict(proba), average="macro")
    assert after >= before and after > before + 0.01 and bias.shape == (3,)


@pytest.mark.slow
def test_tuned_and_untuned_test_metrics_are_both_logged(outputs: Path) -> None:
    cfg = compose([*FAST, f"paths.outputs={outputs}", "experiment_name=t_tuned", "decision.tune_threshold=true", "trainer.epochs=3"])
    result = run_job(cfg, JobContext())
    m = MlflowClient(f"sqlite:///{outputs}/mlflow.db").get_run(result.run_id).data.metrics
    assert 0 <= m["decision/threshold"] <= 1
    assert {"test/macro_f1", "test_tuned/macro_f1", "val_tuned/macro_f1", "test_tuned/recall/minority"} <= set(m)
    assert m["val_tuned/macro_f1"] >= m["val/macro_f1"]


@pytest.mark.slow
def test_resampling_is_cached_across_a_loss_sweep(tmp_path: Path) -> None:
    common = [*FAST, "tracking=none", f"paths.outputs={tmp_path}", "resampler=smote", "trainer.epochs=1"]
    first = run_job(compose([*common, "loss=ce"]), JobContext()).metrics
    second = run_job(compose([*common, "loss=focal"]), JobContext()).metrics
    other_seed = run_job(compose([*common, "loss=focal", "seed=1"]), JobContext()).metrics
    assert (first["resample/cache_hit"], second["resample/cache_hit"], other_seed["resample/cache_hit"]) == (0.0, 1.0, 0.0)
    assert first["resample/synthetic_rows"] == second["resample/synthetic_rows"] > 0
    assert len(list((tmp_path / "cache" / "resample").glob("*.npz"))) == 2
    off = run_job(compose([*common, "loss=ce", "cache.enabled=false"]), JobContext()).metrics
    assert "resample/cache_hit" not in off
    same = {k: v for k, v in first.items() if not k.startswith(("time/", "resample/cache"))}
    assert same == {k: v for k, v in off.items() if not k.startswith(("time/", "resample/cache"))}


@pytest.mark.slow
def test_corrupt_or_planted_cache_entries_are_recomputed_with_a_warning(tmp_path: Path, caplog) -> None:
    """A truncated entry, a well-formed entry with planted arrays, and one copied from another
    key: each is rejected (warning), recomputed, and the job's metrics equal the clean run's."""
    import shutil

    import numpy as np

    common = [*FAST, f"paths.outputs={tmp_path}", "tracking=none", "dataset=breast_cancer", "resampler=smote"]
    clean = run_job(compose(common), JobContext()).metrics
    (entry,) = (tmp_path / "cache" / "resample").glob("*.npz")
    good = entry.read_bytes()

    def again() -> dict:
        caplog.clear()
        out = run_job(compose(common), JobContext()).metrics
        assert out["resample/cache_hit"] == 0.0 and "resample cache: entry" in caplog.text
        return {k: v for k, v in out.items() if not k.startswith(("time/", "resample/cache"))}

    expected = {k: v for k, v in clean.items() if not k.startswith(("time/", "resample/cache"))}
    entry.write_bytes(good[: len(good) // 2])  # truncated
    assert again() == expected
    with np.load(entry) as f:
        X, y, meta = f["X"], f["y"], f["meta"]
    np.savez(entry, X=X[:5], y=np.zeros(5, dtype=y.dtype), meta=meta)  # planted rows, metadata intact
    assert again() == expected
    run_job(compose([*common, "seed=1"]), JobContext())  # another key's valid entry...
    (foreign,) = [p for p in (tmp_path / "cache" / "resample").glob("*.npz") if p != entry]
    shutil.copy(foreign, entry)  # ...planted under this job's key
    assert again() == expected
    caplog.clear()
    assert run_job(compose(common), JobContext()).metrics["resample/cache_hit"] == 1.0 and "resample cache" not in caplog.text
