"""show_dashboard: a dashboard laid out in the notebook as on the server (ipywidgets driven
from Python), against the local server over real HTTP, plus the recorded dashboard 70 for the
layout of a body the server sent."""

from __future__ import annotations

import json
import logging
import sys
import threading
from datetime import date

import pandas as pd
import pytest
from _samples import sample_body

from watch_pandas import _cache as wc
from watch_pandas import _dashboard_view as V
from watch_pandas import show_dashboard
from watch_pandas.models import Dashboard


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(wc.CACHE_DIR_ENV, str(tmp_path / "watch-cache"))
    monkeypatch.delenv(wc.OFFLINE_ENV, raising=False)


@pytest.fixture
def lw(local_watch_demo):
    return local_watch_demo


def _show(lw, dashboard=None, **kw):
    dashboard = lw.demo.dashboards["defi_report"] if dashboard is None else dashboard
    return show_dashboard(dashboard, url=lw.url, api_key=lw.admin_key, **kw)


def _widget_states(root) -> str:
    """Every trait value of a widget tree as one JSON text."""
    seen, stack, texts = set(), [root], []
    while stack:
        widget = stack.pop()
        if widget.model_id in seen:
            continue
        seen.add(widget.model_id)
        texts.append(json.dumps(widget.get_state(), default=str))
        stack.extend(getattr(widget, "children", ()))
    return "\n".join(texts)


# --------------------------------------------------------------------------- layout


def test_saved_positions_become_grid_cells_and_a_wider_layout_gets_more_columns():
    board = Dashboard.from_json(sample_body("70-dashboard-with-widgets-by-id"))
    columns, cells = V.grid_cells(board.widgets)
    # widget 11 sits at col 6 with 4 columns: this layout reaches column 10 of 12
    assert columns == 12
    by_id = {cell.widget.id: cell for cell in cells}
    assert (by_id[10].grid_row, by_id[10].grid_column) == ("1 / span 3", "1 / span 6")
    assert (by_id[11].grid_row, by_id[11].grid_column) == ("1 / span 5", "7 / span 4")
    assert (by_id[16].grid_row, by_id[16].grid_column) == ("24 / span 14", "1 / span 6")
    assert by_id[16].auto_height and not by_id[10].auto_height
    # in layout order: row, then column
    assert [c.widget.id for c in cells] == [10, 11, 12, 13, 14, 15, 16]


def test_a_widget_without_a_position_goes_below_the_others():
    body = sample_body("70-dashboard-with-widgets-by-id")
    body["widgets"] = body["widgets"][:2]
    del body["widgets"][0]["options"]["position"]
    columns, cells = V.grid_cells(Dashboard.from_json(body).widgets)
    assert [c.widget.id for c in cells] == [11, 10]
    assert cells[1].grid_row.startswith("6 /")  # below widget 11 (rows 1-5)


def test_the_demo_report_is_laid_out_on_the_six_column_grid(lw):
    view = _show(lw, run=False)
    assert view.grid.layout.grid_template_columns == "repeat(6, minmax(0, 1fr))"
    # grid-area: row start / column start / rows spanned / columns spanned
    assert [c.box.layout.grid_area for c in view.cells] == [
        "1 / 1 / span 3 / span 6",  # the intro text
        "4 / 1 / span 8 / span 4",  # Price history
        "4 / 5 / span 8 / span 2",  # param date range
        "12 / 1 / span 8 / span 3",  # Markets
        "12 / 4 / span 8 / span 3",  # Positions (autoHeight)
        "20 / 1 / span 2 / span 6",  # the footnote
    ]
    assert list(view.grid.children) == [c.box for c in view.cells]
    assert view.cells[4].box.layout.height is None  # autoHeight: as tall as its content
    assert view.widget.children[0] is view.parameters_box  # the picker on top
    view.close()


def test_text_widgets_show_their_markdown(lw):
    view = _show(lw, run=False)
    intro = view.cells[0]
    assert intro.widget.query is None
    [output] = intro.output.outputs
    assert output["data"]["text/markdown"] == intro.widget.text
    assert output["data"]["text/markdown"].startswith("## DeFi market report")
    view.close()


# --------------------------------------------------------------------------- parameters and runs


def test_only_dashboard_level_parameters_are_on_top_with_the_shared_default(lw):
    view = _show(lw, run=False)
    assert list(view.fields) == ["period"]  # symbols: widget-level; min_price: static
    start, end = view.fields["period"].controls
    # the first widget in layout order (Price history) gives the shared default
    assert (start.value, end.value) == (date(2024, 1, 1), date(2024, 1, 31))
    view.close()


def test_run_reads_every_widget_with_the_chosen_and_mapped_values(lw):
    view = _show(lw, run=False, max_age=0)
    start, end = view.fields["period"].controls
    start.value, end.value = date(2024, 2, 3), date(2024, 2, 5)

    view.run_button.click()
    frames = view.wait(timeout=120)

    assert view.error is None, view.message.value
    assert list(frames) == ["Price history", "param date range", "Markets", "Positions (wei)"]
    history, ranged = frames["Price history"], frames["param date range"]
    for frame in (history, ranged):  # both take the shared dashboard parameter
        assert pd.to_datetime(frame["day"]).between("2024-02-03", "2024-02-05").all()
        assert not frame.empty
    assert set(history["symbol"]) == {"WETH", "WBTC"}  # widget-level: its saved choice
    assert (history["price"] >= 1000).all()  # static value
    # each query widget shows its frame in its own cell; one progress line for all
    for cell in view.cells[1:5]:
        shown = cell.output.outputs[0]["data"]["text/plain"]
        assert shown == repr(frames[cell.title])
    assert "4 of 4 widgets" in view.progress.value
    assert not view.run_button.disabled and view.cancel_button.disabled
    view.close()


def test_show_dashboard_runs_at_once_and_accepts_params(lw):
    view = _show(lw, params={"period": ("2024-03-01", "2024-03-02")})
    frames = view.wait(timeout=120)
    assert view.frames is frames and len(frames) == 4
    assert pd.to_datetime(frames["Price history"]["day"]).max() <= pd.Timestamp("2024-03-02")
    view.close()


def test_a_failing_widget_shows_its_error_and_the_others_their_frames(local_watch):
    lw = local_watch
    ds = lw.add_data_source("db")
    good = lw.add_query("SELECT 1 AS n", ds, name="good")
    bad = lw.add_query("SELECT * FROM missing_table", ds, name="bad")
    board = lw.add_dashboard("mixed", query_ids=[good, bad])
    view = show_dashboard(board, url=lw.url, api_key=lw.admin_key)
    frames = view.wait(timeout=60)
    assert list(frames) == ["good"] and list(frames.errors) == ["bad"]
    failed = view.cells[1]
    assert "missing_table" in failed.status.value
    assert failed.output.outputs == ()
    assert "1 of 2 widgets failed" in view.message.value
    view.close()


def test_cancel_stops_every_widget_job(local_watch):
    lw = local_watch
    ds = lw.add_data_source("db")
    ids = [lw.add_query(f"SELECT {i} AS n", ds, name=f"q{i}") for i in range(3)]
    board = lw.add_dashboard("three", query_ids=ids)
    lw.hold_jobs()  # every job stays queued until cancelled
    watchdog = threading.Timer(30, lw.release_jobs)  # a lost cancel ends in 30 s, not a hang
    watchdog.start()
    try:
        view = show_dashboard(
            board, url=lw.url, api_key=lw.admin_key, run=False, max_age=0, cache=False
        )
        view.run()
        for _ in range(600):  # until the three jobs wait on the server
            if len(lw._backend.jobs.all()) == 3:
                break
            threading.Event().wait(0.05)
        assert len(lw._backend.jobs.all()) == 3
        view.cancel_button.click()
        view.wait(timeout=60)
    finally:
        watchdog.cancel()
        lw.release_jobs()
    assert [job.error for job in lw._backend.jobs.all()] == ["Query cancelled by user."] * 3
    assert "Cancelled" in view.message.value
    assert len(view.frames) == 0
    assert not view.run_button.disabled and view.cancel_button.disabled
    view.close()


@pytest.mark.parametrize("round_", range(3))
def test_cancel_sends_one_delete_per_job_and_warns_about_none(local_watch, caplog, round_):
    # jobs that really run (queued, then running) and poll while Cancel is pressed: the
    # interrupt and each widget's own read must not both cancel a job (the second DELETE of a
    # cancelled job is a server error, which used to be logged as a failed cancel)
    lw = local_watch
    lw.execution_delay = 3
    ds = lw.add_data_source("db")
    ids = [lw.add_query(f"SELECT {i} AS n", ds, name=f"q{i}") for i in range(4)]
    board = lw.add_dashboard("four", query_ids=ids)
    caplog.set_level(logging.DEBUG, logger="watch_pandas")
    view = show_dashboard(board, url=lw.url, api_key=lw.admin_key, max_age=0, cache=False)
    polls = "/api/jobs/<id>"
    for _ in range(600):  # until every widget has polled its job at least once
        if lw.counters.requests("GET", polls) >= 4:
            break
        threading.Event().wait(0.05)
    view.cancel_button.click()
    view.wait(timeout=60)
    jobs = lw._backend.jobs.all()
    assert [job.error for job in jobs] == ["Query cancelled by user."] * 4
    assert lw.counters.requests("DELETE") == 4
    assert not [r for r in caplog.records if "could not cancel" in r.getMessage()]
    assert "Cancelled" in view.message.value
    view.close()


def test_a_bad_parameter_is_shown_next_to_its_field_and_nothing_runs(lw):
    view = _show(lw, run=False)
    view.fields["period"].controls[0].value = None
    lw.counters.reset()
    assert view.run() is False
    assert "period" in view.fields["period"].error.value.lower()
    assert lw.counters.executions == 0
    view.close()


# --------------------------------------------------------------------------- keys and extras


def test_no_widget_holds_the_api_key(lw):
    view = _show(lw)
    view.wait(timeout=120)
    assert lw.admin_key not in _widget_states(view.widget)
    assert lw.admin_key not in repr(view)
    view.close()


def test_without_ipywidgets_it_says_which_extra_to_install(lw, monkeypatch):
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets → ImportError
    with pytest.raises(ImportError, match=r"pip install 'watch-pandas\[jupyter\]'"):
        _show(lw)


def test_a_visualization_widget_is_drawn_as_its_saved_visualization():
    body = sample_body("70-dashboard-with-widgets-by-id")
    board = Dashboard.from_json(body)
    counter = next(
        w for w in board.widgets if w.visualization and w.visualization.type == "COUNTER"
    )
    chart = next(w for w in board.widgets if w.visualization and w.visualization.type == "CHART")
    frame = pd.DataFrame(
        {"day": pd.to_datetime(["2024-01-01", "2024-01-02"]), "total_price": [1.0, 2.0],
         "total_amount": [3.0, 4.0], "n": [1, 2]}
    )  # fmt: skip
    shown = V.widget_view(counter, frame)
    assert type(shown).__name__ == "Counter" and shown is not frame
    figure = V.widget_view(chart, frame)
    assert figure.data and list(figure.data[0].x) == list(frame["day"])


def test_without_plotly_a_chart_widget_is_its_table_with_a_line_naming_the_extra(monkeypatch):
    board = Dashboard.from_json(sample_body("70-dashboard-with-widgets-by-id"))
    chart = next(w for w in board.widgets if w.visualization and w.visualization.type == "CHART")
    frame = pd.DataFrame({"day": ["2024-01-01"], "total_price": [1.0]})
    monkeypatch.setitem(sys.modules, "plotly.graph_objects", None)  # import → ImportError
    shown = V.widget_view(chart, frame)
    assert shown.frame is frame
    assert "watch-pandas[plot]" in shown.message
