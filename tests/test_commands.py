"""compare / rerun / the CLI against real stores: hostile targets, unknown metrics, missing
stores, odd experiment names, ``MLFLOW_TRACKING_URI`` and config mistakes that leave no run."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from mlflow import MlflowClient

from runner.compare import compare
from runner.jobs.job import JobContext, run_job
from runner.rerun import rerun
from runner.__main__ import main as runner_main
from tests.conftest import FAST, cli, compose, in_process

TINY = ["dataset=breast_cancer"]


def _job(outputs: Path, experiment: str, *overrides: str):
    from runner.rerun import quote_override

    everything = [*FAST, *TINY, f"paths.outputs={outputs}", quote_override("experiment_name", experiment), *overrides]
    return run_job(compose(everything), JobContext(overrides=everything))


@pytest.mark.slow
def test_compare_quotes_its_target_and_lists_metrics_for_an_unknown_one(outputs: Path) -> None:
    _job(outputs, "t_cmd", "seed=0")
    uri = f"sqlite:///{outputs}/mlflow.db"
    for hostile in ("it's", 'a"b', "x' or '1'='1", "both ' and \""):
        with pytest.raises(SystemExit, match="Error: no runs for"):
            compare(hostile, uri=uri)
    with pytest.raises(SystemExit, match=r"Error: --metric 'test/macro_f2': not logged by these runs. Available: .*test/macro_f1"):
        compare("t_cmd", metric="test/macro_f2", uri=uri)


@pytest.mark.slow
def test_compare_and_rerun_never_create_a_store(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "mlflow.db"
    with pytest.raises(SystemExit, match=r"Error: --tracking-uri sqlite:///.*nowhere/mlflow.db: no MLflow store there"):
        compare("anything", uri=f"sqlite:///{missing}")
    with pytest.raises(SystemExit, match="no MLflow store there"):
        rerun("0123", f"sqlite:///{missing}")
    assert not missing.exists() and not missing.parent.exists()


@pytest.mark.slow
def test_rerun_of_an_experiment_with_a_comma_and_a_quote(outputs: Path) -> None:
    original = _job(outputs, "t,it's", "seed=1")
    new_id, compared = rerun(original.run_id, f"sqlite:///{outputs}/mlflow.db")
    client = MlflowClient(f"sqlite:///{outputs}/mlflow.db")
    assert client.get_run(new_id).info.experiment_id == client.get_run(original.run_id).info.experiment_id
    assert compared and all(a == b for a, b in compared.values())


@pytest.mark.slow
def test_unknown_run_id_is_one_line(outputs: Path) -> None:
    """``python -m runner.rerun``'s main in this process (exit status and stderr as the process ends with them)."""
    from runner.rerun import main

    _job(outputs, "t_cmd", "seed=0")
    code, _, err = in_process(main, argv=["nope", "--tracking-uri", f"sqlite:///{outputs}/mlflow.db"])
    assert code == 1 and "Error: run_id: no run 'nope'" in err and "Traceback" not in err


@pytest.mark.slow
def test_mlflow_tracking_uri_is_honoured_by_the_runner_and_compare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = tmp_path / "elsewhere.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{store}")
    code, out, err = in_process(runner_main, *FAST, *TINY, f"paths.outputs={tmp_path / 'out'}", "experiment_name=t_env")  # `python -m runner`'s main
    assert code == 0, err[-2000:]
    assert f"Open the UI: mlflow ui --backend-store-uri sqlite:///{store}" in out
    assert store.exists() and not (tmp_path / "out" / "mlflow.db").exists()
    rows, _ = compare("t_env", out=tmp_path / "cmp")  # no --tracking-uri: the variable
    assert rows[0]["n"] == 1


@pytest.mark.slow
def test_a_config_typo_leaves_no_run(outputs: Path) -> None:
    res = cli(*FAST, *TINY, f"paths.outputs={outputs}", "experiment_name=t_typo", "loss=focal", "loss.gamma=-1")
    assert res.returncode == 1 and "Traceback" not in res.stderr and res.stderr.strip().count("\n") == 0
    assert MlflowClient(f"sqlite:///{outputs}/mlflow.db").get_experiment_by_name("t_typo") is None


@pytest.mark.slow
@pytest.mark.parametrize("name", ["/abs/path", "../../x", "..", "a/b", " pad", "~home"])
def test_experiment_name_must_stay_under_the_artifact_root(name: str, outputs: Path) -> None:
    from components.errors import ConfigError

    with pytest.raises(ConfigError, match=r"experiment_name: got .*; expected a plain name"):
        _job(outputs, name)
    assert os.path.exists(outputs)


def test_a_bogus_sampling_strategy_is_caught_in_validation() -> None:
    from components.errors import ConfigError
    from runner.cli.configs import to_plain
    from runner.jobs.job import validate

    with pytest.raises(ConfigError, match=r"resampler.sampling_strategy: got 'bogus'; expected one of 'auto', 'minority'"):
        validate(to_plain(compose(["resampler=smote", "resampler.sampling_strategy=bogus"])))


@pytest.mark.slow
@pytest.mark.parametrize(("module", "expected"), [("runner.rerun", "usage: python -m runner.rerun"), ("runner.quality", "== dq-runner")])
def test_commands_tested_in_process_still_start_as_processes(module: str, expected: str) -> None:
    """Their behaviour is tested through main() in-process; this keeps `python -m` reaching it."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.startswith(expected), done.stderr
