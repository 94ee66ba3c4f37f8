"""Augmentation policies: shapes, ranges, labels, identity at zero magnitude, seeds, HSV formula."""
from __future__ import annotations

import colorsys

import numpy as np
import pytest
import torch

import components
from components import get_registry
from components.augment import MixedTargets, hsv_shift
from components.errors import ConfigError
from runner.fitting.training import TrainerSettings, train

components.load_builtin()
SHAPE = (3, 8, 8)
NAMES = get_registry("augment").names()


def build(name: str, shape=SHAPE, **params):
    return get_registry("augment").build({"name": name, **params}, "augment", image_shape=shape, value_range=(-2.0, 3.0))


def batch(shape=SHAPE, n: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.rand((n, int(np.prod(shape))), generator=g) * 5 - 2  # values in [-2, 3] = value_range
    return x, torch.arange(n) % 3


@pytest.mark.parametrize("shape", [SHAPE, (1, 8, 8)], ids=["rgb", "gray"])
@pytest.mark.parametrize("name", NAMES)
def test_shape_dtype_range_and_labels_kept(name: str, shape) -> None:
    x, y = batch(shape)
    torch.manual_seed(0)
    out, labels = build(name, shape)(x, y, torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == x.dtype and torch.isfinite(out).all()
    if name not in ("gaussian_noise", "mixup"):
        assert out.min() >= -2 - 1e-5 and out.max() <= 3 + 1e-5
    if name == "mixup":
        assert isinstance(labels, MixedTargets) and torch.equal(labels.y_a, y) and 0 <= labels.lam <= 1
    else:
        assert torch.equal(labels, y)


@pytest.mark.parametrize(
    "name, params",
    [
        ("affine", {"degrees": 0.0, "translate": 0.0, "scale": [1.0, 1.0], "shear": 0.0}),
        ("hsv", {"hue": 0.0, "saturation": 0.0, "value": 0.0}),
        ("color_jitter", {"brightness": 0.0, "contrast": 0.0, "saturation": 0.0, "hue": 0.0}),
        ("randaugment", {"n": 0}),
        ("randaugment", {"m": 0}),
        ("gaussian_noise", {"sigma": 0.0}),
        ("mixup", {"alpha": 0.0}),
    ],
)
def test_identity_at_zero_magnitude(name: str, params: dict) -> None:
    x, y = batch()
    out, labels = build(name, **params)(x, y, torch.Generator().manual_seed(0))
    assert torch.equal(out, x) and torch.equal(labels, y)


@pytest.mark.parametrize("name", [n for n in NAMES if n != "none"])
def test_same_seed_same_batch(name: str) -> None:
    x, y = batch()
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        outs.append(build(name)(x, y, torch.Generator().manual_seed(7))[0])
    assert torch.equal(outs[0], outs[1])
    torch.manual_seed(124)
    assert not torch.equal(outs[0], build(name)(x, y, torch.Generator().manual_seed(8))[0])


def test_hsv_formula_against_colorsys() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.random((2, 3, 4, 4)).astype(np.float32)
    dh, alpha, beta = np.array([40.0, -100.0]), np.array([1.3, 0.5]), np.array([0.7, 1.2])
    ours = hsv_shift(torch.as_tensor(rgb), torch.as_tensor(dh, dtype=torch.float32), torch.as_tensor(alpha, dtype=torch.float32), torch.as_tensor(beta, dtype=torch.float32)).numpy()
    for b in range(2):
        for i in range(4):
            for j in range(4):
                h, s, v = colorsys.rgb_to_hsv(*rgb[b, :, i, j])
                expected = colorsys.hsv_to_rgb((h + dh[b] / 360.0) % 1.0, min(1.0, s * alpha[b]), min(1.0, v * beta[b]))
                np.testing.assert_allclose(ours[b, :, i, j], expected, atol=2e-4)


@pytest.mark.parametrize(
    "cfg, message",
    [
        ({"name": "randaugment", "n": -1}, "augment.n: got -1; expected an integer in [0, 14]."),
        ({"name": "randaugment", "m": 30}, "augment.m: got 30; expected a number in [0, 30)."),
        ({"name": "affine", "degrees": 200.0}, "augment.degrees: got 200.0; expected a number in [0, 180]."),
    ],
)
def test_impossible_values_are_rejected(cfg: dict, message: str) -> None:
    with pytest.raises(ConfigError) as err:
        get_registry("augment").validate(cfg, "augment")
    assert str(err.value) == message


def test_image_policy_on_a_table_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"augment.name: 'randaugment' is an image policy and this dataset has no image column"):
        get_registry("augment").build({"name": "randaugment"}, "augment", image_shape=None, value_range=None)


@pytest.mark.slow
def test_only_training_batches_are_augmented() -> None:
    calls: list[int] = []

    def recorder(x, y, g):
        calls.append(x.shape[0])
        return x, y

    X = torch.randn(300, 4)
    y = (X[:, 0] > 0).long()
    model = torch.nn.Linear(4, 2)
    settings = TrainerSettings(batch_size=64, epochs=3, deterministic=False)
    loss = get_registry("loss").build({"name": "focal"}, "loss", class_counts=np.array([150, 150]), original_counts=np.array([150, 150]))
    train(model, loss, recorder, X, y, torch.randn(50, 4), np.zeros(50, int), settings, 0, 2)
    assert sum(calls) == 3 * 300 and max(calls) == 64  # every training row, in training batches only


@pytest.mark.slow
def test_mixup_trains_with_focal_loss() -> None:
    X = torch.randn(400, 4)
    y = (X[:, 0] > 0).long()
    model = torch.nn.Linear(4, 2)
    loss = get_registry("loss").build({"name": "focal", "gamma": 2.0}, "loss", class_counts=np.array([200, 200]), original_counts=np.array([200, 200]))
    settings = TrainerSettings(epochs=20, batch_size=64, lr=0.05, deterministic=False)
    history = train(model, loss, build("mixup", alpha=0.4), X, y, X[:100], y[:100].numpy(), settings, 0, 2)
    assert np.isfinite(history.epochs[-1]["train/loss"]) and max(row["val/macro_f1"] for row in history.epochs) > 0.8


@pytest.mark.slow
def test_preview_command_writes_a_grid(tmp_path) -> None:
    """The grid through the command's main (Hydra parses the same argv) in this process; the one-line
    error and its exit status from a real ``python -m runner.preview``."""
    import subprocess
    import sys

    from runner import preview
    from tests.conftest import ROOT, in_process

    args = ["dataset=digits", "dataset.as_image=true", "augment=randaugment", "augment.n=2", "augment.m=9", f"paths.outputs={tmp_path}"]
    code, out, err = in_process(preview.main, *args)
    assert code == 0, err
    png = next(tmp_path.glob("runs/*/*/augment_preview.png"))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and f"Preview: {png}" in out
    bad = subprocess.run([sys.executable, "-m", "runner.preview", "augment=randaugment", f"paths.outputs={tmp_path}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "Error: dataset: the preview needs an image dataset, e.g. dataset=digits dataset.as_image=true." in bad.stderr
