"""read_watch_query / run_sql over mocked HTTP, with bodies recorded from a live server."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import responses
from _samples import sample_body
from responses import matchers

from watch_pandas import (
    ConfigError,
    ParameterError,
    QueryFailedError,
    WatchTimeoutError,
    read_watch_dashboard,
    read_watch_query,
    run_sql,
)
from watch_pandas._client import WatchClient

URL = "https://watch.test"
KEY = "USERKEY0123456789abcdefghijklmnopqrstuv"
QUERY_KEY = "QUERYKEY0123456789abcdefghijklmnopqrst"


@pytest.fixture
def client():
    with WatchClient(URL, KEY, retries=0) as c:
        yield c


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def post_body(call) -> dict:
    return json.loads(call.request.body)


def no_key_in_urls(rsps) -> None:
    for call in rsps.calls:
        assert KEY not in call.request.url and QUERY_KEY not in call.request.url
        assert "api_key" not in call.request.url


def test_cached_result_is_read_inline_with_one_post(mocked, client):
    query = sample_body("06-query-demo-params")
    mocked.get(f"{URL}/api/queries/2", json=query)
    mocked.post(f"{URL}/api/queries/2/results", json=sample_body("07-results-post-cached"))
    mocked.get(f"{URL}/api/data_sources", json=sample_body("38-data-sources"))  # the name, once
    frame = read_watch_query(2, progress=False, client=client)

    sent = post_body(mocked.calls[1])
    assert sent["max_age"] == -1  # "any age" sent explicitly, never left to the server default
    # every parameter is sent, with its saved default (the server never fills defaults)
    assert sent["parameters"] == {
        "start_date": "2024-03-01",
        "min_price": 10,
        "flag": "1",
        "label": "item",
    }
    expected_rows = sample_body("07-results-post-cached")["query_result"]["data"]["rows"]
    assert len(frame) == len(expected_rows)
    assert list(frame.columns)[:3] == ["id", "price", "flag"]
    assert frame["id"].dtype == "Int64"
    assert frame.attrs["watch"]["source"] == "server cache"
    assert frame.attrs["watch"]["result_id"] == 53
    assert frame.attrs["watch"]["query_url"] == f"{URL}/queries/2"
    assert frame.attrs["watch"]["data_source_id"] == 1
    assert frame.attrs["watch"]["data_source"] == "demo-sqlite"
    assert len(mocked.calls) == 3
    no_key_in_urls(mocked)


def test_fresh_run_with_a_user_key_polls_the_job_and_downloads_the_json(mocked, client):
    mocked.get(
        f"{URL}/api/queries/1",
        json=sample_body("35-dashboard-by-id")["widgets"][0]["visualization"]["query"],
    )
    mocked.post(
        f"{URL}/api/queries/1/results",
        json=sample_body("08-results-post-max-age-0"),
        match=[matchers.json_params_matcher({"max_age": 0, "parameters": {}}, strict_match=False)],
    )
    job_id = sample_body("08-results-post-max-age-0")["job"]["id"]
    mocked.get(f"{URL}/api/jobs/{job_id}", json=sample_body("09-job-queued-or-running"))
    mocked.get(f"{URL}/api/jobs/{job_id}", json=sample_body("10-job-finished"))
    mocked.get(f"{URL}/api/query_results/60.json", json=sample_body("30-untyped-sqlite-json"))
    events = []
    frame = read_watch_query(1, max_age=0, progress=events.append, client=client)

    assert frame.attrs["watch"]["source"] == "fresh run"
    assert frame.attrs["watch"]["job_id"] == job_id
    assert frame.attrs["watch"]["result_id"] == 60
    states = [e.state for e in events]
    assert states[0] == "queued" and "downloading" in states and states[-1] == "done"
    assert frame["label"].dtype == "string"
    no_key_in_urls(mocked)


def test_query_key_uses_the_query_job_route_and_reposts_for_the_result(mocked):
    query = sample_body("06-query-demo-params")
    query.update(id=5, api_key=QUERY_KEY, is_safe=True)
    query["options"]["parameters"] = [
        p for p in query["options"]["parameters"] if p["type"] != "text"
    ]
    mocked.get(f"{URL}/api/queries/5", json=query)
    params = {"start_date": "2024-05-01", "min_price": 20, "flag": "0"}
    mocked.post(f"{URL}/api/queries/5/results", json=sample_body("21-query-key-post"))
    job_id = sample_body("21-query-key-post")["job"]["id"]
    mocked.get(
        f"{URL}/api/queries/5/jobs/{job_id}", json=sample_body("23-query-key-query-job-route")
    )
    mocked.post(f"{URL}/api/queries/5/results", json=sample_body("25-query-key-repost-trimmed"))

    with WatchClient(URL, QUERY_KEY, retries=0) as client:
        frame = read_watch_query(5, params, max_age=0, progress=False, client=client)

    first, repost = post_body(mocked.calls[1]), post_body(mocked.calls[3])
    assert (
        first["parameters"]
        == repost["parameters"]
        == {
            "start_date": "2024-05-01",
            "min_price": 20,
            "flag": "0",
        }
    )
    assert first["max_age"] == 0 and repost["max_age"] == -1
    paths = [c.request.url.replace(URL, "") for c in mocked.calls]
    assert not any(p.startswith(("/api/jobs", "/api/query_results")) for p in paths)
    assert frame.attrs["watch"]["result_id"] == 61  # from the job: the trimmed reply has no id
    assert frame.attrs["watch"]["retrieved_at"] == "2026-11-28T00:14:56.755Z"
    assert len(frame) == len(
        sample_body("25-query-key-repost-trimmed")["query_result"]["data"]["rows"]
    )
    no_key_in_urls(mocked)


def test_bad_parameter_is_refused_before_anything_executes(mocked, client):
    mocked.get(f"{URL}/api/queries/2", json=sample_body("06-query-demo-params"))
    with pytest.raises(ParameterError) as info:
        read_watch_query(2, {"flag": "2"}, progress=False, client=client)
    assert "flag" in str(info.value) and "'0'" in str(info.value) and "'1'" in str(info.value)
    assert len(mocked.calls) == 1  # only the GET of the definitions


def test_failed_job_raises_with_the_server_message(mocked, client):
    mocked.get(f"{URL}/api/queries/2", json=sample_body("06-query-demo-params"))
    mocked.post(f"{URL}/api/queries/2/results", json=sample_body("11-adhoc-post"))
    job_id = sample_body("11-adhoc-post")["job"]["id"]
    mocked.get(f"{URL}/api/jobs/{job_id}", json=sample_body("12-job-failed"))
    with pytest.raises(QueryFailedError, match='near "SELEC": syntax error') as info:
        read_watch_query(2, max_age=0, progress=False, client=client)
    assert f"{URL}/queries/2" in str(info.value)


def test_timeout_cancels_the_job_on_the_server(mocked, client):
    mocked.get(f"{URL}/api/queries/2", json=sample_body("06-query-demo-params"))
    mocked.post(f"{URL}/api/queries/2/results", json=sample_body("08-results-post-max-age-0"))
    job_id = sample_body("08-results-post-max-age-0")["job"]["id"]
    running = sample_body("13-job-running")
    running["job"]["id"] = job_id
    mocked.get(f"{URL}/api/jobs/{job_id}", json=running)
    mocked.delete(f"{URL}/api/jobs/{job_id}", body="null", content_type="application/json")
    with pytest.raises(WatchTimeoutError):
        read_watch_query(2, max_age=0, timeout=0.3, progress=False, client=client)
    assert mocked.calls[-1].request.method == "DELETE"


def test_run_sql_resolves_the_data_source_by_name_and_sends_parameters(mocked, client):
    mocked.get(f"{URL}/api/data_sources", json=sample_body("38-data-sources"))
    mocked.post(f"{URL}/api/query_results", json=sample_body("42-range-and-multi-result"))
    sql = "SELECT * FROM demo WHERE d BETWEEN '{{ p.start }}' AND '{{ p.end }}' AND k IN ({{ k }})"
    frame = run_sql(
        sql,
        "demo-sqlite",
        {"p": (pd.Timestamp("2024-02-01"), "2024-03-01"), "k": ["'a'", "'c'"]},
        max_age=0,
        progress=False,
        client=client,
    )
    sent = post_body(mocked.calls[1])
    assert sent["query"] == sql  # never formatted on the client
    assert sent["data_source_id"] == 1 and sent["max_age"] == 0
    assert sent["parameters"] == {
        "p": {"start": "2024-02-01", "end": "2024-03-01"},
        "k": ["'a'", "'c'"],
    }
    assert frame.attrs["watch"]["data_source"] == "demo-sqlite"
    assert len(frame) == 5


def test_run_sql_runs_the_sql_unless_told_a_cached_result_will_do(mocked, client):
    """Ad-hoc SQL is executed by default (max_age=0, as the web UI's Execute does): a cell
    re-run in the afternoon must not get the morning's count from the server's cache."""
    mocked.get(f"{URL}/api/data_sources", json=sample_body("38-data-sources"))
    mocked.post(f"{URL}/api/query_results", json=sample_body("42-range-and-multi-result"))
    for max_age in (0, 600, None):  # cache=False: each one reaches the server
        run_sql("SELECT 1", 1, max_age=max_age, progress=False, client=client, cache=False)
    sent = [post_body(c)["max_age"] for c in mocked.calls if c.request.method == "POST"]
    assert sent == [0, 600, -1]


ANY_AGE_HINT = "for a cached result of any age, pass None."


@pytest.mark.parametrize("age", [-1, -2, np.int64(-1)])
@pytest.mark.parametrize(
    "read",
    [
        lambda client, age: read_watch_query(2, max_age=age, progress=False, client=client),
        lambda client, age: run_sql("SELECT 1", 1, max_age=age, progress=False, client=client),
        lambda client, age: read_watch_dashboard(1, max_age=age, progress=False, client=client),
        lambda client, age: read_watch_query(2, max_age=age, offline=True, url=URL),
        lambda client, age: run_sql("SELECT 1", 1, max_age=age, offline=True, url=URL),
    ],
    ids=["read_watch_query", "run_sql", "read_watch_dashboard", "offline read", "offline sql"],
)
def test_a_negative_max_age_is_refused_everywhere_with_one_message(mocked, client, read, age):
    """-1 is the server's own "any age": a caller asks for it with None, and every entry point
    says so in the same words (it was accepted by some and refused without the hint by others)."""
    with pytest.raises(ConfigError) as info:
        read(client, age)
    assert str(info.value) == (
        "max_age must be a whole number of seconds >= 0 (such as 600; 0 always runs the "
        f"query), not {age!r}; {ANY_AGE_HINT}"
    )
    assert len(mocked.calls) == 0


def test_run_sql_refuses_a_missing_placeholder_before_sending(mocked, client):
    with pytest.raises(ParameterError, match="'start'"):
        run_sql("SELECT {{ start }}, {{ end }}", 1, {"end": 1}, client=client, progress=False)
    with pytest.raises(ParameterError, match="do not appear in the SQL"):
        run_sql("SELECT 1", 1, {"x": 1}, client=client, progress=False)
    assert len(mocked.calls) == 0


def test_run_sql_refuses_values_with_no_sql_text_before_sending(mocked, client):
    for value, named in [(float("nan"), "nan"), (pd.NaT, "NaT"), (np.float64("inf"), "inf")]:
        with pytest.raises(ParameterError, match=f"Given: {named}"):
            run_sql("SELECT {{ x }}", 1, {"x": value}, client=client, progress=False)
    assert len(mocked.calls) == 0


@pytest.mark.parametrize(
    ("sql", "data_source", "named"),
    [
        (None, 1, "None"),
        ("  ", 1, "'  '"),
        (b"SELECT 1", 1, "b'SELECT 1'"),
        ("SELECT 1", None, "None"),
        ("SELECT 1", 1.5, "1.5"),
        ("SELECT 1", True, "True"),
        ("SELECT 1", 0, "0"),
    ],
)
def test_run_sql_refuses_bad_sql_or_data_source_naming_it(mocked, client, sql, data_source, named):
    with pytest.raises(ConfigError) as info:
        run_sql(sql, data_source, client=client, progress=False)
    assert named in str(info.value)
    assert len(mocked.calls) == 0


def test_numpy_integers_are_accepted_where_ints_are(mocked, client):
    """Ids and seconds often come out of a DataFrame as numpy scalars."""
    mocked.get(f"{URL}/api/queries/2", json=sample_body("06-query-demo-params"))
    mocked.post(f"{URL}/api/queries/2/results", json=sample_body("07-results-post-cached"))
    mocked.get(f"{URL}/api/data_sources", json=sample_body("38-data-sources"))
    mocked.post(f"{URL}/api/query_results", json=sample_body("42-range-and-multi-result"))
    read_watch_query(
        np.int64(2), max_age=np.int64(600), timeout=np.int32(30), progress=False, client=client
    )
    run_sql("SELECT 1", np.int64(1), max_age=np.int64(5), progress=False, client=client)
    posts = [post_body(c) for c in mocked.calls if c.request.method == "POST"]
    assert [p["max_age"] for p in posts] == [600, 5]
    assert posts[1]["data_source_id"] == 1


@pytest.mark.parametrize("bad", [1.5, 600.0, "600", True, -5, np.float64(60)])
def test_a_bad_max_age_says_what_is_allowed(mocked, client, bad):
    with pytest.raises(ConfigError, match="max_age") as info:
        read_watch_query(2, max_age=bad, progress=False, client=client)
    assert "whole number of seconds" in str(info.value) and repr(bad) in str(info.value)
    assert len(mocked.calls) == 0
