"""``python -m runner.quality dataset=...``: EDA mode. The quality, EDA and drift report for a
dataset (same configs and overrides as a job), printed and written as HTML + JSON, no training."""
from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from components.errors import ConfigError
from runner.cli.configs import CONFIG_DIR
from runner.cli.clean_exit import user_errors


def summary(quality: dict, drift: dict) -> str:
    from components.quality import DIMENSIONS

    keys = ("rows", "features", *DIMENSIONS)
    lines = [f"{k:24s} {quality[k]:.4g}" if isinstance(quality[k], float) else f"{k:24s} {quality[k]}" for k in keys if k in quality]
    lines.append(f"{'class counts':24s} {quality['class_counts']}")
    for a, b, r in quality.get("top_pearson", [])[:3]:
        lines.append(f"{'pearson':24s} {a} ~ {b}: {r:+.3f}")
    lines.append(f"{'drift: domain AUC':24s} {drift['domain_auc']:.4f}")
    lines.append(f"{'drift: share drifted':24s} {drift['share_drifted']:.3f} (max PSI {drift['max_psi']:.4f})")
    return "\n".join(lines)


def eda(cfg: DictConfig, folder: Path) -> tuple[dict, dict, Path]:
    import components
    from components import get_registry
    from runner.cli.configs import to_plain
    from runner.reporting.diagnostics import log_plots_and_report
    from runner.jobs.stages import EDA_STAGES
    from runner.jobs.state import JobState, run_stages
    from runner.tracker.tracking import Run

    components.load_builtin()
    plain = to_plain(cfg)
    if not get_registry("quality").build(plain["quality"], "quality").enabled:
        raise ConfigError("quality: EDA mode needs a quality config; got quality=none. Use quality=default.")
    state = run_stages(JobState(plain, int(plain["seed"])), EDA_STAGES, Run())
    quality, drift = state.quality, state.drift
    files = log_plots_and_report(Run(), f"EDA: {plain['dataset']['name']}", state.data, quality, drift, folder=folder)
    return quality, drift, files["html"]


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def _main(cfg: DictConfig) -> None:
    import datasets
    from hydra.core.hydra_config import HydraConfig

    datasets.disable_progress_bars()
    folder = Path(HydraConfig.get().runtime.output_dir) / "report"
    with user_errors():
        quality, drift, html = eda(cfg, folder)
    print(summary(quality, drift))
    print(f"Report: {html}\n        {html.with_suffix('.json')}")


def main() -> None:
    _main()


if __name__ == "__main__":
    from runner.cli import fast_exit

    fast_exit.run(main)  # no interpreter teardown (runner/cli/fast_exit.py)
