"""The local result cache of read_watch_query over real HTTP (a per-test cache folder)."""

from __future__ import annotations

import functools

import pytest

from watch_pandas import read_watch_query


@pytest.fixture
def cached_read(lw):
    return functools.partial(read_watch_query, url=lw.url, api_key=lw.admin_key, progress=False)


def test_repeated_read_costs_one_request_and_executes_nothing(lw, cached_read):
    qid = lw.demo.queries["param_enum"]
    first = cached_read(qid, {"chain": "arbitrum"}, max_age=0)
    lw.counters.reset()
    again = cached_read(qid, {"chain": "arbitrum"}, max_age=3600)
    assert lw.counters.executions == 0
    assert lw.counters.requests() == 1  # GET /api/queries/<id> for the definitions
    assert again.equals(first)
    assert again.attrs["watch"]["result_id"] == first.attrs["watch"]["result_id"]


def test_wei_amounts_survive_the_local_cache(lw, cached_read):
    qid = lw.demo.queries["positions"]
    first = cached_read(qid)
    again = cached_read(qid)
    assert lw.counters.requests("POST", "/api/queries/<id>/results") == 1
    assert again["amount_wei"].tolist() == first["amount_wei"].tolist()
    assert all(type(v) is int for v in again["amount_wei"])
    assert again.dtypes.equals(first.dtypes)


def test_max_age_zero_bypasses_the_local_cache(lw, cached_read):
    qid = lw.demo.queries["markets"]
    cached_read(qid)
    cached_read(qid, max_age=0)
    assert lw.counters.executions == 1


def test_a_different_server_at_the_same_url_is_not_served_stale_rows(local_watch_factory):
    first = local_watch_factory()
    port = int(first.url.rsplit(":", 1)[1])
    sql = "SELECT v FROM t"

    def serve(value: int):
        lw = first if value == 1 else local_watch_factory(port=port)
        ds = lw.add_data_source("db")
        lw.execute_sql(ds, f"CREATE TABLE t (v INTEGER); INSERT INTO t VALUES ({value});")
        qid = lw.add_query(sql, ds, name="same sql")
        return lw, qid

    lw1, qid1 = serve(1)
    frame1 = read_watch_query(qid1, url=lw1.url, api_key=lw1.admin_key, progress=False)
    assert frame1["v"].tolist() == [1]
    lw1.stop()
    lw2, qid2 = serve(2)
    assert qid2 == qid1 and lw2.url.endswith(f":{port}")
    frame2 = read_watch_query(qid2, url=lw2.url, api_key=lw2.admin_key, progress=False)
    assert frame2["v"].tolist() == [2]


def test_a_query_key_read_of_the_default_result_is_served_from_the_local_cache(local_watch):
    """The inline reply to a query key is trimmed (no result id): the entry is still served
    while the query's latest_query_data_id has not moved, and refetched once it has."""
    lw = local_watch
    ds = lw.add_data_source("db")
    lw.execute_sql(ds, "CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2);")
    qid = lw.add_query("SELECT v FROM t ORDER BY v", ds, name="t")
    lw.refresh_query(qid)  # a cached default result, as on a live server
    read = functools.partial(read_watch_query, qid, url=lw.url, api_key=lw.query_key(qid))
    first = read(progress=False)
    assert first.attrs["watch"]["result_id"] is None  # trimmed
    lw.counters.reset()
    again = read(progress=False)
    assert again.attrs["watch"]["source"] == "local cache"
    assert lw.counters.requests() == 1 and lw.counters.executions == 0
    lw.refresh_query(qid)  # a newer default result on the server
    newer = read(progress=False)
    assert newer.attrs["watch"]["source"] != "local cache"
