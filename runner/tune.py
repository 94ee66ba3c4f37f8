"""``python -m runner.tune --param trainer.lr=float:1e-4:1e-1:log --param loss=choice:ce,focal [overrides...]``

Hyper-parameter search with Optuna (TPE) over any config keys; each trial is one job, tracked as
a child MLflow run of the study's parent run; the objective is a logged metric (default
``val/macro_f1``, never a test metric). The study lives in a database (``--storage``, default
SQLite under outputs/), so several processes given the same ``--study`` share it.

Why not hydra-optuna-sweeper: it pins optuna < 3, and optuna 2.10's database storage fails
on SQLAlchemy 2 (which MLflow needs): creating a study on SQLite raises in its schema-version
check. This runner drives optuna >= 4 directly.

Search space grammar: ``key=float:LOW:HIGH[:log]``, ``key=int:LOW:HIGH[:log]``,
``key=choice:A,B,C``. Other ``key=value`` arguments are fixed overrides for every trial.
"""
from __future__ import annotations

import argparse
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from components.errors import ConfigError
from runner.cli import signals
from runner.tracker.redaction import install_stream_redaction
from runner.cli.clean_exit import user_errors


@dataclass
class Param:
    key: str
    kind: str
    args: tuple[Any, ...]
    log: bool = False

    def suggest(self, trial: Any) -> Any:
        if self.kind == "float":
            return trial.suggest_float(self.key, *self.args, log=self.log)
        if self.kind == "int":
            return trial.suggest_int(self.key, *self.args, log=self.log)
        return trial.suggest_categorical(self.key, list(self.args))


def parse_param(spec: str) -> Param:
    """``trainer.lr=float:1e-4:1e-1:log`` -> Param; a bad spec names itself and the grammar."""
    grammar = "expected key=float:LOW:HIGH[:log], key=int:LOW:HIGH[:log] or key=choice:A,B,..."
    if "=" not in spec or ":" not in spec:
        raise ConfigError(f"--param {spec!r}: {grammar}.")
    key, rest = spec.split("=", 1)
    kind, _, body = rest.partition(":")
    try:
        if kind == "choice":
            values = [v for v in body.split(",") if v]
            if len(values) < 2:
                raise ValueError
            return Param(key, kind, tuple(values))
        if kind in ("float", "int"):
            parts = body.split(":")
            log = parts[-1] == "log"
            bounds = parts[:-1] if log else parts
            cast = float if kind == "float" else int
            low, high = (cast(b) for b in bounds)
            if not low < high or (log and low <= 0):
                raise ValueError
            return Param(key, kind, (low, high), log)
    except ValueError:
        pass
    raise ConfigError(f"--param {spec!r}: {grammar}, with LOW < HIGH (LOW > 0 for log).")


def tune(
    params: list[Param], overrides: list[str], trials: int, study_name: str, storage: str,
    objective: str = "val/macro_f1", direction: str = "maximize", seed: int = 0,
) -> Any:
    import datasets
    import optuna

    from runner.cli.configs import compose, to_plain
    from runner.jobs.job import JobContext, run_job, validate
    from runner.tracker.tracking import build_tracker

    datasets.disable_progress_bars()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if storage.startswith("sqlite:///"):
        Path(storage[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    base = to_plain(compose(overrides))
    validate(base)  # a typo in the fixed overrides costs no study, no parent run
    study = optuna.create_study(
        study_name=study_name, storage=storage, direction=direction, load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed),
    )  # fmt: skip
    tracker = build_tracker(base["tracking"])
    sweep_id = f"optuna-{study_name}-{uuid.uuid4().hex[:6]}"
    parent = None
    if tracker.enabled:
        parent = tracker.start_run(f"optuna {study_name}", {"sweep": "parent", "sweep_id": sweep_id, "optuna_study": study_name})
        parent.log_params({"tune.objective": objective, "tune.direction": direction, "tune.params": " ".join(f"{p.key}" for p in params)})

    def run_trial(trial: Any) -> float:
        chosen = [f"{p.key}={p.suggest(trial)}" for p in params]
        everything = [*overrides, *chosen]
        ctx = JobContext(overrides=everything, parent={"parent_run_id": parent.run_id, "sweep_id": sweep_id} if parent else None)
        trial.set_user_attr("overrides", " ".join(chosen))
        try:
            result = run_job(compose(everything), ctx, extra_tags={"optuna_study": study_name, "optuna_trial": str(trial.number)})
        except Exception as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}")
            trial.set_user_attr("mlflow_run_id", getattr(exc, "mlflow_run_id", None))
            raise
        if objective not in result.metrics:
            raise ConfigError(f"--objective {objective!r}: not a logged metric; e.g. val/macro_f1, val/roc_auc.")
        trial.set_user_attr("mlflow_run_id", result.run_id)
        return float(result.metrics[objective])

    status = "KILLED"  # unless optimize returns: Ctrl-C / SIGTERM end the parent KILLED, not FINISHED
    try:
        study.optimize(run_trial, n_trials=trials, catch=(Exception,), callbacks=[lambda s, t: print(trial_line(s, t, objective), flush=True)])
        status = "FINISHED"
    finally:
        if parent is not None:
            states = [t.state.name for t in study.trials]
            parent.log_metrics({"tune/trials": float(len(states)), "tune/failed": float(states.count("FAIL"))})
            if status == "KILLED":
                parent.set_tags({"error": "interrupted"})
            parent.finish(status)
    return study


def trial_line(study: Any, trial: Any, objective: str) -> str:
    """One line per finished trial: number, state, objective (and the best so far), the chosen
    values and the MLflow run, or the failure's first line."""
    attrs = trial.user_attrs
    head = f"trial {trial.number}: {trial.state.name}"
    if trial.state.name == "COMPLETE":
        best = study.best_value
        head += f" {objective}={trial.value:.4f} (best {best:.4f})"
    else:
        head += f" ({attrs.get('error', 'no value')})"
    return f"{head}  {attrs.get('overrides', '')}  run {attrs.get('mlflow_run_id') or '-'}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runner.tune", description=__doc__.splitlines()[0])
    parser.add_argument("--param", action="append", default=[], help="search space entry, e.g. trainer.lr=float:1e-4:1e-1:log")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--study", default="study")
    parser.add_argument("--storage", default=f"sqlite:///{Path('outputs').resolve()}/optuna.db")
    parser.add_argument("--objective", default="val/macro_f1")
    parser.add_argument("--direction", choices=["maximize", "minimize"], default="maximize")
    parser.add_argument("--seed", type=int, default=0)
    args, overrides = parser.parse_known_args(argv)
    install_stream_redaction()
    signals.install()
    try:
        with user_errors():
            params = [parse_param(p) for p in args.param]
            if not params:
                raise ConfigError("--param: give at least one search-space entry, e.g. --param trainer.lr=float:1e-4:1e-1:log.")
            study = tune(params, overrides, args.trials, args.study, args.storage, args.objective, args.direction, args.seed)
    except KeyboardInterrupt as exc:  # the trial's run and the parent are already KILLED
        print(f"Interrupted by {signals.signal_name(exc)}; the study's parent run is KILLED.", file=sys.stderr)
        sys.exit(signals.exit_code(exc))
    done = [t for t in study.trials if t.state.name == "COMPLETE"]
    failed = [t for t in study.trials if t.state.name == "FAIL"]
    print(f"study '{args.study}' ({args.storage}): {len(done)} complete, {len(failed)} failed trial(s)")
    if done:
        best = study.best_trial
        print(f"best {args.objective} = {best.value:.4f} (trial {best.number}, MLflow run {best.user_attrs.get('mlflow_run_id', '-')})")
        print("  " + " ".join(f"{k}={v}" for k, v in best.params.items()))


if __name__ == "__main__":
    from runner.cli import fast_exit

    fast_exit.run(main)  # no interpreter teardown (runner/cli/fast_exit.py)
