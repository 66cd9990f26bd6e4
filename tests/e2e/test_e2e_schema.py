"""get_schema against the local server over HTTP: the cache, the refresh job, failures."""

from __future__ import annotations

import pytest

from watch_pandas import WatchClient
from watch_pandas.errors import QueryFailedError
from watch_pandas.testing import LocalWatch


def test_schema_flow_first_job_then_cache_then_refresh(local_watch: LocalWatch):
    ds = local_watch.add_data_source("warehouse", typed=True)
    local_watch.execute_sql(ds, "CREATE TABLE trades (id INTEGER, price REAL, at TIMESTAMPTZ)")
    with WatchClient(local_watch.url, local_watch.admin_key) as client:
        first = client.get_schema("warehouse")
        assert [t.name for t in first] == ["trades"]
        assert [(c.name, c.type) for c in first[0].columns] == [
            ("at", "timestamp with time zone"),
            ("id", "integer"),
            ("price", "double precision"),
        ]
        local_watch.execute_sql(ds, "CREATE TABLE fees (trade_id INTEGER)")
        assert [t.name for t in client.get_schema(ds)] == ["trades"]  # cached
        assert [t.name for t in client.get_schema(ds, refresh=True)] == ["fees", "trades"]


def test_schema_less_source_fails_with_the_servers_message(local_watch: LocalWatch):
    local_watch.add_data_source("python", schema=False)
    with WatchClient(local_watch.url, local_watch.admin_key) as client:
        with pytest.raises(QueryFailedError, match="does not support retrieving schema"):
            client.get_schema("python")
