"""Class-imbalance resamplers (lecture §3), applied to the training split only.

Like imbalanced-learn's Pipeline, the runner calls ``fit_resample`` on the fit path alone:
validation and test keep their true class distribution. Every method except ``deepsmote``
(components/deepsmote.py) wraps imbalanced-learn (one class each in components/resamplers_imblearn.py;
SMOTE-NC / SMOTE-N here). This module holds their shared base, which adds:

* ``sampling_strategy`` in class *names*: ``auto``/``minority``/..., a float ratio (binary), or
  per-class target counts such as the lecture's ``{minority: 600}``;
* a small-class guard: each class that k-neighbour synthesis draws from needs at least
  k + 1 rows; otherwise a clear error, or with ``on_small_class: adapt`` a lowered k, a
  warning, and a tag on the run;
* categorical columns: SMOTE-NC / SMOTE-N on the original categories (one-hot groups are
  collapsed to codes, resampled, and expanded again); ``smote`` switches to ``smotenc``
  automatically when the data has categorical columns;
* the neighbour backend: scikit-learn's, or the torch one (components/neighbors.py) on CUDA.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Annotated, Any, ClassVar, Literal

import numpy as np

from components.base import CONTRACT, KeepRows, TrainOnlySampler
from components.cost import guard
from components.errors import ConfigError
from components.neighbors import neighbors
from components.registry import Interval, get_registry

RESAMPLERS = get_registry("resampler")
RUNTIME = ("class_names", "categorical_groups", "seed", "device")
Strategy = Literal["auto", "minority", "majority", "not minority", "not majority", "all"] | float | dict[str, int]
K = Annotated[int, Interval(1, None)]
OnSmall = Literal["error", "adapt"]
Backend = Literal["auto", "sklearn", "torch"]


@RESAMPLERS.register("none")
class NoResampling(KeepRows):
    """Train on the split as it is."""

    counter = "resample/synthetic_rows"


def strategy_by_id(strategy: Strategy, class_names: Sequence[str], key: str) -> Any:
    """Translate class names in a per-class target mapping to class ids."""
    if not isinstance(strategy, Mapping):
        return strategy
    out = {}
    for name, count in strategy.items():
        if str(name) not in class_names:
            raise ConfigError(
                f"{key}.sampling_strategy: unknown class '{name}'. Classes: {', '.join(class_names)}."
            )
        out[list(class_names).index(str(name))] = int(count)
    return out


@dataclass(**CONTRACT)
class ImblearnResampler(TrainOnlySampler):
    """Shared machinery: strategy translation, the small-class guard, timing and reporting.

    Subclasses are ``@dataclass(**CONTRACT)`` classes that add their own fields (the
    imbalanced-learn parameters) and build the sampler in ``_sampler``.
    """

    sampling_strategy: Strategy = "auto"
    on_small_class: OnSmall = "error"
    neighbors: Backend = "auto"
    class_names: Sequence[str] = ()
    categorical_groups: Sequence[Sequence[int]] = ()
    seed: int = 0
    device: str = "cpu"

    sampling_kind: ClassVar[str] = "over"  # over | under | clean
    k_params: ClassVar[tuple[str, ...]] = ("k_neighbors",)  # parameters that need k + 1 rows in a class
    # neighbour searches imbalanced-learn runs: over one class's rows ("class"), or over the whole split ("all")
    neighbor_scope: ClassVar[dict[str, str]] = {"k_neighbors": "class"}
    cost: ClassVar[Any] = None  # (n, d) -> estimated flops, for samplers that grow super-linearly (SVM-SMOTE)
    cheaper: ClassVar[str] = ""

    @property
    def name(self) -> str:
        return getattr(self, "registered_name", type(self).__name__)

    @property
    def params(self) -> dict[str, Any]:
        """This resampler's own parameters (the fields its class adds to the shared ones)."""
        shared = {f.name for f in fields(ImblearnResampler)}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in shared}

    def _sampler(self, params: dict[str, Any], strategy: Any) -> Any:
        raise NotImplementedError

    def _targets(self, y: np.ndarray, strategy: Any) -> dict[int, int]:
        """class id -> rows to synthesise (over-samplers), via imbalanced-learn's own parser."""
        from imblearn.utils import check_sampling_strategy

        sampling_type = "over-sampling" if self.sampling_kind == "over" else "under-sampling" if self.sampling_kind == "under" else "clean-sampling"
        try:
            return dict(check_sampling_strategy(strategy, y, sampling_type))
        except ValueError as exc:
            raise ConfigError(f"resampler.sampling_strategy: {exc}") from exc

    def _guard(self, y: np.ndarray, strategy: Any, params: dict[str, Any]) -> dict[str, Any]:
        """Each class synthesised from needs >= k + 1 rows: error clearly, or adapt k."""
        counts = np.bincount(y, minlength=len(self.class_names))
        if self.sampling_kind == "over":
            drawn = [c for c, n in self._targets(y, strategy).items() if n > 0]
        else:
            drawn = [int(np.argmin(np.where(counts > 0, counts, np.iinfo(np.int64).max)))]
        self.adapted_: dict[str, int] = {}
        for param in self.k_params:
            k = params.get(param)
            if not isinstance(k, int):
                continue
            for c in drawn:
                if counts[c] >= k + 1:
                    continue
                cname = self.class_names[c] if c < len(self.class_names) else str(c)
                if self.on_small_class == "error" or counts[c] < 2:
                    raise ConfigError(
                        f"resampler.{param}: class '{cname}' has {counts[c]} training rows; {self.name} needs at "
                        f"least {param} + 1 = {k + 1}. Lower resampler.{param}, or set resampler.on_small_class=adapt."
                    )
                new_k = int(counts[c] - 1)
                warnings.warn(f"resampler.{param}: lowered from {k} to {new_k} (class '{cname}' has {counts[c]} rows)", stacklevel=2)
                params[param] = k = new_k
                self.adapted_[param] = new_k
        return params

    def fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        t0 = time.perf_counter()
        strategy = strategy_by_id(self.sampling_strategy, self.class_names, "resampler")
        params = dict(self.params)
        if type(self).cost is not None:  # before any work: estimated seconds from n and d (components/cost.py)
            guard("resampler", self.name, X.shape[0], X.shape[1], type(self).cost(*X.shape), params.pop("max_cost_s", None), self.cheaper)
        params = self._guard(y, strategy, params)
        self.counts_before_ = np.bincount(y, minlength=len(self.class_names))
        Xr, yr = self._resample(X, y, params, strategy)
        self.counts_after_ = np.bincount(yr, minlength=len(self.class_names))
        self.n_synthetic_ = int(max(0, len(yr) - len(y))) if self.sampling_kind == "over" else 0
        self.n_removed_ = int(max(0, len(y) - len(yr)))
        self._seconds = time.perf_counter() - t0  # not fitted state: timing differs run to run
        return Xr.astype(X.dtype, copy=False), yr.astype(y.dtype, copy=False)

    def _resample(self, X: np.ndarray, y: np.ndarray, params: dict[str, Any], strategy: Any) -> tuple[np.ndarray, np.ndarray]:
        if self.name == "smote" and self.categorical_groups:  # SMOTE on one-hot columns would blend categories
            self.switched_to_ = "smotenc"
            return categorical_resample(X, y, [list(g) for g in self.categorical_groups], params["k_neighbors"], strategy, self.seed, False, "smotenc")
        sampler = self._sampler(self._neighbor_objects(params, y, strategy), strategy)
        try:
            return sampler.fit_resample(X, y)
        except ValueError as exc:
            raise ConfigError(f"resampler ({self.name}): {exc}") from exc

    def _neighbor_objects(self, params: dict[str, Any], y: np.ndarray, strategy: Any) -> dict[str, Any]:
        """Neighbour ints -> the torch estimator where that backend is chosen (with k + 1: self included)."""
        out = dict(params)
        if self.sampling_kind != "over":
            return out
        counts = np.bincount(y)
        drawn = [c for c, n in self._targets(y, strategy).items() if n > 0]
        rows = {"class": int(max((counts[c] for c in drawn), default=0)), "all": len(y)}
        for param, scope in self.neighbor_scope.items():
            if isinstance(out.get(param), int):
                nn = neighbors(out[param] + 1, self.neighbors, self.device, rows[scope])
                out[param] = out[param] if isinstance(nn, int) else nn
        return out

    def report(self) -> dict[str, float]:
        out = {
            "resample/synthetic_rows": float(getattr(self, "n_synthetic_", 0)),
            "resample/removed_rows": float(getattr(self, "n_removed_", 0)),
            "time/resampler_s": float(getattr(self, "_seconds", 0.0)),
        }
        out.update({f"resample/{k}_used": float(v) for k, v in getattr(self, "adapted_", {}).items()})
        return out

    def tags(self) -> dict[str, str]:
        adapted = getattr(self, "adapted_", {})
        out = {"resample.adapted": ", ".join(f"{k}={v}" for k, v in adapted.items())} if adapted else {}
        if getattr(self, "switched_to_", None):
            out["resample.method"] = self.switched_to_
        return out


def categorical_resample(
    X: np.ndarray, y: np.ndarray, groups: list[list[int]], k: int, strategy: Any, seed: int, nominal_only: bool, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """SMOTE-NC / SMOTE-N on the original categories: one-hot groups -> codes -> resample -> one-hot."""
    from imblearn.over_sampling import SMOTEN, SMOTENC

    if not groups:
        raise ConfigError(
            f"resampler.name: '{name}' needs categorical (string) feature columns; this dataset has none. Use resampler=smote."
        )
    grouped = {i for g in groups for i in g}
    numeric = [i for i in range(X.shape[1]) if i not in grouped]
    if nominal_only and numeric:
        raise ConfigError(
            f"resampler.name: 'smoten' needs all-categorical features; {len(numeric)} numeric column(s) present. Use resampler=smotenc."
        )
    codes = np.stack([np.where(X[:, g].max(1) > 0, X[:, g].argmax(1), len(g)) for g in groups], axis=1)
    mixed = np.concatenate([X[:, numeric], codes.astype(X.dtype)], axis=1)
    cat_idx = list(range(len(numeric), mixed.shape[1]))
    if nominal_only:
        sampler = SMOTEN(sampling_strategy=strategy, random_state=seed, k_neighbors=k)
    else:
        sampler = SMOTENC(cat_idx, sampling_strategy=strategy, random_state=seed, k_neighbors=k)
    Xm, yr = sampler.fit_resample(mixed, y)
    out = np.zeros((len(yr), X.shape[1]), dtype=X.dtype)
    out[:, numeric] = Xm[:, : len(numeric)]
    for j, g in enumerate(groups):
        code = Xm[:, len(numeric) + j].astype(int)
        hit = code < len(g)
        out[np.flatnonzero(hit), np.asarray(g)[code[hit]]] = 1.0
    return out, yr


@RESAMPLERS.register("smotenc", runtime=RUNTIME)
@dataclass(**CONTRACT)
class SmoteNC(ImblearnResampler):
    """SMOTE for mixed numeric + categorical features (categories by neighbour vote)."""

    k_neighbors: K = 5
    nominal_only: ClassVar[bool] = False

    def _resample(self, X: np.ndarray, y: np.ndarray, params: dict[str, Any], strategy: Any) -> tuple[np.ndarray, np.ndarray]:
        groups = [list(g) for g in self.categorical_groups]
        return categorical_resample(X, y, groups, params["k_neighbors"], strategy, self.seed, self.nominal_only, self.name)


@RESAMPLERS.register("smoten", runtime=RUNTIME)
@dataclass(**CONTRACT)
class SmoteN(SmoteNC):
    """SMOTE for all-categorical features (value difference metric)."""

    nominal_only: ClassVar[bool] = True
