"""A saved chart as a user sees it: ``plot()`` in JupyterLab in headless Chromium.

JupyterLab (the ``lab`` fixture) also serves ``notebooks/chart_check.ipynb``; the user runs all
its cells from the Run menu and looks at the chart. What the page shows is checked against the
query's saved visualization as the local Watch server serves it (its API, with the admin key).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import requests

NOTEBOOK = "chart_check.ipynb"


@pytest.fixture(scope="module")
def chart_page(after_run_all, repo_root, lab) -> Iterator[Any]:
    """The chart notebook open in JupyterLab, after Run All Cells."""
    shutil.copy2(repo_root / "notebooks" / NOTEBOOK, lab.root_dir / NOTEBOOK)
    ready = lambda page: page.locator(".js-plotly-plot").first.wait_for()  # noqa: E731
    with after_run_all(NOTEBOOK, ready, "chart") as page:
        yield page


def _saved_query(lw) -> dict[str, Any]:
    response = requests.get(
        f"{lw.url}/api/queries/{lw.demo.queries['price_history']}",
        headers={"Authorization": f"Key {lw.admin_key}"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def test_plot_draws_the_saved_chart_in_jupyterlab(chart_page, watch_server, artifacts, repo_root):
    query = _saved_query(watch_server)
    saved = next(v for v in query["visualizations"] if v["type"] != "TABLE")
    defaults = {p["name"]: p["value"] for p in query["options"]["parameters"]}
    chart = chart_page.locator(".js-plotly-plot").first
    chart.scroll_into_view_if_needed()
    assert chart.locator(".gtitle").text_content() == saved["name"]
    # one line per market of the saved parameters, named in the legend
    symbols = chart.locator(".legend .legendtext").all_text_contents()
    assert sorted(symbols) == sorted(defaults["symbols"])
    assert chart.locator(".scatterlayer .trace").count() == len(symbols)
    title = saved["options"]["yAxis"][0]["title"]["text"]
    assert chart.locator(".g-ytitle").text_content() == title
    chart.screenshot(path=str(artifacts / "chart.png"))
    if os.environ.get("WATCH_BROWSER_UPDATE_DOCS") == "1":
        chart.screenshot(path=str(repo_root / "docs" / "chart.png"))


def test_the_key_is_never_on_the_chart_page(chart_page, watch_server):
    assert watch_server.admin_key not in chart_page.content()
