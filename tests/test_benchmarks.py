"""The benchmarks still run: each imports against today's modules (bench_training_loop.py had not,
after a regroup moved what it imported), and the GPU script runs its own checks on tiny CPU data.
In this process (the libraries are loaded already); the benchmarks' folder and modules are taken
out of ``sys.path`` and ``sys.modules`` again."""
from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from tests.conftest import ROOT

FOLDER = ROOT / "benchmarks"
BENCHMARKS = sorted(p.stem for p in FOLDER.glob("*.py"))


@pytest.fixture
def benchmarks() -> Iterator[None]:
    path = sys.path[:]
    sys.path.insert(0, str(FOLDER))
    try:
        yield
    finally:
        sys.path[:] = path
        for name in BENCHMARKS:  # the project's own modules stay: their components are registered once
            sys.modules.pop(name, None)


def run_gpu_checks(*args: str) -> int:
    saved = sys.argv
    sys.argv = ["gpu_checks.py", *args]
    try:
        return importlib.import_module("gpu_checks").main()
    finally:
        sys.argv = saved


def test_every_benchmark_imports(benchmarks: None) -> None:
    for name in BENCHMARKS:
        importlib.import_module(name)


def test_gpu_script_runs_its_checks_on_tiny_cpu_data(benchmarks: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "figures.json"
    assert run_gpu_checks("--smoke", "--json", str(out)) == 0, capsys.readouterr().out
    figures = json.loads(out.read_text())
    assert {"training loop", "smote", "borderline_smote"} <= set(figures)
    assert figures["smote_same_rows"]["ok"] and figures["borderline_smote_same_rows"]["ok"]
    assert figures["smote_same_rows"]["synthetic_rows"] > 0 and figures["training loop"]["ratio"] > 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA machine measures")
def test_gpu_script_measures_nothing_without_cuda(benchmarks: None, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_gpu_checks() == 2 and "no CUDA device here" in capsys.readouterr().out
