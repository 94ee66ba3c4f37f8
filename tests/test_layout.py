"""README's Layout section is a promise about the tree: every runner module is named under its concern.

The tree is read from disk and the map from README, so a module added, moved or renamed without
updating the map fails here; so does a subpackage without a docstring saying what it holds, and a
module over the 300-line limit the house rules set.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNNER = ROOT / "runner"


def _layout_map() -> dict[str, str]:
    """README's Layout code block as {"runner/": text, "cli/": text, ...}: a line that starts a row names it."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Layout\n") :]
    block = section[section.index("```\n") + 4 :]
    block = block[: block.index("```")]
    rows: dict[str, str] = {}
    current = ""
    for line in block.splitlines():
        m = re.match(r"^ {0,2}(\S+/)\s+(.*)$", line)
        if m and not line.startswith("   "):
            current = m.group(1)
            rows[current] = m.group(2)
        elif current:
            rows[current] += " " + line.strip()
    return rows


SUBPACKAGES = sorted(p.parent.name for p in RUNNER.glob("*/__init__.py"))


def test_the_commands_and_every_subpackage_have_a_row() -> None:
    rows = _layout_map()
    assert SUBPACKAGES, "runner/ has no subpackages"
    assert set(rows) >= {"runner/", *(f"{g}/" for g in SUBPACKAGES)}
    commands = sorted(p.stem for p in RUNNER.glob("*.py") if p.stem != "__init__")
    named = set(re.findall(r"\w+", rows["runner/"]))
    assert [c for c in commands if c not in named] == []


@pytest.mark.parametrize("group", SUBPACKAGES)
def test_each_module_is_named_in_its_row(group: str) -> None:
    named = set(re.findall(r"\w+", _layout_map()[f"{group}/"]))
    modules = sorted(p.stem for p in (RUNNER / group).glob("*.py") if p.stem != "__init__")
    assert modules and [m for m in modules if m not in named] == []


@pytest.mark.parametrize("group", SUBPACKAGES)
def test_each_subpackage_says_what_it_holds(group: str) -> None:
    doc = ast.get_docstring(ast.parse((RUNNER / group / "__init__.py").read_text()))
    assert doc and len(doc.split()) >= 5


@pytest.mark.parametrize(
    "path", sorted([*RUNNER.rglob("*.py"), *(ROOT / "components").glob("*.py")]), ids=lambda p: str(p.relative_to(ROOT))
)
def test_modules_stay_small(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 300
