"""Shared fixtures: offline HF, a private HF cache, Hydra composition and one MLflow store per session."""
from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.cli.configs import compose  # noqa: F401  (re-exported for the tests)
from runner.cli import config_cache

config_cache.install()  # each config file parsed once per session, as in a -m sweep (runner/cli/config_cache.py)

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.pop("MLFLOW_TRACKING_URI", None)  # tests name their stores; a developer's variable must not redirect them

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "conf"
FAST = ["debug=fast"]  # conf/debug/fast.yaml: 2 epochs, big batches, no progress bar, no plots, no label-issue search
# The drift report's domain classifier (gradient boosting, 3 folds) costs 0.5-1.5 s a report; tests
# for which the report is incidental take its logistic-regression fallback (a CostWarning says so:
# such modules ignore it with IGNORE_COST_WARNING). Tests of the drift report itself keep the default.
CHEAP_DRIFT = "quality.max_cost_s=1e-9"
IGNORE_COST_WARNING = pytest.mark.filterwarnings("ignore::components.cost.CostWarning")
# Config mistakes and the one line each prints: the full validation (test_cli) and the fast
# pre-import check (test_startup) must both give exactly these.
CONFIG_MISTAKES = [
    (["scaler.name=standrd"], "Error: scaler.name: unknown scaler 'standrd'. Did you mean 'standard'? Available: l2, minmax, none, robust, standard, whiten."),
    (["+model.hiden=[8]"], "Error: model.hiden: unknown parameter of model 'mlp'. Did you mean 'hidden'? Accepted: hidden, dropout, activation."),
    (["loss=weighted_ce", "loss.beta=1.5"], "Error: loss.beta: got 1.5; expected a number in [0, 1)."),
]  # fmt: skip


@pytest.fixture(scope="session", autouse=True)
def _hf_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    cache = tmp_path_factory.mktemp("hf_cache")
    os.environ["HF_DATASETS_CACHE"] = str(cache)
    import datasets

    datasets.config.HF_DATASETS_CACHE = cache  # already imported modules read the config object
    datasets.disable_progress_bars()


_URI_ENV = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}


@pytest.fixture(autouse=True)
def _no_leaked_tracking_uri() -> Iterator[None]:
    """``mlflow.set_tracking_uri`` also exports ``MLFLOW_TRACKING_URI`` (so subprocesses inherit
    it): a test that calls it in-process would redirect every later ``cli()`` run to its store."""
    yield
    if "mlflow" in sys.modules:
        import mlflow.tracking._model_registry.utils as registry
        import mlflow.tracking._tracking_service.utils as tracking

        tracking._tracking_uri = None
        registry._registry_uri = None
    for key, value in _URI_ENV.items():  # the session's start, not the test's: module fixtures set it too
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One outputs/ folder (and MLflow SQLite store) shared by the session: the schema is built once."""
    return tmp_path_factory.mktemp("outputs")


def cli(*args: str, cwd: Path | None = None, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """``python -m runner ...`` in a subprocess, as a user types it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run(
        [sys.executable, "-m", "runner", *args], cwd=cwd or ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def in_process(main: Callable[..., Any], *args: str, argv: list[str] | None = None) -> tuple[int, str, str]:
    """A command's ``main`` run in this process: (exit status, stdout, stderr), as ``cli()`` gives them.

    For tests whose subject is the command's work and its one-line errors, not a new interpreter
    (which costs ~10 s of imports: torch, scikit-learn, MLflow's SQL store, datasets). ``args`` go
    to a Hydra command through ``sys.argv`` (Hydra parses them as on the command line); ``argv`` to
    an argparse ``main(argv)``. ``sys.exit(n)`` becomes status n, an ``Error:`` line is on stderr as
    the process prints it. What a command changes for its process is put back after: Hydra's
    singletons (GlobalHydra, HydraConfig), the root logger's handlers, the SIGTERM handler,
    ``logging.raiseExceptions``, sys.argv and sys.stdout/stderr (a redacting wrapper included)."""
    import io
    import logging
    import signal
    from contextlib import redirect_stderr, redirect_stdout

    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.core.singleton import Singleton

    singletons = {kind: Singleton._instances.get(kind) for kind in (GlobalHydra, HydraConfig)}
    hydra_state = [(getattr(singletons[GlobalHydra], "hydra", None)), getattr(singletons[HydraConfig], "cfg", None)]
    root = logging.getLogger()
    handlers, level, raise_exc = root.handlers[:], root.level, logging.raiseExceptions
    sigterm, saved_argv = signal.getsignal(signal.SIGTERM), sys.argv
    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    try:
        sys.argv = [getattr(main, "__module__", "runner"), *args]
        with redirect_stdout(out), redirect_stderr(err):
            try:
                main() if argv is None else main(argv)
            except SystemExit as exc:  # sys.exit(1), SystemExit(2) or SystemExit("Error: ...") as Python ends on them
                code = exc.code
                if isinstance(code, str):
                    print(code, file=sys.stderr)
                    code = 1
    finally:
        for handler in root.handlers[:]:
            if handler not in handlers:
                root.removeHandler(handler)
                handler.close()
        root.handlers[:], logging.raiseExceptions = handlers, raise_exc
        root.setLevel(level)
        signal.signal(signal.SIGTERM, sigterm)
        sys.argv = saved_argv
        for kind, instance in singletons.items():
            if instance is None:
                Singleton._instances.pop(kind, None)
            else:
                Singleton._instances[kind] = instance
        if singletons[GlobalHydra] is not None:
            singletons[GlobalHydra].hydra = hydra_state[0]
        if singletons[HydraConfig] is not None:
            singletons[HydraConfig].cfg = hydra_state[1]
    return int(code or 0), out.getvalue(), err.getvalue()
