"""Fitting the preprocessing steps on a training split that stays in the Arrow cache, and the rows
the trainer draws batches from (runner/tables/streaming.py says what is fitted how, and why)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from sklearn.base import BaseEstimator
from sklearn.neighbors import NearestNeighbors

from components.errors import ConfigError
from components.neighbors import neighbors
from components.resamplers import strategy_by_id
from runner.tables.pipeline import Preprocessor
from runner.tables.streaming import INDEX_RESAMPLERS, StreamedTrain


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
    """``Preprocessor.fit_resample`` for a :class:`StreamedTrain`; ``transform`` is the fitted one's.

    The train split's ``budget`` (bytes, ``data.memory_budget``) bounds SMOTE's chunks."""

    def __init__(self, pre: Preprocessor) -> None:
        self.pre = pre

    def transform(self, X: np.ndarray) -> np.ndarray:
        return self.pre.transform(X)

    def tags(self) -> dict[str, str]:
        return {**self.pre.tags(), "data.scaler_fit": self.scaler_fit_}

    def fitted_state(self) -> dict[str, Any]:
        return self.pre.fitted_state()

    def fit_resample(self, train: StreamedTrain, y: np.ndarray, cache: Any = None) -> tuple[StreamedRows, np.ndarray, dict[str, float]]:
        """Fit the Preprocessor's Pipeline step by step (scaler streamed where it can be, the rest on
        the seeded sample), then resample; the resample cache is not used on this path."""
        pre, report = self.pre, {}
        t0 = time.perf_counter()
        encoded, y_sample = train.encode(train.sample_rows), y[train.sample_rows]
        pipe, sample = pre.pipeline(encoded.shape[1]), encoded
        pre.pipeline_ = pipe
        numeric = pre.roles_for(encoded.shape[1]).numeric_features
        self.scaler_fit_ = "sample"
        if not isinstance(pipe.named_steps["scaler"], str):  # an all-categorical table has no numeric step
            sample, _ = pipe.named_steps["outlier"].fit_resample(sample, y_sample)  # outlier=none on this path
            pipe.named_steps["scaler"].fit(sample, y_sample)  # ColumnTransformer: the scaler on the numeric columns
            scaler = pre.fitted("scaler")
            inner = scaler._make() if hasattr(scaler, "_make") else None
            if inner is not None and hasattr(inner, "partial_fit"):  # standard, minmax: every row, streamed
                for _, X in train.blocks("fit scaler"):
                    inner.partial_fit(X[:, numeric])
                scaler.inner_ = inner
                self.scaler_fit_ = "partial_fit"
            report.update(getattr(scaler, "report", dict)())
            if pre.reducer is not None:
                pipe.named_steps["reducer"].fit(pipe.named_steps["scaler"].transform(sample), y_sample)
                report.update(pre.fitted("reducer").report())
        pipe.named_steps["onehot"].fit(sample)
        t1 = time.perf_counter()
        index, synthetic, y_out = self._resample(train, y)
        resample = pipe.named_steps["resampler"]
        resample.report_, resample.tags_, resample._seconds = pre.resampler.report(), pre.resampler.tags(), time.perf_counter() - t1
        report.update(resample.report_)
        scaled = pre.transform(encoded)
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
        if name != "smote" or res.categorical_features:
            raise ConfigError(
                f"data.memory_budget: this table takes the streamed path, where resampler={name} on categorical columns "
                f"(SMOTE-NC) needs every training row in memory; raise data.memory_budget or use resampler=random_over."
            )
        strategy = strategy_by_id(res.sampling_strategy, res.class_names, "resampler")
        targets = res._targets(y, strategy)  # class id -> rows to add, from the full counts
        drawn = sorted(c for c, m in targets.items() if m > 0)
        index = np.arange(len(y), dtype=np.int64)
        chunk_rows = max(train.block_rows, train.budget // (width * 8 * 4))  # float64 temporaries: ~1/4 of the budget
        synthetic = np.empty((sum(int(targets[c]) for c in drawn), width), np.float32)  # filled in place: no concatenation copy
        start = 0
        for c in drawn:
            self._smote_class(train, y, c, int(targets[c]), chunk_rows, synthetic[start : start + int(targets[c])])
            start += int(targets[c])
        res.n_synthetic_ = len(synthetic)
        y_new = np.repeat(np.asarray(drawn, dtype=y.dtype), [int(targets[c]) for c in drawn])
        return index, synthetic, np.concatenate([y, y_new])

    def _smote_class(self, train: StreamedTrain, y: np.ndarray, c: int, n_new: int, chunk_rows: int, out: np.ndarray) -> None:
        """SMOTE's ``n_new`` rows for class ``c``, written into ``out``: imbalanced-learn on that class's
        rows plus one row of another class (imbalanced-learn wants two; SMOTE never reads it).

        imbalanced-learn draws with a fresh ``RandomState(seed)`` per class, so one call per class
        equals the in-memory call. Above ``chunk_rows`` new rows the call is split (its float64
        temporaries are ~3x the new rows): chunk i draws with seed + i, from neighbours searched once.
        """
        res = self.pre.resampler
        rows = np.flatnonzero(y == c)
        other = np.flatnonzero(y != c)[:1]
        rows = np.sort(np.concatenate([rows, other]))
        X_sub = self.pre.transform(train.encode(rows))
        n_class = len(rows) - len(other)
        chunks = max(1, -(-n_new // chunk_rows))
        saved = (res.sampling_strategy, res.k_neighbors, res.seed)
        done = 0
        try:
            if chunks > 1:  # one neighbour search, reused by every chunk
                k = res._guard(y[rows], {c: n_class + n_new}, dict(res.params))["k_neighbors"]
                nn = neighbors(k + 1, res.neighbors, res.device, n_class)
                X_class = X_sub[y[rows] == c]
                if isinstance(nn, int):
                    nn = NearestNeighbors(n_neighbors=k + 1)
                else:  # torch's distance blocks (256 MiB by default) within a quarter of the budget
                    nn.set_params(block_bytes=max(2**24, train.budget // 4))
                graph = nn.fit(X_class).kneighbors(X_class, return_distance=False)
                res.k_neighbors = FixedNeighbors(k + 1, graph)  # a dataclass field: params() reads it
            for i in range(chunks):
                m = n_new * (i + 1) // chunks - n_new * i // chunks
                res.sampling_strategy = {res.class_names[c]: n_class + m}
                res.seed = saved[2] + i
                Xr, yr = res.fit_resample(X_sub, y[rows])
                if not (len(Xr) == len(rows) + m and (yr[len(rows) :] == c).all()):
                    raise RuntimeError(f"SMOTE returned {len(Xr) - len(rows)} rows for class {c}; expected {m}")
                out[done : done + m] = Xr[len(rows) :]
                done += m
        finally:
            res.sampling_strategy, res.k_neighbors, res.seed = saved


class FixedNeighbors(BaseEstimator):
    """A neighbour search done once, answered again: imbalanced-learn refits (a clone of) its
    ``k_neighbors`` estimator on every call, and chunked SMOTE calls all search the same rows."""

    def __init__(self, n_neighbors: int = 6, graph: np.ndarray | None = None) -> None:
        self.n_neighbors = n_neighbors
        self.graph = graph

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> FixedNeighbors:
        if self.graph is None or len(X) != len(self.graph):
            raise ValueError("FixedNeighbors: fitted on other rows than its graph was searched on")
        self.n_samples_fit_ = len(X)
        return self

    def kneighbors(self, X: np.ndarray | None = None, n_neighbors: int | None = None, return_distance: bool = True) -> np.ndarray:
        if return_distance or (X is not None and len(X) != len(self.graph)):
            raise ValueError("FixedNeighbors answers only the search it holds (indices, the fitted rows)")
        return self.graph

    def kneighbors_graph(self, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("FixedNeighbors holds indices only")

def streamed_epoch(model, loss_fn, augment, source, y, sw, optimizer, generator, bs, penalty, epoch) -> float:  # noqa: ANN001
    """runner/fitting/training.py's ``_minibatch_epoch`` over rows read from ``source`` (runner/tables/streamed_fit.py) one block at a time.

    The same permutation from the same generator and the same batch boundaries as the resident
    loop: a block is a whole number of batches, so batch b holds the same rows in both loops.
    """
    import torch
    from tqdm.auto import tqdm

    from runner.fitting.training import _step

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
