"""output="arrow" / "polars" over real HTTP: every entry point, and the same types whether
the result ran fresh, came from the server's cache or from the local cache."""

from __future__ import annotations

import functools
import json
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from watch_pandas import read_watch_dashboard, read_watch_query, run_sql

QUERIES = ["positions", "prices", "markets", "positions_untyped", "price_history"]
TYPE_KEY = b"watch_pandas.type"


@pytest.fixture
def reader(lw, tmp_path):
    return functools.partial(
        read_watch_query, url=lw.url, api_key=lw.admin_key, progress=False, cache_dir=tmp_path
    )


def _plain(value: Any) -> Any:
    if isinstance(value, (list, dict)):
        return value
    if value is None or pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _column_values(table: pa.Table, i: int) -> list[Any]:
    """A table column's values as the pandas frame holds them (meaning from the field)."""
    field = table.schema.field(i)
    values = table.column(i).to_pylist()
    meaning = (field.metadata or {}).get(TYPE_KEY)
    if meaning in (b"bigint", b"bigint-decimal-text"):
        return [None if v is None else int(v) for v in values]
    if meaning == b"json":
        return [None if v is None else json.loads(v) for v in values]
    return values


def _assert_equals_frame(table: pa.Table, frame: pd.DataFrame) -> None:
    """Same names, the frame's Arrow types, and exactly its values (missing in the same
    places); object columns have their meaning in the field metadata."""
    assert table.column_names == list(frame.columns)
    assert table.num_rows == len(frame)
    for i, dtype in enumerate(frame.dtypes):
        if isinstance(dtype, pd.ArrowDtype):
            assert table.schema.field(i).type == dtype.pyarrow_dtype
        else:
            assert pd.api.types.is_object_dtype(dtype)
        expected = [_plain(v) for v in frame.iloc[:, i].tolist()]
        assert _column_values(table, i) == expected, frame.columns[i]


def _fields(table: pa.Table) -> list[tuple[str, pa.DataType, Any]]:
    return [(f.name, f.type, f.metadata) for f in table.schema]


@pytest.mark.parametrize("name", QUERIES)
def test_arrow_equals_the_pandas_frame_fresh_server_cache_and_local_cache(lw, reader, name):
    qid = lw.demo.queries[name]
    frame = reader(qid, dtype_backend="pyarrow", cache=False)
    fresh = reader(qid, output="arrow", max_age=0)
    served = reader(qid, output="arrow", cache=False)
    local = reader(qid, output="arrow", max_age=3600)
    sources = [json.loads(t.schema.metadata[b"watch"])["source"] for t in (fresh, served, local)]
    assert sources == ["fresh run", "server cache", "local cache"]
    for table in (fresh, served, local):
        assert isinstance(table, pa.Table)
        _assert_equals_frame(table, frame)
        assert _fields(table) == _fields(fresh)


def test_wei_amounts_are_exact_in_arrow_and_say_what_they_are(lw, reader):
    table = reader(lw.demo.queries["positions"], output="arrow", cache=False)
    frame = reader(lw.demo.queries["positions"], cache=False)
    field = table.schema.field("amount_wei")
    assert field.metadata[TYPE_KEY] in (b"bigint", b"bigint-decimal-text")
    assert (
        _column_values(table, table.column_names.index("amount_wei"))
        == frame["amount_wei"].tolist()
    )
    assert 2**256 - 50 in _column_values(table, table.column_names.index("amount_wei"))


def test_provenance_is_in_the_schema_and_never_the_key(lw, reader):
    table = reader(lw.demo.queries["prices"], output="arrow", max_age=0)
    frame = reader(lw.demo.queries["prices"], max_age=3600)
    provenance = json.loads(table.schema.metadata[b"watch"])
    assert provenance["query_id"] == lw.demo.queries["prices"]
    assert provenance["result_id"] == frame.attrs["watch"]["result_id"]
    assert lw.admin_key not in table.schema.to_string(show_schema_metadata=True)


@pytest.mark.parametrize("name", QUERIES)
def test_polars_equals_the_arrow_table_fresh_server_cache_and_local_cache(lw, reader, name):
    import polars as pl

    qid = lw.demo.queries[name]
    table = reader(qid, output="arrow", cache=False)
    fresh = reader(qid, output="polars", max_age=0)
    served = reader(qid, output="polars", cache=False)
    local = reader(qid, output="polars", max_age=3600)
    for df in (fresh, served, local):
        assert isinstance(df, pl.DataFrame)
        assert df.schema == fresh.schema
        assert df.columns == table.column_names
        for name_ in df.columns:
            assert df[name_].to_list() == table.column(name_).to_pylist(), name_


def test_polars_wei_amounts_are_exact(lw, reader):
    frame = reader(lw.demo.queries["positions"], cache=False)
    df = reader(lw.demo.queries["positions"], output="polars", cache=False)
    got = [None if v is None else int(Decimal(v)) for v in df["amount_wei"].to_list()]
    assert got == frame["amount_wei"].tolist()


def test_run_sql_returns_arrow_and_polars(lw):
    import polars as pl

    ds = lw.demo.data_sources["typed"] if "typed" in lw.demo.data_sources else None
    ds = ds or next(iter(lw.demo.data_sources.values()))
    run = functools.partial(run_sql, url=lw.url, api_key=lw.admin_key, progress=False)
    sql = "SELECT 1 AS n, 'x' AS s"
    frame = run(sql, ds, dtype_backend="pyarrow", cache=False)
    table = run(sql, ds, output="arrow", cache=False)
    _assert_equals_frame(table, frame)
    df = run(sql, ds, output="polars", cache=False)
    assert isinstance(df, pl.DataFrame)
    assert df.to_dicts() == [{"n": 1, "s": "x"}]


def test_dashboard_frames_become_tables(lw):
    board = read_watch_dashboard(
        lw.demo.dashboard_slugs["defi_overview"],
        url=lw.url,
        api_key=lw.admin_key,
        progress=False,
        cache=False,
        output="arrow",
    )
    assert board and all(isinstance(t, pa.Table) for t in board.values())
    frames = read_watch_dashboard(
        lw.demo.dashboard_slugs["defi_overview"],
        url=lw.url,
        api_key=lw.admin_key,
        progress=False,
        cache=False,
        dtype_backend="pyarrow",
    )
    assert list(board) == list(frames)
    for title, table in board.items():
        _assert_equals_frame(table, frames[title])


def test_a_bad_output_costs_no_request(lw, reader):
    from watch_pandas.errors import ConfigError

    lw.counters.reset()
    with pytest.raises(ConfigError, match="output must be 'pandas', 'arrow' or 'polars'"):
        reader(lw.demo.queries["prices"], output="pyarrow")
    with pytest.raises(ConfigError, match="output must be"):
        run_sql("SELECT 1", 1, url=lw.url, api_key=lw.admin_key, output="frame")
    assert lw.counters.requests() == 0


def test_offline_reads_return_the_same_table(lw, reader):
    qid = lw.demo.queries["positions"]
    online = reader(qid, output="arrow", max_age=0)
    offline = reader(qid, output="arrow", offline=True)
    assert _fields(offline) == _fields(online)
    assert offline.equals(online)
    assert json.loads(offline.schema.metadata[b"watch"])["source"] == "local cache"
