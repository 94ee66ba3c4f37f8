"""``python -m runner.preview dataset=digits dataset.as_image=true augment=randaugment augment.n=2 augment.m=9``

Writes a PNG grid of original training images and augmented versions (labels kept), using the
same dataset and augment configs as a job, so a label-changing policy is visible before
training: a 90° rotation turns a 6 into a 9. Images are shown in their raw range, not scaled:
the job's default scaler (per-pixel z-scores) makes a digit grid unreadable, and a preview is
for the eye.
"""
from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from components.errors import ConfigError
from runner.configs import CONFIG_DIR


def preview(cfg: DictConfig, path: Path, samples: int = 8, copies: int = 4) -> Path:
    import components
    from components import get_registry
    from runner import plots
    from runner.configs import to_plain
    from runner.data import prepare
    from runner.job import validate

    components.load_builtin()
    plain = to_plain(cfg)
    validate(plain)
    seed = int(plain["seed"])
    data = prepare(plain["dataset"], plain.get("split", {}), seed)
    if data.image_shape is None:
        raise ConfigError("dataset: the preview needs an image dataset, e.g. dataset=digits dataset.as_image=true.")
    X = data.train.X  # the raw image range (see the module docstring)
    augment = get_registry("augment").build(
        plain["augment"], "augment", image_shape=data.image_shape, value_range=(float(X.min()), float(X.max()))
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    return plots.augment_grid(augment, X, data.train.y, data.image_shape, data.class_names, path, samples, copies, seed)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def _main(cfg: DictConfig) -> None:
    import datasets
    from hydra.core.hydra_config import HydraConfig

    datasets.disable_progress_bars()
    path = Path(HydraConfig.get().runtime.output_dir) / "augment_preview.png"
    try:
        written = preview(cfg, path)
    except ConfigError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(1)
    print(f"Preview: {written}")


def main() -> None:
    _main()


if __name__ == "__main__":
    main()
