"""``python -m runner``: Hydra CLI entry (overrides, ``-m`` sweeps, ``--cfg``, ``--help``...)."""
from __future__ import annotations

import logging
import sys
from typing import Any

import hydra
from omegaconf import DictConfig

from components.errors import ConfigError
from runner.configs import CONFIG_DIR  # absolute: `python -m runner` and `dq-run` find the same conf/

log = logging.getLogger("runner")


def cli_job(cfg: DictConfig) -> dict[str, float] | None:
    """Run one job. A failure in a sweep is recorded and the sweep goes on; alone, it exits 1.

    User mistakes (``ConfigError``) print as one clean line; other errors keep their traceback.
    """
    import datasets  # heavy imports here, so --help, --cfg and tab completion stay fast

    from runner.job import JobContext, run_job
    from runner.sweep import write_failure

    datasets.disable_progress_bars()
    ctx = JobContext.from_hydra()
    try:
        result = run_job(cfg, ctx)
    except Exception as exc:
        if ctx.multirun:
            assert ctx.output_dir is not None
            write_failure(ctx.output_dir, ctx.overrides, exc, getattr(exc, "mlflow_run_id", None))
            log.error("job %s FAILED: %s: %s", ctx.run_name, type(exc).__name__, exc)
            return None
        if isinstance(exc, ConfigError):
            print(f"Error: {exc}", file=sys.stderr)
            sys.exit(1)
        raise
    log.info("done: %s", ctx.run_name)
    print(result.summary())
    return result.metrics


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def _hydra_main(cfg: DictConfig) -> Any:
    return cli_job(cfg)


def main() -> None:
    _hydra_main()


if __name__ == "__main__":
    main()
