"""The parameter picker as a user sees it: JupyterLab in headless Chromium (issue #7).

One JupyterLab serves ``notebooks/browser_check.ipynb``; the user runs all cells from the Run
menu, then works the forms with the mouse and keyboard. What the page shows is checked
against what the local Watch server says (its API, with the admin key) — never against the
widget's own Python state. The tests run in file order on the one open notebook: the first
looks at the untouched defaults, the next ones edit and run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests

from watch_pandas.testing import LocalWatch

# Records, inside the page, every state the progress line shows ("watch: <state> · ..."),
# so no state is missed between two looks from the test.
_RECORD_STATES = """(element) => {
  const states = [];
  const record = () => {
    for (const node of element.querySelectorAll('.widget-html-content')) {
      const text = node.textContent || '';
      if (!text.startsWith('watch: ')) continue;
      const state = text.slice('watch: '.length).split(' · ')[0];
      if (states[states.length - 1] !== state) states.push(state);
    }
  };
  new MutationObserver(record).observe(
    element, {subtree: true, childList: true, characterData: true});
  element.__watchStates = states;
}"""

_TABLE = """(table) => ({
  columns: [...table.querySelectorAll('thead tr:first-child th')]
    .slice(1).map((th) => th.textContent.trim()),
  rows: [...table.querySelectorAll('tbody tr')]
    .map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent.trim())),
})"""


# -- what the user sees ----------------------------------------------------------------------
def picker_titled(page: Any, title: str) -> Any:
    """The output area of the cell whose picker has this title, scrolled into view."""
    heading = page.locator(".widget-html-content b", has_text=re.compile(f"^{re.escape(title)}$"))
    picker = page.locator(".jp-OutputArea-output").filter(has=heading).first
    picker.wait_for(state="attached")
    picker.scroll_into_view_if_needed()
    return picker


def field_row(picker: Any, label: str) -> Any:
    """A parameter's row in a picker, found by its label as shown."""
    name = picker.page.locator(".widget-label", has_text=re.compile(f"^{re.escape(label)}$"))
    return picker.locator(".widget-hbox").filter(has=name).first


def progress_line(picker: Any) -> Any:
    return picker.locator(".widget-html-content", has_text=re.compile(r"^watch: ")).first


def button(picker: Any, name: str) -> Any:
    # By its text: the role name would include the icon font's glyph.
    label = re.compile(rf"^\s*{re.escape(name)}\s*$")
    return picker.locator("button.jupyter-button", has_text=label).first


def expect_enabled(control: Any) -> None:
    """Wait (up to the page timeout) until the control is enabled; fail if it never is."""
    from playwright.sync_api import expect

    expect(control).to_be_enabled()


def expect_disabled(control: Any) -> None:
    from playwright.sync_api import expect

    expect(control).to_be_disabled()


def recorded_states(picker: Any) -> list[str]:
    return picker.evaluate("(element) => element.__watchStates")


def job_id_shown(picker: Any) -> str:
    """The job id the progress line shows (shortened in the text, whole in its tooltip)."""
    line = progress_line(picker)
    text = line.inner_text()
    short = re.search(r"job ([0-9a-f]{8})…", text)
    assert short, f"no job id in the progress line: {text!r}"
    title = line.locator("span[title]").first.get_attribute("title") or ""
    match = re.fullmatch(r"job ([0-9a-f-]{36})", title)
    assert match, f"no whole job id in the progress line's tooltip: {title!r}"
    assert match.group(1).startswith(short.group(1))
    return match.group(1)


# -- what the server says --------------------------------------------------------------------
def server_get(lw: LocalWatch, path: str) -> dict[str, Any]:
    response = requests.get(
        f"{lw.url}{path}", headers={"Authorization": f"Key {lw.admin_key}"}, timeout=10
    )
    response.raise_for_status()
    return response.json()


def parameter_definitions(lw: LocalWatch, query: str) -> dict[str, dict[str, Any]]:
    body = server_get(lw, f"/api/queries/{lw.demo.queries[query]}")
    return {p["name"]: p for p in body["options"]["parameters"]}


# -- the tests -------------------------------------------------------------------------------
def test_pickers_render_the_right_controls_with_the_saved_defaults(
    notebook_page, watch_server, artifacts
):
    page = notebook_page
    history = picker_titled(page, "Price history")
    saved = parameter_definitions(watch_server, "price_history")

    period = field_row(history, "Period").locator("input[type=date]")
    assert period.count() == 2
    assert [period.nth(0).input_value(), period.nth(1).input_value()] == [
        saved["period"]["value"]["start"],
        saved["period"]["value"]["end"],
    ]

    symbols = field_row(history, "Symbols").locator("select[multiple]")
    assert symbols.locator("option").all_inner_texts() == saved["symbols"]["enumOptions"].split(
        "\n"
    )
    selected = symbols.evaluate("(s) => [...s.selectedOptions].map((o) => o.value)")
    assert selected == saved["symbols"]["value"]

    min_price = field_row(history, "Min price").locator("input[type=text]")
    assert min_price.input_value() == str(saved["min_price"]["value"])  # "0", not "0.0"

    expect_enabled(button(history, "Run"))
    expect_disabled(button(history, "Cancel"))

    by_chain = picker_titled(page, "param enum")
    chain_saved = parameter_definitions(watch_server, "param_enum")["chain"]
    chain = field_row(by_chain, "Chain").locator("select")
    assert chain.get_attribute("multiple") is None
    assert chain.locator("option").all_inner_texts() == chain_saved["enumOptions"].split("\n")
    assert chain.input_value() == chain_saved["value"]

    history.screenshot(path=str(artifacts / "picker-defaults.png"))


def test_edit_a_date_and_an_enum_press_run_and_see_progress_then_the_table(
    notebook_page, watch_server, artifacts, repo_root
):
    page = notebook_page
    history = picker_titled(page, "Price history")
    period = field_row(history, "Period").locator("input[type=date]")
    period.nth(0).fill("2024-02-05")
    period.nth(1).fill("2024-02-10")
    field_row(history, "Symbols").locator("select[multiple]").select_option(["WETH", "DAI"])
    field_row(history, "Min price").locator("input[type=text]").fill("0.5")  # not sent as 0
    history.screenshot(path=str(artifacts / "picker-before-run.png"))

    history.evaluate(_RECORD_STATES)
    # Each job now spends 3 s queued and 3 s running: longer than the client's longest poll
    # interval (2 s), so both states are polled and shown.
    watch_server.execution_delay = 3.0
    try:
        button(history, "Run").click()
        page.wait_for_function(
            "(element) => element.__watchStates.length > 0", arg=history.element_handle()
        )
        expect_disabled(button(history, "Run"))
        expect_enabled(button(history, "Cancel"))
        table = history.locator("table.dataframe")
        table.wait_for()
    finally:
        watch_server.execution_delay = 0.0

    states = recorded_states(history)
    assert states[0] == "queued" and states[-1] == "done", states
    assert states.index("queued") < states.index("running") < states.index("done"), states
    expect_enabled(button(history, "Run"))  # re-enabled once the run is over
    expect_disabled(button(history, "Cancel"))

    # The server ran the SQL with the edited values, and the page shows that result's rows.
    job = server_get(watch_server, f"/api/jobs/{job_id_shown(history)}")["job"]
    assert job["status"] == 3, job
    result = server_get(watch_server, f"/api/query_results/{job['query_result_id']}")
    result = result["query_result"]
    assert "BETWEEN '2024-02-05' AND '2024-02-10'" in result["query"]
    assert re.search(r"IN \('(WETH|DAI)','(WETH|DAI)'\)", result["query"]), result["query"]
    assert "p.price >= 0.5\n" in result["query"], result["query"]
    server_rows = result["data"]["rows"]

    shown = table.evaluate(_TABLE)
    assert shown["columns"] == [column["name"] for column in result["data"]["columns"]]
    assert len(shown["rows"]) == len(server_rows) > 0
    symbol_at = shown["columns"].index("symbol")
    day_at = shown["columns"].index("day")
    assert [row[symbol_at] for row in shown["rows"]] == [row["symbol"] for row in server_rows]
    assert [row[day_at][:10] for row in shown["rows"]] == [row["day"][:10] for row in server_rows]
    assert {row[symbol_at] for row in shown["rows"]} == {"WETH", "DAI"}
    history.get_by_text(f"{len(server_rows)} rows × {len(shown['columns'])} columns").wait_for()

    history.screenshot(path=str(artifacts / "picker-after-run.png"))
    if _update_docs():
        history.screenshot(path=str(repo_root / "docs" / "picker.png"))


def test_cancel_a_slow_query_and_the_server_job_is_cancelled(
    notebook_page, watch_server, artifacts
):
    page = notebook_page
    by_chain = picker_titled(page, "param enum")
    by_chain.evaluate(_RECORD_STATES)
    field_row(by_chain, "Chain").locator("select").select_option("arbitrum")

    watch_server.hold_jobs()  # the job stays queued until released: a query that takes forever
    try:
        button(by_chain, "Run").click()
        progress_line(by_chain).filter(has_text=re.compile(r"^watch: queued .*job ")).wait_for()
        job_id = job_id_shown(by_chain)
        assert server_get(watch_server, f"/api/jobs/{job_id}")["job"]["status"] == 1

        button(by_chain, "Cancel").click()
        by_chain.get_by_text(re.compile("^Cancelled: the server job was stopped")).wait_for()
    finally:
        watch_server.release_jobs()

    job = server_get(watch_server, f"/api/jobs/{job_id}")["job"]
    assert job["status"] == 4, job
    assert "cancelled" in job["error"].lower(), job
    assert recorded_states(by_chain)[-1] == "cancelled"
    expect_enabled(button(by_chain, "Run"))
    expect_disabled(button(by_chain, "Cancel"))
    assert by_chain.locator("table.dataframe").count() == 0
    by_chain.screenshot(path=str(artifacts / "picker-cancelled.png"))


def test_a_start_after_the_end_is_marked_at_the_field_and_run_sends_nothing(
    notebook_page, watch_server
):
    history = picker_titled(notebook_page, "Price history")
    row = field_row(history, "Period")
    period = row.locator("input[type=date]")
    period.nth(0).fill("2024-03-20")
    period.nth(1).fill("2024-03-10")
    row.get_by_text(re.compile("start must be on or before the end")).wait_for()

    executions = watch_server.counters.executions
    done_before = progress_line(history).inner_text()
    button(history, "Run").click()  # refused: the form is invalid
    period.nth(1).fill("2024-03-25")  # the user corrects the end ...
    row.get_by_text(re.compile("start must be on or before the end")).wait_for(state="detached")
    button(history, "Run").click()  # ... and runs again
    progress_line(history).filter(has_text=re.compile(r"^watch: done ")).filter(
        has_not_text=done_before
    ).wait_for()

    # The kernel handles clicks in order: only the corrected form reached the server.
    assert watch_server.counters.executions == executions + 1
    days = history.locator("table.dataframe").evaluate(_TABLE)
    day_at = days["columns"].index("day")
    assert {row[day_at][:10] for row in days["rows"]} <= {f"2024-03-{day}" for day in range(20, 26)}


def test_the_key_is_never_on_the_page_nor_in_the_saved_notebook(notebook_page, lab, watch_server):
    page = notebook_page
    assert watch_server.admin_key not in page.content()

    saved = Path(lab.root_dir) / "browser_check.ipynb"
    page.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    page.locator(".jp-mod-dirty").wait_for(state="detached")
    text = saved.read_text(encoding="utf-8")
    assert "Watch server: http://127.0.0.1" in text  # outputs were saved: the check means something
    assert watch_server.admin_key not in text


def _update_docs() -> bool:
    """Refresh docs/picker.png only when asked (WATCH_BROWSER_UPDATE_DOCS=1)."""
    import os

    return os.environ.get("WATCH_BROWSER_UPDATE_DOCS") == "1"


@pytest.fixture(autouse=True)
def _no_state_leaks(watch_server):
    """Whatever a test did to the server's pace, the next one starts with jobs flowing."""
    yield
    watch_server.release_jobs()
    watch_server.execution_delay = 0.0


def test_a_datetime_with_seconds_shows_its_seconds(notebook_page, watch_server, artifacts):
    since = picker_titled(notebook_page, "param datetime seconds")
    saved = parameter_definitions(watch_server, "param_datetime_seconds")["since"]["value"]
    control = field_row(since, "Since").locator("input[type=datetime-local]")
    assert control.input_value()[:19] == saved.replace(" ", "T")
    since.screenshot(path=str(artifacts / "picker-datetime-seconds.png"))
