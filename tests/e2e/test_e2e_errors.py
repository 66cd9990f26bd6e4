"""Typed errors over real HTTP: bad keys, key scopes, unknown objects, parameters refused
before anything executes, and no key in any message."""

from __future__ import annotations

import datetime as dt

import pytest

from watch_pandas import (
    AuthError,
    ForbiddenError,
    NotFoundError,
    ParameterError,
    WatchClient,
    read_watch_query,
    run_sql,
)

BAD_KEY = "not-a-key-0123456789abcdef"


def test_bad_key_is_an_auth_error_not_a_not_found(lw):
    with pytest.raises(AuthError) as caught:
        read_watch_query(lw.demo.queries["prices"], url=lw.url, api_key=BAD_KEY, progress=False)
    assert not isinstance(caught.value, NotFoundError)
    assert caught.value.status_code == 404
    assert "not accepted" in str(caught.value)
    assert BAD_KEY not in str(caught.value) and BAD_KEY not in repr(caught.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda c, lw: list(c.list_queries()),
        lambda c, lw: c.list_data_sources(),
        lambda c, lw: c.get_dashboard(lw.demo.dashboards["defi_overview"]),
        lambda c, lw: c.get_result(1),
    ],
    ids=["list_queries", "list_data_sources", "get_dashboard", "get_result"],
)
def test_query_key_on_a_user_only_route_says_a_user_key_is_needed(lw, call):
    key = lw.query_key(lw.demo.queries["prices"])
    with WatchClient(lw.url, key) as watch:
        with pytest.raises(AuthError, match="user API key") as caught:
            call(watch, lw)
    assert key not in str(caught.value)


def test_query_key_known_to_be_one_is_refused_before_any_request(lw):
    qid = lw.demo.queries["prices"]
    with WatchClient(lw.url, lw.query_key(qid)) as watch:
        watch.get_query(qid)
        lw.counters.reset()
        with pytest.raises(ForbiddenError, match="user API key"):
            list(watch.list_queries())
        with pytest.raises(ForbiddenError, match="user API key"):
            run_sql("SELECT 1 AS one", 1, client=watch, progress=False)
    assert lw.counters.requests() == 0


def test_query_key_of_another_query_is_refused(lw):
    other_key = lw.query_key(lw.demo.queries["markets"])
    with pytest.raises(AuthError):
        read_watch_query(lw.demo.queries["prices"], url=lw.url, api_key=other_key, progress=False)


def test_unknown_query_is_not_found(lw, read):
    with pytest.raises(NotFoundError, match="99999"):
        read(99999)


def test_unknown_dashboard_slug_is_not_found(client):
    with pytest.raises(NotFoundError, match="no-such-board"):
        client.get_dashboard("no-such-board")


@pytest.mark.parametrize(
    ("name", "params", "bad_name", "words"),
    [
        ("param_enum", {"chain": "solana"}, "chain", ["solana", "ethereum", "optimism"]),
        ("param_enum", {"chian": "ethereum"}, "chian", ["chain"]),
        ("param_multi_enum", {"symbols": ["WETH", "DOGE"]}, "symbols", ["DOGE", "WBTC"]),
        ("param_query", {"market": "SOL"}, "market", ["SOL", "WETH"]),
        ("param_number", {"min_price": "cheap"}, "min_price", ["cheap"]),
        ("param_date", {"since": "2024-13-45"}, "since", ["2024-13-45", "YYYY-MM-DD"]),
        ("param_date_range", {"period": (dt.date(2024, 3, 1),)}, "period", ["period"]),
        ("param_datetime", {"since": "yesterday-ish"}, "since", ["yesterday-ish"]),
    ],
    ids=["enum", "unknown-name", "multi", "dropdown", "number", "date", "range", "datetime"],
)
def test_bad_parameters_fail_before_any_execution(lw, read, name, params, bad_name, words):
    with pytest.raises(ParameterError) as caught:
        read(lw.demo.queries[name], params)
    assert caught.value.name == bad_name
    for word in words:
        assert word in str(caught.value)
    assert lw.counters.requests("POST", "/api/queries/<id>/results") == 0
    assert lw.counters.executions == 0


def test_adhoc_missing_placeholder_fails_before_any_request(lw, sql):
    with pytest.raises(ParameterError, match="'n'"):
        sql("SELECT * FROM markets WHERE id = {{ n }}", "demo-sqlite")
    assert lw.counters.requests("POST", "/api/query_results") == 0


def test_unknown_data_source_name_lists_the_available_ones(lw, sql):
    with pytest.raises(NotFoundError, match="demo-sqlite") as caught:
        sql("SELECT 1 AS one", "mainnet")
    assert "mainnet" in str(caught.value)
    assert lw.counters.requests("POST", "/api/query_results") == 0


def test_no_key_in_any_error_message(lw):
    errors = []
    for call in (
        lambda: read_watch_query(10**6, url=lw.url, api_key=lw.admin_key, progress=False),
        lambda: read_watch_query(
            lw.demo.queries["failing"], url=lw.url, api_key=lw.admin_key, progress=False
        ),
    ):
        with pytest.raises(Exception) as caught:
            call()
        errors.append(caught.value)
    for error in errors:
        assert lw.admin_key not in str(error)
        assert lw.admin_key not in repr(error)


@pytest.mark.parametrize("page", ["queries", "dashboard"])
def test_a_not_found_under_a_page_like_url_suggests_the_base_address(lw, page):
    """``https://host/queries`` may be an organisation's prefix, so it is kept; if it was the
    query list page pasted from the browser, the 404 says what the base address would be."""
    qid = lw.demo.queries["markets"]
    with pytest.raises(NotFoundError) as caught:
        read_watch_query(qid, url=f"{lw.url}/{page}", api_key=lw.admin_key, progress=False)
    message = str(caught.value)
    assert "Check the id" not in message
    assert f"/{page.rstrip('/')}" in message and f"'{lw.url}'" in message


def test_a_not_found_under_an_organisation_prefix_says_check_the_id(lw):
    with pytest.raises(NotFoundError) as caught:
        read_watch_query(99999, url=lw.url, api_key=lw.admin_key, progress=False)
    assert "Check the id" in str(caught.value) and "base address" not in str(caught.value)
