"""WatchClient over real HTTP: dashboards, data sources, ad-hoc SQL, query CRUD/paging/search,
and CSV downloads against ``_decode.decode_csv``."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from watch_pandas import ConflictError, LossyFormatError, WatchClient, read_watch_query
from watch_pandas._decode import csv_loss_reason, decode_csv, decode_result
from watch_pandas.testing import _demo


# -- dashboards and data sources --------------------------------------------------------
def test_dashboard_by_id_and_by_slug_are_the_same(lw, client):
    did = lw.demo.dashboards["defi_overview"]
    by_id = client.get_dashboard(did)
    by_slug = client.get_dashboard(lw.demo.dashboard_slugs["defi_overview"])
    assert by_id == by_slug
    assert by_id.id == did and by_id.name == "DeFi overview"
    widget_queries = [w.query.id for w in by_id.widgets if w.query is not None]
    q = lw.demo.queries
    assert widget_queries == [q["markets"], q["prices"], q["positions"], q["price_history"]]


def test_dashboard_list_has_no_widgets(lw, client):
    listed = {d.id: d for d in client.list_dashboards()}
    assert lw.demo.dashboards["defi_overview"] in listed
    assert listed[lw.demo.dashboards["defi_overview"]].widgets == ()


def test_dashboard_create_edit_archive(local_watch):
    with WatchClient(local_watch.url, local_watch.admin_key) as watch:
        made = watch.create_dashboard("Risk board")
        assert made.is_draft
        published = watch.edit_dashboard(made.id, version=made.version, is_draft=False)
        assert not published.is_draft
        with pytest.raises(ConflictError):
            watch.edit_dashboard(made.id, version=made.version, name="stale")
        assert watch.get_dashboard(made.slug).id == made.id
        watch.archive_dashboard(made.id)
        assert all(d.id != made.id for d in watch.list_dashboards())


def test_data_sources_and_resolution_by_name(lw, client):
    sources = {s.name: s for s in client.list_data_sources()}
    assert sources["demo-sqlite"].id == lw.demo.data_sources["sqlite"]
    assert sources["demo-typed"].id == lw.demo.data_sources["typed"]
    assert client.resolve_data_source("demo-typed").id == lw.demo.data_sources["typed"]
    assert client.resolve_data_source(str(lw.demo.data_sources["sqlite"])).name == "demo-sqlite"


# -- ad-hoc SQL ---------------------------------------------------------------------------
def test_run_sql_by_data_source_name_with_parameters(lw, sql, raw_result):
    frame = sql(
        "SELECT m.symbol, p.day, p.price FROM prices p JOIN markets m ON m.id = p.market_id\n"
        "WHERE m.id IN ({{ ids }}) AND p.day BETWEEN '{{ period.start }}' AND '{{ period.end }}'\n"
        "  AND p.price >= {{ floor }}\nORDER BY p.day, m.id",
        "demo-typed",
        {"ids": [1, 4], "period": (dt.date(2024, 1, 1), dt.date(2024, 1, 3)), "floor": 100},
        max_age=0,
    )
    assert frame["symbol"].tolist() == ["WETH", "WBTC"] * 3
    assert str(frame["day"].dtype) == "datetime64[s]"
    assert str(frame["price"].dtype) == "Float64"
    info = frame.attrs["watch"]
    assert info["data_source"] == "demo-typed"
    assert info["data_source_id"] == lw.demo.data_sources["typed"]
    assert info["parameters"] == {
        "ids": ["1", "4"],
        "period": {"start": "2024-01-01", "end": "2024-01-03"},
        "floor": 100,
    }
    executed = raw_result(info["result_id"])["query"]
    assert "IN (1,4)" in executed and "BETWEEN '2024-01-01' AND '2024-01-03'" in executed
    assert "{{" not in executed


def test_run_sql_twice_uses_the_server_cache(lw, sql):
    text = "SELECT id, symbol FROM markets WHERE id <= {{ n }} ORDER BY id"
    first = sql(text, lw.demo.data_sources["sqlite"], {"n": 3}, max_age=0)
    second = sql(text, "demo-sqlite", {"n": 3}, max_age=600)
    assert lw.counters.executions == 1
    assert second.attrs["watch"]["source"] == "server cache"
    assert first.equals(second)
    assert first["symbol"].tolist() == ["WETH", "USDC", "DAI"]


def test_run_sql_failure_carries_the_database_message(lw, sql):
    from watch_pandas import QueryFailedError

    with pytest.raises(QueryFailedError) as caught:
        sql("SELEC 1", "demo-sqlite", max_age=0)
    assert "syntax error" in caught.value.server_message


# -- queries: create / edit / archive / list / search -----------------------------------
def test_query_create_edit_conflict_archive(local_watch):
    ds = local_watch.add_data_source("db")
    with WatchClient(local_watch.url, local_watch.admin_key) as watch:
        made = watch.create_query(
            data_source_id=ds, query="SELECT 1 AS one", name="scratch", tags=["e2e"]
        )
        assert made.is_draft
        edited = watch.edit_query(made.id, version=made.version, query="SELECT 2 AS two")
        assert edited.version == made.version  # a real server never bumps a query's version
        assert watch.get_query(made.id).query == "SELECT 2 AS two"
        with pytest.raises(ConflictError, match=str(made.id)):
            watch.edit_query(made.id, version=made.version + 1, name="lost update")
        assert watch.get_query(made.id).name == "scratch"
        published = watch.create_query(
            data_source_id=ds, query="SELECT 3 AS three", name="published one", publish=True
        )
        assert not published.is_draft
        frame = read_watch_query(published.id, client=watch, progress=False)
        assert frame["three"].tolist() == [3]
        watch.archive_query(made.id)
        assert watch.get_query(made.id).is_archived
        assert made.id not in {q.id for q in watch.list_queries()}


def test_listing_pages_through_more_queries_than_a_page(local_watch):
    ds = local_watch.add_data_source("db")
    total = 23
    for i in range(total):
        name = f"needle {i}" if i % 5 == 0 else f"query {i}"
        local_watch.add_query(f"SELECT {i} AS n", ds, name=name)
    local_watch.counters.reset()
    with WatchClient(local_watch.url, local_watch.admin_key) as watch:
        listed = list(watch.list_queries(page_size=5))
        assert len(listed) == total == len({q.id for q in listed})
        # stops at ceil(count / page_size): never asks for a page past the last (a 400)
        assert local_watch.counters.requests("GET", "/api/queries") == math.ceil(total / 5)
        found = sorted(q.name for q in watch.list_queries(q="needle"))
        assert found == sorted(f"needle {i}" for i in range(0, total, 5))
        assert len(list(watch.list_queries(limit=7, page_size=5))) == 7
        page = watch.get_queries_page(page=5, page_size=5)
        assert page.count == total and len(page.results) == 3


# -- CSV downloads vs the JSON frame -----------------------------------------------------
NUMERIC_SQL = (
    "SELECT p.market_id, p.price, p.volume_usd, m.is_stable, p.day\n"
    "FROM prices p JOIN markets m ON m.id = p.market_id\nWHERE p.day <= '2024-01-20'\n"
    "ORDER BY p.day, p.market_id"
)


@pytest.fixture
def numeric_result(lw, client):
    """A typed result with integer, float (with NULLs), boolean and date columns."""
    lw.set_date_format("YYYY-MM-DD", "HH:mm:ss")
    return read_watch_query(_numeric_query(lw), client=client, progress=False)


def _numeric_query(lw) -> int:
    return lw.add_query(NUMERIC_SQL, lw.demo.data_sources["typed"], name="e2e numeric csv")


def test_csv_download_agrees_with_json_when_nothing_is_lost(lw, client, numeric_result):
    rid = numeric_result.attrs["watch"]["result_id"]
    _, meta = decode_result(client.get_result(rid, "json"))
    config = client.get_client_config()
    date_format = config["dateFormat"]
    time_format = config["dateTimeFormat"][len(date_format) :].strip()
    assert (date_format, time_format) == ("YYYY-MM-DD", "HH:mm:ss")
    assert csv_loss_reason(meta.columns, date_format=date_format, time_format=time_format) is None
    body = client.get_result(rid, "csv")
    assert body.startswith(b"market_id,price,volume_usd,is_stable,day\r\n")
    from_csv = decode_csv(body, meta.columns, date_format=date_format, time_format=time_format)
    pd.testing.assert_frame_equal(from_csv, numeric_result, check_flags=False)
    assert from_csv["volume_usd"].isna().sum() == numeric_result["volume_usd"].isna().sum() > 0


def test_tsv_download_agrees_too(client, numeric_result):
    rid = numeric_result.attrs["watch"]["result_id"]
    _, meta = decode_result(client.get_result(rid, "json"))
    body = client.get_result(rid, "tsv")
    from_tsv = decode_csv(
        body, meta.columns, date_format="YYYY-MM-DD", time_format="HH:mm:ss", delimiter="\t"
    )
    pd.testing.assert_frame_equal(from_tsv, numeric_result, check_flags=False)


def test_csv_with_default_org_format_is_refused_for_dates(lw, client):
    frame = read_watch_query(_numeric_query(lw), client=client, progress=False)
    rid = frame.attrs["watch"]["result_id"]
    _, meta = decode_result(client.get_result(rid, "json"))
    body = client.get_result(rid, "csv")
    assert b"\r\n1,2196.5," in body and ",01/01/24\r\n" in body.decode()  # DD/MM/YY on the wire
    reason = csv_loss_reason(meta.columns, date_format="DD/MM/YY", time_format="HH:mm")
    assert reason and "'day'" in reason and "2-digit year" in reason
    with pytest.raises(LossyFormatError, match="'day'"):
        decode_csv(body, meta.columns, date_format="DD/MM/YY", time_format="HH:mm")


@pytest.mark.parametrize(
    ("name", "lossy_columns"),
    [
        ("markets", ["'description'"]),  # untyped: NULL and "" both empty
        ("prices", ["'symbol'", "'updated_at_tz'"]),  # string NULL vs "", zone dropped
        ("positions", ["'note'", "'opened_at'"]),
    ],
)
def test_csv_of_demo_results_is_refused_with_the_reason(lw, client, name, lossy_columns):
    frame = read_watch_query(lw.demo.queries[name], client=client, progress=False)
    rid = frame.attrs["watch"]["result_id"]
    _, meta = decode_result(client.get_result(rid, "json"))
    body = client.get_result(rid, "csv")
    with pytest.raises(LossyFormatError) as caught:
        decode_csv(body, meta.columns)
    for column in lossy_columns:
        assert column in str(caught.value)


def test_cached_csv_of_a_saved_query_keeps_quotes_and_newlines(lw, client):
    body = client.get_cached_result(lw.demo.queries["markets"], "csv").decode("utf-8")
    assert '"Multi-collateral,\nover-collateralised"' in body
    assert '"Comma, ""Quote"" Coin"' in body
    assert "Ünïcödé Tökên 日本語 🚀" in body
    assert body.count("\r\n") == len(_demo.MARKETS) + 1 + 1  # rows + header + the CRLF cell
