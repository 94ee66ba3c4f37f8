"""data.memory_budget and the streamed path (runner/tables/memory.py, runner/tables/streaming.py, runner/tables/streamed_fit.py).

Small tables, the streamed path forced by a small budget: every check compares it with the
in-memory path at the same seed, or reads a real MLflow store back.
"""
from __future__ import annotations

import copy
import functools
import sys
from pathlib import Path

import mlflow
import numpy as np
import pytest

import components
from components.cost import CostWarning
from components.errors import ConfigError
from runner.jobs.job import JobContext, run_job, validate
from runner.jobs.stages import build_preprocessor
from runner.tables.memory import IN_MEMORY_COPIES, check_data, encoded_width, parse_budget
from runner.tables.streamed_fit import StreamedPreprocessor
from runner.tables.streaming import prepare_within_budget, report_view
from tests.conftest import FAST, ROOT, compose

sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_scale import write_table  # noqa: E402  (the benchmark's own seeded table)

components.load_builtin()
SMALL = "1MB"  # forces the streamed path for any table here (3,000 rows x 32 x 4 B x 8 = 3 MB)


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_table(tmp_path_factory.mktemp("scale") / "t.parquet", 3000, minority=0.05)


def _overrides(table: Path, *extra: str) -> list[str]:
    return [*FAST, "dataset=hf", "dataset.path=parquet", f"dataset.data_files={table}", "tracking=none", "cache.enabled=false", *extra]


def _plain(table: Path, *extra: str) -> dict:
    """The resolved config, composed once per set of overrides (each caller gets its own copy)."""
    return copy.deepcopy(_composed(table, *extra))


@functools.cache
def _composed(table: Path, *extra: str) -> dict:
    from runner.cli.configs import to_plain

    return to_plain(compose(_overrides(table, *extra)))


def _meminfo_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal")


def test_budget_values() -> None:
    assert abs(parse_budget("auto") - _meminfo_total() // 4) / (_meminfo_total() // 4) < 0.01  # /proc, not sysconf
    assert parse_budget("2GB") == 2_000_000_000
    assert parse_budget("1.5GiB") == int(1.5 * 2**30)
    assert parse_budget("512 mb") == 512_000_000
    assert parse_budget(3_000_000) == 3_000_000
    for bad in ("lots", "2 parsecs", "-1GB", True, "10", 0):
        with pytest.raises(ConfigError, match=r"^data\.memory_budget: got .*expected"):
            parse_budget(bad)
    with pytest.raises(ConfigError, match=r"^data\.memory_bugdet: unknown key"):
        check_data({"memory_bugdet": "1GB"})


_FREED_PROBE = """
import sys
import numpy as np
from runner.tables.memory import return_freed_memory

def anon():
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("RssAnon:"))

if sys.argv[1] == "fixed":
    assert return_freed_memory()
big = np.ones(16 << 20, np.uint8)
del big  # a 16 MiB mapping freed: glibc's own rule raises its threshold to 16 MiB
base = anon()
blocks = [np.ones(8 << 20, np.uint8) for _ in range(8)]  # 64 MiB in 8 MiB blocks (SMOTE's chunks, encoded blocks)
pin = np.ones(1 << 20, np.uint8)  # above them on the heap, so trimming the top cannot release them
del blocks
print((anon() - base) / 2**20)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator and /proc: Linux")
def test_freed_blocks_go_back_to_the_os() -> None:
    """The streamed path's allocator setting (runner/tables/memory.py), in fresh interpreters: after
    a large block was freed, glibc keeps later 8 MiB blocks on its heap once freed (64 MiB stay
    resident); with the threshold fixed they are unmapped. The 1M-row job's peak is in the README."""
    import subprocess

    def kept(mode: str) -> float:
        res = subprocess.run([sys.executable, "-c", _FREED_PROBE, mode], cwd=ROOT, capture_output=True, text=True, check=True)
        return float(res.stdout)

    assert kept("glibc") > 48  # the problem is real here: without the call the blocks stay
    assert kept("fixed") < 8


def test_only_the_streamed_path_sets_the_allocator(table: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import runner.tables.streaming as streaming

    calls: list[int] = []
    monkeypatch.setattr(streaming, "return_freed_memory", lambda: calls.append(1) or True)
    assert prepare_within_budget(_plain(table, "data.memory_budget=1TB"), 0).path == "in_memory" and not calls
    assert prepare_within_budget(_plain(table, f"data.memory_budget={SMALL}"), 0).path == "streamed" and calls == [1]


def test_bad_budget_fails_validation_before_any_run(table: Path) -> None:
    with pytest.raises(ConfigError, match="data.memory_budget: got 'plenty'"):
        validate(_plain(table, "data.memory_budget=plenty"))


def test_width_from_schema_matches_the_encoder(tmp_path: Path) -> None:
    """The path is chosen before encoding: the schema's width must be the preprocessed matrix's (one-hot
    last, the widest matrix a job holds), and the encoder's own output is codes + numeric columns."""
    from tables import churn_table  # a string categorical column

    path = tmp_path / "churn.parquet"
    churn_table(2000).to_parquet(path)
    plain = _plain(path, "dataset.label=label", "data.memory_budget=1TB")
    data = prepare_within_budget(plain, 0)
    assert data.path == "in_memory"
    assert encoded_width(data.raw_train, data.raw_features) == len(data.one_hot_names) == data.one_hot(data.train.X[:1]).shape[1]
    assert data.train.X.shape[1] == len(data.feature_names) < len(data.one_hot_names)


RESAMPLERS, SCALERS = ["none", "random_over", "random_under", "smote"], ["none", "standard", "robust"]


@functools.cache
def _grid_nodes(table: Path) -> dict[tuple[str, str], dict]:
    """The resampler and scaler nodes of the grid below as Hydra composes them: resampler i with
    scaler i (mod 3) in one compose, 4 composes for the 12 pairs (a node depends on its option only)."""
    nodes = {}
    for i, resampler in enumerate(RESAMPLERS):
        scaler = SCALERS[i % len(SCALERS)]
        plain = _plain(table, f"resampler={resampler}", f"scaler={scaler}")
        nodes["resampler", resampler], nodes["scaler", scaler] = plain["resampler"], plain["scaler"]
    return nodes


@pytest.mark.parametrize("resampler", RESAMPLERS)
@pytest.mark.parametrize("scaler", SCALERS)
def test_streamed_rows_equal_in_memory_rows(table: Path, resampler: str, scaler: str) -> None:
    """Same seed, same rows: index resamplers and per-class SMOTE pick/synthesise what they do in memory.

    ``standard`` is fitted by partial_fit over 6 blocks here (float rounding only); ``robust`` on
    the seeded sample, which holds every row of a table this small (so it is equal too)."""
    nodes = _grid_nodes(table)
    plain = copy.deepcopy({**_plain(table), "resampler": nodes["resampler", resampler], "scaler": nodes["scaler", scaler]})
    mem = prepare_within_budget({**plain, "data": {"memory_budget": "1TB"}}, 0)
    streamed = prepare_within_budget({**plain, "data": {"memory_budget": SMALL}}, 0)
    assert (mem.path, streamed.path) == ("in_memory", "streamed")
    np.testing.assert_array_equal(streamed.validation.X, mem.validation.X)
    np.testing.assert_array_equal(streamed.train.y, mem.train.y)
    streamed.train.X.block_rows = 300  # several blocks on a small table
    streamed.train.X.budget = 1 << 30  # SMOTE in one call (test_chunked_smote: in chunks)
    Xm, ym, rep_m = build_preprocessor(plain, mem, 0, "cpu").fit_resample(mem.train.X, mem.train.y)
    pre = StreamedPreprocessor(build_preprocessor(plain, streamed, 0, "cpu"))
    rows, ys, rep_s = pre.fit_resample(streamed.train.X, streamed.train.y)
    np.testing.assert_array_equal(ys, ym)
    assert rows.shape == Xm.shape
    got = rows.rows(np.arange(len(rows)))
    if scaler == "standard":
        np.testing.assert_allclose(got, Xm, rtol=1e-5, atol=1e-5)
    else:
        np.testing.assert_array_equal(got, Xm)
    assert rep_s["resample/synthetic_rows"] == rep_m["resample/synthetic_rows"]
    assert pre.tags()["data.scaler_fit"] == ("partial_fit" if scaler == "standard" else "sample")
    perm = np.random.default_rng(1).permutation(len(rows))[:500]  # any order, synthetic rows mixed in
    np.testing.assert_array_equal(rows.rows(perm), got[perm])


def test_chunked_smote_stays_on_neighbour_segments(table: Path) -> None:
    """Above its chunk size SMOTE runs in chunks (seed + i, one neighbour search): as many rows as in
    one call, all distinct, each on a segment from a minority row to one of its k same-class
    neighbours (searched here independently with scikit-learn)."""
    from sklearn.neighbors import NearestNeighbors

    plain = _plain(table, "resampler=smote", "scaler=standard")
    data = prepare_within_budget({**plain, "data": {"memory_budget": SMALL}}, 0)
    data.train.X.block_rows = 100
    data.train.X.budget = 100 * 32 * 32 * 4  # chunks of 400 rows
    pre = StreamedPreprocessor(build_preprocessor(plain, data, 0, "cpu"))
    rows, y, report = pre.fit_resample(data.train.X, data.train.y)
    counts = np.bincount(data.train.y)
    assert len(rows.synthetic) == counts[0] - counts[1] == report["resample/synthetic_rows"] > 1200
    assert len(np.unique(rows.synthetic, axis=0)) == len(rows.synthetic)
    X_min = rows.rows(np.flatnonzero(data.train.y == 1)).astype(np.float64)
    graph = NearestNeighbors(n_neighbors=6).fit(X_min).kneighbors(X_min, return_distance=False)[:, 1:]
    a = np.repeat(X_min, 5, axis=0)
    d = X_min[graph.ravel()] - a
    S = rows.synthetic.astype(np.float64)
    # distance from each synthetic row s to each segment a + λd, λ in [0, 1], in matrix products
    # (|s - a|², (s - a)·d) rather than a (synthetic x segments x features) array: 2 s -> 0.05 s
    sa = (S * S).sum(1)[:, None] - 2 * S @ a.T + (a * a).sum(1)[None]
    proj = S @ d.T - (a * d).sum(1)[None]
    dd = (d * d).sum(1)[None]
    lam = np.clip(proj / dd, 0, 1)
    gap = np.sqrt(np.maximum(sa - 2 * lam * proj + lam * lam * dd, 0)).min(1)
    assert gap.max() < 1e-4


def _store_run(tmp_path: Path, table: Path, *extra: str) -> tuple[dict, mlflow.entities.Run]:
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    cfg = compose([*_overrides(table, *extra), "tracking=mlflow", f"tracking.uri={uri}", f"paths.outputs={tmp_path}"])
    result = run_job(cfg, JobContext())
    return result.metrics, mlflow.MlflowClient(tracking_uri=uri).get_run(result.run_id)


@pytest.mark.slow
def test_streamed_job_matches_in_memory_job(tmp_path: Path, table: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Whole jobs, SMOTE + MLP, same seed: with ``scaler=none`` the streamed trainer sees the same
    batches in the same order, so every metric is equal; the run says which path it took."""
    common = ("resampler=smote", "scaler=none", "trainer.batch_size=256")
    mem, mem_run = _store_run(tmp_path / "a", table, *common, "data.memory_budget=1TB")
    st, st_run = _store_run(tmp_path / "b", table, *common, f"data.memory_budget={SMALL}", "progress=true")
    assert mem_run.data.tags["data.path"] == "in_memory" and st_run.data.tags["data.path"] == "streamed"
    assert st_run.info.status == "FINISHED"
    for key in ("test/roc_auc", "test/macro_f1", "val/log_loss", "train/best_epoch"):
        assert st[key] == mem[key], key
    assert st_run.data.metrics["data/report_rows"] == st_run.data.metrics["data/train_rows"]  # the sample is every row here
    assert "rows/s" in capfd.readouterr().err  # the streamed epochs' progress bar


@pytest.mark.slow
def test_streamed_standard_scaler_job_is_close(tmp_path: Path, table: Path) -> None:
    """partial_fit vs fit differ by float rounding only: the metrics agree to 1e-3."""
    mem, _ = _store_run(tmp_path / "a", table, "resampler=smote", "data.memory_budget=1TB")
    st, _ = _store_run(tmp_path / "b", table, "resampler=smote", f"data.memory_budget={SMALL}")
    for key in ("test/roc_auc", "test/macro_f1", "val/log_loss"):
        assert abs(st[key] - mem[key]) < 1e-3, (key, st[key], mem[key])


def test_report_on_a_seeded_sample(table: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import runner.tables.streaming as streaming
    from runner.reporting.diagnostics import data_reports

    monkeypatch.setattr(streaming, "MIN_SAMPLE_ROWS", 500)
    monkeypatch.setattr(streaming, "MAX_SAMPLE_ROWS", 500)
    plain = _plain(table, f"data.memory_budget={SMALL}")
    data = prepare_within_budget(plain, 0)
    view = report_view(data)
    assert view.train.X.shape == (500, 32) and view.raw_train.num_rows == 500
    rows = data.train.X.sample_rows
    np.testing.assert_array_equal(view.train.y, data.train.y[rows])
    again = prepare_within_budget(plain, 0).train.X.sample_rows
    np.testing.assert_array_equal(rows, again)  # seeded
    # the logistic fallback of the drift classifier (a CostWarning): the sample is what is checked here
    settings = components.get_registry("quality").build({**plain["quality"], "label_issues": False, "max_cost_s": 1e-9}, "quality")
    with pytest.warns(CostWarning, match="using a logistic regression"):
        quality, _, _ = data_reports(view, settings, 0)
    assert quality["rows"] == 500


@pytest.mark.parametrize(
    "override, named",
    [("resampler=borderline_smote", "resampler=borderline_smote"), ("outlier=iqr", "outlier=iqr"),
     ("resampler=random_over", None), ("importance=domain_classifier", "importance=domain_classifier")],
)  # fmt: skip
def test_components_that_need_every_row_are_refused(table: Path, override: str, named: str | None) -> None:
    plain = _plain(table, override, f"data.memory_budget={SMALL}")
    if named is None:  # random_over without shrinkage is index-based: allowed
        assert prepare_within_budget(plain, 0).path == "streamed"
        return
    with pytest.raises(ConfigError, match=rf"^data\.memory_budget: .*{named}.*raise data\.memory_budget"):
        prepare_within_budget(plain, 0)


def test_in_memory_estimate_uses_the_measured_copies(table: Path) -> None:
    """3,000 rows x 32 float32 = 384 kB; the in-memory estimate is that x IN_MEMORY_COPIES."""
    need = 3000 * 32 * 4 * IN_MEMORY_COPIES
    plain = _plain(table)
    assert prepare_within_budget({**plain, "data": {"memory_budget": need}}, 0).path == "in_memory"
    assert prepare_within_budget({**plain, "data": {"memory_budget": need - 1}}, 0).path == "streamed"


def test_streamed_training_is_minibatch_only(table: Path) -> None:
    """L-BFGS is full-batch: on the streamed path ``auto`` trains the convex model with Adam, and an
    explicit ``lbfgs`` is one clear error naming data.memory_budget."""
    import dataclasses

    import torch

    from components import get_registry
    from components.augment import NoAugment
    from runner.fitting.training import train

    plain = _plain(table, "model=logistic", f"data.memory_budget={SMALL}")
    data = prepare_within_budget(plain, 0)
    rows, y, _ = StreamedPreprocessor(build_preprocessor(plain, data, 0, "cpu")).fit_resample(data.train.X, data.train.y)
    settings = get_registry("trainer").build({**plain["trainer"], "epochs": 2}, "trainer")
    model = get_registry("model").build(plain["model"], "model", in_features=32, num_classes=2, image_shape=None)
    loss = get_registry("loss").build(plain["loss"], "loss", class_counts=np.bincount(y), original_counts=np.bincount(y))
    X_val = torch.as_tensor(data.validation.X)
    args = (loss, NoAugment(), rows, torch.as_tensor(y), X_val, data.validation.y)
    history = train(model, *args, settings, 0, 2)
    assert history.optimizer == "adam" and len(history.epochs) == 2
    with pytest.raises(ConfigError, match=r"^trainer\.optimizer: 'lbfgs' fits full-batch.*data\.memory_budget"):
        train(model, *args, dataclasses.replace(settings, optimizer="lbfgs"), 0, 2)


def test_a_sharded_arrow_cache_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``datasets`` writes a large file's cache in 500 MB shards (a ConcatenationTable, which has no
    ``set_column``): the 10M-row benchmark table failed there. Shards forced small here."""
    import datasets
    import pyarrow.parquet as pq

    from components.hf_source import hf_dataset
    from runner.tables.encoding import numeric_matrix

    monkeypatch.setattr(datasets.config, "MAX_SHARD_SIZE", 20_000)
    path = write_table(tmp_path / "sharded.parquet", 3000, group=500)
    train = hf_dataset(path="parquet", data_files=str(path), label="label").splits["train"]
    ref = pq.read_table(path)
    names = [f"f{i}" for i in range(32)]
    np.testing.assert_array_equal(numeric_matrix(train, names), np.stack([ref.column(c).to_numpy() for c in names], 1))
    np.testing.assert_array_equal(np.asarray(train.data.table.column("label")), ref.column("label").to_numpy())
