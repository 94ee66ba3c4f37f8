"""``python -m runner.compare <experiment name | sweep id> [--metric test/macro_f1] [--by resampler.name,loss.name]``

Reads the runs from MLflow, groups them into arms, and prints mean ± std, n and a 95% bootstrap
percentile interval of the mean over seeds (scipy.stats.bootstrap; it stays inside the range of
the observed values, so a metric in [0, 1] keeps its interval in [0, 1], which a t interval
does not near 0 or 1), marks the best arm, and runs paired tests (Wilcoxon signed-rank and
paired t, scipy) of every arm against a baseline arm over matched seeds. The baseline defaults
to the "no treatment" arm (every value ``none`` or ``ce``) when there is one, else to the
sweep's first arm in override order (``-m scaler=robust,none`` -> ``robust``). Writes CSV,
Markdown and a PNG chart (bars with error bars; a heatmap for two-way grids). Works on a sweep
still running (unfinished runs are counted, not averaged) and lists failed runs as failed.

Arms default to the override keys that vary across the runs (``seed`` excluded), so
``-m loss=ce,focal seed=0,1,2`` compares by ``loss``.
"""
from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from components.keys import segment
from runner.reporting.compare_stats import bootstrap_ci, default_baseline, mixed_configs, paired, sweep_orders
from runner.tracker.tracking import is_dead
from runner.cli.clean_exit import user_errors

DEFAULT_URI = f"sqlite:///{Path('outputs').resolve()}/mlflow.db"


def default_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when set (MLflow's own convention), else the embedded store."""
    return os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI


def open_store(uri: str) -> Any:
    """The tracker for a store that must already exist: reading never creates an empty one."""
    from runner.tracker.redaction import redact
    from runner.tracker.tracking import MlflowTracker

    tracker = MlflowTracker(uri=uri)
    if not tracker.exists():
        raise SystemExit(f"Error: --tracking-uri {redact(uri)}: no MLflow store there; pass the store the runs went to "
                         "(or set MLFLOW_TRACKING_URI).")  # fmt: skip
    return tracker


@dataclass
class Arm:
    key: tuple[str, ...]
    values: dict[str, float] = field(default_factory=dict)  # seed -> metric (FINISHED runs)
    failed: int = 0
    unfinished: int = 0
    killed: int = 0  # stopped (Ctrl-C, SIGTERM) or closed by resume after kill -9
    stale: int = 0  # RUNNING, but its process is gone (kill -9 not yet closed by a resume)

    @property
    def n(self) -> int:
        return len(self.values)

    def summary(self) -> dict[str, float]:
        v = np.array(list(self.values.values()), dtype=float)
        if len(v) == 0:
            return {"mean": float("nan"), "std": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
        low, high = bootstrap_ci(v)
        return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0, "ci_low": low, "ci_high": high}


def overrides_of(run: Any) -> dict[str, str]:
    out = {}
    for item in run.data.tags.get("overrides", "").split():
        if "=" in item:
            k, v = item.split("=", 1)
            out[k.lstrip("+~")] = v
    return out


def find_runs(tracker: Any, target: str) -> tuple[list[Any], str]:
    """Child runs of an experiment (by name) or of a sweep (by sweep id), parents excluded.
    The target is passed to the store as a quoted value, never pasted into a filter."""
    exp = tracker.experiment_named(target)
    if exp is not None:
        runs = tracker.search([exp.experiment_id])
        label = f"experiment '{target}'"
    else:
        runs = tracker.search([e.experiment_id for e in tracker.experiments()], tags={"sweep_id": target})
        label = f"sweep {target}"
    runs = [r for r in runs if r.data.tags.get("sweep") != "parent"]
    if not runs:
        names = ", ".join(e.name for e in tracker.experiments()) or "(none)"
        raise SystemExit(f"Error: no runs for '{target}': not an experiment name nor a sweep id. Experiments: {names}.")
    return runs, label


def check_metric(runs: list[Any], metric: str) -> None:
    """An unknown ``--metric`` is an error listing the logged ones (not an empty table)."""
    logged = sorted({k for r in runs for k in r.data.metrics})
    finished = any(r.info.status == "FINISHED" for r in runs)  # a sweep still starting may not have it yet
    if finished and metric not in logged:
        shown = [k for k in logged if k.startswith(("test/", "val/"))] or logged
        more = f" (and {len(shown) - 40} more)" if len(shown) > 40 else ""
        raise SystemExit(f"Error: --metric {metric!r}: not logged by these runs. Available: {', '.join(shown[:40]) or '(none)'}{more}.")


def varying_keys(runs: list[Any]) -> list[str]:
    seen: dict[str, set[str]] = defaultdict(set)
    for r in runs:
        for k, v in overrides_of(r).items():
            seen[k].add(v)
    ignored = {"seed", "experiment", "paths.outputs", "progress", "hydra.launcher.n_jobs", "resume"}
    return sorted(k for k, v in seen.items() if len(v) > 1 and k not in ignored)


def arm_value(run: Any, key: str) -> str:
    ov = overrides_of(run)
    if key in ov:
        return ov[key]
    return run.data.params.get(key, run.data.params.get(f"{key}.name", "?"))


def build_arms(runs: list[Any], by: list[str], metric: str) -> dict[tuple[str, ...], Arm]:
    """Runs grouped by their values of ``by``; an arm holds one value per seed (seeds pair the
    arms), so two finished runs of different configs at one seed in one arm are refused, naming
    the keys that tell them apart (one used to replace the other silently). Runs of one config
    (a rerun) keep one value, as before."""
    arms: dict[tuple[str, ...], Arm] = {}
    seen: dict[tuple[tuple[str, ...], str], Any] = {}
    for r in runs:
        key = tuple(arm_value(r, k) for k in by) if by else ("all",)
        arm = arms.setdefault(key, Arm(key))
        status = r.info.status
        if status == "FAILED":
            arm.failed += 1
        elif status == "KILLED":
            arm.killed += 1
        elif status == "RUNNING" and is_dead(r):
            arm.stale += 1
        elif status != "FINISHED" or metric not in r.data.metrics:
            arm.unfinished += 1
        else:
            seed = r.data.params.get("seed", r.info.run_id)
            other = seen.setdefault((key, seed), r)
            if other is not r and other.data.tags.get("config_hash") != r.data.tags.get("config_hash"):
                raise SystemExit(mixed_configs(by, seed, other, r))
            arm.values[seed] = r.data.metrics[metric]
    return dict(sorted(arms.items(), key=lambda kv: tuple(_order(v) for v in kv[0])))


def table(arms: dict[tuple[str, ...], Arm], by: list[str], baseline: tuple[str, ...] | None, higher_is_better: bool) -> list[dict[str, Any]]:
    means = {k: a.summary()["mean"] for k, a in arms.items() if a.n}
    best = (max if higher_is_better else min)(means, key=means.get) if means else None
    rows = []
    for key, arm in arms.items():
        s = arm.summary()
        row: dict[str, Any] = {**dict(zip(by or ["arm"], key)), "n": arm.n, **s, "failed": arm.failed, "unfinished": arm.unfinished,
                               "killed": arm.killed, "stale": arm.stale}  # fmt: skip
        row["best"] = "*" if key == best else ""
        if baseline is not None and baseline in arms and key != baseline:
            row.update(paired(arm, arms[baseline]))
        rows.append(row)
    return rows


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return "" if np.isnan(v) else f"{v:.4f}"
    return str(v)


def markdown(rows: list[dict[str, Any]], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def chart(rows: list[dict[str, Any]], by: list[str], metric: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    done = [r for r in rows if r["n"]]
    if len(by) == 2:  # two-way grid: heatmap of means
        xs = sorted({r[by[1]] for r in done}, key=_order)
        ys = sorted({r[by[0]] for r in done}, key=_order)
        grid = np.full((len(ys), len(xs)), np.nan)
        for r in done:
            grid[ys.index(r[by[0]]), xs.index(r[by[1]])] = r["mean"]
        fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(xs), 1.0 + 0.7 * len(ys)))
        im = ax.imshow(grid, cmap="viridis")
        ax.set_xticks(range(len(xs)), xs)
        ax.set_yticks(range(len(ys)), ys)
        ax.set(xlabel=by[1], ylabel=by[0], title=f"{metric} (mean over seeds)")
        for i in range(len(ys)):
            for j in range(len(xs)):
                if np.isfinite(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.3f}", ha="center", va="center", color="w", fontsize=8)
        fig.colorbar(im, ax=ax)
    else:
        labels = [" ".join(str(r[k]) for k in (by or ["arm"])) for r in done]
        fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(done) + 2), 4.5))
        err = [r["std"] for r in done]
        colors = ["tab:orange" if r["best"] else "tab:blue" for r in done]
        ax.bar(range(len(done)), [r["mean"] for r in done], yerr=err, capsize=4, color=colors)
        ax.set_xticks(range(len(done)), labels, rotation=30, ha="right")
        ax.set(ylabel=f"{metric} (mean ± std over seeds)", title=metric)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _order(v: str) -> tuple[int, float | str]:
    try:
        return (0, float(v))
    except ValueError:
        return (1, v)


def compare(
    target: str, metric: str = "test/macro_f1", by: list[str] | None = None, baseline: str | None = None,
    uri: str | None = None, out: Path | None = None, lower_is_better: bool = False,
) -> tuple[list[dict[str, Any]], dict[str, Path]]:
    tracker = open_store(uri or default_uri())
    runs, label = find_runs(tracker, target)
    check_metric(runs, metric)
    keys = by if by is not None else varying_keys(runs)
    arms = build_arms(runs, keys, metric)
    base_key = None
    if baseline is not None:
        base_key = tuple(baseline.split(","))
        if base_key not in arms:
            raise SystemExit(f"Error: --baseline {baseline!r} is not an arm. Arms: {', '.join(','.join(k) for k in arms)}.")
    else:
        arm_of = lambda r: tuple(arm_value(r, k) for k in keys) if keys else ("all",)  # noqa: E731
        base_key = default_baseline(arms, keys, runs, sweep_orders(tracker, runs), arm_of)
    rows = table(arms, keys, base_key, not lower_is_better)
    folder = out or Path("outputs") / "compare" / segment(target)
    folder.mkdir(parents=True, exist_ok=True)
    columns = [*(keys or ["arm"]), "n", "mean", "std", "ci_low", "ci_high", "best", "failed", "killed", "unfinished", "stale",
               "pairs", "wilcoxon_p", "ttest_p"]  # fmt: skip
    md = (f"{label}: {metric}, arms by {', '.join(keys) or '(one arm)'}; paired tests against {','.join(base_key or ())}; "
          "ci: 95% bootstrap percentile interval of the mean over seeds\n\n")  # fmt: skip
    md += markdown(rows, columns)
    files = {"markdown": folder / "comparison.md", "csv": folder / "comparison.csv", "chart": folder / "comparison.png"}
    files["markdown"].write_text(md)
    import csv

    with files["csv"].open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    chart(rows, keys, metric, files["chart"])
    return rows, files


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runner.compare", description=__doc__.splitlines()[0])
    parser.add_argument("target", help="an MLflow experiment name (experiment_name) or a sweep id")
    parser.add_argument("--metric", default="test/macro_f1")
    parser.add_argument("--by", default=None, help="comma-separated config keys defining the arms (default: the swept keys)")
    parser.add_argument("--baseline", default=None, help="the arm to test against, its values comma-separated (default: the arm whose values are all none/ce, else the sweep's first arm in override order)")
    parser.add_argument("--lower-is-better", action="store_true", help="for losses: the best arm has the lowest mean")
    parser.add_argument("--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI, else sqlite:///outputs/mlflow.db")
    parser.add_argument("--out", type=Path, default=None, help="folder for the CSV, Markdown and PNG (default: outputs/compare/<target>)")
    parser.add_argument("--register", metavar="NAME", default=None,
                        help="register the best arm's model (its run nearest the arm's median) as a new version of NAME")  # fmt: skip
    args = parser.parse_args(argv)
    by = [k.strip() for k in args.by.split(",")] if args.by else None
    from runner.tracker.redaction import install_stream_redaction

    install_stream_redaction()
    with user_errors():  # a store problem (TrackingError) too: one line
        rows, files = compare(args.target, args.metric, by, args.baseline, args.tracking_uri, args.out, args.lower_is_better)
    sys.stdout.write(files["markdown"].read_text())
    failed = sum(r["failed"] for r in rows)
    if failed:
        print(f"\n{failed} run(s) FAILED (listed per arm in the 'failed' column).")
    print(f"\nWritten: {files['markdown']}, {files['csv']}, {files['chart']}")
    if args.register:
        from runner.tracker.registry_ops import register_best

        print(register_best(args.target, args.register, args.metric, by, args.tracking_uri, args.lower_is_better,
                            files["markdown"].read_text()))  # fmt: skip


if __name__ == "__main__":
    from runner.cli import fast_exit

    fast_exit.run(main)  # no interpreter teardown (runner/cli/fast_exit.py)
