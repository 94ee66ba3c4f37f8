"""Fitting the preprocessing steps on a training split that stays in the Arrow cache, and the rows
the trainer draws batches from (runner/streaming.py says what is fitted how, and why)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from components.errors import ConfigError
from components.resamplers import strategy_by_id
from runner.pipeline import Preprocessor
from runner.streaming import INDEX_RESAMPLERS, StreamedTrain


@dataclass
class StreamedRows:
    """The resampled training rows: positions ``< len(index)`` are training-split rows ``index[p]``
    (encoded and scaled on demand), the rest are ``synthetic`` rows (already scaled, in RAM)."""

    train: StreamedTrain
    pre: Preprocessor
    index: np.ndarray
    synthetic: np.ndarray
    sample_range: tuple[float, float]

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.index) + len(self.synthetic), self.synthetic.shape[1])

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def block_rows(self) -> int:
        return self.train.block_rows

    @property
    def progress(self) -> bool:
        return self.train.progress

    def rows(self, positions: np.ndarray) -> np.ndarray:
        """Float32 rows at ``positions``, in that order; split rows are read in file order."""
        positions = np.asarray(positions, dtype=np.int64)
        out = np.empty((len(positions), self.shape[1]), dtype=np.float32)
        real = positions < len(self.index)
        src = self.index[positions[real]]
        order = np.argsort(src, kind="stable")  # file order: sequential reads of the mapped pages
        block = np.empty((len(src), self.shape[1]), dtype=np.float32)
        if len(src):
            block[order] = self.pre.transform(self.train.encode(src[order]))
        out[real] = block
        out[~real] = self.synthetic[positions[~real] - len(self.index)]
        return out

    def min(self) -> float:  # the augment's value range: from the seeded sample and the synthetic rows
        return self.sample_range[0]

    def max(self) -> float:
        return self.sample_range[1]


class StreamedPreprocessor:
    """``Preprocessor.fit_resample`` for a :class:`StreamedTrain`; ``transform`` is the fitted one's."""

    def __init__(self, pre: Preprocessor) -> None:
        self.pre = pre

    def transform(self, X: np.ndarray) -> np.ndarray:
        return self.pre.transform(X)

    def tags(self) -> dict[str, str]:
        return {**self.pre.tags(), "data.scaler_fit": self.scaler_fit_}

    def fitted_state(self) -> dict[str, Any]:
        return self.pre.fitted_state()

    def fit_resample(self, train: StreamedTrain, y: np.ndarray, cache: Any = None) -> tuple[StreamedRows, np.ndarray, dict[str, float]]:
        """Fit scaler (and reducer), resample; the resample cache is not used on this path."""
        pre, report = self.pre, {}
        t0 = time.perf_counter()
        sample = train.encode(train.sample_rows)
        n = sample.shape[1] if pre.n_numeric is None else pre.n_numeric
        inner = pre.scaler._make() if hasattr(pre.scaler, "_make") else None
        if inner is not None and hasattr(inner, "partial_fit"):  # standard, minmax: every row, streamed
            for _, X in train.blocks("fit scaler"):
                inner.partial_fit(X[:, :n])
            pre.scaler.inner_ = inner
            self.scaler_fit_ = "partial_fit"
        else:
            pre.scaler.fit(sample[:, :n], y[train.sample_rows])
            self.scaler_fit_ = "sample"
        report.update(getattr(pre.scaler, "report", dict)())
        if pre.reducer is not None:
            pre.reducer.fit(pre.scaler.transform(sample[:, :n]), y[train.sample_rows])
            report.update(pre.reducer.report())
            pre._shift_categorical_groups(pre.reducer.n_features_out_ - n)
        pre._resampler_tags = {}
        t1 = time.perf_counter()
        index, synthetic, y_out = self._resample(train, y)
        report.update(pre.resampler.report())
        pre._resampler_tags = pre.resampler.tags()
        scaled = pre.transform(sample)
        lo, hi = float(scaled.min(initial=np.inf)), float(scaled.max(initial=-np.inf))
        if len(synthetic):
            lo, hi = min(lo, float(synthetic.min())), max(hi, float(synthetic.max()))
        report["time/preprocess_s"] = t1 - t0
        report["time/resample_s"] = time.perf_counter() - t1
        return StreamedRows(train, pre, index, synthetic, (lo, hi)), y_out, report

    def _resample(self, train: StreamedTrain, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        res, name = self.pre.resampler, getattr(self.pre.resampler, "registered_name", "none")
        width = self.pre.transform(train.encode(train.sample_rows[:1])).shape[1]
        if name in INDEX_RESAMPLERS:  # they never read feature values: resample the row indices
            Xi, yr = res.fit_resample(np.arange(len(y), dtype=np.float64)[:, None], y)
            return Xi[:, 0].astype(np.int64), np.zeros((0, width), np.float32), yr
        if name != "smote" or res.categorical_groups:
            raise ConfigError(f"resampler={name}: not available on the streamed path (data.memory_budget); see runner/streaming.py.")
        strategy = strategy_by_id(res.sampling_strategy, res.class_names, "resampler")
        targets = res._targets(y, strategy)  # class id -> rows to add, from the full counts
        drawn = sorted(c for c, m in targets.items() if m > 0)
        counts = np.bincount(y, minlength=len(res.class_names))
        index = np.arange(len(y), dtype=np.int64)
        if not drawn:
            return index, np.zeros((0, width), np.float32), y
        rows = np.flatnonzero(np.isin(y, drawn))
        others = np.flatnonzero(~np.isin(y, drawn))
        if len(others):  # imbalanced-learn wants two classes; SMOTE never reads this row
            rows = np.sort(np.append(rows, others[0]))
        X_sub = self.pre.transform(train.encode(rows))
        saved = res.sampling_strategy
        res.sampling_strategy = {res.class_names[c]: int(counts[c] + targets[c]) for c in drawn}
        try:
            Xr, yr = res.fit_resample(X_sub, y[rows])
        finally:
            res.sampling_strategy = saved
        synthetic = np.ascontiguousarray(Xr[len(rows) :], dtype=np.float32)
        return index, synthetic, np.concatenate([y, yr[len(rows) :]])


def streamed_epoch(model, loss_fn, augment, source, y, sw, optimizer, generator, bs, penalty, epoch) -> float:  # noqa: ANN001
    """runner/training.py's ``_minibatch_epoch`` over rows read from ``source`` (runner/streamed_fit.py) one block at a time.

    The same permutation from the same generator and the same batch boundaries as the resident
    loop: a block is a whole number of batches, so batch b holds the same rows in both loops.
    """
    import torch
    from tqdm.auto import tqdm

    from runner.training import _step

    n = source.shape[0]
    perm = torch.randperm(n, generator=generator, device=y.device)
    total = torch.zeros((), device=y.device)
    seen = 0
    block = max(bs, source.block_rows // bs * bs)
    with tqdm(total=n, desc=f"epoch {epoch}", unit="rows", unit_scale=True, leave=False, dynamic_ncols=True, disable=not source.progress) as bar:
        for b0 in range(0, n, block):
            pidx = perm[b0 : b0 + block]
            Xb = torch.from_numpy(source.rows(pidx.cpu().numpy())).to(y.device)
            for s in range(0, pidx.numel(), bs):
                idx = pidx[s : s + bs]
                if idx.numel() == 1 and n > 1:
                    continue
                loss = _step(model, loss_fn, augment, Xb[s : s + bs], y[idx], None if sw is None else sw[idx], optimizer, generator, penalty)
                total += loss.detach() * idx.numel()
                seen += idx.numel()
            bar.update(pidx.numel())
    return float(total.item() / max(seen, 1))
