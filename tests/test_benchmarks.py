"""The benchmarks still run: each imports against today's modules (bench_training_loop.py had not,
after a regroup moved what it imported), and the GPU script runs its own checks on tiny CPU data."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from tests.conftest import ROOT

BENCHMARKS = sorted(p.stem for p in (ROOT / "benchmarks").glob("*.py"))


def test_every_benchmark_imports() -> None:
    code = "import importlib, sys\nfor name in sys.argv[1:]:\n    importlib.import_module(name)\n"
    res = subprocess.run([sys.executable, "-c", code, *BENCHMARKS], cwd=ROOT / "benchmarks", capture_output=True, text=True,
                         env={"PYTHONPATH": f"{ROOT}:{ROOT / 'benchmarks'}", "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"})  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]


@pytest.mark.slow  # trains two small loops and resamples four times in a subprocess
def test_gpu_script_runs_its_checks_on_tiny_cpu_data(tmp_path) -> None:  # noqa: ANN001
    import json

    out = tmp_path / "figures.json"
    res = subprocess.run([sys.executable, "benchmarks/gpu_checks.py", "--smoke", "--json", str(out)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stdout + res.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert {"training loop", "smote", "borderline_smote"} <= set(figures)
    assert figures["smote_same_rows"]["ok"] and figures["borderline_smote_same_rows"]["ok"]
    assert figures["smote_same_rows"]["synthetic_rows"] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine measures")
def test_gpu_script_measures_nothing_without_cuda() -> None:
    res = subprocess.run([sys.executable, "benchmarks/gpu_checks.py"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert res.returncode == 2 and "no CUDA device here" in res.stdout
