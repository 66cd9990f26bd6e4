"""Execute every notebook in notebooks/ top to bottom; any error fails the test.

The kernel gets no ``WATCH_URL`` (so each notebook starts its own local demo server) and a
known admin key through ``WATCH_LOCAL_ADMIN_KEY``, so the outputs can be checked for it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

REPO = Path(__file__).parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 120


def test_there_are_notebooks_to_run():
    names = {path.name for path in NOTEBOOKS}
    assert {"quickstart.ipynb", "parameters.ipynb"} <= names


@pytest.fixture
def kernel_env(monkeypatch, tmp_path):
    """An environment for the kernel: no Watch configuration, a known local admin key."""
    for name in ("WATCH_URL", "WATCH_API_KEY", "WATCH_PROFILE", "WATCH_DEMO_QUERIES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("WATCH_CONFIG", str(tmp_path / "absent-config.toml"))
    key = "nbkey-" + secrets.token_hex(16)
    monkeypatch.setenv("WATCH_LOCAL_ADMIN_KEY", key)
    # The kernel runs in the notebook's folder: import this checkout's package, not whichever
    # copy the interpreter has installed.
    paths = [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(paths))
    return key


def _committed_without_outputs(notebook) -> bool:
    return all(
        not cell.get("outputs") and cell.get("execution_count") is None
        for cell in notebook.cells
        if cell.cell_type == "code"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs_without_errors_and_never_shows_the_key(path, kernel_env, tmp_path):
    notebook = nbformat.read(path, as_version=4)
    assert _committed_without_outputs(notebook), f"{path.name} is committed with outputs"

    _run(notebook, tmp_path)  # raises CellExecutionError on the first failing cell

    outputs = json.dumps([cell.get("outputs", []) for cell in notebook.cells])
    assert kernel_env not in outputs
    errors = [
        output
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert errors == []
    assert any(cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")


def _run(notebook, tmp_path) -> None:
    """Execute ``notebook`` in a kernel on this interpreter, stopping at the first error."""
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    # Run the kernel on this interpreter (the venv under test), whatever kernelspec is found.
    client.kernel_manager_class = _kernel_manager_for(sys.executable)
    client.execute()


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.mark.parametrize(
    ("failing", "shown"),
    [
        ("%watch {broken} frame --max-age 0", "watch: the query failed: "),  # the server's no
        ("%watch {demo} frame min_prise=3", "Did you mean 'min_price'"),  # a user's mistake
    ],
    ids=["query-fails", "usage-error"],
)
def test_a_failing_magic_stops_the_notebook_with_one_line(
    kernel_env, local_watch, monkeypatch, tmp_path, failing, shown
):
    from nbclient.exceptions import CellExecutionError

    monkeypatch.setenv("WATCH_URL", local_watch.url)
    monkeypatch.setenv("WATCH_API_KEY", local_watch.admin_key)
    source = local_watch.add_data_source("db")
    broken = local_watch.add_query("SELEC 1", data_source_id=source, name="broken")
    demo = local_watch.add_query(
        "SELECT {{ min_price }} AS x",
        data_source_id=source,
        name="demo",
        parameters=[{"name": "min_price", "type": "number", "title": "Min", "value": 1}],
    )
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("%load_ext watch_pandas\nframe = 'earlier'"),
        nbformat.v4.new_code_cell(failing.format(broken=broken, demo=demo)),
        nbformat.v4.new_code_cell("marker = 'the run went on'"),
    ]

    with pytest.raises(CellExecutionError):
        _run(notebook, tmp_path)

    assert notebook.cells[2].get("execution_count") is None  # never ran
    # a UsageError is printed on stderr; any other error is an error output (its traceback)
    outputs = notebook.cells[1].outputs
    tracebacks = [o["traceback"] for o in outputs if o["output_type"] == "error"]
    streams = [o["text"] for o in outputs if o["output_type"] == "stream"]
    shown_text = "\n".join([_ANSI.sub("", line) for tb in tracebacks for line in tb] + streams)
    assert shown in shown_text, outputs
    assert len([line for line in shown_text.splitlines() if line.strip()]) == 1, shown_text
    assert "Traceback" not in shown_text and "File " not in shown_text
    assert local_watch.admin_key not in json.dumps(notebook.cells[1].outputs)


def _kernel_manager_for(python: str):
    """A KernelManager class whose kernel command is ``python -m ipykernel_launcher``."""
    from jupyter_client.manager import KernelManager

    class ThisPythonKernelManager(KernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            return [python, "-m", "ipykernel_launcher", "-f", self.connection_file]

    ThisPythonKernelManager.__name__ = "ThisPythonKernelManager"
    return ThisPythonKernelManager


def test_a_read_leaves_a_plain_text_progress_line_not_an_empty_widget(
    kernel_env, local_watch, monkeypatch, tmp_path
):
    """A saved notebook shows what its outputs hold where no widget can be drawn (GitHub,
    nbviewer, a notebook opened without its kernel): the progress line of a finished read must
    be a line of text there, not ``HTML(value='')``."""
    monkeypatch.setenv("WATCH_URL", local_watch.url)
    monkeypatch.setenv("WATCH_API_KEY", local_watch.admin_key)
    source = local_watch.add_data_source("db")
    query = local_watch.add_query("SELECT 1 AS n", data_source_id=source, name="one")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(
            "import watch_pandas as wp\n"
            f"frame = wp.read_watch_query({query}, max_age=0, cache=False)\n"
            "len(frame)"
        ),
        nbformat.v4.new_code_cell(f"%load_ext watch_pandas\n%watch {query} again --max-age 0"),
    ]

    _run(notebook, tmp_path)

    for cell in notebook.cells:
        shown = [o for o in cell.outputs if o["output_type"] == "display_data"]
        texts = [o["data"].get("text/plain", "") for o in shown]
        assert not any("HTML(value=" in text for text in texts), cell.outputs
        assert not any("application/vnd.jupyter.widget-view+json" in o["data"] for o in shown)
        summary = [text for text in texts if text.startswith("watch: done")]
        assert len(summary) == 1, cell.outputs
        assert f"query {query}" in summary[0]
    assert local_watch.admin_key not in json.dumps([c.outputs for c in notebook.cells])
