"""Tab completion in a ``%%watch`` cell as a user meets it: JupyterLab in headless Chromium.

The test writes a two-cell notebook into JupyterLab's folder (the notebooks in notebooks/ are
run top to bottom elsewhere, and the second cell here is unfinished SQL): the first loads the
extension with the demo's typed source as the default, the second is ``%%watch`` with
``SELECT * FROM pri``. The user runs the first cell, puts the cursor at the end of the second
and presses Tab: JupyterLab asks the kernel, and a real table of that source is offered.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import nbformat
import pytest

from watch_pandas import WatchClient

NOTEBOOK = "completion_check.ipynb"
SOURCE = "demo-typed"


def _notebook() -> Any:
    setup = f"%load_ext watch_pandas\n%config WatchMagic.data_source = {SOURCE!r}"
    return nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(setup),
            nbformat.v4.new_code_cell("%%watch\nSELECT * FROM pri"),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )


@pytest.fixture(scope="module")
def completion_page(lab, browser, artifacts) -> Iterator[Any]:
    """The notebook open in JupyterLab, its first cell run."""
    nbformat.write(_notebook(), str(lab.root_dir / NOTEBOOK))
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.goto(lab.url_for(NOTEBOOK))
    page.locator(".jp-Notebook").wait_for()
    page.get_by_text(re.compile(r"^Python 3 \(ipykernel\) \| Idle$")).wait_for()
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    try:
        cells.nth(0).locator(".cm-content").click()
        page.keyboard.press("Shift+Enter")
        cells.nth(0).locator(".jp-InputPrompt", has_text="[1]").wait_for()
    except Exception:
        page.screenshot(path=str(artifacts / "completion-not-run.png"), full_page=True)
        raise
    try:
        yield page
    finally:
        page.screenshot(path=str(artifacts / "completion-final.png"), full_page=True)
        page.close()


def _tables(lw) -> list[str]:
    """The typed source's tables as the server lists them (its schema flow, job included)."""
    with WatchClient(lw.url, lw.admin_key) as client:
        return [table.name for table in client.get_schema(SOURCE)]


def test_tab_in_a_watch_cell_offers_a_real_table(completion_page, watch_server, artifacts):
    page = completion_page
    assert "prices" in _tables(watch_server)
    editor = page.locator(".jp-Notebook .jp-CodeCell").nth(1).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+End")  # the cursor after "pri"
    page.keyboard.press("Tab")
    # a single match is inserted at once; several are offered in the completer's list
    offered = page.locator(
        ".jp-Completer-item .jp-Completer-match", has_text=re.compile(r"^prices$")
    )
    inserted = editor.filter(has_text="FROM prices")
    offered.or_(inserted).first.wait_for()
    page.screenshot(path=str(artifacts / "completion.png"))
    assert offered.count() == 1 or "SELECT * FROM prices" in editor.inner_text()
