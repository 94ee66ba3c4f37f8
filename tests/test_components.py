"""Every registered component constructs and runs on tiny data (timm-style, parametrized over the registry)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import components
from components import get_registry
from components.augment import MixedTargets

components.load_builtin()
RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 64)).astype(np.float32)
Y = np.r_[np.zeros(30, int), np.ones(6, int), np.full(4, 2)]
COUNTS = np.bincount(Y)


@pytest.mark.parametrize("name", get_registry("model").names())
@pytest.mark.parametrize("image_shape", [None, (1, 8, 8)])
def test_models_map_rows_to_logits_and_train(name: str, image_shape) -> None:
    if name == "cnn" and image_shape is None:
        pytest.skip("cnn needs an image dataset (its error is pinned in test_cli)")
    model = get_registry("model").build({"name": name}, "model", in_features=64, num_classes=3, image_shape=image_shape)
    xb = torch.as_tensor(X)
    out = model(xb)
    assert out.shape == (40, 3) and out.dtype == torch.float32
    loss = torch.nn.functional.cross_entropy(out, torch.as_tensor(Y))
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", get_registry("loss").names())
def test_losses_are_finite_scalars_with_gradients(name: str) -> None:
    loss = get_registry("loss").build({"name": name}, "loss", class_counts=COUNTS, original_counts=COUNTS)
    logits = torch.randn(40, 3, requires_grad=True)
    value = loss(logits, torch.as_tensor(Y))
    value.backward()
    assert value.ndim == 0 and torch.isfinite(value) and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("name", get_registry("outlier").names())
def test_outlier_steps_return_rows_and_labels(name: str) -> None:
    Xr, yr = get_registry("outlier").build({"name": name}, "outlier", class_names=["a", "b", "c"], seed=0).fit_resample(X, Y)
    assert Xr.shape[1] == X.shape[1] and len(Xr) == len(yr)


def mixed_data(name: str) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Numeric rows, plus a category-code column for the categorical resamplers (all codes for smoten)."""
    rng = np.random.default_rng(1)
    y = np.r_[np.zeros(60, int), np.ones(12, int), np.full(10, 2)]
    codes = rng.integers(0, 3, len(y)).astype(np.float32)
    if name == "smoten":
        return np.c_[codes, rng.integers(0, 2, len(y)).astype(np.float32)], y, [0, 1]
    numeric = rng.normal(size=(len(y), 4)).astype(np.float32) + y[:, None]
    if name == "smotenc":
        return np.c_[codes, numeric], y, [0]
    return numeric, y, []


@pytest.mark.parametrize("name", get_registry("resampler").names())
def test_resamplers_return_rows_labels_and_report(name: str) -> None:
    if name == "deepsmote":
        pytest.skip("trains a network: covered in test_resamplers.py")
    Xm, y, categorical = mixed_data(name)
    step = get_registry("resampler").build({"name": name}, "resampler", class_names=["a", "b", "c"], categorical_features=categorical, seed=0, device="cpu")
    Xr, yr = step.fit_resample(Xm, y)
    assert Xr.shape[1] == Xm.shape[1] and len(Xr) == len(yr) and Xr.dtype == Xm.dtype and np.isfinite(Xr).all()
    assert set(np.unique(yr)) <= {0, 1, 2}
    report = step.report()
    assert report["resample/synthetic_rows"] == (max(0, len(yr) - len(y)) if getattr(step, "sampling_kind", "over") == "over" else 0)
    for j in categorical:  # categories survive as valid codes
        assert set(np.unique(Xr[:, j])) <= set(np.unique(Xm[:, j]))


@pytest.mark.parametrize("name", get_registry("augment").names())
def test_augment_preserves_shape_dtype_and_labels(name: str) -> None:
    policy = get_registry("augment").build({"name": name}, "augment", image_shape=(1, 8, 8))
    xb, yb = torch.as_tensor(X), torch.as_tensor(Y)
    xa, ya = policy(xb, yb, torch.Generator().manual_seed(0))
    kept = ya.y_a if isinstance(ya, MixedTargets) else ya  # mixup pairs each label with a partner's
    assert xa.shape == xb.shape and xa.dtype == xb.dtype and torch.equal(kept, yb)


@pytest.mark.parametrize("name", get_registry("dataset").names())
def test_datasets_have_classlabel_and_features(name: str, tmp_path) -> None:
    cfg = {"name": name}
    if name == "hf":
        path = tmp_path / "d.csv"
        path.write_text("a,b,label\n" + "\n".join(f"{i},{i % 3},{'xy'[i % 2]}" for i in range(20)))
        cfg.update(path="csv", data_files=str(path))
    loaded = get_registry("dataset").build(cfg, "dataset")
    assert loaded.features and len(loaded.class_names) >= 2 and loaded.splits["train"].num_rows > 0
