"""Every data problem ends in one line naming the file/column/rows and the fix, before training.

Real files, read through the real ``datasets`` loaders and ``runner.tables.data.prepare``."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest

from components.errors import ConfigError
from runner.tables.data import prepare
from tests.conftest import cli

ROWS = ["a,b,label", *[f"{i % 7},{i * 0.5},{i % 2}" for i in range(60)]]


def _write(tmp_path: Path, name: str, lines: list[str] | None = None, raw: bytes | None = None) -> Path:
    path = tmp_path / name
    path.write_bytes(raw if raw is not None else ("\n".join(lines or []) + "\n").encode())
    return path


CASES = {  # name -> (file maker, dataset.path, expected message)
    "ragged": (lambda t: _write(t, "r.csv", [*ROWS[:10], "1,2,3,4", *ROWS[10:]]), "csv", r"r.csv: could not parse it as csv: .*Expected 3 fields in line 11, saw 4"),
    "not utf-8": (lambda t: _write(t, "l.csv", raw="\n".join([*ROWS[:5], "1,größe,0", *ROWS[5:]]).encode("latin-1")), "csv", r"l.csv: not UTF-8 text .*load_kwargs.encoding=latin-1"),
    "empty": (lambda t: _write(t, "e.csv", raw=b""), "csv", r"e.csv: the file is empty"),
    "header only": (lambda t: _write(t, "h.csv", ROWS[:1]), "csv", r"h.csv: no data rows \(a header only\?\)"),
    "csv read as json": (lambda t: _write(t, "j.csv", ROWS), "json", r"j.csv: not valid JSON lines .*use dataset.path=csv"),
    "a folder": (lambda t: (t / "folder").mkdir() or t / "folder", "csv", r"folder: is a folder; pass files \(e.g. .*folder/\*.csv\)"),
    "duplicate names": (lambda t: _write(t, "d.csv", ["a,a,label", *ROWS[1:]]), "csv", r"d.csv: duplicate column name\(s\) 'a' in the header; rename them"),
    "inf": (lambda t: _write(t, "i.csv", [*ROWS[:5], "inf,1,0", "1,-inf,1", *ROWS[5:]]), "csv", r"inf/-inf in 'a' \(1 row\(s\), e.g. data row 5\), 'b' \(1 row\(s\), e.g. data row 6\)"),
    "single class": (lambda t: _write(t, "s.csv", ["a,b,label", *[f"{i},{i},1" for i in range(40)]]), "csv", r"dataset.label: column 'label' has 1 class\(es\) \('1'\) in 40 rows"),
    "float label": (lambda t: _write(t, "f.csv", ["a,b,label", *[f"{i},{i},{i * 0.37}" for i in range(200)]]), "csv", r"has 200 distinct values in 200 rows .*a continuous column, not classes"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_data_problem_is_one_line(case: str, tmp_path: Path) -> None:
    make, loader, expected = CASES[case]
    files = str(make(tmp_path))
    with pytest.raises(ConfigError, match=expected) as err:
        prepare({"name": "hf", "path": loader, "data_files": files, "label": "label"}, {}, 0)
    assert "\n" not in str(err.value) and len(str(err.value)) < 400


def test_a_few_bad_cells_in_a_numeric_column_warn_with_examples(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write(tmp_path, "b.csv", [*ROWS[:5], "1,oops,0", "2,n/a?,1", *ROWS[5:]])
    with caplog.at_level(logging.WARNING, logger="runner"):
        data = prepare({"name": "hf", "path": "csv", "data_files": str(path), "label": "label"}, {}, 0)
    assert "column 'b' is 97% numbers but has 2 non-numeric cell(s) ('n/a?', 'oops'); it is treated as categorical" in caplog.text
    assert data.info["data/suspect_text_columns"] == 1.0


@pytest.mark.slow
def test_the_cli_prints_the_cause_not_a_traceback(tmp_path: Path) -> None:
    path = _write(tmp_path, "r.csv", [*ROWS[:10], "1,2,3,4", *ROWS[10:]])
    res = cli("dataset=hf", "dataset.path=csv", f"dataset.data_files={path}", "tracking=none", f"paths.outputs={tmp_path}")
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert f"Error: dataset.data_files={path}: could not parse it as csv" in res.stderr
