"""Class-imbalance resamplers (lecture §3), applied to the training split only.

Like imbalanced-learn's Pipeline, the runner calls ``fit_resample`` on the fit path alone:
validation and test keep their true class distribution. Every method except ``deepsmote``
(components/deepsmote.py) wraps imbalanced-learn. What is added here:

* ``sampling_strategy`` in class *names*: ``auto``/``minority``/..., a float ratio (binary), or
  per-class target counts such as the lecture's ``{minority: 600}``;
* a small-class guard: each class that k-neighbour synthesis draws from needs at least
  k + 1 rows; otherwise a clear error, or with ``on_small_class: adapt`` a lowered k, a
  warning, and a tag on the run;
* categorical columns, by index (``categorical_features``, imbalanced-learn's parameter): the
  columns hold category codes (one-hot comes after resampling, runner/pipeline.py). ``smote``
  runs imbalanced-learn's SMOTE-NC on mixed data and SMOTE-N on all-categorical data (tagged
  ``resample.method``); ``smotenc`` / ``smoten`` insist on their kind of data; ``random_over``
  (without shrinkage) and ``random_under`` only copy or drop whole rows, so codes survive. Every
  other resampler would interpolate codes or measure distances on them: it refuses categorical
  columns with a ConfigError naming them (``categorical_problem``);
* the neighbour backend: scikit-learn's, or the torch one (components/neighbors.py) on CUDA.
"""
from __future__ import annotations

import time
import typing
import warnings
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

import numpy as np

from components.base import TrainOnlyResampler
from components.cost import MaxCost, guard
from components.errors import ConfigError
from components.neighbors import neighbors
from components.registry import Interval, get_registry

RESAMPLERS = get_registry("resampler")
RUNTIME = ("class_names", "categorical_features", "seed", "device")
Strategy = Literal["auto", "minority", "majority", "not minority", "not majority", "all"] | float | dict[str, int]
K = Annotated[int, Interval(1, None)]
OnSmall = Literal["error", "adapt"]
Backend = Literal["auto", "sklearn", "torch"]


@RESAMPLERS.register("none", runtime=RUNTIME)
class NoResampling(TrainOnlyResampler):
    """Train on the split as it is."""

    categorical = "rows"

    def __init__(self, **runtime: Any) -> None:
        pass

    def fit_resample(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        self.n_synthetic_ = 0
        return X, y

    def report(self) -> dict[str, float]:
        return {"resample/synthetic_rows": float(getattr(self, "n_synthetic_", 0))}


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


class ImblearnResampler(TrainOnlyResampler):
    """Shared machinery: strategy translation, the small-class guard, timing and reporting."""

    kind: Literal["over", "under", "clean"] = "over"
    k_params: tuple[str, ...] = ("k_neighbors",)  # parameters that need k + 1 rows in a class
    # neighbour searches imbalanced-learn runs: over one class's rows, or over the whole split
    neighbor_scope: dict[str, str] = {"k_neighbors": "class"}
    cost: Any = None  # (n, d) -> estimated flops, for samplers that grow super-linearly (SVM-SMOTE)
    cheaper: str = ""
    # categorical columns: "rows" (whole rows copied or dropped), "smote" (SMOTE-NC / SMOTE-N) or None (refused)
    categorical: Literal["rows", "smote"] | None = None
    why_not_categorical = "interpolates every feature"
    categorical_blockers: tuple[str, ...] = ()  # parameters that, when set, make a "rows" sampler blend features

    def __init__(
        self,
        *,
        sampling_strategy: Strategy = "auto",
        on_small_class: OnSmall = "error",
        neighbors: Backend = "auto",
        class_names: Sequence[str] = (),
        categorical_features: Sequence[int] = (),
        seed: int = 0,
        device: str = "cpu",
        **params: Any,
    ) -> None:
        self.sampling_strategy = sampling_strategy
        self.on_small_class = on_small_class
        self.neighbors = neighbors
        self.class_names = list(class_names)
        self.categorical_features = [int(i) for i in categorical_features]
        self.seed = seed
        self.device = device
        self.params = params

    @property
    def name(self) -> str:
        return getattr(self, "registered_name", type(self).__name__)

    def _sampler(self, params: dict[str, Any], strategy: Any) -> Any:
        raise NotImplementedError

    def _targets(self, y: np.ndarray, strategy: Any) -> dict[int, int]:
        """class id -> rows to synthesise (over-samplers), via imbalanced-learn's own parser."""
        from imblearn.utils import check_sampling_strategy

        sampling_type = "over-sampling" if self.kind == "over" else "under-sampling" if self.kind == "under" else "clean-sampling"
        try:
            return dict(check_sampling_strategy(strategy, y, sampling_type))
        except ValueError as exc:
            raise ConfigError(f"resampler.sampling_strategy: {exc}") from exc

    def _guard(self, y: np.ndarray, strategy: Any, params: dict[str, Any]) -> dict[str, Any]:
        """Each class synthesised from needs >= k + 1 rows: error clearly, or adapt k."""
        counts = np.bincount(y, minlength=len(self.class_names))
        if self.kind == "over":
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
            raise ConfigError(f"resampler.name: {problem}; categorical columns at {self.categorical_features}: {CATEGORICAL_OK}.")
        strategy = strategy_by_id(self.sampling_strategy, self.class_names, "resampler")
        params = dict(self.params)
        if self.cost is not None:  # before any work: estimated seconds from n and d (components/cost.py)
            guard("resampler", self.name, X.shape[0], X.shape[1], self.cost(*X.shape), params.pop("max_cost_s", None), self.cheaper)
        params = self._guard(y, strategy, params)
        self.switched_to_ = ""
        self.counts_before_ = np.bincount(y, minlength=len(self.class_names))
        Xr, yr = self._resample(X, y, params, strategy)
        self.counts_after_ = np.bincount(yr, minlength=len(self.class_names))
        self.n_synthetic_ = int(max(0, len(yr) - len(y))) if self.kind == "over" else 0
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
        if len(self.categorical_features) == X.shape[1]:
            self.switched_to_ = "smoten"
            sampler = SMOTEN(sampling_strategy=strategy, random_state=self.seed, k_neighbors=k)
        else:
            self.switched_to_ = "smotenc"
            sampler = SMOTENC(self.categorical_features, sampling_strategy=strategy, random_state=self.seed, k_neighbors=k)
        return self._run(sampler, X, y)

    def _neighbor_objects(self, params: dict[str, Any], y: np.ndarray, strategy: Any) -> dict[str, Any]:
        """Neighbour ints -> the torch estimator where that backend is chosen (with k + 1: self included)."""
        out = dict(params)
        if self.kind != "over":
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


def _make_class(name: str, base: type, doc: str, params: dict[str, tuple[Any, Any]], **attrs: Any) -> type:
    """A subclass of ``base`` whose ``__init__`` signature lists the shared and ``params`` keys,
    so the registry validates every key, type and bound of this resampler before anything runs."""
    import inspect

    defaults = {k: v[1] for k, v in params.items()}

    def __init__(self: ImblearnResampler, **kwargs: Any) -> None:  # noqa: N807
        own = {k: kwargs.pop(k, d) for k, d in defaults.items()}
        ImblearnResampler.__init__(self, **kwargs, **own)

    shared = [p for n, p in inspect.signature(ImblearnResampler.__init__).parameters.items() if n not in ("self", "params")]
    own_params = [inspect.Parameter(k, inspect.Parameter.KEYWORD_ONLY, default=v[1], annotation=v[0]) for k, v in params.items()]
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    __init__.__signature__ = inspect.Signature([self_param, *shared, *own_params])  # type: ignore[attr-defined]
    hints = typing.get_type_hints(ImblearnResampler.__init__, include_extras=True)
    __init__.__annotations__ = {**hints, **{k: v[0] for k, v in params.items()}}
    cls = type(f"Resampler_{name}", (base,), {"__init__": __init__, "registered_name": name, "__doc__": doc, "__module__": __name__, **attrs})
    globals()[cls.__name__] = cls  # importable by name: a fitted preprocessor pickles (served models)
    return RESAMPLERS.register(name, runtime=RUNTIME)(cls)


def _register(
    name: str, factory: Any, sampling_kind: str = "over", k_params: tuple[str, ...] = ("k_neighbors",), doc: str = "", cost: Any = None, cheaper: str = "",
    categorical: dict[str, Any] | None = None, **params: Any,
) -> None:
    """Register an imbalanced-learn sampler: ``factory(params, strategy, seed)`` builds it."""

    def _sampler(self: ImblearnResampler, p: dict[str, Any], strategy: Any) -> Any:
        return factory(p, strategy, self.seed)

    scope = {p: ("all" if p == "m_neighbors" or name == "adasyn" else "class") for p in params if p in ("k_neighbors", "m_neighbors", "n_neighbors")}
    _make_class(name, ImblearnResampler, doc, params, _sampler=_sampler, kind=sampling_kind, k_params=k_params, neighbor_scope=scope, cost=staticmethod(cost) if cost else None, cheaper=cheaper, **(categorical or {}))


def _imb(path: str) -> Any:
    import importlib

    module, cls = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), cls)


_register(
    "random_over",
    lambda p, s, seed: _imb("imblearn.over_sampling.RandomOverSampler")(sampling_strategy=s, random_state=seed, shrinkage=p["shrinkage"]),
    k_params=(),
    doc="Duplicate minority rows (``shrinkage`` > 0 adds smoothed-bootstrap noise).",
    categorical={"categorical": "rows", "categorical_blockers": ("shrinkage",)},
    shrinkage=(Annotated[float, Interval(0, None)] | None, None),
)
_register(
    "random_under",
    lambda p, s, seed: _imb("imblearn.under_sampling.RandomUnderSampler")(sampling_strategy=s, random_state=seed, replacement=p["replacement"]),
    sampling_kind="under",
    k_params=(),
    doc="Drop majority rows at random.",
    categorical={"categorical": "rows"},
    replacement=(bool, False),
)
_register(
    "smote",
    lambda p, s, seed: _imb("imblearn.over_sampling.SMOTE")(sampling_strategy=s, random_state=seed, k_neighbors=p["k_neighbors"]),
    doc="x_new = x_i + λ (x_nn − x_i), λ ~ U(0, 1), x_nn among the k same-class nearest neighbours.",
    categorical={"categorical": "smote"},  # SMOTE-NC / SMOTE-N on categorical columns
    k_neighbors=(K, 5),
)
_register(
    "borderline_smote",
    lambda p, s, seed: _imb("imblearn.over_sampling.BorderlineSMOTE")(
        sampling_strategy=s, random_state=seed, k_neighbors=p["k_neighbors"], m_neighbors=p["m_neighbors"], kind=f"borderline-{p['kind']}"
    ),
    k_params=("k_neighbors",),
    doc="SMOTE seeded only from 'danger' minority points; kind 1 or 2.",
    k_neighbors=(K, 5),
    m_neighbors=(K, 10),
    kind=(Literal[1, 2], 1),
)
_register(
    "adasyn",
    lambda p, s, seed: _imb("imblearn.over_sampling.ADASYN")(sampling_strategy=s, random_state=seed, n_neighbors=p["n_neighbors"]),
    k_params=("n_neighbors",),
    doc="Synthesise more rows around minority points whose neighbourhood is mostly majority.",
    n_neighbors=(K, 5),
)
_register(
    "svm_smote",
    lambda p, s, seed: _imb("imblearn.over_sampling.SVMSMOTE")(
        sampling_strategy=s, random_state=seed, k_neighbors=p["k_neighbors"], m_neighbors=p["m_neighbors"], out_step=p["out_step"]
    ),
    doc="SMOTE seeded from the support vectors of an SVM (an RBF SVC on every row: O(n²·d)).",
    cost=lambda n, d: 10.0 * n * n * d,  # the SVC's kernel evaluations dominate
    cheaper="use resampler=borderline_smote (neighbour-based, no SVM)",
    k_neighbors=(K, 5),
    m_neighbors=(K, 10),
    out_step=(Annotated[float, Interval(0, None, "neither")], 0.5),
    max_cost_s=(MaxCost, 30.0),
)
_register(
    "smote_tomek",
    lambda p, s, seed: _imb("imblearn.combine.SMOTETomek")(
        sampling_strategy=s, random_state=seed, smote=_imb("imblearn.over_sampling.SMOTE")(sampling_strategy=s, random_state=seed, k_neighbors=p["k_neighbors"])
    ),
    doc="SMOTE, then remove Tomek links.",
    k_neighbors=(K, 5),
)
_register(
    "smote_enn",
    lambda p, s, seed: _imb("imblearn.combine.SMOTEENN")(
        sampling_strategy=s,
        random_state=seed,
        smote=_imb("imblearn.over_sampling.SMOTE")(sampling_strategy=s, random_state=seed, k_neighbors=p["k_neighbors"]),
        enn=_imb("imblearn.under_sampling.EditedNearestNeighbours")(n_neighbors=p["enn_neighbors"]),
    ),
    doc="SMOTE, then Edited Nearest Neighbours cleaning.",
    k_neighbors=(K, 5),
    enn_neighbors=(K, 3),
)
_register(
    "tomek",
    lambda p, s, seed: _imb("imblearn.under_sampling.TomekLinks")(sampling_strategy=s),
    sampling_kind="clean",
    k_params=(),
    doc="Remove majority rows that form Tomek links.",
    categorical={"why_not_categorical": "measures distances over every feature (category codes are not numbers)"},
)
_register(
    "near_miss",
    lambda p, s, seed: _imb("imblearn.under_sampling.NearMiss")(sampling_strategy=s, version=p["version"], n_neighbors=p["n_neighbors"]),
    sampling_kind="under",
    k_params=("n_neighbors",),
    doc="Keep the majority rows nearest to the minority (versions 1, 2, 3).",
    categorical={"why_not_categorical": "measures distances over every feature (category codes are not numbers)"},
    version=(Literal[1, 2, 3], 1),
    n_neighbors=(K, 3),
)


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


class _CategoricalSmote(ImblearnResampler):
    """SMOTE-NC / SMOTE-N chosen by name: the data must be of that kind."""

    categorical = "smote"
    nominal_only = False

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
            raise ConfigError(f"resampler.name: 'smotenc' needs numeric columns too; every feature is categorical. Use resampler=smoten.")
        return self._smote_categorical(X, y, params, strategy)


_make_class("smotenc", _CategoricalSmote, "SMOTE for mixed numeric + categorical features (categories by neighbour vote).", {"k_neighbors": (K, 5)})
_make_class("smoten", _CategoricalSmote, "SMOTE for all-categorical features (value difference metric).", {"k_neighbors": (K, 5)}, nominal_only=True)
