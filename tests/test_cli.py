"""The CLI as a user types it: a run, a multirun with parent/child runs, failure isolation,
clean error messages, and Hydra's standard flags."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from mlflow import MlflowClient

from runner.__main__ import main as runner_main
from tests.conftest import CHEAP_DRIFT, CONFIG_MISTAKES, IGNORE_COST_WARNING, ROOT, cli, in_process

pytestmark = [pytest.mark.slow, IGNORE_COST_WARNING]  # every test here runs jobs or starts processes

# the drift report is incidental here: its cheap fallback (~0.8 s of CPU less a job with a new split)
TINY = ["progress=false", "trainer.epochs=1", "dataset.n_samples=2000", "dataset.ratio=9", "quality.plots=false", CHEAP_DRIFT]


def runs_of(outputs: Path, experiment: str) -> list:
    client = MlflowClient(f"sqlite:///{outputs}/mlflow.db")
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], max_results=1000)


def test_single_run_prints_summary_and_ui_hint(outputs: Path) -> None:
    res = cli(*TINY, f"paths.outputs={outputs}", "experiment_name=cli_single")
    assert res.returncode == 0, res.stderr
    assert "test/macro_f1=" in res.stdout and "test/roc_auc=" in res.stdout
    assert f"Open the UI: mlflow ui --backend-store-uri sqlite:///{outputs}/mlflow.db" in res.stdout
    (run,) = runs_of(outputs, "cli_single")
    assert run.info.status == "FINISHED" and run.info.run_id in res.stdout


def test_multirun_makes_children_of_one_parent(outputs: Path) -> None:
    """`python -m runner -m ...`'s main in this process: Hydra parses the same argv and its basic
    launcher runs the jobs here too (sweeps in real processes: test_faults, the parallel and ray tests)."""
    code, out, err = in_process(runner_main, "-m", "scaler=none,standard,minmax,robust", "seed=0,1", *TINY, f"paths.outputs={outputs}", "experiment_name=cli_sweep")
    assert code == 0, err[-3000:]
    runs = runs_of(outputs, "cli_sweep")
    parents = [r for r in runs if r.data.tags.get("sweep") == "parent"]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 8
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.data.metrics["sweep/jobs"] == 8
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent.info.run_id}
    assert {r.data.tags["sweep_id"] for r in children} == {parent.data.tags["sweep_id"]}
    assert all(r.info.status == "FINISHED" for r in children)
    assert sorted((r.data.params["scaler.name"], r.data.params["seed"]) for r in children) == sorted(
        (s, str(k)) for s in ("none", "standard", "minmax", "robust") for k in (0, 1)
    )
    assert "Sweep " in out and "8 of 8 jobs finished" in out


def test_failed_job_does_not_stop_the_sweep(outputs: Path) -> None:
    """In this process, as test_multirun_makes_children_of_one_parent."""
    code, _, err = in_process(runner_main, "-m", "trainer.lr=-1,0.001,0", *TINY, f"paths.outputs={outputs}", "experiment_name=cli_fail")
    assert code == 1
    assert "2 job(s) FAILED:" in err
    assert "[trainer.lr=-1 " in err and "ConfigError: trainer.lr: got -1; expected a number > 0." in err
    runs = runs_of(outputs, "cli_fail")
    children = {r.data.params["trainer.lr"]: r for r in runs if "mlflow.parentRunId" in r.data.tags}
    assert children["0.001"].info.status == "FINISHED"
    assert set(children) == {"0.001"}  # config mistakes are caught before a run is opened: no empty FAILED runs
    (parent,) = [r for r in runs if r.data.tags.get("sweep") == "parent"]
    assert parent.info.status == "FAILED" and parent.data.metrics["sweep/failed"] == 2


CAUGHT_BEFORE_IMPORTS = [
    *CONFIG_MISTAKES,
    (["dataset=hf"], "Error: dataset.path: a value is required (it is ??? in the config); set it, e.g. dataset.path=<value>."),
]  # fmt: skip
CAUGHT_BY_THE_JOB = [  # past the pre-import check: the full validation inside the job (~10 s of imports in a new process)
    (["model=cnn"], "Error: model.name: 'cnn' needs an image dataset (one image or array column), e.g. dataset=digits dataset.as_image=true; use model=mlp for tables."),
    (["dataset=hf", "dataset.path=csv", "dataset.data_files=/no/such.csv"], "Error: dataset.data_files: file not found: '/no/such.csv'."),
]  # fmt: skip


@pytest.mark.parametrize("args, message", CAUGHT_BEFORE_IMPORTS)
def test_config_mistakes_print_one_clean_line(outputs: Path, args: list[str], message: str) -> None:
    res = cli("progress=false", "trainer.epochs=1", f"paths.outputs={outputs}", "experiment_name=cli_errors", *args)
    assert res.returncode == 1
    assert message in res.stderr.splitlines()
    assert "Traceback" not in res.stderr


@pytest.mark.parametrize("args, message", CAUGHT_BY_THE_JOB)
def test_job_config_mistakes_print_one_clean_line(outputs: Path, args: list[str], message: str) -> None:
    """`python -m runner`'s main in this process (Hydra parses the same argv): the job's own
    validation ends it with exit status 1 and one line. The same path in a real process:
    test_data_problems.test_the_cli_prints_the_cause_not_a_traceback."""
    code, _, err = in_process(runner_main, "progress=false", "trainer.epochs=1", f"paths.outputs={outputs}", "experiment_name=cli_errors", *args)
    assert code == 1
    assert message in err.splitlines()
    assert "Traceback" not in err


def test_unknown_group_option_is_hydras_clear_error(outputs: Path) -> None:
    res = cli("scaler=standrd", f"paths.outputs={outputs}")
    assert res.returncode == 1
    assert "Could not find 'scaler/standrd'" in res.stderr and "standard" in res.stderr


def test_hydra_flags() -> None:
    cfg = cli("--cfg", "job", "scaler=robust")
    assert cfg.returncode == 0 and "scaler:\n  name: robust\n  q_low: 25.0" in cfg.stdout
    helped = cli("--help")
    assert helped.returncode == 0 and "dq-runner: which data treatment" in helped.stdout and "scaler: l2, minmax, none, robust, standard, whiten" in helped.stdout
    info = cli("--info")
    assert info.returncode == 0 and f"file://{ROOT}/conf" in info.stdout
    install = cli("--shell-completion", "install=bash")
    assert install.returncode == 0 and "hydra_bash_completion" in install.stdout


def test_tab_completion_of_groups_and_options() -> None:
    import subprocess
    import sys

    script = Path(sys.executable).parent / "dq-run"
    env = {**os.environ, "COMP_LINE": "dq-run scaler="}
    res = subprocess.run([str(script), "-sc", "query=bash"], env=env, capture_output=True, text=True, timeout=120)
    assert res.stdout.split() == ["scaler=l2", "scaler=minmax", "scaler=none", "scaler=robust", "scaler=standard", "scaler=whiten"]


def test_parallel_workers_lose_no_run_on_sqlite(outputs: Path) -> None:
    """hydra/launcher=parallel: 2 worker processes x 16 jobs -> 16 FINISHED children, no 'database is locked'."""
    seeds = ",".join(str(i) for i in range(16))
    res = cli("-m", "hydra/launcher=parallel", "hydra.launcher.n_jobs=2", f"seed={seeds}", *TINY, "tracking.experiment=cli_parallel", f"paths.outputs={outputs}")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "locked" not in res.stderr
    runs = runs_of(outputs, "cli_parallel")
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 16 and all(r.info.status == "FINISHED" for r in children)
    assert sorted(int(r.data.params["seed"]) for r in children) == list(range(16))


def test_ray_launcher_runs_a_sweep_on_a_local_ray_instance(outputs: Path) -> None:
    pytest.importorskip("ray", reason="the ray extra (pip install -e '.[ray]') is not installed")
    env_args = ["+hydra.launcher.ray.init.num_cpus=2", "+hydra.launcher.ray.init.include_dashboard=false"]
    res = cli("-m", "hydra/launcher=ray", *env_args, "seed=0,1", *TINY, "tracking.experiment=cli_ray", f"paths.outputs={outputs}")
    assert res.returncode == 0, res.stderr[-3000:]
    runs = runs_of(outputs, "cli_ray")
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(children) == 2 and all(r.info.status == "FINISHED" for r in children)
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {r.info.run_id for r in runs if r.data.tags.get("sweep") == "parent"}
