"""read_watch_query over real HTTP: every demo parameter type, dtypes, exact values, provenance.

Expected values come from the demo's own source rows (``_demo``) or from the server's JSON read
with plain ``requests``, never from the client under test.
"""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from watch_pandas import read_watch_query
from watch_pandas.testing import _demo

MARKETS = _demo.MARKETS
_, PRICE_ROWS, POSITION_ROWS = _demo._rows()


# -- every parameter type of the demo, with natural Python values ---------------------------
# (query, params, the wire values the server must have received, expected row check)
PARAMETER_CASES = [
    ("param_text", {"symbol": "DAI"}, {"symbol": "DAI"}),
    ("param_number", {"min_price": 2500}, {"min_price": 2500}),
    ("param_number", {"min_price": np.float64(2500.5)}, {"min_price": 2500.5}),
    ("param_enum", {"chain": "arbitrum"}, {"chain": "arbitrum"}),
    ("param_multi_enum", {"symbols": ["USDC", "ÜNI"]}, {"symbols": ["USDC", "ÜNI"]}),
    ("param_multi_enum", {"symbols": ("DAI",)}, {"symbols": ["DAI"]}),
    ("param_query", {"market": "DAI"}, {"market": "DAI"}),
    ("param_date", {"since": dt.date(2024, 4, 20)}, {"since": "2024-04-20"}),
    ("param_date", {"since": pd.Timestamp("2024-04-20")}, {"since": "2024-04-20"}),
    ("param_datetime", {"since": dt.datetime(2024, 4, 20, 12, 0)}, {"since": "2024-04-20 12:00"}),
    (
        "param_datetime_seconds",
        {"since": pd.Timestamp("2024-04-20 12:00:30")},
        {"since": "2024-04-20 12:00:30"},
    ),
    (
        "param_date_range",
        {"period": (dt.date(2024, 2, 1), dt.date(2024, 2, 5))},
        {"period": {"start": "2024-02-01", "end": "2024-02-05"}},
    ),
    (
        "param_datetime_range",
        {"period": (dt.datetime(2024, 2, 1), pd.Timestamp("2024-02-03 12:00"))},
        {"period": {"start": "2024-02-01 00:00", "end": "2024-02-03 12:00"}},
    ),
    (
        "param_datetime_range_seconds",
        {"period": {"start": "2024-02-01 00:00:00", "end": dt.datetime(2024, 2, 3, 23, 59, 59)}},
        {"period": {"start": "2024-02-01 00:00:00", "end": "2024-02-03 23:59:59"}},
    ),
]


@pytest.mark.parametrize(
    ("name", "params", "wire"),
    PARAMETER_CASES,
    ids=[f"{c[0]}-{i}" for i, c in enumerate(PARAMETER_CASES)],
)
def test_each_parameter_type_reaches_the_server(lw, read, raw_result, name, params, wire):
    frame = read(lw.demo.queries[name], params)
    assert frame.attrs["watch"]["parameters"] == wire
    # The server substituted exactly these values: its stored SQL shows them.
    sql = raw_result(frame.attrs["watch"]["result_id"])["query"]
    for value in wire.values():
        parts = value.values() if isinstance(value, dict) else value
        for part in parts if isinstance(value, (dict, list)) else [value]:
            assert str(part) in sql
    assert len(frame) > 0


def test_number_parameter_filters_rows(lw, read):
    frame = read(lw.demo.queries["param_number"], {"min_price": 2500})
    expected = [r for r in PRICE_ROWS if r[0] == 1 and r[2] >= 2500]
    assert len(frame) == len(expected)
    assert frame["price"].min() >= 2500


def test_multi_enum_quotes_each_value(lw, read):
    frame = read(lw.demo.queries["param_multi_enum"], {"symbols": ["USDC", "ÜNI", "CQC"]})
    assert frame["symbol"].tolist() == ["USDC", "ÜNI", "CQC"]


def test_date_range_bounds_are_inclusive_days(lw, read):
    frame = read(
        lw.demo.queries["param_date_range"], {"period": (dt.date(2024, 2, 1), dt.date(2024, 2, 5))}
    )
    assert len(frame) == 5
    assert frame["day"].iloc[0] == pd.Timestamp("2024-02-01")


def test_saved_defaults_are_sent_when_params_are_left_out(lw, read):
    frame = read(lw.demo.queries["price_history"], {"min_price": 40000})
    assert frame.attrs["watch"]["parameters"] == {
        "period": {"start": "2024-01-01", "end": "2024-01-31"},
        "symbols": ["WETH", "WBTC"],
        "min_price": 40000,
    }
    assert set(frame["symbol"]) == {"WBTC"}


def test_dynamic_date_token_is_resolved_by_the_client(lw, read):
    frame = read(lw.demo.queries["param_date_range"], {"period": "d_last_7_days"})
    period = frame.attrs["watch"]["parameters"]["period"]
    today = dt.date.today()
    assert period["end"] in {today.isoformat(), (today + dt.timedelta(days=1)).isoformat()}
    start = dt.date.fromisoformat(period["start"][:10])
    assert 6 <= (today - start).days <= 8
    assert frame.empty  # the demo's prices end in 2024


# -- dtypes and exact values ----------------------------------------------------------------
def test_typed_prices_have_dtypes_from_column_types(lw, read):
    frame = read(lw.demo.queries["prices"])
    assert {k: str(v) for k, v in frame.dtypes.items()} == {
        "day": "datetime64[s]",
        "symbol": "string",
        "price": "Float64",
        "volume_usd": "Float64",
        "is_stable": "boolean",
        "updated_at": "datetime64[ms]",
        "updated_at_tz": "datetime64[ms, UTC]",
    }
    assert len(frame) == len(PRICE_ROWS)


def test_typed_prices_values_match_the_database_rows(lw, read):
    frame = read(lw.demo.queries["prices"])
    by_key = {(r[1], MARKETS[r[0] - 1][1]): r for r in PRICE_ROWS}
    for row in frame.head(40).itertuples(index=False):
        source = by_key[(row.day.date().isoformat(), row.symbol)]
        assert row.price == source[2]
        assert (pd.isna(row.volume_usd) and source[3] is None) or row.volume_usd == source[3]
        naive = dt.datetime.fromisoformat(source[4])
        # milliseconds kept, microseconds truncated by the server
        millis = naive.replace(microsecond=naive.microsecond // 1000 * 1000)
        assert row.updated_at == pd.Timestamp(millis)
        aware = dt.datetime.fromisoformat(source[5])
        assert row.updated_at_tz == pd.Timestamp(aware).tz_convert("UTC")
        assert row.is_stable == bool(MARKETS[source[0] - 1][4])


def test_wei_amounts_beyond_int64_stay_exact(lw, read):
    frame = read(lw.demo.queries["positions"])
    assert frame["amount_wei"].dtype == object
    assert frame["amount_wei"].tolist() == [int(r[3]) for r in POSITION_ROWS]
    assert 2**256 - 50 in frame["amount_wei"].tolist()
    assert all(type(v) is int for v in frame["amount_wei"])


def test_positions_nulls_and_types(lw, read):
    frame = read(lw.demo.queries["positions"])
    assert str(frame["id"].dtype) == "Int64"
    assert str(frame["is_open"].dtype) == "boolean"
    assert str(frame["closed_on"].dtype) == "datetime64[s]"
    assert frame["closed_on"].isna().tolist() == [r[7] is None for r in POSITION_ROWS]
    assert frame["note"].isna().tolist() == [r[8] is None for r in POSITION_ROWS]
    assert frame["is_open"].tolist() == [bool(r[6]) for r in POSITION_ROWS]


def test_positions_with_pyarrow_backend(lw, read):
    frame = read(lw.demo.queries["positions"], dtype_backend="pyarrow")
    assert str(frame["id"].dtype) == "int64[pyarrow]"
    assert str(frame["opened_at_tz"].dtype) == "timestamp[ms, tz=UTC][pyarrow]"
    assert frame["amount_wei"].tolist() == [int(r[3]) for r in POSITION_ROWS]


def test_untyped_markets_keep_text_exactly_and_null_apart_from_empty(lw, read):
    frame = read(lw.demo.queries["markets"])
    assert frame.columns.tolist() == [
        "id", "symbol", "name", "chain", "is_stable", "listed_on", "description"
    ]  # fmt: skip
    assert frame["name"].tolist() == [m[2] for m in MARKETS]
    descriptions = frame["description"].tolist()
    for got, want in zip(descriptions, [m[6] for m in MARKETS], strict=True):
        if want is None:
            assert got is pd.NA
        else:
            assert got == want  # commas, quotes, \n, \t, \r\n, unicode, and "" stay as they are
    assert str(frame["id"].dtype) == "Int64"
    # SQLite booleans are 0/1 integers and the column is untyped: no invented booleans
    assert frame["is_stable"].tolist() == [m[4] for m in MARKETS]


def test_untyped_wei_text_stays_text(lw, read):
    frame = read(lw.demo.queries["positions_untyped"])
    assert frame["amount_wei"].tolist() == [r[3] for r in POSITION_ROWS]


def test_frame_equals_server_json_values(lw, read, raw_result):
    frame = read(lw.demo.queries["positions"])
    rows = raw_result(frame.attrs["watch"]["result_id"])["data"]["rows"]
    assert len(rows) == len(frame)
    assert frame["id"].tolist() == [r["id"] for r in rows]
    assert frame["amount_wei"].tolist() == [r["amount_wei"] for r in rows]
    assert frame["opened_at_tz"].tolist() == [pd.Timestamp(r["opened_at_tz"]) for r in rows]
    assert frame["note"].isna().tolist() == [r["note"] is None for r in rows]


def test_typed_result_with_extreme_values(local_watch, local_watch_factory):
    """9999-12-31, milliseconds, tz-aware vs naive, NULL vs '' and huge ints, on a fresh server."""
    from watch_pandas import read_watch_query

    ds = local_watch.add_data_source("typed", typed=True)
    local_watch.execute_sql(
        ds,
        """
        CREATE TABLE t (id INTEGER, d DATE, ts TIMESTAMP, tz TIMESTAMPTZ, label TEXT,
                        big BIGNUM TEXT, flag BOOLEAN);
        INSERT INTO t VALUES (1, '9999-12-31', '2024-01-01 00:00:00.999',
            '2024-06-01T12:00:00+02:00', '', '340282366920938463463374607431768211455', 1);
        INSERT INTO t VALUES (2, '0001-01-01', '2024-01-01 00:00:00', NULL, NULL,
            '-1180591620717411303424', 0);
        """,
    )
    qid = local_watch.add_query("SELECT * FROM t ORDER BY id", ds, name="edges")
    frame = read_watch_query(
        qid, url=local_watch.url, api_key=local_watch.admin_key, progress=False
    )
    assert frame["d"].tolist() == [pd.Timestamp("9999-12-31"), pd.Timestamp("0001-01-01")]
    assert frame["ts"].tolist() == [
        pd.Timestamp("2024-01-01 00:00:00.999"),
        pd.Timestamp("2024-01-01 00:00:00"),
    ]
    assert frame["tz"].iloc[0] == pd.Timestamp("2024-06-01T10:00:00Z")
    assert frame["tz"].isna().iloc[1]
    assert frame["label"].iloc[0] == "" and frame["label"].iloc[1] is pd.NA
    assert frame["big"].tolist() == [2**128 - 1, -(2**70)]
    assert frame["flag"].tolist() == [True, False]


# -- provenance and the key --------------------------------------------------------------
def test_provenance_attrs(lw, read, raw_result):
    qid = lw.demo.queries["param_enum"]
    frame = read(qid, {"chain": "optimism"}, max_age=0)
    info = frame.attrs["watch"]
    assert info["query_id"] == qid
    assert info["query_url"] == f"{lw.url}/queries/{qid}"
    assert info["server"] == lw.url
    assert info["parameters"] == {"chain": "optimism"}
    assert info["source"] == "fresh run"
    server = raw_result(info["result_id"])
    assert info["retrieved_at"] == server["retrieved_at"]
    assert info["runtime"] == server["runtime"]
    assert "optimism" in server["query"]


def test_the_key_appears_in_no_attrs_or_repr(lw, read):
    from watch_pandas import WatchClient

    frame = read(lw.demo.queries["prices"])
    text = json.dumps(frame.attrs, default=str) + repr(frame.attrs)
    assert lw.admin_key not in text
    with WatchClient(lw.url, lw.admin_key) as watch:
        assert lw.admin_key not in repr(watch)
        assert lw.admin_key not in repr(watch.session.auth)


# -- known server discrepancies ------------------------------------------------------------


def test_all_null_typed_column_keeps_its_declared_type(lw, sql):
    frame = sql(
        "SELECT day, price, volume_usd FROM prices WHERE market_id = 1 AND volume_usd IS NULL",
        "demo-typed",
        max_age=0,
    )
    assert len(frame) > 0 and frame["volume_usd"].isna().all()
    assert str(frame["volume_usd"].dtype) == "Float64"


def test_empty_typed_result_keeps_column_dtypes(lw, read):
    frame = read(lw.demo.queries["price_history"], {"min_price": 10**9})
    assert frame.empty
    assert str(frame["day"].dtype) == "datetime64[s]"
    assert str(frame["price"].dtype) == "Float64"


def test_run_sql_with_parameter_names_holding_spaces_and_non_ascii(lw, sql):
    frame = sql(
        "SELECT {{ my param }} AS n, '{{ prix € }}' AS label",
        "demo-typed",
        {"my param": 3, "prix €": "ü"},
    )
    assert frame["n"].tolist() == [3] and frame["label"].tolist() == ["ü"]
    assert frame.attrs["watch"]["sql"] == "SELECT 3 AS n, 'ü' AS label"


def test_read_a_saved_query_whose_parameter_names_hold_spaces_and_non_ascii(local_watch):
    ds = local_watch.add_data_source("db")
    definitions = [
        {"name": "my param", "type": "number", "title": "My param", "value": 1},
        {"name": "prix €", "type": "enum", "title": "Prix", "value": "a", "enumOptions": "a\nb"},
    ]
    qid = local_watch.add_query(
        "SELECT {{ my param }} AS n, '{{prix €}}' AS label", ds, parameters=definitions
    )
    frame = read_watch_query(
        qid, {"my param": 5}, url=local_watch.url, api_key=local_watch.admin_key, progress=False
    )
    assert frame["n"].tolist() == [5] and frame["label"].tolist() == ["a"]
