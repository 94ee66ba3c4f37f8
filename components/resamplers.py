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
* categorical columns, by index (``categorical_features``, imbalanced-learn's parameter): the
  columns hold category codes (one-hot comes after resampling, runner/tables/pipeline.py). ``smote``
  runs imbalanced-learn's SMOTE-NC on mixed data and SMOTE-N on all-categorical data (tagged
  ``resample.method``); ``smotenc`` / ``smoten`` insist on their kind of data; ``random_over``
  (without shrinkage) and ``random_under`` only copy or drop whole rows, so codes survive. Every
  other resampler would interpolate codes or measure distances on them: it refuses categorical
  columns with a ConfigError naming them (``categorical_problem``);
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
RUNTIME = ("class_names", "categorical_features", "seed", "device")
Strategy = Literal["auto", "minority", "majority", "not minority", "not majority", "all"] | float | dict[str, int]
K = Annotated[int, Interval(1, None)]
OnSmall = Literal["error", "adapt"]
Backend = Literal["auto", "sklearn", "torch"]


@RESAMPLERS.register("none")
class NoResampling(KeepRows):
    """Train on the split as it is."""

    counter = "resample/synthetic_rows"
    categorical: ClassVar[str] = "rows"


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
    categorical_features: Sequence[int] = ()
    seed: int = 0
    device: str = "cpu"

    sampling_kind: ClassVar[str] = "over"  # over | under | clean
    k_params: ClassVar[tuple[str, ...]] = ("k_neighbors",)  # parameters that need k + 1 rows in a class
    # neighbour searches imbalanced-learn runs: over one class's rows ("class"), or over the whole split ("all")
    neighbor_scope: ClassVar[dict[str, str]] = {"k_neighbors": "class"}
    cost: ClassVar[Any] = None  # (n, d) -> estimated flops, for samplers that grow super-linearly (SVM-SMOTE)
    cheaper: ClassVar[str] = ""
    # categorical columns: "rows" (whole rows copied or dropped), "smote" (SMOTE-NC / SMOTE-N) or None (refused)
    categorical: ClassVar[Literal["rows", "smote"] | None] = None
    why_not_categorical: ClassVar[str] = "interpolates every feature"
    categorical_blockers: ClassVar[tuple[str, ...]] = ()  # parameters that, when set, make a "rows" sampler blend features

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
        problem = categorical_problem(self) if self.categorical_features else None
        if problem:  # before any work, in every subclass (deepsmote has its own _resample)
            raise ConfigError(f"resampler.name: {problem}; categorical columns at {list(self.categorical_features)}: {CATEGORICAL_OK}.")
        strategy = strategy_by_id(self.sampling_strategy, self.class_names, "resampler")
        params = dict(self.params)
        if type(self).cost is not None:  # before any work: estimated seconds from n and d (components/cost.py)
            guard("resampler", self.name, X.shape[0], X.shape[1], type(self).cost(*X.shape), params.pop("max_cost_s", None), self.cheaper)
        params = self._guard(y, strategy, params)
        self.switched_to_ = ""
        self.counts_before_ = np.bincount(y, minlength=len(self.class_names))
        Xr, yr = self._resample(X, y, params, strategy)
        self.counts_after_ = np.bincount(yr, minlength=len(self.class_names))
        self.n_synthetic_ = int(max(0, len(yr) - len(y))) if self.sampling_kind == "over" else 0
        self.n_removed_ = int(max(0, len(y) - len(yr)))
        self._seconds = time.perf_counter() - t0  # not fitted state: timing differs run to run
        return Xr.astype(X.dtype, copy=False), yr.astype(y.dtype, copy=False)

    def _resample(self, X: np.ndarray, y: np.ndarray, params: dict[str, Any], strategy: Any) -> tuple[np.ndarray, np.ndarray]:
        if self.categorical_features and self.categorical == "smote":
            return self._smote_categorical(X, y, params, strategy)
        sampler = self._sampler(self._neighbor_objects(params, y, strategy), strategy)
        return self._run(sampler, X, y)

    def _run(self, sampler: Any, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        try:
            return sampler.fit_resample(X, y)
        except ValueError as exc:
            raise ConfigError(f"resampler ({self.name}): {exc}") from exc

    def _smote_categorical(self, X: np.ndarray, y: np.ndarray, params: dict[str, Any], strategy: Any) -> tuple[np.ndarray, np.ndarray]:
        """imbalanced-learn's own choice: SMOTE-NC for mixed data, SMOTE-N when every column is categorical."""
        from imblearn.over_sampling import SMOTEN, SMOTENC

        k = params["k_neighbors"]  # an int: SMOTE-NC / SMOTE-N search a sparse one-hot space (scikit-learn's neighbours)
        cat = [int(i) for i in self.categorical_features]
        if len(cat) == X.shape[1]:
            self.switched_to_ = "smoten"
            sampler = SMOTEN(sampling_strategy=strategy, random_state=self.seed, k_neighbors=k)
        else:
            self.switched_to_ = "smotenc"
            sampler = SMOTENC(cat, sampling_strategy=strategy, random_state=self.seed, k_neighbors=k)
        return self._run(sampler, X, y)

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
        if getattr(self, "switched_to_", None) and self.switched_to_ != self.name:
            out["resample.method"] = self.switched_to_
        return out


def categorical_problem(step: Any) -> str | None:
    """Why ``step`` cannot keep categorical columns categorical, or None when it can."""
    name = getattr(step, "registered_name", type(step).__name__)
    if getattr(step, "categorical", None) is None:
        return f"'{name}' {getattr(step, 'why_not_categorical', 'does not declare how it treats categorical columns')}"
    blocked = [p for p in getattr(step, "categorical_blockers", ()) if getattr(step, "params", {}).get(p) is not None]
    if blocked:
        return f"'{name}' with {blocked[0]}={step.params[blocked[0]]} adds noise to every feature"
    return None


CATEGORICAL_OK = "use resampler=smote (SMOTE-NC / SMOTE-N), smotenc, smoten, random_over (no shrinkage), random_under or none"


@RESAMPLERS.register("smotenc", runtime=RUNTIME)
@dataclass(**CONTRACT)
class SmoteNC(ImblearnResampler):
    """SMOTE for mixed numeric + categorical features (categories by neighbour vote); the data must be of that kind."""

    k_neighbors: K = 5
    nominal_only: ClassVar[bool] = False
    categorical: ClassVar[str] = "smote"

    def _resample(self, X: np.ndarray, y: np.ndarray, params: dict[str, Any], strategy: Any) -> tuple[np.ndarray, np.ndarray]:
        n_numeric = X.shape[1] - len(self.categorical_features)
        if not self.categorical_features:
            raise ConfigError(
                f"resampler.name: '{self.name}' needs categorical (string) feature columns; this dataset has none. Use resampler=smote."
            )
        if self.nominal_only and n_numeric:
            raise ConfigError(
                f"resampler.name: 'smoten' needs all-categorical features; {n_numeric} numeric column(s) present. Use resampler=smotenc."
            )
        if not self.nominal_only and not n_numeric:
            raise ConfigError("resampler.name: 'smotenc' needs numeric columns too; every feature is categorical. Use resampler=smoten.")
        return self._smote_categorical(X, y, params, strategy)


@RESAMPLERS.register("smoten", runtime=RUNTIME)
@dataclass(**CONTRACT)
class SmoteN(SmoteNC):
    """SMOTE for all-categorical features (value difference metric)."""

    nominal_only: ClassVar[bool] = True
