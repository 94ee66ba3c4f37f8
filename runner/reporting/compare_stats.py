"""The statistics of ``runner.compare``: the interval per arm, the paired tests, the default baseline,
and the refusal of two configs in one arm at one seed (they would not pair)."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from scipy import stats


def bootstrap_ci(values: np.ndarray, level: float = 0.95, resamples: int = 9999) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (scipy, seeded: the same runs give the same table).

    Percentile, not BCa or t: its bounds are means of resampled observed values, so they never
    leave the metric's range. With few seeds it is narrow (3 seeds: about their min..max) and
    covers less than its nominal level; the t test columns stay the inferential statement.
    """
    v = np.asarray(values, dtype=float)
    if len(v) < 2:
        return float("nan"), float("nan")
    if np.allclose(v, v[0]):
        return float(v[0]), float(v[0])
    res = stats.bootstrap((v,), np.mean, confidence_level=level, n_resamples=resamples, method="percentile", random_state=0)
    low, high = np.clip([res.confidence_interval.low, res.confidence_interval.high], v.min(), v.max())  # float rounding of means only
    return float(low), float(high)


NO_TREATMENT = {"none", "ce"}


def sweep_orders(tracker: Any, runs: list[Any]) -> dict[str, list[str]]:
    """Each swept key's values in the order the sweeps' command lines listed them (from the
    parent runs' ``sweep.overrides``; ``key=a,b,c`` and ``key=choice(a,b,c)``)."""
    sweep_ids = {r.data.tags.get("sweep_id") for r in runs} - {None}
    experiments = sorted({r.info.experiment_id for r in runs})
    parents = [p for p in tracker.search(experiments, tags={"sweep": "parent"}) if p.data.tags.get("sweep_id") in sweep_ids]
    orders: dict[str, list[str]] = {}
    for parent in sorted(parents, key=lambda p: p.info.start_time or 0):
        for item in parent.data.params.get("sweep.overrides", "").split():
            key, _, value = item.partition("=")
            value = value[len("choice(") : -1] if value.startswith("choice(") and value.endswith(")") else value
            if not value or "(" in value:  # range(), interval(): no listed order
                continue
            seen = orders.setdefault(key.lstrip("+~"), [])
            seen += [v for v in value.split(",") if v not in seen]
    return orders


def default_baseline(
    arms: Mapping[tuple[str, ...], Any], by: list[str], runs: list[Any], orders: dict[str, list[str]], arm_of: Callable[[Any], tuple[str, ...]]
) -> tuple[str, ...] | None:
    """The no-treatment arm (every value none/ce) if any; else the sweep's first arm in override
    order; else (keys set by an experiment's sweeper, not the command line) the arm of the
    earliest-started run, which Hydra launches first; never the alphabetically first."""
    if not arms:
        return None
    for key in arms:
        if by and all(v in NO_TREATMENT for v in key):
            return key
    if by and all(k in orders for k in by):
        rank = {key: tuple(orders[k].index(v) if v in orders[k] else len(orders[k]) for k, v in zip(by, key)) for key in arms}
        return min(arms, key=lambda key: rank[key])
    first = min(runs, key=lambda r: r.info.start_time or 0)
    key = arm_of(first)
    return key if key in arms else next(iter(arms))


def paired(a: Any, b: Any) -> dict[str, float]:
    """Wilcoxon signed-rank and paired t p-values of two arms over the seeds both have."""
    seeds = sorted(set(a.values) & set(b.values))
    if len(seeds) < 2:
        return {"pairs": float(len(seeds)), "wilcoxon_p": float("nan"), "ttest_p": float("nan")}
    x = np.array([a.values[s] for s in seeds])
    y = np.array([b.values[s] for s in seeds])
    diff = x - y
    wil = float("nan") if np.allclose(diff, 0) else float(stats.wilcoxon(x, y).pvalue)
    tt = float("nan") if np.allclose(diff, diff[0]) else float(stats.ttest_rel(x, y).pvalue)
    return {"pairs": float(len(seeds)), "wilcoxon_p": wil, "ttest_p": tt}


def mixed_configs(by: list[str], seed: str, a: Any, b: Any) -> str:
    """The error for two configs in one arm: the config keys (not tracking, paths...) they differ in."""
    from runner.cli.configs import NOT_HASHED

    pa, pb = a.data.params, b.data.params
    keys = sorted((k for k in pa.keys() | pb.keys() if pa.get(k) != pb.get(k) and k.split(".")[0] not in NOT_HASHED),
                  key=lambda k: (not k.endswith(".name"), k))  # a component's name first: the likeliest arm key
    shown = ", ".join(f"{k} ({pa.get(k)} / {pb.get(k)})" for k in keys[:5]) + (" ..." if len(keys) > 5 else "")
    where = f"--by {','.join(by)}" if by else "one arm (no key varies in the runs' overrides)"
    sweeps = sorted({r.data.tags["sweep_id"] for r in (a, b) if r.data.tags.get("sweep_id")})
    one_sweep = f", or compare one sweep (python -m runner.compare {sweeps[0]})" if sweeps else ""
    return (f"Error: {where}: runs {a.info.run_id} and {b.info.run_id} share seed {seed} but differ in {shown or 'their config'}; "
            f"add what tells them apart to --by (e.g. --by {','.join([*by, *keys[:1]])}){one_sweep}.")
