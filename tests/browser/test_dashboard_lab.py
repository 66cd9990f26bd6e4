"""A dashboard as a user sees it: ``show_dashboard`` in JupyterLab in headless Chromium.

JupyterLab (the ``lab`` fixture) also serves ``notebooks/dashboard_check.ipynb``; the user runs
all its cells from the Run menu and looks at the grid. What the page shows is checked against
the dashboard as the local Watch server serves it (its API, with the admin key).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import requests

NOTEBOOK = "dashboard_check.ipynb"
SLUG = "defi-market-report"


@pytest.fixture(scope="module")
def dashboard_page(after_run_all, repo_root, lab) -> Iterator[Any]:
    """The dashboard notebook open in JupyterLab, after Run All Cells and the first read."""
    shutil.copy2(repo_root / "notebooks" / NOTEBOOK, lab.root_dir / NOTEBOOK)
    ready = lambda page: page.locator(".widget-gridbox").first.wait_for()  # noqa: E731
    with after_run_all(NOTEBOOK, ready, "dashboard") as page:
        yield page


def _server_widgets(lw) -> list[dict[str, Any]]:
    response = requests.get(
        f"{lw.url}/api/dashboards/{SLUG}?legacy",
        headers={"Authorization": f"Key {lw.admin_key}"},
        timeout=10,
    )
    response.raise_for_status()
    widgets = response.json()["widgets"]
    position = lambda w: (w["options"]["position"]["row"], w["options"]["position"]["col"])  # noqa: E731
    return sorted(widgets, key=position)


def test_the_dashboard_shows_its_widgets_in_their_saved_grid(
    dashboard_page, watch_server, artifacts, repo_root
):
    page = dashboard_page
    grid = page.locator(".widget-gridbox").first
    grid.scroll_into_view_if_needed()
    saved = _server_widgets(watch_server)
    cells = grid.locator(":scope > .widget-box")
    assert cells.count() == len(saved)
    # each query widget shows its table once the read is done; the text widgets their Markdown
    for index, widget in enumerate(saved):
        cell = cells.nth(index)
        if "visualization" in widget:
            query = widget["visualization"]["query"]["name"]
            cell.locator("a", has_text=query).wait_for()
            cell.locator("table").first.wait_for()
        else:
            cell.locator(".jp-RenderedMarkdown").wait_for()
    cells.nth(0).locator("h2", has_text="DeFi market report").wait_for()

    boxes = [cells.nth(i).bounding_box() for i in range(len(saved))]
    unit = boxes[0]["width"] / saved[0]["options"]["position"]["sizeX"]  # full width / 6
    for widget, box in zip(saved, boxes, strict=True):
        position = widget["options"]["position"]
        # left edges follow the saved columns; a widget below another starts lower
        assert box["x"] - boxes[0]["x"] == pytest.approx(position["col"] * unit, abs=unit / 2)
    by_row: dict[int, list[float]] = {}
    for widget, box in zip(saved, boxes, strict=True):
        by_row.setdefault(widget["options"]["position"]["row"], []).append(box["y"])
    tops = [ys for _, ys in sorted(by_row.items())]
    assert all(max(ys) - min(ys) < 2 for ys in tops)  # widgets of one row start together
    assert [ys[0] for ys in tops] == sorted(ys[0] for ys in tops)

    page.locator(".widget-label", has_text="Period").first.wait_for()  # the picker on top
    # tall enough for the whole board: no toolbar drawn over an element taller than the page
    page.set_viewport_size({"width": 1280, "height": 2400})
    output = page.locator(".jp-OutputArea-output").filter(has=grid).first
    output.scroll_into_view_if_needed()
    output.screenshot(path=str(artifacts / "dashboard.png"))
    if os.environ.get("WATCH_BROWSER_UPDATE_DOCS") == "1":
        output.screenshot(path=str(repo_root / "docs" / "dashboard.png"))


def test_the_key_is_never_on_the_dashboard_page(dashboard_page, watch_server):
    assert watch_server.admin_key not in dashboard_page.content()
