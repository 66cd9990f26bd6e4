"""docs/reliability.md names a test for every case; each named test must exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

HERE = Path(__file__).parent
TABLE = HERE.parents[1] / "docs" / "reliability.md"
FOLDERS = {"reliability": HERE, "security": HERE.parent / "security"}


def _named_tests() -> list[tuple[str, str, str]]:
    named = []
    section = "reliability"
    for line in TABLE.read_text().splitlines():
        if line.startswith("## Security"):
            section = "security"
        elif line.startswith("## "):
            section = "reliability"
        for file, func in re.findall(r"`(test_\w+\.py)::(test_\w+)`", line):
            named.append((section, file, func))
    return named


def test_every_test_named_in_the_table_exists():
    named = _named_tests()
    assert len(named) >= 50
    missing = []
    for section, file, func in named:
        path = FOLDERS[section] / file
        tree = ast.parse(path.read_text()) if path.exists() else ast.Module(body=[])
        functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        if func not in functions:
            missing.append(f"{section}/{file}::{func}")
    assert missing == []


def test_every_reliability_test_is_in_the_table():
    named = {(s, f, t) for s, f, t in _named_tests()}
    skipped = {"test_docs_table.py"}
    for section, folder in FOLDERS.items():
        for path in folder.glob("test_*.py"):
            if path.name in skipped:
                continue
            tree = ast.parse(path.read_text())
            for node in tree.body:
                if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                    assert (section, path.name, node.name) in named, f"{path.name}::{node.name}"
