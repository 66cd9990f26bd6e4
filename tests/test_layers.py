"""The package's layers: the core never depends on the UI, and no modules import each other.

The UI (``widgets``, ``magics``, the CLI, the local server) builds on the core (reading,
caching, progress events). Only the choice of the default progress listener may reach the
widget, lazily, from ``_progress``, and only inside a kernel that can draw it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import watch_pandas

PACKAGE = Path(watch_pandas.__file__).parent
UI = {"widgets", "_dashboard_view", "magics", "_cli", "testing", "_schema_browser", "_completion"}
# The one place the core may name the UI: the default listener, imported inside a function.
LAZY_UI_ALLOWED = {("_progress", "widgets")}


def _modules() -> dict[str, ast.Module]:
    return {
        path.stem: ast.parse(path.read_text(encoding="utf-8"))
        for path in sorted(PACKAGE.glob("*.py"))
        if path.stem != "__init__"  # the facade names everything lazily (PEP 562)
    }


def _is_type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree: ast.Module, *, top_level_only: bool) -> set[str]:
    """The package modules ``tree`` imports (``from . import x``, ``from .x import y``)."""
    found: set[str] = set()

    def visit(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking(child):
                continue  # annotations only: never executed
            if (
                isinstance(child, ast.ImportFrom)
                and child.level == 1
                and (top or not top_level_only)
            ):
                if child.module:
                    found.add(child.module.split(".")[0])
                else:
                    found.update(alias.name for alias in child.names)
            inner = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            visit(child, top and not inner)

    visit(tree, True)
    return found


def test_no_core_module_imports_the_ui():
    offenders = [
        f"{name} imports {target}"
        for name, tree in _modules().items()
        if name not in UI
        for target in sorted(_imports(tree, top_level_only=False) & UI)
        if (name, target) not in LAZY_UI_ALLOWED
    ]
    assert offenders == []


def test_the_allowed_ui_import_is_lazy():
    modules = _modules()
    for name, target in LAZY_UI_ALLOWED:
        assert target not in _imports(modules[name], top_level_only=True)


def test_modules_do_not_import_each_other_in_a_cycle():
    graph = {
        name: _imports(tree, top_level_only=True) & set(_modules())
        for name, tree in _modules().items()
    }
    cycles = []

    def walk(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            else:
                walk(nxt, [*path, nxt])

    for start in graph:
        walk(start, [start])
    assert cycles == []


def test_core_modules_load_no_ui_in_a_fresh_interpreter():
    """Importing the readers and choosing the default progress listener outside a kernel
    pulls in no UI module (and no ipywidgets)."""
    script = (
        "import importlib, sys\n"
        "for name in ('_api', '_read', '_dashboards', '_progress', '_cache'):\n"
        "    importlib.import_module('watch_pandas.' + name)\n"
        "from watch_pandas._progress import progress_listeners\n"
        "progress_listeners(None); progress_listeners(True)\n"
        "ui = ['watch_pandas.widgets', 'watch_pandas.magics', 'ipywidgets', 'IPython']\n"
        "print(','.join(m for m in ui if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == ""


def _core_module_names() -> list[str]:
    """Every module of the client, sub-packages included (``_client._base``...); the local
    server (``testing``) has its own import tests."""
    names = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts[0] != "testing" and parts != ("__init__",):
            names.append(".".join(part for part in parts if part != "__init__"))
    return names


@pytest.mark.parametrize("name", _core_module_names())
def test_every_module_imports_alone_in_a_fresh_interpreter(name):
    """A cycle that only bites when one module is imported first shows up here."""
    done = subprocess.run(
        [sys.executable, "-c", f"import watch_pandas.{name}"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
