"""``python -m runner.preview dataset=digits dataset.as_image=true augment=randaugment augment.n=2 augment.m=9``

Writes a PNG grid of original training images and augmented versions (labels kept), using the
same configs as a job (scaler included), so a label-changing policy is visible before training:
a 90° rotation turns a 6 into a 9.
"""
from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig

from components.errors import ConfigError
from runner.configs import CONFIG_DIR
from runner.clean_exit import user_errors


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
    scaler = get_registry("scaler").build(plain["scaler"], "scaler").fit(data.train.X)
    X = scaler.transform(data.train.X)
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
    with user_errors():
        written = preview(cfg, path)
    print(f"Preview: {written}")


def main() -> None:
    _main()


if __name__ == "__main__":
    main()
