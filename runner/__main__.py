"""``python -m runner``: Hydra CLI entry (overrides, ``-m`` sweeps, ``--cfg``, ``--help``...)."""
from __future__ import annotations

import logging
import sys
from typing import Any

import hydra
from omegaconf import DictConfig

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


def _fail_fast(cfg: DictConfig) -> None:
    """A single run whose mistake the registry schema can see exits here, before torch,
    scikit-learn, MLflow and datasets are imported (``runner.cli.precheck``). Sweeps skip it: their
    first job pays the imports anyway, and a failed job there is recorded, not exited."""
    global _schema_fresh
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return
    from runner.cli.configs import to_plain
    from runner.cli.precheck import precheck

    with user_errors():
        plain = to_plain(cfg)
        cache_dir = (plain.get("cache") or {}).get("dir")
        _schema_fresh = bool(cache_dir) and precheck(plain, cache_dir)


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

    install_stream_redaction()
    signals.install()
    if {"--help", "-h", "--hydra-help"} & set(sys.argv[1:]):
        _share_group_listings()
    if {"-m", "--multirun"} & set(sys.argv[1:]):
        compose_each_job_once()
        from runner.cli import config_cache

        config_cache.install()  # each conf/ file parsed once for the whole sweep
    logging.raiseExceptions = False  # a full disk under Hydra's log file: our one line, not logging's traceback
    try:
        _hydra_main()
    except KeyboardInterrupt as exc:
        from runner.cli.sweep import abort_active

        line = abort_active(signals.signal_name(exc)) or f"Interrupted by {signals.signal_name(exc)}; the run is marked KILLED."
        print(line, file=sys.stderr)
        sys.stderr.flush()
        sys.exit(signals.exit_code(exc))


def _share_group_listings() -> None:
    """``--help`` in a third of the time (0.7 s of CPU instead of 1.9 s on the shared 2-core
    machine): Hydra lists the config groups with ~130 calls to
    ``get_group_options``, each deep-copying the whole config repository (hydra's own schema
    included) before one read-only lookup. Within one ``--help`` the search path and overrides do
    not change between those calls, so one copy per (config, overrides) serves them all. Hydra's
    internals differ between versions: if the method is not where expected, nothing is patched."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    original = getattr(ConfigLoaderImpl, "_parse_overrides_and_create_caching_repo", None)
    if original is None or getattr(original, "shared", False):
        return
    shared: dict[Any, Any] = {}

    def parse_once(self: Any, config_name: str | None, overrides: list[str]) -> Any:
        key = (id(self), config_name, tuple(overrides))
        if key not in shared:
            shared[key] = original(self, config_name, overrides)
        return shared[key]

    parse_once.shared = True  # type: ignore[attr-defined]
    ConfigLoaderImpl._parse_overrides_and_create_caching_repo = parse_once  # type: ignore[method-assign]


def compose_each_job_once() -> None:
    """A ``-m`` sweep composes each job's config once, not twice. Hydra's sweeper composes every
    job of a batch to check it can be (``Sweeper.validate_batch_is_legal``), throws the configs
    away, and the launcher composes each again: ~0.4 s a job, a third of a sweep of small fits
    (profiled, benchmarks/bench_vs_sklearn.py). Here the sweeper's composition is kept and handed
    to the launcher's request for the same (master config, overrides) once, then forgotten, so the
    launcher gets a config nobody else holds (it sets ``hydra.job.id`` on it); any other request
    composes as before. A launcher in other processes (joblib) composes there, unchanged. If
    Hydra's method is not where expected, nothing is patched."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    original = getattr(ConfigLoaderImpl, "load_sweep_config", None)
    if original is None or getattr(original, "shared", False):
        return
    kept: dict[tuple[int, int, tuple[str, ...]], Any] = {}

    def load_sweep_config(self: Any, master_config: Any, sweep_overrides: list[str]) -> Any:
        key = (id(self), id(master_config), tuple(sweep_overrides))
        if key in kept:
            return kept.pop(key)
        config = original(self, master_config, sweep_overrides)
        if _in_batch_check() and _launcher(master_config) == BASIC_LAUNCHER:
            kept[key] = config  # the launcher's call for this job, in this process, takes it
        return config

    load_sweep_config.shared = True  # type: ignore[attr-defined]
    ConfigLoaderImpl.load_sweep_config = load_sweep_config  # type: ignore[method-assign]


BASIC_LAUNCHER = "hydra._internal.core_plugins.basic_launcher.BasicLauncher"  # jobs in this process


def _launcher(master_config: Any) -> str:
    try:
        return str(master_config.hydra.launcher._target_)
    except Exception:  # no launcher node: another Hydra layout, compose as before
        return ""


def _in_batch_check() -> bool:
    """True when the caller is ``Sweeper.validate_batch_is_legal`` (its configs are discarded)."""
    frame = sys._getframe(2)
    return frame is not None and frame.f_code.co_name == "validate_batch_is_legal"


if __name__ == "__main__":
    main()
