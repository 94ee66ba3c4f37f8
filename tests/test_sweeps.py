"""Comparison of arms read from MLflow, resume by config hash, and rerun of a logged job."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient
from scipy import stats

from components.errors import ConfigError
from runner.compare import compare
from runner.jobs.job import JobContext, run_job
from runner.rerun import rerun
from tests.conftest import FAST, compose


def job(outputs: Path, experiment: str, *overrides: str, raises: bool = False):
    """A job as the CLI runs it: every override is also what the run logs as its overrides."""
    everything = [*FAST, f"paths.outputs={outputs}", f"experiment_name={experiment}", *overrides]
    cfg = compose(everything)
    if raises:
        with pytest.raises(ConfigError):
            run_job(cfg, JobContext(overrides=everything))
        return None
    return run_job(cfg, JobContext(overrides=everything))


@pytest.mark.slow
def test_compare_groups_arms_with_ci_paired_tests_and_failures(outputs: Path, tmp_path: Path) -> None:
    values: dict[str, dict[int, float]] = {"ce": {}, "focal": {}}
    for loss in values:
        for seed in range(3):
            values[loss][seed] = job(outputs, "t_compare", "dataset=breast_cancer", f"loss={loss}", f"seed={seed}").metrics["test/macro_f1"]
    job(outputs, "t_compare", "dataset=hf", "dataset.path=csv", "dataset.data_files=/nonexistent/t.csv", "loss=focal", "seed=3", raises=True)
    job(outputs, "t_compare", "dataset=breast_cancer", "loss=focal", "seed=4", "loss.gamma=-1", raises=True)  # a typo: no run
    rows, files = compare("t_compare", by=["loss"], uri=f"sqlite:///{outputs}/mlflow.db", out=tmp_path, baseline="ce")
    by_arm = {r["loss"]: r for r in rows}
    assert set(by_arm) == {"ce", "focal"} and by_arm["focal"]["failed"] == 1 and by_arm["ce"]["failed"] == 0
    for loss, per_seed in values.items():
        v = np.array([per_seed[s] for s in range(3)])
        row = by_arm[loss]
        assert row["n"] == 3 and row["mean"] == pytest.approx(v.mean()) and row["std"] == pytest.approx(v.std(ddof=1))
        boot = stats.bootstrap((v,), np.mean, n_resamples=9999, method="percentile", random_state=0).confidence_interval
        low, high = (v.min(), v.max()) if np.allclose(v, v[0]) else (boot.low, boot.high)
        assert (row["ci_low"], row["ci_high"]) == (pytest.approx(low), pytest.approx(high))
        assert v.min() <= row["ci_low"] <= row["ci_high"] <= v.max()  # a bootstrap percentile interval stays in range
    a, b = np.array([values["focal"][s] for s in range(3)]), np.array([values["ce"][s] for s in range(3)])
    constant = np.allclose(a - b, (a - b)[0])  # then t is undefined: compare reports NaN
    expected = float("nan") if constant else stats.ttest_rel(a, b).pvalue
    assert by_arm["focal"]["ttest_p"] == pytest.approx(expected, nan_ok=True)
    best = max(by_arm.values(), key=lambda r: r["mean"])
    assert best["best"] == "*"
    assert files["markdown"].read_text().count("\n| ") >= 3 and files["csv"].exists()
    assert files["chart"].read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("shift", [False, True])
def test_paired_tests_match_scipy_on_fixed_values(shift: bool) -> None:
    """The paired t-test and Wilcoxon p-values, unconditionally (the run metrics above may tie)."""
    from runner.compare import Arm, paired

    x = {"0": 0.71, "1": 0.64, "2": 0.80, "3": 0.77, "4": 0.69}
    y = {k: v - 0.05 for k, v in x.items()} if shift else {"0": 0.60, "1": 0.66, "2": 0.70, "3": 0.61, "4": 0.62}
    got = paired(Arm(("a",), x), Arm(("b",), y))
    xs, ys = np.array(list(x.values())), np.array(list(y.values()))
    assert got["pairs"] == 5.0
    if shift:  # a constant difference: t is undefined, compare says NaN rather than a p-value of 0
        assert np.isnan(got["ttest_p"]) and got["wilcoxon_p"] == pytest.approx(stats.wilcoxon(xs, ys).pvalue)
    else:
        assert got["ttest_p"] == pytest.approx(stats.ttest_rel(xs, ys).pvalue)
        assert got["wilcoxon_p"] == pytest.approx(stats.wilcoxon(xs, ys).pvalue)


@pytest.mark.slow
def test_compare_unknown_target_lists_experiments(outputs: Path) -> None:
    job(outputs, "t_compare_known", "seed=0")
    with pytest.raises(SystemExit, match=r"Error: no runs for 'nope': not an experiment name nor a sweep id. Experiments: .*t_compare_known"):
        compare("nope", uri=f"sqlite:///{outputs}/mlflow.db")


@pytest.mark.slow
def test_resume_skips_finished_and_reruns_failed(outputs: Path) -> None:
    client = MlflowClient(f"sqlite:///{outputs}/mlflow.db")
    first = job(outputs, "t_resume", "seed=4", "resume=true")
    again = job(outputs, "t_resume", "seed=4", "resume=true")
    assert again.skipped and again.run_id == first.run_id and again.metrics["test/macro_f1"] == first.metrics["test/macro_f1"]
    other = job(outputs, "t_resume", "seed=5", "resume=true")
    assert not other.skipped
    exp = client.get_experiment_by_name("t_resume")
    assert len(client.search_runs([exp.experiment_id])) == 2
    # a FAILED run with the same hash is not a reason to skip
    failed_run = client.create_run(exp.experiment_id, tags={"config_hash": "deadbeefdeadbeef"})
    client.set_terminated(failed_run.info.run_id, "FAILED")
    from runner.tracker.tracking import MlflowTracker

    tracker = MlflowTracker(uri=f"sqlite:///{outputs}/mlflow.db", experiment="t_resume")
    assert tracker.finished_run("deadbeefdeadbeef") is None
    assert tracker.finished_run(client.get_run(first.run_id).data.tags["config_hash"]).info.run_id == first.run_id


@pytest.mark.slow
def test_rerun_reproduces_metrics_exactly(outputs: Path) -> None:
    original = job(outputs, "t_rerun", "scaler=robust", "loss=focal", "seed=2")
    new_id, compared = rerun(original.run_id, f"sqlite:///{outputs}/mlflow.db")
    assert new_id != original.run_id and compared
    assert all(a == b for a, b in compared.values()), {k: v for k, v in compared.items() if v[0] != v[1]}
    tags = MlflowClient(f"sqlite:///{outputs}/mlflow.db").get_run(new_id).data.tags
    assert tags["rerun_of"] == original.run_id and tags["config_hash"] == MlflowClient(f"sqlite:///{outputs}/mlflow.db").get_run(original.run_id).data.tags["config_hash"]


@pytest.mark.parametrize(
    "spec",
    ["trainer.lr", "trainer.lr=float:1:0", "trainer.lr=float:0:1:log", "loss=choice:ce", "x=normal:0:1"],
)
def test_tune_param_grammar_errors_name_the_spec(spec: str) -> None:
    from runner.tune import parse_param

    with pytest.raises(ConfigError, match=r"--param '.*': expected key=float:LOW:HIGH\[:log\], key=int:LOW:HIGH\[:log\] or key=choice:A,B"):
        parse_param(spec)


@pytest.mark.slow
def test_tune_trials_are_mlflow_children_and_processes_share_the_study(outputs: Path, tmp_path: Path, capsys) -> None:
    import optuna

    from runner.tune import main

    storage = f"sqlite:///{tmp_path}/optuna.db"
    argv = [
        "--param", "trainer.lr=float:1e-4:1e-1:log", "--param", "loss=choice:ce,focal", "--trials", "3", "--study", "shared",
        "--storage", storage, *FAST, "dataset=breast_cancer", f"paths.outputs={outputs}", "experiment_name=t_tune",
    ]  # fmt: skip
    main(argv)
    main(argv)  # a second process (here: a second call) joins the same study
    assert "best val/macro_f1 = " in capsys.readouterr().out
    study = optuna.load_study(study_name="shared", storage=storage)
    assert len(study.trials) == 6 and all(t.state.name == "COMPLETE" for t in study.trials)
    client = MlflowClient(f"sqlite:///{outputs}/mlflow.db")
    runs = client.search_runs([client.get_experiment_by_name("t_tune").experiment_id])
    parents = [r for r in runs if r.data.tags.get("sweep") == "parent"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 2 and len(children) == 6
    assert {t.user_attrs["mlflow_run_id"] for t in study.trials} == {r.info.run_id for r in children}


def test_compare_refuses_two_configs_at_one_seed_in_one_arm() -> None:
    """An arm holds one value per seed: grouping by resampler alone over a resampler x loss grid
    used to keep one loss's run per seed and drop the other silently (n=1 where 2 ran). Now one
    line names the keys that differ and the fixes; reruns of one config still count once."""
    from types import SimpleNamespace

    from runner.compare import build_arms

    def run(run_id: str, config_hash: str, seed: int, loss: str, value: float, sweep: str = "s1") -> SimpleNamespace:
        params = {"seed": str(seed), "resampler.name": "none", "loss.name": loss, "paths.outputs": run_id}
        return SimpleNamespace(info=SimpleNamespace(run_id=run_id, status="FINISHED"),
                               data=SimpleNamespace(params=params, metrics={"test/macro_f1": value},
                                                    tags={"config_hash": config_hash, "sweep_id": sweep, "overrides": f"loss={loss} seed={seed}"}))  # fmt: skip

    rerun = [run("a", "h1", 0, "ce", 0.5), run("b", "h1", 0, "ce", 0.6, sweep="s2"), run("c", "h1", 1, "ce", 0.7)]
    arms = build_arms(rerun, ["resampler.name"], "test/macro_f1")
    assert arms[("none",)].n == 2  # one config twice at seed 0: one value, as before
    grid = [run("a", "h1", 0, "ce", 0.5), run("d", "h2", 0, "weighted_ce", 0.4)]
    with pytest.raises(SystemExit) as err:
        build_arms(grid, ["resampler.name"], "test/macro_f1")
    assert str(err.value) == (
        "Error: --by resampler.name: runs a and d share seed 0 but differ in loss.name (ce / weighted_ce); add what tells "
        "them apart to --by (e.g. --by resampler.name,loss.name), or compare one sweep (python -m runner.compare s1)."
    )
    assert {k: a.n for k, a in build_arms(grid, ["resampler.name", "loss.name"], "test/macro_f1").items()} == {("none", "ce"): 1, ("none", "weighted_ce"): 1}
