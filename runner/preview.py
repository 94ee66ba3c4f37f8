"""``python -m runner.preview dataset=digits dataset.as_image=true augment=randaugment augment.n=2 augment.m=9``

Writes a PNG grid of original training images and augmented versions (labels kept), running the
job's own first stages (load, then outliers -> resampler), so a label-changing policy is visible
before training: a 90° rotation turns a 6 into a 9. The scaler is left out: images are shown in
their raw range, because the job's default scaler (per-pixel z-scores) makes a digit grid
unreadable, and a preview is for the eye.
"""
from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from components.errors import ConfigError
from runner.cli.configs import CONFIG_DIR
from runner.cli.clean_exit import user_errors


def preview(cfg: DictConfig, path: Path, samples: int = 8, copies: int = 4) -> Path:
    """The grid of training images as the job feeds them (after outliers, scaler and resampler)."""
    import components
    from runner.reporting import plots
    from runner.cli.configs import to_plain
    from runner.jobs.job import validate
    from runner.jobs.stages import PREVIEW_STAGES
    from runner.jobs.state import JobState, run_stages
    from runner.tracker.tracking import Run

    components.load_builtin()
    plain = to_plain(cfg)
    validate(plain)
    plain = {**plain, "scaler": {"name": "none"}}  # the raw image range (see the module docstring)
    state = run_stages(JobState(plain, int(plain["seed"])), PREVIEW_STAGES[:1], Run())  # load
    data = state.data
    if data.image_shape is None:
        raise ConfigError("dataset: the preview needs an image dataset, e.g. dataset=digits dataset.as_image=true.")
    run_stages(state, PREVIEW_STAGES[1:], Run())
    augment = state.build("augment")
    path.parent.mkdir(parents=True, exist_ok=True)
    return plots.augment_grid(augment, state.X_train, state.y_train, data.image_shape, data.class_names, path, samples, copies, int(plain["seed"]))


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def _main(cfg: DictConfig) -> None:
    import datasets
    from hydra.core.hydra_config import HydraConfig

    datasets.disable_progress_bars()
    path = Path(HydraConfig.get().runtime.output_dir) / "augment_preview.png"
    with user_errors():
        written = preview(cfg, path)
    print(f"Preview: {written}")


def main() -> None:
    _main()


if __name__ == "__main__":
    from runner.cli import fast_exit

    fast_exit.run(main)  # no interpreter teardown (runner/cli/fast_exit.py)
