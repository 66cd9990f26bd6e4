"""read_watch_dashboard: titles, parameter mappings, the concurrency bound and partial failures.

Against the local server (real HTTP), plus a recorded dashboard body (``35-dashboard-by-id``)
for widget shapes the local server does not produce (text widgets, mappings).
"""

from __future__ import annotations

import copy
import json
import re
import signal
import threading

import pandas as pd
import pytest
import requests
import responses
from _samples import sample_body

from watch_pandas import (
    ConfigError,
    ParameterError,
    QueryFailedError,
    WatchTimeoutError,
    read_watch_query,
)
from watch_pandas import _cache as wc
from watch_pandas._client import WatchClient
from watch_pandas._dashboards import (
    DashboardError,
    DashboardFrames,
    read_watch_dashboard,
    widget_parameters,
)
from watch_pandas.models import Widget

URL = "https://watch.test"
KEY = "USERKEY0123456789abcdefghijklmnopqrstuv"
POST_RESULTS = "/api/queries/<id>/results"


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv(wc.CACHE_DIR_ENV, str(tmp_path / "watch-cache"))
    monkeypatch.delenv(wc.OFFLINE_ENV, raising=False)


@pytest.fixture
def lw(local_watch_demo):
    return local_watch_demo


@pytest.fixture
def board(lw):
    return lw.demo.dashboards["defi_overview"]


def read_board(lw, dashboard, params=None, **kw):
    kw.setdefault("progress", False)
    return read_watch_dashboard(dashboard, params, url=lw.url, api_key=lw.admin_key, **kw)


# --------------------------------------------------------------------------- titles and frames


def test_every_query_widget_is_a_frame_keyed_by_its_query_name(lw, board):
    raw = requests.get(
        f"{lw.url}/api/dashboards/{board}",
        headers={"Authorization": f"Key {lw.admin_key}"},
        timeout=30,
    ).json()
    names = [w["visualization"]["query"]["name"] for w in raw["widgets"]]

    frames = read_board(lw, board)

    assert isinstance(frames, DashboardFrames) and frames.errors == {}
    assert list(frames) == names
    for widget in raw["widgets"]:
        query = widget["visualization"]["query"]
        alone = read_watch_query(
            query["id"], url=lw.url, api_key=lw.admin_key, progress=False, cache=False
        )
        pd.testing.assert_frame_equal(frames[query["name"]], alone)


def test_a_slug_works_and_a_second_read_comes_from_the_local_cache(lw, board):
    first = read_board(lw, lw.demo.dashboard_slugs["defi_overview"])
    lw.counters.reset()
    again = read_board(lw, board)
    assert list(again) == list(first)
    assert {f.attrs["watch"]["source"] for f in again.values()} == {"local cache"}
    assert lw.counters.executions == 0
    assert lw.counters.requests("POST", POST_RESULTS) == 0


def test_duplicate_titles_are_numbered_and_text_widgets_skipped():
    body = sample_body("35-dashboard-by-id")
    plain = body["widgets"][0]
    twin = copy.deepcopy(plain)
    twin["id"] = 3
    text = {"id": 4, "width": 1, "options": {}, "dashboard_id": 1, "text": "# Notes"}
    body["widgets"] = [plain, text, twin]
    result = sample_body("30-untyped-sqlite-json")
    with responses.RequestsMock() as mocked:
        mocked.get(f"{URL}/api/dashboards/1", json=body)
        mocked.post(f"{URL}/api/queries/1/results", json=result)
        mocked.post(f"{URL}/api/queries/1/results", json=result)
        frames = read_watch_dashboard(1, url=URL, api_key=KEY, progress=False, cache=False)
        paths = [c.request.url.replace(URL, "") for c in mocked.calls]
    assert list(frames) == ["demo plain", "demo plain (2)"]
    assert "/api/queries/1" not in paths  # the dashboard JSON already holds each query
    for call in mocked.calls:
        assert KEY not in call.request.url


# --------------------------------------------------------------------------- parameters


def params_widget(mappings: dict) -> Widget:
    raw = copy.deepcopy(sample_body("35-dashboard-by-id")["widgets"][1])
    raw["options"]["parameterMappings"] = mappings
    return Widget.from_json(raw)


def test_mappings_pick_dashboard_static_or_default_values():
    widget = params_widget(
        {
            "start_date": {"name": "start_date", "type": "dashboard-level", "mapTo": "since"},
            "min_price": {"name": "min_price", "type": "static-value", "value": 99},
            "flag": {"name": "flag", "type": "widget-level", "value": None},
        }
    )
    given = {"since": "2024-06-01", "flag": "0", "label": "x", "start_date": "ignored"}
    # label has no mapping and no `global` flag: widget-level, keeps its own value
    assert widget_parameters(widget, given) == {"start_date": "2024-06-01", "min_price": 99}


def test_an_unmapped_global_parameter_is_dashboard_level_under_its_name():
    raw = copy.deepcopy(sample_body("35-dashboard-by-id")["widgets"][1])
    raw["options"]["parameterMappings"] = {}
    for definition in raw["visualization"]["query"]["options"]["parameters"]:
        definition["global"] = definition["name"] == "label"
    widget = Widget.from_json(raw)
    assert widget_parameters(widget, {"label": "x", "flag": "0"}) == {"label": "x"}


def test_mapped_values_are_what_the_server_receives():
    body = sample_body("35-dashboard-by-id")
    body["widgets"][1]["options"]["parameterMappings"] = {
        "min_price": {"name": "min_price", "type": "static-value", "value": 5},
        "flag": {"name": "flag", "type": "dashboard-level", "mapTo": "flag"},
    }
    with responses.RequestsMock() as mocked:
        mocked.get(f"{URL}/api/dashboards/1", json=body)
        mocked.post(f"{URL}/api/queries/1/results", json=sample_body("30-untyped-sqlite-json"))
        mocked.post(f"{URL}/api/queries/2/results", json=sample_body("07-results-post-cached"))
        read_watch_dashboard(
            1, {"flag": "0"}, url=URL, api_key=KEY, progress=False, cache=False, max_workers=1
        )
        sent = {
            call.request.url: json.loads(call.request.body)["parameters"]
            for call in mocked.calls
            if call.request.method == "POST"
        }
    assert sent[f"{URL}/api/queries/2/results"] == {
        "start_date": "2024-03-01",  # saved default
        "min_price": 5,  # static value
        "flag": "0",  # dashboard parameter
        "label": "item",
    }
    assert sent[f"{URL}/api/queries/1/results"] == {}


def test_a_parameter_no_widget_takes_is_refused_before_anything_runs(lw, board):
    with pytest.raises(ParameterError) as info:
        read_board(lw, board, {"min_prise": 5})
    # the demo's widgets map their parameters to dashboard parameters, as the web UI does
    message = str(info.value)
    assert "'min_prise'" in message and "'min_price', 'period', 'symbols'" in message
    assert lw.counters.requests("POST", POST_RESULTS) == 0


def test_dashboard_parameters_reach_the_demo_widgets(lw, board):
    frames = read_board(lw, board, {"period": ("2024-01-05", "2024-01-07")})
    days = frames["Price history"]["day"]
    assert not days.empty
    assert days.min() >= pd.Timestamp("2024-01-05") and days.max() <= pd.Timestamp("2024-01-07")


def test_a_widget_level_parameter_is_not_a_dashboard_parameter(local_watch):
    lw = local_watch
    ds = lw.add_data_source("db")
    qid = lw.add_query(
        "SELECT {{n}} AS n",
        ds,
        name="q",
        parameters=[{"name": "n", "title": "n", "type": "number", "value": 1}],
    )
    did = lw.add_dashboard("widget level", query_ids=[qid])
    stored = lw._backend.store.get("dashboards", did)
    stored["widgets"][0]["options"]["parameterMappings"]["n"]["type"] = "widget-level"
    lw._backend.store.put("dashboards", stored)
    with pytest.raises(ParameterError, match="widget or static parameters"):
        read_board(lw, did, {"n": 3000})
    assert lw.counters.requests("POST", POST_RESULTS) == 0


def test_an_unset_dashboard_parameter_takes_the_layout_first_widgets_default():
    body = sample_body("35-dashboard-by-id")
    first, second = copy.deepcopy(body["widgets"][1]), copy.deepcopy(body["widgets"][1])
    second["id"], second["visualization"]["query"]["id"] = 9, 3
    second["visualization"]["query"]["name"] = "other"
    second["visualization"]["query"]["options"]["parameters"][0]["value"] = "2020-01-01"
    first["options"]["position"] = {"row": 8, "col": 0}  # listed first, laid out second
    second["options"]["position"] = {"row": 0, "col": 3}
    for widget in (first, second):
        widget["options"]["parameterMappings"] = {
            "start_date": {"name": "start_date", "type": "dashboard-level", "mapTo": "since"}
        }
    body["widgets"] = [first, second]
    cached = sample_body("07-results-post-cached")
    with responses.RequestsMock() as mocked:
        mocked.get(f"{URL}/api/dashboards/1", json=body)
        mocked.post(f"{URL}/api/queries/2/results", json=cached)
        mocked.post(f"{URL}/api/queries/3/results", json=cached)
        read_watch_dashboard(1, url=URL, api_key=KEY, progress=False, cache=False)
        sent = {
            call.request.url: json.loads(call.request.body)["parameters"]["start_date"]
            for call in mocked.calls
            if call.request.method == "POST"
        }
    # one shared value, the default of the widget at the top of the layout
    assert sent == {
        f"{URL}/api/queries/2/results": "2020-01-01",
        f"{URL}/api/queries/3/results": "2020-01-01",
    }


def _shared_day_board(first_type: str, first_default: str, second_type: str) -> dict:
    """Two widgets (queries 2 and 3) whose `day` parameters map to dashboard parameter `day`."""
    body = sample_body("35-dashboard-by-id")
    first, second = copy.deepcopy(body["widgets"][1]), copy.deepcopy(body["widgets"][1])
    second["id"], second["visualization"]["query"]["id"] = 9, 3
    second["visualization"]["query"]["name"] = "other"
    first["options"]["position"] = {"row": 0, "col": 0}
    second["options"]["position"] = {"row": 8, "col": 0}
    for widget, kind, default in ((first, first_type, first_default), (second, second_type, None)):
        widget["visualization"]["query"]["options"]["parameters"] = [
            {"name": "day", "title": "Day", "type": kind, "value": default}
        ]
        widget["options"]["parameterMappings"] = {
            "day": {"name": "day", "type": "dashboard-level", "mapTo": "day"}
        }
    body["widgets"] = [first, second]
    return body


def _sent_days(body: dict, params=None) -> dict[int, object]:
    cached = sample_body("07-results-post-cached")
    with responses.RequestsMock() as mocked:
        mocked.get(f"{URL}/api/dashboards/1", json=body)
        mocked.post(f"{URL}/api/queries/2/results", json=cached)
        mocked.post(f"{URL}/api/queries/3/results", json=cached)
        read_watch_dashboard(1, params, url=URL, api_key=KEY, progress=False, cache=False)
        return {
            int(call.request.url.split("/")[-2]): json.loads(call.request.body)["parameters"]["day"]
            for call in mocked.calls
            if call.request.method == "POST"
        }


def test_a_shared_saved_default_is_formatted_to_each_widgets_parameter_type():
    """The web UI gives every mapped widget the dashboard value in its own type's format: a
    datetime-local default reaches a `date` parameter as the date (docs/protocol.md#parameters)."""
    body = _shared_day_board("datetime-local", "2024-03-01 10:30", "date")
    assert _sent_days(body) == {2: "2024-03-01 10:30", 3: "2024-03-01"}


def test_a_saved_default_finer_than_its_type_is_sent_as_read_watch_query_sends_it():
    body = _shared_day_board("datetime-local", "2024-01-10 12:00:30", "datetime-local")
    assert _sent_days(body) == {2: "2024-01-10 12:00", 3: "2024-01-10 12:00"}


def test_a_value_the_caller_gives_is_still_checked_strictly():
    body = _shared_day_board("datetime-local", "2024-03-01 10:30", "date")
    cached = sample_body("07-results-post-cached")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.get(f"{URL}/api/dashboards/1", json=body)
        mocked.post(f"{URL}/api/queries/2/results", json=cached)
        mocked.post(f"{URL}/api/queries/3/results", json=cached)
        with pytest.warns(RuntimeWarning, match="'other' failed"):
            frames = read_watch_dashboard(
                1, {"day": "2024-03-01 10:30"}, url=URL, api_key=KEY, progress=False, cache=False
            )  # a time of day, typed by the caller, for the date parameter of query 3
        posted = [c.request.url for c in mocked.calls if c.request.method == "POST"]
    assert posted == [f"{URL}/api/queries/2/results"]
    assert isinstance(frames.errors["other"], ParameterError)
    assert "time of day" in str(frames.errors["other"])


@pytest.fixture
def mapped_board(local_watch):
    """Two widgets whose `n` parameters (defaults 1 and 2) map to dashboard parameter `n`."""
    lw = local_watch
    ds = lw.add_data_source("db")
    ids = [
        lw.add_query(
            "SELECT {{n}} AS n",
            ds,
            name=f"q{default}",
            parameters=[{"name": "n", "title": "n", "type": "number", "value": default}],
        )
        for default in (1, 2)
    ]
    return lw, lw.add_dashboard("mapped", query_ids=ids)  # mapped as the web UI maps them


def test_dashboard_parameters_reach_every_mapped_widget(mapped_board):
    lw, did = mapped_board
    unset = read_board(lw, did)
    assert {t: f["n"].tolist() for t, f in unset.items()} == {"q1": [1], "q2": [1]}
    given = read_board(lw, did, {"n": 7})
    assert {t: f["n"].tolist() for t, f in given.items()} == {"q1": [7], "q2": [7]}


# --------------------------------------------------------------------------- concurrency


@pytest.fixture
def ten_widget_board(local_watch):
    ds = local_watch.add_data_source("db")
    ids = [local_watch.add_query(f"SELECT {i} AS n", ds, name=f"q{i}") for i in range(10)]
    return local_watch, local_watch.add_dashboard("ten", query_ids=ids)


def test_no_more_than_max_workers_widgets_are_in_flight(ten_widget_board, monkeypatch):
    lw, dashboard = ten_widget_board
    limit = 3
    state = {"now": 0, "peak": 0}
    cond = threading.Condition()
    users: dict[int, set[int]] = {}
    original = WatchClient.post_query_results

    def counting(self, *args, **kwargs):
        with cond:
            users.setdefault(id(self), set()).add(threading.get_ident())
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
            cond.notify_all()
            # hold until the pool is full (or give up after a while): a pool that allowed
            # more than `limit` would show a higher peak here
            cond.wait_for(lambda: state["now"] >= limit, timeout=2)
        try:
            return original(self, *args, **kwargs)
        finally:
            with cond:
                state["now"] -= 1

    monkeypatch.setattr(WatchClient, "post_query_results", counting)
    frames = read_watch_dashboard(
        dashboard,
        url=lw.url,
        api_key=lw.admin_key,
        max_workers=limit,
        progress=False,
        cache=False,
        max_age=0,
    )

    assert [frames[f"q{i}"]["n"].tolist() for i in range(10)] == [[i] for i in range(10)]
    assert state["peak"] == limit
    assert lw.counters.executions == 10
    # one client per worker thread, never shared between threads
    assert len(users) == limit and all(len(threads) == 1 for threads in users.values())


# --------------------------------------------------------------------------- failures


def test_one_failing_widget_is_reported_and_the_others_kept(lw, board):
    lw.fail_query(lw.demo.queries["prices"], 'relation "prices" does not exist')
    with pytest.warns(RuntimeWarning, match="Daily prices"):
        frames = read_board(lw, board, max_age=0)
    assert list(frames) == ["Markets", "Positions (wei)", "Price history"]
    assert list(frames.errors) == ["Daily prices"]
    assert isinstance(frames.errors["Daily prices"], QueryFailedError)
    assert 'relation "prices" does not exist' in str(frames.errors["Daily prices"])


def test_errors_raise_carries_the_good_frames(lw, board):
    lw.fail_query(lw.demo.queries["markets"])
    with pytest.raises(DashboardError) as info:
        read_board(lw, board, max_age=0, errors="raise")
    assert list(info.value.errors) == ["Markets"]
    assert len(info.value.frames) == 3 and "Markets" in str(info.value)


def test_all_widgets_failing_raises(lw, board):
    lw.fail_query("FROM")  # every demo query selects FROM something
    with pytest.raises(DashboardError, match="every widget failed") as info:
        read_board(lw, board, max_age=0)
    assert info.value.frames == {} and len(info.value.errors) == 4


def test_offline_mode_refuses_without_touching_the_network(lw, board, monkeypatch):
    monkeypatch.setenv(wc.OFFLINE_ENV, "1")
    with pytest.raises(ConfigError, match="offline"):
        read_board(lw, board)
    assert lw.counters.requests() == 0


def test_bad_arguments_are_config_errors(lw, board):
    with pytest.raises(ConfigError, match="max_workers"):
        read_board(lw, board, max_workers=0)
    with pytest.raises(ConfigError, match="errors"):
        read_board(lw, board, errors="ignore")


@pytest.mark.parametrize(
    ("option", "bad"), [("max_age", 1.5), ("max_age", "60"), ("timeout", -1), ("timeout", "5")]
)
def test_bad_read_options_are_refused_before_any_request(lw, board, option, bad):
    """Not one failure per widget after reading the layout: one ConfigError, nothing sent."""
    lw.counters.reset()
    with pytest.raises(ConfigError, match=option) as info:
        read_board(lw, board, **{option: bad})
    assert repr(bad) in str(info.value)
    assert lw.counters.requests() == 0


# --------------------------------------------------------------------------- the deadline


def test_the_timeout_bounds_the_dashboards_own_request(lw):
    """A Retry-After longer than the timeout on the layout request is not waited for, and the
    error is the request's own (not every widget blamed for a deadline the layout used up)."""
    lw.faults.fail_next(1, status=503, retry_after=30, method="GET", path="/api/dashboards/*")
    with pytest.raises(WatchTimeoutError) as info:
        read_board(lw, "defi-overview", timeout=2)
    assert not isinstance(info.value, DashboardError)
    message = str(info.value)
    assert message.startswith("GET /api/dashboards/")
    assert "503 with Retry-After: 30 s, more than the" in message
    assert "left before the overall deadline (timeout=)" in message


def test_the_timeout_bounds_every_request_of_a_widget(lw, board, caplog, tmp_path):
    """A widget's requests after its result (listing data sources to name the frame's) are
    inside the dashboard's timeout too: a long Retry-After there is not waited for."""
    lw.faults.fail_next(1, status=503, retry_after=30, method="GET", path="/api/data_sources")
    with caplog.at_level("DEBUG", logger="watch_pandas"):
        # the local cache on (empty): a widget lists the data sources to name its frame
        frames = read_board(lw, board, timeout=20, cache_dir=tmp_path)
    assert frames.errors == {}
    unnamed = [r.getMessage() for r in caplog.records if "left unnamed" in r.getMessage()]
    assert len(unnamed) == 1
    assert "GET /api/data_sources: the server answered 503 with Retry-After: 30 s" in unnamed[0]


# --------------------------------------------------------------------------- Ctrl-C


@pytest.fixture
def three_held_widgets(local_watch):
    ds = local_watch.add_data_source("db")
    ids = [local_watch.add_query(f"SELECT {i} AS n", ds, name=f"q{i}") for i in range(3)]
    local_watch.hold_jobs()  # every job stays queued until cancelled
    yield local_watch, local_watch.add_dashboard("three", query_ids=ids)
    local_watch.release_jobs()


def _interrupted_read(lw, dashboard, interrupt) -> None:
    """Read the dashboard; once all three widget jobs are queued, call ``interrupt()`` once
    (from the worker thread that saw the third job) and expect the KeyboardInterrupt."""
    seen: set[str] = set()
    lock = threading.Lock()

    def when_all_queued(event):
        with lock:
            if event.job_id and event.state == "queued":
                seen.add(event.job_id)
            fire = len(seen) == 3 and "fired" not in seen
            if fire:
                seen.add("fired")
        if fire:
            interrupt()

    # should the interrupt be lost, the jobs end after 30 s and the read returns: a clear
    # "DID NOT RAISE" instead of a hang until the suite's timeout
    watchdog = threading.Timer(30, lw.release_jobs)
    watchdog.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            read_watch_dashboard(
                dashboard,
                url=lw.url,
                api_key=lw.admin_key,
                max_workers=3,
                max_age=0,
                cache=False,
                progress=when_all_queued,
            )
    finally:
        watchdog.cancel()
    jobs = lw._backend.jobs.all()
    assert len(jobs) == 3
    assert [job.error for job in jobs] == ["Query cancelled by user."] * 3
    assert lw.counters.requests("DELETE") == 3  # each job once


def test_a_dashboard_timeout_names_whole_seconds_and_the_cancelled_jobs(three_held_widgets):
    lw, dashboard = three_held_widgets
    with pytest.raises(DashboardError, match="every widget failed") as info:
        read_watch_dashboard(
            dashboard,
            url=lw.url,
            api_key=lw.admin_key,
            max_workers=3,
            max_age=0,
            cache=False,
            progress=False,
            timeout=1,
        )
    messages = [str(exc) for exc in info.value.errors.values()]
    assert len(messages) == 3
    for message in messages:
        # each widget waits for what is left of the dashboard's timeout, e.g. 0.99598 s: said
        # as a person would say it, not to the microsecond
        assert re.search(r"Gave up waiting after \d+(\.\d{1,2})? s for query \d+", message)
        assert re.search(r"; job \S+ was cancelled on the server\.", message)
    assert [job.error for job in lw._backend.jobs.all()] == ["Query cancelled by user."] * 3


def test_ctrl_c_cancels_every_running_widget_job(three_held_widgets):
    def raise_in_the_worker():  # like a listener that raises KeyboardInterrupt
        raise KeyboardInterrupt

    _interrupted_read(*three_held_widgets, raise_in_the_worker)


@pytest.mark.skipif(not hasattr(signal, "pthread_kill"), reason="POSIX signals")
def test_ctrl_c_in_the_main_thread_cancels_the_running_jobs(three_held_widgets):
    # what Ctrl-C does: a SIGINT, handled in the main thread. Python's own handler is set for
    # the test: a process started with SIGINT ignored (a shell's background job) has none,
    # and no Ctrl-C could reach it.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        main = threading.main_thread().ident
        _interrupted_read(*three_held_widgets, lambda: signal.pthread_kill(main, signal.SIGINT))
    finally:
        signal.signal(signal.SIGINT, previous)


def test_a_callers_client_is_shared_safely_by_the_workers(ten_widget_board, monkeypatch, tmp_path):
    lw, dashboard = ten_widget_board
    threads: set[int] = set()
    clients: set[int] = set()
    original = WatchClient.post_query_results

    def recording(self, *args, **kwargs):
        threads.add(threading.get_ident())
        clients.add(id(self))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WatchClient, "post_query_results", recording)
    with WatchClient(lw.url, lw.admin_key) as shared:
        frames = read_watch_dashboard(
            dashboard, client=shared, max_workers=4, progress=False, max_age=0, cache_dir=tmp_path
        )  # the local cache on: the workers list the data sources (for names) on one client
        assert [frames[f"q{i}"]["n"].tolist() for i in range(10)] == [[i] for i in range(10)]
        assert frames.errors == {}
        # one client for every worker thread, and what it learned is the same for all
        assert clients == {id(shared)} and len(threads) > 1
        assert shared.key_kind == "user"
        assert list((shared.listed_data_sources() or {}).values()) == ["db"]
        assert {f.attrs["watch"]["data_source"] for f in frames.values()} == {"db"}


@pytest.mark.parametrize("dashboard", [True, 1.5, None, [1]])
def test_a_dashboard_that_is_no_id_or_slug_gets_one_refusal(lw, dashboard):
    from watch_pandas import read_watch_dashboard

    with pytest.raises(ConfigError) as caught:
        read_watch_dashboard(dashboard, url=lw.url, api_key=lw.admin_key, progress=False)
    assert str(caught.value) == (
        f"A dashboard is given by numeric id or slug (e.g. 'my-dashboard'), not {dashboard!r}."
    )


def test_dashboard_params_that_are_not_a_dict_are_a_parameter_error(lw):
    from watch_pandas import read_watch_dashboard

    lw.counters.reset()
    with pytest.raises(ParameterError, match="params must be a dict"):
        read_watch_dashboard(1, params=[1, 2], url=lw.url, api_key=lw.admin_key, progress=False)
    assert lw.counters.requests() == 0


def test_read_watch_query_params_that_are_not_a_dict_are_a_parameter_error(lw):
    lw.counters.reset()
    with pytest.raises(ParameterError, match="params must be a dict"):
        read_watch_query(6, [1], url=lw.url, api_key=lw.admin_key, progress=False)
    assert lw.counters.executions == 0
