"""read_watch_url: links parsed into a typed description, and read over mocked HTTP with the
real server's recorded answers (samples 72-78)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import responses
from _samples import load_sample, sample_body

from watch_pandas import AuthError, ConfigError, ParameterError, read_watch_url
from watch_pandas._links import link_values, parse_link
from watch_pandas._params import parse_definitions

URL = "https://watch.test"
KEY = "USERKEY0123456789abcdefghijklmnopqrstuv"
QUERY_KEY = "QUERYKEY0123456789abcdefghijklmnopqrst"


@pytest.fixture(autouse=True)
def _no_configured_server(monkeypatch, tmp_path):
    monkeypatch.setenv("WATCH_CONFIG", str(tmp_path / "no-config.toml"))
    for name in ("WATCH_URL", "WATCH_API_KEY", "WATCH_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


def keys_only_in_headers(rsps, *keys: str) -> None:
    assert rsps.calls, "no request was sent"
    for call in rsps.calls:
        assert "api_key" not in call.request.url
        for key in keys:
            assert key not in call.request.url
        assert call.request.headers["Authorization"].startswith("Key ")


# -- parsing ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "kind", "query_id", "result_id", "fmt"),
    [
        ("/api/query_results/46.csv", "result", None, 46, "csv"),
        ("/api/query_results/46.json", "result", None, 46, "json"),
        ("/api/query_results/46", "result", None, 46, None),
        ("/api/queries/12/results.json", "latest", 12, None, "json"),
        ("/api/queries/12/results.csv", "latest", 12, None, "csv"),
        ("/api/queries/12/results", "latest", 12, None, None),
        ("/api/queries/12/results/46.json", "query_result", 12, 46, "json"),
        ("/queries/12", "query", 12, None, None),
        ("/queries/12/source", "query", 12, None, None),
    ],
)
def test_each_link_form_is_understood(path, kind, query_id, result_id, fmt):
    link = parse_link(f"{URL}{path}?api_key={KEY}")
    assert (link.kind, link.query_id, link.result_id, link.fmt) == (
        kind,
        query_id,
        result_id,
        fmt,
    )
    assert link.server == URL
    assert link.api_key == KEY
    assert KEY not in repr(link) and KEY not in link.display


def test_a_multi_org_prefix_is_part_of_the_server():
    link = parse_link("https://watch.test/acme/queries/5/source?p_min=3#123")
    assert link.server == "https://watch.test/acme"
    assert (link.kind, link.query_id, link.visualization) == ("query", 5, 123)
    assert link.params == {"min": "3"}
    # an organisation named like a route keeps working
    assert parse_link("https://watch.test/queries/queries/7").server == "https://watch.test/queries"


def test_dashboard_links_by_slug_and_by_id_with_widget_parameters():
    by_slug = parse_link(f"{URL}/dashboard/defi-overview?p_period=2024-01-01--2024-01-31&p_w7_n=5")
    assert (by_slug.kind, by_slug.dashboard) == ("dashboard", "defi-overview")
    assert by_slug.params == {"period": "2024-01-01--2024-01-31"}
    assert by_slug.widget_params == {7: {"n": "5"}}
    by_id = parse_link(f"{URL}/org/dashboards/3-defi-overview?fullscreen&refresh=60")
    assert (by_id.kind, by_id.dashboard, by_id.server) == ("dashboard", 3, f"{URL}/org")


def test_older_start_and_end_parameters_make_a_range():
    link = parse_link(f"{URL}/queries/5?p_period.start=2024-01-01&p_period.end=2024-01-31")
    assert link.params == {"period": {"start": "2024-01-01", "end": "2024-01-31"}}


@pytest.mark.parametrize(
    "text",
    [
        f"{URL}/queries/new?api_key={KEY}",
        f"{URL}/api/data_sources?api_key={KEY}",
        f"{URL}/?api_key={KEY}",
        f"ftp://watch.test/queries/5?api_key={KEY}",
        "queries/5",
    ],
)
def test_a_link_of_no_known_form_lists_the_forms_understood(text):
    with pytest.raises(ConfigError) as caught:
        parse_link(text)
    message = str(caught.value)
    assert "/api/query_results/<id>" in message and "/queries/<id>" in message
    assert "/dashboard/<slug>" in message
    assert KEY not in message


def test_a_link_that_is_not_text_is_refused():
    with pytest.raises(ConfigError, match="link must be a str"):
        parse_link(12)  # type: ignore[arg-type]


def test_parameters_on_a_stored_result_link_are_refused():
    with pytest.raises(ParameterError, match="stored result"):
        parse_link(f"{URL}/api/query_results/46.json?p_x=1")


# -- the web UI's parameter encoding ------------------------------------------------------------
DEFINITIONS = parse_definitions(
    [
        {"name": "period", "type": "date-range", "value": None},
        {
            "name": "symbols",
            "type": "enum",
            "value": ["A"],
            "enumOptions": "A\nB\nC",
            "multiValuesOptions": {"prefix": "'", "suffix": "'", "separator": ","},
        },
        {"name": "chain", "type": "enum", "value": "a", "enumOptions": "a\nb"},
        {"name": "note", "type": "text", "value": ""},
        {"name": "min_price", "type": "number", "value": 0},
    ]
)


def test_link_values_follow_the_web_ui_encoding():
    values = link_values(
        DEFINITIONS,
        {
            "period": "2024-01-01--2024-01-31",
            "symbols": '["A","C"]',
            "chain": "b",
            "note": "a--b",
            "min_price": "2.5",
        },
    )
    assert values == {
        "period": {"start": "2024-01-01", "end": "2024-01-31"},
        "symbols": ["A", "C"],
        "chain": "b",
        "note": "a--b",  # only ranges are split
        "min_price": "2.5",
    }


def test_a_dynamic_range_and_a_single_multi_value_stay_as_given():
    values = link_values(DEFINITIONS, {"period": "d_last_7_days", "symbols": "B"})
    assert values == {"period": "d_last_7_days", "symbols": "B"}


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"symbols": '["A",'}, "JSON array"),
        ({"period": {"start": "2024-01-01"}}, "period.end"),
        ({"period": "2024-01-01"}, "--"),
    ],
)
def test_link_values_that_cannot_be_read_are_parameter_errors(raw, words):
    with pytest.raises(ParameterError) as caught:
        link_values(DEFINITIONS, raw)
    assert words in str(caught.value)


# -- reading over mocked HTTP ---------------------------------------------------------------------
def test_a_csv_result_link_is_read_through_the_typed_json_route(mocked):
    body = sample_body("73-share-query-results-json-user-key")  # the result 46 as JSON
    mocked.get(f"{URL}/api/query_results/46.json", json=body)
    frame = read_watch_url(f"{URL}/api/query_results/46.csv?api_key={KEY}", progress=False)
    keys_only_in_headers(mocked, KEY)
    assert mocked.calls[0].request.headers["Authorization"] == f"Key {KEY}"
    assert frame["day"].iloc[0] == pd.Timestamp("2024-01-01")  # typed, not "01/01/24"
    assert str(frame["n"].dtype) == "Int64"
    watch = frame.attrs["watch"]
    assert watch["server"] == URL and watch["result_id"] == 46
    assert KEY not in repr(watch)


def test_a_result_link_with_a_query_key_says_which_link_would_work(mocked):
    recorded = load_sample("74-share-query-result-json-query-key")
    mocked.get(f"{URL}/api/query_results/46.json", status=404, json=recorded["body"])
    with pytest.raises(AuthError) as caught:
        read_watch_url(f"{URL}/api/query_results/46.json?api_key={QUERY_KEY}", progress=False)
    message = str(caught.value)
    assert "query API key" in message
    assert "/api/queries/<query id>/results.json" in message
    assert "not found" not in message.lower() and QUERY_KEY not in message
    keys_only_in_headers(mocked, QUERY_KEY)


@pytest.mark.parametrize("sample", ["77-share-wrong-key", "78-share-other-querys-key"])
def test_a_wrong_or_other_querys_key_is_an_auth_error_without_the_key(mocked, sample):
    recorded = load_sample(sample)
    mocked.get(f"{URL}/api/queries/12", status=404, json=recorded["body"])
    with pytest.raises(AuthError) as caught:
        read_watch_url(f"{URL}/api/queries/12/results.csv?api_key={QUERY_KEY}", progress=False)
    message = str(caught.value)
    assert "key in this link" in message and QUERY_KEY not in message
    keys_only_in_headers(mocked, QUERY_KEY)


def test_a_query_page_link_runs_the_query_with_its_parameters(mocked):
    query = sample_body("06-query-example-ranges-multi")
    names = {p["name"]: p for p in query["options"]["parameters"]}
    assert {"date-range", "enum"} <= {p["type"] for p in names.values()}
    range_name = next(n for n, p in names.items() if p["type"] == "date-range")
    multi_name = next(n for n, p in names.items() if p.get("multiValuesOptions"))
    option = names[multi_name]["enumOptions"].split("\n")[0]
    mocked.get(f"{URL}/api/queries/{query['id']}", json=query)
    mocked.post(
        f"{URL}/api/queries/{query['id']}/results", json=sample_body("07-results-post-cached")
    )
    link = (
        f"{URL}/queries/{query['id']}/source?p_{range_name}=2024-02-01--2024-02-29"
        f"&p_{multi_name}=%5B%22{option}%22%5D&api_key={KEY}#42"
    )
    read_watch_url(link, progress=False, cache=False)
    sent = json.loads(mocked.calls[1].request.body)["parameters"]
    assert sent[range_name] == {"start": "2024-02-01", "end": "2024-02-29"}
    assert sent[multi_name] == [option]
    keys_only_in_headers(mocked, KEY)


def test_the_configured_key_is_not_sent_to_the_server_of_a_link(mocked, monkeypatch):
    monkeypatch.setenv("WATCH_URL", "https://home.test")
    monkeypatch.setenv("WATCH_API_KEY", KEY)
    with pytest.raises(ConfigError) as caught:
        read_watch_url(f"{URL}/queries/12", progress=False)
    message = str(caught.value)
    assert "https://home.test" in message and URL in message and "api_key=" in message
    assert KEY not in message
    assert not mocked.calls


def test_the_configured_key_is_used_for_a_link_to_its_own_server(mocked, monkeypatch):
    monkeypatch.setenv("WATCH_URL", URL)
    monkeypatch.setenv("WATCH_API_KEY", KEY)
    mocked.get(
        f"{URL}/api/query_results/46.json", json=sample_body("73-share-query-results-json-user-key")
    )
    frame = read_watch_url(f"{URL}/api/query_results/46.json", progress=False)
    assert len(frame) == 5
    assert mocked.calls[0].request.headers["Authorization"] == f"Key {KEY}"


def test_the_links_key_is_not_sent_to_another_url(mocked):
    with pytest.raises(ConfigError) as caught:
        read_watch_url(f"{URL}/api/query_results/46.json?api_key={KEY}", url="https://other.test")
    assert "https://other.test" in str(caught.value) and KEY not in str(caught.value)
    assert not mocked.calls


def test_an_explicit_key_and_url_win_over_the_link(mocked):
    mocked.get(
        "https://other.test/api/query_results/46.json",
        json=sample_body("73-share-query-results-json-user-key"),
    )
    read_watch_url(
        f"{URL}/api/query_results/46.json?api_key={QUERY_KEY}",
        url="https://other.test",
        api_key=KEY,
        progress=False,
    )
    assert mocked.calls[0].request.headers["Authorization"] == f"Key {KEY}"


def test_a_dashboard_link_sets_dashboard_and_widget_level_parameters(monkeypatch):
    board = sample_body("70-dashboard-with-widgets-by-id")
    result = sample_body("07-results-post-cached")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.get(f"{URL}/api/dashboards/2", json=board)
        for query_id in (5, 12, 13):
            mocked.post(f"{URL}/api/queries/{query_id}/results", json=result)
        link = (
            f"{URL}/dashboards/2-example-prices-overview?p_start_date=2024-03-05"
            f"&p_w16_flag=0&api_key={KEY}"
        )
        frames = read_watch_url(link, progress=False, cache=False)
        posts = {
            call.request.url: json.loads(call.request.body)
            for call in mocked.calls
            if call.request.method == "POST" and "/queries/5/" in call.request.url
        }
        keys_only_in_headers(mocked, KEY)
    assert len(frames) == 6 and not frames.errors
    assert list(posts.values()) == [
        {"max_age": -1, "parameters": {"start_date": "2024-03-05", "min_price": 20, "flag": "0"}}
    ]


def test_a_widget_parameter_the_widget_does_not_take_is_a_parameter_error():
    board = sample_body("70-dashboard-with-widgets-by-id")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.get(f"{URL}/api/dashboards/2", json=board)
        with pytest.raises(ParameterError) as caught:
            read_watch_url(f"{URL}/dashboards/2?p_w16_min_price=3&api_key={KEY}", progress=False)
    message = str(caught.value)
    assert "'flag'" in message and "min_price" in message and KEY not in message
