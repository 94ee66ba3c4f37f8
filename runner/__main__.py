"""``python -m runner``: Hydra CLI entry (overrides, ``-m`` sweeps, ``--cfg``, ``--help``...)."""
from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any

import hydra
from omegaconf import DictConfig

from runner.cli import config_cache
from runner.cli.clean_exit import one_line, user_errors
from runner.cli.configs import CONFIG_DIR  # absolute: `python -m runner` and `dq-run` find the same conf/

log = logging.getLogger("runner")


def cli_job(cfg: DictConfig) -> dict[str, float] | None:
    """Run one job. A failure in a sweep is recorded and the sweep goes on; alone, it exits 1.

    User mistakes (``ConfigError``, store and disk problems) print as one clean line; other
    errors keep their traceback. Ctrl-C / SIGTERM propagate (the run is already KILLED).
    """
    from runner.cli import signals

    signals.install()  # also in launcher workers: SIGTERM there closes the child run KILLED
    _fail_fast(cfg)
    import datasets  # heavy imports here, so --help, --cfg, tab completion and config mistakes stay fast

    from runner.jobs.job import JobContext, run_job
    from runner.cli.sweep import write_failure

    import mlflow  # noqa: F401  (its log handler exists from here: filtered below)

    from runner.cli.sweep import _redact_log_handlers

    _redact_log_handlers()
    datasets.disable_progress_bars()
    ctx = JobContext.from_hydra()
    if not ctx.multirun:
        hint_single_arm()
    try:
        result = run_job(cfg, ctx)
    except Exception as exc:
        _remember_schema(cfg)
        message = one_line(exc)
        if ctx.multirun:
            assert ctx.output_dir is not None
            write_failure(ctx.output_dir, ctx.overrides, exc, getattr(exc, "mlflow_run_id", None))
            log.error("job %s FAILED: %s", ctx.run_name, message or f"{type(exc).__name__}: {exc}")
            return None
        if message is not None:  # the same line as every command's (runner/cli/clean_exit.py)
            print(f"Error: {message}", file=sys.stderr)
            sys.exit(1)
        raise
    _remember_schema(cfg)
    log.info("done: %s", ctx.run_name)
    print(result.summary())
    return result.metrics


_schema_fresh = False  # this process has checked (or written) the registry schema
_prechecked = False  # _fail_fast ran (on Hydra's first composition, runner/cli/config_cache.py)


def _fail_fast(cfg: DictConfig) -> None:
    """A single run whose mistake the registry schema can see exits here, before torch,
    scikit-learn, MLflow and datasets are imported (``runner.cli.precheck``): called on the
    composition Hydra makes to read the mode (runner/cli/config_cache.py), before its run folder
    exists; else (a sweep override without ``-m``, another Hydra) from ``cli_job``. Sweeps skip it: their
    first job pays the imports anyway, and a failed job there is recorded, not exited."""
    global _schema_fresh, _prechecked
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if _prechecked or (HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN):
        return
    from runner.cli.configs import to_plain
    from runner.cli.precheck import precheck

    with user_errors():
        plain = to_plain(cfg)
        cache_dir = (plain.get("cache") or {}).get("dir")
        _schema_fresh = bool(cache_dir) and precheck(plain, cache_dir)
    _prechecked = True  # not on an unexpected error: the next call meets it inside Hydra's run


def _remember_schema(cfg: DictConfig) -> None:
    """After a full validation, leave the registry schema for the next run's ``_fail_fast``."""
    global _schema_fresh
    if _schema_fresh:
        return
    _schema_fresh = True
    try:
        from runner.cli.precheck import load_schema, save_schema

        cache_dir = cfg.get("cache", {}).get("dir")
        if cache_dir and load_schema(cache_dir) is None:
            save_schema(cache_dir)
    except Exception as exc:  # a cache, never a reason to fail a job
        log.debug("registry schema not saved: %s", exc)


def hint_single_arm() -> None:
    """An experiment run without -m is one arm of its comparison: one log line says how to run them all."""
    import math

    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    params = dict(hc.sweeper.get("params") or {})
    if params:
        arms = math.prod(len(str(v).split(",")) for v in params.values())
        overrides = " ".join(hc.overrides.task)
        log.info("one run, the default arm of a %d-run comparison (%s); to run it: python -m runner -m %s", arms,
                 "; ".join(f"{k}={v}" for k, v in params.items()), overrides)  # fmt: skip


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def _hydra_main(cfg: DictConfig) -> Any:
    return cli_job(cfg)


def main() -> None:
    """The CLI: output redacted (Hydra's lines included), Ctrl-C/SIGTERM -> runs KILLED, 130/143."""
    from runner.cli import signals
    from runner.tracker.redaction import install_stream_redaction

    global _prechecked
    install_stream_redaction()
    signals.install()
    multirun = bool({"-m", "--multirun"} & set(sys.argv[1:]))
    helping = bool({"--help", "-h", "--hydra-help"} & set(sys.argv[1:]))
    _prechecked = False  # per call: tests run main() again in one process
    if helping:
        config_cache.share_group_listings()
    if multirun:
        config_cache.compose_each_job_once()
        config_cache.install()  # each conf/ file parsed once for the whole sweep
    logging.raiseExceptions = False  # a full disk under Hydra's log file: our one line, not logging's traceback
    try:
        with contextlib.nullcontext() if helping or multirun else config_cache.check_when_reading_mode(_fail_fast):
            _hydra_main()  # a single run's mistake exits on Hydra's first composition (runner/cli/config_cache.py)
    except KeyboardInterrupt as exc:
        from runner.cli.sweep import abort_active

        line = abort_active(signals.signal_name(exc)) or f"Interrupted by {signals.signal_name(exc)}; the run is marked KILLED."
        print(line, file=sys.stderr)
        sys.stderr.flush()
        sys.exit(signals.exit_code(exc))


def cli() -> None:
    """``dq-run`` / ``python -m runner``: :func:`main`, then the process ends without the
    interpreter's teardown (~2 s after a job; runner/cli/fast_exit.py)."""
    from runner.cli import fast_exit

    fast_exit.run(main)


if __name__ == "__main__":
    cli()
