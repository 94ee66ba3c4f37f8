"""``python -m runner.rerun <run_id>``: recompose a logged job from its overrides and run it again.

The new run is tagged ``rerun_of=<run_id>`` in the same experiment; the command prints every
val/test metric beside the original's and exits 1 when any differs (on CPU, the same config
and seed reproduce them exactly). A different code version (``git_commit`` tag) is reported.
"""
from __future__ import annotations

import argparse
import re
import sys

import yaml

from runner.compare import default_uri, open_store
from runner.tracker.redaction import install_stream_redaction
from runner.cli.clean_exit import user_errors


def quote_override(key: str, value: str) -> str:
    """``key=value`` as a Hydra override that holds any value: quoted, quotes and backslashes escaped
    (an experiment called ``a,b`` used to become a two-value sweep)."""
    escaped = re.sub(r"(\\+)(?='|$)", lambda m: m.group(1) * 2, value).replace("'", "\\'")  # Hydra's quoting rules
    return f"{key}='{escaped}'"


def rerun(run_id: str, uri: str | None = None) -> tuple[str, dict[str, tuple[float, float]]]:
    import datasets

    from runner.jobs import provenance
    from runner.cli.configs import compose
    from runner.jobs.job import JobContext, run_job

    datasets.disable_progress_bars()
    uri = uri or default_uri()
    tracker = open_store(uri)
    original = tracker.get_run(run_id)
    overrides = yaml.safe_load(tracker.download(run_id, "config/overrides.yaml").read_text()) or []
    experiment = tracker.experiment_by_id(original.info.experiment_id).name
    pinned = [quote_override("tracking.uri", uri), quote_override("experiment_name", experiment), "progress=false", "resume=false"]
    cfg = compose([*[o for o in overrides if not o.startswith(("tracking.uri=", "experiment_name="))], *pinned])
    if original.data.tags.get("git_commit") not in (None, provenance.git_commit()):
        print(f"note: the original ran at commit {original.data.tags['git_commit']}, this code is {provenance.git_commit()}")
    result = run_job(cfg, JobContext(overrides=list(overrides)), extra_tags={"rerun_of": run_id})
    old = original.data.metrics
    compared = {k: (old[k], v) for k, v in result.metrics.items() if k.startswith(("val/", "test/")) and k in old}
    return result.run_id, compared


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m runner.rerun", description=__doc__.splitlines()[0])
    parser.add_argument("run_id")
    parser.add_argument("--tracking-uri", default=None, help="default: $MLFLOW_TRACKING_URI, else sqlite:///outputs/mlflow.db")
    args = parser.parse_args(argv)
    install_stream_redaction()
    with user_errors():
        new_id, compared = rerun(args.run_id, args.tracking_uri)
    differing = {k: v for k, v in compared.items() if v[0] != v[1]}
    for key in ("test/macro_f1", "test/roc_auc", "val/macro_f1"):
        if key in compared:
            print(f"{key:20s} original {compared[key][0]:.6f}   rerun {compared[key][1]:.6f}")
    print(f"rerun: run {new_id}; {len(compared) - len(differing)} of {len(compared)} val/test metrics identical")
    if differing:
        worst = max(differing, key=lambda k: abs(differing[k][0] - differing[k][1]))
        print(f"{len(differing)} differ; largest: {worst} {differing[worst][0]} -> {differing[worst][1]}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    from runner.cli import fast_exit

    fast_exit.run(main)  # no interpreter teardown (runner/cli/fast_exit.py)
