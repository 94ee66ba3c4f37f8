"""The data report is computed once per (data, split, seed, quality settings) and reused, verified."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

import components
from components import get_registry
from runner.jobs.cache import ResampleCache
from runner.cli.configs import to_plain
from runner.tables.data import prepare
from runner.reporting.diagnostics import data_reports
from runner.jobs.job import JobContext, run_job
from runner.jobs.report_cache import ReportCache, cached_data_reports, report_cache, same
from tests.conftest import CHEAP_DRIFT, FAST, IGNORE_COST_WARNING, compose

# 7 reports here: what is cached does not depend on which drift classifier ran (CHEAP_DRIFT)
BASE = [*FAST, "dataset=breast_cancer", "model=logistic", CHEAP_DRIFT]
pytestmark = IGNORE_COST_WARNING


def _entries(outputs: Path) -> list[Path]:
    return sorted((outputs / "cache" / "report").glob("*.json"))


def _data_metrics(uri: str, run_id: str) -> dict[str, float]:
    metrics = MlflowClient(uri).get_run(run_id).data.metrics
    return {k: v for k, v in metrics.items() if k.startswith(("quality/", "drift/", "eda/"))}


@pytest.mark.slow
def test_jobs_sharing_data_and_seed_compute_the_report_once(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    common = [*BASE, f"paths.outputs={tmp_path}", f"tracking.uri={uri}", "experiment_name=report_cache"]
    first = run_job(compose([*common, "loss=ce"]), JobContext())
    assert len(_entries(tmp_path)) == 1
    second = run_job(compose([*common, "loss=weighted_ce", "resampler=random_over"]), JobContext())
    assert len(_entries(tmp_path)) == 1  # the second arm read it
    logged = _data_metrics(uri, first.run_id)
    assert logged and logged == _data_metrics(uri, second.run_id)
    run_job(compose([*common, "seed=1"]), JobContext())  # another seed: other splits, another report
    assert len(_entries(tmp_path)) == 2


def test_cached_report_equals_a_fresh_one_and_bad_entries_are_recomputed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    components.load_builtin()
    plain = to_plain(compose([*BASE, f"paths.outputs={tmp_path}"]))
    data = prepare(plain["dataset"], plain["split"], 0)
    settings = get_registry("quality").build(plain["quality"], "quality")
    fresh = data_reports(data, settings, 0)
    assert same(cached_data_reports(plain, data, settings, 0), fresh)  # computed and stored
    assert same(cached_data_reports(plain, data, settings, 0), fresh)  # read back: equal, types included
    (entry,) = _entries(tmp_path)
    doc = json.loads(entry.read_text())
    doc["payload"] = doc["payload"].replace("mean_radius", "planted", 1)
    entry.write_text(json.dumps(doc))
    with caplog.at_level(logging.WARNING, logger="runner"):
        assert same(cached_data_reports(plain, data, settings, 0), fresh)
    assert "report cache: entry" in caplog.text and "checksum" in caplog.text
    entry.write_text("{truncated")
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="runner"):
        assert same(cached_data_reports(plain, data, settings, 0), fresh)
    assert "unreadable" in caplog.text
    assert report_cache({**plain, "cache": {"enabled": False, "dir": str(tmp_path)}}, data.fingerprint, 0) is None


def test_entry_of_other_code_or_inputs_is_not_used(tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    entry = ReportCache(tmp_path, "k", {"seed": 0})
    assert entry.save({"a": (1, "x", 0.5), "b": [float("nan")]})
    assert same(entry.load(), {"a": (1, "x", 0.5), "b": [float("nan")]})
    assert ReportCache(tmp_path, "k", {"seed": 1}).load() is None  # planted under another key's inputs
    assert "inputs differs" in caplog.text
    entry.save({"a": 1})
    monkeypatch.setattr(ReportCache, "code", ("components/quality.py",))  # the code that made it changed
    assert ReportCache(tmp_path, "k", {"seed": 0}).load() is None and "code differs" in caplog.text


def test_values_json_would_change_are_not_cached(tmp_path: Path) -> None:
    entry = ReportCache(tmp_path, "k", {})
    assert not entry.save({"n": np.float64(1.0)}) and not entry.save({1: "int key"}) and not entry.save({"f": object()})
    assert not entry.path.exists()


def test_resample_cache_keeps_its_layout(tmp_path: Path) -> None:
    """The shared CacheEntry base did not move or change resample entries."""
    entry = ResampleCache(tmp_path, "abc", {"seed": 0})
    X, y = np.arange(6, dtype=np.float32).reshape(3, 2), np.array([0, 1, 0])
    entry.save(X, y, {"resample/s": 1.0}, {"t": "v"})
    assert entry.path == tmp_path / "resample" / "abc.npz"
    X2, y2, report, tags = ResampleCache(tmp_path, "abc", {"seed": 0}).load()  # type: ignore[misc]
    assert np.array_equal(X2, X) and np.array_equal(y2, y) and report == {"resample/s": 1.0} and tags == {"t": "v"}


def test_streamed_report_is_keyed_by_its_sample_and_encoded_only_on_a_miss(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the streamed path the report reads a seeded sample whose size follows data.memory_budget:
    another sample is another entry, and a hit does not encode the sample (report_view) again."""
    import sys

    import runner.tables.streaming as streaming
    from runner.tables.streaming import prepare_within_budget, report_view
    from tests.conftest import ROOT

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_scale import write_table

    table = write_table(tmp_path / "t.parquet", 3000, minority=0.05)
    overrides = [*FAST, "dataset=hf", "dataset.path=parquet", f"dataset.data_files={table}", "quality.label_issues=false",
                 f"paths.outputs={tmp_path}", "data.memory_budget=1MB", CHEAP_DRIFT]  # fmt: skip
    plain = to_plain(compose(overrides))
    settings = get_registry("quality").build(plain["quality"], "quality")
    views: list[int] = []

    def counted(data: object) -> object:
        views.append(1)
        return report_view(data)  # type: ignore[arg-type]

    def report(rows: int, budget: str) -> dict:
        monkeypatch.setattr(streaming, "MIN_SAMPLE_ROWS", rows)
        monkeypatch.setattr(streaming, "MAX_SAMPLE_ROWS", rows)
        data = prepare_within_budget({**plain, "data": {"memory_budget": budget}}, 0)
        quality, _, _ = cached_data_reports(plain, data, settings, 0, view=counted)
        return quality

    assert report(500, "1MB")["rows"] == 500 and len(views) == 1
    assert report(500, "1MB")["rows"] == 500 and len(views) == 1  # a hit: the sample is not encoded again
    assert report(400, "1MB")["rows"] == 400 and len(views) == 2  # another sample: another entry
    assert report(400, "1TB")["rows"] == 1920 and len(views) == 3  # in memory: every training row
    assert len(_entries(tmp_path)) == 3
