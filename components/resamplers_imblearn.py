"""The imbalanced-learn samplers, one ``@dataclass(**CONTRACT)`` class each (lecture §3).

Each adds its imbalanced-learn parameters to the shared ones of
:class:`components.resamplers.ImblearnResampler` (strategy in class names, small-class guard,
neighbour backend, reporting) and builds the sampler in ``_sampler``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from components.base import CONTRACT
from components.cost import MaxCost
from components.registry import Interval
from components.resamplers import RESAMPLERS, RUNTIME, K, ImblearnResampler


def _imb(path: str) -> Any:
    import importlib

    module, cls = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), cls)


def _smote(p: dict[str, Any], s: Any, seed: int) -> Any:
    """imbalanced-learn's SMOTE: the sampler of ``smote`` and the first step of the combined ones."""
    return _imb("imblearn.over_sampling.SMOTE")(sampling_strategy=s, random_state=seed, k_neighbors=p["k_neighbors"])


@RESAMPLERS.register("random_over", runtime=RUNTIME)
@dataclass(**CONTRACT)
class RandomOver(ImblearnResampler):
    """Duplicate minority rows (``shrinkage`` > 0 adds smoothed-bootstrap noise)."""

    shrinkage: Annotated[float, Interval(0, None)] | None = None
    k_params: ClassVar[tuple[str, ...]] = ()
    categorical: ClassVar[str] = "rows"
    categorical_blockers: ClassVar[tuple[str, ...]] = ("shrinkage",)

    def _sampler(self, p: dict[str, Any], s: Any) -> Any:
        return _imb("imblearn.over_sampling.RandomOverSampler")(sampling_strategy=s, random_state=self.seed, shrinkage=p["shrinkage"])


@RESAMPLERS.register("random_under", runtime=RUNTIME)
@dataclass(**CONTRACT)
class RandomUnder(ImblearnResampler):
    """Drop majority rows at random."""

    replacement: bool = False
    sampling_kind: ClassVar[str] = "under"
    k_params: ClassVar[tuple[str, ...]] = ()
    categorical: ClassVar[str] = "rows"

    def _sampler(self, p: dict[str, Any], s: Any) -> Any:
        return _imb("imblearn.under_sampling.RandomUnderSampler")(sampling_strategy=s, random_state=self.seed, replacement=p["replacement"])


@RESAMPLERS.register("smote", runtime=RUNTIME)
@dataclass(**CONTRACT)
class Smote(ImblearnResampler):
    """x_new = x_i + λ (x_nn − x_i), λ ~ U(0, 1), x_nn among the k same-class nearest neighbours."""

    k_neighbors: K = 5
    categorical: ClassVar[str] = "smote"  # SMOTE-NC / SMOTE-N on categorical columns

    def _sampler(self, p: dict[str, Any], s: Any) -> Any:
        return _smote(p, s, self.seed)


@RESAMPLERS.register("borderline_smote", runtime=RUNTIME)
@dataclass(**CONTRACT)
class BorderlineSmote(ImblearnResampler):
    """SMOTE seeded only from 'danger' minority points; kind 1 or 2."""

    k_neighbors: K = 5
    m_neighbors: K = 10
    kind: Literal[1, 2] = 1  # imbalanced-learn's borderline-1 / borderline-2
    neighbor_scope: ClassVar[dict[str, str]] = {"k_neighbors": "class", "m_neighbors": "all"}

    def _sampler(self, p: dict[str, Any], s: Any) -> Any:
        return _imb("imblearn.over_sampling.BorderlineSMOTE")(
            sampling_strategy=s, random_state=self.seed, k_neighbors=p["k_neighbors"], m_neighbors=p["m_neighbors"], kind=f"borderline-{p['kind']}"
        )


@RESAMPLERS.register("adasyn", runtime=RUNTIME)
@dataclass(**CONTRACT)
class Adasyn(ImblearnResampler):
    """Synthesise more rows around minority points whose neighbourhood is mostly majority."""

    n_neighbors: K = 5
    k_params: ClassVar[tuple[str, ...]] = ("n_neighbors",)
    neighbor_scope: ClassVar[dict[str, str]] = {"n_neighbors": "all"}

    def _sampler(self, p: dict[str, Any], s: Any) -> Any:
        return _imb("imblearn.over_sampling.ADASYN")(sampling_strategy=s, random_state=self.seed, n_neighbors=p["n_neighbors"])


@RESAMPLERS.register("svm_smote", runtime=RUNTIME)
@dataclass(**CONTRACT)
class SvmSmote(ImblearnResampler):
    """SMOTE seeded from the support vectors of an SVM (an RBF SVC on every row: O(n²·d))."""

    k_neighbors: K = 5
    m_neighbors: K = 10
    out_step: Annotated[float, Interval(0, None, "neither")] = 0.5
    max_cost_s: MaxCost = 30.0
    neighbor_scope: ClassVar[dict[str, str]] = {"k_neighbors": "class", "m_neighbors": "all"}
    cost: ClassVar[Any] = staticmethod(lambda n, d: 10.0 * n * n * d)  # the SVC's kernel evaluations dominate
    cheaper: ClassVar[str] = "use resampler=borderline_smote (neighbour-based, no SVM)"

    def _sampler(self, p: dict[str, Any], s: Any) -> Any:
        return _imb("imblearn.over_sampling.SVMSMOTE")(
            sampling_strategy=s, random_state=self.seed, k_neighbors=p["k_neighbors"], m_neighbors=p["m_neighbors"], out_step=p["out_step"]
        )


@RESAMPLERS.register("smote_tomek", runtime=RUNTIME)
@dataclass(**CONTRACT)
class SmoteTomek(ImblearnResampler):
    """SMOTE, then remove Tomek links."""

    k_neighbors: K = 5

    def _sampler(self, p: dict[str, Any], s: Any) -> Any:
        return _imb("imblearn.combine.SMOTETomek")(sampling_strategy=s, random_state=self.seed, smote=_smote(p, s, self.seed))


@RESAMPLERS.register("smote_enn", runtime=RUNTIME)
@dataclass(**CONTRACT)
class SmoteEnn(ImblearnResampler):
    """SMOTE, then Edited Nearest Neighbours cleaning."""

    k_neighbors: K = 5
    enn_neighbors: K = 3

    def _sampler(self, p: dict[str, Any], s: Any) -> Any:
        enn = _imb("imblearn.under_sampling.EditedNearestNeighbours")(n_neighbors=p["enn_neighbors"])
        return _imb("imblearn.combine.SMOTEENN")(sampling_strategy=s, random_state=self.seed, smote=_smote(p, s, self.seed), enn=enn)


@RESAMPLERS.register("tomek", runtime=RUNTIME)
@dataclass(**CONTRACT)
class Tomek(ImblearnResampler):
    """Remove majority rows that form Tomek links."""

    sampling_kind: ClassVar[str] = "clean"
    k_params: ClassVar[tuple[str, ...]] = ()
    why_not_categorical: ClassVar[str] = "measures distances over every feature (category codes are not numbers)"

    def _sampler(self, p: dict[str, Any], s: Any) -> Any:
        return _imb("imblearn.under_sampling.TomekLinks")(sampling_strategy=s)


@RESAMPLERS.register("near_miss", runtime=RUNTIME)
@dataclass(**CONTRACT)
class NearMiss(ImblearnResampler):
    """Keep the majority rows nearest to the minority (versions 1, 2, 3)."""

    version: Literal[1, 2, 3] = 1
    n_neighbors: K = 3
    sampling_kind: ClassVar[str] = "under"
    k_params: ClassVar[tuple[str, ...]] = ("n_neighbors",)
    neighbor_scope: ClassVar[dict[str, str]] = {"n_neighbors": "class"}
    why_not_categorical: ClassVar[str] = "measures distances over every feature (category codes are not numbers)"

    def _sampler(self, p: dict[str, Any], s: Any) -> Any:
        return _imb("imblearn.under_sampling.NearMiss")(sampling_strategy=s, version=p["version"], n_neighbors=p["n_neighbors"])
